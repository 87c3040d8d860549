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
  o,
  optimizerLine,
} from '../helpers/optimizer-cases.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact } from '../../runtime/index.js';
import { SUPPORTED_OPTIMIZERS, hostScalars } from '../../runtime/optimizer-scalars.js';
import { type Artifact, buildArtifact } from '../../targets/wasm/artifact.js';
import { expectAllClose } from './helpers.js';

// ---------------------------------------------------------------------------
// The tiny tanh MLP, its initial params (rounded to f32 for both sides) and batches

const TINY_NAMES = ['w1', 'b1', 'w2', 'b2'] as const;
type TinyName = (typeof TINY_NAMES)[number];
const TINY_SHAPES: Record<TinyName, number[]> = { w1: [2, 3], b1: [3], w2: [3, 1], b2: [] };
const TINY_INIT: Record<TinyName, number[]> = {
  w1: [0.4, -0.3, 0.2, 0.1, 0.5, -0.6],
  b1: [0.05, -0.05, 0.1],
  w2: [0.7, -0.4, 0.3],
  b2: [0.2],
};
const B = 4;
const BATCHES = [
  { x: [0.5, -1, 1.5, 0.2, -0.7, 0.9, 0.1, -0.3], y: [1, -0.5, 0.25, 0.8] },
  { x: [-0.4, 0.8, 0.3, -1.2, 1.1, 0.6, -0.9, -0.2], y: [-0.3, 0.9, 0.4, -1] },
];

const tinySrc = (line: string, extra = '') => `model tiny(x: f32[B, 2], y: f32[B]) {
    param w1: f32[2, 3] = glorot_uniform
    param b1: f32[3] = zeros
    param w2: f32[3, 1] = glorot_uniform
    param b2: f32[] = zeros
    h = tanh(x @ w1 + b1)
    output loss = mean(mse((h @ w2)[:, 0] + b2, y))
  }
  train tiny {
    minimize loss
    optimizer ${line}
    ${extra}
  }`;

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
];

function sourceOf(c: Case): string {
  const extra = [
    ...(c.schedule ? [`schedule ${c.schedule.name}(steps = ${c.schedule.args['steps']})`] : []),
    ...(c.clip ? [`clip global_norm(${c.clip.max.toFixed(2)})`] : []),
  ];
  return tinySrc(optimizerLine(c.opt), extra.join('\n    '));
}

/** The compiled model and train block, its reference step and its wasm artifact (seed 1). */
function build(c: Case): { step: TrainStep; artifact: Artifact } {
  const { result } = compileSource('tiny.kiln', sourceOf(c));
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  const artifact = buildArtifact(model, train, { seed: 1 });
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
      expect(Object.keys(m.getParams()).sort()).toEqual([...ref.keys()].sort());
      for (let t = 1; t <= 8; t++) {
        changeBefore(m, c, t);
        const batch = tinyBatch(t);
        const loss = await m.step(batch);
        const r = referenceTrainStep(step, { params: ref, batch: refMap(batch), scalars: scalarsAt(c, step, t) });
        ref = r.params;
        expectAllClose(`loss at step ${t}`, [loss], [r.loss], RTOL, ATOL);
        const got = m.getParams();
        for (const [name, want] of ref)
          expectAllClose(`${name} after step ${t}`, got[name]!.data, want.data, RTOL, ATOL);
      }
      expect(m.stepCount).toBe(8);
      // The run moved (a frozen optimizer would pass trivially).
      expect([...m.getParams()['w1']!.data]).not.toEqual([...tinyParams()['w1']!.data]);
    });
  }

  it('every supported optimizer is covered', () => {
    const names = new Set(CASES.map((c) => (c.opt.inner ?? c.opt).name));
    expect([...names].sort()).toEqual([...SUPPORTED_OPTIMIZERS].sort());
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
      const saved = b.getParams({ state: true });
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
      const pa = a.getParams({ state: true });
      const pc = m.getParams({ state: true });
      expect(Object.keys(pc).sort()).toEqual(Object.keys(pa).sort());
      for (const k of Object.keys(pa)) expect(bits(pc[k]!), `${k} bits`).toEqual(bits(pa[k]!));
      // State is part of what was compared (moments, slow weights, EMA).
      expect(Object.keys(pa).length).toBeGreaterThan(TINY_NAMES.length);
    });
  }
});
