// An optimizer line with its defaults filled in (spec.ts), validated first
// (validate.ts): what the step graph is built from and what the host
// computes its scalars from. Gradient noise, written among the optimizer's
// arguments, is split off here into its own config.

import {
  type GradNoiseConfig,
  type HyperValue,
  type OptimizerConfig,
  type SupportedOptimizer,
  GRAD_NOISE_DEFAULTS,
  GRAD_NOISE_GAMMA_DEFAULT,
  LOOKAHEAD_DEFAULTS,
  MODIFIER_DEFAULTS,
  OPTIMIZER_DEFAULTS,
  SAM_DEFAULTS,
  type SamConfig,
  defaultValues,
} from './spec.js';
import { type OptimizerCall, argumentIssues, validateOptimizer } from './validate.js';

const toCall = (opt: OptimizerConfig): OptimizerCall => ({
  name: opt.name,
  args: opt.hyper,
  ...(opt.inner && { inner: toCall(opt.inner) }),
});

/** Throws the first problem validateOptimizer finds with `opt`. */
function assertValid(opt: OptimizerConfig): void {
  const issue = validateOptimizer(toCall(opt))[0];
  if (issue) throw new Error(issue.message);
}

/**
 * `opt` with every default filled in (recursively for the optimizer
 * lookahead or sam wraps; modifiers only when written). Throws the first
 * problem validateOptimizer finds.
 */
export function resolveOptimizer(opt: OptimizerConfig): OptimizerConfig {
  assertValid(opt);
  if (opt.inner)
    return {
      name: opt.name,
      hyper: { ...defaultValues(opt.name === 'sam' ? SAM_DEFAULTS : LOOKAHEAD_DEFAULTS), ...opt.hyper },
      inner: resolveOptimizer(opt.inner),
    };
  const table = OPTIMIZER_DEFAULTS[opt.name as SupportedOptimizer];
  // Keep the table's order, then the modifiers as written.
  const hyper: Record<string, HyperValue> = {};
  for (const [k, d] of Object.entries(table)) {
    const v = opt.hyper[k] ?? d;
    // Absent and without a default (derived on the host, as prodigy's b3): left out.
    if (v !== 'required' && v !== undefined) hyper[k] = v;
  }
  for (const k of Object.keys(MODIFIER_DEFAULTS)) {
    const v = opt.hyper[k];
    if (v !== undefined) hyper[k] = v;
  }
  return { name: opt.name, hyper };
}

/**
 * The hyperparameters of `opt` with defaults filled in (for lookahead: its
 * own, `k` and `alpha`). Throws on an unsupported optimizer, an unknown or
 * ill-typed argument, a missing required one, or a value out of its range.
 */
export function resolveHyperparameters(opt: OptimizerConfig): Record<string, HyperValue> {
  return { ...resolveOptimizer(opt).hyper };
}

/** The innermost optimizer of a chain of wrappers (sam, lookahead), or `opt` itself. */
export function innermost(opt: OptimizerConfig): OptimizerConfig {
  let o = opt;
  while (o.inner) o = o.inner;
  return o;
}

/** `opt` with its innermost optimizer replaced by `f` of it. */
function mapInnermost(opt: OptimizerConfig, f: (base: OptimizerConfig) => OptimizerConfig): OptimizerConfig {
  return opt.inner ? { ...opt, inner: mapInnermost(opt.inner, f) } : f(opt);
}

/** The base optimizer of `opt` (the one sam and lookahead wrap, or `opt` itself), defaults filled. */
export function baseOptimizer(opt: OptimizerConfig): { name: SupportedOptimizer; hyper: Record<string, HyperValue> } {
  const base = innermost(resolveOptimizer(opt));
  return { name: base.name as SupportedOptimizer, hyper: { ...base.hyper } };
}

/**
 * `opt` without its sam wrapper (the optimizer that steps with the
 * perturbed gradient), and sam's settings with defaults (undefined when
 * `opt` is no sam call).
 */
export function splitSam(opt: OptimizerConfig): { optimizer: OptimizerConfig; sam?: SamConfig } {
  if (opt.name !== 'sam' || !opt.inner) return { optimizer: opt };
  assertValid(opt);
  const h = { ...defaultValues(SAM_DEFAULTS), ...opt.hyper };
  return { optimizer: opt.inner, sam: { rho: h['rho'] as number, adaptive: h['adaptive'] === true } };
}

/** The arguments of grad_noise with defaults, checked. */
export function resolveGradNoise(args: Readonly<Record<string, HyperValue>>): GradNoiseConfig {
  const issue = argumentIssues('grad_noise', args, GRAD_NOISE_DEFAULTS, false)[0];
  if (issue) throw new Error(issue.message);
  const h = { ...defaultValues(GRAD_NOISE_DEFAULTS), ...args };
  return { eta: h['eta'] as number, gamma: h['gamma'] as number };
}

/**
 * `opt` without its `grad_noise` / `grad_noise_gamma` arguments (on the base
 * optimizer: the one sam and lookahead wrap, or `opt` itself), and the
 * gradient noise they ask for (undefined when `grad_noise` is absent). Checks
 * their ranges.
 */
export function splitGradNoise(opt: OptimizerConfig): { optimizer: OptimizerConfig; gradNoise?: GradNoiseConfig } {
  const base = innermost(opt);
  const { grad_noise: eta, grad_noise_gamma: gamma, ...hyper } = base.hyper;
  if (eta === undefined && gamma === undefined) return { optimizer: opt };
  assertValid(opt);
  return {
    optimizer: mapInnermost(opt, (o) => ({ ...o, hyper })),
    gradNoise: { eta: eta as number, gamma: (gamma ?? GRAD_NOISE_GAMMA_DEFAULT) as number },
  };
}
