import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type RefTensor, evaluate, scalar, tensor } from '../../compiler/interpret.js';
import { IRBuilder, type NodeOf, topoSort } from '../../compiler/ir.js';
import { type OptimizerRule, optimizerRule } from '../../compiler/optimizers/index.js';
import { initialState, referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { verifyGraph } from '../../compiler/verify.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import { hostScalars } from '../../runtime/optimizers/host-scalars.js';
import { type ScheduleConfig, scheduleValue } from '../../runtime/optimizers/schedules.js';
import type { OptimizerConfig } from '../../runtime/optimizers/spec.js';

// ---------------------------------------------------------------------------
// Helpers

const vals = (t: RefTensor): number[] => [...t.data];

/** Every element within tol·max(1, |expected|). */
function expectClose(actual: readonly number[], expected: readonly number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e))))
      throw new Error(`element ${i}: got ${a}, expected ${e} (tol ${tol})\n  actual   ${actual.join(', ')}`);
  });
}

/** The step of the first train block of `src`. */
function compileStep(src: string): TrainStep {
  const { result } = compileSource('test.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  return buildTrainStep(model, train);
}

const f32 = (shape: number[], data: ArrayLike<number>) => tensor('f32', shape, data);

/** Runs `steps` reference steps from `params` (state starts at zero); returns losses and the final params. */
function train(
  step: TrainStep,
  params: Map<string, RefTensor>,
  batches: (t: number) => Map<string, RefTensor>,
  steps: number,
): { losses: number[]; params: Map<string, RefTensor>; history: Map<string, RefTensor>[] } {
  let p = new Map([...params, ...initialState(step)]);
  const losses: number[] = [];
  const history: Map<string, RefTensor>[] = [];
  for (let t = 1; t <= steps; t++) {
    const r = referenceTrainStep(step, { params: p, batch: batches(t), scalars: stepScalars(step, t) });
    losses.push(r.loss);
    p = r.params;
    history.push(p);
  }
  return { losses, params: p, history };
}

// ---------------------------------------------------------------------------
// optimizers.md §35: 3 steps on a 3-element parameter with given gradients

const THETA0 = [1.0, -2.0, 0.5];
const GRADS = [
  [0.5, -1.0, 0.0],
  [0.3, 0.2, -0.4],
  [-0.1, 0.7, 0.25],
];

interface VectorCase {
  readonly name: string;
  readonly opt: OptimizerConfig;
  /** The optimizer line of a train block for the same configuration. */
  readonly line: string;
  readonly gradScale: number;
  readonly expected: readonly (readonly number[])[];
}

const VECTORS: readonly VectorCase[] = [
  {
    // The sheet has no plain-SGD vector: θ − 0.1·g by hand (its step 1 is the momentum vectors' step 1).
    name: 'SGD (by hand)',
    opt: { name: 'sgd', hyper: { lr: 0.1 } },
    line: 'sgd(lr = 0.1)',
    gradScale: 1,
    expected: [
      [0.95, -1.9, 0.5],
      [0.92, -1.92, 0.54],
      [0.93, -1.99, 0.515],
    ],
  },
  {
    name: 'Adam',
    opt: { name: 'adam', hyper: { lr: 0.1 } },
    line: 'adam(lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8)',
    gradScale: 1,
    expected: [
      [0.900000002, -1.9, 0.5],
      [0.804250987, -1.84889739, 0.57441368],
      [0.74211057, -1.85251496, 0.589316142],
    ],
  },
  {
    name: 'Adam + coupled L2',
    opt: { name: 'adam', hyper: { lr: 0.1, weight_decay: 0.1 } },
    line: 'adam(lr = 0.1, weight_decay = 0.1)',
    gradScale: 1,
    expected: [
      [0.900000002, -1.9, 0.40000002],
      [0.803258894, -1.83361691, 0.464493533],
      [0.730263136, -1.81177408, 0.462729278],
    ],
  },
  {
    name: 'AdamW (decoupled, lr-scaled)',
    opt: { name: 'adamw', hyper: { lr: 0.1, weight_decay: 0.1 } },
    line: 'adamw(lr = 0.1, weight_decay = 0.1)',
    gradScale: 1,
    expected: [
      [0.890000002, -1.88, 0.495],
      [0.785350987, -1.81009739, 0.56446368],
      [0.71535706, -1.79561398, 0.573721505],
    ],
  },
  {
    // §36: torch Adam(amsgrad=True) equals plain Adam here (raw v never decreases in 3 steps).
    name: 'Adam amsgrad (PyTorch, §36)',
    opt: { name: 'adam', hyper: { lr: 0.1, amsgrad: true } },
    line: 'adam(lr = 0.1, amsgrad = true)',
    gradScale: 1,
    expected: [
      [0.900000002, -1.9, 0.5],
      [0.804250987, -1.84889739, 0.57441368],
      [0.74211057, -1.85251496, 0.589316142],
    ],
  },
  {
    name: 'Adam, eps form (A), gradients x 1e-6 (§35b)',
    opt: { name: 'adam', hyper: { lr: 0.1 } },
    line: 'adam(lr = 0.1)',
    gradScale: 1e-6,
    expected: [
      [0.901960784, -1.9009901, 0.5],
      [0.808479293, -1.85058662, 0.571873216],
      [0.748107, -1.85415422, 0.586247922],
    ],
  },
];

/** 9 significant digits of values up to 2 in magnitude. */
const VECTOR_TOL = 1e-8;

/** The rule alone: θ a param, g an input, state params, scalar inputs; evaluated step by step. */
function runRule(rule: OptimizerRule, opt: OptimizerConfig, grads: number[][]): number[][] {
  const b = new IRBuilder();
  const t3 = { dtype: 'f32' as const, shape: [3] };
  const theta = b.param('theta', t3);
  const g = b.input('g', t3);
  const state = Object.fromEntries(rule.state.map((s) => [s, b.param(`theta.${s}`, t3)]));
  const scalars = Object.fromEntries(rule.scalars.map((s) => [s, b.input(`@${s}`, { dtype: 'f32', shape: [] })]));
  const up = rule.update(b, theta, g, state, scalars);
  const roots = [up.param, ...rule.state.map((s) => up.state[s]!)];
  let params = new Map<string, RefTensor>([
    ['theta', f32([3], THETA0)],
    ...rule.state.map((s) => [`theta.${s}`, f32([3], [0, 0, 0])] as const),
  ]);
  const out: number[][] = [];
  grads.forEach((gt, i) => {
    const inputs = new Map<string, RefTensor>([['g', f32([3], gt)]]);
    for (const [k, v] of Object.entries(hostScalars(opt, undefined, i + 1))) inputs.set(k, scalar(v));
    const [p, ...st] = evaluate(roots, { inputs, params });
    params = new Map([['theta', p!], ...rule.state.map((s, k) => [`theta.${s}`, st[k]!] as const)]);
    out.push(vals(p!));
  });
  return out;
}

/** The whole step built from a .kiln model whose loss sum(theta * g) has gradient g. */
function runKiln(line: string, grads: number[][]): number[][] {
  const step = compileStep(`model probe(g: f32[3]) {
      param theta: f32[3] = zeros
      output loss = sum(theta * g)
    }
    train probe { minimize loss; optimizer ${line} }`);
  const r = train(step, new Map([['theta', f32([3], THETA0)]]), (t) => new Map([['g', f32([3], grads[t - 1]!)]]), 3);
  return r.history.map((p) => vals(p.get('theta')!));
}

describe('optimizers.md §35 test vectors', () => {
  for (const c of VECTORS) {
    const grads = GRADS.map((g) => g.map((x) => x * c.gradScale));
    it(`${c.name}: the OptimizerRule through IR and the interpreter`, () => {
      const got = runRule(optimizerRule(c.opt), c.opt, grads);
      got.forEach((theta, i) => expectClose(theta, c.expected[i]!, VECTOR_TOL));
    });
    it(`${c.name}: the whole training step from a .kiln model`, () => {
      const got = runKiln(c.line, grads);
      got.forEach((theta, i) => expectClose(theta, c.expected[i]!, VECTOR_TOL));
    });
  }

  it('SGD with coupled weight decay: g + λθ, by hand', () => {
    const opt = { name: 'sgd', hyper: { lr: 0.1, weight_decay: 0.5 } };
    let theta = [...THETA0];
    const expected = GRADS.map((g) => (theta = theta.map((x, i) => x - 0.1 * (g[i]! + 0.5 * x))));
    runRule(optimizerRule(opt), opt, GRADS).forEach((t, i) => expectClose(t, expected[i]!, 1e-14));
    runKiln('sgd(lr = 0.1, weight_decay = 0.5)', GRADS).forEach((t, i) => expectClose(t, expected[i]!, 1e-14));
  });

  it('AMSGrad keeps the max of the raw v (PyTorch), visible once v decreases', () => {
    // A big first gradient then small ones: v decays, vmax holds.
    const grads = [
      [3, -3, 2],
      [0.1, 0.1, -0.1],
      [0.1, -0.2, 0.1],
      [0.05, 0.05, 0.05],
    ];
    // b2 = 0.5 so v decays fast after the big first gradient.
    const [lr, b1, b2, eps, wd] = [0.1, 0.9, 0.5, 1e-8, 0.05];
    for (const decoupled of [false, true]) {
      const theta = [...THETA0];
      const m = [0, 0, 0];
      const v = [0, 0, 0];
      const vmax = [0, 0, 0];
      const expected = grads.map((g, k) => {
        const t = k + 1;
        for (let i = 0; i < 3; i++) {
          const gi = decoupled ? g[i]! : g[i]! + wd * theta[i]!;
          m[i] = b1 * m[i]! + (1 - b1) * gi;
          v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
          vmax[i] = Math.max(vmax[i]!, v[i]!);
          const step = ((lr / (1 - b1 ** t)) * m[i]!) / (Math.sqrt(vmax[i]!) / Math.sqrt(1 - b2 ** t) + eps);
          theta[i] = (decoupled ? theta[i]! - lr * wd * theta[i]! : theta[i]!) - step;
        }
        return [...theta];
      });
      const opt = { name: decoupled ? 'adamw' : 'adam', hyper: { lr, b2, weight_decay: wd, amsgrad: true } };
      runRule(optimizerRule(opt), opt, grads).forEach((t, i) => expectClose(t, expected[i]!, 1e-12));
      // Without amsgrad the answer differs (so the test sees the max).
      const plain = { ...opt, hyper: { lr, b2, weight_decay: wd } };
      expect(Math.abs(runRule(optimizerRule(plain), plain, grads)[3]![0]! - expected[3]![0]!)).toBeGreaterThan(1e-4);
    }
  });
});

// ---------------------------------------------------------------------------
// Host scalars and schedules

describe('host scalars', () => {
  it('Adam: hyperparameters, complements and bias corrections in float64, per step', () => {
    const opt = { name: 'adam', hyper: { lr: 0.01, b1: 0.8, b2: 0.99, eps: 1e-6 } };
    for (const t of [1, 2, 3, 10, 1000]) {
      expect(hostScalars(opt, undefined, t)).toEqual({
        '@lr': 0.01,
        '@b1': 0.8,
        '@b2': 0.99,
        '@one_minus_b1': 1 - 0.8,
        '@one_minus_b2': 1 - 0.99,
        '@eps': 1e-6,
        '@weight_decay': 0,
        '@inv_bc1': 1 / (1 - 0.8 ** t),
        '@rsqrt_bc2': 1 / Math.sqrt(1 - 0.99 ** t),
      });
    }
  });

  it("fills Kiln's canonical defaults", () => {
    const adam = hostScalars({ name: 'adam', hyper: {} }, undefined, 1);
    expect(adam).toMatchObject({ '@lr': 1e-3, '@b1': 0.9, '@b2': 0.999, '@eps': 1e-8, '@weight_decay': 0 });
    expect(hostScalars({ name: 'adamw', hyper: {} }, undefined, 1)['@weight_decay']).toBe(1e-2);
    expect(hostScalars({ name: 'sgd', hyper: { lr: 0.5 } }, undefined, 7)).toEqual({
      '@lr': 0.5,
      '@weight_decay': 0,
    });
    expect(hostScalars({ name: 'sgd', hyper: { lr: 0.5 } }, undefined, 1, { kind: 'value', max: 2 })).toEqual({
      '@lr': 0.5,
      '@weight_decay': 0,
      '@clip': 2,
    });
  });

  it('rejects what it cannot run, with clear messages', () => {
    const bad =
      (opt: OptimizerConfig, t = 1) =>
      () =>
        hostScalars(opt, undefined, t);
    expect(bad({ name: 'kfac', hyper: {} })).toThrow(
      "optimizer 'kfac' is not supported yet (supported: sgd, momentum,",
    );
    expect(bad({ name: 'sgd', hyper: {} })).toThrow('sgd needs lr');
    expect(bad({ name: 'adam', hyper: { beta1: 0.9 } })).toThrow("unknown hyperparameter 'beta1' for adam");
    expect(bad({ name: 'adam', hyper: { amsgrad: 1 } })).toThrow("'amsgrad' of adam must be true or false");
    expect(bad({ name: 'adam', hyper: { b2: 1 } })).toThrow("'b2' of adam must be in [0, 1)");
    expect(bad({ name: 'adam', hyper: { ema: 1 } })).toThrow("'ema' of adam must be in [0, 1)");
    expect(bad({ name: 'adam', hyper: {} }, 0)).toThrow('step must be an integer >= 1');
    expect(() => optimizerRule({ name: 'kfac', hyper: {} })).toThrow("optimizer 'kfac' is not supported yet");
  });
});

describe('schedules (§33, index n = t − 1)', () => {
  const lr = 0.2;
  const at = (s: ScheduleConfig | undefined, t: number) => hostScalars({ name: 'sgd', hyper: { lr } }, s, t)['@lr']!;
  const cosine = (init: number, T: number, alpha: number, p: number, n: number) =>
    init * ((1 - alpha) * (0.5 * (1 + Math.cos((Math.PI * Math.min(n, T)) / T))) ** p + alpha);
  const steps = [1, 2, 3, 5, 10, 11, 12, 30, 100, 101, 500];

  it('constant (and no schedule)', () => {
    for (const t of steps) {
      expect(at(undefined, t)).toBe(lr);
      expect(at({ name: 'constant', args: {} }, t)).toBe(lr);
    }
  });

  it('linear_warmup: optax linear_schedule(init, lr, warmup)', () => {
    const s = { name: 'linear_warmup', args: { warmup: 10, init: 0.02 } };
    for (const t of steps) {
      const n = t - 1;
      expect(at(s, t)).toBeCloseTo(0.02 + ((lr - 0.02) * Math.min(n, 10)) / 10, 15);
    }
    expect(at({ name: 'linear_warmup', args: { warmup: 4 } }, 1)).toBe(0); // init 0: the first update has lr 0
    expect(at({ name: 'linear_warmup', args: { warmup: 4 } }, 3)).toBeCloseTo(lr / 2, 15);
  });

  it('cosine: optax cosine_decay_schedule, clamped at steps', () => {
    const s = { name: 'cosine', args: { steps: 100, alpha: 0.1, exponent: 2 } };
    for (const t of steps) expect(at(s, t)).toBeCloseTo(cosine(lr, 100, 0.1, 2, t - 1), 15);
    expect(at({ name: 'cosine', args: { steps: 100 } }, 1)).toBe(lr);
    expect(at({ name: 'cosine', args: { steps: 100 } }, 51)).toBeCloseTo(lr / 2, 15);
    expect(at({ name: 'cosine', args: { steps: 100 } }, 101)).toBeCloseTo(0, 15);
    expect(at({ name: 'cosine', args: { steps: 100 } }, 400)).toBeCloseTo(0, 15);
  });

  it('warmup_cosine: linear warmup, then cosine at n − warmup over steps − warmup', () => {
    const s = { name: 'warmup_cosine', args: { warmup: 10, steps: 100, init: 0.01, end: 0.004 } };
    for (const t of steps) {
      const n = t - 1;
      const expected = n < 10 ? 0.01 + ((lr - 0.01) * n) / 10 : cosine(lr, 90, 0.004 / lr, 1, n - 10);
      expect(at(s, t)).toBeCloseTo(expected, 15);
    }
    expect(at(s, 11)).toBeCloseTo(lr, 15); // the peak, at n = warmup
    expect(at(s, 101)).toBeCloseTo(0.004, 15); // the end value, from steps on
    expect(at(s, 1000)).toBeCloseTo(0.004, 15);
  });

  it('exponential: optax exponential_decay with begin, staircase and end', () => {
    const plain = { name: 'exponential', args: { rate: 0.5, steps: 10 } };
    for (const t of steps) expect(at(plain, t)).toBeCloseTo(lr * 0.5 ** ((t - 1) / 10), 15);
    const stairs = { name: 'exponential', args: { rate: 0.5, steps: 10, begin: 5, staircase: true, end: 0.03 } };
    for (const t of steps) {
      const k = t - 1 - 5;
      const expected = k <= 0 ? lr : Math.max(lr * 0.5 ** Math.floor(k / 10), 0.03);
      expect(at(stairs, t)).toBeCloseTo(expected, 15);
    }
    expect(at({ name: 'exponential', args: { rate: 0.9 } }, 4)).toBeCloseTo(lr * 0.9 ** 3, 15);
  });

  it('the schedule also feeds AdamW decay (one @lr), and schedule values are per index', () => {
    const s = { name: 'cosine', args: { steps: 10 } };
    const h = hostScalars({ name: 'adamw', hyper: { lr: 0.1 } }, s, 4);
    expect(h['@lr']).toBeCloseTo(scheduleValue(s, 0.1, 3), 15);
  });

  it('rejects bad schedule arguments', () => {
    expect(() => at({ name: 'cosine', args: {} }, 1)).toThrow('schedule cosine needs steps');
    expect(() => at({ name: 'cosine', args: { step: 10 } }, 1)).toThrow("unknown argument 'step' for schedule cosine");
    expect(() => at({ name: 'constant', args: { value: 1 } }, 1)).toThrow('it takes none');
    expect(() => at({ name: 'warmup_cosine', args: { warmup: 10, steps: 10 } }, 1)).toThrow('steps > warmup');
    expect(() => at({ name: 'exponential', args: { rate: 0.5, steps: 0 } }, 1)).toThrow('must be positive');
    expect(() => at({ name: 'triangle', args: {} }, 1)).toThrow("unknown schedule 'triangle'");
  });
});

// ---------------------------------------------------------------------------
// The step graph

const MLP_SRC = readFileSync(new URL('../../examples/mlp.kiln', import.meta.url), 'utf8');
const LINREG_SRC = readFileSync(new URL('../../examples/linear_regression.kiln', import.meta.url), 'utf8');

describe('the step graph', () => {
  it('assigns exactly the trainable params and their state, after the loss, in param order', () => {
    const step = compileStep(MLP_SRC);
    const g = step.graph;
    expect(() => verifyGraph(g, 'test')).not.toThrow();
    expect(step.trainable).toEqual(['w1', 'b1', 'w2', 'b2']);
    expect(step.loss).toBe('loss');
    expect(g.outputs[0]!.name).toBe('loss');
    const assigns = g.outputs.slice(1).map((o) => o.node);
    expect(assigns.every((n) => n.op === 'assign')).toBe(true);
    const targets = assigns.map((n) => (n as NodeOf<'assign'>).target);
    expect(targets).toEqual(['w1', 'w1.m', 'w1.v', 'b1', 'b1.m', 'b1.v', 'w2', 'w2.m', 'w2.v', 'b2', 'b2.m', 'b2.v']);
    expect(g.outputs.slice(1).map((o) => o.name)).toEqual(targets);
    // Each assign has its target's type; every state tensor is a declared param.
    const params = new Map(g.params.map((p) => [p.name, p]));
    for (const a of assigns) {
      const p = params.get((a as NodeOf<'assign'>).target)!;
      expect(p).toBeDefined();
      expect([a.dtype, a.shape]).toEqual([p.dtype, p.shape]);
    }
    expect(step.state.map((s) => s.name)).toEqual(targets.filter((t) => t.includes('.')));
    expect(step.state[0]).toEqual({ name: 'w1.m', param: 'w1', shape: [784, 128], dtype: 'f32', init: 'zeros' });
    // The scalars are f32[] inputs, and exactly what the host computes.
    const inputs = new Map(g.inputs.map((n) => [n.name, n]));
    for (const s of step.scalars) expect([inputs.get(s)?.dtype, inputs.get(s)?.shape]).toEqual(['f32', []]);
    expect(new Set(step.scalars)).toEqual(new Set(Object.keys(stepScalars(step, 1))));
    expect(step.scalars).toEqual([
      '@lr',
      '@b1',
      '@b2',
      '@one_minus_b1',
      '@one_minus_b2',
      '@eps',
      '@weight_decay',
      '@inv_bc1',
      '@rsqrt_bc2',
    ]);
  });

  it('bakes no hyperparameter or per-step value into the graph', () => {
    const step = compileStep(
      LINREG_SRC.replace(
        'optimizer sgd(lr = 0.1)',
        'optimizer adamw(lr = 0.0123, b1 = 0.87, b2 = 0.993, eps = 3e-7, weight_decay = 0.0456)\n  clip global_norm(0.789)',
      ),
    );
    const consts = topoSort(step.graph.outputs.map((o) => o.node)).flatMap((n) => (n.op === 'const' ? [n.value] : []));
    for (const v of [0.0123, 0.87, 0.993, 0.13, 0.007, 3e-7, 0.0456, 0.789, 1 / 0.13, 1 / Math.sqrt(0.007)])
      expect(consts.some((c) => Math.abs(c - v) < 1e-9 * v)).toBe(false);
    expect(new Set(step.scalars)).toEqual(new Set(Object.keys(stepScalars(step, 1))));
    expect(step.scalars).toContain('@clip');
  });

  it('the learning rate changes between steps without a rebuild', () => {
    const step = compileStep(LINREG_SRC);
    const params = new Map([
      ['w', f32([3, 1], [0.1, 0.2, 0.3])],
      ['b', scalar(0.4)],
    ]);
    const batch = new Map([
      ['x', f32([2, 3], [1, 2, 3, -1, 0.5, 2])],
      ['y', f32([2], [1, -1])],
    ]);
    const frozen = referenceTrainStep(step, { params, batch, scalars: { ...stepScalars(step, 1), '@lr': 0 } });
    expect(vals(frozen.params.get('w')!)).toEqual([0.1, 0.2, 0.3]);
    const moved = referenceTrainStep(step, { params, batch, scalars: { ...stepScalars(step, 1), '@lr': 0.01 } });
    expect(vals(moved.params.get('w')!)).not.toEqual([0.1, 0.2, 0.3]);
    // The old maps are untouched.
    expect(vals(params.get('w')!)).toEqual([0.1, 0.2, 0.3]);
    expect(frozen.loss).toBe(moved.loss);
  });

  it('freeze leaves a param unchanged, without state or assign; non-f32 params are not trained', () => {
    const step = compileStep(`model m(x: f32[B, 2], y: f32[B]) {
        param w: f32[2, 1] = zeros
        param b: f32[] = zeros
        param k: i32[] = zeros
        output loss = mean(mse((x @ w)[:, 0] + b + cast(k, f32), y))
      }
      train m { minimize loss; optimizer adam(lr = 0.1); freeze b }`);
    expect(step.trainable).toEqual(['w']);
    expect(step.state.map((s) => s.name)).toEqual(['w.m', 'w.v']);
    const targets = step.graph.outputs.slice(1).map((o) => (o.node as NodeOf<'assign'>).target);
    expect(targets).toEqual(['w', 'w.m', 'w.v']);
    const r = train(
      step,
      new Map([
        ['w', f32([2, 1], [0.5, -0.5])],
        ['b', scalar(0.25)],
        ['k', scalar(3, 'i32')],
      ]),
      () =>
        new Map([
          ['x', f32([2, 2], [1, 2, 3, 4])],
          ['y', f32([2], [1, 2])],
        ]),
      5,
    );
    expect(vals(r.params.get('b')!)).toEqual([0.25]);
    expect(vals(r.params.get('k')!)).toEqual([3]);
    expect(vals(r.params.get('w')!)).not.toEqual([0.5, -0.5]);
  });

  it('amsgrad adds a vmax state tensor', () => {
    const step = compileStep(LINREG_SRC.replace('sgd(lr = 0.1)', 'adamw(amsgrad = true)'));
    expect(step.state.map((s) => s.name)).toEqual(['w.m', 'w.v', 'w.vmax', 'b.m', 'b.v', 'b.vmax']);
    expect(step.optimizer).toEqual({
      name: 'adamw',
      hyper: { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8, weight_decay: 1e-2, amsgrad: true },
    });
  });

  it('a model with dropout keeps @seed; the step is a function of the seed', () => {
    const step = compileStep(`model m(x: f32[B, 4], y: f32[B]) {
        param w: f32[4, 1] = zeros
        output loss = mean(mse((dropout(x, p = 0.5) @ w)[:, 0], y))
      }
      train m { minimize loss; optimizer sgd(lr = 0.1) }`);
    expect(step.graph.inputs.map((n) => n.name)).toEqual(['x', 'y', '@seed', '@lr', '@weight_decay']);
    expect(step.scalars).toEqual(['@lr', '@weight_decay']);
    const env = {
      params: new Map([['w', f32([4, 1], [0, 0, 0, 0])]]),
      batch: new Map([
        ['x', f32([3, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])],
        ['y', f32([3], [1, 2, 3])],
      ]),
      scalars: stepScalars(step, 1),
    };
    expect(() => referenceTrainStep(step, env)).toThrow('needs a seed');
    const a = vals(referenceTrainStep(step, { ...env, seed: 1 }).params.get('w')!);
    expect(vals(referenceTrainStep(step, { ...env, seed: 1 }).params.get('w')!)).toEqual(a);
    expect(vals(referenceTrainStep(step, { ...env, seed: 2 }).params.get('w')!)).not.toEqual(a);
  });

  it('unknown optimizers and out-of-range hyperparameters fail with a clear error', () => {
    expect(() => compileStep(LINREG_SRC.replace('sgd(lr = 0.1)', 'kfac(lr = 1e-4)'))).toThrow(
      "unknown optimizer 'kfac'",
    );
    expect(() => compileStep(LINREG_SRC.replace('sgd(lr = 0.1)', 'adam(b2 = 1.5)'))).toThrow(
      "hyperparameter 'b2' of adam must be in [0, 1), got 1.5",
    );
    expect(() => compileStep(LINREG_SRC.replace('sgd(lr = 0.1)', 'lookahead(sgd(lr = -0.1))'))).toThrow(
      "hyperparameter 'lr' of sgd must be a finite number >= 0, got -0.1",
    );
    // The modifiers compile.
    expect(
      compileStep(LINREG_SRC.replace('sgd(lr = 0.1)', 'lookahead(sgd(lr = 0.1))')).state.map((s) => s.name),
    ).toEqual(['w.slow', 'b.slow']);
    expect(compileStep(LINREG_SRC.replace('sgd(lr = 0.1)', 'adam(cautious = true)')).state).toHaveLength(4);
  });
});

// ---------------------------------------------------------------------------
// Clipping, trajectories and convergence, against float64 code written here

/** Linear regression data: y = x·[1, −2, 0.5] + 0.3 + noise, features in [−1, 1]. */
function linregData(n: number, seed: number): { x: number[]; y: number[] } {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [rand() * 2 - 1, rand() * 2 - 1, rand() * 2 - 1];
    x.push(...row);
    y.push(row[0]! - 2 * row[1]! + 0.5 * row[2]! + 0.3 + 0.01 * (rand() - 0.5));
  }
  return { x, y };
}

/** loss = mean((x·w + b − y)²) and its gradients, by hand. */
function linregGrads(x: number[], y: number[], w: number[], b: number): { loss: number; dw: number[]; db: number } {
  const n = y.length;
  const dw = [0, 0, 0];
  let db = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const r = x[3 * i]! * w[0]! + x[3 * i + 1]! * w[1]! + x[3 * i + 2]! * w[2]! + b - y[i]!;
    loss += (r * r) / n;
    for (let k = 0; k < 3; k++) dw[k]! += (2 / n) * r * x[3 * i + k]!;
    db += (2 / n) * r;
  }
  return { loss, dw, db };
}

describe('clipping', () => {
  const { x, y } = linregData(8, 7);
  const w0 = [0.2, 0.1, -0.3];
  const b0 = 0.05;
  const params = new Map([
    ['w', f32([3, 1], w0)],
    ['b', scalar(b0)],
  ]);
  const batch = new Map([
    ['x', f32([8, 3], x)],
    ['y', f32([8], y)],
  ]);
  const stepWith = (clip: string) => compileStep(LINREG_SRC.replace('sgd(lr = 0.1)', `sgd(lr = 0.1)\n  clip ${clip}`));

  it('by global norm: every gradient times min(max/(N + 1e-6), 1), N over all trainable tensors', () => {
    const { dw, db } = linregGrads(x, y, w0, b0);
    const norm = Math.sqrt(dw.reduce((a, g) => a + g * g, 0) + db * db);
    for (const max of [norm / 3, norm * 2]) {
      const step = stepWith(`global_norm(${max})`);
      const coef = Math.min(max / (norm + 1e-6), 1);
      const r = referenceTrainStep(step, { params, batch, scalars: stepScalars(step, 1) });
      expectClose(
        vals(r.params.get('w')!),
        w0.map((w, k) => w - 0.1 * coef * dw[k]!),
        1e-14,
      );
      expectClose(vals(r.params.get('b')!), [b0 - 0.1 * coef * db], 1e-14);
    }
  });

  it('by value: clamp(g, −max, max)', () => {
    const { dw, db } = linregGrads(x, y, w0, b0);
    const max = 0.4;
    const step = stepWith(`value(${max})`);
    const c = (g: number) => Math.min(Math.max(g, -max), max);
    expect([...dw, db].some((g) => Math.abs(g) > max)).toBe(true); // the clamp bites
    const r = referenceTrainStep(step, { params, batch, scalars: stepScalars(step, 1) });
    expectClose(
      vals(r.params.get('w')!),
      w0.map((w, k) => w - 0.1 * c(dw[k]!)),
      1e-14,
    );
    expectClose(vals(r.params.get('b')!), [b0 - 0.1 * c(db)], 1e-14);
  });
});

describe('trajectories', () => {
  it('8 Adam steps of linear regression match a float64 Adam written here', () => {
    const step = compileStep(LINREG_SRC.replace('sgd(lr = 0.1)', 'adam(lr = 0.05, b2 = 0.99, weight_decay = 0.01)'));
    const data = [linregData(6, 1), linregData(6, 2), linregData(6, 3)];
    const batches = (t: number) => {
      const d = data[(t - 1) % 3]!;
      return new Map([
        ['x', f32([6, 3], d.x)],
        ['y', f32([6], d.y)],
      ]);
    };
    const w0 = [0.3, -0.2, 0.1];
    const r = train(
      step,
      new Map([
        ['w', f32([3, 1], w0)],
        ['b', scalar(-0.1)],
      ]),
      batches,
      8,
    );
    // The same in plain float64.
    const [lr, b1, b2, eps, wd] = [0.05, 0.9, 0.99, 1e-8, 0.01];
    let theta = [...w0, -0.1];
    const m = [0, 0, 0, 0];
    const v = [0, 0, 0, 0];
    const losses: number[] = [];
    for (let t = 1; t <= 8; t++) {
      const d = data[(t - 1) % 3]!;
      const gr = linregGrads(d.x, d.y, theta.slice(0, 3), theta[3]!);
      losses.push(gr.loss);
      const g = [...gr.dw, gr.db];
      theta = theta.map((p, i) => {
        const gi = g[i]! + wd * p;
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        const mhat = m[i]! / (1 - b1 ** t);
        const vhat = v[i]! / (1 - b2 ** t);
        return p - (lr * mhat) / (Math.sqrt(vhat) + eps);
      });
      const got = r.history[t - 1]!;
      expectClose([...vals(got.get('w')!), ...vals(got.get('b')!)], theta, 1e-12);
      expectClose(vals(got.get('w.m')!), m.slice(0, 3), 1e-12);
      expectClose(vals(got.get('b.v')!), [v[3]!], 1e-12);
    }
    expectClose(r.losses, losses, 1e-12);
  });

  it('8 AdamW steps of a tiny MLP with warmup_cosine and global-norm clipping match float64 code written here', () => {
    const step = compileStep(`model tiny(x: f32[B, 2], y: f32[B]) {
        param w1: f32[2, 3] = glorot_uniform
        param b1: f32[3] = zeros
        param w2: f32[3, 1] = glorot_uniform
        param b2: f32[] = zeros
        h = tanh(x @ w1 + b1)
        output loss = mean(mse((h @ w2)[:, 0] + b2, y))
      }
      train tiny {
        minimize loss
        optimizer adamw(lr = 0.05, weight_decay = 0.1)
        schedule warmup_cosine(warmup = 3, steps = 8, end = 0.005)
        clip global_norm(0.5)
      }`);
    const B = 4;
    const X = [0.5, -1, 1.5, 0.2, -0.7, 0.9, 0.1, -0.3];
    const Y = [1, -0.5, 0.25, 0.8];
    const init = {
      w1: [0.4, -0.3, 0.2, 0.1, 0.5, -0.6],
      b1: [0.05, -0.05, 0.1],
      w2: [0.7, -0.4, 0.3],
      b2: [0.2],
    };
    const names = ['w1', 'b1', 'w2', 'b2'] as const;
    const shapes = { w1: [2, 3], b1: [3], w2: [3, 1], b2: [] };
    const r = train(
      step,
      new Map(names.map((n) => [n, f32(shapes[n], init[n])])),
      () =>
        new Map([
          ['x', f32([B, 2], X)],
          ['y', f32([B], Y)],
        ]),
      8,
    );

    // Forward and backward by hand.
    const grads = (p: Record<(typeof names)[number], number[]>) => {
      const g = { w1: [0, 0, 0, 0, 0, 0], b1: [0, 0, 0], w2: [0, 0, 0], b2: [0] };
      let loss = 0;
      for (let i = 0; i < B; i++) {
        const h = [0, 1, 2].map((j) => Math.tanh(X[2 * i]! * p.w1[j]! + X[2 * i + 1]! * p.w1[3 + j]! + p.b1[j]!));
        const res = h.reduce((a, hj, j) => a + hj * p.w2[j]!, 0) + p.b2[0]! - Y[i]!;
        loss += (res * res) / B;
        const dpred = (2 * res) / B;
        g.b2[0]! += dpred;
        for (let j = 0; j < 3; j++) {
          g.w2[j]! += h[j]! * dpred;
          const dz = dpred * p.w2[j]! * (1 - h[j]! * h[j]!);
          g.b1[j]! += dz;
          g.w1[j]! += X[2 * i]! * dz;
          g.w1[3 + j]! += X[2 * i + 1]! * dz;
        }
      }
      return { loss, g };
    };
    const lrAt = (n: number) =>
      n < 3 ? (0.05 * n) / 3 : 0.05 * ((1 - 0.1) * 0.5 * (1 + Math.cos((Math.PI * Math.min(n - 3, 5)) / 5)) + 0.1);
    const [b1, b2, eps, wd] = [0.9, 0.999, 1e-8, 0.1];
    const theta = structuredClone(init);
    const m = { w1: Array(6).fill(0), b1: Array(3).fill(0), w2: Array(3).fill(0), b2: [0] };
    const v = structuredClone(m);
    let clipped = 0;
    for (let t = 1; t <= 8; t++) {
      const { loss, g } = grads(theta);
      expect(r.losses[t - 1]).toBeCloseTo(loss, 12);
      const norm = Math.sqrt(names.reduce((a, n) => a + g[n].reduce((s, x) => s + x * x, 0), 0));
      const coef = Math.min(0.5 / (norm + 1e-6), 1);
      if (coef < 1) clipped++;
      const lr = lrAt(t - 1);
      for (const n of names)
        theta[n] = theta[n].map((p, i) => {
          const gi = g[n][i]! * coef;
          m[n][i] = b1 * m[n][i]! + (1 - b1) * gi;
          v[n][i] = b2 * v[n][i]! + (1 - b2) * gi * gi;
          const mhat = m[n][i]! / (1 - b1 ** t);
          const vhat = v[n][i]! / (1 - b2 ** t);
          return p - lr * (mhat / (Math.sqrt(vhat) + eps) + wd * p);
        });
      for (const n of names) expectClose(vals(r.history[t - 1]!.get(n)!), theta[n], 1e-12);
    }
    // The clip was active at least once (the test would not see it otherwise).
    expect(clipped).toBeGreaterThan(0);
  });

  it('SGD on linear regression: the loss decreases over 50 reference steps', () => {
    const step = compileStep(LINREG_SRC);
    const { x, y } = linregData(32, 42);
    const batch = new Map([
      ['x', f32([32, 3], x)],
      ['y', f32([32], y)],
    ]);
    const r = train(
      step,
      new Map([
        ['w', f32([3, 1], [0, 0, 0])],
        ['b', scalar(0)],
      ]),
      () => batch,
      50,
    );
    for (let i = 1; i < 50; i++) expect(r.losses[i]!).toBeLessThan(r.losses[i - 1]!);
    expect(r.losses[49]!).toBeLessThan(r.losses[0]! * 0.05);
    // Close to the generating weights.
    expectClose(vals(r.params.get('w')!), [1, -2, 0.5], 0.35);
  });
});
