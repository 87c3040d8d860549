// AdaHessian and Sophia on a model whose loss Hessian is diagonal, shared by
// the reference tests (tests/compiler/curvature.test.ts) and the wasm/webgpu
// tests (tests/runtime/curvature-wasm.test.ts). The loss of the `quad` model
//   L = Σ a⊙w²/2 + Σ c⊙w + Σ ak⊙k²/2 + Σ ck⊙k
// has gradient a⊙w + c and Hessian diag(a) (k likewise), so the Rademacher
// Hutchinson estimate z ⊙ (H·z) = a exactly, whatever the probe z: the
// trajectories are deterministic, and computed here in float64 from the
// sheet's formulas (optimizers.md §28b, §28c), not by Kiln.

import type { HyperValue, OptimizerConfig } from '../../runtime/optimizers/spec.js';

type Vec = number[];
type Hyper = Readonly<Record<string, HyperValue>>;

export const QUAD_NAMES = ['w', 'k'] as const;
export type QuadName = (typeof QUAD_NAMES)[number];
/** `k` is a 4-D conv kernel (OIHW): AdaHessian averages its curvature over H, W. */
export const QUAD_SHAPES: Record<QuadName, number[]> = { w: [3], k: [2, 1, 2, 2] };
export const QUAD_INIT: Record<QuadName, Vec> = {
  w: [1, -2, 0.5],
  k: [0.25, -0.5, 1.5, -1, 0.75, 2, -0.25, 0.5],
};
/** Two batches, alternating; negative curvature entries on purpose (|D| for AdaHessian, max(γh, eps) for Sophia). */
export const QUAD_BATCHES: readonly { readonly a: Record<QuadName, Vec>; readonly c: Record<QuadName, Vec> }[] = [
  {
    a: { w: [2, 0.5, -0.25], k: [1, 3, 0.5, 2, -1, 0.25, 4, 1.5] },
    c: { w: [0.5, -1, 0.25], k: [0.125, -0.5, 1, 0.25, -0.75, 0.5, 0, -0.25] },
  },
  {
    a: { w: [1, 1.5, 0.75], k: [0.5, 2, 1, 1, 2, -0.5, 3, 0.25] },
    c: { w: [-0.25, 0.5, 1], k: [0.5, 0.25, -0.5, 1, 0.25, -0.125, 0.75, 0.5] },
  },
];

export const quadSrc = (line: string) => `model quad(a: f32[3], c: f32[3], ak: f32[2, 1, 2, 2], ck: f32[2, 1, 2, 2]) {
    param w: f32[3] = zeros
    param k: f32[2, 1, 2, 2] = zeros
    output loss = sum(a * w * w) / 2 + sum(c * w) + sum(ak * k * k) / 2 + sum(ck * k)
  }
  train quad {
    minimize loss
    optimizer ${line}
  }`;

export interface CurvatureCase {
  readonly label: string;
  readonly opt: OptimizerConfig;
  /** Hyperparameters changed from step 5 on (run-time scalars: no recompile). */
  readonly change?: Hyper;
}

const o = (name: string, hyper: Hyper): OptimizerConfig => ({ name, hyper });

export const CURVATURE_CASES: readonly CurvatureCase[] = [
  { label: 'adahessian', opt: o('adahessian', { lr: 0.15, weight_decay: 0.01 }), change: { lr: 0.05, b2: 0.99 } },
  {
    label: 'adahessian, hessian_power 0.5, update_interval 3',
    opt: o('adahessian', { lr: 0.1, b1: 0.8, b2: 0.95, eps: 1e-3, hessian_power: 0.5, update_interval: 3 }),
    change: { hessian_power: 0.75, weight_decay: 0.05 },
  },
  {
    label: 'sophia, update_interval 1',
    opt: o('sophia', { lr: 0.05, gamma: 0.5, update_interval: 1, weight_decay: 0.01 }),
    change: { lr: 0.02, gamma: 0.25 },
  },
  {
    label: 'sophia, defaults (update_interval 10), clip 0.5',
    opt: o('sophia', { lr: 0.05, clip_threshold: 0.5 }),
    change: { update_interval: 2, b2: 0.9 },
  },
];

/** The config of step t: the case's changes from step 5 on. */
export function curvatureConfigAt(c: CurvatureCase, t: number): OptimizerConfig {
  return t >= 5 && c.change ? { ...c.opt, hyper: { ...c.opt.hyper, ...c.change } } : c.opt;
}

/** The batch of step t (1-based) as named inputs. */
export function quadBatch(t: number): Record<'a' | 'c' | 'ak' | 'ck', Vec> {
  const d = QUAD_BATCHES[(t - 1) % 2]!;
  return { a: d.a.w, c: d.c.w, ak: d.a.k, ck: d.c.k };
}

const ADAHESSIAN_DEFAULTS = {
  lr: 0.15,
  b1: 0.9,
  b2: 0.999,
  eps: 1e-4,
  weight_decay: 0,
  hessian_power: 1,
  update_interval: 1,
};
const SOPHIA_DEFAULTS = {
  b1: 0.965,
  b2: 0.99,
  eps: 1e-8,
  weight_decay: 1e-4,
  gamma: 0.01,
  clip_threshold: 1,
  update_interval: 10,
};

/** AdaHessian's D for a param: |diag H|, a 4-D kernel's averaged over its last two dims. */
function adahessianD(a: Vec, shape: readonly number[]): Vec {
  const abs = a.map(Math.abs);
  if (shape.length !== 4) return abs;
  const block = shape[2]! * shape[3]!;
  return abs.map((_x, i) => {
    const start = Math.floor(i / block) * block;
    return abs.slice(start, start + block).reduce((s, x) => s + x, 0) / block;
  });
}

export interface QuadTrajectory {
  readonly losses: number[];
  /** Params and state after each step, by name (`w`, `w.m`, ...). */
  readonly after: Record<string, Vec>[];
}

/** The float64 trajectory of `steps` steps, written from the sheet's formulas. */
export function quadReference(c: CurvatureCase, steps = 8): QuadTrajectory {
  const name = c.opt.name;
  const st: Record<string, Vec> = {};
  for (const n of QUAD_NAMES) {
    st[n] = [...QUAD_INIT[n]];
    for (const s of name === 'adahessian' ? ['m', 'v', 'd'] : ['m', 'h']) st[`${n}.${s}`] = QUAD_INIT[n].map(() => 0);
  }
  const out: QuadTrajectory = { losses: [], after: [] };
  for (let t = 1; t <= steps; t++) {
    const h = {
      ...(name === 'adahessian' ? ADAHESSIAN_DEFAULTS : SOPHIA_DEFAULTS),
      ...curvatureConfigAt(c, t).hyper,
    } as Record<string, number>;
    const batch = QUAD_BATCHES[(t - 1) % 2]!;
    const refresh = (t - 1) % h['update_interval']! === 0;
    let loss = 0;
    for (const n of QUAD_NAMES) {
      const [a, cc, th] = [batch.a[n], batch.c[n], st[n]!];
      th.forEach((x, i) => (loss += (a[i]! * x * x) / 2 + cc[i]! * x));
      const g = th.map((x, i) => a[i]! * x + cc[i]!);
      const m = st[`${n}.m`]!.map((m0, i) => h['b1']! * m0 + (1 - h['b1']!) * g[i]!);
      const bc1 = 1 - h['b1']! ** t;
      const [lr, wd] = [h['lr']!, h['weight_decay']!];
      if (name === 'adahessian') {
        const d = refresh ? adahessianD(a, QUAD_SHAPES[n]) : st[`${n}.d`]!;
        const v = st[`${n}.v`]!.map((v0, i) => h['b2']! * v0 + (1 - h['b2']!) * d[i]! * d[i]!);
        const bc2 = 1 - h['b2']! ** t;
        st[n] = th.map((x, i) => {
          const denom = (Math.sqrt(v[i]!) / Math.sqrt(bc2)) ** h['hessian_power']! + h['eps']!;
          return x - lr * (m[i]! / bc1 / denom + wd * x);
        });
        Object.assign(st, { [`${n}.m`]: m, [`${n}.v`]: v, [`${n}.d`]: [...d] });
      } else {
        const hh = st[`${n}.h`]!;
        const clip = h['clip_threshold']!;
        st[n] = th.map((x, i) => {
          const u = Math.min(Math.max(m[i]! / bc1 / Math.max(h['gamma']! * hh[i]!, h['eps']!), -clip), clip);
          return x - lr * (u + wd * x);
        });
        const next = refresh ? hh.map((h0, i) => h['b2']! * h0 + (1 - h['b2']!) * a[i]!) : hh;
        Object.assign(st, { [`${n}.m`]: m, [`${n}.h`]: next });
      }
    }
    out.losses.push(loss);
    out.after.push(structuredClone(st));
  }
  return out;
}
