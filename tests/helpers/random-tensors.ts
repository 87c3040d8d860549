// Random inputs for the kernel-level backend tests (wasm and webgpu): f32-exact
// tensors for a graph's declared inputs and params, and the dims they bind.

import { bindDims } from '../../compiler/bind.js';
import type { RefTensor } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/ir.js';
import { type Shape, evalShape } from '../../compiler/types.js';
import { lcg } from '../runtime/helpers.js';

/** Random f32-exact tensors (i32 in [0, 10): labels and token ids, clamped by gathers). */
export function randomTensors(
  decls: readonly { name: string; type: { dtype: 'f32' | 'i32' | 'bool'; shape: Shape } }[],
  dims: ReadonlyMap<string, number>,
  seed: number,
): Map<string, RefTensor> {
  const rnd = lcg(seed);
  return new Map(
    decls.map((d) => {
      const shape = evalShape(d.type.shape, dims);
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float64Array.from({ length: n }, () =>
        d.type.dtype === 'f32'
          ? Math.fround(rnd() * 2 - 1)
          : d.type.dtype === 'i32'
            ? Math.floor(rnd() * 10)
            : rnd() < 0.5
              ? 0
              : 1,
      );
      return [d.name, { dtype: d.type.dtype, shape, data }];
    }),
  );
}

/** The symbolic dims the given tensors bind, over the graph's inputs and params. */
export function dimsOf(g: Graph, tensors: ReadonlyMap<string, RefTensor>): Map<string, number> {
  return bindDims(
    [
      ...g.inputs.map((n) => ({ name: n.name, kind: 'input' as const, type: n })),
      ...g.params.map((n) => ({ name: n.name, kind: 'param' as const, type: n })),
    ].filter((d) => tensors.has(d.name)),
    tensors,
  );
}
