// Curvature inside the training step: Hutchinson estimates of the loss
// Hessian's diagonal, D = z ⊙ (H·z) with Rademacher z (optimizers.md §28),
// for AdaHessian and Sophia. H·z is forward-over-reverse: the tangent of the
// gradient graph (autodiff.ts) along z (forward.ts), so it fuses into the
// same compiled step as the gradient. z comes from the counter RNG (`rand`)
// keyed by the step's `@seed`, under salts of its own, so it never repeats
// the dropout masks or the gradient noise of the same step.

import { jvps } from './forward.js';
import type { IRBuilder, Node } from './ir.js';

/** Salts of the Rademacher probes (one per trainable param), apart from dropout's (0, 1, ...) and the noise's 0x4e000000. */
export const CURVATURE_SALT = 0x48000000;

/** A tensor of ±1, each sign with probability 1/2: where(u < 0.5, −1, 1) for u uniform in [0, 1). */
export function rademacher(b: IRBuilder, like: Node, seed: Node, salt: number): Node {
  return b.select(b.bin('lt', b.rand(like.shape, seed, salt), 0.5), -1, 1);
}

/**
 * z ⊙ (H·z) for each param, H the Hessian of the loss whose gradients with
 * respect to `params` are `grads` (the unclipped, noiseless ones), z a fresh
 * Rademacher probe per param. Its expectation is diag(H); where H is
 * diagonal it is diag(H) exactly, whatever z.
 */
export function hutchinsonDiag(b: IRBuilder, grads: readonly Node[], params: readonly Node[], seed: Node): Node[] {
  const zs = params.map((p, i) => rademacher(b, p, seed, CURVATURE_SALT + i));
  const hz = jvps(b, grads, params, zs);
  return hz.map((h, i) => b.binary('mul', zs[i]!, h));
}

/**
 * AdaHessian's curvature (the authors' get_trace): |D| elementwise, and for
 * a 4-D conv kernel (OIHW) the mean of |D| over its spatial dims (H, W),
 * broadcast back over them.
 */
export function adahessianDiag(b: IRBuilder, d: Node): Node {
  const abs = b.unary('abs', d);
  if (d.shape.length !== 4) return abs;
  const [, , h, w] = d.shape;
  const mean = b.bin('div', b.reduce('sum', abs, [2, 3]), b.bin('mul', b.dimSize(h!, 'f32'), b.dimSize(w!, 'f32')));
  return b.broadcastTo(mean, d.shape);
}
