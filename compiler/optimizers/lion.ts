// Lion, optax form (optimizers.md §15): the sign of an interpolation of the
// old momentum and g, decoupled lr-scaled decay, then the momentum update.
//   c = b1·m + (1 − b1)·g ;  θ −= lr·(sign(c) + λ·θ) ;  m = b2·m + (1 − b2)·g

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, decoupledDecay, descend, ops, readers } from './rule.js';

export const LION: OptimizerRule = {
  name: 'lion',
  state: ['m'],
  scalars: OPTIMIZER_SCALARS.lion,
  update(b, param, grad, state, scalars) {
    const { mul, sign, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const lr = s('lr');
    const c = ema(s('b1'), st('m'), s('one_minus_b1'), grad);
    const m = ema(s('b2'), st('m'), s('one_minus_b2'), grad);
    return descend(b, decoupledDecay(b, param, lr, s('weight_decay')), mul(lr, sign(c)), { m });
  },
};
