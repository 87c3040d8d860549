// A caller's tangents (jvp) or cotangents (vjp), checked and completed for a
// lens entry's program: named like the tensors they go with
// (lens-interface.ts), each the dtype and shape of that tensor at the dims
// the inputs bound; a missing one is zeros. Errors name the tensor and both
// shapes.
//
// Browser-safe: no `node:` imports.

import type { Tensor } from './executor.js';
import { evalDimSpec } from './layout.js';
import { type LensKind, lensGivenPrefix } from './lens-interface.js';
import type { TensorSpec } from './manifest.js';
import { KilnRuntimeError, formatTensorType } from './validate.js';

/** A wrong tangent or cotangent; `tensor` is the name the caller used. */
export class LensArgumentError extends KilnRuntimeError {
  override name = 'LensArgumentError';
  constructor(
    readonly tensor: string,
    message: string,
  ) {
    super(message);
  }
}

/** `tangent` or `cotangent`. */
export function lensGivenWord(kind: LensKind): string {
  return kind === 'jvp' ? 'tangent' : 'cotangent';
}

/**
 * Checks one given tangent or cotangent, `name` with `dtype` and `shape`,
 * against `specs` at `dims`; returns its spec's concrete shape.
 */
export function checkLensTensor(
  kind: LensKind,
  specs: readonly TensorSpec[],
  dims: ReadonlyMap<string, number>,
  name: string,
  dtype: string,
  shape: readonly number[],
): number[] {
  const word = lensGivenWord(kind);
  const spec = specs.find((s) => s.name === name);
  if (!spec) {
    const goes = kind === 'jvp' ? 'the f32 inputs and params' : 'the f32 outputs';
    const known = specs.map((s) => `${s.name}: ${formatTensorType(s.dtype, s.shape)}`).join(', ');
    throw new LensArgumentError(name, `unknown ${word} '${name}' (${word}s go with ${goes}: ${known || 'none'})`);
  }
  const want = spec.shape.map((d) => evalDimSpec(d, dims));
  const symbolic = spec.shape.some((d) => typeof d !== 'number');
  const expected = `${formatTensorType(spec.dtype, spec.shape)}${symbolic ? ` = ${spec.dtype}[${want.join(', ')}]` : ''}`;
  if (dtype !== spec.dtype)
    throw new LensArgumentError(name, `${word} '${name}': expected ${expected}, got dtype ${dtype}`);
  if (!Array.isArray(shape) || shape.length !== want.length || shape.some((d, i) => d !== want[i]))
    throw new LensArgumentError(
      name,
      `${word} '${name}': expected ${expected}, got ${dtype}[${Array.isArray(shape) ? shape.join(', ') : String(shape)}]`,
    );
  return want;
}

const dtypeOf = (t: Tensor): string =>
  t?.data instanceof Float32Array
    ? 'f32'
    : t?.data instanceof Int32Array
      ? 'i32'
      : t?.data instanceof Uint8Array
        ? 'bool'
        : `${(t?.data as object | undefined)?.constructor?.name ?? typeof t?.data} (not a typed array)`;

/**
 * The program inputs for `given` tangents or cotangents: every spec under
 * its prefixed name (`tangent.x`), the given tensor or zeros.
 */
export function lensArguments(
  kind: LensKind,
  specs: readonly TensorSpec[],
  dims: ReadonlyMap<string, number>,
  given: Readonly<Record<string, Tensor>>,
): Record<string, Tensor> {
  const word = lensGivenWord(kind);
  for (const [name, t] of Object.entries(given)) {
    if (typeof t !== 'object' || t === null)
      throw new LensArgumentError(name, `${word} '${name}': expected { data, shape }`);
    const shape = checkLensTensor(kind, specs, dims, name, dtypeOf(t), t.shape);
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n)
      throw new LensArgumentError(
        name,
        `${word} '${name}': shape [${shape.join(', ')}] needs ${n} elements, but the data holds ${t.data.length}`,
      );
  }
  const prefix = lensGivenPrefix(kind);
  const out: Record<string, Tensor> = {};
  for (const s of specs) {
    const shape = s.shape.map((d) => evalDimSpec(d, dims));
    out[`${prefix}${s.name}`] = Object.hasOwn(given, s.name)
      ? given[s.name]!
      : { data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape };
  }
  return out;
}
