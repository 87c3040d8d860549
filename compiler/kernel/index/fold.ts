// The one recursion over index expressions and conditions. A walk says what
// a node is, given its children's results (computed left to right) and its
// context; the caller passes the recursion, so memoised walks (keys, ranges,
// dependencies) recurse through their caches. Rebuilding walks
// (substitution, simplification) are in walk.ts.

import type { IBool, IExpr } from '../kir.js';

type Leaf = Extract<IExpr, { k: 'const' | 'var' | 'dim' }>;
type Value = Extract<IExpr, { k: 'value' }>;
export type IndexOp = 'add' | 'mul' | 'div' | 'mod';

export interface IndexFold<R, C> {
  leaf(e: Leaf, ctx: C): R;
  op(k: IndexOp, a: R, b: R, ctx: C): R;
  /** A gathered value: recurses into `hi` itself (some walks look at the value first). */
  value(e: Value, rec: (x: IExpr) => R, ctx: C): R;
}

export function foldIndex<R, C>(e: IExpr, f: IndexFold<R, C>, rec: (x: IExpr) => R, ctx: C): R {
  switch (e.k) {
    case 'const':
    case 'var':
    case 'dim':
      return f.leaf(e, ctx);
    case 'add':
    case 'mul':
    case 'div':
    case 'mod':
      return f.op(e.k, rec(e.a), rec(e.b), ctx);
    case 'value':
      return f.value(e, rec, ctx);
  }
}

type True = Extract<IBool, { k: 'true' }>;
type Le = Extract<IBool, { k: 'le' }>;
type And = Extract<IBool, { k: 'and' }>;

export interface BoolFold<R, C> {
  true(c: True, ctx: C): R;
  le(c: Le, ctx: C): R;
  /** Recurses into the conjuncts itself (evaluation stops at the first false). */
  and(c: And, rec: (x: IBool) => R, ctx: C): R;
}

export function foldBool<R, C>(c: IBool, f: BoolFold<R, C>, rec: (x: IBool) => R, ctx: C): R {
  switch (c.k) {
    case 'true':
      return f.true(c, ctx);
    case 'le':
      return f.le(c, ctx);
    case 'and':
      return f.and(c, rec, ctx);
  }
}
