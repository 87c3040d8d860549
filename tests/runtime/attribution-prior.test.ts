// An expected-gradients attribution prior (examples/fashion_mlp_prior.kiln in
// miniature): the baseline is the batch neighbour (`roll`), the interpolation
// point is drawn in the step (`rand_like`), and the loss holds a gradient, so
// the step differentiates through it. The attribution a forward pass computes
// equals (x − x′) · dscore/dz at z = x′ + a (x − x′), with dscore/dz taken by
// central differences (float64, error < 1e-6); fused wasm steps equal
// referenceTrainStep with the same step seeds (loss rtol 1e-4 / atol 1e-6,
// params rtol 1e-3 / atol 2e-5, as for every backprop step).

import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import { type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact, stepSeed } from '../../runtime/index.js';
import { type Example, artifactFor, expectAllClose, expectStepsMatchReference, lcg, refMap } from './helpers.js';

const SCORE = `fn net(x, w1, w2) = relu(x @ w1) @ w2
fn score(x, y, w1, w2) = sum(log_softmax(net(x, w1, w2), axis = -1) * one_hot(y, 3))
`;

const PRIOR = `${SCORE}
model prior(x: f32[B, 16], y: i32[B]) {
  param w1: f32[16, 8] = glorot_uniform
  param w2: f32[8, 3]  = glorot_uniform
  x0 = stop_gradient(roll(x, 1))
  a = 1 - rand_like(x[:, :1])
  g = grad(score(x0 + a * (x - x0), y, w1, w2), x) / a
  attr = reshape((x - x0) * g, [-1, 4, 4])
  tv = mean(abs(attr[:, 1:, :] - attr[:, :-1, :])) + mean(abs(attr[:, :, 1:] - attr[:, :, :-1]))
  output alpha = a
  output eg = reshape(attr, [-1, 16])
  output loss = mean(softmax_cross_entropy(net(x, w1, w2), y)) + 5 * tv
}
train prior {
  minimize  loss
  optimizer adam(lr = 0.01)
}
`;

/** The score alone, as a function of the interpolation point z. */
const SCORE_AT = `${SCORE}
model s(z: f32[B, 16], y: i32[B]) {
  param w1: f32[16, 8] = glorot_uniform
  param w2: f32[8, 3]  = glorot_uniform
  output s = score(z, y, w1, w2)
}
`;

function exampleOf(src: string): Example {
  const { result } = compileSource('prior.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  return { model: result.models[0]!, train: result.trains[0] };
}

/** The model's outputs on the float64 interpreter (outside training: rand_like's key is 0). */
function outputs(src: string, inputs: Map<string, RefTensor>, params: Map<string, RefTensor>) {
  const g = compile(exampleOf(src).model, undefined).ir;
  const values = evaluate(
    g.outputs.map((o) => o.node),
    { inputs, params },
  );
  return new Map(g.outputs.map((o, i) => [o.name, values[i]!]));
}

function batch(b: number, seed: number): Record<string, Tensor> {
  const rnd = lcg(seed);
  return {
    x: { data: Float32Array.from({ length: b * 16 }, () => rnd()), shape: [b, 16] },
    y: { data: Int32Array.from({ length: b }, () => Math.floor(rnd() * 3)), shape: [b] },
  };
}

const open: Model[] = [];
afterAll(() => {
  for (const m of open) m.dispose();
});

describe('an expected-gradients prior', () => {
  it('attributes (x − x′) · dscore/dz with x′ the batch neighbour and z between them', () => {
    const rnd = lcg(5);
    const params = new Map([
      [
        'w1',
        tensor(
          'f32',
          [16, 8],
          Array.from({ length: 128 }, () => rnd() - 0.5),
        ),
      ],
      [
        'w2',
        tensor(
          'f32',
          [8, 3],
          Array.from({ length: 24 }, () => rnd() - 0.5),
        ),
      ],
    ]);
    const B = 3;
    const inputs = refMap(batch(B, 9));
    const out = outputs(PRIOR, inputs, params);
    const alpha = [...out.get('alpha')!.data];
    expect(alpha.every((a) => a > 0 && a <= 1)).toBe(true);
    const x = [...inputs.get('x')!.data];
    const y = inputs.get('y')!;
    const eg = [...out.get('eg')!.data];
    const scoreOf = (z: number[], b: number) =>
      outputs(
        SCORE_AT,
        new Map([
          ['z', tensor('f32', [1, 16], z)],
          ['y', tensor('i32', [1], [y.data[b]!])],
        ]),
        params,
      ).get('s')!.data[0]!;
    const h = 1e-5;
    for (let b = 0; b < B; b++) {
      const xb = x.slice(b * 16, b * 16 + 16);
      const x0 = x.slice(((b + B - 1) % B) * 16, ((b + B - 1) % B) * 16 + 16);
      const z = xb.map((v, i) => x0[i]! + alpha[b]! * (v - x0[i]!));
      const want = z.map((_, i) => {
        const up = z.map((v, j) => (j === i ? v + h : v));
        const down = z.map((v, j) => (j === i ? v - h : v));
        return ((xb[i]! - x0[i]!) * (scoreOf(up, b) - scoreOf(down, b))) / (2 * h);
      });
      expectAllClose(`attribution of example ${b}`, eg.slice(b * 16, b * 16 + 16), want, 1e-6, 1e-6);
    }
  });

  it('trains on wasm exactly as referenceTrainStep, the draws keyed by the step seed', async () => {
    const ex = exampleOf(PRIOR);
    const m = await loadArtifact(artifactFor(ex.model, ex.train, { seed: 1, threads: false }), { threads: 1 });
    open.push(m);
    const step = buildTrainStep(ex.model, ex.train!);
    await expectStepsMatchReference(m, step, (t) => batch(8, 100 + t));
    // The same batch and params under another step seed draw other points, so another loss.
    const b = batch(8, 101);
    const p0 = new Map([...refMap(await m.getParams({ state: false })), ...initialState(step)]);
    const at = (seed: number) =>
      referenceTrainStep(step, { params: p0, batch: refMap(b), scalars: stepScalars(step, 1), seed }).loss;
    expect(at(stepSeed(0, 1))).not.toBe(at(stepSeed(0, 2)));
  });
});
