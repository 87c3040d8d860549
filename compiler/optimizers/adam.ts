// Adam, PyTorch form with eps form (A) (optimizers.md §8), coupled L2
// weight decay, optional AMSGrad as PyTorch does it (§13: max of the raw v).
// The kernel form of §8: with host scalars inv_bc1 = 1/(1 − b1^t) and
// rsqrt_bc2 = 1/sqrt(1 − b2^t),
//   θ −= (lr·inv_bc1) · m / (sqrt(v)·rsqrt_bc2 + eps)
// which is lr·m̂/(sqrt(v̂) + eps) with the bias corrections on the host.

import { OPTIMIZER_SCALARS } from '../../runtime/optimizer-scalars.js';
import type { IRBuilder, Node } from '../ir.js';
import { type OptimizerRule, type OptimizerUpdate, ops, pick } from './rule.js';

/** lr, b1, b2, one_minus_b1, one_minus_b2, eps, weight_decay, inv_bc1, rsqrt_bc2 (shared with the host). */
export const ADAM_SCALARS = OPTIMIZER_SCALARS.adam;

export interface AdamOptions {
  /** AMSGrad is structural (an extra state tensor), so it is fixed at compile time. */
  readonly amsgrad: boolean;
}

/** The Adam family's update; `decoupled` is AdamW's weight decay (§9). */
export function adamUpdate(
  b: IRBuilder,
  param: Node,
  grad: Node,
  state: Readonly<Record<string, Node>>,
  scalars: Readonly<Record<string, Node>>,
  opts: AdamOptions & { readonly decoupled: boolean },
): OptimizerUpdate {
  const { add, sub, mul, div, max, sqrt } = ops(b);
  const s = (k: string) => pick(scalars, k, 'scalar');
  const lr = s('lr');
  const wd = s('weight_decay');
  const g = opts.decoupled ? grad : add(grad, mul(wd, param));
  const m = add(mul(s('b1'), pick(state, 'm', 'state')), mul(s('one_minus_b1'), g));
  const v = add(mul(s('b2'), pick(state, 'v', 'state')), mul(s('one_minus_b2'), mul(g, g)));
  const vmax = opts.amsgrad ? max(pick(state, 'vmax', 'state'), v) : undefined;
  const denom = add(mul(sqrt(vmax ?? v), s('rsqrt_bc2')), s('eps'));
  const step = div(mul(mul(lr, s('inv_bc1')), m), denom);
  // AdamW: θ ← θ − lr·λ·θ, then the Adam step (which does not read θ).
  const decayed = opts.decoupled ? sub(param, mul(mul(lr, wd), param)) : param;
  return { param: sub(decayed, step), state: vmax ? { m, v, vmax } : { m, v } };
}

export function adamRule(opts: AdamOptions): OptimizerRule {
  return {
    name: 'adam',
    state: opts.amsgrad ? ['m', 'v', 'vmax'] : ['m', 'v'],
    scalars: ADAM_SCALARS,
    update: (b, param, grad, state, scalars) =>
      adamUpdate(b, param, grad, state, scalars, { ...opts, decoupled: false }),
  };
}
