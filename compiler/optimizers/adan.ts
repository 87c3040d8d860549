// Adan, official code (optimizers.md §18): b2 (not optax's 1 − b2) in the n
// update and the step, the previous gradient as state (the difference is 0
// on the first step: host flag adan_diff), proximal weight decay
// θ ← (θ − lr·u)/(1 + lr·λ), written as w − w·c with the host's
// c = lr·λ/(1 + lr·λ) so a small decay keeps its precision in f32.
//   d = g − g_prev ;  m = b1·m + (1 − b1)·g ;  v = b2·v + (1 − b2)·d
//   n = b3·n + (1 − b3)·(g + b2·d)² ;  u = (m̂ + b2·v̂)/(sqrt(n̂) + eps)

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, descend, ops, readers } from './rule.js';

export const ADAN: OptimizerRule = {
  name: 'adan',
  state: ['m', 'diff', 'n', 'prev_grad'],
  scalars: OPTIMIZER_SCALARS.adan,
  update(b, param, grad, state, scalars) {
    const { add, sub, mul, div, sqrt, sq, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const d = mul(s('adan_diff'), sub(grad, st('prev_grad')));
    const m = ema(s('b1'), st('m'), s('one_minus_b1'), grad);
    const diff = ema(s('b2'), st('diff'), s('one_minus_b2'), d);
    const n = ema(s('b3'), st('n'), s('one_minus_b3'), sq(add(grad, mul(s('b2'), d))));
    const den = add(mul(sqrt(n), s('rsqrt_bc3')), s('eps'));
    const u = div(add(mul(s('inv_bc1'), m), mul(mul(s('b2'), s('inv_bc2')), diff)), den);
    const c = s('adan_decay');
    const step = mul(s('lr'), u);
    // (θ − step)(1 − c) as base − delta: base = θ − θ·c, delta = step − step·c.
    return descend(b, sub(param, mul(c, param)), sub(step, mul(c, step)), { m, diff, n, prev_grad: grad });
  },
};
