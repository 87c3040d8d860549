// Sharpness-aware minimization inside the training step (optimizers.md §28d,
// Foret et al. 2021; adaptive: ASAM, Kwon et al. 2021). The step computes the
// gradient g at w, the ascent step e, the loss again at w + e (the model's
// loss graph with every trainable param replaced by w + e, compiler/substitute.ts)
// and its gradient g' there: both passes are one graph, so one compiled step.
// The second pass reuses every node that does not depend on the params, so
// its dropout masks (rand keyed by the same @seed and salts) are the first
// pass's: the same batch, the same mask, as SAM implementations do.

import { gradients } from './autodiff.js';
import type { IRBuilder, Node } from './ir.js';
import { substitute } from './substitute.js';

/** The guard against a zero gradient in e = rho·g/(‖g‖ + 1e-12); structural, as in the authors' code. */
export const SAM_NORM_EPS = 1e-12;

/** The sum of squares of every element of every tensor, as an f32[] scalar. */
function totalSquares(b: IRBuilder, xs: readonly Node[]): Node {
  const sums = xs.map((x) => {
    const sq = b.binary('mul', x, x);
    const all = sq.shape.map((_d, i) => i);
    return b.reshape(b.reduce('sum', sq, all), []);
  });
  return sums.reduce((acc, s) => b.binary('add', acc, s));
}

/**
 * SAM's ascent step for each param: e = rho·g/(‖g‖ + 1e-12), or with
 * `adaptive` e = rho·w²⊙g/(‖w⊙g‖ + 1e-12), the norms over all of `params`.
 */
export function samPerturbation(
  b: IRBuilder,
  params: readonly Node[],
  grads: readonly Node[],
  rho: Node,
  adaptive: boolean,
): Node[] {
  if (params.length === 0) return [];
  const scaled = adaptive ? grads.map((g, i) => b.binary('mul', params[i]!, g)) : grads;
  const norm = b.unary('sqrt', totalSquares(b, scaled));
  const coef = b.bin('div', rho, b.bin('add', norm, SAM_NORM_EPS));
  return grads.map((g, i) => {
    const p = params[i]!;
    return b.bin('mul', adaptive ? b.binary('mul', b.binary('mul', p, p), g) : g, coef);
  });
}

/**
 * g' = ∇L(w + e) for each param w, `grads` the gradients of `loss` at w.
 * The loss is rebuilt with w + e in place of w, and differentiated with
 * respect to those w + e nodes: the gradient of L evaluated at the perturbed
 * point, not the gradient of w ↦ L(w + e(w)) (e is a constant for the
 * update, as in SAM).
 */
export function samGradients(
  b: IRBuilder,
  loss: Node,
  params: readonly Node[],
  grads: readonly Node[],
  rho: Node,
  adaptive: boolean,
): Node[] {
  const es = samPerturbation(b, params, grads, rho, adaptive);
  const perturbed = params.map((p, i) => b.binary('add', p, es[i]!));
  const [lossAt] = substitute(b, [loss], new Map(params.map((p, i) => [p.id, perturbed[i]!])));
  return gradients(b, lossAt!, perturbed);
}
