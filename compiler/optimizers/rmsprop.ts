// RMSProp, PyTorch form (optimizers.md §6): coupled L2, eps outside the sqrt,
// optional centering (structural: an extra state tensor), momentum buffer of
// g/d with lr outside. The buffer is always kept: with momentum = 0 the
// update b = 0·b + g/d, θ −= lr·b is exactly PyTorch's momentum-free step,
// and momentum stays a runtime scalar.
//   v = α·v + (1 − α)·g² ;  [ḡ = α·ḡ + (1 − α)·g]
//   d = sqrt(v [− ḡ²]) + eps ;  b = μ·b + g/d ;  θ −= lr·b

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export function rmspropRule(opts: { readonly centered: boolean }): OptimizerRule {
  return {
    name: 'rmsprop',
    state: opts.centered ? ['v', 'g_avg', 'buf'] : ['v', 'buf'],
    scalars: OPTIMIZER_SCALARS.rmsprop,
    update(b, param, grad, state, scalars) {
      const { add, sub, mul, div, sqrt, sq, ema } = ops(b);
      const { s, st } = readers(state, scalars);
      const g = coupledDecay(b, grad, param, s('weight_decay'));
      const v = ema(s('alpha'), st('v'), s('one_minus_alpha'), sq(g));
      const gAvg = opts.centered ? ema(s('alpha'), st('g_avg'), s('one_minus_alpha'), g) : undefined;
      const d = add(sqrt(gAvg ? sub(v, sq(gAvg)) : v), s('eps'));
      const buf = add(mul(s('momentum'), st('buf')), div(g, d));
      return descend(b, param, mul(s('lr'), buf), gAvg ? { v, g_avg: gAvg, buf } : { v, buf });
    },
  };
}
