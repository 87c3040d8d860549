// The fusion planner: IR graph -> kernel program. Decides what to
// materialise (decide.ts), builds one kernel per materialised root
// (kernel-builder.ts), then merges kernels: a producer with the elementwise
// consumers that read it at the same index (epilogues: bias + activation
// after a matmul, optimizer updates after a gradient reduction), and
// siblings over the same parallel space (softmax cross-entropy's loss and
// gradient rows). Every refusal is explained.

import { type Shape, dimEq, formatShape, numel } from '../types.js';
import { type Graph, IRError, type Node } from '../ir.js';
import { opLabel, printIds } from '../print.js';
import type { IExpr, Kernel, KernelProgram, Loop, ProgramBuffer, Stage, Store, VExpr } from '../kernel/kir.js';
import { dimExpr, iadd, ic, imul, ivar, printIndex } from '../kernel/index-expr.js';
import { VExprRewriter, collectDims, collectLoads } from '../kernel/walk.js';
import { refineLoops } from '../kernel/refine-loops.js';
import { NONFINITE_OUTPUT } from '../../runtime/nonfinite.js';
import {
  type DraftKernel,
  KernelBuilder,
  Refine,
  type BufferMap,
  type StoreCheckBuf,
  boolValue,
} from './kernel-builder.js';
import { MAX_KERNEL_OPS, decide, describeNode } from './decide.js';
import { KernelDependencies } from './dependencies.js';
import { DraftCache, type NamedBuffers, type RootBuffers } from './draft-cache.js';
import { type GraphInfo, graphInfo, isScalarArg, reducesTrailing } from './graph-info.js';

export interface PlanOptions {
  /** Storage buffers one kernel may bind (WebGPU's default limit is 8). */
  readonly maxBuffers?: number;
  /** Skip kernel merging (for differential tests of fused vs unfused). */
  readonly noMerge?: boolean;
  /** Skip loop splitting and unrolling (for differential tests of refined vs plain loops). */
  readonly noRefine?: boolean;
  /** Rebuild every kernel in every planning attempt (for differential tests of DraftCache). */
  readonly noReuse?: boolean;
  /**
   * Params whose in-place updates (assigns) get the non-finite check: the
   * program gains the i32 output NONFINITE_OUTPUT of one word per param, in
   * this order (the training step's trainable params).
   */
  readonly nonfinite?: readonly string[];
}

export interface FusionPlan {
  readonly program: KernelProgram;
  /** Why values were materialised and why merges were refused. */
  readonly explain: readonly string[];
}

const MAX_REFINES = 10_000;

export function planKernels(g: Graph, opts: PlanOptions = {}): FusionPlan {
  const maxBuffers = opts.maxBuffers ?? Infinity;
  const info = graphInfo(g);
  const ids = printIds([...g.inputs, ...g.params, ...g.outputs.map((o) => o.node)]);
  const forced = new Map<number, string>();
  // In order of first mention: merge rounds repeat their refusals.
  const explain = new Set<string>();
  let cache = new DraftCache();
  for (let attempt = 0; ; attempt++) {
    if (opts.noReuse) cache = new DraftCache();
    if (attempt > MAX_REFINES) throw new IRError('fusion planning does not converge');
    const decisions = decide(info, forced);
    const buffers = new Buffers(info, decisions, opts.nonfinite ?? []);
    try {
      let drafts = mergeCycles(
        buffers.roots.map((r) => cache.draft(r, buffers, (b) => buildRoot(r, b, info, maxBuffers))),
        buffers,
        maxBuffers,
      );
      for (const [id, why] of decisions.reasons) {
        const n = info.byId.get(id)!;
        explain.add(`materialised ${describeNode(n, ids)} ${formatShape(n.shape)}: ${why}`);
      }
      if (!opts.noMerge) drafts = mergeKernels(drafts, buffers, maxBuffers, explain, ids);
      return { program: assemble(drafts, buffers, g, !opts.noRefine), explain: [...explain] };
    } catch (e) {
      if (!(e instanceof Refine)) throw e;
      if (forced.has(e.node.id)) throw new IRError(`fusion: cannot place ${describeNode(e.node, ids)}: ${e.reason}`);
      forced.set(e.node.id, `split: ${e.reason}`);
    }
  }
}

/** Program buffers: graph inputs and params, outputs, and one temp per other materialised node. */
class Buffers implements NamedBuffers {
  readonly list: ProgramBuffer[] = [];
  /** Each buffer's name across planning attempts (see draft-cache.ts). */
  private readonly names: string[] = [];
  /** Where each node's value is read from. */
  private readonly homes = new Map<number, number>();
  /** Where each root's kernel stores it (an output may also be a temp's reader, etc.). */
  readonly targets = new Map<number, number[]>();
  readonly roots: Node[] = [];
  readonly outputs: { name: string; buf: number; shape: Shape; node: Node }[] = [];
  readonly assigns: { target: string; buf: number }[] = [];
  readonly paramBuf = new Map<string, number>();
  /** The flag output of the non-finite checks, and the word of each checked param buffer. */
  private readonly checks = new Map<number, StoreCheckBuf>();
  readonly flag: { readonly buf: number; readonly words: number } | undefined;

  constructor(
    readonly info: GraphInfo,
    readonly d: ReturnType<typeof decide>,
    nonfinite: readonly string[],
  ) {
    const g = info.graph;
    const add = (n: Node, role: ProgramBuffer['role']) => {
      const id = this.list.length;
      this.list.push({ id, dtype: n.dtype, size: numel(n.shape), role });
      this.names.push(role.kind === 'temp' ? `temp #${n.id}` : `${role.kind} ${role.name}`);
      return id;
    };
    for (const n of g.inputs) if (!isScalarArg(n)) this.homes.set(n.id, add(n, { kind: 'input', name: n.name }));
    for (const n of g.params) {
      const b = add(n, { kind: 'param', name: n.name });
      this.homes.set(n.id, b);
      this.paramBuf.set(n.name, b);
    }
    const isRoot = new Set<Node>();
    const target = (n: Node, buf: number) => {
      const t = this.targets.get(n.id) ?? [];
      if (!t.includes(buf)) t.push(buf);
      this.targets.set(n.id, t);
      if (!isRoot.has(n)) {
        isRoot.add(n);
        this.roots.push(n);
      }
    };
    for (const o of g.outputs) {
      if (o.node.op === 'assign') continue;
      const b = add(o.node, { kind: 'output', name: o.name });
      this.outputs.push({ name: o.name, buf: b, shape: o.node.shape, node: o.node });
      if (!this.homes.has(o.node.id)) this.homes.set(o.node.id, b);
      target(o.node, b);
    }
    const paramNodes = new Map<string, Node>();
    for (const q of g.params) if (!paramNodes.has(q.name)) paramNodes.set(q.name, q);
    for (const n of info.nodes) {
      if (n.op !== 'assign') continue;
      const p = this.paramBuf.get(n.target);
      if (p === undefined) throw new IRError(`assign to '${n.target}', which is not a param of the graph`);
      const v = n.inputs[0]!;
      this.assigns.push({ target: n.target, buf: p });
      // Store the new value straight into the param's buffer when nothing else needs it
      // stored, and the param's old value is read only while computing it (Adam's m),
      // so no reader can mistake one version for the other.
      const old = paramNodes.get(n.target)!;
      if (
        d.materialized.has(v.id) &&
        !this.homes.has(v.id) &&
        !this.targets.has(v.id) &&
        v.op !== 'param' &&
        oldValueReadOnlyBy(info, d, old, v)
      ) {
        this.homes.set(v.id, p);
        target(v, p);
      } else target(n, p);
    }
    for (const n of info.nodes) {
      if (!d.materialized.has(n.id) || this.targets.has(n.id) || n.op === 'assign') continue;
      const b = add(n, { kind: 'temp' });
      this.homes.set(n.id, b);
      target(n, b);
    }
    // After the temps, so that a flag changes no temp's number (their names in dumps).
    if (nonfinite.length > 0) {
      const buf = this.list.length;
      this.list.push({
        id: buf,
        dtype: 'i32',
        size: nonfinite.length,
        role: { kind: 'output', name: NONFINITE_OUTPUT },
      });
      this.names.push(`output ${NONFINITE_OUTPUT}`);
      this.flag = { buf, words: nonfinite.length };
      nonfinite.forEach((name, word) => {
        const p = this.paramBuf.get(name);
        if (p === undefined) throw new IRError(`non-finite check of '${name}', which is not a param of the graph`);
        this.checks.set(p, { flag: buf, word });
      });
    }
    // Roots in topological order.
    const order = new Map(info.nodes.map((n, i) => [n.id, i]));
    this.roots.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  }

  targetsOf(root: Node): readonly number[] {
    return this.targets.get(root.id)!;
  }
  homeOf(n: Node): number | undefined {
    return this.homes.get(n.id);
  }
  nameOf(buf: number): string {
    return this.names[buf]!;
  }
  home(n: Node): number {
    const h = this.homes.get(n.id);
    if (h === undefined) throw new IRError(`node #${n.id} (${n.op}) has no buffer`);
    return h;
  }
  isMaterialized(n: Node): boolean {
    return this.homes.has(n.id) && n.op !== 'input' && n.op !== 'param' ? true : this.d.materialized.has(n.id);
  }
  isRowLocal(n: Node): boolean {
    return this.d.rowLocal.has(n.id);
  }
  isParamBuffer(buf: number): boolean {
    return this.list[buf]!.role.kind === 'param';
  }
  checkOf(buf: number): StoreCheckBuf | undefined {
    return this.checks.get(buf);
  }
}

/** True when every reader of param `old` lies in the inlined cone of `v` (or there is none). */
function oldValueReadOnlyBy(info: GraphInfo, d: ReturnType<typeof decide>, old: Node, v: Node): boolean {
  const readers = info.consumers.get(old.id) ?? [];
  if (readers.length === 0) return true;
  const cone = new Set<number>();
  const walk = (n: Node) => {
    if (cone.has(n.id)) return;
    cone.add(n.id);
    for (const i of n.inputs) if (!d.materialized.has(i.id)) walk(i);
  };
  walk(v);
  return readers.every((r) => cone.has(r.id));
}

/** Parallel loops p0, p1, ... over the axes of `shape` that are not 1. */
function parallelLoops(shape: Shape): { loops: Loop[]; idx: IExpr[] } {
  const loops: Loop[] = [];
  const idx = shape.map((d) => {
    if (d === 1) return ic(0);
    const name = `p${loops.length}`;
    loops.push({ name, extent: d });
    return ivar(name);
  });
  return { loops, idx };
}

/** A concat whose operands all have one shape. */
function equalPieces(n: Node): boolean {
  const first = n.inputs[0]!.shape;
  return n.inputs.every((p) => p.shape.length === first.length && p.shape.every((d, i) => dimEq(d, first[i]!)));
}

/** The row prefix shared by the row-local reductions a root's value inlines, if any. */
function rowPrefix(root: Node, buffers: BufferMap): Shape | undefined {
  const seen = new Set<number>();
  let prefix: Shape | undefined;
  const walk = (n: Node) => {
    if (seen.has(n.id)) return;
    seen.add(n.id);
    if (n !== root && buffers.isMaterialized(n)) return;
    if (n.op === 'reduce' && buffers.isRowLocal(n) && reducesTrailing(n)) {
      const p = n.shape.slice(0, n.shape.length - n.axes.length);
      if (prefix === undefined || p.length < prefix.length) prefix = p;
    }
    n.inputs.forEach(walk);
  };
  walk(root);
  return prefix;
}

function buildRoot(root: Node, buffers: RootBuffers, info: GraphInfo, maxBuffers: number): DraftKernel {
  const targets = buffers.targetsOf(root);
  const storeAll = (kb: KernelBuilder, shape: Shape, idx: IExpr[], v: VExpr) =>
    targets.map((t) => kb.store(t, shape, idx, v));
  let draft: DraftKernel;
  if (root.op === 'matmul') {
    const [a, b] = root.inputs as [Node, Node];
    const { loops, idx } = parallelLoops(root.shape);
    const kb = new KernelBuilder(
      root,
      'matmul',
      buffers,
      loops.map((l) => ivar(l.name)),
      loops,
    );
    const r = root.shape.length;
    const k = kb.loops([a.shape[r - 1]!], 'k');
    const kIdx = k.idx[0]!;
    const av = kb.value(a, [...idx.slice(0, r - 1), kIdx]);
    const bv = kb.value(b, [...idx.slice(0, r - 2), kIdx, idx[r - 1]!]);
    const acc: VExpr = { k: 'acc', id: root.id, dtype: root.dtype };
    kb.draft.stages.push({
      kind: 'reduce',
      loops: k.loops,
      accs: [
        {
          id: root.id,
          fn: 'sum',
          dtype: root.dtype,
          value: { k: 'binary', fn: 'mul', a: av, b: bv, dtype: root.dtype },
        },
      ],
    });
    kb.draft.stageNodes.push(root.id);
    kb.draft.ops.push('matmul');
    kb.pushMap([], storeAll(kb, root.shape, idx, acc));
    draft = kb.draft;
  } else if (root.op === 'reduce') {
    const x = root.inputs[0]!;
    const { loops, idx } = parallelLoops(root.shape);
    const kb = new KernelBuilder(
      root,
      'reduce',
      buffers,
      idx.filter((e) => e.k === 'var'),
      loops,
    );
    const red = kb.loops(
      x.shape.map((d, i) => (root.axes.includes(i) ? d : 1)),
      'r',
    );
    const inIdx = idx.map((e, i) => (root.axes.includes(i) ? red.idx[i]! : e));
    const v = kb.value(x, inIdx);
    kb.draft.stages.push({
      kind: 'reduce',
      loops: red.loops,
      accs: [{ id: root.id, fn: root.fn, dtype: root.dtype, value: v }],
    });
    kb.draft.stageNodes.push(root.id);
    kb.draft.ops.push(`reduce_${root.fn}`);
    kb.pushMap([], storeAll(kb, root.shape, idx, { k: 'acc', id: root.id, dtype: root.dtype }));
    draft = kb.draft;
  } else if (root.op === 'scatter_add') {
    const [upd, ix] = root.inputs as [Node, Node];
    const ax = root.axis;
    const { loops, idx } = parallelLoops(root.shape);
    const kb = new KernelBuilder(
      root,
      'scatter',
      buffers,
      idx.filter((e) => e.k === 'var'),
      loops,
    );
    const red = kb.loops(ix.shape, 's');
    const hi = dimExpr(root.shape[ax]!);
    const iv = kb.value(ix, red.idx);
    const clamped: VExpr = {
      k: 'binary',
      fn: 'max',
      a: { k: 'const', v: 0, dtype: 'i32' },
      b: { k: 'binary', fn: 'min', a: iv, b: { k: 'index', i: { k: 'add', a: hi, b: ic(-1) } }, dtype: 'i32' },
      dtype: 'i32',
    };
    const u = kb.value(upd, [...idx.slice(0, ax), ...red.idx, ...idx.slice(ax + 1)]);
    const hit: VExpr = { k: 'binary', fn: 'eq', a: clamped, b: { k: 'index', i: idx[ax]! }, dtype: 'bool' };
    const v: VExpr = { k: 'where', c: hit, a: u, b: { k: 'const', v: 0, dtype: root.dtype }, dtype: root.dtype };
    kb.draft.stages.push({
      kind: 'reduce',
      loops: red.loops,
      accs: [{ id: root.id, fn: 'sum', dtype: root.dtype, value: v }],
    });
    kb.draft.stageNodes.push(root.id);
    kb.draft.ops.push('scatter_add');
    kb.pushMap([], storeAll(kb, root.shape, idx, { k: 'acc', id: root.id, dtype: root.dtype }));
    draft = kb.draft;
  } else if (root.op === 'concat' && equalPieces(root) && rowPrefix(root, buffers) === undefined) {
    // A stored concat of equal pieces: one point per element of a piece, one
    // store per piece, so no element pays for selecting among the pieces.
    const piece = root.inputs[0]!.shape;
    const par = parallelLoops(piece);
    const kb = new KernelBuilder(
      root,
      'elementwise',
      buffers,
      par.idx.filter((e: IExpr) => e.k === 'var'),
      par.loops,
    );
    kb.draft.ops.push('concat');
    const size = dimExpr(piece[root.axis]!);
    const stores = root.inputs.flatMap((p, i) => {
      const v = kb.value(p, par.idx);
      const at = par.idx.map((e, k) => (k === root.axis ? iadd(e, imul(ic(i), size)) : e));
      return storeAll(kb, root.shape, at, v);
    });
    kb.pushMap([], stores);
    draft = kb.draft;
  } else {
    // Elementwise (and views, copies, assigns): over the whole shape, or row-wise when
    // the value inlines reductions over trailing axes of a row prefix.
    const prefix = rowPrefix(root, buffers);
    const shape = root.shape;
    const rowwise =
      prefix !== undefined && prefix.length <= shape.length && prefix.every((d, i) => dimEq(d, shape[i]!));
    const par = parallelLoops(rowwise ? shape.slice(0, prefix.length) : shape);
    const kb = new KernelBuilder(
      root,
      rowwise ? 'rowwise' : 'elementwise',
      buffers,
      par.idx.filter((e: IExpr) => e.k === 'var'),
      par.loops,
    );
    const inner = rowwise ? kb.loops(shape.slice(prefix.length), 'm') : { loops: [], idx: [] };
    const idx = [...par.idx, ...inner.idx];
    const v = kb.compute(root, idx, { k: 'true' });
    kb.pushMap(inner.loops, storeAll(kb, shape, idx, v));
    draft = kb.draft;
  }
  checkRowLocalReads(draft, info);
  try {
    checkHazards(draft);
  } catch (e) {
    // The root updates a buffer in place that its inlined inputs read at other
    // indices (or after storing it): computing an input into a buffer of its
    // own first removes the read from this kernel.
    if (!(e instanceof IRError) || !hasInlinedInput(root, buffers)) throw e;
    throw new Refine(widestInput(root, buffers), e.message);
  }
  if (draft.slots.length > maxBuffers)
    throw new Refine(
      widestInput(root, buffers),
      `kernel would bind ${draft.slots.length} buffers (limit ${maxBuffers})`,
    );
  return draft;
}

function hasInlinedInput(root: Node, buffers: BufferMap): boolean {
  return root.inputs.some(
    (x) => !(buffers.isMaterialized(x) || x.op === 'input' || x.op === 'param' || x.op === 'const'),
  );
}

/** The inlined input of `root` that reads the most buffers: materialising it splits the kernel. */
function widestInput(root: Node, buffers: BufferMap): Node {
  let best: Node | undefined;
  let bestReads = -1;
  for (const x of root.inputs) {
    if (buffers.isMaterialized(x) || x.op === 'input' || x.op === 'param' || x.op === 'const') continue;
    const reads = new Set<number>();
    const seen = new Set<number>();
    const walk = (n: Node) => {
      if (seen.has(n.id)) return;
      seen.add(n.id);
      if (buffers.isMaterialized(n) || n.op === 'input' || n.op === 'param') return void reads.add(n.id);
      n.inputs.forEach(walk);
    };
    walk(x);
    if (reads.size > bestReads) {
      bestReads = reads.size;
      best = x;
    }
  }
  if (!best) throw new IRError(`a single ${root.op} reads more buffers than the target allows`);
  return best;
}

/** In-place writes are safe only where every read of the buffer in the kernel is at the written index. */
function checkHazards(d: DraftKernel): void {
  const stored = new Map<number, Set<string>>();
  /** The first stage that stores each buffer. */
  const firstStore = new Map<number, number>();
  d.stages.forEach((s, i) => {
    if (s.kind !== 'map') return;
    for (const st of s.stores) {
      const buf = d.slots[st.buf]!;
      addTo(stored, buf, printIndex(st.index));
      if (!firstStore.has(buf)) firstStore.set(buf, i);
    }
  });
  d.stages.forEach((s, i) => {
    for (const l of collectLoads([s])) {
      const buf = d.slots[l.buf]!;
      const at = stored.get(buf);
      if (at && (!at.has(printIndex(l.index)) || at.size > 1))
        throw new IRError(`in-place hazard: a kernel reads buffer ${buf} at another index than it writes it`);
      // A value read as it was before this kernel must be read before the stage that overwrites it.
      if (at && i > firstStore.get(buf)! && d.reads.get(buf)?.has('old'))
        throw new IRError(`in-place hazard: a kernel reads the old value of buffer ${buf} after storing it`);
    }
  });
}

/**
 * A row-local reduction that reads a buffer its kernel updates in place
 * (LAMB's norm of θ inside θ's update) would see other programs' writes:
 * materialise it as its own kernel instead.
 */
function checkRowLocalReads(d: DraftKernel, info: GraphInfo): void {
  let ordinal = 0;
  for (const s of d.stages) {
    if (s.kind !== 'reduce') continue;
    const id = d.stageNodes[ordinal++]!;
    if (id === d.root.id) continue;
    for (const l of collectLoads([s]))
      if (d.writes.has(d.slots[l.buf]!)) {
        const n = info.byId.get(id)!;
        throw new Refine(n, 'a row reduction reads a buffer its kernel updates in place');
      }
  }
}

function addTo(m: Map<number, Set<string>>, k: number, v: string): void {
  const s = m.get(k) ?? new Set<string>();
  s.add(v);
  m.set(k, s);
}

// ---------------------------------------------------------------------------
// Merging

function sameParallel(a: DraftKernel, b: DraftKernel): boolean {
  return (
    a.parallel.length === b.parallel.length &&
    a.parallel.every((l, i) => l.name === b.parallel[i]!.name && dimEq(l.extent, b.parallel[i]!.extent))
  );
}

/** Concatenates kernel b after a: one slot list, b's loads of values a stores (same index) forwarded. */
function combine(a: DraftKernel, b: DraftKernel, forward: boolean): DraftKernel {
  const slots = [...a.slots];
  const slotOf = (buf: number) => {
    let s = slots.indexOf(buf);
    if (s < 0) {
      s = slots.length;
      slots.push(buf);
    }
    return s;
  };
  const stored = new Map<string, VExpr>();
  if (forward) {
    const last = a.stages[a.stages.length - 1];
    if (last?.kind === 'map' && last.loops.length === 0)
      for (const st of last.stores) stored.set(`${a.slots[st.buf]!}@${printIndex(st.index)}`, st.value);
  }
  const rw = new VExprRewriter((v) => {
    if (v.k !== 'load') return v;
    const buf = b.slots[v.buf]!;
    const fwd = stored.get(`${buf}@${printIndex(v.index)}`);
    if (!fwd) return { ...v, buf: slotOf(buf) };
    // A masked load (a concat's or a pad's piece) is forwarded as a select: left a load, it would
    // share a's map stage, which evaluates all its values before it stores any, and read the
    // buffer's contents from before a's store.
    if (v.valid.k === 'true') return fwd;
    return { k: 'where', c: boolValue(v.valid), a: fwd, b: { k: 'const', v: v.fill, dtype: v.dtype }, dtype: v.dtype };
  });
  const bStages = b.stages
    .filter((s, i) => !(s.kind === 'reduce' && a.stageNodes.includes(b.stageNodes[reduceOrdinal(b, i)]!)))
    .map((s) => {
      const r = rw.stage(s);
      return r.kind === 'map'
        ? { ...r, stores: r.stores.map((st) => renumberStore(st, (x) => slotOf(b.slots[x]!))) }
        : r;
    });
  const reads = new Map<number, Set<'old' | 'new'>>();
  for (const d of [a, b]) for (const [k, v] of d.reads) reads.set(k, new Set([...(reads.get(k) ?? []), ...v]));
  return {
    root: a.root,
    kind: a.kind === 'elementwise' ? b.kind : a.kind,
    parallel: a.parallel,
    stages: mergeMapStages([...a.stages, ...bStages]),
    slots,
    reads,
    writes: new Set([...a.writes, ...b.writes]),
    scalars: new Set([...a.scalars, ...b.scalars]),
    ops: [...a.ops, ...b.ops],
    fused: [...a.fused, ...b.fused, `${opLabel(a.root)}+${opLabel(b.root)}`],
    stageNodes: [...a.stageNodes, ...b.stageNodes.filter((n) => !a.stageNodes.includes(n))],
  };
}

/** The index among a draft's reduce stages of stage i. */
function reduceOrdinal(d: DraftKernel, i: number): number {
  return d.stages.slice(0, i).filter((s) => s.kind === 'reduce').length;
}

/** A store with its slots (the stored buffer, and a check's flag) renumbered by `slot`. */
function renumberStore(st: Store, slot: (s: number) => number): Store {
  return { ...st, buf: slot(st.buf), ...(st.check && { check: { ...st.check, flag: slot(st.check.flag) } }) };
}

/** The slots a store writes: its buffer, and its check's flag. */
function storeSlots(st: Store): number[] {
  return st.check ? [st.buf, st.check.flag] : [st.buf];
}

/** Adjacent loop-free map stages become one. */
function mergeMapStages(stages: Stage[]): Stage[] {
  const out: Stage[] = [];
  for (const s of stages) {
    const prev = out[out.length - 1];
    if (s.kind === 'map' && prev?.kind === 'map' && s.loops.length === 0 && prev.loops.length === 0)
      out[out.length - 1] = { kind: 'map', loops: [], stores: [...prev.stores, ...s.stores] };
    else out.push(s);
  }
  return out;
}

/**
 * Why merging `b` into `a` fails whatever else the plan holds (an in-place
 * conflict, a hazard, too many buffers), or the merged kernel.
 */
function combineChecked(
  a: DraftKernel,
  b: DraftKernel,
  forward: boolean,
  maxBuffers: number,
  ownerOf: (d: DraftKernel) => string,
): DraftKernel | string {
  if (forward && [...a.writes].some((w) => b.reads.get(w)?.has('old')))
    return `it needs a value ${ownerOf(a)} updates in place`;
  let merged: DraftKernel;
  try {
    merged = combine(a, b, forward);
    checkHazards(merged);
  } catch (e) {
    if (!(e instanceof IRError)) throw e;
    return e.message;
  }
  if (merged.slots.length > maxBuffers) return `${merged.slots.length} buffers > limit ${maxBuffers}`;
  return merged;
}

/** Facts about ordered pairs of drafts. */
class PairMemo<V> {
  private readonly facts = new Map<DraftKernel, Map<DraftKernel, V>>();

  get(a: DraftKernel, b: DraftKernel): V | undefined {
    return this.facts.get(a)?.get(b);
  }

  set(a: DraftKernel, b: DraftKernel, v: V): void {
    const of = this.facts.get(a);
    if (of) of.set(b, v);
    else this.facts.set(a, new Map([[b, v]]));
  }
}

/** The drafts that read some buffer `d` reads, compute a reduction it computes, or are serial like it. */
function siblingCandidates(
  d: DraftKernel,
  deps: KernelDependencies<DraftKernel>,
  byStageNode: ReadonlyMap<number, ReadonlySet<DraftKernel>>,
  serial: readonly DraftKernel[],
): Set<DraftKernel> {
  const out = new Set<DraftKernel>();
  for (const buf of d.reads.keys()) for (const k of deps.readersOf(buf)) out.add(k);
  for (const n of d.stageNodes) for (const k of byStageNode.get(n) ?? []) out.add(k);
  if (d.parallel.length === 0) for (const k of serial) out.add(k);
  out.delete(d);
  return out;
}

/**
 * Merges kernels, first producers into consumers, then siblings: each round
 * scans the pairs in kernel order and takes the first merge that succeeds.
 * Only pairs that could merge are visited (a consumer's producers, a
 * kernel's siblings, from indexes), reachability is a bit test, and what
 * refuses a pair regardless of the other kernels is computed once per pair.
 */
function mergeKernels(
  drafts: DraftKernel[],
  buffers: Buffers,
  maxBuffers: number,
  explain: Set<string>,
  ids: ReadonlyMap<number, string>,
): DraftKernel[] {
  let ks = [...drafts];
  const deps = new KernelDependencies(ks, (buf) => buffers.isParamBuffer(buf));
  const names = new Map<DraftKernel, string>();
  const name = (d: DraftKernel) => {
    let s = names.get(d);
    if (s === undefined) names.set(d, (s = `the kernel of ${describeNode(d.root, ids)}`));
    return s;
  };
  const byStageNode = new Map<number, Set<DraftKernel>>();
  const indexStageNodes = (d: DraftKernel, add: boolean) => {
    for (const n of d.stageNodes) {
      const set = byStageNode.get(n) ?? new Set<DraftKernel>();
      if (add) set.add(d);
      else set.delete(d);
      byStageNode.set(n, set);
    }
  };
  ks.forEach((d) => indexStageNodes(d, true));
  let position = new Map(ks.map((k, i) => [k, i]));
  const inKernelOrder = (xs: Iterable<DraftKernel>) => [...xs].sort((x, y) => position.get(x)! - position.get(y)!);
  // What is known of a pair once refused, per phase (rounds rescan every pair):
  // `true` when refused for good (merging other kernels only adds paths between
  // kernels, and the refusal is explained), or the reason the pair itself gives
  // (explained too), which stands unless a kernel comes between them.
  const verdicts = { epilogue: new PairMemo<true | string>(), siblings: new PairMemo<true | string>() };

  // A kernel is settled once each of its candidates has been refused. Refusals
  // stand (see `verdicts`), so after merges a settled kernel's only new
  // candidates are the kernels made since it was settled, unless a merge moved
  // other kernels past each other (then every kernel is scanned again). That
  // keeps each round short where a model has thousands of kernels.
  let made: DraftKernel[] = [];
  let settledAt = new Map<DraftKernel, number>();
  const madeSince = (k: DraftKernel) => made.slice(settledAt.get(k)).filter((m) => position.has(m));
  const full = new Set<DraftKernel>();
  const tryMerge = (a: DraftKernel, b: DraftKernel, forward: boolean, why: 'epilogue' | 'siblings'): boolean => {
    if (!sameParallel(a, b)) return false;
    // Sizes never change (a merge makes a new kernel): no verdict to keep, and
    // one line per full kernel rather than one per pair it refuses.
    if (a.ops.length + b.ops.length > MAX_KERNEL_OPS) {
      if (!full.has(a))
        explain.add(
          `not merging more into ${name(a)}: it fuses ${a.ops.length} ops (at most ${MAX_KERNEL_OPS} per kernel)`,
        );
      full.add(a);
      return false;
    }
    const known = verdicts[why].get(a, b);
    if (known === true) return false;
    const refuse = (reason: string, verdict: true | string) => {
      explain.add(`not merging ${name(b)} into ${name(a)} (${why}): ${reason}`);
      verdicts[why].set(a, b, verdict);
      return false;
    };
    if (forward ? deps.reachesVia(a, b) : deps.reaches(a, b) || deps.reaches(b, a))
      return refuse('another kernel lies between them', true);
    if (known !== undefined) return false;
    const merged = combineChecked(a, b, forward, maxBuffers, name);
    if (typeof merged === 'string') return refuse(merged, merged);
    const at = position.get(a)!;
    const others = ks.filter((k) => k !== a && k !== b);
    deps.merge(a, b, merged);
    indexStageNodes(a, false);
    indexStageNodes(b, false);
    indexStageNodes(merged, true);
    ks = [...others.filter((k) => position.get(k)! < at), merged, ...others.filter((k) => position.get(k)! > at)];
    position = new Map(ks.map((k, i) => [k, i]));
    // Keep topological order. Where the merged kernel's place already respects
    // its dependencies, orderDrafts would return the list unchanged: skip it.
    const here = position.get(merged)!;
    const inPlace =
      [...deps.predecessors(merged)].every((p) => position.get(p)! < here) &&
      [...deps.successors(merged)].every((q) => position.get(q)! > here);
    made.push(merged);
    if (inPlace) return true;
    ks = orderDrafts(ks, deps);
    position = new Map(ks.map((k, i) => [k, i]));
    if (!sameOrder(others, ks, merged)) settledAt.clear();
    return true;
  };

  // 1. Producers with consumers reading their results at the stored index (epilogues).
  for (let changed = true; changed;) {
    changed = false;
    outer: for (const b of ks) {
      const producers = deps.producers(b);
      const fresh = settledAt.has(b) ? new Set(madeSince(b)) : undefined;
      for (const a of inKernelOrder(fresh ? producers.filter((p) => fresh.has(p)) : producers)) {
        if (!sameParallel(a, b)) {
          if (verdicts.epilogue.get(a, b) === undefined) {
            explain.add(`not fusing ${name(b)} into ${name(a)}: different parallel space`);
            verdicts.epilogue.set(a, b, true);
          }
          continue;
        }
        if (tryMerge(a, b, true, 'epilogue')) {
          changed = true;
          break outer;
        }
      }
      settledAt.set(b, made.length);
    }
  }
  // 2. Siblings over the same parallel space that share inputs or row reductions.
  // Siblings merge when they share inputs or row reductions; single-program
  // kernels (whole-tensor reductions such as LAMB's norms) always may: they
  // run serially either way, and one dispatch is cheaper than two. Settled
  // kernels as in the first phase, counted afresh.
  made = [];
  settledAt = new Map();
  for (let changed = true; changed;) {
    changed = false;
    const serial = ks.filter((k) => k.parallel.length === 0);
    outer: for (const a of ks) {
      const candidates = settledAt.has(a)
        ? madeSince(a).filter((b) => b !== a && areSiblings(a, b))
        : siblingCandidates(a, deps, byStageNode, serial);
      const later = [...candidates].filter((b) => position.get(b)! > position.get(a)!);
      for (const b of inKernelOrder(later)) {
        if (!sameParallel(a, b)) continue;
        if (tryMerge(a, b, false, 'siblings')) {
          changed = true;
          break outer;
        }
      }
      settledAt.set(a, made.length);
    }
  }
  return ks;
}

/** What siblingCandidates relates: a shared input, a shared reduction, or both serial. */
function areSiblings(a: DraftKernel, b: DraftKernel): boolean {
  if (a.parallel.length === 0 && b.parallel.length === 0) return true;
  for (const buf of a.reads.keys()) if (b.reads.has(buf)) return true;
  return a.stageNodes.some((n) => b.stageNodes.includes(n));
}

/** True when `after` lists the kernels of `before` in the same relative order (`added` aside). */
function sameOrder(before: readonly DraftKernel[], after: readonly DraftKernel[], added: DraftKernel): boolean {
  let i = 0;
  for (const k of after) {
    if (k === added) continue;
    if (before[i++] !== k) return false;
  }
  return i === before.length;
}

/**
 * Kernels that update params in place can need each other's old values (the
 * Adam update of θ reads the old moment, whose update reads the old θ for
 * weight decay): such a cycle of write-after-read dependencies is legal only
 * inside one kernel, where a map stage evaluates all its stores before it
 * performs any. So every strongly connected group of drafts becomes one.
 */
function mergeCycles(drafts: DraftKernel[], buffers: Buffers, maxBuffers: number): DraftKernel[] {
  const deps = new KernelDependencies(drafts, (buf) => buffers.isParamBuffer(buf));
  const position = new Map(drafts.map((d, i) => [d, i]));
  const index = new Map<DraftKernel, number>();
  const low = new Map<DraftKernel, number>();
  const onStack = new Set<DraftKernel>();
  const stack: DraftKernel[] = [];
  const groups: DraftKernel[][] = [];
  const visit = (v: DraftKernel) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    // Dependents in draft order, as a scan of every draft would meet them.
    const dependents = [...deps.successors(v)].sort((x, y) => position.get(x)! - position.get(y)!);
    for (const w of dependents) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: DraftKernel[] = [];
      let w: DraftKernel;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      groups.push(group);
    }
  };
  drafts.forEach((d) => index.has(d) || visit(d));
  const merged = new Map<DraftKernel, DraftKernel>();
  for (const group of groups) {
    if (group.length === 1) continue;
    const ordered = drafts.filter((d) => group.includes(d));
    const first = ordered[0]!;
    if (!ordered.every((d) => sameParallel(first, d))) {
      // A member recomputes an old value inline (the forward pass inside a gradient) over another
      // shape: computing its widest inlined input into a buffer first breaks the cycle, as for hazards.
      const msg = 'in-place updates over different shapes depend on each other';
      const culprit =
        ordered.find((d) => hasInlinedInput(d.root, buffers) && !sameParallel(first, d)) ??
        ordered.find((d) => hasInlinedInput(d.root, buffers));
      if (!culprit) throw new IRError(msg);
      throw new Refine(widestInput(culprit.root, buffers), msg);
    }
    const combined = ordered.slice(1).reduce((acc, d) => combine(acc, d, false), first);
    // Every member must read the old values before any member stores: reductions
    // first, then the loop-free stores as one map stage (which reads before it writes).
    const reduces = combined.stages.filter((s) => s.kind === 'reduce');
    const maps = combined.stages.filter((s) => s.kind === 'map');
    const stages = mergeMapStages([
      ...reduces,
      ...maps.filter((s) => s.loops.length === 0),
      ...maps.filter((s) => s.loops.length > 0),
    ]);
    const one = { ...combined, stages, stageNodes: combined.stageNodes };
    if (process.env['KILN_DEBUG_FUSION'])
      console.error(
        ordered
          .map(
            (d) =>
              `${d.root.op} ${d.kind} [${d.stages.map((s) => `${s.kind}${s.loops.length}`).join(',')}] w=${[...d.writes]} r=${[...d.reads].map(([b, v]) => b + ':' + [...v].join('/'))}`,
          )
          .join('\n'),
      );
    try {
      checkHazards(one);
    } catch (e) {
      // A member reads an old value the group's single map stage has already
      // stored, in a stage of its own (a row reduction, a loop), or at another
      // index (sophia's update of w reading w[0] inline, fuzz crash-1365092228):
      // computing that member's inlined input into a buffer first leaves it a
      // pointwise read.
      if (!(e instanceof IRError)) throw e;
      const culprit =
        ordered.find(
          (d) => d.stages.some((s) => s.kind === 'reduce' || s.loops.length > 0) && hasInlinedInput(d.root, buffers),
        ) ?? ordered.find((d) => hasInlinedInput(d.root, buffers));
      if (!culprit) throw e;
      throw new Refine(widestInput(culprit.root, buffers), e.message);
    }
    if (one.slots.length > maxBuffers) {
      // The group must run as one kernel, and that would bind more buffers than the target has
      // (sophia's four in-place updates on webgpu, fuzz crash-2577206060): computing the widest
      // member's inlined input into a buffer first (a new state read, not recomputed) breaks the cycle.
      const msg = `in-place updates that depend on each other would bind ${one.slots.length} buffers (limit ${maxBuffers})`;
      const culprit = ordered
        .filter((d) => hasInlinedInput(d.root, buffers))
        .reduce<DraftKernel | undefined>((a, d) => (a && a.slots.length >= d.slots.length ? a : d), undefined);
      if (!culprit) throw new IRError(msg);
      throw new Refine(widestInput(culprit.root, buffers), msg);
    }
    for (const d of ordered) merged.set(d, one);
  }
  const out = new Set<DraftKernel>();
  for (const d of drafts) out.add(merged.get(d) ?? d);
  return [...out];
}

/** Topological order of drafts by dependencies, stable otherwise. */
function orderDrafts(ks: readonly DraftKernel[], deps: KernelDependencies<DraftKernel>): DraftKernel[] {
  const out = deps.order(ks);
  if (out.length === ks.length) return out;
  const placed = new Set(out);
  throw new IRError(
    `kernel dependencies form a cycle among ${ks
      .filter((k) => !placed.has(k))
      .map(
        (k) =>
          `#${k.root.id} ${k.root.op} reads [${[...k.reads].map(([b, v]) => `${b}:${[...v].join('/')}`).join(' ')}] writes [${[...k.writes].join(' ')}]`,
      )
      .join('; ')}`,
  );
}

// ---------------------------------------------------------------------------
// Assembly

function assemble(drafts: DraftKernel[], buffers: Buffers, g: Graph, refine: boolean): KernelProgram {
  const ordered = orderDrafts(drafts, new KernelDependencies(drafts, (buf) => buffers.isParamBuffer(buf)));
  // Drop stores into temps that nobody reads any more (their values were forwarded).
  const readBufs = new Set<number>();
  for (const d of ordered) for (const l of collectLoads(d.stages)) readBufs.add(d.slots[l.buf]!);
  const kernels: Kernel[] = [];
  for (const d of ordered) {
    const stages = d.stages
      .map((s) =>
        s.kind === 'map'
          ? {
              ...s,
              stores: s.stores.filter(
                (st) => buffers.list[d.slots[st.buf]!]!.role.kind !== 'temp' || readBufs.has(d.slots[st.buf]!),
              ),
            }
          : s,
      )
      .filter((s) => s.kind === 'reduce' || s.stores.length > 0);
    if (!stages.some((s) => s.kind === 'map')) continue;
    const used = new Set<number>();
    for (const l of collectLoads(stages)) used.add(l.buf);
    for (const s of stages)
      if (s.kind === 'map') for (const st of s.stores) for (const x of storeSlots(st)) used.add(x);
    const keep = [...used].sort((x, y) => x - y);
    const remap = new Map(keep.map((old, i) => [old, i]));
    const rw = new VExprRewriter((v) => (v.k === 'load' ? { ...v, buf: remap.get(v.buf)! } : v));
    const finalStages = stages.map((s) => {
      const r = rw.stage(s);
      return r.kind === 'map' ? { ...r, stores: r.stores.map((st) => renumberStore(st, (x) => remap.get(x)!)) } : r;
    });
    const writes = new Set<number>();
    for (const s of finalStages)
      if (s.kind === 'map') for (const st of s.stores) for (const x of storeSlots(st)) writes.add(x);
    const readSlots = new Set(collectLoads(finalStages).map((l) => l.buf));
    // Raising a flag is an or into it: readwrite, so the program zeroes the flags before each call.
    for (const s of finalStages)
      if (s.kind === 'map') for (const st of s.stores) if (st.check) readSlots.add(st.check.flag);
    const dims = collectDims(finalStages);
    for (const l of [...d.parallel, ...finalStages.flatMap((s) => s.loops)])
      if (typeof l.extent !== 'number') l.extent.syms.forEach((s) => dims.add(s));
    const kernel: Kernel = {
      name: `k${kernels.length}`,
      kind: d.kind,
      buffers: keep.map((slot, i) => ({
        id: d.slots[slot]!,
        access: writes.has(i) ? (readSlots.has(i) ? 'readwrite' : 'write') : 'read',
      })),
      dims: [...dims].sort(),
      scalars: [...d.scalars].sort(),
      parallel: d.parallel,
      stages: finalStages,
      ops: d.ops,
      fused: d.fused,
    };
    kernels.push(refine ? refineLoops(kernel) : kernel);
  }
  const scalars = g.inputs.filter(isScalarArg).map((n) => n.name);
  return {
    buffers: buffers.list,
    kernels,
    outputs: [
      ...buffers.outputs.map((o) => ({ name: o.name, buf: o.buf, shape: o.shape, dtype: o.node.dtype })),
      ...(buffers.flag
        ? [{ name: NONFINITE_OUTPUT, buf: buffers.flag.buf, shape: [buffers.flag.words], dtype: 'i32' as const }]
        : []),
    ],
    assigns: buffers.assigns,
    scalars,
  };
}
