// Shared by the lens entries' runtime tests (wasm and webgpu): random
// tangents and cotangents, the reference interpreter on a lens graph, and
// the comparison at per-kind tolerances.

import { expect } from 'vitest';
import { compile } from '../../compiler/compile.js';
import { evaluate } from '../../compiler/interpret.js';
import { type Tensor, bindDims } from '../../runtime/executor.js';
import { evalDimSpec } from '../../runtime/layout.js';
import type { TensorSpec } from '../../runtime/manifest.js';
import type { Model } from '../../runtime/model.js';
import { expectAllClose, example, lcg, randomTensor, refMap } from './helpers.js';

/** Random f32 tensors for `specs` at the dims `inputs` bind. */
export function randomFor(m: Model, specs: readonly TensorSpec[], inputs: Record<string, Tensor>, seed: number) {
  const dims = bindDims(m.inputs, inputs);
  const rnd = lcg(seed);
  const out: Record<string, Tensor> = {};
  for (const s of specs)
    out[s.name] = randomTensor(
      'f32',
      s.shape.map((d) => evalDimSpec(d, dims)),
      rnd,
    );
  return out;
}

/** The reference interpreter on the very graph of a lens entry; `given` holds every tangent or cotangent. */
export async function reference(
  file: string,
  kind: 'jvp' | 'vjp',
  m: Model,
  inputs: Record<string, Tensor>,
  given: Record<string, Tensor>,
): Promise<Map<string, Float64Array>> {
  const g = compile(example(file).model, undefined)[kind].ir;
  const prefix = kind === 'jvp' ? 'tangent.' : 'cotangent.';
  const all = new Map([...refMap(inputs), ...[...refMap(given)].map(([k, t]) => [`${prefix}${k}`, t] as const)]);
  const values = evaluate(
    g.outputs.map((o) => o.node),
    { inputs: all, params: refMap(await m.getParams({ state: false })) },
  );
  return new Map(g.outputs.map((o, i) => [o.name, values[i]!.data]));
}

/** Outputs at rtol 1e-4, atol 1e-5; derivatives (jvp., vjp.) at rtol 2e-3, atol 1e-4. */
export function expectMatches(
  what: string,
  got: Record<string, Tensor>,
  want: ReadonlyMap<string, Float64Array>,
): void {
  expect(Object.keys(got)).toEqual([...want.keys()]);
  for (const [name, w] of want) {
    const derivative = name.startsWith('jvp.') || name.startsWith('vjp.');
    expectAllClose(`${what} ${name}`, got[name]!.data, w, derivative ? 2e-3 : 1e-4, derivative ? 1e-4 : 1e-5);
  }
}
