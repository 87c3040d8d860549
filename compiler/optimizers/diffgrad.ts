// diffGrad, v2 code (optimizers.md §26): coupled L2 (the previous gradient is
// stored after it), eps form (C), the momentum scaled by the friction
// ξ = sigmoid(|g_prev − g|) ∈ [0.5, 1). g_prev starts at zero.
//   θ −= lr·sqrt(1 − b2^t)/(1 − b1^t)·(m·ξ)/(sqrt(v) + eps) ;  g_prev = g

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { adamMoments } from './adam.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export const DIFFGRAD: OptimizerRule = {
  name: 'diffgrad',
  state: ['m', 'v', 'prev_grad'],
  scalars: OPTIMIZER_SCALARS.diffgrad,
  update(b, param, grad, state, scalars) {
    const { add, sub, mul, div, sqrt, abs, exp, neg } = ops(b);
    const { s, st } = readers(state, scalars);
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    const { m, v } = adamMoments(b, g, state, scalars);
    const friction = div(1, add(1, exp(neg(abs(sub(st('prev_grad'), g))))));
    const step = div(mul(mul(s('lr'), s('bc_c')), mul(m, friction)), add(sqrt(v), s('eps')));
    return descend(b, param, step, { m, v, prev_grad: g });
  },
};
