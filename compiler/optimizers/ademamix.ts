// AdEMAMix, official code (optimizers.md §19): a fast bias-corrected EMA plus
// α_t times a slow uncorrected EMA over sqrt(v̂) + eps, decoupled lr-scaled
// decay. α_t and b3_t (the warmups) are host scalars `alpha`, `b3`.
//   m1 = b1·m1 + (1 − b1)·g ;  m2 = b3_t·m2 + (1 − b3_t)·g ;  v = b2·v + (1 − b2)·g²
//   θ −= lr·( (m̂1 + α_t·m2)/(sqrt(v̂) + eps) + λ·θ )

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, decoupledDecay, descend, ops, readers } from './rule.js';

export const ADEMAMIX: OptimizerRule = {
  name: 'ademamix',
  state: ['m1', 'm2', 'v'],
  scalars: OPTIMIZER_SCALARS.ademamix,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, sq, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const lr = s('lr');
    const m1 = ema(s('b1'), st('m1'), s('one_minus_b1'), grad);
    const m2 = ema(s('b3'), st('m2'), s('one_minus_b3'), grad);
    const v = ema(s('b2'), st('v'), s('one_minus_b2'), sq(grad));
    const u = div(add(mul(s('inv_bc1'), m1), mul(s('alpha'), m2)), add(mul(sqrt(v), s('rsqrt_bc2')), s('eps')));
    return descend(b, decoupledDecay(b, param, lr, s('weight_decay')), mul(lr, u), { m1, m2, v });
  },
};
