// Buffers larger than the device binds in one storage binding
// (maxStorageBufferBindingSize): the runtime splits a kernel's dispatch along
// its outermost parallel loop and binds each piece's range of the buffer
// (targets/wgsl/split.ts, runtime/manifest.ts GpuSplitSpec). Tested without
// huge buffers through the backend's testing knob `maxBindingBytes`: every
// split run must equal the unsplit run exactly (the same shaders compute the
// same values) and the reference interpreter within tolerance; kernels that
// cannot be split fail with a clear error.

import { afterEach, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../dsl/source.js';
import { compileSource } from '../../dsl/frontend.js';
import type { CheckedModel, CheckedTrain } from '../../dsl/check.js';
import { evaluate } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import type { Tensor } from '../../runtime/executor.js';
import {
  ArtifactError,
  KilnRuntimeError,
  type Model,
  loadArtifact,
  stepSeed,
  validateManifest,
} from '../../runtime/index.js';
import { webgpuTesting } from '../../runtime/webgpu/backend.js';
import type { Artifact } from '../../targets/artifact.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { artifactFor, expectAllClose, randomInputs, refMap } from './helpers.js';

interface Built {
  readonly model: CheckedModel;
  readonly train: CheckedTrain | undefined;
  readonly artifact: Artifact;
}

function build(src: string): Built {
  const { result } = compileSource('split.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const model = result.models[0]!;
  const train = result.trains.find((t) => t.model === model.name);
  return { model, train, artifact: artifactFor(model, train, { seed: 1, target: 'webgpu' }) };
}

const open: Model[] = [];
afterEach(() => {
  for (const m of open.splice(0)) m.dispose();
  delete webgpuTesting.maxBindingBytes;
  delete webgpuTesting.onPlan;
});

/** The artifact loaded twice: bound as the device allows, and with at most `limit` bytes per binding. */
async function pair(b: Built, limit: number): Promise<{ whole: Model; split: Model }> {
  const whole = await loadArtifact(b.artifact);
  open.push(whole);
  webgpuTesting.maxBindingBytes = limit;
  const split = await loadArtifact(b.artifact);
  open.push(split);
  delete webgpuTesting.maxBindingBytes;
  return { whole, split };
}

/** Runs `f`, returning its result and the dispatches per kernel of the plans it made. */
async function counting<T>(f: () => Promise<T>): Promise<{ value: T; dispatches: Map<string, number> }> {
  const dispatches = new Map<string, number>();
  webgpuTesting.onPlan = (ks) => ks.forEach((k) => dispatches.set(k.kernel, k.dispatches));
  try {
    return { value: await f(), dispatches };
  } finally {
    delete webgpuTesting.onPlan;
  }
}

async function expectForwardSplit(src: string, batch: number, limit: number, minPieces: number): Promise<void> {
  const b = build(src);
  const { whole, split } = await pair(b, limit);
  const inputs = randomInputs(b.model, batch, 11);
  const want = await whole.run(inputs);
  const { value: got, dispatches } = await counting(() => split.run(inputs));
  expect(
    Math.max(...dispatches.values()),
    `dispatches per kernel ${JSON.stringify([...dispatches])}`,
  ).toBeGreaterThanOrEqual(minPieces);
  const g = b.model.lower({ training: false });
  const ref = evaluate(
    g.outputs.map((o) => o.node),
    { inputs: refMap(inputs), params: refMap(await whole.getParams({ state: false })) },
  );
  g.outputs.forEach((o, i) => {
    expect([...got[o.name]!.data], `${o.name}: split equals unsplit`).toEqual([...want[o.name]!.data]);
    expectAllClose(`${o.name} vs the reference`, got[o.name]!.data, ref[i]!.data, 1e-4, 1e-5);
  });
}

describe('the split fields of a webgpu manifest', () => {
  it('are validated: one stride per binding, p0 grid entries only with a split', () => {
    const b = build('model ew(x: f32[B, 8]) {\n  output y = x * 2.0\n}\n');
    const gpu = b.artifact.manifest.forward!.kernels[0]!.gpu!;
    expect(gpu.split).toEqual({ extent: { coef: 1, syms: ['B'] }, at: 4, strides: [8, 8] });
    expect(gpu.grid.every((g) => g.p0)).toBe(true);
    const broken = (f: (k: { split?: { strides: unknown[] }; grid: { p0?: unknown }[] }) => void) => {
      const m = JSON.parse(JSON.stringify(b.artifact.manifest)) as {
        forward: { kernels: { gpu: Parameters<typeof f>[0] }[] };
      };
      f(m.forward.kernels[0]!.gpu);
      return () => validateManifest(m, 'manifest.json');
    };
    expect(broken(() => {})).not.toThrow();
    expect(broken((k) => k.split!.strides.push(1))).toThrow(ArtifactError);
    expect(broken((k) => k.split!.strides.push(1))).toThrow(/expected 2 strides/);
    expect(broken((k) => (k.split!.strides[0] = 0))).toThrow(/stride must be positive/);
    expect(
      broken((k) => {
        delete k.split;
      }),
    ).toThrow(/only a split kernel has p0 grid entries/);
  });
});

webgpuSuite('dispatches split to fit the storage binding limit', () => {
  it('elementwise: a [B, 100] chain split into many pieces (odd rows, unaligned starts)', async () => {
    // 400-byte rows: piece starts are not multiples of the 256-byte offset alignment.
    await expectForwardSplit(
      'model ew(x: f32[B, 100]) {\n  output y = exp(x) * 2.0 + tanh(x) - x * x\n}\n',
      37,
      2048,
      4,
    );
  });

  it('a 1-D elementwise kernel on the vector template: pieces start at multiples of 4 points', async () => {
    await expectForwardSplit('model v(x: f32[1000], y: f32[1000]) {\n  output z = x * y - exp(x)\n}\n', 1, 1000, 4);
  });

  it('reductions over rows: row sums and a softmax (a workgroup per row), split by rows', async () => {
    await expectForwardSplit(
      'model rows(x: f32[B, 300]) {\n  output s = sum(x, axis = -1)\n  output p = softmax(x, axis = -1)\n}\n',
      29,
      4096,
      4,
    );
  });

  it('a batched matmul split along its batch dimension', async () => {
    await expectForwardSplit(
      'model bmm(a: f32[B, 24, 16], b: f32[B, 16, 20]) {\n  output c = relu(a @ b + 1.0)\n}\n',
      13,
      4096,
      4,
    );
  });

  it('an MLP forward pass: the first layer split along its rows (the batch)', async () => {
    const mlp = [
      'model mlp(x: f32[B, 64], y: i32[B]) {',
      '  param w1: f32[64, 32] = he_normal',
      '  param b1: f32[32] = zeros',
      '  param w2: f32[32, 10] = glorot_uniform',
      '  param b2: f32[10] = zeros',
      '  h = relu(x @ w1 + b1)',
      '  logits = h @ w2 + b2',
      '  output probs = softmax(logits, axis = -1)',
      '  output loss = mean(softmax_cross_entropy(logits, y))',
      '}',
      '',
    ].join('\n');
    await expectForwardSplit(mlp, 300, 16384, 4);
  });

  it('a training step (dropout, Adam) whose every large buffer is split by rows', async () => {
    const src = [
      'model rows(x: f32[48, 256], y: f32[48, 256]) {',
      '  param w: f32[48, 256] = glorot_uniform',
      '  e = dropout(tanh(x * w), 0.25) - y',
      '  output loss = mean(sum(e * e, axis = -1))',
      '}',
      'train rows {',
      '  minimize loss',
      '  optimizer adam(lr = 1e-2)',
      '}',
      '',
    ].join('\n');
    const b = build(src);
    expect(b.artifact.manifest.train).toBeDefined();
    const { whole, split } = await pair(b, 8192);
    const step = buildTrainStep(b.model, b.train!);
    let params = new Map([...refMap(await whole.getParams({ state: false })), ...initialState(step)]);
    for (let t = 1; t <= 2; t++) {
      const batch = randomInputs(b.model, 1, t);
      const want = await whole.step(batch);
      const { value: loss, dispatches } = await counting(() => split.step(batch));
      if (t === 1) expect(Math.max(0, ...dispatches.values())).toBeGreaterThanOrEqual(6);
      expect(loss).toBe(want);
      const ref = referenceTrainStep(step, {
        params,
        batch: refMap(batch),
        scalars: stepScalars(step, t),
        seed: stepSeed(0, t),
      });
      expectAllClose(`loss at step ${t}`, [loss], [ref.loss], 1e-4, 1e-6);
      params = ref.params;
      const got = await split.getParams();
      const same = await whole.getParams();
      for (const [name, w] of params) {
        expect([...got[name]!.data], `${name}: split equals unsplit`).toEqual([...same[name]!.data]);
        expectAllClose(`${name} after step ${t}`, got[name]!.data, w.data, 1e-3, 2e-5);
      }
    }
  });

  it('a kernel that reads a buffer past the limit whole fails clearly (an MLP weight gradient over the batch)', async () => {
    const src = [
      'model mlp(x: f32[B, 64], y: i32[B]) {',
      '  param w1: f32[64, 32] = he_normal',
      '  param w2: f32[32, 10] = glorot_uniform',
      '  logits = relu(x @ w1) @ w2',
      '  output loss = mean(softmax_cross_entropy(logits, y))',
      '}',
      'train mlp {',
      '  minimize loss',
      '  optimizer sgd(lr = 0.1)',
      '}',
      '',
    ].join('\n');
    const b = build(src);
    const { split } = await pair(b, 16384);
    const batch: Record<string, Tensor> = randomInputs(b.model, 300, 5);
    const err = await split.step(batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnRuntimeError);
    // The weight gradients sum over the batch, reading all of x (300 * 64 * 4 bytes) or of the hidden
    // layer's gradient (300 * 32 * 4 bytes): the message names the kernel, the buffer and both sizes.
    expect(String(err)).toMatch(
      /kernel 'k\d+' binds (input 'x' \(76800 bytes\)|a temporary buffer \(\d+\) \(38400 bytes\)) whole, more than this WebGPU device binds \(maxBindingBytes 16384\)/,
    );
    expect(String(err)).toContain('cannot split it');
    // The forward pass alone splits.
    await expect(split.run(batch)).resolves.toBeDefined();
  });

  it('refuses a maxBindingBytes above the device limit', async () => {
    const b = build('model ew(x: f32[B, 4]) {\n  output y = x * 2.0\n}\n');
    webgpuTesting.maxBindingBytes = 2 ** 52;
    await expect(loadArtifact(b.artifact)).rejects.toThrow(/maxBindingBytes must be an integer/);
  });
});
