// LARS, optax form (optimizers.md §17): u = g + λ·θ scaled by the trust
// ratio η·‖θ‖/(‖u‖ + eps) (1 when either norm is 0), lr applied before the
// momentum buffer. The buffer here holds optax's trace negated (descent
// steps), so θ −= buf.
//   s = lr·τ·u ;  buf = s + μ·buf ;  θ −= nesterov ? s + μ·buf : buf

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { trustRatio } from './lamb.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export function larsRule(opts: { readonly nesterov: boolean }): OptimizerRule {
  return {
    name: 'lars',
    state: ['buf'],
    scalars: OPTIMIZER_SCALARS.lars,
    update(b, param, grad, state, scalars) {
      const { add, mul, div, sqrt, sq, sumAll } = ops(b);
      const { s, st } = readers(state, scalars);
      const u = coupledDecay(b, grad, param, s('weight_decay'));
      const pn = sqrt(sumAll(sq(param)));
      const un = sqrt(sumAll(sq(u)));
      const tau = trustRatio(b, pn, un, div(mul(s('trust_coefficient'), pn), add(un, s('eps'))));
      const step = mul(mul(s('lr'), tau), u);
      const buf = add(step, mul(s('momentum'), st('buf')));
      return descend(b, param, opts.nesterov ? add(step, mul(s('momentum'), buf)) : buf, { buf });
    },
  };
}
