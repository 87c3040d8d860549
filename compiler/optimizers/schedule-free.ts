// Schedule-Free AdamW, optax contrib.schedule_free_adamw form (optimizers.md
// §30): the params are the gradient point y; z is the base iterate (RMS-
// scaled steps with decay at y, eps form (A)) and x the average, the
// evaluation point, kept as state `<param>.x` (optax reconstructs it from y
// and z: the same value in exact arithmetic) so `getParams({ eval: true })`
// reads it directly. z and x start as y (host flag sf_first).
//   v = b2·v + (1 − b2)·g² ;  z = z − lr·(g/(sqrt(v)·rsqrt_bc2 + eps) + λ·y)
//   x = (1 − c)·x + c·z ;  y = b1·x + (1 − b1)·z

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, ops, readers } from './rule.js';

export const SCHEDULE_FREE_ADAMW: OptimizerRule = {
  name: 'schedule_free_adamw',
  state: ['z', 'v', 'x'],
  scalars: OPTIMIZER_SCALARS.schedule_free_adamw,
  update(b, param, grad, state, scalars) {
    const { add, sub, mul, div, sqrt, sq, select, flag, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const first = flag(s('sf_first'));
    const z0 = select(first, param, st('z'));
    const x0 = select(first, param, st('x'));
    const v = ema(s('b2'), st('v'), s('one_minus_b2'), sq(grad));
    const u = add(div(grad, add(mul(sqrt(v), s('rsqrt_bc2')), s('eps'))), mul(s('weight_decay'), param));
    const z = sub(z0, mul(s('lr'), u));
    const x = ema(s('sf_one_minus_c'), x0, s('sf_c'), z);
    return { param: ema(s('b1'), x, s('one_minus_b1'), z), state: { z, v, x } };
  },
};
