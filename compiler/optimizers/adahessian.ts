// AdaHessian (optimizers.md §28b; the authors' code, Yao et al. 2021): Adam
// with the squared gradient replaced by the squared Hutchinson curvature D
// (|z ⊙ Hz|, conv kernels averaged over H, W), a Hessian power k and
// decoupled weight decay:
//   m = b1·m + (1 − b1)·g ;  v = b2·v + (1 − b2)·D²
//   θ −= lr·(m·inv_bc1 / ((sqrt(v)·rsqrt_bc2)^k + eps) + wd·θ)
// D is refreshed every update_interval steps and kept in state `d` in
// between, as ada-hessian's update_each does: the refreshing step program
// passes a Hessian diagonal, the plain one none (train-step.ts).

import { adahessianDiag } from '../curvature.js';
import { type OptimizerRule, decoupledDecay, descend, ops, readers } from './rule.js';
import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';

export const ADAHESSIAN: OptimizerRule = {
  name: 'adahessian',
  state: ['m', 'v', 'd'],
  scalars: OPTIMIZER_SCALARS.adahessian,
  needsHessianDiag: true,
  update(b, param, grad, state, scalars, hessDiag) {
    const { add, mul, div, sqrt, pow, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const d = hessDiag ? adahessianDiag(b, hessDiag) : st('d');
    const m = ema(s('b1'), st('m'), s('one_minus_b1'), grad);
    const v = add(mul(s('b2'), st('v')), mul(s('one_minus_b2'), mul(d, d)));
    const denom = add(pow(mul(sqrt(v), s('rsqrt_bc2')), s('hessian_power')), s('eps'));
    const lr = s('lr');
    const step = div(mul(mul(lr, s('inv_bc1')), m), denom);
    return descend(b, decoupledDecay(b, param, lr, s('weight_decay')), step, { m, v, d });
  },
};
