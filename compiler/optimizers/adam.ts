// Adam, PyTorch form with eps form (A) (optimizers.md §8), coupled L2
// weight decay, optional AMSGrad as PyTorch does it (§13: max of the raw v).
// The kernel form of §8: with host scalars inv_bc1 = 1/(1 − b1^t) and
// rsqrt_bc2 = 1/sqrt(1 − b2^t),
//   θ −= (lr·inv_bc1) · m / (sqrt(v)·rsqrt_bc2 + eps)
// which is lr·m̂/(sqrt(v̂) + eps) with the bias corrections on the host.

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import type { IRBuilder, Node } from '../ir.js';
import {
  type OptimizerRule,
  type OptimizerUpdate,
  coupledDecay,
  decoupledDecay,
  descend,
  ops,
  readers,
} from './rule.js';

/** lr, b1, b2, one_minus_b1, one_minus_b2, eps, weight_decay, inv_bc1, rsqrt_bc2 (shared with the host). */
export const ADAM_SCALARS = OPTIMIZER_SCALARS.adam;

export interface AdamOptions {
  /** AMSGrad is structural (an extra state tensor), so it is fixed at compile time. */
  readonly amsgrad: boolean;
}

/** m ← b1·m + (1 − b1)·g and v ← b2·v + (1 − b2)·g², the moments most of the Adam family share. */
export function adamMoments(
  b: IRBuilder,
  g: Node,
  state: Readonly<Record<string, Node>>,
  scalars: Readonly<Record<string, Node>>,
): { m: Node; v: Node } {
  const { add, mul, ema } = ops(b);
  const { s, st } = readers(state, scalars);
  const m = ema(s('b1'), st('m'), s('one_minus_b1'), g);
  // Spelled out so g² is built after b2·v (node numbering, hence the golden dumps, as before).
  const v = add(mul(s('b2'), st('v')), mul(s('one_minus_b2'), mul(g, g)));
  return { m, v };
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
  const { add, mul, div, max, sqrt } = ops(b);
  const { s, st } = readers(state, scalars);
  const lr = s('lr');
  const g = opts.decoupled ? grad : coupledDecay(b, grad, param, s('weight_decay'));
  const { m, v } = adamMoments(b, g, state, scalars);
  const vmax = opts.amsgrad ? max(st('vmax'), v) : undefined;
  const denom = add(mul(sqrt(vmax ?? v), s('rsqrt_bc2')), s('eps'));
  const step = div(mul(mul(lr, s('inv_bc1')), m), denom);
  // AdamW: θ ← θ − lr·λ·θ, then the Adam step (which does not read θ).
  const base = opts.decoupled ? decoupledDecay(b, param, lr, s('weight_decay')) : param;
  return descend(b, base, step, vmax ? { m, v, vmax } : { m, v });
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
