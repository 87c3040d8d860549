// ADOPT, optax clipped form (optimizers.md §20): normalise g by the previous
// v, clip, then update m and v; θ −= lr·m. The first step only sets v = g²
// and keeps m: the host passes (b1_t, 1 − b1_t) = (1, 0) and
// (b2_t, 1 − b2_t) = (0, 1) then, exactly as optax's where(count > 0, ...).
//   q = clamp(g/max(sqrt(v_prev), eps), −c_t, c_t), c_t = (t − 1)^0.25
//   m = b1·m + (1 − b1)·q ;  v = b2·v + (1 − b2)·g² ;  θ −= lr·m

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, descend, ops, readers } from './rule.js';

export const ADOPT: OptimizerRule = {
  name: 'adopt',
  state: ['m', 'v'],
  scalars: OPTIMIZER_SCALARS.adopt,
  update(b, param, grad, state, scalars) {
    const { mul, div, max, sqrt, sq, neg, clamp, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const c = s('adopt_clip');
    const q = clamp(div(grad, max(sqrt(st('v')), s('eps'))), neg(c), c);
    const m = ema(s('adopt_b1'), st('m'), s('adopt_one_minus_b1'), q);
    const v = ema(s('adopt_b2'), st('v'), s('adopt_one_minus_b2'), sq(grad));
    return descend(b, param, mul(s('lr'), m), { m, v });
  },
};
