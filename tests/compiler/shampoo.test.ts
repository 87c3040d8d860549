// Shampoo (optimizers.md §41) on the reference interpreter: 8-step
// trajectories of the tiny tanh MLP (rank-2 w1 [2, 3] and w2 [3, 1], rank-1
// b1, rank-0 b2) against the float64 code of tests/helpers/shampoo-reference.ts
// (exact inverse roots by Jacobi eigendecomposition), with update_interval
// changed at step 5; the Newton iteration's roots against the exact ones
// (the sheet's accuracy table); the two step programs and their state;
// resume bit for bit; compile errors; kernel counts.

import {
  B,
  BATCHES,
  TINY_INIT,
  TINY_NAMES,
  TINY_SHAPES,
  type TinyName,
  tinyGrads,
  tinySrc,
} from '../helpers/optimizer-cases.js';
import {
  SHAMPOO_CASES,
  type ShampooState,
  type Sym,
  exactInverseRoot,
  floored,
  newtonInverseRoot,
  relativeError,
  shampoo64,
  shampooLine,
} from '../helpers/shampoo-reference.js';
import type { Tensors } from '../helpers/wave2-reference.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileGraph } from '../../compiler/compile.js';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import { ROOT_STEPS } from '../../compiler/optimizers/shampoo.js';
import { initialState, referenceTrainStep, stepRefreshes } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import { hostScalars } from '../../runtime/optimizers/host-scalars.js';
import { resolveOptimizer } from '../../runtime/optimizers/resolve.js';
import type { OptimizerConfig } from '../../runtime/optimizers/spec.js';

type Vec = number[];
type Case = (typeof SHAMPOO_CASES)[number];

const vals = (t: RefTensor): Vec => [...t.data];
const f32 = (shape: number[], data: ArrayLike<number>) => tensor('f32', shape, data);

function compileStep(src: string): TrainStep {
  const { result } = compileSource('test.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  return buildTrainStep(
    result.models.find((m) => m.name === train.model)!,
    train,
  );
}

const configAt = (c: Case, t: number): OptimizerConfig => ({
  name: 'shampoo',
  hyper: t >= 5 && c.change ? { ...c.hyper, ...c.change } : c.hyper,
});

function expectClose(actual: readonly number[], expected: readonly number[], tol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e))))
      throw new Error(`${what} element ${i}: got ${a}, expected ${e} (tol ${tol})`);
  });
}

const tinyBatch = (t: number) => {
  const d = BATCHES[(t - 1) % 2]!;
  return new Map([
    ['x', f32([B, 2], d.x)],
    ['y', f32([B], d.y)],
  ]);
};

interface Run {
  losses: Vec;
  params: Record<TinyName, Vec>[];
  state: Map<string, RefTensor>;
}

function compiledRun(c: Case, steps = 8): Run {
  const step = compileStep(tinySrc(shampooLine(c.hyper)));
  let p = new Map([...TINY_NAMES.map((n) => [n, f32(TINY_SHAPES[n], TINY_INIT[n])] as const), ...initialState(step)]);
  const out: Run = { losses: [], params: [], state: p };
  for (let t = 1; t <= steps; t++) {
    const r = referenceTrainStep(step, {
      params: p,
      batch: tinyBatch(t),
      scalars: hostScalars(configAt(c, t), undefined, t),
      refresh: stepRefreshes(step, t, configAt(c, t)),
    });
    p = r.params;
    out.losses.push(r.loss);
    out.params.push(Object.fromEntries(TINY_NAMES.map((n) => [n, vals(p.get(n)!)])) as Record<TinyName, Vec>);
  }
  out.state = p;
  return out;
}

function referenceRun(c: Case, states: Record<string, ShampooState> = {}): Omit<Run, 'state'> {
  const stepper = shampoo64(states);
  let theta: Tensors = Object.fromEntries(
    TINY_NAMES.map((n) => [n, { shape: TINY_SHAPES[n], data: [...TINY_INIT[n]] }]),
  );
  const out: Omit<Run, 'state'> = { losses: [], params: [] };
  for (let t = 1; t <= 8; t++) {
    const h = resolveOptimizer(configAt(c, t)).hyper;
    const cur = Object.fromEntries(TINY_NAMES.map((n) => [n, theta[n]!.data])) as Record<TinyName, Vec>;
    const { loss, g } = tinyGrads(cur, BATCHES[(t - 1) % 2]!);
    out.losses.push(loss);
    theta = stepper(theta, g, t, h, () => h['lr'] as number);
    out.params.push(Object.fromEntries(TINY_NAMES.map((n) => [n, theta[n]!.data])) as Record<TinyName, Vec>);
  }
  return out;
}

/**
 * The compiled step's roots come from 20 (24) Newton steps, the reference's
 * from an eigendecomposition: on the tiny MLP (condition numbers up to about
 * 1e4 at eps = 1e-4) the iteration is converged to float64 rounding, so the
 * trajectories agree to 1e-9.
 */
const TOL = 1e-9;

describe('shampoo: 8-step trajectories of the tiny MLP against float64 code with exact roots', () => {
  for (const c of SHAMPOO_CASES)
    it(c.label, () => {
      const got = compiledRun(c);
      const states: Record<string, ShampooState> = {};
      const want = referenceRun(c, states);
      expectClose(got.losses, want.losses, TOL, 'losses');
      for (let t = 0; t < 8; t++)
        for (const n of TINY_NAMES) expectClose(got.params[t]![n], want.params[t]![n], TOL, `${n} after step ${t + 1}`);
      // The stored statistics and roots are the reference's too.
      expectClose(vals(got.state.get('w1.L')!), states['w1']!.L!, TOL, 'w1.L');
      expectClose(vals(got.state.get('w1.Rinv')!), states['w1']!.Rinv!, TOL, 'w1.Rinv');
      expectClose(vals(got.state.get('b1.Hinv')!), states['b1']!.Hinv!, TOL, 'b1.Hinv');
      expectClose(vals(got.state.get('b2.H')!), states['b2']!.H!, TOL, 'b2.H');
      for (const n of TINY_NAMES) expect(got.params[7]![n]).not.toEqual(TINY_INIT[n]);
    });

  it('update_interval 3: the roots are stored between refreshes (steps 2 and 3 reuse step 1 roots)', () => {
    const c = SHAMPOO_CASES[1]!;
    const at = (steps: number) => compiledRun(c, steps).state;
    const [s1, s2, s3, s4] = [at(1), at(2), at(3), at(4)];
    expect(vals(s2.get('w1.Linv')!)).toEqual(vals(s1.get('w1.Linv')!));
    expect(vals(s3.get('w1.Linv')!)).toEqual(vals(s1.get('w1.Linv')!));
    expect(vals(s4.get('w1.Linv')!)).not.toEqual(vals(s1.get('w1.Linv')!));
    // L accumulates on every step.
    expect(vals(s2.get('w1.L')!)).not.toEqual(vals(s1.get('w1.L')!));
  });
});

// ---------------------------------------------------------------------------
// The sheet's vectors (§41): θ after each of 3 steps, 9 significant digits

const SHEET: readonly { name: string; hyper: Record<string, number>; shape: number[]; expected: Vec[] }[] = [
  {
    name: 'shampoo(lr = 0.1), 2 × 3',
    hyper: { lr: 0.1 },
    shape: [2, 3],
    expected: [
      [0.955280429, -1.91056086, 0.5, 0.246566831, 0.773283416, -1.11985025],
      [0.927081492, -1.93263719, 0.545217433, 0.317610446, 0.736985092, -1.11797566],
      [0.924916011, -1.98498636, 0.524036194, 0.283176514, 0.745365982, -1.19307817],
    ],
  },
  {
    name: 'shampoo(lr = 0.1), rank 1',
    hyper: { lr: 0.1 },
    shape: [3],
    expected: [
      [0.955280429, -1.91056086, 0.5],
      [0.896892418, -1.94277573, 0.574495445],
      [0.857907506, -2.00917131, 0.510755233],
    ],
  },
  {
    name: 'shampoo(lr = 0.1, eps = 0.01, update_interval = 2), 2 × 3 (step 2 reuses step 1 roots)',
    hyper: { lr: 0.1, eps: 0.01, update_interval: 2 },
    shape: [2, 3],
    expected: [
      [0.95545646, -1.91091292, 0.5, 0.248360222, 0.774180111, -1.12254033],
      [0.903672012, -1.9412595, 0.556471317, 0.403465263, 0.730400861, -1.11979635],
      [0.901637565, -1.99341548, 0.535361637, 0.369209059, 0.738828258, -1.19463764],
    ],
  },
];
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

/** Half a unit in the 9th significant digit. */
function expectPrinted(actual: readonly number[], expected: readonly number[], what: string): void {
  actual.forEach((a, i) => {
    const e = expected[i]!;
    const half = 0.5 * 10 ** (Math.floor(Math.log10(Math.abs(e))) - 8);
    if (!(Math.abs(a - e) <= half * (1 + 1e-6))) throw new Error(`${what} element ${i}: got ${a}, expected ${e}`);
  });
}

describe('optimizers.md §41 test vectors', () => {
  for (const v of SHEET) {
    const [th0, grads] = v.shape.length === 2 ? [W0, WGRADS] : [THETA0, GRADS];
    const cfg: OptimizerConfig = { name: 'shampoo', hyper: v.hyper };
    it(`${v.name}: the float64 reference (exact roots)`, () => {
      const h = resolveOptimizer(cfg).hyper;
      const step = shampoo64();
      let th: Tensors = { theta: { shape: v.shape, data: [...th0] } };
      grads.forEach((g, i) => {
        th = step(th, { theta: g }, i + 1, h, () => v.hyper['lr']!);
        expectPrinted(th['theta']!.data, v.expected[i]!, `step ${i + 1}`);
      });
    });
    it(`${v.name}: the training step of a .kiln model (Newton roots) within 1e-8 (the vectors are printed to 9 digits)`, () => {
      const step = compileStep(`model probe(g: f32[${v.shape.join(', ')}]) {
          param theta: f32[${v.shape.join(', ')}] = zeros
          output loss = sum(theta * g)
        }
        train probe { minimize loss; optimizer ${shampooLine(v.hyper)} }`);
      let p = new Map([['theta', f32(v.shape, th0)], ...initialState(step)]);
      grads.forEach((g, i) => {
        p = referenceTrainStep(step, {
          params: p,
          batch: new Map([['g', f32(v.shape, g)]]),
          scalars: hostScalars(step.optimizer, undefined, i + 1),
          refresh: stepRefreshes(step, i + 1),
        }).params;
        expectClose(vals(p.get('theta')!), v.expected[i]!, 1e-8, `step ${i + 1}`);
      });
    });
  }
});

// ---------------------------------------------------------------------------
// The Newton iteration against exact roots (the sheet's table)

/** A symmetric positive definite n × n matrix with eigenvalues κ^(−i/(n−1)) in a random orthonormal basis. */
function spd(n: number, kappa: number, seed: number): Sym {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const q: Vec[] = [];
  for (let i = 0; i < n; i++) {
    let v = Array.from({ length: n }, rnd);
    for (const u of q) {
      const d = v.reduce((a, x, k) => a + x * u[k]!, 0);
      v = v.map((x, k) => x - d * u[k]!);
    }
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    q.push(v.map((x) => x / norm));
  }
  const a: Vec = Array(n * n).fill(0);
  q.forEach((u, k) => {
    const lam = kappa ** (-k / (n - 1));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j]! += u[i]! * lam * u[j]!;
  });
  return { n, a };
}

describe('shampoo: the Newton iteration for inverse roots against the eigendecomposition', () => {
  it('Jacobi reproduces A = V·diag(λ)·Vᵀ', () => {
    const m = spd(8, 1e3, 5);
    const r = exactInverseRoot(m, 1);
    // A^(−1)·A = I.
    const prod = Array.from({ length: 64 }, (_v, k) => {
      const [i, j] = [Math.floor(k / 8), k % 8];
      return r.slice(i * 8, i * 8 + 8).reduce((s, x, q) => s + x * m.a[q * 8 + j]!, 0);
    });
    expectClose(
      prod,
      Array.from({ length: 64 }, (_v, k) => (Math.floor(k / 8) === k % 8 ? 1 : 0)),
      1e-11,
      'A⁻¹A',
    );
  });

  // The sheet's table (float64, n = 16): relative Frobenius error at the rule's step counts.
  for (const p of [2, 4] as const)
    for (const [kappa, bound] of [
      [1e2, 1e-13],
      [1e4, 1e-12],
      [1e6, 1e-10],
    ] as const)
      it(`p = ${p}, κ = ${kappa}: ${ROOT_STEPS[p]} steps within ${bound}`, () => {
        const m = spd(16, kappa, 3);
        expect(relativeError(newtonInverseRoot(m, p, ROOT_STEPS[p]), exactInverseRoot(m, p))).toBeLessThan(bound);
      });

  it('κ = 1e8 is past the fixed step count (documented: not converged)', () => {
    const m = spd(16, 1e8, 3);
    expect(relativeError(newtonInverseRoot(m, 4, ROOT_STEPS[4]), exactInverseRoot(m, 4))).toBeGreaterThan(1e-3);
  });

  /** One refreshing step of a 4 × 3 probe whose gradient is g, on the reference interpreter: its L, R and roots. */
  function probe(eps: number, g: readonly number[]) {
    const step = compileStep(`model probe(g: f32[4, 3]) {
        param theta: f32[4, 3] = zeros
        output loss = sum(theta * g)
      }
      train probe { minimize loss; optimizer shampoo(lr = 0.1, eps = ${eps}) }`);
    const r = referenceTrainStep(step, {
      params: new Map([['theta', f32([4, 3], Array(12).fill(0))], ...initialState(step)]),
      batch: new Map([['g', f32([4, 3], g)]]),
      scalars: hostScalars(step.optimizer, undefined, 1),
      refresh: true,
    }).params;
    const get = (name: string) => vals(r.get(`theta.${name}`)!);
    return { L: { n: 4, a: get('L') }, R: { n: 3, a: get('R') }, Linv: get('Linv'), Rinv: get('Rinv') };
  }
  const G = [0.5, -1.0, 0.0, 0.2, 0.1, -0.3, 0.3, 0.2, -0.4, -0.6, 0.5, 0.1];

  it('the compiled step (reference interpreter) computes the same roots: L of a 4 × 3 probe, κ up to 1e6', () => {
    for (const eps of [1e-2, 1e-4]) {
      const { L, R, Linv, Rinv } = probe(eps, G);
      // L = eps·I + G·Gᵀ (rank 3 in 4 × 4: its smallest eigenvalue is eps), under the floor: unchanged.
      expect(floored(L, eps)).toEqual(L);
      expect(relativeError(Linv, exactInverseRoot(L, 4)), `eps ${eps}`).toBeLessThan(1e-10);
      expect(relativeError(Rinv, exactInverseRoot(R, 4))).toBeLessThan(1e-10);
    }
  });

  it('past condition number 1e6 the damping is floored at 1e-6·‖L‖_F (eps 1e-6; a gradient 100× larger at eps 1e-4)', () => {
    for (const [eps, scale] of [
      [1e-6, 1],
      [1e-4, 100],
    ] as const) {
      const { L, R, Linv, Rinv } = probe(
        eps,
        G.map((x) => x * scale),
      );
      const norm = Math.sqrt(L.a.reduce((s, x) => s + x * x, 0));
      expect(norm * 1e-6, 'the floor is above eps').toBeGreaterThan(eps);
      expect(relativeError(Linv, exactInverseRoot(floored(L, eps), 4)), `eps ${eps}`).toBeLessThan(1e-10);
      expect(relativeError(Rinv, exactInverseRoot(floored(R, eps), 4))).toBeLessThan(1e-10);
      // The floor changed the root: L's smallest eigenvalue (eps) is raised to 1e-6·‖L‖_F.
      expect(relativeError(Linv, exactInverseRoot(L, 4))).toBeGreaterThan(0.1);
    }
  });
});

// ---------------------------------------------------------------------------
// Step graphs: state, the two programs, resume

describe('the shampoo step graphs', () => {
  it('state: L, R and their roots for matrices ([m, m], [n, n]), H and its root for vectors and scalars', () => {
    const st = compileStep(tinySrc('shampoo(lr = 0.1)')).state.map((s) => [s.name, s.shape]);
    expect(st).toEqual([
      ['w1.L', [2, 2]],
      ['w1.R', [3, 3]],
      ['w1.Linv', [2, 2]],
      ['w1.Rinv', [3, 3]],
      ['b1.H', [3, 3]],
      ['b1.Hinv', [3, 3]],
      ['w2.L', [3, 3]],
      ['w2.R', [1, 1]],
      ['w2.Linv', [3, 3]],
      ['w2.Rinv', [1, 1]],
      ['b2.H', [1, 1]],
      ['b2.Hinv', [1, 1]],
    ]);
  });

  it('modifiers keep their own state in the param shape: lookahead(shampoo), ema, cautious', () => {
    const st = (line: string) =>
      compileStep(tinySrc(line))
        .state.filter((s) => s.param === 'w1')
        .map((s) => [s.name, s.shape]);
    expect(st('lookahead(shampoo(lr = 0.1), k = 2)')).toEqual([
      ['w1.L', [2, 2]],
      ['w1.R', [3, 3]],
      ['w1.Linv', [2, 2]],
      ['w1.Rinv', [3, 3]],
      ['w1.slow', [2, 3]],
    ]);
    expect(st('shampoo(lr = 0.1, ema = 0.9)').at(-1)).toEqual(['w1.ema', [2, 3]]);
    const b1 = compileStep(tinySrc('shampoo(lr = 0.1, ema = 0.9, cautious = true)')).state.filter(
      (s) => s.param === 'b1',
    );
    expect(b1.map((s) => [s.name, s.shape])).toEqual([
      ['b1.H', [3, 3]],
      ['b1.Hinv', [3, 3]],
      ['b1.ema', [3]],
    ]);
    // The wrapped rule still has two programs.
    expect(compileStep(tinySrc('lookahead(shampoo(lr = 0.1, update_interval = 3))')).plain?.every).toBe(
      'update_interval',
    );
  });

  it('rank 4: first dim × the rest', () => {
    const step = compileStep(`model conv(g: f32[2, 3, 2, 2]) {
        param k: f32[2, 3, 2, 2] = zeros
        output loss = sum(k * g)
      }
      train conv { minimize loss; optimizer shampoo(lr = 0.1) }`);
    expect(step.state.map((s) => [s.name, s.shape])).toEqual([
      ['k.L', [2, 2]],
      ['k.R', [12, 12]],
      ['k.Linv', [2, 2]],
      ['k.Rinv', [12, 12]],
    ]);
  });

  it('two programs: the plain one has no root iteration and keeps the stored roots', () => {
    const step = compileStep(tinySrc('shampoo(lr = 0.1, update_interval = 4)'));
    expect(step.plain?.every).toBe('update_interval');
    const matmuls = (g: TrainStep['graph']) => {
      let n = 0;
      const seen = new Set<number>();
      const walk = (x: {
        id: number;
        op: string;
        inputs: readonly { id: number; op: string; inputs: readonly unknown[] }[];
      }) => {
        if (seen.has(x.id)) return;
        seen.add(x.id);
        if (x.op === 'matmul') n++;
        for (const i of x.inputs) walk(i as Parameters<typeof walk>[0]);
      };
      for (const o of g.outputs) walk(o.node as unknown as Parameters<typeof walk>[0]);
      return n;
    };
    const [refreshing, plain] = [matmuls(step.graph), matmuls(step.plain!.graph)];
    expect(plain).toBeLessThan(refreshing / 10);
    // Neither draws random numbers: no @seed input.
    expect(step.graph.inputs.map((i) => i.name)).not.toContain('@seed');
    expect(plain).toBeGreaterThan(0);
  });

  it('a resumed run continues bit for bit (state and t are all it needs)', () => {
    for (const c of SHAMPOO_CASES) {
      const straight = compiledRun(c, 8);
      const first = compiledRun(c, 4).state;
      const again = compileStep(tinySrc(shampooLine(c.hyper)));
      let p = first;
      for (let t = 5; t <= 8; t++)
        p = referenceTrainStep(again, {
          params: p,
          batch: tinyBatch(t),
          scalars: hostScalars(configAt(c, t), undefined, t),
          refresh: stepRefreshes(again, t, configAt(c, t)),
        }).params;
      for (const [k, v] of straight.state) expect(vals(p.get(k)!), `${c.label}: ${k}`).toEqual(vals(v));
    }
  });
});

// ---------------------------------------------------------------------------
// Compile errors

describe('compile errors for bad shampoo hyperparameters', () => {
  const errors = (line: string) => compileSource('bad.kiln', tinySrc(line)).result.diagnostics.map((d) => d.message);
  const cases: [string, string][] = [
    ['shampoo', 'shampoo needs lr'],
    ['shampoo(lr = 0.1, eps = 0)', "'eps' of shampoo must be a finite number > 0, got 0"],
    ['shampoo(lr = 0.1, eps = -1)', "'eps' of shampoo must be a finite number > 0"],
    ['shampoo(lr = 0.1, update_interval = 0)', "'update_interval' of shampoo must be an integer >= 1, got 0"],
    ['shampoo(lr = 0.1, update_interval = 1.5)', "'update_interval' of shampoo must be an integer >= 1"],
    ['shampoo(lr = -0.1)', "'lr' of shampoo must be a finite number >= 0"],
    ['shampoo(lr = 0.1, b1 = 0.9)', "unknown argument 'b1' for shampoo"],
  ];
  for (const [line, msg] of cases)
    it(line, () => {
      const got = errors(line);
      expect(
        got.some((m) => m.includes(msg)),
        got.join('\n'),
      ).toBe(true);
    });
  it('the defaults compile', () => expect(errors('shampoo(lr = 0.01)')).toEqual([]));
});

// ---------------------------------------------------------------------------
// Kernel counts (README, "Optimizers")

describe('kernel counts of the MLP example step (examples/mlp.kiln)', () => {
  const src = readFileSync(new URL('../../examples/mlp.kiln', import.meta.url), 'utf8');
  const kernels = (line: string) => {
    const step = compileStep(src.replace('adam(lr = 1e-3)', line));
    return [step.graph, step.plain?.graph].map((g) => (g ? compileGraph(g).fusion.program.kernels.length : 0));
  };
  it('refreshing / plain', () => {
    expect(kernels('adam(lr = 1e-3)')).toEqual([9, 0]);
    expect(kernels('shampoo(lr = 1e-3, update_interval = 10)')).toEqual([359, 21]);
  });
});
