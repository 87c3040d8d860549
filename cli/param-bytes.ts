// What a model's parameters take in memory, and the most wasm can hold: one
// figure for `kiln check` to print and for the commands that run a model to
// refuse with (CLI.md v1.1). Light on imports, as `kiln check` loads it.

import type { CheckedModel } from '../dsl/check.js';
import { evalShape } from '../compiler/types.js';

/** wasm32 memory is at most 4 GiB: the most a model's tensors can ever take on wasm. */
export const WASM_MAX_BYTES = 4 * 2 ** 30;

/** Bytes of the model's parameters in the runtime: 4 per element. */
export function paramBytes(model: CheckedModel): number {
  let bytes = 0;
  for (const p of model.params) bytes += 4 * evalShape(p.type.shape, new Map()).reduce((a, b) => a * b, 1);
  return bytes;
}
