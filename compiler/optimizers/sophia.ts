// Sophia-H (optimizers.md §28c; optax contrib.sophia with Rademacher probes):
//   m = b1·m + (1 − b1)·g
//   u = clamp(m·inv_bc1 / max(γ·h, eps), −clip_threshold, clip_threshold)
//   θ −= lr·(u + wd·θ)
//   h = b2·h + (1 − b2)·z⊙Hz   on refresh steps (t − 1) % update_interval == 0,
// after the update: u reads the h of the previous refresh. The refreshing
// step program passes the Hessian diagonal, the plain one none (train-step.ts).

import { type OptimizerRule, decoupledDecay, descend, ops, readers } from './rule.js';
import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';

export const SOPHIA: OptimizerRule = {
  name: 'sophia',
  state: ['m', 'h'],
  scalars: OPTIMIZER_SCALARS.sophia,
  needsHessianDiag: true,
  update(b, param, grad, state, scalars, hessDiag) {
    const { mul, div, max, neg, clamp, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const m = ema(s('b1'), st('m'), s('one_minus_b1'), grad);
    const ratio = div(mul(m, s('inv_bc1')), max(mul(s('gamma'), st('h')), s('eps')));
    const u = clamp(ratio, neg(s('clip_threshold')), s('clip_threshold'));
    const lr = s('lr');
    const h = hessDiag ? ema(s('b2'), st('h'), s('one_minus_b2'), hessDiag) : st('h');
    return descend(b, decoupledDecay(b, param, lr, s('weight_decay')), mul(lr, u), { m, h });
  },
};
