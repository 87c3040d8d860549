// Builds one kernel around a materialised root node: the root's value is
// computed from buffers by inlining every non-materialised producer into
// index arithmetic (views) and value expressions; row-local reductions
// become reduce stages of the same program.

import { type Dim, type Shape, dimEq, formatShape } from '../types.js';
import type { Node } from '../ir.js';
import { opLabel } from '../print.js';
import type { IBool, IExpr, Loop, Stage, Store, VExpr } from '../kernel/kir.js';
import { dimExpr, iadd, iand, ic, ile, imul, itrue, ivar, printIndex, simplify } from '../kernel/index-expr.js';
import { flatIndex, reshapeIndex } from '../kernel/view.js';
import { isScalarArg, isView, reducesTrailing } from './graph-info.js';

/** Thrown when a root cannot be lowered as planned; the planner materialises `node` and retries. */
export class Refine extends Error {
  constructor(
    readonly node: Node,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Where materialised values live: a program buffer per node, and which version of a param it is. */
export interface BufferMap {
  /** The buffer holding a materialised node's value (params: their own buffer). */
  home(n: Node): number;
  isMaterialized(n: Node): boolean;
  isRowLocal(n: Node): boolean;
  /** The non-finite check of stores into program buffer `buf` (a checked param's), in program buffer ids. */
  checkOf(buf: number): StoreCheckBuf | undefined;
}

/** A store check (kir.ts StoreCheck) before slots are assigned: `flag` is a program buffer id. */
export interface StoreCheckBuf {
  readonly flag: number;
  readonly word: number;
}

/** A kernel before scheduling: slots are program buffer ids; reads remember param versions. */
export interface DraftKernel {
  readonly root: Node;
  readonly kind: 'elementwise' | 'reduce' | 'rowwise' | 'matmul' | 'scatter';
  parallel: Loop[];
  stages: Stage[];
  /** Program buffer ids, slot order. */
  slots: number[];
  /** Reads: buffer id -> 'old' when read as a param's value before its update. */
  reads: Map<number, Set<'old' | 'new'>>;
  writes: Set<number>;
  scalars: Set<string>;
  ops: string[];
  /** Producer>consumer op pairs inlined into one another here, and a+b for kernels merged (fuzz coverage). */
  fused: string[];
  /** IR node ids computed by this kernel's reduce stages (for deduplication when merging). */
  stageNodes: number[];
}

const TRUE: IBool = itrue;

function cmpLe(a: IExpr, b: IExpr): VExpr {
  return { k: 'binary', fn: 'le', a: { k: 'index', i: a }, b: { k: 'index', i: b }, dtype: 'bool' };
}

/** An IBool as a bool value expression (for where-selects of pad and concat). */
export function boolValue(c: IBool): VExpr {
  switch (c.k) {
    case 'true':
      return { k: 'const', v: 1, dtype: 'bool' };
    case 'le':
      return cmpLe(c.a, c.b);
    case 'and':
      return { k: 'binary', fn: 'and', a: boolValue(c.a), b: boolValue(c.b), dtype: 'bool' };
  }
}

export class KernelBuilder {
  private readonly memo = new Map<string, VExpr>();
  private readonly accs = new Map<number, VExpr>();
  private readonly stack: Node[] = [];
  private loopCount = 0;
  readonly draft: DraftKernel;
  /** Loop extents by variable name, for the simplifier's range analysis. */
  private readonly ranges = new Map<string, Dim>();

  constructor(
    root: Node,
    kind: DraftKernel['kind'],
    private readonly buffers: BufferMap,
    private readonly pvars: readonly IExpr[],
    parallel: readonly Loop[],
  ) {
    this.draft = {
      root,
      kind,
      parallel: [...parallel],
      stages: [],
      slots: [],
      reads: new Map(),
      writes: new Set(),
      scalars: new Set(),
      ops: [],
      fused: [],
      stageNodes: [],
    };
    for (const l of parallel) this.ranges.set(l.name, l.extent);
  }

  /** Loops over `shape` (size-1 axes get the constant index 0 and no loop). */
  loops(shape: Shape, prefix: string): { loops: Loop[]; idx: IExpr[] } {
    const loops: Loop[] = [];
    const idx: IExpr[] = [];
    shape.forEach((d, i) => {
      if (d === 1) {
        idx.push(ic(0));
        return;
      }
      const name = `${prefix}${this.loopCount}_${i}`;
      loops.push({ name, extent: d });
      this.ranges.set(name, d);
      idx.push(ivar(name));
    });
    this.loopCount++;
    return { loops, idx };
  }

  simplify(e: IExpr): IExpr {
    return simplify(e, { extents: this.ranges });
  }

  private slot(buf: number): number {
    let s = this.draft.slots.indexOf(buf);
    if (s < 0) {
      s = this.draft.slots.length;
      this.draft.slots.push(buf);
    }
    return s;
  }

  load(n: Node, idx: readonly IExpr[], valid: IBool, fill = 0): VExpr {
    const buf = this.buffers.home(n);
    const versions = this.draft.reads.get(buf) ?? new Set();
    versions.add(n.op === 'param' ? 'old' : 'new');
    this.draft.reads.set(buf, versions);
    return {
      k: 'load',
      buf: this.slot(buf),
      index: this.simplify(flatIndex(n.shape, idx)),
      valid,
      fill,
      dtype: n.dtype,
    };
  }

  store(buf: number, shape: Shape, idx: readonly IExpr[], value: VExpr): Store {
    this.draft.writes.add(buf);
    const st: Store = { buf: this.slot(buf), index: this.simplify(flatIndex(shape, idx)), value };
    // The flag slot is not among the draft's writes: kernels only ever set words to 1, in any order.
    const c = this.buffers.checkOf(buf);
    return c ? { ...st, check: { flag: this.slot(c.flag), word: c.word } } : st;
  }

  /** The value of `n` at `idx`, inlining everything that is not materialised. */
  value(n: Node, idx: readonly IExpr[], valid: IBool = TRUE): VExpr {
    const key = `${n.id}|${idx.map(printIndex).join(',')}|${JSON.stringify(valid)}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    this.stack.push(n);
    try {
      const v = this.compute(n, idx, valid);
      this.memo.set(key, v);
      return v;
    } finally {
      this.stack.pop();
    }
  }

  /** The op whose definition is being inlined (views looked through); the kernel's root at the top. */
  private consumer(): Node {
    for (let i = this.stack.length - 2; i >= 0; i--) if (!isView(this.stack[i]!)) return this.stack[i]!;
    return this.draft.root;
  }

  /** The definition of `n` (even when `n` itself is materialised: used for the kernel's root). */
  compute(n: Node, idx: readonly IExpr[], valid: IBool): VExpr {
    if (n !== this.draft.root && this.buffers.isMaterialized(n)) return this.load(n, idx, valid);
    const x = n.inputs[0]!;
    if (!isView(n) && n.op !== 'input' && n.op !== 'param' && n.op !== 'const' && n.op !== 'dim') {
      this.draft.ops.push(opLabel(n));
      if (n !== this.draft.root) this.draft.fused.push(`${opLabel(n)}>${opLabel(this.consumer())}`);
    }
    switch (n.op) {
      case 'input':
        if (isScalarArg(n)) {
          this.draft.scalars.add(n.name);
          return { k: 'scalar', name: n.name, dtype: n.dtype };
        }
        return this.load(n, idx, valid);
      case 'param':
        return this.load(n, idx, valid);
      case 'const':
        return { k: 'const', v: n.value, dtype: n.dtype };
      case 'iota':
        return { k: 'index', i: idx[n.axis]! };
      case 'dim': {
        const size: VExpr = { k: 'index', i: dimExpr(n.dim) };
        return n.dtype === 'i32' ? size : { k: 'cast', x: size, dtype: n.dtype };
      }
      case 'rand':
        return { k: 'rand', key: this.value(x, [], valid), salt: n.salt, i: this.simplify(flatIndex(n.shape, idx)) };
      case 'unary':
        return { k: 'unary', fn: n.fn, x: this.value(x, idx, valid), dtype: n.dtype };
      case 'binary':
        return {
          k: 'binary',
          fn: n.fn,
          a: this.value(x, idx, valid),
          b: this.value(n.inputs[1]!, idx, valid),
          dtype: n.dtype,
        };
      case 'where':
        return {
          k: 'where',
          c: this.value(x, idx, valid),
          a: this.value(n.inputs[1]!, idx, valid),
          b: this.value(n.inputs[2]!, idx, valid),
          dtype: n.dtype,
        };
      case 'cast':
        return { k: 'cast', x: this.value(x, idx, valid), dtype: n.dtype };
      case 'stop_gradient':
      case 'assign':
        return this.value(x, idx, valid);
      case 'reshape':
        return this.value(
          x,
          reshapeIndex(x.shape, n.shape, idx, { extents: this.ranges }).map((e) => this.simplify(e)),
          valid,
        );
      case 'permute': {
        const inIdx: IExpr[] = new Array<IExpr>(n.perm.length);
        n.perm.forEach((p, i) => (inIdx[p] = idx[i]!));
        return this.value(x, inIdx, valid);
      }
      case 'expand':
        return this.value(
          x,
          x.shape.map((d, i) => (d === 1 ? ic(0) : idx[i]!)),
          valid,
        );
      case 'slice':
        return this.value(
          x,
          n.axes.map((a, i) => this.simplify(iadd(ic(a.start), imul(idx[i]!, ic(a.step))))),
          valid,
        );
      case 'pad': {
        let cond: IBool = TRUE;
        const inIdx = n.pads.map(([lo], i) => {
          if (lo === 0 && n.pads[i]![1] === 0) return idx[i]!;
          const d = dimExpr(x.shape[i]!);
          cond = iand(cond, iand(ile(ic(lo), idx[i]!), ile(idx[i]!, iadd(ic(lo - 1), d))));
          return this.simplify(iadd(idx[i]!, ic(-lo)));
        });
        const inner = this.value(x, inIdx, iand(valid, cond));
        if (inner.k === 'load' && (n.value === inner.fill || JSON.stringify(inner.valid) === JSON.stringify(valid)))
          return { ...inner, valid: iand(inner.valid, cond), fill: n.value };
        return {
          k: 'where',
          c: boolValue(cond),
          a: inner,
          b: { k: 'const', v: n.value, dtype: n.dtype },
          dtype: n.dtype,
        };
      }
      case 'concat': {
        const ax = n.axis;
        let offset: IExpr = ic(0);
        const pieces = n.inputs.map((p) => {
          const lo = offset;
          const hi = iadd(lo, dimExpr(p.shape[ax]!));
          offset = hi;
          const cond = iand(ile(lo, idx[ax]!), ile(idx[ax]!, iadd(hi, ic(-1))));
          const shifted = idx.map((e, i) => (i === ax ? this.simplify(iadd(e, imul(lo, ic(-1)))) : e));
          return { cond, v: this.value(p, shifted, iand(valid, cond)) };
        });
        let out = pieces[pieces.length - 1]!.v;
        for (let i = pieces.length - 2; i >= 0; i--)
          out = { k: 'where', c: boolValue(pieces[i]!.cond), a: pieces[i]!.v, b: out, dtype: n.dtype };
        return out;
      }
      case 'gather': {
        const ix = n.inputs[1]!;
        const a = n.axis;
        const r = ix.shape.length;
        const iv = this.value(ix, idx.slice(a, a + r), valid);
        const src: IExpr[] = [...idx.slice(0, a), { k: 'value', x: iv, hi: dimExpr(x.shape[a]!) }, ...idx.slice(a + r)];
        return this.value(x, src, valid);
      }
      case 'reduce':
        return this.rowLocalReduce(n, idx, valid);
      case 'matmul':
      case 'scatter_add':
        throw new Refine(n, `${opLabel(n)} is always materialised`);
    }
  }

  /** A row-local reduction: a reduce stage of this program, computed once per parallel point. */
  private rowLocalReduce(n: Node & { op: 'reduce' }, idx: readonly IExpr[], valid: IBool): VExpr {
    const fail = (why: string): never => {
      throw new Refine(this.boundary(n), why);
    };
    if (!this.buffers.isRowLocal(n) || !reducesTrailing(n)) fail(`reduce ${formatShape(n.shape)} is not row-local`);
    const kept = n.shape.length - n.axes.length;
    if (valid.k !== 'true') fail('row reduction under a padding mask');
    if (kept !== this.pvars.length) fail('row reduction over a different row shape');
    for (let i = 0; i < kept; i++)
      if (printIndex(this.simplify(idx[i]!)) !== printIndex(this.pvars[i]!))
        fail('row reduction read at another row than the kernel computes');
    const hit = this.accs.get(n.id);
    if (hit) return hit;
    const input = n.inputs[0]!;
    const { loops, idx: ridx } = this.loops(input.shape.slice(kept), 'r');
    const v = this.value(input, [...this.pvars, ...ridx]);
    const acc: VExpr = { k: 'acc', id: n.id, dtype: n.dtype };
    this.draft.stages.push({ kind: 'reduce', loops, accs: [{ id: n.id, fn: n.fn, dtype: n.dtype, value: v }] });
    this.draft.stageNodes.push(n.id);
    this.accs.set(n.id, acc);
    return acc;
  }

  /**
   * What to materialise when a row reduction cannot be computed here: the
   * outermost non-view node on the lowering path that still has the row's
   * shape as a prefix (so the reduction moves into that node's own kernel),
   * else the reduction itself.
   */
  private boundary(n: Node & { op: 'reduce' }): Node {
    const prefix = n.shape.slice(0, n.shape.length - n.axes.length);
    for (const s of this.stack.slice(1)) {
      if (s === n) break;
      if (isView(s) || s.op === 'reduce') continue;
      if (s.shape.length >= prefix.length && prefix.every((d, i) => dimEq(d, s.shape[i]!))) return s;
    }
    return n;
  }

  pushMap(loops: Loop[], stores: Store[]): void {
    this.draft.stages.push({ kind: 'map', loops, stores });
  }
}
