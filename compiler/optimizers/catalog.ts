// What the checker (dsl/) knows of optimizers and schedules: their names,
// each argument's kind, and the validation of a call. All of it is derived
// from the spec in runtime/optimizers/, which the checker may not import
// (dsl reads only the compiler), so the names, arguments and messages of the
// checker are those the compiler and the runtime use.

import { SCHEDULE_ARGS } from '../../runtime/optimizers/schedules.js';
import {
  type ArgKind,
  type HyperTable,
  LOOKAHEAD_DEFAULTS,
  MODIFIER_DEFAULTS,
  OPTIMIZER_DEFAULTS,
  SAM_DEFAULTS,
  SUPPORTED_OPTIMIZERS,
  argKind,
  isSupportedOptimizer,
} from '../../runtime/optimizers/spec.js';

export type { ArgKind } from '../../runtime/optimizers/spec.js';
export { type OptimizerCall, type OptimizerIssue, validateOptimizer } from '../../runtime/optimizers/validate.js';

/** The argument kinds of a call, in the table's order. */
function kinds(table: HyperTable): Readonly<Record<string, ArgKind>> {
  return Object.fromEntries(Object.entries(table).map(([k, d]) => [k, argKind(d)]));
}

/** The optimizers a train block may name (lookahead and sam, which wrap one of them, aside), in the sheet's order. */
export const OPTIMIZER_NAMES: readonly string[] = SUPPORTED_OPTIMIZERS;

/** The arguments of `lookahead(inner, k, alpha)`. */
export const LOOKAHEAD_ARG_KINDS = kinds(LOOKAHEAD_DEFAULTS);

/** The arguments of `sam(inner, rho, adaptive)`. */
export const SAM_ARG_KINDS = kinds(SAM_DEFAULTS);

/** An optimizer's arguments, its hyperparameters then the modifiers; undefined for an unknown optimizer. */
export function optimizerArgKinds(name: string): Readonly<Record<string, ArgKind>> | undefined {
  return isSupportedOptimizer(name) ? kinds({ ...OPTIMIZER_DEFAULTS[name], ...MODIFIER_DEFAULTS }) : undefined;
}

/** The schedules a train block may name, in the spec's order. */
export const SCHEDULE_NAMES: readonly string[] = Object.keys(SCHEDULE_ARGS);
