// Range analysis: inclusive bounds of an index expression over its loop
// variables' ranges (dims are >= 1), cached per context.

import { type Range, fdiv, mulRange } from '../../symbolic/range.js';
import type { Dim } from '../../types.js';
import type { IExpr } from '../kir.js';
import type { IndexCtx } from './atoms.js';

export type { Range } from '../../symbolic/range.js';

const rangeCache = new WeakMap<IndexCtx, WeakMap<IExpr, Range>>();

/** Inclusive bounds of e over its loop variables' ranges; dims are >= 1. */
export function range(e: IExpr, ctx: IndexCtx): Range {
  let cache = rangeCache.get(ctx);
  if (!cache) rangeCache.set(ctx, (cache = new WeakMap()));
  const hit = cache.get(e);
  if (hit) return hit;
  const r = rangeOf(e, ctx);
  cache.set(e, r);
  return r;
}

/**
 * The upper bound of an extent: a dim coef*d1*d2... (each d in [1, inf)) is
 * unbounded above when coef > 0 (what the range of its product gives).
 */
function extentHi(x: IExpr | Dim, ctx: IndexCtx): number {
  if (typeof x === 'number') return x;
  if ('k' in x) return range(x, ctx).hi;
  return x.coef > 0 ? Infinity : x.coef;
}

function rangeOf(e: IExpr, ctx: IndexCtx): Range {
  switch (e.k) {
    case 'const':
      return { lo: e.v, hi: e.v };
    case 'var': {
      const ext = ctx.extents.get(e.name);
      if (ext === undefined) return { lo: -Infinity, hi: Infinity };
      return { lo: 0, hi: extentHi(ext, ctx) - 1 };
    }
    case 'dim':
      return { lo: 1, hi: Infinity };
    case 'add': {
      const a = range(e.a, ctx);
      const b = range(e.b, ctx);
      return { lo: a.lo + b.lo, hi: a.hi + b.hi };
    }
    case 'mul': {
      const a = range(e.a, ctx);
      const b = range(e.b, ctx);
      return mulRange(a, b);
    }
    case 'div': {
      const a = range(e.a, ctx);
      const b = range(e.b, ctx);
      const blo = Math.max(1, b.lo);
      const bhi = Math.max(blo, b.hi);
      return {
        lo: a.lo >= 0 ? fdiv(a.lo, bhi) : fdiv(a.lo, blo),
        hi: a.hi >= 0 ? fdiv(a.hi, blo) : fdiv(a.hi, bhi),
      };
    }
    case 'mod': {
      const a = range(e.a, ctx);
      const b = range(e.b, ctx);
      const bhi = Math.max(1, b.hi);
      if (b.lo === b.hi && Number.isFinite(a.lo) && Number.isFinite(a.hi)) {
        const n = b.lo;
        if (Math.floor(a.lo / n) === Math.floor(a.hi / n))
          return { lo: a.lo - n * Math.floor(a.lo / n), hi: a.hi - n * Math.floor(a.hi / n) };
      }
      return { lo: 0, hi: a.lo >= 0 ? Math.min(a.hi, bhi - 1) : bhi - 1 };
    }
    case 'value':
      return { lo: 0, hi: Math.max(0, range(e.hi, ctx).hi - 1) };
  }
}
