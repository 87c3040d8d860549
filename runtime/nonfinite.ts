// The training step's non-finite flag. The kernels that update the trainable
// params in place check every value they store (compiler/kernel/kir.ts
// StoreCheck) and set word i of the step program's i32 output NONFINITE_OUTPUT
// to 1 when param i (train.trainable order) got a NaN or an infinity. The
// output is among the program's zeroed storages, so every step starts clear,
// and it is read back with the loss.
//
// Browser-safe: no `node:` imports.

import type { TensorSpec } from './manifest.js';

/** The step program's flag output: i32[trainable.length]. */
export const NONFINITE_OUTPUT = '@nonfinite';

/** The flag output's spec for a step that trains `trainable`. */
export function nonfiniteSpec(trainable: readonly string[]): TensorSpec {
  return { name: NONFINITE_OUTPUT, dtype: 'i32', shape: [trainable.length] };
}

/** The params whose flag word is set (trainable order). */
export function raisedFlags(trainable: readonly string[], flags: ArrayLike<number>): string[] {
  return trainable.filter((_, i) => flags[i] !== 0);
}
