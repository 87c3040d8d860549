// The one rebuilding traversal of index expressions: substitution and
// simplification both map children and rebuild canonically, differing only
// in what they do at a node and how div/mod are rebuilt.

import type { IBool, IExpr } from '../kir.js';
import { ivalue } from './atoms.js';
import { iadd, idiv, imod, imul } from './canonical.js';
import { iand, ile } from './compare.js';
import { type BoolFold, type IndexFold, foldBool, foldIndex } from '../walk.js';

type Build = (a: IExpr, b: IExpr) => IExpr;

/**
 * e with each child replaced by f(child) (left to right), rebuilt by the
 * canonical constructors, div and mod by `div` and `mod`; leaves as they are.
 */
export function mapChildren(e: IExpr, f: (x: IExpr) => IExpr, div: Build, mod: Build): IExpr {
  return foldIndex(e, rebuild, f, { div, mod });
}

const rebuild: IndexFold<IExpr, { readonly div: Build; readonly mod: Build }> = {
  leaf: (e) => e,
  op: (k, a, b, ctx) =>
    k === 'add' ? iadd(a, b) : k === 'mul' ? imul(a, b) : k === 'div' ? ctx.div(a, b) : ctx.mod(a, b),
  value: (e, rec) => {
    const hi = rec(e.hi);
    return hi === e.hi ? e : ivalue(e.x, hi);
  },
};

const MAP_BOOL: BoolFold<IBool, (x: IExpr) => IExpr> = {
  true: (c) => c,
  le: (c, f) => ile(f(c.a), f(c.b)),
  and: (c, rec) => iand(rec(c.a), rec(c.b)),
};

/** The sides of each comparison mapped by f, the condition rebuilt canonically. */
export function mapBool(c: IBool, f: (x: IExpr) => IExpr): IBool {
  return foldBool(c, MAP_BOOL, (x) => mapBool(x, f), f);
}

const idiv2: Build = (a, b) => idiv(a, b);
const imod2: Build = (a, b) => imod(a, b);

/** Replaces variables by expressions (rebuilding canonically). */
export function substIndex(e: IExpr, map: ReadonlyMap<string, IExpr>): IExpr {
  if (e.k === 'var') return map.get(e.name) ?? e;
  return mapChildren(e, (x) => substIndex(x, map), idiv2, imod2);
}

export function substBool(c: IBool, map: ReadonlyMap<string, IExpr>): IBool {
  return mapBool(c, (x) => substIndex(x, map));
}
