// SGD with momentum, PyTorch form (optimizers.md §3, Nesterov §4a): coupled
// L2, the buffer starts as a copy of g (no dampening on the first step: the
// host's dampening_scale is 1 at t = 1, 1 − τ after), lr outside the buffer.
//   b = μ·b + dampening_scale·g ;  θ −= lr·(nesterov ? g + μ·b : b)

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export function momentumRule(opts: { readonly nesterov: boolean }): OptimizerRule {
  return {
    name: 'momentum',
    state: ['buf'],
    scalars: OPTIMIZER_SCALARS.momentum,
    update(b, param, grad, state, scalars) {
      const { add, mul, ema } = ops(b);
      const { s, st } = readers(state, scalars);
      const g = coupledDecay(b, grad, param, s('weight_decay'));
      // The buffer is zero before the first step, so μ·b vanishes there.
      const buf = ema(s('momentum'), st('buf'), s('dampening_scale'), g);
      const dir = opts.nesterov ? add(g, mul(s('momentum'), buf)) : buf;
      return descend(b, param, mul(s('lr'), dir), { buf });
    },
  };
}
