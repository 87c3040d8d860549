// AdaHessian and Sophia on the wasm and webgpu backends: 8 steps of the
// diagonal-Hessian model of tests/helpers/curvature-cases.ts against the
// independent float64 trajectory (the Hutchinson estimate is exact there),
// with hyperparameters changed at step 5; the tiny tanh MLP (full Hessian,
// seed-dependent probes) against the reference interpreter given the same
// per-step seeds; save, load and resume bit for bit.

import {
  CURVATURE_CASES,
  type CurvatureCase,
  QUAD_INIT,
  QUAD_NAMES,
  QUAD_SHAPES,
  quadBatch,
  quadReference,
  quadSrc,
} from '../helpers/curvature-cases.js';
import { B, BATCHES, TINY_INIT, TINY_NAMES, TINY_SHAPES, tinySrc, optimizerLine } from '../helpers/optimizer-cases.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep, stepRefreshes } from '../../compiler/train-reference.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact, stepSeed } from '../../runtime/index.js';
import { hostScalars } from '../../runtime/optimizers/host-scalars.js';
import type { Artifact } from '../../targets/artifact.js';
import { artifactFor, expectAllClose } from './helpers.js';

const f32Tensor = (shape: number[], data: readonly number[]): Tensor => ({ data: Float32Array.from(data), shape });
const toRef = (t: Tensor): RefTensor => tensor('f32', [...t.shape], Float64Array.from(t.data));

function build(src: string, target: 'wasm' | 'webgpu') {
  const { result } = compileSource('curv.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  const artifact = artifactFor(model, train, { seed: 1, target, threads: false });
  if (!artifact.manifest.train) throw new Error(`no training step: ${artifact.notes.join('; ')}`);
  return { step: buildTrainStep(model, train), artifact };
}

const open: Model[] = [];
afterEach(() => {
  for (const m of open.splice(0)) m.dispose();
});
async function load(artifact: Artifact, target: 'wasm' | 'webgpu'): Promise<Model> {
  const m = await loadArtifact(artifact, target === 'wasm' ? { threads: 1 } : {});
  open.push(m);
  return m;
}

const quadParams = () => Object.fromEntries(QUAD_NAMES.map((n) => [n, f32Tensor(QUAD_SHAPES[n], QUAD_INIT[n])]));
const quadInputs = (t: number): Record<string, Tensor> => {
  const d = quadBatch(t);
  return {
    a: f32Tensor([3], d.a),
    c: f32Tensor([3], d.c),
    ak: f32Tensor([2, 1, 2, 2], d.ak),
    ck: f32Tensor([2, 1, 2, 2], d.ck),
  };
};
const tinyParams = () => Object.fromEntries(TINY_NAMES.map((n) => [n, f32Tensor(TINY_SHAPES[n], TINY_INIT[n])]));
const tinyBatch = (t: number): Record<string, Tensor> => {
  const d = BATCHES[(t - 1) % 2]!;
  return { x: f32Tensor([B, 2], d.x), y: f32Tensor([B], d.y) };
};

/** f32 against float64 after 8 steps, as tests/runtime/optimizers-wasm.test.ts. */
const RTOL = 2e-4;
const ATOL = 2e-5;

async function quadAgainstFloat64(c: CurvatureCase, target: 'wasm' | 'webgpu'): Promise<void> {
  const { artifact } = build(quadSrc(optimizerLine(c.opt)), target);
  const m = await load(artifact, target);
  m.setParams(quadParams());
  const want = quadReference(c);
  for (let t = 1; t <= 8; t++) {
    if (t === 5) for (const [k, v] of Object.entries(c.change ?? {})) m.setHyperparameter(k, v);
    const loss = await m.step(quadInputs(t));
    expectAllClose(`loss at step ${t}`, [loss], [want.losses[t - 1]!], RTOL, ATOL);
    const got = await m.getParams({ state: true });
    for (const [name, v] of Object.entries(want.after[t - 1]!))
      expectAllClose(`${name} after step ${t}`, got[name]!.data, v, RTOL, ATOL);
  }
  expect(m.stepCount).toBe(8);
}

const TINY_LINES = [
  'adahessian(lr = 0.1, update_interval = 2)',
  'sophia(lr = 0.05, gamma = 0.5, update_interval = 3)',
  // Lookahead reads the wrapped optimizer's update_interval.
  'lookahead(sophia(lr = 0.05, gamma = 0.5, update_interval = 3), k = 2)',
];

/** The tiny MLP: seeded Rademacher probes on the device equal the reference's for the same @seed. */
async function tinyAgainstReference(line: string, target: 'wasm' | 'webgpu'): Promise<void> {
  const { step, artifact } = build(tinySrc(line), target);
  const m = await load(artifact, target);
  m.setParams(tinyParams());
  let ref = new Map([...Object.entries(tinyParams()).map(([k, t]) => [k, toRef(t)] as const), ...initialState(step)]);
  for (let t = 1; t <= 8; t++) {
    const batch = tinyBatch(t);
    const loss = await m.step(batch);
    const r = referenceTrainStep(step, {
      params: ref,
      batch: new Map(Object.entries(batch).map(([k, v]) => [k, toRef(v)])),
      scalars: hostScalars(step.optimizer, undefined, t),
      seed: stepSeed(0, t),
      refresh: stepRefreshes(step, t),
    });
    ref = r.params;
    expectAllClose(`loss at step ${t}`, [loss], [r.loss], RTOL, ATOL);
    const got = await m.getParams({ state: true });
    for (const [name, want] of ref) expectAllClose(`${name} after step ${t}`, got[name]!.data, want.data, RTOL, ATOL);
  }
}

describe('wasm: AdaHessian and Sophia', () => {
  for (const c of CURVATURE_CASES)
    it(`${c.label}: 8 steps of the diagonal-Hessian model equal the float64 trajectory`, () =>
      quadAgainstFloat64(c, 'wasm'));
  for (const line of TINY_LINES)
    it(`${line}: 8 steps of the tiny MLP equal the reference with the same seeds`, () =>
      tinyAgainstReference(line, 'wasm'));

  for (const line of TINY_LINES)
    it(`${line}: save after 4 steps, load, resume: bit for bit`, () => resumeBitForBit(line, 'wasm'));
});

const bits = (t: Tensor) => [...new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)];

/** 8 steps in one run equal 4 steps, a save, a load and 4 more (sophia k = 3 resumes between refreshes), bit for bit. */
async function resumeBitForBit(line: string, target: 'wasm' | 'webgpu'): Promise<void> {
  const { artifact } = build(tinySrc(line), target);
  const a = await load(artifact, target);
  a.setParams(tinyParams());
  const lossesA: number[] = [];
  for (let t = 1; t <= 8; t++) lossesA.push(await a.step(tinyBatch(t)));
  const b = await load(artifact, target);
  b.setParams(tinyParams());
  const lossesC: number[] = [];
  for (let t = 1; t <= 4; t++) lossesC.push(await b.step(tinyBatch(t)));
  const saved = await b.getParams({ state: true });
  expect(Object.keys(saved)).toEqual(expect.arrayContaining(['w1.m', line.includes('sophia') ? 'w1.h' : 'w1.d']));
  const c = await load(artifact, target);
  c.setParams(saved);
  c.setStepCount(4);
  for (let t = 5; t <= 8; t++) lossesC.push(await c.step(tinyBatch(t)));
  lossesC.forEach((l, i) => expect(Object.is(l, lossesA[i]), `loss at step ${i + 1}`).toBe(true));
  const pa = await a.getParams({ state: true });
  const pc = await c.getParams({ state: true });
  expect(Object.keys(pc).sort()).toEqual(Object.keys(pa).sort());
  for (const k of Object.keys(pa)) expect(bits(pc[k]!), `${k} bits`).toEqual(bits(pa[k]!));
}

webgpuSuite('webgpu: AdaHessian and Sophia', () => {
  it('has a device', () => expect(gpuDevice()).toBeDefined());
  for (const c of CURVATURE_CASES)
    it(`${c.label}: 8 steps of the diagonal-Hessian model equal the float64 trajectory`, () =>
      quadAgainstFloat64(c, 'webgpu'));
  for (const line of TINY_LINES)
    it(`${line}: 8 steps of the tiny MLP equal the reference with the same seeds`, () =>
      tinyAgainstReference(line, 'webgpu'));
  for (const line of TINY_LINES)
    it(`${line}: save after 4 steps, load, resume: bit for bit`, () => resumeBitForBit(line, 'webgpu'));
});
