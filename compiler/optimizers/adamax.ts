// Adamax, PyTorch / optax form (optimizers.md §10): coupled L2, eps inside
// the max.
//   m = b1·m + (1 − b1)·g ;  u = max(b2·u, |g| + eps) ;  θ −= lr/(1 − b1^t)·m/u

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export const ADAMAX: OptimizerRule = {
  name: 'adamax',
  state: ['m', 'u'],
  scalars: OPTIMIZER_SCALARS.adamax,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, max, abs, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    const m = ema(s('b1'), st('m'), s('one_minus_b1'), g);
    const u = max(mul(s('b2'), st('u')), add(abs(g), s('eps')));
    return descend(b, param, div(mul(mul(s('lr'), s('inv_bc1')), m), u), { m, u });
  },
};
