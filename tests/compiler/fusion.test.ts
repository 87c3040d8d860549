// Differential tests of the middle end: the kernel program the fusion
// planner builds, run by the kernel-IR interpreter, must equal the float64
// reference interpreter on the original graph, for forward passes,
// gradients and whole training steps of every example.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKilnFile } from '../../dsl/frontend.js';
import { evalShape } from '../../compiler/types.js';
import { bindDims } from '../../compiler/bind.js';
import { type RefTensor, evaluate, scalar } from '../../compiler/interpret.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import type { Graph } from '../../compiler/ir.js';
import { compileGraph } from '../../compiler/compile.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { initialState, referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';

const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomTensors(
  decls: readonly {
    name: string;
    type: { dtype: 'f32' | 'i32' | 'bool'; shape: readonly (number | { coef: number; syms: readonly string[] })[] };
  }[],
  dims: Map<string, number>,
  seed: number,
): Map<string, RefTensor> {
  const rnd = lcg(seed);
  const out = new Map<string, RefTensor>();
  for (const d of decls) {
    const shape = evalShape(d.type.shape, dims);
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float64Array.from({ length: n }, () =>
      d.type.dtype === 'f32'
        ? Math.fround(rnd() * 2 - 1)
        : d.type.dtype === 'i32'
          ? rnd() < 0.5
            ? 0
            : 1
          : rnd() < 0.5
            ? 0
            : 1,
    );
    out.set(d.name, { dtype: d.type.dtype, shape, data });
  }
  return out;
}

/** Every element within tol (relative past 1), NaN where the reference has NaN; the first that is not, named. */
function expectClose(name: string, got: RefTensor, want: RefTensor, tol = 1e-9): void {
  expect(got.shape, name).toEqual(want.shape);
  // One assertion per tensor, not per element: `expect` costs microseconds, and the Fashion models'
  // steps compare a million elements.
  const bad = want.data.findIndex((b, i) => {
    const a = got.data[i]!;
    return Number.isNaN(b) ? !Number.isNaN(a) : !(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)));
  });
  expect(bad < 0 ? '' : `${name}[${bad}]: kernels ${got.data[bad]}, reference ${want.data[bad]}`, name).toBe('');
}

function dimsOf(g: Graph, tensors: ReadonlyMap<string, RefTensor>): Map<string, number> {
  return bindDims(
    [
      ...g.inputs.map((n) => ({ name: n.name, kind: 'input' as const, type: n })),
      ...g.params.map((n) => ({ name: n.name, kind: 'param' as const, type: n })),
    ].filter((d) => tensors.has(d.name)),
    tensors,
  );
}

/** Runs a graph both ways and compares every output. */
function differential(
  g: Graph,
  inputs: Map<string, RefTensor>,
  params: Map<string, RefTensor>,
  scalars = new Map<string, number>(),
): number {
  const allInputs = new Map(inputs);
  for (const [k, v] of scalars) allInputs.set(k, scalar(v, k === '@seed' ? 'i32' : 'f32'));
  const want = evaluate(
    g.outputs.map((o) => o.node),
    { inputs: allInputs, params },
  );
  const compiled = compileGraph(g);
  const kparams = new Map(params);
  const got = runProgram(compiled.fusion.program, {
    inputs,
    params: kparams,
    scalars,
    dims: dimsOf(g, new Map([...inputs, ...params])),
  });
  g.outputs.forEach((o, i) => {
    if (o.node.op === 'assign') expectClose(`assign ${o.name}`, kparams.get(o.node.target)!, want[i]!);
    else expectClose(o.name, got.get(o.name)!, want[i]!);
  });
  return compiled.fusion.program.kernels.length;
}

describe.each(EXAMPLES)('%s through the kernel interpreter', (file) => {
  const { result } = loadKilnFile(file);
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  const dims = new Map([...model.symbolicDims].map((s) => [s, 3]));

  it('forward', () => {
    const g = model.lower({ training: false });
    differential(g, randomTensors(model.inputs, dims, 1), randomTensors(model.params, dims, 2));
  });

  it('gradient', () => {
    const g = gradientGraph(model.lower({ training: false }), {
      of: train.minimize,
      params: model.params.filter((p) => p.type.dtype === 'f32').map((p) => p.name),
      inputs: [],
    });
    differential(g, randomTensors(model.inputs, dims, 3), randomTensors(model.params, dims, 4));
  });

  it('training steps', () => {
    const step = buildTrainStep(model, train);
    let params = new Map([...randomTensors(model.params, dims, 5), ...initialState(step)]);
    let kparams = new Map(params);
    const compiled = compileGraph(step.graph);
    for (let t = 1; t <= 3; t++) {
      const batch = randomTensors(model.inputs, dims, 10 + t);
      const sc = stepScalars(step, t);
      const ref = referenceTrainStep(step, { params, batch, scalars: sc, seed: 7 });
      const scalars = new Map(Object.entries(sc));
      if (step.graph.inputs.some((n) => n.name === '@seed')) scalars.set('@seed', 7);
      const out = runProgram(compiled.fusion.program, {
        inputs: batch,
        params: kparams,
        scalars,
        dims: dimsOf(step.graph, new Map([...batch, ...kparams])),
      });
      expectClose(`loss at step ${t}`, out.get(step.loss)!, {
        dtype: 'f32',
        shape: [],
        data: Float64Array.of(ref.loss),
      });
      for (const [name, v] of ref.params) expectClose(`${name} after step ${t}`, kparams.get(name)!, v);
      params = ref.params;
      kparams = new Map(kparams);
    }
  });
});
