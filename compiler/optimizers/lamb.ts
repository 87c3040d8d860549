// LAMB, optax form (optimizers.md §16): the Adam direction plus λ·θ, scaled
// by the per-tensor trust ratio ‖θ‖/‖r‖ (1 when either norm is 0). The two
// norms are whole-tensor reductions; the update recomputes r from the new
// moments, so no temporary tensor is needed.
//   r = m̂/(sqrt(v̂) + eps) + λ·θ ;  τ = ‖θ‖/‖r‖ ;  θ −= lr·τ·r

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { adamMoments } from './adam.js';
import type { IRBuilder, Node } from '../ir.js';
import { type OptimizerRule, descend, ops, readers } from './rule.js';

/** a/b, or 1 when either is 0 (optax scale_by_trust_ratio with min_norm = 0), on scalars. */
export function trustRatio(b: IRBuilder, num: Node, den: Node, ratio: Node): Node {
  const zero = b.bin('or', b.bin('eq', num, 0), b.bin('eq', den, 0));
  return b.select(zero, 1, ratio);
}

export const LAMB: OptimizerRule = {
  name: 'lamb',
  state: ['m', 'v'],
  scalars: OPTIMIZER_SCALARS.lamb,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, sq, sumAll } = ops(b);
    const { s } = readers(state, scalars);
    const { m, v } = adamMoments(b, grad, state, scalars);
    const r = add(
      div(mul(s('inv_bc1'), m), add(mul(sqrt(v), s('rsqrt_bc2')), s('eps'))),
      mul(s('weight_decay'), param),
    );
    const pn = sqrt(sumAll(sq(param)));
    const rn = sqrt(sumAll(sq(r)));
    const tau = trustRatio(b, pn, rn, div(pn, rn));
    return descend(b, param, mul(mul(s('lr'), tau), r), { m, v });
  },
};
