// The options the commands share and their parsers (targets, seeds,
// numbers). Kept free of the compiler and runtime: cli/program.ts imports it to
// declare every command before it loads the one that runs.

import { availableParallelism } from 'node:os';
import { UsageError } from './errors.js';

export const TARGETS = ['reference', 'wasm', 'webgpu'] as const;
export const DEFAULT_TARGET = 'wasm';

export interface CommonOptions {
  readonly model?: string;
  readonly target: string;
  readonly seed: number;
  /** Write f32 results as F64 (the reference interpreter's full precision). */
  readonly f64?: boolean;
  /** Threads for the wasm runtime (default: the available cores). */
  readonly threads?: number;
}

/** wasm, webgpu and the float64 reference interpreter execute models. */
export function checkTarget(target: string): void {
  if (!(TARGETS as readonly string[]).includes(target))
    throw new UsageError(`unknown target '${target}' (expected ${TARGETS.join(', ')})`);
}

export function parseSeed(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--seed must be a non-negative integer, got '${s}'`);
  return n;
}

/** A commander parser for a positive integer option. */
export function positiveInt(flag: string): (s: string) => number {
  return (s) => {
    const n = Number(s);
    if (!/^\s*\d+\s*$/.test(s) || !Number.isSafeInteger(n) || n < 1)
      throw new UsageError(`${flag} must be a positive integer, got '${s}'`);
    return n;
  };
}

/** `--threads N`: a positive integer no larger than the machine's cores (more would only contend). */
export function threadCount(s: string): number {
  const n = positiveInt('--threads')(s);
  const cores = availableParallelism();
  if (n > cores)
    throw new UsageError(`--threads ${n} is more than this machine's ${cores} core${cores === 1 ? '' : 's'}`);
  return n;
}

export function positiveNumber(flag: string): (s: string) => number {
  return (s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || n < 0)
      throw new UsageError(`${flag} must be a non-negative number, got '${s}'`);
    return n;
  };
}

/** A commander parser for a whole number >= 0 (a class index). */
export function nonNegativeInt(flag: string): (s: string) => number {
  return (s) => {
    const n = Number(s);
    if (!/^\s*\d+\s*$/.test(s) || !Number.isSafeInteger(n))
      throw new UsageError(`${flag} must be a whole number >= 0, got '${s}'`);
    return n;
  };
}
