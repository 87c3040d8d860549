// Prodigy, optax contrib.prodigy form (optimizers.md §39): Adam with the
// step size d estimated on the fly. d and the weighted numerator are
// whole-model values: a global phase (rule.ts GlobalPhase) reduces every
// param's ⟨g, θ0 − θ⟩ and Σ|s| into them before the per-param updates read
// d (old) and d_new. θ0 and d start as zeros like all state; the first step
// (host flag prodigy_first) reads θ and d0 in their place.
//   dlr = d·lr·bc ;  m = b1·m + (1 − b1)·d·g ;  v = b2·v + (1 − b2)·d²·g²
//   s = b3·s + (d/d0)·dlr·g  (safeguard_warmup: (d/d0)·d·g)
//   num = b3·num + (d/d0)·dlr·Σ⟨g, θ0 − θ⟩ ;  d_new = max(d, d_coef·num/Σ|s|)
//   θ = θ − wd·dlr·θ − dlr·m/(sqrt(v) + d_new·eps)

import { GLOBAL_STATE, OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import type { IRBuilder, Node } from '../ir.js';
import { type GlobalPhase, type OptimizerRule, descend, ops, readers } from './rule.js';

type Rec = Readonly<Record<string, Node>>;

/** θ0: θ itself on the first step. */
const initial = (b: IRBuilder, param: Node, state: Rec, scalars: Rec): Node => {
  const { s, st } = readers(state, scalars);
  return ops(b).select(ops(b).flag(s('prodigy_first')), param, st('p0'));
};

/** s = b3·s + (d²/d0·prodigy_s_coef)·g, built the same way by the phase and the update (one node). */
const gradSum = (b: IRBuilder, grad: Node, d: Node, state: Rec, scalars: Rec): Node => {
  const { mul, div, ema } = ops(b);
  const { s, st } = readers(state, scalars);
  return ema(s('b3'), st('s'), mul(div(mul(d, d), s('d0')), s('prodigy_s_coef')), grad);
};

const PHASE: GlobalPhase = {
  prefix: 'prodigy',
  state: GLOBAL_STATE.prodigy!,
  compute(b, tensors, state, scalars) {
    const { add, sub, mul, div, max, abs, select, flag, isPositive, sumAll, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const d = select(flag(s('prodigy_first')), s('d0'), st('d'));
    const sum = (xs: Node[]) => xs.reduce((acc, x) => add(acc, x));
    const dot = sum(tensors.map((t) => sumAll(mul(t.grad, sub(initial(b, t.param, t.state, scalars), t.param)))));
    const den = sum(tensors.map((t) => sumAll(abs(gradSum(b, t.grad, d, t.state, scalars)))));
    const numerator = ema(s('b3'), st('numerator'), mul(div(mul(d, d), s('d0')), s('prodigy_lr_bc')), dot);
    // No gradient at all (Σ|s| = 0): keep d (optax would divide 0 by 0).
    const dNew = select(isPositive(den), max(d, div(mul(s('d_coef'), numerator), den)), d);
    return { state: { d: dNew, numerator }, values: { prodigy_d: d, prodigy_d_new: dNew } };
  },
};

export const PRODIGY: OptimizerRule = {
  name: 'prodigy',
  state: ['m', 'v', 's', 'p0'],
  scalars: OPTIMIZER_SCALARS.prodigy,
  global: PHASE,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, sq, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const d = s('prodigy_d');
    const m = ema(s('b1'), st('m'), mul(s('one_minus_b1'), d), grad);
    const v = ema(s('b2'), st('v'), mul(s('one_minus_b2'), mul(d, d)), sq(grad));
    const sNew = gradSum(b, grad, d, state, scalars);
    const p0 = initial(b, param, state, scalars);
    const dlr = mul(d, s('prodigy_lr_bc'));
    const base = b.bin('sub', param, mul(mul(s('weight_decay'), dlr), param));
    const delta = div(mul(dlr, m), add(sqrt(v), mul(s('prodigy_d_new'), s('eps'))));
    return descend(b, base, delta, { m, v, s: sNew, p0 });
  },
};
