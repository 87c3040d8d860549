// AdaBelief, optax form (optimizers.md §14): s tracks (g − m)² with the new m
// and stores eps_root; decoupled, lr-scaled weight decay.
//   m = b1·m + (1 − b1)·g ;  s = b2·s + (1 − b2)·(g − m)² + eps_root
//   θ −= lr·( m̂/(sqrt(ŝ) + eps) + λ·θ )

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, decoupledDecay, descend, ops, readers } from './rule.js';

export const ADABELIEF: OptimizerRule = {
  name: 'adabelief',
  state: ['m', 's'],
  scalars: OPTIMIZER_SCALARS.adabelief,
  update(b, param, grad, state, scalars) {
    const { add, sub, mul, div, sqrt, sq, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const lr = s('lr');
    const m = ema(s('b1'), st('m'), s('one_minus_b1'), grad);
    const belief = add(ema(s('b2'), st('s'), s('one_minus_b2'), sq(sub(grad, m))), s('eps_root'));
    const u = div(mul(s('inv_bc1'), m), add(mul(sqrt(belief), s('rsqrt_bc2')), s('eps')));
    return descend(b, decoupledDecay(b, param, lr, s('weight_decay')), mul(lr, u), { m, s: belief });
  },
};
