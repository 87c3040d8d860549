// The Wave 2 optimizers (optimizers.md "Wave 2 canonical forms": muon,
// prodigy, schedule_free_adamw) on the reference target: the sheet's test
// vectors (§38, §39, §40), and 8-step trajectories of the tiny tanh MLP
// (rank-2 w1 [2, 3] and w2 [3, 1], rank-1 b1, rank-0 b2) against the float64
// code of tests/helpers/wave2-reference.ts (written from the sheet, not from
// the IR rules); Prodigy's whole-model d, schedule-free's evaluation point,
// the step graphs' state, resume bit for bit, compile errors.

import {
  CASES,
  type TrajectoryCase,
  configAt,
  o,
  optimizerLine,
  B,
  BATCHES,
  TINY_INIT,
  TINY_NAMES,
  TINY_SHAPES,
  type TinyName,
  tinyGrads,
  tinySrc,
  WAVE2,
} from '../helpers/optimizer-cases.js';
import { type Tensors, WAVE2_REFERENCES, newtonSchulz64 } from '../helpers/wave2-reference.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileGraph } from '../../compiler/compile.js';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep } from '../../compiler/train-reference.js';
import { type TrainConfig, type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import { hostScalars } from '../../runtime/optimizers/host-scalars.js';
import { resolveOptimizer } from '../../runtime/optimizers/resolve.js';
import type { OptimizerConfig } from '../../runtime/optimizers/spec.js';
import { scheduleValue } from '../../runtime/optimizers/schedules.js';

type Vec = number[];

const vals = (t: RefTensor): Vec => [...t.data];
const f32 = (shape: number[], data: ArrayLike<number>) => tensor('f32', shape, data);

function expectClose(actual: readonly number[], expected: readonly number[], tol: number, what = ''): void {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e))))
      throw new Error(`${what} element ${i}: got ${a}, expected ${e} (tol ${tol})\n  ${actual.join(', ')}`);
  });
}

/** Half a unit in the 9th significant digit of each expected value. */
function expectPrinted(actual: readonly number[], expected: readonly number[], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    const half = e === 0 ? 5e-10 : 0.5 * 10 ** (Math.floor(Math.log10(Math.abs(e))) - 8);
    if (!(Math.abs(a - e) <= half * (1 + 1e-6)))
      throw new Error(`${what} element ${i}: got ${a}, expected ${e} (9 significant digits)`);
  });
}

function compileStep(src: string): TrainStep {
  const { result } = compileSource('test.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train: TrainConfig = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  return buildTrainStep(model, train);
}

// ---------------------------------------------------------------------------
// The sheet's vectors (§38, §39, §40): θ after each of 3 steps, 9 digits

const THETA0 = [1.0, -2.0, 0.5];
const GRADS = [
  [0.5, -1.0, 0.0],
  [0.3, 0.2, -0.4],
  [-0.1, 0.7, 0.25],
];
const W0 = [1.0, -2.0, 0.5, 0.3, 0.8, -1.2];
const WGRADS = [
  [0.5, -1.0, 0.0, 0.2, 0.1, -0.3],
  [0.3, 0.2, -0.4, -0.6, 0.5, 0.1],
  [-0.1, 0.7, 0.25, 0.4, -0.2, 0.9],
];

interface SheetVector {
  readonly name: string;
  readonly opt: OptimizerConfig;
  readonly shape: number[];
  readonly expected: Vec[];
}

export const SHEET_VECTORS: readonly SheetVector[] = [
  {
    name: '§38 Muon, 2 × 3 (wide), defaults, lr 0.1',
    opt: o('muon', { lr: 0.1 }),
    shape: [2, 3],
    expected: [
      [0.95875696, -1.91751392, 0.5, 0.225750347, 0.762875173, -1.08862552],
      [0.903820681, -1.9394841, 0.597885893, 0.269524614, 0.679504136, -1.03867673],
      [0.850068618, -2.06363371, 0.614804994, 0.255505644, 0.697193169, -1.12339854],
    ],
  },
  {
    name: '§38 Muon, 3 × 2 (tall: transposed, shape factor 1)',
    opt: o('muon', { lr: 0.1 }),
    shape: [3, 2],
    expected: [
      [0.951172565, -1.94941872, 0.433469319, 0.256618405, 0.823499853, -1.16819295],
      [0.891708659, -1.92482788, 0.480033733, 0.324459, 0.758496561, -1.16475431],
      [0.809798425, -1.94428189, 0.449900677, 0.31050654, 0.797011872, -1.23324778],
    ],
  },
  {
    name: '§38 Muon, rank 1: the Adam branch (nesterov)',
    opt: o('muon', { lr: 0.1 }),
    shape: [3],
    expected: [
      [0.852631582, -1.85263158, 0.5],
      [0.7539147, -1.83498677, 0.621368437],
      [0.72065064, -1.87372803, 0.598068297],
    ],
  },
  {
    name: '§38 Muon, 2 × 3, nesterov false, weight_decay 0.1',
    opt: o('muon', { lr: 0.1, nesterov: false, weight_decay: 0.1 }),
    shape: [2, 3],
    expected: [
      [0.94875696, -1.89751392, 0.495, 0.222750347, 0.754875173, -1.07662552],
      [0.88100144, -1.840183, 0.556203564, 0.242026174, 0.682034441, -0.987956952],
      [0.780114307, -1.81745802, 0.574452188, 0.242276909, 0.615780031, -1.09665233],
    ],
  },
  {
    name: '§39 Prodigy, d0 0.1',
    opt: o('prodigy', { d0: 0.1 }),
    shape: [3],
    expected: [
      [0.900000063, -1.90000003, 0.5],
      [0.804251098, -1.84889744, 0.574413624],
      [0.742110712, -1.852515, 0.589316076],
    ],
  },
  {
    name: '§39 Prodigy, defaults (d0 1e-6)',
    opt: o('prodigy'),
    shape: [3],
    expected: [
      [0.999999, -1.999999, 0.5],
      [0.999998043, -1.99999849, 0.500000744],
      [0.999997421, -1.99999853, 0.500000893],
    ],
  },
  {
    name: '§40 Schedule-Free AdamW, lr 0.1',
    opt: o('schedule_free_adamw', { lr: 0.1 }),
    shape: [3],
    expected: [
      [0.900000002, -1.9, 0.5],
      [0.859976914, -1.91525778, 0.577762295],
      [0.860776345, -1.95863337, 0.562255947],
    ],
  },
  {
    name: '§40 Schedule-Free AdamW, lr 0.1, warmup 2, weight_decay 0.1 (first base step has lr 0)',
    opt: o('schedule_free_adamw', { lr: 0.1, warmup: 2, weight_decay: 0.1 }),
    shape: [3],
    expected: [
      [1, -2, 0.5],
      [0.966064607, -2.00317398, 0.555918257],
      [0.972567038, -2.04248574, 0.512701296],
    ],
  },
];

const vectorData = (v: SheetVector) =>
  v.shape.length === 2 ? { th0: W0, grads: WGRADS } : { th0: THETA0, grads: GRADS };

describe('optimizers.md Wave 2 test vectors (§38, §39, §40)', () => {
  for (const v of SHEET_VECTORS) {
    const { th0, grads } = vectorData(v);
    it(`${v.name}: the float64 reference`, () => {
      const h = resolveOptimizer(v.opt).hyper;
      const step = WAVE2_REFERENCES[v.opt.name]!();
      let th: Tensors = { theta: { shape: v.shape, data: [...th0] } };
      grads.forEach((g, i) => {
        th = step(th, { theta: g }, i + 1, h, () => h['lr'] as number);
        expectPrinted(th['theta']!.data, v.expected[i]!, `step ${i + 1}`);
      });
    });
    it(`${v.name}: the whole training step from a .kiln model`, () => {
      const step = compileStep(`model probe(g: f32[${v.shape.join(', ')}]) {
          param theta: f32[${v.shape.join(', ')}] = zeros
          output loss = sum(theta * g)
        }
        train probe { minimize loss; optimizer ${optimizerLine(v.opt)} }`);
      let p = new Map([['theta', f32(v.shape, th0)], ...initialState(step)]);
      grads.forEach((g, i) => {
        p = referenceTrainStep(step, {
          params: p,
          batch: new Map([['g', f32(v.shape, g)]]),
          scalars: hostScalars(step.optimizer, undefined, i + 1),
        }).params;
        expectPrinted(vals(p.get('theta')!), v.expected[i]!, `step ${i + 1}`);
      });
    });
  }

  it('Newton–Schulz (5 steps) brings the singular values of a 2 × 3 matrix near 1 (not exactly: the quintic oscillates)', () => {
    const x = newtonSchulz64({ r: 2, c: 3, a: WGRADS[0]! }, 5, 1e-8);
    // X·Xᵀ of a near-orthogonal wide X is near I; its eigenvalues are the squared singular values.
    const g = [0, 1].flatMap((i) =>
      [0, 1].map((j) => [0, 1, 2].reduce((s, k) => s + x.a[i * 3 + k]! * x.a[j * 3 + k]!, 0)),
    );
    const [a, bb, d] = [g[0]!, g[1]!, g[3]!];
    const disc = Math.sqrt(((a - d) / 2) ** 2 + bb * bb);
    for (const ev of [(a + d) / 2 - disc, (a + d) / 2 + disc]) {
      expect(Math.sqrt(ev)).toBeGreaterThan(0.6);
      expect(Math.sqrt(ev)).toBeLessThan(1.25);
    }
  });
});

// ---------------------------------------------------------------------------
// 8-step trajectories of the tiny MLP

const WAVE2_CASES = CASES.filter((c) => (WAVE2 as readonly string[]).includes((c.opt.inner ?? c.opt).name));

const tinyBatch = (t: number) => {
  const d = BATCHES[(t - 1) % 2]!;
  return new Map([
    ['x', f32([B, 2], d.x)],
    ['y', f32([B], d.y)],
  ]);
};
const tinyParams = () => new Map(TINY_NAMES.map((n) => [n, f32(TINY_SHAPES[n], TINY_INIT[n])]));
const srcOf = (c: TrajectoryCase) =>
  tinySrc(optimizerLine(c.opt), c.schedule ? `schedule ${c.schedule.name}(steps = ${c.schedule.args['steps']})` : '');

interface Run {
  losses: Vec;
  params: Record<TinyName, Vec>[];
  /** Schedule-free: the evaluation point x after each step; Prodigy: d. */
  x: Record<TinyName, Vec>[];
  d: Vec;
}

function compiledRun(c: TrajectoryCase, steps = 8): Run & { step: TrainStep } {
  const step = compileStep(srcOf(c));
  let p = new Map([...tinyParams(), ...initialState(step)]);
  const out: Run = { losses: [], params: [], x: [], d: [] };
  for (let t = 1; t <= steps; t++) {
    const r = referenceTrainStep(step, {
      params: p,
      batch: tinyBatch(t),
      scalars: hostScalars(configAt(c, t), step.schedule, t),
    });
    p = r.params;
    out.losses.push(r.loss);
    out.params.push(Object.fromEntries(TINY_NAMES.map((n) => [n, vals(p.get(n)!)])) as Record<TinyName, Vec>);
    if (p.has('w1.x'))
      out.x.push(Object.fromEntries(TINY_NAMES.map((n) => [n, vals(p.get(`${n}.x`)!)])) as Record<TinyName, Vec>);
    if (p.has('prodigy.d')) out.d.push(vals(p.get('prodigy.d')!)[0]!);
  }
  return { ...out, step };
}

function referenceRun(c: TrajectoryCase, steps = 8): Run {
  const name = (c.opt.inner ?? c.opt).name;
  const trace = { d: [] as number[], x: [] as Tensors[] };
  const stepper = WAVE2_REFERENCES[name]!(trace);
  let theta: Tensors = Object.fromEntries(
    TINY_NAMES.map((n) => [n, { shape: TINY_SHAPES[n], data: [...TINY_INIT[n]] }]),
  );
  const out: Run = { losses: [], params: [], x: [], d: trace.d };
  for (let t = 1; t <= steps; t++) {
    const h = resolveOptimizer(configAt(c, t)).hyper;
    const cur = Object.fromEntries(TINY_NAMES.map((n) => [n, theta[n]!.data])) as Record<TinyName, Vec>;
    const { loss, g } = tinyGrads(cur, BATCHES[(t - 1) % 2]!);
    out.losses.push(loss);
    theta = stepper(theta, g, t, h, (n) => scheduleValue(c.schedule, h['lr'] as number, n));
    out.params.push(Object.fromEntries(TINY_NAMES.map((n) => [n, theta[n]!.data])) as Record<TinyName, Vec>);
  }
  out.x = trace.x.map((x) => Object.fromEntries(TINY_NAMES.map((n) => [n, x[n]!.data])) as Record<TinyName, Vec>);
  return out;
}

const TOL = 1e-11;

describe('8-step trajectories of the tiny MLP against the float64 references', () => {
  it('every Wave 2 optimizer has cases', () => {
    expect(new Set(WAVE2_CASES.map((c) => c.opt.name))).toEqual(new Set(WAVE2));
  });
  for (const c of WAVE2_CASES) {
    it(`${c.label}${c.change ? ', hyperparameters changed at step 5' : ''}`, () => {
      const got = compiledRun(c);
      const want = referenceRun(c);
      expectClose(got.losses, want.losses, TOL, 'losses');
      for (let t = 0; t < 8; t++)
        for (const n of TINY_NAMES) {
          expectClose(got.params[t]![n], want.params[t]![n], TOL, `${n} after step ${t + 1}`);
          if (want.x.length > 0) expectClose(got.x[t]![n], want.x[t]![n], 1e-10, `${n}.x after step ${t + 1}`);
        }
      if (want.d.length > 0) expectClose(got.d, want.d, TOL, 'd');
      expect(got.params[7]!.w1).not.toEqual(TINY_INIT.w1);
      expect(got.params[7]!.b1).not.toEqual(TINY_INIT.b1);
    });
  }

  it('prodigy grows d from d0 (the estimate is live, not stuck at d0)', () => {
    const run = compiledRun(WAVE2_CASES.find((c) => c.opt.name === 'prodigy')!);
    expect(run.d[7]!).toBeGreaterThan(run.d[0]!);
  });
});

// ---------------------------------------------------------------------------
// Step graphs: state, scalars, resume

describe('the Wave 2 step graphs', () => {
  const stateOf = (line: string) => compileStep(tinySrc(line)).state.map((s) => [s.name, s.shape]);

  it('muon: rank-2 params keep m, the others m and v', () => {
    expect(stateOf('muon(lr = 0.1)')).toEqual([
      ['w1.m', [2, 3]],
      ['b1.m', [3]],
      ['b1.v', [3]],
      ['w2.m', [3, 1]],
      ['b2.m', []],
      ['b2.v', []],
    ]);
  });

  it('prodigy: m, v, s, p0 per param, then the whole-model d and numerator', () => {
    const st = stateOf('prodigy');
    expect(st.slice(0, 4).map((s) => s[0])).toEqual(['w1.m', 'w1.v', 'w1.s', 'w1.p0']);
    expect(st.slice(-2)).toEqual([
      ['prodigy.d', []],
      ['prodigy.numerator', []],
    ]);
  });

  it('schedule_free_adamw: z, v and the evaluation point x per param', () => {
    expect(
      stateOf('schedule_free_adamw')
        .slice(0, 3)
        .map((s) => s[0]),
    ).toEqual(['w1.z', 'w1.v', 'w1.x']);
  });

  it('a resumed run continues bit for bit (state and t are all it needs)', () => {
    for (const c of WAVE2_CASES) {
      const straight = compiledRun(c, 8);
      const first = compileStep(srcOf(c));
      let p = new Map([...tinyParams(), ...initialState(first)]);
      for (let t = 1; t <= 4; t++)
        p = referenceTrainStep(first, {
          params: p,
          batch: tinyBatch(t),
          scalars: hostScalars(configAt(c, t), first.schedule, t),
        }).params;
      hostScalars(o('schedule_free_adamw', { lr: 0.3 }), undefined, 50); // another run's host values in between
      const again = compileStep(srcOf(c));
      for (let t = 5; t <= 8; t++)
        p = referenceTrainStep(again, {
          params: p,
          batch: tinyBatch(t),
          scalars: hostScalars(configAt(c, t), again.schedule, t),
        }).params;
      for (const n of TINY_NAMES) expect(vals(p.get(n)!), c.label).toEqual(straight.params[7]![n]);
    }
  });
});

// ---------------------------------------------------------------------------
// Compile errors

describe('compile errors for bad Wave 2 hyperparameters', () => {
  const errors = (line: string) => compileSource('bad.kiln', tinySrc(line)).result.diagnostics.map((d) => d.message);
  const cases: [string, string][] = [
    ['muon', 'muon needs lr'],
    ['muon(lr = 0.1, ns_steps = 0)', "'ns_steps' of muon must be an integer in [1, 20], got 0"],
    ['muon(lr = 0.1, ns_steps = 2.5)', "'ns_steps' of muon must be an integer in [1, 20]"],
    ['muon(lr = 0.1, beta = 1)', "'beta' of muon must be in [0, 1)"],
    ['muon(lr = 0.1, adam_b2 = -0.1)', "'adam_b2' of muon must be in [0, 1)"],
    ['muon(lr = 0.1, adam_lr = -1)', "'adam_lr' of muon must be a finite number >= 0"],
    ['muon(lr = 0.1, nesterov = 1)', 'nesterov of muon must be true or false'],
    ['prodigy(d0 = 0)', "'d0' of prodigy must be a finite number > 0, got 0"],
    ['prodigy(b3 = 1.5)', "'b3' of prodigy must be in [0, 1)"],
    ['prodigy(d_coef = -1)', "'d_coef' of prodigy must be a finite number >= 0"],
    ['prodigy(safeguard_warmup = 2)', 'safeguard_warmup of prodigy must be true or false'],
    ['schedule_free_adamw(warmup = 1.5)', "'warmup' of schedule_free_adamw must be an integer >= 0"],
    [
      'schedule_free_adamw(weight_lr_power = -2)',
      "'weight_lr_power' of schedule_free_adamw must be a finite number >= 0",
    ],
    ['schedule_free_adamw(b1 = 1)', "'b1' of schedule_free_adamw must be in [0, 1)"],
  ];
  for (const [line, msg] of cases)
    it(line, () => {
      const got = errors(line);
      expect(
        got.some((m) => m.includes(msg)),
        `${got.join('\n')}`,
      ).toBe(true);
    });

  it('the defaults compile', () => {
    for (const line of ['muon(lr = 0.02)', 'prodigy', 'schedule_free_adamw']) expect(errors(line)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Kernel counts (README, "Optimizers")

describe('kernel counts of the MLP example step (examples/mlp.kiln, two weight matrices)', () => {
  const src = readFileSync(new URL('../../examples/mlp.kiln', import.meta.url), 'utf8');
  const kernels = (line: string) =>
    compileGraph(compileStep(src.replace('adam(lr = 1e-3)', line)).graph).fusion.program.kernels.length;
  it('schedule_free_adamw fuses like adam; prodigy adds its phase; muon 3 matmuls per Newton–Schulz step', () => {
    const adam = kernels('adam(lr = 1e-3)');
    expect(adam).toBe(9);
    expect(kernels('schedule_free_adamw')).toBe(adam);
    expect(kernels('prodigy')).toBe(18);
    expect(kernels('muon(lr = 0.02)')).toBe(43);
    // Each further Newton–Schulz step: 3 matmuls for each of the 2 weight matrices.
    expect(kernels('muon(lr = 0.02, ns_steps = 6)') - kernels('muon(lr = 0.02)')).toBe(6);
  });
});
