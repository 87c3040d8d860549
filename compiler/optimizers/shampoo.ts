// Shampoo, original form (Gupta et al. 2018; optimizers.md "Wave 2 canonical
// forms", §41). A param of rank ≥ 2 is viewed as an [m, n] matrix G (first
// dim × the rest):
//   L += G·Gᵀ, R += Gᵀ·G   (both from eps·I at t = 1)
//   W −= lr · L^(−1/4) · G · R^(−1/4)
// rank 0 and 1 as a vector g of n: H += g·gᵀ, w −= lr · H^(−1/2) · g.
// The inverse roots are state (`Linv`, `Rinv`, `Hinv`), recomputed by the
// coupled Newton iteration (matmuls only) in the refreshing step program,
// every update_interval steps, and read as stored in the plain one. Kiln's
// one departure from the sheet: the roots' damping is floored at 1e-6 of the
// statistic's norm (ROOT_FLOOR), which float32 needs.

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import type { IRBuilder, Node } from '../ir.js';
import { type Shape, numel } from '../types.js';
import { type OptimizerRule, descend, ops, readers } from './rule.js';

/**
 * Newton iterations per inverse root, fixed (the graph unrolls them): in
 * float64 they reach the exact root to 1e-11 relative (Frobenius) for
 * condition numbers up to 1e6 (p = 4: 20 steps; p = 2, slower on small
 * eigenvalues: 24). See optimizers.md §41 for the table.
 */
export const ROOT_STEPS: Readonly<Record<2 | 4, number>> = { 2: 24, 4: 20 };

/**
 * The damping floor, relative to ‖A‖_F: a root is taken of
 * A + max(0, ROOT_FLOOR·‖A‖_F − eps)·I, so its condition number stays at
 * most 1e6, where the step counts above converge. Below that (‖A‖_F ≤ eps/ROOT_FLOOR)
 * it adds nothing. Past it, float32 cannot resolve A's small eigenvalues
 * (rounding of the statistics is about 6e-8·‖A‖_F per entry): without the floor
 * they turn slightly negative and the iteration diverges (fuzz train-580289919).
 */
export const ROOT_FLOOR = 1e-6;

/** The matrix view of a param: [rows, cols] for rank ≥ 2, undefined for rank 0 and 1 (a vector). */
export function matrixView(param: Node): readonly [number, number] | undefined {
  const dims = param.shape.map((d) => {
    if (typeof d !== 'number') throw new Error('shampoo: a param with a symbolic dimension');
    return d;
  });
  if (dims.length < 2) return undefined;
  return [dims[0]!, dims.slice(1).reduce((a, d) => a * d, 1)];
}

const size = (param: Node): number => numel(param.shape) as number;

/** Shampoo's own state shapes; a modifier's state (lookahead's slow, the EMA) keeps the param's (undefined). */
function stateShape(param: Node, suffix: string): Shape | undefined {
  const mat = matrixView(param);
  const side = ({ L: mat?.[0], Linv: mat?.[0], R: mat?.[1], Rinv: mat?.[1] } as Record<string, number | undefined>)[
    suffix
  ];
  if (mat) return side === undefined ? undefined : [side, side];
  return suffix === 'H' || suffix === 'Hinv' ? [size(param), size(param)] : undefined;
}

/** The n × n identity, from two iotas. */
export function identity(b: IRBuilder, n: number): Node {
  return b.cast(b.binary('eq', b.iota([n, n], 0), b.iota([n, n], 1)), 'f32');
}

/**
 * (A + r·I)^(−1/p), r = max(0, ROOT_FLOOR·‖A‖_F − eps) (A's damping raised to
 * the floor), of a symmetric positive semi-definite n × n A by the coupled
 * Newton iteration (Guo & Higham 2006, as in distributed Shampoo):
 * z = (1 + p)/(2(‖A‖_F + r)) puts the spectrum of M = z·(A + r·I) in
 * (0, (1 + p)/2], inside the iteration's region of convergence (0, p + 1);
 * H = z^(1/p)·I; then `steps` times Mi = ((p + 1)·I − M)/p, M = Mi^p·M,
 * H = H·Mi. M → I and H → (A + r·I)^(−1/p).
 */
export function inverseRoot(b: IRBuilder, a: Node, eps: Node, p: 2 | 4, steps: number): Node {
  const { add, sub, mul, max, div, sqrt, sq, sumAll } = ops(b);
  const n = a.shape[0] as number;
  const eye = identity(b, n);
  const norm = sqrt(sumAll(sq(a)));
  const raise = max(0, sub(mul(ROOT_FLOOR, norm), eps));
  const z = div((1 + p) / 2, add(norm, raise));
  let m = mul(z, add(a, mul(raise, eye)));
  let h = mul(p === 2 ? sqrt(z) : sqrt(sqrt(z)), eye);
  for (let i = 0; i < steps; i++) {
    const mi = div(sub(mul(p + 1, eye), m), p);
    const mi2 = b.matmul(mi, mi);
    m = b.matmul(p === 2 ? mi2 : b.matmul(mi2, mi2), m);
    h = b.matmul(h, mi);
  }
  return h;
}

export const SHAMPOO: OptimizerRule = {
  name: 'shampoo',
  state: ['L', 'R', 'Linv', 'Rinv'],
  stateFor: (p) => (matrixView(p) ? ['L', 'R', 'Linv', 'Rinv'] : ['H', 'Hinv']),
  stateShape,
  refreshes: true,
  scalars: OPTIMIZER_SCALARS.shampoo,
  update(b, param, grad, state, scalars, _hessDiag, refresh) {
    const { add, mul } = ops(b);
    const { s, st } = readers(state, scalars);
    // eps·I joins the statistics once, at t = 1 (shampoo_first), where the stored ones are still zero.
    const start = (n: number) => mul(mul(s('shampoo_first'), s('eps')), identity(b, n));
    const t = (x: Node) => b.permute(x, [1, 0]);
    const mat = matrixView(param);
    if (mat) {
      const [m, n] = mat;
      const g = b.reshape(grad, [m, n]);
      const L = add(add(st('L'), start(m)), b.matmul(g, t(g)));
      const R = add(add(st('R'), start(n)), b.matmul(t(g), g));
      const root = (a: Node) => inverseRoot(b, a, s('eps'), 4, ROOT_STEPS[4]);
      const Linv = refresh ? root(L) : st('Linv');
      const Rinv = refresh ? root(R) : st('Rinv');
      const delta = b.reshape(mul(s('lr'), b.matmul(b.matmul(Linv, g), Rinv)), param.shape);
      return descend(b, param, delta, { L, R, Linv, Rinv });
    }
    const n = size(param);
    const g = b.reshape(grad, [n, 1]);
    const H = add(add(st('H'), start(n)), b.matmul(g, t(g)));
    const Hinv = refresh ? inverseRoot(b, H, s('eps'), 2, ROOT_STEPS[2]) : st('Hinv');
    const delta = b.reshape(mul(s('lr'), b.matmul(Hinv, g)), param.shape);
    return descend(b, param, delta, { H, Hinv });
  },
};
