// The calls on a train block's lines: `optimizer` (possibly lookahead
// wrapping one, and sam wrapping either), `schedule`, `clip` and `gradient`. Arguments are literals given by
// name; optimizer and schedule names, argument names and kinds, ranges and
// combinations come from the optimizer spec, read through
// compiler/optimizers/catalog.ts, so the checker says what the compiler and
// the runtime would.

import type { Expr, Ident, KwArg } from './ast.js';
import { literalNumber, literalStatic } from './ast-queries.js';
import { type Note, type Span, closest } from './source.js';
import {
  type ArgKind,
  LOOKAHEAD_ARG_KINDS,
  OPTIMIZER_NAMES,
  SAM_ARG_KINDS,
  SCHEDULE_NAMES,
  optimizerArgKinds,
  validateOptimizer,
} from '../compiler/optimizers/catalog.js';
import type { GradientEstimator, HyperCallContract, OptimizerCallContract } from '../compiler/model.js';

export interface HyperCall extends HyperCallContract {
  readonly span: Span;
}

export interface OptimizerSpec extends HyperCall, OptimizerCallContract {
  readonly inner?: OptimizerSpec;
}

export interface ClipSpec {
  readonly kind: 'global_norm' | 'value';
  readonly max: number;
  readonly span: Span;
}

/** Reports an error at a span. */
export type Report = (span: Span, message: string, notes?: readonly Note[]) => void;

/** Names from other libraries for Kiln's hyperparameters, for suggestions. */
const HYPER_ALIASES: Readonly<Record<string, string>> = {
  beta1: 'b1',
  beta2: 'b2',
  beta3: 'b3',
  learning_rate: 'lr',
  epsilon: 'eps',
  wd: 'weight_decay',
  decay: 'weight_decay',
};

/** `name` or `name(k = v, ...)` with literal values; `allowed` names the keys (undefined: any). */
function hyperCall(
  e: Expr,
  what: string,
  names: readonly string[],
  allowed: ((name: string) => Readonly<Record<string, ArgKind>> | undefined) | undefined,
  error: Report,
): HyperCall | undefined {
  let callee: Ident;
  let kwargs: readonly KwArg[] = [];
  if (e.kind === 'name') callee = { name: e.name, span: e.span };
  else if (e.kind === 'call') {
    callee = e.callee;
    kwargs = e.kwargs;
    if (e.args.length > 0) {
      const first = e.args[0]!;
      error(first.span, `${what} arguments are given by name, as in ${callee.name}(lr = 1e-3)`);
      return undefined;
    }
  } else {
    error(e.span, `expected a ${what} such as ${names[0]}(...)`);
    return undefined;
  }
  if (!names.includes(callee.name)) {
    const hint = closest(callee.name, names);
    error(
      callee.span,
      `unknown ${what} '${callee.name}'${hint ? `; did you mean '${hint}'?` : `; expected one of ${names.join(', ')}`}`,
    );
    return undefined;
  }
  const table = allowed?.(callee.name);
  const args: Record<string, number | boolean> = {};
  let ok = true;
  for (const kw of kwargs) {
    const k = kw.name.name;
    const kind = table?.[k];
    if (table && kind === undefined) {
      ok = false;
      const alias = HYPER_ALIASES[k];
      const hint = alias !== undefined && alias in table ? alias : closest(k, Object.keys(table));
      error(kw.name.span, `unknown argument '${k}' for ${callee.name}${hint ? `; did you mean '${hint}'?` : ''}`);
      continue;
    }
    if (Object.hasOwn(args, k)) {
      ok = false;
      error(kw.name.span, `argument '${k}' of ${callee.name} is given twice`);
      continue;
    }
    const v = literalStatic(kw.value);
    if (v === undefined) {
      ok = false;
      error(kw.value.span, `${k} must be a number or true/false literal`);
      continue;
    }
    if (kind === 'bool' && typeof v !== 'boolean') {
      ok = false;
      error(kw.value.span, `${k} of ${callee.name} must be true or false`);
      continue;
    }
    if ((kind === 'number' || kind === 'required') && typeof v !== 'number') {
      ok = false;
      error(kw.value.span, `${k} of ${callee.name} must be a number`);
      continue;
    }
    args[k] = v;
  }
  if (table)
    for (const [k, kind] of Object.entries(table))
      if (kind === 'required' && !Object.hasOwn(args, k)) {
        ok = false;
        error(e.span, `${callee.name} needs ${k}, as in ${callee.name}(${k} = 0.01)`);
      }
  return ok ? { name: callee.name, args, span: e.span } : undefined;
}

/** The optimizer line, with its hyperparameters' ranges and combinations checked (optimizers.md). */
export function optimizerSpec(e: Expr, error: Report): OptimizerSpec | undefined {
  const spec = writtenOptimizer(e, 'line', error);
  if (!spec) return undefined;
  const issues = validateOptimizer(spec);
  for (const issue of issues) {
    // The wrapped call the issue is in: `depth` wrappers down (sam(lookahead(adam(...))): 2).
    let call = e;
    for (let d = issue.inner ? (issue.depth ?? 1) : 0; d > 0 && call.kind === 'call' && call.args[0]; d--)
      call = call.args[0];
    const kw = call.kind === 'call' ? call.kwargs.find((k) => k.name.name === issue.arg) : undefined;
    error(kw ? kw.value.span : call.span, issue.message);
  }
  return issues.length > 0 ? undefined : spec;
}

/**
 * Where an optimizer call stands: the line itself (sam, lookahead or an
 * optimizer), inside sam (lookahead or an optimizer), inside lookahead (an
 * optimizer).
 */
type Level = 'line' | 'sam' | 'lookahead';

/** An optimizer call's names, argument names and kinds. */
function writtenOptimizer(e: Expr, level: Level, error: Report): OptimizerSpec | undefined {
  if (e.kind === 'call' && e.callee.name === 'sam') {
    if (level !== 'line') {
      error(
        e.span,
        level === 'sam'
          ? 'sam cannot wrap another sam'
          : 'sam goes outside lookahead: sam(lookahead(adam(lr = 1e-3)), rho = 0.05)',
      );
      return undefined;
    }
    return wrapper(e, 'sam', 'sam wraps one optimizer: sam(adam(lr = 1e-3), rho = 0.05)', SAM_ARG_KINDS, error);
  }
  const outer = level !== 'lookahead';
  if (outer && e.kind === 'call' && e.callee.name === 'lookahead') {
    const [inner, ...rest] = e.args;
    if (!inner || rest.length > 0) {
      error(e.span, 'lookahead wraps one optimizer: lookahead(adam(lr = 1e-3), k = 5, alpha = 0.5)');
      return undefined;
    }
    const innerSpec = writtenOptimizer(inner, 'lookahead', error);
    const self = hyperCall({ ...e, args: [] }, 'optimizer', ['lookahead'], () => LOOKAHEAD_ARG_KINDS, error);
    if (!innerSpec || !self) return undefined;
    return { ...self, span: e.span, inner: innerSpec };
  }
  if (!outer && e.kind === 'call' && e.callee.name === 'lookahead') {
    error(e.span, 'lookahead cannot wrap another lookahead');
    return undefined;
  }
  return hyperCall(
    e,
    'optimizer',
    [...OPTIMIZER_NAMES, ...(outer ? ['lookahead'] : []), ...(level === 'line' ? ['sam'] : [])],
    optimizerArgKinds,
    error,
  );
}

/** `sam(inner, k = v, ...)`: one positional optimizer, then its own arguments by name. */
function wrapper(
  e: Extract<Expr, { kind: 'call' }>,
  name: 'sam',
  form: string,
  kinds: Readonly<Record<string, ArgKind>>,
  error: Report,
): OptimizerSpec | undefined {
  const [inner, ...rest] = e.args;
  if (!inner || rest.length > 0) {
    error(e.span, form);
    return undefined;
  }
  const innerSpec = writtenOptimizer(inner, name, error);
  const self = hyperCall({ ...e, args: [] }, 'optimizer', [name], () => kinds, error);
  if (!innerSpec || !self) return undefined;
  return { ...self, span: e.span, inner: innerSpec };
}

/** `global_norm(max)` or `value(max)`, max a positive literal. */
export function clipSpec(e: Expr, error: Report): ClipSpec | undefined {
  const form = 'clip global_norm(max) or clip value(max)';
  if (e.kind !== 'call' || (e.callee.name !== 'global_norm' && e.callee.name !== 'value')) {
    const n = e.kind === 'call' ? e.callee.name : e.kind === 'name' ? e.name : undefined;
    const hint = n === undefined ? undefined : closest(n, ['global_norm', 'value']);
    error(e.span, `expected ${form}${hint ? `; did you mean '${hint}'?` : ''}`);
    return undefined;
  }
  const kind = e.callee.name;
  const given = [...e.args, ...e.kwargs.filter((k) => k.name.name === 'max').map((k) => k.value)];
  const badKw = e.kwargs.find((k) => k.name.name !== 'max');
  if (badKw) {
    error(badKw.name.span, `unknown argument '${badKw.name.name}' for ${kind}; it takes max`);
    return undefined;
  }
  if (given.length !== 1) {
    error(e.span, `${kind} takes one argument: ${kind}(max)`);
    return undefined;
  }
  const v = literalNumber(given[0]!);
  if (v === undefined || !(v > 0) || !Number.isFinite(v)) {
    error(given[0]!.span, `the max of ${kind} must be a positive number literal`);
    return undefined;
  }
  return { kind, max: v, span: e.span };
}

/** A schedule line: a known schedule's name, and literal arguments (checked when the host evaluates it). */
export function scheduleCall(e: Expr, error: Report): HyperCall | undefined {
  return hyperCall(e, 'schedule', SCHEDULE_NAMES, undefined, error);
}

/** Directions above this would only multiply the step's graph; the estimate's variance falls as 1/k. */
export const MAX_DIRECTIONS = 256;

const ESTIMATORS = ['backprop', 'forward'];

/** `backprop`, or `forward` / `forward(directions = k)` with k a positive integer literal (default 1). */
export function gradientSpec(e: Expr, error: Report): GradientEstimator | undefined {
  const form = 'gradient backprop or gradient forward(directions = k)';
  const callee = e.kind === 'name' ? { name: e.name, span: e.span } : e.kind === 'call' ? e.callee : undefined;
  if (!callee) {
    error(e.span, `expected ${form}`);
    return undefined;
  }
  if (!ESTIMATORS.includes(callee.name)) {
    const hint = closest(callee.name, ESTIMATORS);
    error(
      callee.span,
      `unknown gradient estimator '${callee.name}'${hint ? `; did you mean '${hint}'?` : `; expected ${form}`}`,
    );
    return undefined;
  }
  if (callee.name === 'backprop') {
    if (e.kind === 'call') {
      error(e.span, 'gradient backprop takes no arguments');
      return undefined;
    }
    return { kind: 'backprop' };
  }
  if (e.kind !== 'call') return { kind: 'forward', directions: 1 };
  if (e.args.length > 0) {
    error(e.args[0]!.span, 'the arguments of forward are given by name, as in forward(directions = 4)');
    return undefined;
  }
  let directions = 1;
  const seen = new Set<string>();
  let ok = true;
  for (const kw of e.kwargs) {
    const k = kw.name.name;
    if (k !== 'directions') {
      ok = false;
      const hint = closest(k, ['directions']);
      error(
        kw.name.span,
        `unknown argument '${k}' for forward; ${hint ? `did you mean '${hint}'?` : 'it takes directions'}`,
      );
      continue;
    }
    if (seen.has(k)) {
      ok = false;
      error(kw.name.span, `argument '${k}' of forward is given twice`);
      continue;
    }
    seen.add(k);
    const v = directionsOf(kw.value);
    if (typeof v === 'string') {
      ok = false;
      error(kw.value.span, v);
    } else directions = v;
  }
  return ok ? { kind: 'forward', directions } : undefined;
}

/** The number of directions, or why the literal is not one. */
function directionsOf(e: Expr): number | string {
  const v = literalNumber(e);
  const what = 'directions must be a positive integer literal, as in forward(directions = 4)';
  if (v === undefined) return what;
  if (v === 0) return `${what}; this is zero`;
  if (v < 0) return `${what}; this is negative`;
  if (!Number.isInteger(v)) return `${what}; this is not an integer`;
  if (e.kind !== 'number' || !e.isInt) return `${what}; write it without '.' or an exponent`;
  if (v > MAX_DIRECTIONS) return `directions must be at most ${MAX_DIRECTIONS}, got ${v}`;
  return v;
}
