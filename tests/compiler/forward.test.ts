// Forward mode (compiler/forward.ts) on random graphs, in float64 on the
// reference interpreter:
// - the transposition identity <u, J v> = <J^T u, v>: jvp (forward rules) and
//   vjp (reverse rules) of the same graph, through compiler/lens.ts;
// - Hessian-vector products forward-over-reverse, jvp(grad(s)), equal to
//   reverse-over-reverse, grad(<grad(s), v>).
// Per-builtin forward rules are checked against central differences and the
// reverse rules by tests/helpers/finite-diff.ts (builtins-grad.test.ts), and
// on wasm and webgpu by the builtin row suites.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradients } from '../../compiler/autodiff.js';
import { jvps } from '../../compiler/forward.js';
import { type RefTensor, evaluate } from '../../compiler/interpret.js';
import { type Graph, IRBuilder, type Node } from '../../compiler/ir.js';
import { COTANGENT, TANGENT, differentiableLeaves, jvpGraph, vjpGraph } from '../../compiler/lens.js';
import { randomTensor, rng } from '../helpers/finite-diff.js';
import { type RandomGraph, arbGraph, mismatch } from '../helpers/random-graph.js';

/** sum_i a_i b_i and sum_i |a_i b_i| (the scale of its rounding error). */
function dot(pairs: readonly (readonly [RefTensor, RefTensor])[]): { value: number; scale: number } {
  let value = 0;
  let scale = 0;
  for (const [a, b] of pairs)
    for (let i = 0; i < a.data.length; i++) {
      const p = a.data[i]! * b.data[i]!;
      value += p;
      scale += Math.abs(p);
    }
  return { value, scale };
}

/** A random direction for each leaf (its tensor's shape) and cotangent for each f32 output. */
function directions(r: RandomGraph, g: Graph, seed: number) {
  const next = rng(seed);
  const env = { inputs: r.inputs, params: r.params, dims: r.dims };
  const leaves = differentiableLeaves(g);
  const v = new Map(
    leaves.map((w) => [w.name, randomTensor((w.op === 'input' ? r.inputs : r.params).get(w.name)!.shape, next)]),
  );
  const outs = g.outputs.filter((o) => o.node.dtype === 'f32');
  const values = evaluate(
    outs.map((o) => o.node),
    env,
  );
  const u = new Map(outs.map((o, k) => [o.name, randomTensor(values[k]!.shape, next)]));
  return { leaves, v, outs, u };
}

const finite = (t: RefTensor) => t.data.every(Number.isFinite);

describe('forward mode on random graphs', () => {
  it('satisfies <u, J v> = <J^T u, v> (jvp against vjp) on 300 graphs', () => {
    let checked = 0;
    fc.assert(
      fc.property(arbGraph(), fc.integer(), (r, seed) => {
        const { leaves, v, outs, u } = directions(r, r.graph, seed);
        if (leaves.length === 0 || outs.length === 0) return;
        const jg = jvpGraph(r.graph);
        const vg = vjpGraph(r.graph);
        const inputs = new Map(r.inputs);
        for (const [name, t] of v) inputs.set(`${TANGENT}${name}`, t);
        for (const [name, t] of u) inputs.set(`${COTANGENT}${name}`, t);
        const env = { inputs, params: r.params, dims: r.dims };
        const jv = evaluate(
          outs.map((o) => jg.outputs.find((x) => x.name === `jvp.${o.name}`)!.node),
          env,
        );
        const jtu = evaluate(
          leaves.map((w) => vg.outputs.find((x) => x.name === `vjp.${w.name}`)!.node),
          env,
        );
        if (![...jv, ...jtu].every(finite)) return; // an overflowing derivative: nothing to compare
        const left = dot(outs.map((o, k) => [u.get(o.name)!, jv[k]!]));
        const right = dot(leaves.map((w, k) => [jtu[k]!, v.get(w.name)!]));
        expect(Math.abs(left.value - right.value)).toBeLessThanOrEqual(1e-9 * Math.max(1, left.scale, right.scale));
        checked++;
      }),
      { numRuns: 300 },
    );
    expect(checked).toBeGreaterThan(250);
  });

  it('computes Hessian-vector products forward-over-reverse equal to reverse-over-reverse on 300 graphs', () => {
    let checked = 0;
    fc.assert(
      fc.property(arbGraph(), fc.integer(), (r, seed) => {
        const g = r.graph;
        const { leaves, v, outs, u } = directions(r, g, seed);
        if (leaves.length === 0 || outs.length === 0) return;
        const b = g.builder;
        const inputs = new Map(r.inputs);
        // s = sum_k <out_k, u_k>: a scalar through every output.
        let s: Node = b.const(0, 'f32');
        for (const o of outs) {
          const c = b.input(`${COTANGENT}${o.name}`, o.node);
          inputs.set(c.op === 'input' ? c.name : '', u.get(o.name)!);
          const all = o.node.shape.map((_d, i) => i);
          s = b.binary('add', s, b.reshape(b.reduce('sum', b.binary('mul', o.node, c), all), []));
        }
        const vs = leaves.map((w) => {
          inputs.set(`${TANGENT}${w.name}`, v.get(w.name)!);
          return b.input(`${TANGENT}${w.name}`, w);
        });
        const grads = gradients(b, s, leaves);
        const forwardOverReverse = jvps(b, grads, leaves, vs);
        let gv: Node = b.const(0, 'f32');
        grads.forEach((gk, k) => {
          const all = gk.shape.map((_d, i) => i);
          gv = b.binary('add', gv, b.reshape(b.reduce('sum', b.binary('mul', gk, vs[k]!), all), []));
        });
        const reverseOverReverse = gradients(b, gv, leaves);
        const env = { inputs, params: r.params, dims: r.dims };
        const got = evaluate([...forwardOverReverse, ...reverseOverReverse], env);
        if (!got.every(finite)) return;
        for (let k = 0; k < leaves.length; k++) {
          const why = mismatch(got[k]!, got[leaves.length + k]!, 1e-9);
          if (why !== undefined) throw new Error(`Hv for ${leaves[k]!.name}: ${why}`);
        }
        checked++;
      }),
      { numRuns: 300 },
    );
    expect(checked).toBeGreaterThan(250);
  });
});

describe('forward mode', () => {
  it('gives zeros where the value does not depend on the seeded leaf, and adds a repeated seed', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [2] });
    const w = b.input('w', { dtype: 'f32', shape: [2] });
    const y = b.binary('mul', x, x);
    const t = b.input('t', { dtype: 'f32', shape: [2] });
    const env = {
      inputs: new Map<string, RefTensor>([
        ['x', { dtype: 'f32', shape: [2], data: Float64Array.from([1, 3]) }],
        ['w', { dtype: 'f32', shape: [2], data: Float64Array.from([0, 0]) }],
        ['t', { dtype: 'f32', shape: [2], data: Float64Array.from([1, 1]) }],
      ]),
      params: new Map(),
    };
    const [none] = jvps(b, [y], [w], [t]);
    expect([...evaluate([none!], env)[0]!.data]).toEqual([0, 0]);
    const [twice] = jvps(b, [y], [x, x], [t, t]); // tangent 2t: 2x * 2
    expect([...evaluate([twice!], env)[0]!.data]).toEqual([4, 12]);
  });

  it('rejects a tangent of the wrong type and non-f32 values (internal errors, never user input)', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [2] });
    const i = b.input('i', { dtype: 'i32', shape: [2] });
    expect(() => jvps(b, [x], [x], [b.input('t', { dtype: 'f32', shape: [3] })])).toThrow(/tangent f32\[3\]/);
    expect(() => jvps(b, [i], [x], [x])).toThrow(/not f32/);
    expect(() => jvps(b, [x], [x], [])).toThrow(/1 values but 0 tangents/);
  });
});
