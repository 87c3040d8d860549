// Grams (optimizers.md §23): Adam's magnitude with the current gradient's
// sign, decoupled lr-scaled decay. Elements with g = 0 do not move.
//   u = m̂/(sqrt(v̂) + eps) ;  θ −= lr·( sign(g)·|u| + λ·θ )

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { adamMoments } from './adam.js';
import { type OptimizerRule, decoupledDecay, descend, ops, readers } from './rule.js';

export const GRAMS: OptimizerRule = {
  name: 'grams',
  state: ['m', 'v'],
  scalars: OPTIMIZER_SCALARS.grams,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, abs, sign } = ops(b);
    const { s } = readers(state, scalars);
    const lr = s('lr');
    const { m, v } = adamMoments(b, grad, state, scalars);
    const mag = div(mul(s('inv_bc1'), abs(m)), add(mul(sqrt(v), s('rsqrt_bc2')), s('eps')));
    return descend(b, decoupledDecay(b, param, lr, s('weight_decay')), mul(lr, mul(sign(grad), mag)), { m, v });
  },
};
