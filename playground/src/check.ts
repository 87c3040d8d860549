// Source text -> the compiler's diagnostics, as CodeMirror lint diagnostics
// placed at their spans, and the checked model to compile.

import type { Diagnostic as CmDiagnostic } from '@codemirror/lint';
import type { CheckedModel } from '../../dsl/check-model.js';
import type { CheckedTrain } from '../../dsl/check-train.js';
import { compileSource } from '../../dsl/frontend.js';
import { type Diagnostic, formatLocation } from '../../dsl/source.js';

/** The file name diagnostics carry (`playground.kiln:12:5: ...`). */
export const FILE = 'playground.kiln';

export interface Checked {
  /** Every diagnostic, by position; each message starts with its file:line:col. */
  readonly diagnostics: readonly CmDiagnostic[];
  /** The model to run (the first with a train block, else the only or first one), when the file checks. */
  readonly model?: CheckedModel;
  readonly train?: CheckedTrain;
}

/** One compiler diagnostic as the editor shows it: its span (at least one character when the text has one) and message. */
function toEditor(d: Diagnostic, length: number): CmDiagnostic {
  const from = Math.min(d.span.start, length);
  let to = Math.min(Math.max(d.span.end, from), length);
  if (to === from && to < length) to += 1;
  const notes = d.notes.map((n) => `\n  ${n.span ? `${formatLocation(n.span)}: ` : ''}${n.message}`).join('');
  return { from, to, severity: 'error', source: 'kiln', message: `${formatLocation(d.span)}: ${d.message}${notes}` };
}

/** Parses and checks `text` (never throws). */
export function check(text: string): Checked {
  const { result } = compileSource(FILE, text);
  const diagnostics = result.diagnostics.map((d) => toEditor(d, text.length));
  if (diagnostics.length > 0 || result.models.length === 0) {
    return { diagnostics };
  }
  const { models, trains } = result;
  const firstTrained = trains[0] && models.find((m) => m.name === trains[0]!.model);
  const model = models.length === 1 ? models[0]! : (firstTrained ?? models[0]!);
  const train = trains.find((t) => t.model === model.name);
  return { diagnostics, model, ...(train && { train }) };
}
