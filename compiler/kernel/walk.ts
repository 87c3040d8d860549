// Structural traversal and rewriting of kernel IR expressions, preserving the
// sharing of subtrees (a rewritten shared subtree stays shared).
//
// The operands of every kind of node are known in one place: `mapOperands`,
// `mapIndexOperands`, `mapBoolOperands`, `foldIndex` and `foldBool` below (exhaustive switches, so a
// new kind of node fails to compile until it is added there). Every walk that
// recurses structurally goes through them: a rebuild maps each operand to its
// replacement, a visit maps each operand to itself (nothing is copied then).
// Walks with per-kind logic (code emission, interpretation, printing) keep
// their own switch over kinds.

import type { IBool, IExpr, Stage, VExpr } from './kir.js';

export type LoadExpr = Extract<VExpr, { k: 'load' }>;

/**
 * What to put in place of each operand of a node: a value, an index
 * expression or a validity mask. A visit returns its argument.
 */
export interface OperandFns {
  readonly v: (x: VExpr) => VExpr;
  readonly i: (e: IExpr) => IExpr;
  readonly b: (c: IBool) => IBool;
}

/**
 * `x` with each operand replaced by `f`'s result, operands in order (a load's
 * index before its mask, a rand's key before its index); `x` itself when
 * every result is the operand it replaces, unless `copy` (then every node
 * with operands is a new object: the result shares no computed node with `x`).
 */
export function mapOperands(x: VExpr, f: OperandFns, copy = false): VExpr {
  switch (x.k) {
    case 'const':
    case 'scalar':
    case 'acc':
      return x;
    case 'load': {
      const index = f.i(x.index);
      const valid = f.b(x.valid);
      return !copy && index === x.index && valid === x.valid ? x : { ...x, index, valid };
    }
    case 'index': {
      const i = f.i(x.i);
      return !copy && i === x.i ? x : { ...x, i };
    }
    case 'unary':
    case 'cast': {
      const a = f.v(x.x);
      return !copy && a === x.x ? x : { ...x, x: a };
    }
    case 'binary': {
      const a = f.v(x.a);
      const b = f.v(x.b);
      return !copy && a === x.a && b === x.b ? x : { ...x, a, b };
    }
    case 'where': {
      const c = f.v(x.c);
      const a = f.v(x.a);
      const b = f.v(x.b);
      return !copy && c === x.c && a === x.a && b === x.b ? x : { ...x, c, a, b };
    }
    case 'rand': {
      const key = f.v(x.key);
      const i = f.i(x.i);
      return !copy && key === x.key && i === x.i ? x : { ...x, key, i };
    }
  }
}

/**
 * `e` with each operand replaced (a gather's value before its bound), as
 * mapOperands; `copy` copies only gathers: pure index arithmetic is immutable
 * and only its structure matters, unlike value nodes, whose sharing the code
 * generators see.
 */
export function mapIndexOperands(e: IExpr, f: OperandFns, copy = false): IExpr {
  switch (e.k) {
    case 'const':
    case 'var':
    case 'dim':
      return e;
    case 'add':
    case 'mul':
    case 'div':
    case 'mod': {
      const a = f.i(e.a);
      const b = f.i(e.b);
      return a === e.a && b === e.b ? e : { ...e, a, b };
    }
    case 'value': {
      const x = f.v(e.x);
      const hi = f.i(e.hi);
      return !copy && x === e.x && hi === e.hi ? e : { ...e, x, hi };
    }
  }
}

/** `c` with each operand replaced, as mapOperands. */
export function mapBoolOperands(c: IBool, f: OperandFns): IBool {
  switch (c.k) {
    case 'true':
      return c;
    case 'le': {
      const a = f.i(c.a);
      const b = f.i(c.b);
      return a === c.a && b === c.b ? c : { ...c, a, b };
    }
    case 'and': {
      const a = f.b(c.a);
      const b = f.b(c.b);
      return a === c.a && b === c.b ? c : { ...c, a, b };
    }
  }
}

// Folds over index expressions and conditions: a walk says what a node is,
// given its children's results (computed left to right) and its context; the
// caller passes the recursion, so memoised walks (keys, ranges, dependencies)
// recurse through their caches. The index simplifier's walks (keys, ranges,
// evaluation, printing, substitution) go through these.

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

/** Calls `f` on each operand of `x`, in operand order. */
export function forEachOperand(x: VExpr, f: OperandFns): void {
  mapOperands(x, f);
}

/** Calls `f` on each operand of `e`, in operand order. */
export function forEachIndexOperand(e: IExpr, f: OperandFns): void {
  mapIndexOperands(e, f);
}

/** Operand functions that apply `v` to value operands and enter index expressions and masks (reaching the values gathered inside them). */
export function throughIndices(v: (x: VExpr) => VExpr): OperandFns {
  const fns: OperandFns = { v, i: (e) => mapIndexOperands(e, fns), b: (c) => mapBoolOperands(c, fns) };
  return fns;
}

export interface OperandVisitor {
  readonly v?: (x: VExpr) => void;
  readonly i?: (e: IExpr) => void;
  readonly b?: (c: IBool) => void;
}

const same = <T>(x: T): T => x;

/**
 * Operand functions that visit: `v` on every value operand; an index
 * expression or mask is given to `i` or `b`, or without them entered (its
 * operands visited in turn, reaching the values gathered inside it).
 */
export function visitor(f: OperandVisitor): OperandFns {
  const { v, i, b } = f;
  const fns: OperandFns = {
    v: v
      ? (x) => {
          v(x);
          return x;
        }
      : same,
    i: i
      ? (e) => {
          i(e);
          return e;
        }
      : (e) => mapIndexOperands(e, fns),
    b: b
      ? (c) => {
          b(c);
          return c;
        }
      : (c) => mapBoolOperands(c, fns),
  };
  return fns;
}

/** The value nodes directly below `x`: its value operands and the values gathered in its indices and mask. */
export function childValues(x: VExpr): VExpr[] {
  const out: VExpr[] = [];
  forEachOperand(x, visitor({ v: (c) => out.push(c) }));
  return out;
}

/** The values gathered in an index expression (outermost first). */
export function indexValues(e: IExpr): VExpr[] {
  const out: VExpr[] = [];
  visitor({ v: (c) => out.push(c) }).i(e);
  return out;
}

/** Rewrites every VExpr bottom-up; `f` sees a node whose children are already rewritten. */
export class VExprRewriter {
  private readonly memo = new Map<VExpr, VExpr>();
  private readonly fns: OperandFns = { v: (e) => this.v(e), i: (e) => this.i(e), b: (e) => this.b(e) };
  constructor(private readonly f: (v: VExpr) => VExpr) {}

  // Every value node is copied, so a rewritten kernel shares no computed
  // node with the one it came from (nor, after a merge, with its other part).
  v(e: VExpr): VExpr {
    const hit = this.memo.get(e);
    if (hit) return hit;
    const r = this.f(mapOperands(e, this.fns, true));
    this.memo.set(e, r);
    return r;
  }

  i(e: IExpr): IExpr {
    return mapIndexOperands(e, this.fns, true);
  }

  b(e: IBool): IBool {
    return mapBoolOperands(e, this.fns);
  }

  stage(s: Stage): Stage {
    if (s.kind === 'reduce') return { ...s, accs: s.accs.map((a) => ({ ...a, value: this.v(a.value) })) };
    return { ...s, stores: s.stores.map((st) => ({ ...st, index: this.i(st.index), value: this.v(st.value) })) };
  }
}

/**
 * Visits every value node reachable from the stages once, children before
 * parents, in the order VExprRewriter rewrites them (so queries need not
 * copy the kernel): stages in order, a store's index before its value, a
 * load's index before its mask.
 */
function forEachNode(stages: readonly Stage[], visit: (v: VExpr) => void): void {
  const seen = new Set<VExpr>();
  const fns = throughIndices((x) => {
    if (seen.has(x)) return x;
    forEachOperand(x, fns);
    seen.add(x);
    visit(x);
    return x;
  });
  for (const s of stages) {
    if (s.kind === 'reduce') for (const a of s.accs) fns.v(a.value);
    else
      for (const st of s.stores) {
        fns.i(st.index);
        fns.v(st.value);
      }
  }
}

/** Every load reachable from the stages (each shared load once), children first. */
export function collectLoads(stages: readonly Stage[]): LoadExpr[] {
  const out: LoadExpr[] = [];
  forEachNode(stages, (v) => {
    if (v.k === 'load') out.push(v);
  });
  return out;
}

/** Symbolic dimension names used by index expressions and loop extents. */
export function collectDims(stages: readonly Stage[], extraIndex: readonly IExpr[] = []): Set<string> {
  const dims = new Set<string>();
  // Gathered values are reached by forEachNode. Masks are not searched: a
  // mask bounds positions of its load's index, which names their dims.
  const fns: OperandFns = {
    v: same,
    i: (e) => {
      if (e.k === 'dim') dims.add(e.name);
      return mapIndexOperands(e, fns);
    },
    b: same,
  };
  forEachNode(stages, (v) => forEachOperand(v, fns));
  for (const s of stages) if (s.kind === 'map') s.stores.forEach((st) => fns.i(st.index));
  extraIndex.forEach(fns.i);
  return dims;
}

/**
 * Visits every value node reachable from `roots`, also through gather
 * indices and validity masks, in pre-order. `visit(x, again)` is called on
 * every reference; a node's operands are entered on its first visit only.
 */
export function forEachValue(roots: readonly VExpr[], visit: (x: VExpr, again: boolean) => void): void {
  const seen = new Set<VExpr>();
  const fns = throughIndices((x) => {
    const again = seen.has(x);
    visit(x, again);
    if (!again) {
      seen.add(x);
      forEachOperand(x, fns);
    }
    return x;
  });
  roots.forEach(fns.v);
}

/** The value nodes referenced more than once from `roots` (also from inside gather indices and masks). */
export function sharedValues(roots: readonly VExpr[]): Set<VExpr> {
  const shared = new Set<VExpr>();
  forEachValue(roots, (x, again) => {
    if (again) shared.add(x);
  });
  return shared;
}
