// Float64 references of the Wave 2 optimizers (optimizers.md §29 Muon, §30
// Schedule-Free AdamW, §39 Prodigy), written from the sheet's formulas in the
// optax forms, independently of the IR rules: whole-model steppers over named
// tensors (Prodigy's d is a whole-model value), used by the trajectory tests
// (tests/compiler/optimizers-wave2.test.ts) and for the sheet's test vectors.

import type { HyperValue } from '../../runtime/optimizers/spec.js';

type Vec = number[];
type Hyper = Readonly<Record<string, HyperValue>>;

export interface Named {
  readonly shape: readonly number[];
  data: Vec;
}
export type Tensors = Record<string, Named>;

/** One step: the new params from the old, the gradients, t (1 for the first) and the lr at a step count. */
export type ModelStep = (
  theta: Tensors,
  grads: Readonly<Record<string, Vec>>,
  t: number,
  h: Hyper,
  lrAt: (n: number) => number,
) => Tensors;

const num = (h: Hyper, k: string) => h[k] as number;
const clone = (x: Tensors): Tensors =>
  Object.fromEntries(Object.entries(x).map(([k, v]) => [k, { shape: v.shape, data: [...v.data] }]));

// ---------------------------------------------------------------------------
// Matrices (row-major)

type Mat = { r: number; c: number; a: Vec };
const mat = (r: number, c: number, a: Vec): Mat => ({ r, c, a });
const T = (m: Mat): Mat => {
  const a: Vec = [];
  for (let j = 0; j < m.c; j++) for (let i = 0; i < m.r; i++) a.push(m.a[i * m.c + j]!);
  return mat(m.c, m.r, a);
};
const mm = (x: Mat, y: Mat): Mat => {
  const a: Vec = Array(x.r * y.c).fill(0);
  for (let i = 0; i < x.r; i++)
    for (let j = 0; j < y.c; j++) {
      let s = 0;
      for (let k = 0; k < x.c; k++) s += x.a[i * x.c + k]! * y.a[k * y.c + j]!;
      a[i * y.c + j] = s;
    }
  return mat(x.r, y.c, a);
};
const lin = (p: number, x: Mat, q: number, y: Mat): Mat =>
  mat(
    x.r,
    x.c,
    x.a.map((v, i) => p * v + q * y.a[i]!),
  );

/** optax orthogonalize_via_newton_schulz, frobenius preconditioning (§29). */
export function newtonSchulz64(u: Mat, steps: number, eps: number): Mat {
  const tall = u.r > u.c;
  let x = tall ? T(u) : u;
  const n = Math.sqrt(x.a.reduce((s, v) => s + v * v, 0));
  x = mat(
    x.r,
    x.c,
    x.a.map((v) => v / (n + eps)),
  );
  const [a, b, c] = [3.4445, -4.775, 2.0315];
  for (let i = 0; i < steps; i++) {
    const A = mm(x, T(x));
    const Bm = lin(b, A, c, mm(A, A));
    x = lin(a, x, 1, mm(Bm, x));
  }
  return tall ? T(x) : x;
}

// ---------------------------------------------------------------------------
// The optimizers

/** optax contrib.muon: rank-2 tensors on the Muon branch, the rest on adamw(adam_b1, adam_b2, eps, nesterov). */
export function muon64(): ModelStep {
  const m: Record<string, Vec> = {};
  const v: Record<string, Vec> = {};
  return (theta, grads, t, h, lrAt) => {
    const lr = lrAt(t - 1);
    const base = num(h, 'lr');
    const adamLr = typeof h['adam_lr'] === 'number' ? (num(h, 'adam_lr') * lr) / base : lr;
    const nesterov = h['nesterov'] === true;
    // optax: nesterov ? β·m̂_{t+1}-style correction of m plus (1 − β)·ĝ : m/(1 − β^t).
    const hat = (beta: number, mv: Vec, g: Vec) =>
      mv.map((x, i) =>
        nesterov ? (beta * x) / (1 - beta ** (t + 1)) + ((1 - beta) * g[i]!) / (1 - beta ** t) : x / (1 - beta ** t),
      );
    const out = clone(theta);
    for (const [name, p] of Object.entries(theta)) {
      const g = grads[name]!;
      if (p.shape.length === 2) {
        const beta = num(h, 'beta');
        m[name] = (m[name] ?? g.map(() => 0)).map((x, i) => beta * x + (1 - beta) * g[i]!);
        const [r, c] = p.shape as [number, number];
        const o = newtonSchulz64(mat(r, c, hat(beta, m[name]!, g)), num(h, 'ns_steps'), num(h, 'eps'));
        const s = Math.sqrt(Math.max(1, c / r));
        out[name]!.data = p.data.map((x, i) => x - lr * (s * o.a[i]! + num(h, 'weight_decay') * x));
      } else {
        const [b1, b2, eps] = [num(h, 'adam_b1'), num(h, 'adam_b2'), num(h, 'eps')];
        m[name] = (m[name] ?? g.map(() => 0)).map((x, i) => b1 * x + (1 - b1) * g[i]!);
        v[name] = (v[name] ?? g.map(() => 0)).map((x, i) => b2 * x + (1 - b2) * g[i]! ** 2);
        const mh = hat(b1, m[name]!, g);
        out[name]!.data = p.data.map((x, i) => x - (adamLr * mh[i]!) / (Math.sqrt(v[name]![i]! / (1 - b2 ** t)) + eps));
      }
    }
    return out;
  };
}

/** The d and numerator of a Prodigy run, after each step (for the tests). */
export interface ProdigyTrace {
  d: number[];
}

/** optax contrib.prodigy (§39), d updated before the parameter step reads it in eps·d. */
export function prodigy64(trace?: ProdigyTrace): ModelStep {
  let d = NaN;
  let numerator = 0;
  const st: Record<string, { m: Vec; v: Vec; s: Vec; p0: Vec }> = {};
  return (theta, grads, t, h, lrAt) => {
    const [b1, b2, eps, d0, coef, wd] = ['b1', 'b2', 'eps', 'd0', 'd_coef', 'weight_decay'].map((k) => num(h, k)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const b3 = typeof h['b3'] === 'number' ? num(h, 'b3') : Math.sqrt(b2);
    if (t === 1) d = d0;
    const lr = lrAt(t - 1);
    const dlr = (d * lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    let dot = 0;
    let den = 0;
    for (const [name, p] of Object.entries(theta)) {
      const g = grads[name]!;
      const z = g.map(() => 0);
      const s = (st[name] ??= { m: [...z], v: [...z], s: [...z], p0: [...p.data] });
      dot += g.reduce((a, x, i) => a + x * (s.p0[i]! - p.data[i]!), 0);
      s.m = s.m.map((x, i) => b1 * x + (1 - b1) * d * g[i]!);
      s.v = s.v.map((x, i) => b2 * x + (1 - b2) * d * d * g[i]! ** 2);
      const k = h['safeguard_warmup'] === true ? (d / d0) * d : (d / d0) * dlr;
      s.s = s.s.map((x, i) => b3 * x + k * g[i]!);
      den += s.s.reduce((a, x) => a + Math.abs(x), 0);
    }
    numerator = b3 * numerator + (d / d0) * dlr * dot;
    const dNew = den > 0 ? Math.max(d, (coef * numerator) / den) : d;
    const out = clone(theta);
    for (const [name, p] of Object.entries(theta)) {
      const s = st[name]!;
      out[name]!.data = p.data.map((x, i) => x - wd * dlr * x - (dlr * s.m[i]!) / (Math.sqrt(s.v[i]!) + dNew * eps));
    }
    d = dNew;
    trace?.d.push(d);
    return out;
  };
}

/** The evaluation points x of a schedule-free run, after each step. */
export interface EvalTrace {
  x: Tensors[];
}

/** optax contrib.schedule_free_adamw (§30): z and the lr history as state, x rebuilt from y and z as optax does. */
export function scheduleFree64(trace?: EvalTrace): ModelStep {
  const z: Record<string, Vec> = {};
  const v: Record<string, Vec> = {};
  let maxLr = 0;
  let total = 0;
  return (theta, grads, t, h, lrAt) => {
    const [b1, b2, eps, wd, W, power] = ['b1', 'b2', 'eps', 'weight_decay', 'warmup', 'weight_lr_power'].map((k) =>
      num(h, k),
    ) as [number, number, number, number, number, number];
    const sched = (n: number) => lrAt(n) * (W > 0 && n < W ? n / W : 1);
    const lr = sched(t - 1);
    maxLr = Math.max(maxLr, sched(t));
    const w = maxLr ** power;
    total += w;
    const c = total > 0 ? w / total : 0;
    const out = clone(theta);
    const xs = clone(theta);
    for (const [name, p] of Object.entries(theta)) {
      const g = grads[name]!;
      const zPrev = (z[name] ??= [...p.data]);
      v[name] = (v[name] ?? g.map(() => 0)).map((x, i) => b2 * x + (1 - b2) * g[i]! ** 2);
      const zNew = zPrev.map(
        (x, i) => x - lr * (g[i]! / (Math.sqrt(v[name]![i]! / (1 - b2 ** t)) + eps) + wd * p.data[i]!),
      );
      const xPrev = p.data.map((y, i) => (y - (1 - b1) * zPrev[i]!) / b1);
      const x = xPrev.map((xp, i) => (1 - c) * xp + c * zNew[i]!);
      out[name]!.data = x.map((xi, i) => b1 * xi + (1 - b1) * zNew[i]!);
      xs[name]!.data = x;
      z[name] = zNew;
    }
    trace?.x.push(xs);
    return out;
  };
}

export const WAVE2_REFERENCES: Readonly<Record<string, (trace?: ProdigyTrace & EvalTrace) => ModelStep>> = {
  muon: () => muon64(),
  prodigy: (tr) => prodigy64(tr),
  schedule_free_adamw: (tr) => scheduleFree64(tr),
};
