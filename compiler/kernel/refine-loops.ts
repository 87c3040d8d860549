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
import { forEachValue } from './walk.js';

/** Reduce stages over at most this many points (a 3x3 window) are unrolled; longer rows keep their vectorised loops. */
const UNROLL_POINTS = 9;
/** Bound on split rounds per kernel (each must remove div/mod). */
const MAX_SPLITS = 8;

type Subst = ReadonlyMap<string, IExpr>;

/** Rewrites index expressions under a substitution, keeping untouched subtrees (and their sharing) as they are. */
class Substituter {
  private readonly memo = new Map<VExpr, VExpr>();
  constructor(
    private readonly map: Subst,
    private readonly ctx: IndexCtx,
  ) {}

  i(e: IExpr): IExpr {
    const raw = this.iraw(e);
    return raw === e ? e : simplify(raw, this.ctx);
  }

  private iraw(e: IExpr): IExpr {
    switch (e.k) {
      case 'const':
      case 'dim':
        return e;
      case 'var':
        return this.map.get(e.name) ?? e;
      case 'add':
      case 'mul':
      case 'div':
      case 'mod': {
        const a = this.iraw(e.a);
        const b = this.iraw(e.b);
        return a === e.a && b === e.b ? e : { k: e.k, a, b };
      }
      case 'value': {
        const x = this.v(e.x);
        const hi = this.iraw(e.hi);
        return x === e.x && hi === e.hi ? e : { k: 'value', x, hi };
      }
    }
  }

  b(c: IBool): IBool {
    const raw = this.braw(c);
    return raw === c ? c : simplifyBool(raw, this.ctx);
  }

  private braw(c: IBool): IBool {
    switch (c.k) {
      case 'true':
        return c;
      case 'le': {
        const a = this.iraw(c.a);
        const b = this.iraw(c.b);
        return a === c.a && b === c.b ? c : { k: 'le', a, b };
      }
      case 'and': {
        const a = this.braw(c.a);
        const b = this.braw(c.b);
        return a === c.a && b === c.b ? c : { k: 'and', a, b };
      }
    }
  }

  v(x: VExpr): VExpr {
    const hit = this.memo.get(x);
    if (hit) return hit;
    const out = this.vraw(x);
    this.memo.set(x, out);
    return out;
  }

  private vraw(x: VExpr): VExpr {
    switch (x.k) {
      case 'const':
      case 'scalar':
      case 'acc':
        return x;
      case 'load': {
        const index = this.i(x.index);
        const valid = this.b(x.valid);
        return index === x.index && valid === x.valid ? x : { ...x, index, valid };
      }
      case 'index': {
        const i = this.i(x.i);
        return i === x.i ? x : { ...x, i };
      }
      case 'unary':
      case 'cast': {
        const a = this.v(x.x);
        return a === x.x ? x : { ...x, x: a };
      }
      case 'binary': {
        const a = this.v(x.a);
        const b = this.v(x.b);
        return a === x.a && b === x.b ? x : { ...x, a, b };
      }
      case 'where': {
        const c = this.v(x.c);
        const a = this.v(x.a);
        const b = this.v(x.b);
        return c === x.c && a === x.a && b === x.b ? x : { ...x, c, a, b };
      }
      case 'rand': {
        const key = this.v(x.key);
        const i = this.i(x.i);
        return key === x.key && i === x.i ? x : { ...x, key, i };
      }
    }
  }

  stage(s: Stage): Stage {
    if (s.kind === 'reduce') return { ...s, accs: s.accs.map((a) => ({ ...a, value: this.v(a.value) })) };
    return { ...s, stores: s.stores.map((st): Store => ({ ...st, index: this.i(st.index), value: this.v(st.value) })) };
  }
}

/** Every index expression of the kernel (loads, masks, iotas, gathers, store targets), each reference once. */
function indexExprs(stages: readonly Stage[]): IExpr[] {
  const out: IExpr[] = [];
  const boolExprs = (c: IBool): void => {
    if (c.k === 'le') out.push(c.a, c.b);
    else if (c.k === 'and') {
      boolExprs(c.a);
      boolExprs(c.b);
    }
  };
  const roots: VExpr[] = [];
  for (const s of stages) {
    if (s.kind === 'reduce') roots.push(...s.accs.map((a) => a.value));
    else
      for (const st of s.stores) {
        out.push(st.index);
        roots.push(st.value);
      }
  }
  // forEachValue also enters gathered values (an index's `value`) and masks
  forEachValue(roots, (x, again) => {
    if (again) return;
    if (x.k === 'load') {
      out.push(x.index);
      boolExprs(x.valid);
    } else if (x.k === 'index' || x.k === 'rand') out.push(x.i);
  });
  return out;
}

/** Calls `f` on every sub-expression of an index expression (not entering gathered values). */
function forEachSub(e: IExpr, f: (e: IExpr) => void): void {
  f(e);
  if (e.k === 'add' || e.k === 'mul' || e.k === 'div' || e.k === 'mod') {
    forEachSub(e.a, f);
    forEachSub(e.b, f);
  }
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

const allLoops = (n: LoopNest): Loop[] => [...n.parallel, ...n.stages.flatMap((s) => s.loops)];

/** `loop` as (outer over extent/d, inner over d), everything rewritten and simplified. */
function splitLoop(n: LoopNest, loop: Loop, d: number): LoopNest {
  const outer: Loop = { name: `${loop.name}o`, extent: (loop.extent as number) / d };
  const inner: Loop = { name: `${loop.name}i`, extent: d };
  const replace = (ls: readonly Loop[]) => ls.flatMap((l) => (l === loop ? [outer, inner] : [l]));
  const parallel = replace(n.parallel);
  const loops = n.stages.map((s) => replace(s.loops));
  const ctx = ctxOf([...parallel, ...loops.flat()]);
  const sub = new Substituter(new Map([[loop.name, iadd(imul(ivar(outer.name), ic(d)), ivar(inner.name))]]), ctx);
  return { parallel, stages: n.stages.map((s, i) => ({ ...sub.stage(s), loops: loops[i]! })) };
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
  const ctx = ctxOf(allLoops(split));
  const stages = split.stages.map((s) => unrollReduce(s, ctx));
  return { ...k, parallel: split.parallel, stages };
}
