// The ONNX graph's interface: symbolic dimensions (two of them, B and T, and
// their product B*T in reshapes; run-time sizes in shapes: iota for argmax
// over the batch, broadcast_to, mean's element count; clamped and wrapped
// indices) against the reference at two (B, T); outputs that are an input, a
// param, a constant or another output; dropout's random numbers; the error
// for a symbol whose size no input axis gives.

import { describe, expect, it } from 'vitest';
import { type RefTensor, evaluate } from '../../compiler/interpret.js';
import { type Graph, IRBuilder, type NodeOf } from '../../compiler/ir.js';
import { evalShape, sym } from '../../compiler/types.js';
import { compileSource } from '../../dsl/frontend.js';
import { exportOnnx } from '../../targets/onnx/export.js';
import { decodeModel } from '../../targets/onnx/schema.js';
import { lcg } from '../runtime/helpers.js';
import { mismatch, runOnnx } from './onnx-helpers.js';

const SOURCE = `
model seq(x: f32[B, T, 4], ids: i32[B, T]) {
  param w: f32[4, 3] = glorot_uniform
  flat = reshape(x, [-1, 4])
  output rows = flat @ w
  output back = reshape(flat @ w, [shape(x)[0], shape(x)[1], 3])
  output swapped = transpose(x, [1, 0, 2])
  output first_max = argmax(x, axis = 0)
  output embedded = take(w, ids, 0)
  output avg = mean(x)
  output grid = broadcast_to(sum(x, axis = 2, keepdims = true), [shape(x)[0], shape(x)[1], 5])
}
`;

describe('the ONNX graph: symbolic dimensions, outputs, errors', () => {
  it('runs with B and T bound at run time, like the reference', async () => {
    const { result } = compileSource('seq.kiln', SOURCE);
    expect(result.diagnostics).toEqual([]);
    const model = result.models[0]!;
    const rnd = lcg(7);
    const params = new Map<string, RefTensor>([
      ['w', { dtype: 'f32', shape: [4, 3], data: Float64Array.from({ length: 12 }, () => Math.fround(rnd() - 0.5)) }],
    ]);
    const g = model.lower({ training: false });
    const exp = exportOnnx(g, params, { name: 'seq', producerVersion: 'test' });
    const decoded = decodeModel(exp.bytes) as {
      graph: { output: { type: { tensorType: { shape: { dim?: { dimParam?: string; dimValue?: number }[] } } } }[] };
    };
    const dims = decoded.graph.output.map((o) =>
      (o.type.tensorType.shape.dim ?? []).map((d) => d.dimParam ?? d.dimValue),
    );
    expect(dims).toEqual([['B*T', 3], ['B', 'T', 3], ['T', 'B', 4], ['T', 4], ['B', 'T', 3], [], ['B', 'T', 5]]);

    const sets = [
      [2, 3],
      [4, 1],
    ].map(([b, t]) => {
      const env = new Map([
        ['B', b!],
        ['T', t!],
      ]);
      const n = (s: number[]) => s.reduce((a, c) => a * c, 1);
      const xs = evalShape(model.inputs[0]!.type.shape, env);
      const is = evalShape(model.inputs[1]!.type.shape, env);
      return new Map<string, RefTensor>([
        ['x', { dtype: 'f32', shape: xs, data: Float64Array.from({ length: n(xs) }, () => Math.round(rnd() * 8) / 4) }],
        [
          'ids',
          { dtype: 'i32', shape: is, data: Float64Array.from({ length: n(is) }, () => Math.floor(rnd() * 12) - 6) },
        ],
      ]);
    });
    const run = await runOnnx(exp.bytes, sets);
    sets.forEach((inputs, k) => {
      const want = evaluate(
        g.outputs.map((o) => o.node),
        { inputs, params },
      );
      g.outputs.forEach((o, j) =>
        expect(mismatch(`${o.name} set ${k}`, run.results[k]!.get(o.name), want[j]!, 1e-5)).toBeUndefined(),
      );
    });
  });

  it('names every output, also one that is an input, a param, a constant or another output', async () => {
    const { result } = compileSource(
      'ident.kiln',
      `model ident(x: f32[B, 3]) {
  param w: f32[3] = ones
  output same = x
  output twice = x * 2.0
  output again = twice
  output weights = w
  output c = 1.5
}`,
    );
    const exp = exportOnnx(
      result.models[0]!.lower({ training: false }),
      new Map([['w', { dtype: 'f32', shape: [3], data: [1, 2, 3] }]]),
      { name: 'ident', producerVersion: 'test' },
    );
    const x = { dtype: 'f32' as const, shape: [2, 3], data: Float64Array.of(1, 2, 3, 4, 5, 6) };
    const run = await runOnnx(exp.bytes, [new Map([['x', x]])]);
    expect(run.outputNames).toEqual(['same', 'twice', 'again', 'weights', 'c']);
    const got = Object.fromEntries([...run.results[0]!].map(([k, v]) => [k, [v.shape, v.data]]));
    expect(got).toEqual({
      same: [
        [2, 3],
        [1, 2, 3, 4, 5, 6],
      ],
      twice: [
        [2, 3],
        [2, 4, 6, 8, 10, 12],
      ],
      again: [
        [2, 3],
        [2, 4, 6, 8, 10, 12],
      ],
      weights: [[3], [1, 2, 3]],
      c: [[], [1.5]],
    });
    expect(exp.nodeCount).toBe(5); // Mul and an Identity for each output that is not a node's own value
  });

  it("draws dropout's random numbers bit for bit as the reference (a training graph, keyed by @seed)", async () => {
    const { result } = compileSource(
      'drop.kiln',
      `model drop(x: f32[B, 6]) {
  output kept = dropout(x, 0.5)
  output u = rand_like(x)
}`,
    );
    const g = result.models[0]!.lower({ training: true });
    expect(g.inputs.map((i) => i.name)).toEqual(['x', '@seed']);
    const exp = exportOnnx(g, new Map(), { name: 'drop', producerVersion: 'test' });
    const sets = [
      [2, 12345],
      [5, -7],
    ].map(([b, seed]) => {
      const x: RefTensor = { dtype: 'f32', shape: [b!, 6], data: new Float64Array(b! * 6).fill(1) };
      const key: RefTensor = { dtype: 'i32', shape: [], data: Float64Array.of(seed!) };
      return new Map([
        ['x', x],
        ['@seed', key],
      ]);
    });
    const run = await runOnnx(exp.bytes, sets);
    sets.forEach((inputs, k) => {
      const want = evaluate(
        g.outputs.map((o) => o.node),
        { inputs, params: new Map() },
      );
      g.outputs.forEach((o, j) =>
        expect(mismatch(`${o.name} set ${k}`, run.results[k]!.get(o.name), want[j]!, 0)).toBeUndefined(),
      );
      expect(new Set(want[0]!.data)).toEqual(new Set([0, 2])); // a real mask: some dropped, some kept
    });
  });

  it('is an error when no input axis has exactly the size of a symbol', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [{ coef: 2, syms: ['B'] }] });
    const graph: Graph = {
      builder: b,
      inputs: [x as NodeOf<'input'>],
      params: [],
      outputs: [{ name: 'n', node: b.dimSize(sym('B'), 'f32') }],
    };
    expect(() => exportOnnx(graph, new Map(), { name: 'g', producerVersion: 'test' })).toThrow(
      "op 'dim': symbolic dimension 'B' is not the whole size of an input axis, so its run-time size cannot be read",
    );
  });
});
