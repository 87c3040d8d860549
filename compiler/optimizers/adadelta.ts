// Adadelta, PyTorch / optax form (optimizers.md §7): coupled L2; Δ uses the
// new E[g²] and the old E[Δ²]; E[Δ²] accumulates Δ before the lr scaling.
//   Eg = ρ·Eg + (1 − ρ)·g² ;  Δ = sqrt(Ex + eps)/sqrt(Eg + eps)·g
//   Ex = ρ·Ex + (1 − ρ)·Δ² ;  θ −= lr·Δ

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export const ADADELTA: OptimizerRule = {
  name: 'adadelta',
  state: ['square_avg', 'acc_delta'],
  scalars: OPTIMIZER_SCALARS.adadelta,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, sq, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const eps = s('eps');
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    const squareAvg = ema(s('rho'), st('square_avg'), s('one_minus_rho'), sq(g));
    const delta = mul(div(sqrt(add(st('acc_delta'), eps)), sqrt(add(squareAvg, eps))), g);
    const accDelta = ema(s('rho'), st('acc_delta'), s('one_minus_rho'), sq(delta));
    return descend(b, param, mul(s('lr'), delta), { square_avg: squareAvg, acc_delta: accDelta });
  },
};
