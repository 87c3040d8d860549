// Range analysis: inclusive bounds of an index expression over its loop
// variables' ranges (dims are >= 1), cached per context.

import { type Range, addRange, divRange, modRange, mulRange } from '../../symbolic/range.js';
import type { Dim } from '../../types.js';
import type { IExpr } from '../kir.js';
import type { IndexCtx } from './atoms.js';
import { type IndexFold, foldIndex } from '../walk.js';

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

const RANGE: IndexFold<Range, IndexCtx> = {
  leaf(e, ctx) {
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
    }
  },
  op(k, a, b) {
    switch (k) {
      case 'add':
        return addRange(a, b);
      case 'mul':
        return mulRange(a, b);
      case 'div':
        return divRange(a, b);
      case 'mod':
        return modRange(a, b);
    }
  },
  value: (e, rec) => ({ lo: 0, hi: Math.max(0, rec(e.hi).hi - 1) }),
};

function rangeOf(e: IExpr, ctx: IndexCtx): Range {
  return foldIndex(e, RANGE, (x) => range(x, ctx), ctx);
}
