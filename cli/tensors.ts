// Conversions between safetensors files and the reference interpreter's
// float64 tensors, with the model's declared types as the contract.

import type { DType, TensorType } from '../compiler/types.js';
import { formatType } from '../compiler/types.js';
import type { RefTensor } from '../compiler/interpret.js';
import type { StDType, StIntTensor, StTensor } from '../runtime/safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../runtime/safetensors-node.js';
import { UserError } from './errors.js';
import { checkFinite } from './data/finite.js';
import { convertNumbers, f64, fromInts } from './data/convert.js';

/** Which safetensors dtypes a Kiln dtype accepts on input (F64 is narrowed/widened losslessly for the oracle). */
const ACCEPTS: Record<DType, readonly StDType[]> = {
  f32: ['F32', 'F64'],
  i32: ['I32', 'U8'],
  bool: ['BOOL', 'U8'],
};

export function toRef(name: string, t: StTensor, expected: DType, file: string): RefTensor {
  if (!ACCEPTS[expected].includes(t.dtype))
    throw new UserError(
      `${file}: tensor '${name}' has dtype ${t.dtype}, but the model expects ${expected} (${ACCEPTS[expected].join(' or ')})`,
    );
  if (expected === 'bool' && t.data.some((v) => v !== 0 && v !== 1))
    throw new UserError(`${file}: tensor '${name}' (bool) holds values other than 0 and 1`);
  checkFinite(file, name, t.shape, t.data);
  // The reference keeps F64 values exact, but they must fit the model's f32 (CLI.md v1.1).
  if (expected === 'f32' && t.dtype === 'F64') convertNumbers(`${file}: tensor '${name}'`, f64(t), 'f32');
  return { dtype: expected, shape: [...t.shape], data: Float64Array.from(t.data) };
}

/** Ids and labels in I64, I16, I8, U16 or U32, as i32 values where every one fits (as the runtime reads them). */
function refOfInts(name: string, t: StIntTensor, expected: DType, file: string): RefTensor {
  const { data, shape } = fromInts(name, t, expected, file);
  return { dtype: expected, shape: [...shape], data: Float64Array.from(data) };
}

export function fromRef(t: RefTensor, wide: boolean): StTensor {
  switch (t.dtype) {
    case 'f32':
      return wide
        ? { dtype: 'F64', shape: [...t.shape], data: Float64Array.from(t.data) }
        : { dtype: 'F32', shape: [...t.shape], data: Float32Array.from(t.data) };
    case 'i32':
      return { dtype: 'I32', shape: [...t.shape], data: Int32Array.from(t.data) };
    case 'bool':
      return { dtype: 'BOOL', shape: [...t.shape], data: Uint8Array.from(t.data) };
  }
}

/**
 * Reads the named tensors from a safetensors file. Missing tensors are left
 * to the caller (the shape binder names them with their expected types);
 * extra tensors are an error, since they usually mean a misspelled name.
 */
export function readTensors(
  path: string,
  expected: readonly { name: string; type: TensorType }[],
  what: string,
): Map<string, RefTensor> {
  const { tensors, ints } = readSafetensorsFile(path, { ints: true });
  const byName = new Map(expected.map((e) => [e.name, e.type]));
  const out = new Map<string, RefTensor>();
  for (const [name, t] of [...tensors, ...ints]) {
    const type = byName.get(name);
    if (!type) {
      const known = expected.map((e) => `${e.name}: ${formatType(e.type)}`).join(', ');
      throw new UserError(`${path}: tensor '${name}' is not ${what} of the model (expected ${known || 'none'})`);
    }
    out.set(
      name,
      ints.has(name)
        ? refOfInts(name, ints.get(name)!, type.dtype, path)
        : toRef(name, t as StTensor, type.dtype, path),
    );
  }
  return out;
}

export function writeTensors(path: string, tensors: ReadonlyMap<string, RefTensor>, wide: boolean): void {
  const out = new Map<string, StTensor>();
  for (const [name, t] of tensors) out.set(name, fromRef(t, wide));
  try {
    writeSafetensorsFile(path, out);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** A one-line summary of a tensor: shape, a few values and simple statistics. */
export function summarize(name: string, t: RefTensor): string {
  const n = t.data.length;
  const head = Array.from(t.data.slice(0, 6), (v) => fmt(v, t.dtype)).join(', ');
  const shape = `${t.dtype}[${t.shape.join(', ')}]`;
  if (n <= 1) return `${name}: ${shape} = ${head}`;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of t.data) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  return `${name}: ${shape} = [${head}${n > 6 ? ', ...' : ''}]  min ${fmt(min, t.dtype)} max ${fmt(max, t.dtype)} mean ${fmt(sum / n, 'f32')}`;
}

function fmt(v: number, dtype: DType): string {
  if (dtype !== 'f32') return String(v);
  return Number.isInteger(v) ? v.toFixed(1) : v.toPrecision(6);
}
