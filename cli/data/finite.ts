// Non-finite floats (NaN, ±Inf) entering Kiln are refused (CLI.md v1.1): in
// data, --inputs, params, tangents, cotangents, baselines and checkpoints, a
// NaN would otherwise train silently (relu hides it) or print `loss = NaN`.
// The error names the file, the tensor and the first offending index;
// `--allow-nonfinite` (any command) lets IEEE 754 values through. The
// choice is made once per command line (program.ts), so every reader of
// tensors obeys it without each threading the flag.

import { UserError } from '../errors.js';

let allowed = false;

/** Set from the command line before a command runs. */
export function allowNonfinite(allow: boolean): void {
  allowed = allow;
}

/** Whether --allow-nonfinite let non-finite values in unchecked (so a diverged loss may be the data's). */
export function nonfiniteAllowed(): boolean {
  return allowed;
}

/** The flat index of the first NaN or ±Inf of `data`, or -1. */
export function firstNonfinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // v - v is 0 for every finite v and NaN for NaN and ±Inf: one test per element.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** `flat` as a row-major index of `shape`: [41, 300]. */
export function unflatten(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    const n = shape[k]!;
    idx[k] = n === 0 ? 0 : flat % n;
    flat = n === 0 ? 0 : Math.floor(flat / n);
  }
  return idx;
}

/** Refuses a float tensor holding NaN or ±Inf (unless --allow-nonfinite). */
export function checkFinite(file: string, name: string, shape: readonly number[], data: ArrayLike<number>): void {
  if (allowed || !(data instanceof Float32Array || data instanceof Float64Array)) return;
  const i = firstNonfinite(data);
  if (i < 0) return;
  const v = data[i]!;
  const what = Number.isNaN(v) ? 'NaN' : v > 0 ? 'inf' : '-inf';
  throw new UserError(
    `${file}: tensor '${name}' holds ${what} at [${unflatten(i, shape).join(', ')}]; pass --allow-nonfinite to compute with it`,
  );
}
