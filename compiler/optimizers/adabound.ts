// AdaBound, official code (optimizers.md §25): coupled L2, eps form (C), the
// per-element step size clamped into [lower_t, upper_t], both host scalars
// (the final lr follows the schedule).
//   η = clamp(lr·sqrt(1 − b2^t)/(1 − b1^t)/(sqrt(v) + eps), lower_t, upper_t) ;  θ −= η·m

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { adamMoments } from './adam.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export const ADABOUND: OptimizerRule = {
  name: 'adabound',
  state: ['m', 'v'],
  scalars: OPTIMIZER_SCALARS.adabound,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, clamp } = ops(b);
    const { s } = readers(state, scalars);
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    const { m, v } = adamMoments(b, g, state, scalars);
    const eta = clamp(div(mul(s('lr'), s('bc_c')), add(sqrt(v), s('eps'))), s('adabound_lower'), s('adabound_upper'));
    return descend(b, param, mul(eta, m), { m, v });
  },
};
