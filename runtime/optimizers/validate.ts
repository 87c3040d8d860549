// Every problem with an optimizer call, found against the spec (spec.ts):
// an unknown optimizer, an unknown or ill-typed argument, a missing required
// one, a value out of its range, an inconsistent combination. The checker
// reports them at the argument; the compiler and the runtime throw the first.

import {
  type HyperTable,
  type HyperValue,
  LOOKAHEAD_DEFAULTS,
  MODIFIER_DEFAULTS,
  SAM_DEFAULTS,
  OPTIMIZER_DEFAULTS,
  argKind,
  defaultValues,
  isSupportedOptimizer,
  rangeOf,
  unsupportedOptimizerMessage,
} from './spec.js';

/** An optimizer call with only the arguments written (the checker's OptimizerSpec is one). */
export interface OptimizerCall {
  readonly name: string;
  readonly args: Readonly<Record<string, HyperValue>>;
  readonly inner?: OptimizerCall;
}

/**
 * One problem with an optimizer call. `arg`: the argument at fault (point at
 * its value), absent for the call as a whole; `inner`: it is in the optimizer
 * lookahead wraps, not in the lookahead call; `depth`: how many wrappers down
 * (absent: 1 when `inner`; 2 for the base optimizer of `sam(lookahead(...))`).
 */
export interface OptimizerIssue {
  readonly arg?: string;
  readonly inner?: boolean;
  readonly depth?: number;
  readonly message: string;
}

/** Checks one call's arguments against its table (`name` for the messages and the ranges). */
export function argumentIssues(
  name: string,
  args: Readonly<Record<string, HyperValue>>,
  table: HyperTable,
  inner: boolean,
): OptimizerIssue[] {
  const issues: OptimizerIssue[] = [];
  const at = (arg: string | undefined, message: string) =>
    issues.push({ ...(arg !== undefined && { arg }), ...(inner && { inner }), message });
  for (const [k, v] of Object.entries(args)) {
    if (!Object.hasOwn(table, k)) {
      at(k, `unknown hyperparameter '${k}' for ${name} (expected: ${Object.keys(table).join(', ')})`);
      continue;
    }
    const bool = argKind(table[k]) === 'bool';
    if (bool ? typeof v !== 'boolean' : typeof v !== 'number') {
      at(k, `hyperparameter '${k}' of ${name} must be ${bool ? 'true or false' : 'a number'}`);
      continue;
    }
    const range = rangeOf(name, k);
    if (typeof v === 'number' && range && !range.ok(v))
      at(k, `hyperparameter '${k}' of ${name} must be ${range.text}, got ${v}`);
    else if (typeof v === 'number' && !Number.isFinite(v))
      at(k, `hyperparameter '${k}' of ${name} must be a finite number, got ${v}`);
  }
  for (const [k, d] of Object.entries(table))
    if (d === 'required' && !Object.hasOwn(args, k)) at(undefined, `${name} needs ${k}, as in ${name}(${k} = 0.01)`);
  return issues;
}

/** Constraints between arguments, on the defaults-filled values. */
function crossChecks(name: string, h: Readonly<Record<string, HyperValue>>, inner: boolean): OptimizerIssue[] {
  const issues: OptimizerIssue[] = [];
  const at = (arg: string, message: string) => issues.push({ arg, ...(inner && { inner }), message });
  // PyTorch SGD: "Nesterov momentum requires a momentum and zero dampening".
  if (name === 'momentum' && h['nesterov'] === true) {
    if (h['dampening'] !== 0) at('nesterov', 'nesterov momentum needs dampening = 0');
    if (h['momentum'] === 0) at('nesterov', 'nesterov momentum needs momentum > 0');
  }
  if (h['grad_noise_gamma'] !== undefined && h['grad_noise'] === undefined)
    at('grad_noise_gamma', 'grad_noise_gamma needs grad_noise (the noise scale eta), as in grad_noise = 0.01');
  return issues;
}

/** The issues of a base optimizer (not lookahead). */
function baseIssues(call: OptimizerCall, inner: boolean): OptimizerIssue[] {
  if (!isSupportedOptimizer(call.name))
    return [{ ...(inner && { inner }), message: unsupportedOptimizerMessage(call.name) }];
  const table = OPTIMIZER_DEFAULTS[call.name];
  const issues = argumentIssues(call.name, call.args, { ...table, ...MODIFIER_DEFAULTS }, inner);
  if (issues.length > 0) return issues;
  return crossChecks(call.name, { ...defaultValues(table), ...call.args }, inner);
}

/**
 * Every problem with an optimizer call, for the checker to report at the
 * argument (or the call). Empty when the call is valid. On a call the
 * checker already accepted (names, kinds and required arguments checked),
 * only range and combination issues remain, so nothing is reported twice.
 */
export function validateOptimizer(call: OptimizerCall): OptimizerIssue[] {
  if (call.name === 'sam') return samIssues(call);
  if (call.name !== 'lookahead') {
    if (call.inner) return [{ message: `only lookahead and sam wrap an optimizer, not ${call.name}` }];
    return baseIssues(call, false);
  }
  if (!call.inner)
    return [{ message: 'lookahead wraps one optimizer: lookahead(adam(lr = 1e-3), k = 5, alpha = 0.5)' }];
  if (call.inner.name === 'lookahead') return [{ inner: true, message: 'lookahead cannot wrap another lookahead' }];
  if (call.inner.name === 'sam')
    return [{ inner: true, message: 'sam goes outside lookahead: sam(lookahead(adam(lr = 1e-3)), rho = 0.05)' }];
  return [...argumentIssues('lookahead', call.args, LOOKAHEAD_DEFAULTS, false), ...baseIssues(call.inner, true)];
}

/**
 * `sam(inner, rho, adaptive)` (§28d): it wraps a base optimizer or a
 * lookahead (`sam(lookahead(adam(...)))`; both orders would be the same
 * program, since SAM changes only the gradient the inner optimizer reads, so
 * one is canonical); never another sam.
 */
function samIssues(call: OptimizerCall): OptimizerIssue[] {
  if (!call.inner) return [{ message: 'sam wraps one optimizer: sam(adam(lr = 1e-3), rho = 0.05)' }];
  if (call.inner.name === 'sam') return [{ inner: true, message: 'sam cannot wrap another sam' }];
  const inner = validateOptimizer(call.inner).map((i) => ({
    ...i,
    inner: true,
    depth: (i.inner ? (i.depth ?? 1) : 0) + 1,
  }));
  return [...argumentIssues('sam', call.args, SAM_DEFAULTS, false), ...inner];
}
