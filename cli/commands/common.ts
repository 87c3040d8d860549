// Options shared by the commands that execute a model.

import { UsageError, UserError } from '../errors.js';

export const TARGETS = ['reference', 'wasm', 'webgpu'] as const;

export interface CommonOptions {
  readonly model?: string;
  readonly target: string;
  readonly seed: number;
  /** Write f32 results as F64 (the reference interpreter's full precision). */
  readonly f64?: boolean;
}

/** Until the code generators land, only the float64 reference interpreter executes models. */
export function checkTarget(target: string): void {
  if (!(TARGETS as readonly string[]).includes(target))
    throw new UsageError(`unknown target '${target}' (expected ${TARGETS.join(', ')})`);
  if (target !== 'reference')
    throw new UserError(
      `target '${target}' is not built yet; use --target reference (the float64 interpreter) for now`,
    );
}

export function parseSeed(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--seed must be a non-negative integer, got '${s}'`);
  return n;
}
