// A Kiln source as the library takes it: text (named `file` in diagnostics),
// parsed and checked by the front end, and one of its models picked.

import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import { type Compiled, compileSource } from '../dsl/frontend.js';
import { type SourceFile, diag, didYouMean } from '../dsl/source.js';
import { type Diagnostic, toDiagnostic } from './diagnostics.js';

/** Where the source text comes from. */
export interface SourceOptions {
  /** The file name diagnostics give (default `input.kiln`); nothing is read from it. */
  readonly file?: string;
}

/** Which model of the source (default: the only one, or the first one a train block trains). */
export interface ModelOptions extends SourceOptions {
  readonly model?: string;
}

export const DEFAULT_FILE = 'input.kiln';

/** A model picked from a checked source. */
export interface Picked {
  readonly compiled: Compiled;
  readonly model: CheckedModel;
  readonly train: CheckedTrain | undefined;
}

/** A failure with its diagnostics, the shape every library call returns one in. */
export interface Failure {
  readonly ok: false;
  readonly diagnostics: readonly Diagnostic[];
}

/** A diagnostic about the whole file (no model in it, an unknown model name): at line 1, column 1. */
export function fileFailure(file: SourceFile, message: string): Failure {
  return { ok: false, diagnostics: [toDiagnostic(diag({ file, start: 0, end: 0 }, message))] };
}

export function checkText(source: string, opts: SourceOptions): Compiled {
  if (typeof source !== 'string') throw new TypeError(`kiln: the source must be a string, got ${typeof source}`);
  return compileSource(opts.file ?? DEFAULT_FILE, source);
}

/** Checks `source` and picks the model `opts.model` names; the diagnostics when either fails. */
export function pickModel(source: string, opts: ModelOptions): Picked | Failure {
  const compiled = checkText(source, opts);
  const { models, trains, diagnostics } = compiled.result;
  if (diagnostics.length > 0) return { ok: false, diagnostics: diagnostics.map(toDiagnostic) };
  if (models.length === 0) return fileFailure(compiled.file, 'the file defines no model');
  let model: CheckedModel | undefined;
  if (opts.model !== undefined) {
    model = models.find((m) => m.name === opts.model);
    if (!model) {
      const names = models.map((m) => m.name);
      const hint = didYouMean(opts.model, names);
      return fileFailure(
        compiled.file,
        `no model named '${opts.model}'${hint ? `; did you mean '${hint}'?` : ''} (models: ${names.join(', ')})`,
      );
    }
  } else {
    const firstTrained = trains[0] && models.find((m) => m.name === trains[0]!.model);
    model = models.length === 1 ? models[0]! : (firstTrained ?? models[0]!);
  }
  return { compiled, model, train: trains.find((t) => t.model === model.name) };
}

export function isFailure(x: Picked | Failure): x is Failure {
  return 'ok' in x;
}
