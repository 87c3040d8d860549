// What every data form produces: named tensors whose first dimension counts
// examples, matched to the model's inputs by name, dtype and per-example
// shape (bind.ts checks that).

import type { Tensor } from '../../runtime/executor.js';
import type { TensorSpec } from '../../runtime/manifest.js';

export interface Dataset {
  /** Where the data came from, for messages (a path, or a path and a split). */
  readonly source: string;
  /** Examples. */
  readonly n: number;
  /** One tensor per model input, examples first. */
  readonly tensors: Readonly<Record<string, Tensor>>;
}

/** `--data` picks the training split of a form that has several, `--eval` the test split. */
export type DataRole = 'train' | 'eval';

/** The `.csv` form's column choices (`--x-cols`, `--y-col`). */
export interface CsvColumns {
  readonly xCols?: string;
  readonly yCol?: string;
}

/** What a loader needs to know about the model and the command line. */
export interface LoadContext {
  readonly inputs: readonly TensorSpec[];
  readonly role: DataRole;
  readonly csv: CsvColumns;
}

/** Elements per example of a tensor shaped like an input (the first dimension left out). */
export function perExample(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}
