// MADGRAD, official code (optimizers.md §24): dual averaging with a cube-root
// denominator, coupled weight decay, θ a momentum average of z. The initial
// parameters x0 are state: zeros like every state tensor, so the first step
// (host flag madgrad_first) reads θ in their place and stores it. x0 is kept
// even with momentum = 0 (the official code reconstructs it then: the same
// value in exact arithmetic), so momentum stays a runtime scalar.
//   λ = (lr + eps)·sqrt(t) ;  G += λ·g² ;  s += λ·g
//   z = x0 − s/(cbrt(G) + eps) ;  θ = μ·θ + (1 − μ)·z

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, coupledDecay, ops, readers } from './rule.js';

export const MADGRAD: OptimizerRule = {
  name: 'madgrad',
  state: ['grad_sum', 'grad_sum_sq', 'x0'],
  scalars: OPTIMIZER_SCALARS.madgrad,
  update(b, param, grad, state, scalars) {
    const { add, sub, mul, div, pow, sq, select, flag } = ops(b);
    const { s, st } = readers(state, scalars);
    const eps = s('eps');
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    const lamb = mul(add(s('lr'), eps), s('madgrad_sqrt_t'));
    const x0 = select(flag(s('madgrad_first')), param, st('x0'));
    const gradSumSq = add(st('grad_sum_sq'), mul(lamb, sq(g)));
    const gradSum = add(st('grad_sum'), mul(lamb, g));
    // The official code's grad_sum_sq.pow(1/3).
    const z = sub(x0, div(gradSum, add(pow(gradSumSq, 1 / 3), eps)));
    return {
      param: add(mul(s('momentum'), param), mul(s('one_minus_momentum'), z)),
      state: { grad_sum: gradSum, grad_sum_sq: gradSumSq, x0 },
    };
  },
};
