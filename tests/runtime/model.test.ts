// The runtime against the reference interpreter: an artifact compiled,
// written, loaded and run equals the float64 interpreter at f32 tolerance;
// fused training steps equal referenceTrainStep; two threads equal one;
// hyperparameters change without recompiling; params round trip.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluate, type RefTensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import type { Tensor } from '../../runtime/executor.js';
import { KilnRuntimeError, type Model, loadArtifact, loadModel } from '../../runtime/index.js';
import { writeArtifact } from '../../targets/artifact.js';
import {
  artifactFor,
  artifactOf,
  expectAllClose,
  expectStepsMatchReference,
  example,
  randomInputs,
  refMap,
  toRef,
} from './helpers.js';

const MLP = 'examples/mlp.kiln';
const LINREG = 'examples/linear_regression.kiln';
const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));

const open: Model[] = [];
async function load(file: string, threads = 1): Promise<Model> {
  const a = artifactOf(file);
  const m = await loadArtifact(a, { threads });
  open.push(m);
  return m;
}
afterAll(() => {
  for (const m of open) m.dispose();
});

/** The reference forward pass with the model's current params. */
async function referenceRun(file: string, m: Model, inputs: Record<string, Tensor>): Promise<Map<string, RefTensor>> {
  const { model } = example(file);
  const g = model.lower({ training: false });
  const values = evaluate(
    g.outputs.map((o) => o.node),
    { inputs: refMap(inputs), params: refMap(await m.getParams({ state: false })) },
  );
  return new Map(g.outputs.map((o, i) => [o.name, values[i]!]));
}

describe('run', () => {
  it.each(EXAMPLES)('%s: compile, write, load and run equal the reference interpreter', async (file) => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-rt-'));
    await writeArtifact(dir, artifactOf(file));
    const m = await loadModel(dir, { threads: 1 });
    open.push(m);
    const { model } = example(file);
    const inputs = randomInputs(model, 3);
    const got = await m.run(inputs);
    const want = await referenceRun(file, m, inputs);
    expect(Object.keys(got).sort()).toEqual([...want.keys()].sort());
    for (const [name, w] of want) {
      const g = got[name]!;
      expect(g.shape, `${name} shape`).toEqual(w.shape);
      expectAllClose(`${file} ${name}`, g.data, w.data, 1e-4, 1e-5);
    }
  });

  it('binds batch dims per call: different batch sizes in turn', async () => {
    const m = await load(MLP);
    const { model } = example(MLP);
    for (const b of [1, 5, 2, 64]) {
      const inputs = randomInputs(model, b, b);
      const got = await m.run(inputs);
      expect(got['probs']!.shape).toEqual([b, 10]);
      expectAllClose(`probs B=${b}`, got['probs']!.data, (await referenceRun(MLP, m, inputs)).get('probs')!.data);
    }
  });

  it('reports wrong input shapes naming the tensor and both shapes', async () => {
    const m = await load(MLP);
    const x = { data: new Float32Array(2 * 783), shape: [2, 783] };
    const y = { data: new Int32Array(2), shape: [2] };
    await expect(m.run({ x, y })).rejects.toThrow(
      "input 'x': expected f32[B, 784], got f32[2, 783] (dimension 1 is 783, expected 784)",
    );
    const x2 = { data: new Float32Array(2 * 784), shape: [2, 784] };
    await expect(m.run({ x: x2, y: { data: new Int32Array(3), shape: [3] } })).rejects.toThrow(
      "input 'y': dimension 0 is 3 but B = 2 from input 'x'",
    );
    await expect(m.run({ x: x2, y: { data: new Float32Array(2), shape: [2] } } as never)).rejects.toThrow(
      "input 'y': i32 data must be a Int32Array, got Float32Array",
    );
    await expect(m.run({ x: x2 })).rejects.toThrow("missing input 'y' (expected i32[B])");
    await expect(m.run({ x: x2, y, z: y })).rejects.toThrow("unknown input 'z'");
    await expect(m.run({ x: { data: new Float32Array(3), shape: [2, 784] }, y })).rejects.toThrow(
      "input 'x': shape [2, 784] needs 1568 elements, but the data holds 3",
    );
  });
});

/** The reference training step of an example with the model's initial params. */
async function referenceSetup(file: string, m: Model): Promise<{ step: TrainStep; params: Map<string, RefTensor> }> {
  const ex = example(file);
  const step = buildTrainStep(ex.model, ex.train!);
  const params = new Map([...refMap(await m.getParams({ state: false })), ...initialState(step)]);
  return { step, params };
}

function batchOf(file: string, size: number, seed: number): Record<string, Tensor> {
  return randomInputs(example(file).model, size, seed, 10);
}

async function expectStepsMatch(file: string, threads: number): Promise<void> {
  const m = await load(file, threads);
  const { step } = await referenceSetup(file, m);
  await expectStepsMatchReference(m, step, (t) => batchOf(file, 16, t), 3, `${file} `);
  expect(m.stepCount).toBe(3);
}

describe('step', () => {
  it('three MLP steps (adam) equal referenceTrainStep', () => expectStepsMatch(MLP, 1));
  it('three linear regression steps (sgd) equal referenceTrainStep', () => expectStepsMatch(LINREG, 1));

  it("setHyperparameter('lr') changes the next step exactly as the reference with that lr", async () => {
    const m = await load(LINREG);
    let { step, params } = await referenceSetup(LINREG, m);
    const b1 = batchOf(LINREG, 8, 1);
    await m.step(b1);
    params = referenceTrainStep(step, { params, batch: refMap(b1), scalars: stepScalars(step, 1) }).params;
    m.setHyperparameter('lr', 0.01);
    expect(m.hyperparameters()['lr']).toBe(0.01);
    step = { ...step, optimizer: { ...step.optimizer, hyper: { ...step.optimizer.hyper, lr: 0.01 } } };
    const b2 = batchOf(LINREG, 8, 2);
    await m.step(b2);
    const ref = referenceTrainStep(step, { params, batch: refMap(b2), scalars: stepScalars(step, 2) });
    const got = await m.getParams();
    for (const [name, want] of ref.params) expectAllClose(`${name}`, got[name]!.data, want.data, 1e-5, 1e-7);
  });

  it('rejects unknown or out-of-range hyperparameters', async () => {
    const m = await load(MLP);
    expect(() => m.setHyperparameter('momentum', 0.9)).toThrow(/unknown hyperparameter 'momentum' for adam/);
    expect(() => m.setHyperparameter('b1', 1.5)).toThrow(KilnRuntimeError);
    expect(() => m.setHyperparameter('lr', -1)).toThrow(/lr/);
  });

  it('says when an artifact has no training step', async () => {
    const ex = example(LINREG);
    const m = await loadArtifact(artifactFor(ex.model, undefined, { seed: 0 }), { threads: 1 });
    open.push(m);
    expect(m.canTrain).toBe(false);
    await expect(m.step(batchOf(LINREG, 2, 1))).rejects.toThrow(/has no training step/);
  });
});

describe('threads', () => {
  it('two threads give the results of one: run and three MLP steps', async () => {
    const one = await load(MLP, 1);
    const two = await load(MLP, 2);
    expect(two.threads).toBe(2);
    const inputs = batchOf(MLP, 64, 9);
    const r1 = await one.run(inputs);
    const r2 = await two.run(inputs);
    expect(one.workersStarted).toBe(0);
    expect(two.workersStarted).toBe(1);
    for (const k of Object.keys(r1)) expectAllClose(`run ${k}`, r2[k]!.data, r1[k]!.data, 1e-6, 1e-7);
    for (let t = 1; t <= 3; t++) {
      const batch = batchOf(MLP, 64, 100 + t);
      const l1 = await one.step(batch);
      const l2 = await two.step(batch);
      expectAllClose(`loss ${t}`, [l2], [l1], 1e-6, 1e-7);
    }
    const p1 = await one.getParams();
    const p2 = await two.getParams();
    for (const k of Object.keys(p1)) expectAllClose(`param ${k}`, p2[k]!.data, p1[k]!.data, 1e-5, 1e-7);
  });

  it('steps with two threads equal referenceTrainStep', () => expectStepsMatch(MLP, 2));

  it('convolution matmuls (few rows) split their columns across threads: two threads equal one exactly', async () => {
    const file = 'examples/cnn.kiln';
    const kernels = artifactOf(file).manifest.train!.program.kernels;
    // the convolutions' matmuls range over columns, one range per thread
    expect(kernels.filter((k) => k.chunking === 'per-thread').length).toBeGreaterThanOrEqual(2);
    const one = await load(file, 1);
    const two = await load(file, 2);
    for (let t = 1; t <= 2; t++) {
      const batch = batchOf(file, 48, 200 + t);
      expect(await two.step(batch)).toBe(await one.step(batch));
    }
    const p1 = await one.getParams();
    const p2 = await two.getParams();
    for (const k of Object.keys(p1)) expect([...p2[k]!.data], k).toEqual([...p1[k]!.data]);
  });

  it('the CNN on two threads equals referenceTrainStep', () => expectStepsMatch('examples/cnn.kiln', 2));

  it('an artifact built without threads runs on one thread whatever is asked', async () => {
    const m = await loadArtifact(artifactOf(MLP, { threads: false }), { threads: 4 });
    open.push(m);
    expect(m.threads).toBe(1);
    const inputs = batchOf(MLP, 8, 4);
    expectAllClose(
      'probs',
      (await m.run(inputs))['probs']!.data,
      (await referenceRun(MLP, m, inputs)).get('probs')!.data,
    );
  });

  it('loads from a file: URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-url-'));
    await writeArtifact(dir, artifactOf(LINREG));
    const m = await loadModel(pathToFileURL(dir), { threads: 1 });
    open.push(m);
    expect(m.name).toBe('linreg');
  });
});

describe('params', () => {
  it('getParams/setParams round trip, optimizer state included', async () => {
    const m = await load(MLP);
    const before = await m.getParams();
    expect(Object.keys(before).sort()).toEqual(
      ['b1', 'b1.m', 'b1.v', 'b2', 'b2.m', 'b2.v', 'w1', 'w1.m', 'w1.v', 'w2', 'w2.m', 'w2.v'].sort(),
    );
    expect(Object.keys(await m.getParams({ state: false })).sort()).toEqual(['b1', 'b2', 'w1', 'w2']);
    const changed = Object.fromEntries(
      Object.entries(before).map(([k, t]) => [
        k,
        { shape: t.shape, data: (t.data as Float32Array).map((v, i) => v + i * 1e-3) },
      ]),
    );
    m.setParams(changed);
    const after = await m.getParams();
    for (const k of Object.keys(changed)) expect(after[k]!.data).toEqual(changed[k]!.data);
    // The copies are the caller's: changing them does not touch the model.
    (after['b1']!.data as Float32Array)[0] = 123;
    expect((await m.getParams())['b1']!.data[0]).not.toBe(123);
  });

  it('save and resume: a model restored from getParams steps as the original', async () => {
    const a = await load(MLP);
    await a.step(batchOf(MLP, 8, 1));
    const saved = await a.getParams();
    const b = await load(MLP);
    b.setParams(saved);
    b.setStepCount(a.stepCount);
    const batch = batchOf(MLP, 8, 2);
    expect(await b.step(batch)).toBe(await a.step(batch));
    const pa = await a.getParams();
    const pb = await b.getParams();
    for (const k of Object.keys(pa)) expect(pb[k]!.data).toEqual(pa[k]!.data);
  });

  it('rejects params of the wrong name, dtype or shape', async () => {
    const m = await load(MLP);
    expect(() => m.setParams({ w9: { data: new Float32Array(1), shape: [1] } })).toThrow("unknown param 'w9'");
    expect(() => m.setParams({ b1: { data: new Float32Array(64), shape: [64] } })).toThrow(
      "param 'b1': expected f32[128], got shape [64]",
    );
    expect(() => m.setParams({ b1: { data: new Int32Array(128), shape: [128] } })).toThrow(
      "param 'b1': f32 data must be a Float32Array",
    );
  });

  it('a disposed model refuses to run', async () => {
    const m = await load(LINREG, 2);
    m.dispose();
    await expect(m.run(batchOf(LINREG, 2, 1))).rejects.toThrow(/has been disposed/);
    await expect(m.getParams()).rejects.toThrow(/has been disposed/);
  });
});

describe('layout', () => {
  it('outputs are fresh arrays the caller owns', async () => {
    const m = await load(LINREG);
    const inputs = batchOf(LINREG, 4, 3);
    const a = await m.run(inputs);
    (a['pred']!.data as Float32Array).fill(7);
    const b = await m.run(inputs);
    expect(b['pred']!.data[0]).not.toBe(7);
    expect(toRef(b['loss']!).shape).toEqual([]);
  });
});
