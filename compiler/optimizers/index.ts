// The optimizers the training step compiles: every canonical form of
// optimizers.md ("Kiln's canonical forms") and its modifiers. Hyperparameter
// names, defaults, ranges and the scalars each update reads are the spec in
// runtime/optimizers/, which the runtime computes the scalars' values from,
// so the two cannot disagree.

import { scalarNames } from '../../runtime/optimizers/host-scalars.js';
import { baseOptimizer, resolveOptimizer, splitSam } from '../../runtime/optimizers/resolve.js';
import { type OptimizerConfig, SUPPORTED_OPTIMIZERS, type SupportedOptimizer } from '../../runtime/optimizers/spec.js';
import { ADABELIEF } from './adabelief.js';
import { ADABOUND } from './adabound.js';
import { ADADELTA } from './adadelta.js';
import { ADAGRAD } from './adagrad.js';
import { ADAHESSIAN } from './adahessian.js';
import { adamRule } from './adam.js';
import { ADAMAX } from './adamax.js';
import { adamwRule } from './adamw.js';
import { ADAN } from './adan.js';
import { ADEMAMIX } from './ademamix.js';
import { ADOPT } from './adopt.js';
import { DIFFGRAD } from './diffgrad.js';
import { GRAMS } from './grams.js';
import { LAMB } from './lamb.js';
import { larsRule } from './lars.js';
import { LION } from './lion.js';
import { MADGRAD } from './madgrad.js';
import { withCautious, withEma, withLookahead } from './modifiers.js';
import { momentumRule } from './momentum.js';
import { muonRule } from './muon.js';
import { NADAM } from './nadam.js';
import { NOVOGRAD } from './novograd.js';
import { PRODIGY } from './prodigy.js';
import { RADAM } from './radam.js';
import { rmspropRule } from './rmsprop.js';
import type { OptimizerRule } from './rule.js';
import { SCHEDULE_FREE_ADAMW } from './schedule-free.js';
import { SGD } from './sgd.js';
import { SHAMPOO } from './shampoo.js';
import { SOPHIA } from './sophia.js';

export type { OptimizerRule } from './rule.js';

/** Whether base optimizer `name` reads a Hessian-diagonal estimate (which only a backprop step computes). */
export function needsHessianDiag(name: string): boolean {
  const known = (SUPPORTED_OPTIMIZERS as readonly string[]).includes(name);
  return known && baseRule(name as SupportedOptimizer, {}).needsHessianDiag === true;
}

/** The rule of a base optimizer; only structural values (nesterov, amsgrad, centered, ns_steps) are read. */
function baseRule(name: SupportedOptimizer, hyper: Readonly<Record<string, number | boolean>>): OptimizerRule {
  const flag = (k: string) => hyper[k] === true;
  switch (name) {
    case 'sgd':
      return SGD;
    case 'momentum':
      return momentumRule({ nesterov: flag('nesterov') });
    case 'adagrad':
      return ADAGRAD;
    case 'rmsprop':
      return rmspropRule({ centered: flag('centered') });
    case 'adadelta':
      return ADADELTA;
    case 'adam':
      return adamRule({ amsgrad: flag('amsgrad') });
    case 'adamw':
      return adamwRule({ amsgrad: flag('amsgrad') });
    case 'adamax':
      return ADAMAX;
    case 'nadam':
      return NADAM;
    case 'radam':
      return RADAM;
    case 'adabelief':
      return ADABELIEF;
    case 'lion':
      return LION;
    case 'lamb':
      return LAMB;
    case 'lars':
      return larsRule({ nesterov: flag('nesterov') });
    case 'adan':
      return ADAN;
    case 'ademamix':
      return ADEMAMIX;
    case 'adopt':
      return ADOPT;
    case 'grams':
      return GRAMS;
    case 'madgrad':
      return MADGRAD;
    case 'adabound':
      return ADABOUND;
    case 'diffgrad':
      return DIFFGRAD;
    case 'novograd':
      return NOVOGRAD;
    case 'adahessian':
      return ADAHESSIAN;
    case 'sophia':
      return SOPHIA;
    case 'muon':
      return muonRule({ nsSteps: hyper['ns_steps'] as number });
    case 'prodigy':
      return PRODIGY;
    case 'schedule_free_adamw':
      return SCHEDULE_FREE_ADAMW;
    case 'shampoo':
      return SHAMPOO;
  }
}

/**
 * The update rule for an optimizer line, modifiers applied: cautious on the
 * base step, then lookahead, then the EMA of the resulting parameters.
 * Validated (unknown optimizers, arguments and out-of-range values throw).
 * Its scalars are exactly runtime/optimizers/host-scalars.ts scalarNames(opt).
 * `sam` is no rule (it changes the gradient, not the update): the training
 * step builds it (compiler/sam.ts), so `opt` must not be a sam call.
 */
export function optimizerRule(opt: OptimizerConfig): OptimizerRule {
  const resolved = resolveOptimizer(opt);
  if (splitSam(resolved).sam) throw new Error('sam is built by the training step: pass the optimizer it wraps');
  const base = baseOptimizer(resolved);
  let rule = baseRule(base.name, base.hyper);
  if (base.hyper['cautious'] === true) rule = withCautious(rule);
  if (resolved.inner) rule = withLookahead(rule);
  if (base.hyper['ema'] !== undefined) rule = withEma(rule);
  const expected = scalarNames(resolved);
  if (rule.scalars.join() !== expected.join())
    throw new Error(
      `optimizer ${rule.name} reads scalars [${rule.scalars.join(', ')}], the host gives [${expected.join(', ')}]`,
    );
  return rule;
}
