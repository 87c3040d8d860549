// Every optimizer, structural variant and modifier on the wasm backend: the
// tiny tanh MLP of tests/compiler/optimizers.test.ts compiled to an artifact,
// loaded by the runtime (1 thread) and trained 8 steps, against the float64
// reference trajectory (referenceTrainStep) at f32 tolerance, with
// hyperparameter changes between steps through setHyperparameter; and save,
// load and resume on wasm equal to an uninterrupted run bit for bit.
//
// The cases, the model, its initial params and batches repeat those of
// tests/compiler/optimizers.test.ts (which exports nothing).

import {
  CASES as TRAJECTORY_CASES,
  type TrajectoryCase,
  configAt,
  la,
  o,
  optimizerLine,
  B,
  BATCHES,
  TINY_INIT,
  TINY_NAMES,
  TINY_SHAPES,
  tinySrc,
} from '../helpers/optimizer-cases.js';
import { THETA0, VECTORS, vectorGrads } from '../helpers/optimizer-vectors.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact, stepSeed } from '../../runtime/index.js';
import { hostScalars } from '../../runtime/optimizers/host-scalars.js';
import { CURVATURE_OPTIMIZERS, ROOT_REFRESH_OPTIMIZERS, SUPPORTED_OPTIMIZERS } from '../../runtime/optimizers/spec.js';
import type { Artifact } from '../../targets/artifact.js';
import { artifactFor, expectAllClose } from './helpers.js';

// ---------------------------------------------------------------------------
// The tiny tanh MLP, its initial params (rounded to f32 for both sides) and batches

const f32Tensor = (shape: number[], data: readonly number[]): Tensor => ({ data: Float32Array.from(data), shape });
/** The reference's copy of a wasm tensor: the same (f32) values in float64. */
const toRef = (t: Tensor): RefTensor => tensor('f32', [...t.shape], Float64Array.from(t.data));

const tinyBatch = (t: number): Record<string, Tensor> => {
  const d = BATCHES[(t - 1) % 2]!;
  return { x: f32Tensor([B, 2], d.x), y: f32Tensor([B], d.y) };
};
const tinyParams = (): Record<string, Tensor> =>
  Object.fromEntries(TINY_NAMES.map((n) => [n, f32Tensor(TINY_SHAPES[n], TINY_INIT[n])]));
const refMap = (ts: Readonly<Record<string, Tensor>>) =>
  new Map(Object.entries(ts).map(([k, t]) => [k, toRef(t)] as const));

// ---------------------------------------------------------------------------
// The cases of tests/compiler/optimizers.test.ts, plus gradient clipping

interface Case extends TrajectoryCase {
  /** `clip global_norm(max)` in the train block, and its threshold from step 5 on. */
  readonly clip?: { readonly max: number; readonly from5?: number };
  /** `freeze <name>` in the train block. */
  readonly freeze?: string;
}

const CASES: readonly Case[] = [
  ...TRAJECTORY_CASES,
  {
    label: 'adam, clip global_norm(1.0), clip 0.05 from step 5',
    opt: o('adam', { lr: 0.05 }),
    change: { lr: 0.02 },
    clip: { max: 1.0, from5: 0.05 },
  },
  { label: 'momentum, clip global_norm(0.1)', opt: o('momentum', { lr: 0.2 }), clip: { max: 0.1 } },
  // Annealed gradient noise (§34): the reference draws the same noise from the same per-step @seed.
  {
    label: 'adam + grad_noise',
    opt: o('adam', { lr: 0.05, grad_noise: 0.01, grad_noise_gamma: 0.55 }),
    change: { lr: 0.02 },
  },
  {
    label: 'lookahead(sgd + grad_noise, gamma 1) + clip global_norm(0.5)',
    opt: la(o('sgd', { lr: 0.1, grad_noise: 0.05, grad_noise_gamma: 1 }), { k: 3 }),
    clip: { max: 0.5 },
  },
];

/** The load-time seed of `fresh` (loadArtifact's default): step t's `@seed` is stepSeed(LOAD_SEED, t). */
const LOAD_SEED = 0;

function sourceOf(c: Case): string {
  const extra = [
    ...(c.schedule ? [`schedule ${c.schedule.name}(steps = ${c.schedule.args['steps']})`] : []),
    ...(c.clip ? [`clip global_norm(${c.clip.max.toFixed(2)})`] : []),
    ...(c.freeze ? [`freeze ${c.freeze}`] : []),
  ];
  return tinySrc(optimizerLine(c.opt), extra.join('\n    '));
}

/** The compiled model and train block, its reference step and its wasm artifact (seed 1). */
function build(c: Case): { step: TrainStep; artifact: Artifact } {
  const { result } = compileSource('tiny.kiln', sourceOf(c));
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  const artifact = artifactFor(model, train, { seed: 1 });
  if (!artifact.manifest.train) throw new Error(`no training step in the artifact: ${artifact.notes.join('; ')}`);
  return { step: buildTrainStep(model, train), artifact };
}

const open: Model[] = [];
afterEach(() => {
  for (const m of open.splice(0)) m.dispose();
});

/** A fresh model of the artifact on one thread, with the tiny initial params (state zero). */
async function fresh(artifact: Artifact, init = true): Promise<Model> {
  const m = await loadArtifact(artifact, { threads: 1 });
  open.push(m);
  if (init) m.setParams(tinyParams());
  return m;
}

/** Before step t (1-based): the hyperparameter changes of the case that start at t. */
function changeBefore(m: Model, c: Case, t: number): void {
  if (t !== 5) return;
  for (const [k, v] of Object.entries(c.change ?? {})) m.setHyperparameter(k, v);
  if (c.clip?.from5 !== undefined) m.setHyperparameter('clip', c.clip.from5);
}

/** The host scalars of step t as the reference sees them: the case's config and clip at t. */
function scalarsAt(c: Case, step: TrainStep, t: number): Record<string, number> {
  const clip = step.clip && { ...step.clip, max: t >= 5 && c.clip?.from5 !== undefined ? c.clip.from5 : step.clip.max };
  return hostScalars(configAt(c, t), step.schedule, t, clip);
}

// ---------------------------------------------------------------------------
// 8 wasm steps against the float64 reference trajectory

/**
 * f32 against float64 after 8 steps: |got − want| <= ATOL + RTOL·|want| for
 * params, every optimizer state tensor and the losses. The trajectories start
 * from the same (f32) params and batches, so the gap is f32 rounding in the
 * forward, backward and update, compounded over 8 steps.
 */
const RTOL = 2e-4;
const ATOL = 2e-5;

/**
 * Cases that fail on wasm because of a backend or runtime bug (not the
 * optimizer rules, which pass on the reference interpreter), with the symptom;
 * `it.fails` records them, so a fix shows up as an unexpected pass.
 */
const WASM_BUGS: Readonly<Record<string, string>> = {};

describe('8 wasm steps of the tiny MLP equal the float64 reference trajectory', () => {
  for (const c of CASES) {
    const bug = WASM_BUGS[c.label];
    const changes = c.change || c.clip?.from5 !== undefined ? ', hyperparameters changed at step 5' : '';
    (bug ? it.fails : it)(`${c.label}${changes}${bug ? ` (wasm: ${bug})` : ''}`, async () => {
      const { step, artifact } = build(c);
      const m = await fresh(artifact);
      let ref = new Map([...refMap(tinyParams()), ...initialState(step)]);
      expect(Object.keys(await m.getParams()).sort()).toEqual([...ref.keys()].sort());
      for (let t = 1; t <= 8; t++) {
        changeBefore(m, c, t);
        const batch = tinyBatch(t);
        const loss = await m.step(batch);
        const r = referenceTrainStep(step, {
          params: ref,
          batch: refMap(batch),
          scalars: scalarsAt(c, step, t),
          seed: stepSeed(LOAD_SEED, t),
        });
        ref = r.params;
        expectAllClose(`loss at step ${t}`, [loss], [r.loss], RTOL, ATOL);
        const got = await m.getParams();
        for (const [name, want] of ref)
          expectAllClose(`${name} after step ${t}`, got[name]!.data, want.data, RTOL, ATOL);
      }
      expect(m.stepCount).toBe(8);
      // The run moved (a frozen optimizer would pass trivially).
      expect([...(await m.getParams())['w1']!.data]).not.toEqual([...tinyParams()['w1']!.data]);
    });
  }

  it('gradient noise reaches the artifact and is keyed by the load seed', async () => {
    const c = CASES.find((k) => k.label === 'adam + grad_noise')!;
    const { step, artifact } = build(c);
    expect(step.gradNoise).toEqual({ eta: 0.01, gamma: 0.55 });
    expect(artifact.manifest.train!.gradNoise).toEqual({ eta: 0.01, gamma: 0.55 });
    expect(artifact.manifest.train!.optimizer.hyper).not.toHaveProperty('grad_noise');
    expect(artifact.manifest.train!.program.scalars).toEqual(expect.arrayContaining(['@noise_std', '@seed']));
    const run = async (seed: number) => {
      const m = await loadArtifact(artifact, { threads: 1, seed });
      open.push(m);
      m.setParams(tinyParams());
      for (let t = 1; t <= 3; t++) await m.step(tinyBatch(t));
      return [...(await m.getParams())['w1']!.data];
    };
    expect(await run(7)).toEqual(await run(7));
    expect(await run(8)).not.toEqual(await run(7));
  });

  it('gradient noise can be changed between steps: eta = 0 gives exactly the noiseless run', async () => {
    const noisy = build(CASES.find((k) => k.label === 'adam + grad_noise')!).artifact;
    const plain = build({ label: 'adam', opt: o('adam', { lr: 0.05 }) }).artifact;
    const run = async (artifact: Artifact, eta?: number) => {
      const m = await loadArtifact(artifact, { threads: 1, seed: 7 });
      open.push(m);
      m.setParams(tinyParams());
      if (eta !== undefined) m.setHyperparameter('grad_noise', eta);
      for (let t = 1; t <= 3; t++) await m.step(tinyBatch(t));
      return [...(await m.getParams())['w1']!.data];
    };
    expect(await run(noisy, 0)).toEqual(await run(plain));
    expect(await run(noisy)).not.toEqual(await run(plain));
    const m = await loadArtifact(plain, { threads: 1 });
    open.push(m);
    expect(() => m.setHyperparameter('grad_noise', 0.1)).toThrow(/compiled with gradient noise/);
  });

  it('every supported optimizer is covered (AdaHessian and Sophia in curvature-wasm.test.ts, Shampoo in shampoo-wasm.test.ts)', () => {
    const names = new Set(CASES.map((c) => (c.opt.inner ?? c.opt).name));
    const elsewhere = [...CURVATURE_OPTIMIZERS, ...ROOT_REFRESH_OPTIMIZERS];
    expect([...names].sort()).toEqual(SUPPORTED_OPTIMIZERS.filter((n) => !elsewhere.includes(n)).sort());
  });
});

// ---------------------------------------------------------------------------
// optimizers.md §35 and §35b test vectors on wasm

/**
 * The sheet's θ after each step, printed to 9 digits from float64, against
 * the wasm step in f32 (θ0 and the gradients rounded to f32 on input):
 * |got − want| <= VEC_TOL·(1 + |want|). f32's unit roundoff is 6e-8; three
 * updates of a few dozen f32 operations each stay within 1e-6.
 */
const VEC_TOL = 1e-6;

describe('optimizers.md §35 and §35b test vectors on wasm (1 thread)', () => {
  const probeSrc = (line: string) => `model probe(g: f32[3]) {
      param theta: f32[3] = zeros
      output loss = sum(theta * g)
    }
    train probe { minimize loss; optimizer ${line} }`;
  for (const c of VECTORS.filter((v) => v.name.startsWith('§35'))) {
    it(c.name, async () => {
      const { result } = compileSource('probe.kiln', probeSrc(optimizerLine(c.opt)));
      if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
      const train = result.trains[0]!;
      const artifact = artifactFor(
        result.models.find((m) => m.name === train.model)!,
        train,
        { seed: 1 },
      );
      const m = await loadArtifact(artifact, { threads: 1 });
      open.push(m);
      m.setParams({ theta: f32Tensor([3], THETA0) });
      const grads = vectorGrads(c);
      for (const [i, g] of grads.entries()) {
        // loss = sum(θ·g) before the update.
        const theta = [...(await m.getParams())['theta']!.data];
        const loss = await m.step({ g: f32Tensor([3], g) });
        const f32g = [...Float32Array.from(g)];
        expectAllClose(`loss at step ${i + 1}`, [loss], [theta.reduce((a, x, k) => a + x * f32g[k]!, 0)], 1e-6, 1e-12);
        expectAllClose(
          `θ after step ${i + 1}`,
          (await m.getParams())['theta']!.data,
          c.expected![i]!,
          VEC_TOL,
          VEC_TOL,
        );
      }
      expect(m.stepCount).toBe(grads.length);
    });
  }
});

// ---------------------------------------------------------------------------
// The parameter EMA as a second parameter set

describe('getParams({ ema: true }): the EMA of every param under its name', () => {
  it('adam + ema: equals the <param>.ema state and the reference EMA', async () => {
    const c = CASES.find((k) => k.label === 'adam + ema')!;
    const { step, artifact } = build(c);
    const m = await fresh(artifact);
    let ref = new Map([...refMap(tinyParams()), ...initialState(step)]);
    for (let t = 1; t <= 4; t++) {
      changeBefore(m, c, t);
      await m.step(tinyBatch(t));
      ref = referenceTrainStep(step, {
        params: ref,
        batch: refMap(tinyBatch(t)),
        scalars: scalarsAt(c, step, t),
      }).params;
    }
    const ema = await m.getParams({ ema: true });
    const all = await m.getParams({ state: true });
    expect(Object.keys(ema).sort()).toEqual([...TINY_NAMES].sort());
    for (const n of TINY_NAMES) {
      expect(ema[n]!.shape).toEqual(TINY_SHAPES[n]);
      expect([...ema[n]!.data]).toEqual([...all[`${n}.ema`]!.data]);
      expectAllClose(`${n} EMA`, ema[n]!.data, ref.get(`${n}.ema`)!.data, RTOL, ATOL);
      // A second set: not the params themselves.
      expect([...ema[n]!.data]).not.toEqual([...all[n]!.data]);
    }
    // Ready for an inference copy of the model.
    const copy = await fresh(artifact, false);
    copy.setParams(ema);
    expect([...(await copy.getParams())['w1']!.data]).toEqual([...ema['w1']!.data]);
  });

  it('a frozen param has no EMA; an optimizer without ema has none at all', async () => {
    const frozen = build({ label: 'adam + ema, b2 frozen', opt: o('adam', { lr: 0.05, ema: 0.9 }), freeze: 'b2' });
    const m = await fresh(frozen.artifact);
    await m.step(tinyBatch(1));
    expect(Object.keys(await m.getParams({ ema: true })).sort()).toEqual(['b1', 'w1', 'w2']);
    const plain = await fresh(build(CASES.find((k) => k.label === 'adam')!).artifact);
    await expect(plain.getParams({ ema: true })).rejects.toThrow("model 'tiny' keeps no parameter EMA");
  });
});

// ---------------------------------------------------------------------------
// Save, load and resume: bit for bit on wasm

const bits = (t: Tensor) => [...new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)];

describe('save, load and resume on wasm equals an uninterrupted run bit for bit', () => {
  const RESUMED = [
    'adam',
    'lamb',
    'lookahead(adam)',
    'adam + ema',
    'adam, clip global_norm(1.0), clip 0.05 from step 5',
    // Wave 2: Muon's matmuls, Prodigy's whole-model d, schedule-free's x.
    'muon',
    'prodigy',
    'schedule_free_adamw, warmup',
  ];
  for (const label of RESUMED) {
    it(label, async () => {
      const c = CASES.find((k) => k.label === label)!;
      const { artifact } = build(c);
      // A: 8 steps straight.
      const a = await fresh(artifact);
      const lossesA: number[] = [];
      for (let t = 1; t <= 8; t++) {
        changeBefore(a, c, t);
        lossesA.push(await a.step(tinyBatch(t)));
      }
      // B: 4 steps, then saved.
      const b = await fresh(artifact);
      const lossesC: number[] = [];
      for (let t = 1; t <= 4; t++) lossesC.push(await b.step(tinyBatch(t)));
      const saved = await b.getParams({ state: true });
      b.dispose();
      // C: a new model of the same artifact (its own initial params), restored, 4 more steps.
      const m = await fresh(artifact, false);
      m.setParams(saved);
      m.setStepCount(4);
      for (let t = 5; t <= 8; t++) {
        changeBefore(m, c, t);
        lossesC.push(await m.step(tinyBatch(t)));
      }
      expect(m.stepCount).toBe(8);
      lossesC.forEach((l, i) =>
        expect(Object.is(l, lossesA[i]), `loss at step ${i + 1}: ${l} vs ${lossesA[i]}`).toBe(true),
      );
      const pa = await a.getParams({ state: true });
      const pc = await m.getParams({ state: true });
      expect(Object.keys(pc).sort()).toEqual(Object.keys(pa).sort());
      for (const k of Object.keys(pa)) expect(bits(pc[k]!), `${k} bits`).toEqual(bits(pa[k]!));
      // State is part of what was compared (moments, slow weights, EMA).
      expect(Object.keys(pa).length).toBeGreaterThan(TINY_NAMES.length);
    });
  }
});
