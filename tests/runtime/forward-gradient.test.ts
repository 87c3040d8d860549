// Forward-gradient training steps on wasm against the reference interpreter:
// the same step seed draws the same tangents on both, so a fused wasm step
// equals referenceTrainStep (loss rtol 1e-4 / atol 1e-6, params rtol 1e-3 /
// atol 2e-5 as for backprop steps, the gradient read off an lr = 1 SGD step
// rtol 1e-3 / atol 1e-5); a seeded run trains, through the runtime and
// through `kiln train` on both targets.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact, stepSeed } from '../../runtime/index.js';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from '../cli/helpers.js';
import { type Example, artifactFor, expectAllClose, expectStepsMatchReference, lcg, refMap } from './helpers.js';

/** A classifier with dropout, so the step's seed keys both the dropout masks and the tangents. */
const NET = (optimizer: string, directions: number) => `model net(x: f32[B, 6], y: i32[B]) {
  param w1: f32[6, 16] = glorot_uniform
  param b1: f32[16]    = zeros
  param w2: f32[16, 3] = glorot_uniform
  param b2: f32[3]     = zeros
  h = dropout(relu(x @ w1 + b1), 0.2)
  output loss = mean(softmax_cross_entropy(h @ w2 + b2, y))
}
train net {
  minimize  loss
  optimizer ${optimizer}
  gradient  forward(directions = ${directions})
}
`;

function exampleOf(src: string): Example {
  const { result } = compileSource('net.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  return { model: result.models[0]!, train: result.trains[0]! };
}

/** `n` examples labelled by a fixed linear teacher: a learnable task. */
function dataset(n: number): { x: Float32Array; y: Int32Array } {
  const rnd = lcg(11);
  const teacher = Array.from({ length: 18 }, () => rnd() * 2 - 1);
  const x = Float32Array.from({ length: n * 6 }, () => rnd() * 2 - 1);
  const y = Int32Array.from({ length: n }, (_, i) => {
    const score = [0, 1, 2].map((c) => [0, 1, 2, 3, 4, 5].reduce((s, k) => s + x[i * 6 + k]! * teacher[k * 3 + c]!, 0));
    return score.indexOf(Math.max(...score));
  });
  return { x, y };
}

function batch(n: number, from: number, size: number): Record<string, Tensor> {
  const { x, y } = dataset(n);
  const rows = Array.from({ length: size }, (_, i) => (from + i) % n);
  return {
    x: { data: Float32Array.from(rows.flatMap((r) => [...x.subarray(r * 6, r * 6 + 6)])), shape: [size, 6] },
    y: { data: Int32Array.from(rows.map((r) => y[r]!)), shape: [size] },
  };
}

const open: Model[] = [];
async function load(ex: Example): Promise<Model> {
  const m = await loadArtifact(artifactFor(ex.model, ex.train, { seed: 1, threads: false }), { threads: 1 });
  open.push(m);
  return m;
}
afterAll(() => {
  for (const m of open) m.dispose();
});

describe('forward-gradient steps on wasm', () => {
  it('equal referenceTrainStep for 3 steps (adam, 4 directions, dropout)', async () => {
    const ex = exampleOf(NET('adam(lr = 0.01)', 4));
    const m = await load(ex);
    const step = buildTrainStep(ex.model, ex.train!);
    await expectStepsMatchReference(m, step, (t) => batch(64, 16 * t, 16));
  });

  it('use the gradient the reference computes (sgd, lr = 1: the update is the estimate)', async () => {
    const ex = exampleOf(NET('sgd(lr = 1)', 3));
    const m = await load(ex);
    const step = buildTrainStep(ex.model, ex.train!);
    const before = await m.getParams({ state: false });
    const b = batch(64, 0, 16);
    await m.step(b);
    const after = await m.getParams({ state: false });
    const ref = referenceTrainStep(step, {
      params: refMap(before),
      batch: refMap(b),
      scalars: stepScalars(step, 1),
      seed: stepSeed(0, 1),
    });
    for (const name of step.trainable) {
      const g = before[name]!.data.map((v, i) => v - after[name]!.data[i]!);
      const want = before[name]!.data.map((v, i) => v - ref.params.get(name)!.data[i]!);
      expect(
        want.some((v) => Math.abs(v) > 1e-3),
        `${name}: a nonzero estimate`,
      ).toBe(true);
      expectAllClose(`estimate for ${name}`, g, want, 1e-3, 1e-5);
    }
  });

  it('train: 300 seeded steps of 4 directions at batch 32 reduce the loss', async () => {
    const m = await load(exampleOf(NET('adam(lr = 0.01)', 4)));
    const losses: number[] = [];
    for (let t = 0; t < 300; t++) losses.push(await m.step(batch(256, 32 * t, 32)));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Means over 20 steps: single batches are noisy (the data changes, dropout).
    expect(mean(losses.slice(-20))).toBeLessThan(0.6 * mean(losses.slice(0, 20)));
  });
});

describe('kiln train with gradient forward(directions = 4)', () => {
  it('reduces the loss on wasm and on the reference, which agree step for step', async () => {
    const dir = tempDir();
    const file = join(dir, 'net.kiln');
    writeFileSync(file, NET('adam(lr = 0.01)', 4));
    const { x, y } = dataset(256);
    const data = join(dir, 'data.safetensors');
    writeFileSync(
      data,
      encodeSafetensors({ x: { dtype: 'F32', shape: [256, 6], data: x }, y: { dtype: 'I32', shape: [256], data: y } }),
    );
    const args = ['train', file, '--data', data, '--steps', '200', '--batch', '32', '--seed', '3'];
    const losses = (out: string) => [...out.matchAll(/^step \d+\/\d+ +loss (\S+)$/gm)].map((r) => Number(r[1]));
    const wasm = await kiln(...args);
    const ref = await kiln(...args, '--target', 'reference');
    expect(wasm.stderr).toBe('');
    expect(ref.stderr).toBe('');
    const lw = losses(wasm.stdout);
    const lr = losses(ref.stdout);
    // Off a terminal about 50 step lines: steps 1, 4, 8, ..., 200.
    expect(lw).toHaveLength(51);
    // The same seeds, so the same tangents and dropout masks: the runs part only by f32 rounding.
    expectAllClose('losses, first 10 lines', lw.slice(0, 10), lr.slice(0, 10), 1e-3, 1e-5);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const l of [lw, lr]) expect(mean(l.slice(-10))).toBeLessThan(0.7 * mean(l.slice(0, 10)));
  });
});
