// A float64 reference of Shampoo (optimizers.md "Wave 2 canonical forms",
// Gupta et al. 2018, original form), written from the sheet, independently
// of the IR rule: exact inverse roots by a Jacobi eigendecomposition, not the
// rule's Newton iteration. Also that Newton iteration in float64 alone, for
// the sheet's accuracy table (root error against iteration count and
// condition number).

import type { HyperValue } from '../../runtime/optimizers/spec.js';
import type { ModelStep, Tensors } from './wave2-reference.js';

type Vec = number[];

/** A symmetric n × n matrix, row-major. */
export interface Sym {
  readonly n: number;
  readonly a: Vec;
}

const eye = (n: number): Vec => Array.from({ length: n * n }, (_v, k) => (Math.floor(k / n) === k % n ? 1 : 0));

/** x·y of n × n matrices. */
export function matmul(n: number, x: Vec, y: Vec): Vec {
  const out: Vec = Array(n * n).fill(0);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const xik = x[i * n + k]!;
      for (let j = 0; j < n; j++) out[i * n + j]! += xik * y[k * n + j]!;
    }
  return out;
}

/**
 * Cyclic Jacobi: A = V·diag(λ)·Vᵀ for symmetric A (rotations until every
 * off-diagonal entry is below 1e-15 of the Frobenius norm). Columns of V are
 * the eigenvectors.
 */
export function jacobiEigen(m: Sym): { values: Vec; vectors: Vec } {
  const n = m.n;
  const a = [...m.a];
  const v = eye(n);
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (Math.sqrt(off) <= 1e-15 * norm) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: Array.from({ length: n }, (_x, i) => a[i * n + i]!), vectors: v };
}

/** A^(−1/p) of a symmetric positive definite A, exactly (to float64) through its eigendecomposition. */
export function exactInverseRoot(m: Sym, p: number): Vec {
  const n = m.n;
  const { values, vectors } = jacobiEigen(m);
  const out: Vec = Array(n * n).fill(0);
  for (let k = 0; k < n; k++) {
    const s = values[k]! ** (-1 / p);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) out[i * n + j]! += vectors[i * n + k]! * s * vectors[j * n + k]!;
  }
  return out;
}

/**
 * Kiln's damping floor (its one departure from the sheet): A + max(0,
 * 1e-6·‖A‖_F − eps)·I, written here from the README's statement of it.
 */
export function floored(m: Sym, eps: number): Sym {
  const raise = Math.max(0, 1e-6 * Math.sqrt(m.a.reduce((s, x) => s + x * x, 0)) - eps);
  return { n: m.n, a: m.a.map((x, k) => (Math.floor(k / m.n) === k % m.n ? x + raise : x)) };
}

/**
 * The coupled Newton iteration for A^(−1/p) (Guo & Higham 2006) that the IR
 * rule compiles, in float64: z = (1 + p)/(2‖A‖_F), M = z·A, H = z^(1/p)·I,
 * then `steps` times Mi = ((p + 1)·I − M)/p, M = Mi^p·M, H = H·Mi.
 */
export function newtonInverseRoot(m: Sym, p: number, steps: number): Vec {
  const n = m.n;
  const I = eye(n);
  const z = (1 + p) / (2 * Math.sqrt(m.a.reduce((s, x) => s + x * x, 0)));
  let M = m.a.map((x) => z * x);
  let H = I.map((x) => x * z ** (1 / p));
  for (let i = 0; i < steps; i++) {
    const Mi = I.map((x, k) => ((p + 1) * x - M[k]!) / p);
    let P = Mi;
    for (let j = 1; j < p; j++) P = matmul(n, P, Mi);
    M = matmul(n, P, M);
    H = matmul(n, H, Mi);
  }
  return H;
}

/** ‖X − Y‖_F / ‖Y‖_F. */
export function relativeError(x: Vec, y: Vec): number {
  const d = Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0));
  return d / Math.sqrt(y.reduce((s, v) => s + v * v, 0));
}

/** X·Xᵀ of an r × c matrix. */
const gram = (r: number, c: number, x: Vec): Vec => {
  const out: Vec = Array(r * r).fill(0);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += x[i * c + k]! * x[j * c + k]!;
      out[i * r + j] = s;
    }
  return out;
};
const transpose = (r: number, c: number, x: Vec): Vec =>
  Array.from({ length: r * c }, (_v, k) => x[(k % r) * c + Math.floor(k / r)]!);

/** The matrix view of a param: [rows, cols] (rank ≥ 2: first dim × rest), or a vector (rank 0 and 1). */
export function shampooView(shape: readonly number[]): { rows: number; cols: number } | { n: number } {
  const n = shape.reduce((a, d) => a * d, 1);
  return shape.length >= 2 ? { rows: shape[0]!, cols: n / shape[0]! } : { n };
}

/** What the reference keeps per param, for the tests to compare with the compiled state. */
export interface ShampooState {
  L?: Vec;
  R?: Vec;
  Linv?: Vec;
  Rinv?: Vec;
  H?: Vec;
  Hinv?: Vec;
}

/**
 * Shampoo in float64 with exact roots: rank ≥ 2 as [m, n] = [first dim, rest]:
 * L += G·Gᵀ, R += Gᵀ·G (from eps·I), roots L^(−1/4), R^(−1/4) (of the
 * floored statistics) refreshed
 * when (t − 1) % update_interval == 0, W −= lr·L^(−1/4)·G·R^(−1/4); rank 0
 * and 1 as a vector: H += g·gᵀ, w −= lr·H^(−1/2)·g.
 */
export function shampoo64(states: Record<string, ShampooState> = {}): ModelStep {
  return (theta: Tensors, grads, t, h: Readonly<Record<string, HyperValue>>, lrAt) => {
    const lr = lrAt(t - 1);
    const eps = h['eps'] as number;
    const k = h['update_interval'] as number;
    const refresh = (t - 1) % k === 0;
    const out: Tensors = {};
    for (const [name, p] of Object.entries(theta)) {
      const g = grads[name]!;
      const st = (states[name] ??= {});
      const view = shampooView(p.shape);
      let step: Vec;
      if ('rows' in view) {
        const { rows: m, cols: n } = view;
        st.L = (st.L ?? eye(m).map((x) => eps * x)).map((x, i) => x + gram(m, n, g)[i]!);
        st.R = (st.R ?? eye(n).map((x) => eps * x)).map((x, i) => x + gram(n, m, transpose(m, n, g))[i]!);
        if (refresh) {
          st.Linv = exactInverseRoot(floored({ n: m, a: st.L }, eps), 4);
          st.Rinv = exactInverseRoot(floored({ n, a: st.R }, eps), 4);
        }
        // Linv·G·Rinv.
        const lg: Vec = Array(m * n).fill(0);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++)
            for (let q = 0; q < m; q++) lg[i * n + j]! += st.Linv![i * m + q]! * g[q * n + j]!;
        step = Array(m * n).fill(0);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++)
            for (let q = 0; q < n; q++) step[i * n + j]! += lg[i * n + q]! * st.Rinv![q * n + j]!;
      } else {
        const n = view.n;
        st.H = (st.H ?? eye(n).map((x) => eps * x)).map((x, i) => x + g[Math.floor(i / n)]! * g[i % n]!);
        if (refresh) st.Hinv = exactInverseRoot(floored({ n, a: st.H }, eps), 2);
        step = Array.from({ length: n }, (_v, i) => g.reduce((s, gj, j) => s + st.Hinv![i * n + j]! * gj, 0));
      }
      out[name] = { shape: p.shape, data: p.data.map((x, i) => x - lr * step[i]!) };
    }
    return out;
  };
}

/** The trajectory cases of Shampoo on the tiny MLP (rank-2 w1, w2; rank-1 b1; rank-0 b2), shared by the reference, wasm and webgpu tests. */
export const SHAMPOO_CASES: readonly {
  readonly label: string;
  readonly hyper: Readonly<Record<string, number>>;
  /** From step 5 on (setHyperparameter on the runtimes). */
  readonly change?: Readonly<Record<string, number>>;
}[] = [
  { label: 'shampoo, defaults (eps 1e-4, update_interval 1)', hyper: { lr: 0.05 } },
  {
    label: 'shampoo, eps 0.01, update_interval 3 then 2 and lr 0.03 from step 5',
    hyper: { lr: 0.05, eps: 0.01, update_interval: 3 },
    change: { lr: 0.03, update_interval: 2 },
  },
];

/** The case's optimizer line. */
export const shampooLine = (hyper: Readonly<Record<string, number>>): string =>
  `shampoo(${Object.entries(hyper)
    .map(([k, v]) => `${k} = ${v}`)
    .join(', ')})`;
