// The Wave 2 optimizers (muon, prodigy, schedule_free_adamw) on the webgpu
// backend: the 8-step trajectories of the tiny tanh MLP that
// tests/runtime/optimizers-wasm.test.ts runs on wasm, against the float64
// reference interpreter (itself within 1e-11 of the independent float64 code
// of tests/helpers/wave2-reference.ts, tests/compiler/optimizers-wave2.test.ts),
// every state tensor included (Prodigy's d, schedule-free's x), with the
// hyperparameter changes at step 5; and save, load, resume bit for bit.

import {
  CASES,
  type TrajectoryCase,
  configAt,
  optimizerLine,
  B,
  BATCHES,
  TINY_INIT,
  TINY_NAMES,
  TINY_SHAPES,
  tinySrc,
  WAVE2,
} from '../helpers/optimizer-cases.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';
import { afterEach, expect, it } from 'vitest';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact } from '../../runtime/index.js';
import { hostScalars } from '../../runtime/optimizers/host-scalars.js';
import type { Artifact } from '../../targets/artifact.js';
import { artifactFor, expectAllClose } from './helpers.js';

const f32Tensor = (shape: number[], data: readonly number[]): Tensor => ({ data: Float32Array.from(data), shape });
const toRef = (t: Tensor): RefTensor => tensor('f32', [...t.shape], Float64Array.from(t.data));
const refMap = (ts: Readonly<Record<string, Tensor>>) =>
  new Map(Object.entries(ts).map(([k, t]) => [k, toRef(t)] as const));

const tinyParams = () => Object.fromEntries(TINY_NAMES.map((n) => [n, f32Tensor(TINY_SHAPES[n], TINY_INIT[n])]));
const tinyBatch = (t: number): Record<string, Tensor> => {
  const d = BATCHES[(t - 1) % 2]!;
  return { x: f32Tensor([B, 2], d.x), y: f32Tensor([B], d.y) };
};

const WAVE2_CASES = CASES.filter((c) => (WAVE2 as readonly string[]).includes(c.opt.name));

const sourceOf = (c: TrajectoryCase) =>
  tinySrc(optimizerLine(c.opt), c.schedule ? `schedule ${c.schedule.name}(steps = ${c.schedule.args['steps']})` : '');

function build(c: TrajectoryCase): { step: TrainStep; artifact: Artifact } {
  const { result } = compileSource('wave2.kiln', sourceOf(c));
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  const artifact = artifactFor(model, train, { seed: 1, target: 'webgpu' });
  if (!artifact.manifest.train) throw new Error(`no training step: ${artifact.notes.join('; ')}`);
  return { step: buildTrainStep(model, train), artifact };
}

const open: Model[] = [];
afterEach(() => {
  for (const m of open.splice(0)) m.dispose();
});
async function fresh(artifact: Artifact, init = true): Promise<Model> {
  const m = await loadArtifact(artifact);
  open.push(m);
  if (init) m.setParams(tinyParams());
  return m;
}

function changeBefore(m: Model, c: TrajectoryCase, t: number): void {
  if (t === 5) for (const [k, v] of Object.entries(c.change ?? {})) m.setHyperparameter(k, v);
}

/** f32 against float64 after 8 steps, as on wasm (tests/runtime/optimizers-wasm.test.ts). */
const RTOL = 2e-4;
const ATOL = 2e-5;

async function againstReference(c: TrajectoryCase): Promise<void> {
  const { step, artifact } = build(c);
  const m = await fresh(artifact);
  let ref = new Map([...refMap(tinyParams()), ...initialState(step)]);
  expect(Object.keys(await m.getParams({ state: true })).sort()).toEqual([...ref.keys()].sort());
  for (let t = 1; t <= 8; t++) {
    changeBefore(m, c, t);
    const batch = tinyBatch(t);
    const loss = await m.step(batch);
    const r = referenceTrainStep(step, {
      params: ref,
      batch: refMap(batch),
      scalars: hostScalars(configAt(c, t), step.schedule, t),
    });
    ref = r.params;
    expectAllClose(`loss at step ${t}`, [loss], [r.loss], RTOL, ATOL);
    const got = await m.getParams({ state: true });
    for (const [name, want] of ref) expectAllClose(`${name} after step ${t}`, got[name]!.data, want.data, RTOL, ATOL);
  }
  expect(m.stepCount).toBe(8);
  expect([...(await m.getParams())['w1']!.data]).not.toEqual([...tinyParams()['w1']!.data]);
  if (c.opt.name === 'schedule_free_adamw') {
    const x = await m.getParams({ eval: true });
    for (const n of TINY_NAMES) expectAllClose(`${n} eval point`, x[n]!.data, ref.get(`${n}.x`)!.data, RTOL, ATOL);
  }
}

const bits = (t: Tensor) => [...new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)];

/** 8 steps straight equal 4 steps, a save, a load into a new model and 4 more, bit for bit. */
async function resumeBitForBit(c: TrajectoryCase): Promise<void> {
  const { artifact } = build(c);
  const a = await fresh(artifact);
  const lossesA: number[] = [];
  for (let t = 1; t <= 8; t++) {
    changeBefore(a, c, t);
    lossesA.push(await a.step(tinyBatch(t)));
  }
  const b = await fresh(artifact);
  const lossesC: number[] = [];
  for (let t = 1; t <= 4; t++) lossesC.push(await b.step(tinyBatch(t)));
  const saved = await b.getParams({ state: true });
  const m = await fresh(artifact, false);
  m.setParams(saved);
  m.setStepCount(4);
  for (let t = 5; t <= 8; t++) {
    changeBefore(m, c, t);
    lossesC.push(await m.step(tinyBatch(t)));
  }
  lossesC.forEach((l, i) =>
    expect(Object.is(l, lossesA[i]), `loss at step ${i + 1}: ${l} vs ${lossesA[i]}`).toBe(true),
  );
  const [pa, pc] = [await a.getParams({ state: true }), await m.getParams({ state: true })];
  expect(Object.keys(pc).sort()).toEqual(Object.keys(pa).sort());
  for (const k of Object.keys(pa)) expect(bits(pc[k]!), `${k} bits`).toEqual(bits(pa[k]!));
  expect(Object.keys(pa).length).toBeGreaterThan(TINY_NAMES.length);
}

webgpuSuite('webgpu: the Wave 2 optimizers', () => {
  it('has a device', () => expect(gpuDevice()).toBeDefined());
  it('every Wave 2 optimizer has cases', () =>
    expect(new Set(WAVE2_CASES.map((c) => c.opt.name))).toEqual(new Set(WAVE2)));
  for (const c of WAVE2_CASES)
    it(`${c.label}${c.change ? ', hyperparameters changed at step 5' : ''}: 8 steps equal the float64 reference`, () =>
      againstReference(c));
  for (const label of ['muon', 'prodigy', 'schedule_free_adamw, warmup'])
    it(`${label}: save after 4 steps, load, resume: bit for bit`, () =>
      resumeBitForBit(WAVE2_CASES.find((c) => c.label === label)!));
});
