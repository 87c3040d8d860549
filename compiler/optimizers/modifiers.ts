// The modifiers of optimizers.md that wrap any rule: cautious masking (§22),
// lookahead (§21) and a parameter EMA (§34). Each takes a rule and returns
// one with more state and scalars; the step graph stays one graph (sync and
// first-step flags are host scalars chosen by `where`).

import { MODIFIER_SCALARS } from '../../runtime/optimizers/spec.js';
import type { Node } from '../ir.js';
import { type OptimizerRule, ops, readers } from './rule.js';

/**
 * Cautious (§22): keep the step only where it agrees with the gradient
 * (delta·g > 0, delta the descent step, so it moves against g) and rescale
 * by 1/max(K/N, 1e-3), K the kept count over the tensor (a whole-tensor
 * reduction), N its size. Decoupled decay stays unmasked, as in C-AdamW.
 */
export function withCautious(rule: OptimizerRule): OptimizerRule {
  return {
    ...rule,
    name: `${rule.name}+cautious`,
    update(b, param, grad, state, scalars, hessDiag, refresh) {
      const { sub, mul, div, max, isPositive, asF32, sumAll, count } = ops(b);
      const up = rule.update(b, param, grad, state, scalars, hessDiag, refresh);
      const { base, delta } = up.split ?? { base: param, delta: sub(param, up.param) };
      const mask = asF32(isPositive(mul(delta, grad)));
      // The reference code's mask.div_(mask.mean().clamp_(min=1e-3)): a structural constant, not a hyperparameter.
      const scale = div(1, max(div(sumAll(mask), count(param)), 1e-3));
      const kept = mul(mul(delta, mask), scale);
      return { param: sub(base, kept), state: up.state, split: { base, delta: kept } };
    },
  };
}

/**
 * Lookahead (§21, optax without reset): the inner rule steps the fast
 * weights; every k steps (host flag lookahead_sync) the slow weights move
 * α of the way to them and the fast weights jump there. The slow weights
 * start as θ_0: state starts at zero, so the first step (lookahead_first)
 * reads θ in their place.
 */
export function withLookahead(rule: OptimizerRule): OptimizerRule {
  return {
    name: `lookahead(${rule.name})`,
    state: [...rule.state, 'slow'],
    ...(rule.perTensorState && { perTensorState: rule.perTensorState }),
    ...(rule.needsHessianDiag && { needsHessianDiag: true }),
    ...(rule.refreshes && { refreshes: true }),
    ...(rule.stateShape && { stateShape: rule.stateShape }),
    ...(rule.stateFor && { stateFor: (p: Node) => [...rule.stateFor!(p), 'slow'] }),
    ...(rule.global && { global: rule.global }),
    scalars: [...rule.scalars, ...MODIFIER_SCALARS.lookahead],
    update(b, param, grad, state, scalars, hessDiag, refresh) {
      const { add, sub, mul, select, flag } = ops(b);
      const { s, st } = readers(state, scalars);
      const up = rule.update(b, param, grad, state, scalars, hessDiag, refresh);
      const fast = up.param;
      const slowOld = select(flag(s('lookahead_first')), param, st('slow'));
      const synced = add(slowOld, mul(s('lookahead_alpha'), sub(fast, slowOld)));
      const sync = flag(s('lookahead_sync'));
      return { param: select(sync, synced, fast), state: { ...up.state, slow: select(sync, synced, slowOld) } };
    },
  };
}

/**
 * Parameter EMA (§34, PyTorch AveragedModel with get_ema_multi_avg_fn):
 * ema = d·ema + (1 − d)·θ after each step, a copy of θ on the first (the
 * host passes d = 0 then). The parameters themselves are untouched.
 */
export function withEma(rule: OptimizerRule): OptimizerRule {
  return {
    ...rule,
    name: `${rule.name}+ema`,
    state: [...rule.state, 'ema'],
    ...(rule.stateFor && { stateFor: (p: Node) => [...rule.stateFor!(p), 'ema'] }),
    scalars: [...rule.scalars, ...MODIFIER_SCALARS.ema],
    update(b, param, grad, state, scalars, hessDiag, refresh) {
      const { ema } = ops(b);
      const { s, st } = readers(state, scalars);
      const up = rule.update(b, param, grad, state, scalars, hessDiag, refresh);
      return {
        ...up,
        state: { ...up.state, ema: ema(s('ema_decay'), st('ema'), s('one_minus_ema_decay'), up.param) },
      };
    },
  };
}
