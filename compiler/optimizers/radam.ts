// RAdam, PyTorch form (optimizers.md §12): coupled L2; ρ_t, the switch ρ_t > 5
// and the rectification r_t are host scalars (radam_rect is 1 or 0,
// radam_scale = r_t·sqrt(1 − b2^t) with eps form (C)). One graph: a `where`
// on the host flag picks the step, so an unrectified step never divides by
// sqrt(v) + eps (0/0 with eps = 0 and a zero gradient).
//   rectified:  θ −= lr·m̂·r_t·sqrt(1 − b2^t)/(sqrt(v) + eps)
//   otherwise:  θ −= lr·m̂

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { adamMoments } from './adam.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export const RADAM: OptimizerRule = {
  name: 'radam',
  state: ['m', 'v'],
  scalars: OPTIMIZER_SCALARS.radam,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, select, flag } = ops(b);
    const { s } = readers(state, scalars);
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    const { m, v } = adamMoments(b, g, state, scalars);
    const mhat = mul(s('inv_bc1'), m);
    const adaptive = div(mul(s('radam_scale'), mhat), add(sqrt(v), s('eps')));
    const step = mul(s('lr'), select(flag(s('radam_rect')), adaptive, mhat));
    return descend(b, param, step, { m, v });
  },
};
