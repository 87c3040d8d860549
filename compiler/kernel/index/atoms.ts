// compiler/kernel/index/: integer index arithmetic for the kernel IR, split
// by concern (index-expr.ts re-exports it all). This file: the leaves of an
// index expression and the loop context the range analysis reads.
//
// Canonical form. Every IExpr built by the constructors (canonical.ts) is a
// polynomial over *atoms* (loop variables, symbolic dims, div, mod and value
// nodes) with integer coefficients: a left-associated sum of terms in a
// fixed order with the constant last; each term a left-associated product of
// its atoms (vars, then dims, then div, mod, value) with the coefficient
// last. Products distribute over sums. So structurally equal expressions are
// identical trees and print identically, and the simplifier can reason on
// terms. The polynomial arithmetic itself lives in compiler/symbolic/.

import type { Dim } from '../../types.js';
import type { IBool, IExpr, Loop, VExpr } from '../kir.js';

/** Entries per generation of the expression caches (see recent-cache.ts). */
export const CACHE_GENERATION = 20_000;

/** Loop extents for range analysis: variable `name` ranges over [0, extent). */
export interface IndexCtx {
  readonly extents: ReadonlyMap<string, IExpr | Dim>;
}

/** A context from loops (optionally extending another context). */
export function ctxOf(loops: readonly Loop[], base?: IndexCtx): IndexCtx {
  const extents = new Map<string, IExpr | Dim>(base?.extents ?? []);
  for (const l of loops) extents.set(l.name, l.extent);
  return { extents };
}

export function ic(v: number): IExpr {
  return { k: 'const', v: v === 0 ? 0 : v };
}
export function ivar(name: string): IExpr {
  return { k: 'var', name };
}
export function idim(name: string): IExpr {
  return { k: 'dim', name };
}
/** A data-dependent index: `x` clamped into [0, hi). */
export function ivalue(x: VExpr, hi: IExpr): IExpr {
  return { k: 'value', x, hi };
}
/** A div or mod node as is (no rewriting). */
export function raw(k: 'div' | 'mod', a: IExpr, b: IExpr): IExpr {
  return { k, a, b };
}

export const itrue: IBool = { k: 'true' };
/** The canonical false: 1 <= 0 (IBool has no literal false). */
export const ifalse: IBool = { k: 'le', a: ic(1), b: ic(0) };

export function isFalse(c: IBool): boolean {
  return c.k === 'le' && c.a.k === 'const' && c.b.k === 'const' && c.a.v > c.b.v;
}
