// Loop refinements that remove index arithmetic from kernels before any code
// generator sees them (so wasm, WGSL and the kernel interpreter all agree):
// - a parallel loop whose variable is divided by (or taken modulo) a constant d
//   that divides its extent is split into an outer loop over extent/d and an inner
//   loop over d, when that removes div/mod from the kernel (the reshaped
//   windows of pooling and its gradient: `p div 2`, `p mod 2`);
// - a reduce stage over a few points (at most UNROLL_POINTS, constant extents)
//   is unrolled into one fold expression, point by point in loop order, so a
//   2x2 pooling window costs four loads and three max, not a loop.
// The outermost parallel loop is never split: it is what threads divide.

import type { ReduceFn } from '../ir.js';
import { ctxOf, iadd, ic, imul, ivar, simplify, simplifyBool, type IndexCtx } from './index-expr.js';
import type { IBool, IExpr, Kernel, Loop, Stage, Store, VExpr } from './kir.js';
import {
  type OperandFns,
  forEachIndexOperand,
  forEachOperand,
  forEachValue,
  mapBoolOperands,
  mapIndexOperands,
  mapOperands,
  visitor,
} from './walk.js';

/** Reduce stages over at most this many points (a 3x3 window) are unrolled; longer rows keep their vectorised loops. */
const UNROLL_POINTS = 9;
/** Bound on split rounds per kernel (each must remove div/mod). */
const MAX_SPLITS = 8;

type Subst = ReadonlyMap<string, IExpr>;

/** Rewrites index expressions under a substitution, keeping untouched subtrees (and their sharing) as they are. */
class Substituter {
  private readonly memo = new Map<VExpr, VExpr>();
  /** Inside an index expression or mask: substituted, simplified once at its top. */
  private readonly raw: OperandFns = { v: (x) => this.v(x), i: (e) => this.iraw(e), b: (c) => this.braw(c) };
  /** Operands of a value node: each index expression and mask simplified. */
  private readonly full: OperandFns = { v: (x) => this.v(x), i: (e) => this.i(e), b: (c) => this.b(c) };
  constructor(
    private readonly map: Subst,
    private readonly ctx: IndexCtx,
  ) {}

  i(e: IExpr): IExpr {
    const raw = this.iraw(e);
    return raw === e ? e : simplify(raw, this.ctx);
  }

  private iraw(e: IExpr): IExpr {
    return e.k === 'var' ? (this.map.get(e.name) ?? e) : mapIndexOperands(e, this.raw);
  }

  b(c: IBool): IBool {
    const raw = this.braw(c);
    return raw === c ? c : simplifyBool(raw, this.ctx);
  }

  private braw(c: IBool): IBool {
    return mapBoolOperands(c, this.raw);
  }

  v(x: VExpr): VExpr {
    const hit = this.memo.get(x);
    if (hit) return hit;
    const out = mapOperands(x, this.full);
    this.memo.set(x, out);
    return out;
  }

  stage(s: Stage): Stage {
    if (s.kind === 'reduce') return { ...s, accs: s.accs.map((a) => ({ ...a, value: this.v(a.value) })) };
    return { ...s, stores: s.stores.map((st): Store => ({ ...st, index: this.i(st.index), value: this.v(st.value) })) };
  }
}

/** Every index expression of the kernel (loads, masks, iotas, gathers, store targets), each reference once. */
function indexExprs(stages: readonly Stage[]): IExpr[] {
  const out: IExpr[] = [];
  const roots: VExpr[] = [];
  for (const s of stages) {
    if (s.kind === 'reduce') roots.push(...s.accs.map((a) => a.value));
    else
      for (const st of s.stores) {
        out.push(st.index);
        roots.push(st.value);
      }
  }
  // Each node's index expressions, a mask as the sides of its bounds; forEachValue reaches the gathered values inside them.
  const own = visitor({ i: (e) => out.push(e) });
  forEachValue(roots, (x, again) => {
    if (!again) forEachOperand(x, own);
  });
  return out;
}

/** Calls `f` on every sub-expression of an index expression (not entering gathered values). */
function forEachSub(e: IExpr, f: (e: IExpr) => void): void {
  // A gather's operands (its value and bound) are not entered.
  const fns = visitor({
    i: (s) => {
      f(s);
      if (s.k !== 'value') forEachIndexOperand(s, fns);
    },
  });
  fns.i(e);
}

function mentions(e: IExpr, name: string): boolean {
  let hit = false;
  forEachSub(e, (s) => {
    if (s.k === 'var' && s.name === name) hit = true;
  });
  return hit;
}

/** Number of div and mod operations in the kernel's index arithmetic. */
export function divModCount(stages: readonly Stage[]): number {
  let n = 0;
  for (const e of indexExprs(stages))
    forEachSub(e, (s) => {
      if (s.k === 'div' || s.k === 'mod') n++;
    });
  return n;
}

/** Constant divisors d (1 < d < extent, dividing it) applied to expressions of `loop`'s variable. */
function divisorsOf(stages: readonly Stage[], loop: Loop): number[] {
  const ext = loop.extent;
  if (typeof ext !== 'number') return [];
  const ds = new Set<number>();
  for (const e of indexExprs(stages))
    forEachSub(e, (s) => {
      if ((s.k === 'div' || s.k === 'mod') && s.b.k === 'const' && mentions(s.a, loop.name)) {
        const d = s.b.v;
        if (d > 1 && d < ext && ext % d === 0) ds.add(d);
      }
    });
  return [...ds].sort((a, b) => a - b);
}

interface LoopNest {
  readonly parallel: readonly Loop[];
  readonly stages: readonly Stage[];
}

/** `loop` as (outer over extent/d, inner over d), everything rewritten and simplified. */
function splitLoop(n: LoopNest, loop: Loop, d: number): LoopNest {
  const outer: Loop = { name: `${loop.name}o`, extent: (loop.extent as number) / d };
  const inner: Loop = { name: `${loop.name}i`, extent: d };
  const replace = (ls: readonly Loop[]) => ls.flatMap((l) => (l === loop ? [outer, inner] : [l]));
  const parallel = replace(n.parallel);
  const loops = n.stages.map((s) => replace(s.loops));
  const by = new Map([[loop.name, iadd(imul(ivar(outer.name), ic(d)), ivar(inner.name))]]);
  // Each stage under its own loops: stages may reuse a loop name with another extent.
  const base = ctxOf(parallel);
  return {
    parallel,
    stages: n.stages.map((s, i) => ({ ...new Substituter(by, ctxOf(loops[i]!, base)).stage(s), loops: loops[i]! })),
  };
}

/** Splits parallel loops while a split removes div/mod (stage loops keep their shape for the row templates). */
function splitLoops(n: LoopNest): LoopNest {
  let cur = n;
  let count = divModCount(cur.stages);
  for (let round = 0; round < MAX_SPLITS && count > 0; round++) {
    let best: { nest: LoopNest; count: number } | undefined;
    const candidates = cur.parallel.slice(1);
    for (const loop of candidates)
      for (const d of divisorsOf(cur.stages, loop)) {
        const nest = splitLoop(cur, loop, d);
        const c = divModCount(nest.stages);
        if (c < (best?.count ?? count)) best = { nest, count: c };
      }
    if (!best) break;
    cur = best.nest;
    count = best.count;
  }
  return cur;
}

const FOLD: Record<ReduceFn, 'add' | 'mul' | 'max' | 'min'> = { sum: 'add', prod: 'mul', max: 'max', min: 'min' };

/** The points of constant-extent loops in row-major order. */
function points(loops: readonly Loop[]): number[][] {
  let out: number[][] = [[]];
  for (const l of loops) {
    const ext = l.extent as number;
    out = out.flatMap((p) => Array.from({ length: ext }, (_, i) => [...p, i]));
  }
  return out;
}

/** A reduce stage over few points as one fold expression per accumulator (loops: none). */
function unrollReduce(s: Stage, ctx: IndexCtx): Stage {
  if (s.kind !== 'reduce' || s.loops.length === 0) return s;
  if (!s.loops.every((l) => typeof l.extent === 'number')) return s;
  // Count the points before listing them: a long row has too many to list.
  const count = s.loops.reduce((n, l) => n * (l.extent as number), 1);
  if (count > UNROLL_POINTS || count === 0) return s;
  const pts = points(s.loops);
  if (s.accs.some((a) => a.dtype === 'bool')) return s;
  const subs = pts.map((p) => new Substituter(new Map(s.loops.map((l, i) => [l.name, ic(p[i]!)])), ctx));
  return {
    kind: 'reduce',
    loops: [],
    accs: s.accs.map((a) => {
      // The stage still folds its value once into the identity, so v0, v1, ... in
      // loop order gives exactly the loop's result (a sum of -0s included).
      let value = subs[0]!.v(a.value);
      for (const sub of subs.slice(1))
        value = { k: 'binary', fn: FOLD[a.fn], a: value, b: sub.v(a.value), dtype: a.dtype };
      return { ...a, value };
    }),
  };
}

/** The kernel with its loops refined (matmul kernels are left to their own template). */
export function refineLoops(k: Kernel): Kernel {
  if (k.kind === 'matmul') return k;
  const split = splitLoops({ parallel: k.parallel, stages: k.stages });
  const base = ctxOf(split.parallel);
  const stages = split.stages.map((s) => unrollReduce(s, ctxOf(s.loops, base)));
  return { ...k, parallel: split.parallel, stages };
}
