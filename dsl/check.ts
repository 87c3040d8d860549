// The checker: from a parsed program to the models and train blocks the
// compiler consumes (compiler/model.ts), with every error of the file. The
// program's fns are checked first (fns.ts), then each model is planned and
// lowered to IR, which is how its expressions are type checked
// (check-model.ts, model-plan.ts, lower.ts, values.ts), then each train block
// is checked against the models (check-train.ts, train-calls.ts).
//
// Errors do not stop the checker: the independent errors of a file are all
// reported, each once, sorted by position; an item with errors is left out
// of the result.

import type { Program } from './ast.js';
import { type CheckedModel, type ModelFacts, checkModel } from './check-model.js';
import { type CheckedTrain, checkTrain } from './check-train.js';
import { type FnInfo, checkFns } from './fns.js';
import { errorText } from './reporter.js';
import { type Diagnostic, type SourceFile, type Span, diag } from './source.js';

export type { CheckedModel, CheckedParam, CheckedTensor } from './check-model.js';
export type { CheckedTrain } from './check-train.js';
export type { ClipSpec, HyperCall, OptimizerSpec } from './train-calls.js';

export interface CheckResult {
  /** The models that checked without errors, in source order. */
  readonly models: CheckedModel[];
  /** The train blocks that checked without errors, in source order. */
  readonly trains: CheckedTrain[];
  /** Sorted by position. */
  readonly diagnostics: Diagnostic[];
}

/**
 * Checks a parsed program: resolves names, inlines fns, infers every type,
 * and prepares each error-free model for lowering. Never throws: unexpected
 * failures become diagnostics at the item.
 */
export function checkProgram(program: Program, file: SourceFile): CheckResult {
  const diagnostics: Diagnostic[] = [];
  const unexpected = (span: Span, what: string, err: unknown): void => {
    // Deep recursion is the input's doing (a very long chain of '**' or unary
    // minus), not a bug: say so plainly.
    if (err instanceof RangeError) diagnostics.push(diag(span, `${what}: an expression is nested too deeply to check`));
    else diagnostics.push(diag(span, `internal error while checking ${what}: ${errorText(err)}`));
  };

  let fns: Map<string, FnInfo>;
  try {
    fns = checkFns(program, diagnostics);
  } catch (err) {
    unexpected({ file, start: 0, end: 0 }, 'the fns', err);
    fns = new Map();
  }

  const models: CheckedModel[] = [];
  const modelFacts = new Map<string, ModelFacts>();
  for (const item of program.items) {
    if (item.kind !== 'model') continue;
    const before = diagnostics.length;
    let facts: ModelFacts | undefined;
    try {
      facts = checkModel(item, fns, modelFacts.has(item.name.name), diagnostics);
    } catch (err) {
      unexpected(item.span, `model ${item.name.name}`, err);
    }
    if (!facts) continue;
    if (!modelFacts.has(item.name.name)) modelFacts.set(item.name.name, facts);
    if (diagnostics.length === before && facts.model) models.push(facts.model);
  }

  const trains: CheckedTrain[] = [];
  const trained = new Map<string, Span>();
  for (const item of program.items) {
    if (item.kind !== 'train') continue;
    const before = diagnostics.length;
    let t: CheckedTrain | undefined;
    try {
      t = checkTrain(item, modelFacts, trained, diagnostics);
    } catch (err) {
      unexpected(item.span, `train ${item.model.name}`, err);
    }
    if (t && diagnostics.length === before) trains.push(t);
  }

  diagnostics.sort((a, b) => a.span.start - b.span.start);
  return { models, trains, diagnostics };
}
