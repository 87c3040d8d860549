// Converting a file's numbers to an input's dtype, checking that nothing is
// lost: floats narrowed to f32 must stay finite, integers into f32 must be
// exact (|v| <= 2^24), values into i32 must be integers in range, values
// into bool must be 0 or 1. The first offending value is named.

import type { Tensor, TensorData } from '../../runtime/executor.js';
import type { DTypeSpec } from '../../runtime/manifest.js';
import type { StIntTensor } from '../../runtime/safetensors.js';
import { UserError } from '../errors.js';
import { unflatten } from './finite.js';

/** Numbers read from a file: `label` names their type there ('<f8', 'int64', 'CSV numbers', ...). */
export interface SourceNumbers {
  readonly label: string;
  /** Whether the source type holds integers only (then f32 needs exactness, not finiteness). */
  readonly integer: boolean;
  readonly data: ArrayLike<number> | BigInt64Array;
}

/** A safetensors tensor's floats as the source of a conversion. */
export function f64(t: { readonly dtype: string; readonly data: ArrayLike<number> }): SourceNumbers {
  return { label: t.dtype, integer: false, data: t.data };
}

/** A safetensors tensor of ids or labels in a dtype the runtime lacks (I64, I16, I8, U16, U32). */
export function ints(t: StIntTensor): SourceNumbers {
  return { label: t.dtype, integer: true, data: t.data };
}

const F32_EXACT = 2 ** 24;
const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

/**
 * `what` names the tensor in messages, e.g. "x.npy: tensor 'x'"; `shape`,
 * when given, spells the offending index as [row, column] rather than flat.
 */
export function convertNumbers(
  what: string,
  src: SourceNumbers,
  dtype: DTypeSpec,
  shape?: readonly number[],
): TensorData {
  const n = src.data.length;
  const at = (i: number): number => Number(src.data[i]!);
  const bad = (i: number, why: string): never => {
    throw new UserError(`${what} (${src.label}): value ${String(src.data[i])} at index ${i} ${why}`);
  };
  const where = (i: number): string => `[${shape ? unflatten(i, shape).join(', ') : i}]`;
  const tooBig = (i: number): never => {
    const v = at(i);
    const bound = v > 0 ? `at most ${I32_MAX}` : `at least ${I32_MIN}`;
    throw new UserError(`${what} holds ${String(src.data[i])} at ${where(i)}; i32 holds ${bound}`);
  };
  if (dtype === 'f32') {
    if (src.data instanceof Float32Array) return src.data;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = at(i);
      if (src.integer && Math.abs(v) > F32_EXACT) bad(i, 'is not exact in f32 (integers beyond 2^24 round)');
      out[i] = v;
      if (!Number.isFinite(out[i]!) && Number.isFinite(v)) bad(i, 'does not fit f32');
    }
    return out;
  }
  if (dtype === 'i32') {
    if (src.data instanceof Int32Array) return src.data;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = at(i);
      if (!Number.isInteger(v)) bad(i, 'is not an integer (the model expects i32)');
      if (v < I32_MIN || v > I32_MAX) tooBig(i);
      out[i] = v;
    }
    return out;
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = at(i);
    if (v !== 0 && v !== 1) bad(i, 'is not 0 or 1 (the model expects bool)');
    out[i] = v;
  }
  return out;
}

/** I64, I16, I8, U16 and U32 ids and labels become i32 where every value fits (CLI.md v1.1). */
export function fromInts(name: string, t: StIntTensor, dtype: DTypeSpec, file: string): Tensor {
  if (dtype !== 'i32')
    throw new UserError(
      `${file}: tensor '${name}' has dtype ${t.dtype}, but the model expects ${dtype} (integer dtypes convert to i32 only)`,
    );
  return { data: convertNumbers(`${file}: tensor '${name}'`, ints(t), dtype, t.shape), shape: [...t.shape] };
}
