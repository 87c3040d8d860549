// Forward-gradient training steps (`gradient forward(directions = k)`,
// LANGUAGE.md v1) on the float64 reference interpreter: the estimate is
// unbiased (its mean over many seeds approaches the exact gradient within
// bounds derived from its variance), keyed by the step's seed, and trains.
// The estimate is read off an SGD step with lr = 1: g = param before - after.

import { describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import type { RefTensor } from '../../compiler/interpret.js';
import { topoSort } from '../../compiler/ir.js';
import { tensor } from '../../compiler/interpret.js';
import { printGraph } from '../../compiler/print.js';
import { initialState, referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { compileSource, loadKilnFile } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import { stepSeed } from '../../runtime/model.js';

const src = (gradient: string, optimizer = 'sgd(lr = 1)') => `model m(x: f32[B, 3], y: f32[B]) {
  param w: f32[3, 2] = glorot_uniform
  param b: f32[2]    = zeros
  param u: f32[2]    = glorot_uniform
  h = tanh(x @ w + b)
  output loss = mean((sum(h * u, axis = 1) - y) ** 2)
}
train m {
  minimize  loss
  optimizer ${optimizer}
  ${gradient}
}
`;

function stepOf(text: string): TrainStep {
  const { result } = compileSource('t.kiln', text);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  return buildTrainStep(result.models[0]!, result.trains[0]!);
}

const f32 = (shape: number[], data: number[]) => tensor('f32', shape, data);

/** Params away from any symmetry, so every coordinate of the gradient differs. */
const PARAMS = new Map<string, RefTensor>([
  ['w', f32([3, 2], [0.4, -0.7, 0.25, 0.9, -0.5, 0.1])],
  ['b', f32([2], [0.15, -0.3])],
  ['u', f32([2], [0.8, -0.6])],
]);
const BATCH = new Map<string, RefTensor>([
  ['x', f32([5, 3], [0.5, -1, 0.3, 1.2, 0.1, -0.4, -0.8, 0.6, 0.9, 0.2, -0.3, -1.1, 0.7, 0.8, 0.05])],
  ['y', f32([5], [0.3, -0.5, 0.9, 0.1, -0.2])],
]);

/** The gradient a step used (SGD with lr = 1 moves every param by exactly -g), flattened in param order. */
function gradientOf(step: TrainStep, seed: number): number[] {
  const r = referenceTrainStep(step, { params: PARAMS, batch: BATCH, scalars: stepScalars(step, 1), seed });
  return step.trainable.flatMap((name) => {
    const before = PARAMS.get(name)!.data;
    const after = r.params.get(name)!.data;
    return [...before].map((v, i) => v - after[i]!);
  });
}

const norm2 = (a: readonly number[]) => a.reduce((s, v) => s + v * v, 0);

describe('forward gradient on the reference interpreter', () => {
  const exact = gradientOf(stepOf(src('')), 0);

  it('the default and `gradient backprop` are the same step, with no seed and the exact gradient', () => {
    const dflt = stepOf(src(''));
    expect(printGraph(stepOf(src('gradient backprop')).graph, 's')).toBe(printGraph(dflt.graph, 's'));
    expect(dflt.graph.inputs.map((n) => n.name)).not.toContain('@seed');
    expect(dflt.gradient).toBeUndefined();
    expect(norm2(exact)).toBeGreaterThan(0.01);
  });

  it('takes @seed even without dropout, and the same seed gives the same tangents', () => {
    const step = stepOf(src('gradient forward(directions = 2)'));
    expect(step.gradient).toEqual({ kind: 'forward', directions: 2 });
    expect(step.graph.inputs.map((n) => n.name)).toEqual(['x', 'y', '@seed', '@lr', '@weight_decay']);
    expect(() => referenceTrainStep(step, { params: PARAMS, batch: BATCH, scalars: stepScalars(step, 1) })).toThrow(
      'needs a seed',
    );
    expect(gradientOf(step, 7)).toEqual(gradientOf(step, 7));
    expect(gradientOf(step, 7)).not.toEqual(gradientOf(step, 8));
    expect(gradientOf(step, 7)).not.toEqual(exact);
  });

  // g = (1/k) Σ_i (a·v_i) v_i with v_i ~ N(0, I) has mean a (the exact gradient)
  // and Var(g_j) = (|a|² + a_j²) / k; its projection s = g·a/|a| = |a| z² / k summed
  // (z ~ N(0, 1)) has mean |a| and variance 2|a|²/k. Over N seeds the sample
  // means have these variances over N; every check is a 5-sigma bound.
  it.each([
    [1, 4000],
    [4, 1000],
  ])('is unbiased: with %i direction(s), the mean over %i seeds is within 5 sigma of the exact gradient', (k, n) => {
    const step = stepOf(src(`gradient forward(directions = ${k})`));
    const p = exact.length;
    const sum = new Float64Array(p);
    for (let s = 1; s <= n; s++) gradientOf(step, stepSeed(3, s)).forEach((v, j) => (sum[j]! += v));
    const mean = [...sum].map((v) => v / n);
    const a2 = norm2(exact);
    mean.forEach((m, j) => {
      const sigma = Math.sqrt((a2 + exact[j]! ** 2) / (k * n));
      expect(Math.abs(m - exact[j]!), `coordinate ${j}: mean ${m}, exact ${exact[j]}`).toBeLessThan(5 * sigma);
    });
    // Along the gradient: the bound is tight enough to reject an estimator 20% too large or too small.
    const a = Math.sqrt(a2);
    const along = mean.reduce((s, v, j) => s + (v * exact[j]!) / a, 0);
    const bound = 5 * a * Math.sqrt(2 / (k * n));
    expect(bound).toBeLessThan(0.2 * a);
    expect(Math.abs(along - a)).toBeLessThan(bound);
    expect(Math.abs(1.2 * along - a)).toBeGreaterThan(bound);
    expect(Math.abs(0.8 * along - a)).toBeGreaterThan(bound);
  });

  it('trains: 150 seeded steps with 4 directions reduce the loss to a small fraction', () => {
    const step = stepOf(src('gradient forward(directions = 4)', 'adam(lr = 0.03)'));
    let params = new Map([...PARAMS, ...initialState(step)]);
    const losses: number[] = [];
    for (let t = 1; t <= 150; t++) {
      const r = referenceTrainStep(step, { params, batch: BATCH, scalars: stepScalars(step, t), seed: stepSeed(0, t) });
      losses.push(r.loss);
      params = r.params;
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.2);
  });
});

describe('the forward-gradient step of examples/fashion_mlp_forward.kiln', () => {
  /** The optimised step graph's ops, counted, and its gradient estimator. */
  function ops(file: string): { counts: Map<string, number>; directions: number | undefined } {
    const { result } = loadKilnFile(file);
    const step = compile(result.models[0]!, result.trains[0]!, { target: 'wasm' }).step!;
    if (step.kind !== 'built') throw new Error(step.reason);
    const counts = new Map<string, number>();
    for (const n of topoSort(step.stages.optimised.graph.outputs.map((o) => o.node)))
      counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
    return { counts, directions: step.step.gradient?.directions };
  }

  it('has no backward pass: one forward matmul per layer, three per direction, nothing transposed', () => {
    const fwd = ops('examples/fashion_mlp_forward.kiln');
    const k = fwd.directions!;
    expect(k).toBeGreaterThan(1);
    // h = x @ w1 and logits = h @ w2; per direction x @ v_w1, dh @ w2 and h @ v_w2 (x has no tangent).
    expect(fwd.counts.get('matmul')).toBe(2 + 3 * k);
    // Reverse mode multiplies by transposed operands (x^T @ dh, dlogits @ w2^T); forward mode never does.
    expect(fwd.counts.get('permute') ?? 0).toBe(0);
    expect(ops('examples/fashion_mlp.kiln').counts.get('permute')).toBeGreaterThan(0);
    // Two uniforms per param and direction.
    expect(fwd.counts.get('rand')).toBe(2 * 4 * k);
  });
});
