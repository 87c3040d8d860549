// The tensors the lens entries of an artifact take and give (manifest.ts
// LensSpec), derived from the manifest's inputs, params and outputs alone:
// the validator checks a manifest's lens entries against these, the Model
// maps a caller's tangents and cotangents onto them, and `kiln compile`
// writes them. The names match compiler/lens.ts, which builds the graphs.
//
// Browser-safe, and free of imports but types, so every other module may use it.

import type { Manifest, ParamSpec, TensorSpec } from './manifest.js';

export type LensKind = 'jvp' | 'vjp';

export const TANGENT = 'tangent.';
export const COTANGENT = 'cotangent.';
export const JVP = 'jvp.';
export const VJP = 'vjp.';

type Declared = Pick<Manifest, 'inputs' | 'outputs' | 'params'>;

const renamed =
  (prefix: string) =>
  (t: TensorSpec): TensorSpec => ({
    name: `${prefix}${t.name}`,
    dtype: t.dtype,
    shape: t.shape,
  });
const plain = (t: TensorSpec): TensorSpec => ({ name: t.name, dtype: t.dtype, shape: t.shape });

/** The f32 inputs (not `@`-internal ones). */
function floatInputs(m: Declared): TensorSpec[] {
  return m.inputs.filter((i) => i.dtype === 'f32' && !i.name.startsWith('@')).map(plain);
}

/** The f32 model params (not optimizer state). */
function floatParams(m: Declared): TensorSpec[] {
  return m.params.filter((p: ParamSpec) => p.role === 'param' && p.dtype === 'f32').map(plain);
}

/** What a jvp's tangents go with, under their own names: the f32 inputs, then the f32 params. */
export function tangentSpecs(m: Declared): TensorSpec[] {
  return [...floatInputs(m), ...floatParams(m)];
}

/** What a vjp's cotangents go with, under their own names: the f32 outputs. */
export function cotangentSpecs(m: Declared): TensorSpec[] {
  return m.outputs.filter((o) => o.dtype === 'f32').map(plain);
}

/** The given tensors of a lens entry (tangents or cotangents), by the names the caller uses. */
export function lensGivenSpecs(kind: LensKind, m: Declared): TensorSpec[] {
  return kind === 'jvp' ? tangentSpecs(m) : cotangentSpecs(m);
}

/** The prefix of the lens program's inputs for the given tensors. */
export function lensGivenPrefix(kind: LensKind): string {
  return kind === 'jvp' ? TANGENT : COTANGENT;
}

/** The inputs and outputs of a lens entry's program, in the manifest's order. */
export function lensInterface(
  kind: LensKind,
  m: Declared,
): { readonly inputs: TensorSpec[]; readonly outputs: TensorSpec[] } {
  const inputs = [...m.inputs.map(plain), ...lensGivenSpecs(kind, m).map(renamed(lensGivenPrefix(kind)))];
  const outputs =
    kind === 'jvp'
      ? [...m.outputs.map(plain), ...cotangentSpecs(m).map(renamed(JVP))]
      : [...floatParams(m), ...floatInputs(m)].map(renamed(VJP));
  return { inputs, outputs };
}
