// The 'reduce' / 'rowwise' template: one workgroup per program. Each reduce
// stage's loop points (flattened) are strided across the workgroup's
// invocations, several per invocation, and the partial accumulators are
// combined in workgroup memory by a tree, whose root every invocation then
// reads. A map stage with loops is split across the invocations the same
// way when its points are independent (each store writes a distinct place
// per point and nothing else reads it); otherwise, and for loop-free map
// stages, invocation 0 runs it alone. A storage barrier separates stages
// where a later one reads or writes what an earlier one touched.

import { aliasSafe, collect, constCoef, distinctSlots, stageRoots } from '../../compiler/kernel/affine.js';
import { indexKey } from '../../compiler/kernel/index-expr.js';
import type { IExpr, Kernel, Loop, Stage } from '../../compiler/kernel/kir.js';
import type { Dim } from '../../compiler/types.js';
import { Emitter } from './emit.js';
import { emitSequential } from './generic.js';
import { WORKGROUP_INDEX, gridLoops, pointCount, unflatten } from './grid.js';
import type { Layout } from './layout.js';
import { accRef, accTy, block, combine, declarePartials, emitFold, emitStores } from './stages.js';
import { type Built, type Limits, floorPow2 } from './template.js';

type ReduceStage = Extract<Stage, { kind: 'reduce' }>;

/** Reductions shorter than this (known at compile time) stay on the generic path: one invocation per row is faster. */
const SHORT = 64;

/** Programs enough to keep a device busy with one invocation each. */
const MANY = 256;

const isLong = (d: Dim): boolean => typeof d !== 'number' || d >= SHORT;

/** Does `k` have a reduction long enough to be worth a workgroup per program? */
export function workgroupWorthIt(k: Kernel): boolean {
  if (k.kind !== 'reduce' && k.kind !== 'rowwise') return false;
  if (!k.stages.some((s) => s.kind === 'reduce' && isLong(pointCount(s.loops)))) return false;
  // Enough programs to fill the device (column reductions of parameter
  // gradients): one invocation each, neighbours reading neighbouring columns.
  const programs = pointCount(k.parallel);
  return !(k.kind === 'reduce' && typeof programs === 'number' && programs >= MANY);
}

/** Distinct points of the stage's loops store to distinct places: each index is an injective (mixed-radix) linear form. */
function injective(index: IExpr, loops: readonly Loop[]): boolean {
  const coefs = loops.map((l) => constCoef(index, l.name));
  if (coefs.some((c) => c === undefined || c === 0)) return false;
  if (loops.length === 1) return true;
  if (loops.some((l) => typeof l.extent !== 'number')) return false;
  const terms = loops.map((l, i) => ({ c: Math.abs(coefs[i]!), e: l.extent as number })).sort((a, b) => a.c - b.c);
  let reach = 0; // the largest offset the smaller terms can add
  for (const t of terms) {
    if (t.c <= reach) return false;
    reach += t.c * (t.e - 1);
  }
  return true;
}

/** Can the points of map stage `s` run on different invocations in any order? (The alias analysis works on slots.) */
function splittable(k: Kernel, s: Extract<Stage, { kind: 'map' }>): boolean {
  if (s.loops.length === 0 || !distinctSlots(k) || !aliasSafe([s])) return false;
  const byBuf = new Map<number, string>();
  for (const st of s.stores) {
    const key = indexKey(st.index);
    if ((byBuf.get(st.buf) ?? key) !== key) return false;
    byBuf.set(st.buf, key);
    if (!injective(st.index, s.loops)) return false;
  }
  return true;
}

/** Program buffers a stage reads and writes. */
function touches(k: Kernel, s: Stage): { reads: Set<number>; writes: Set<number> } {
  const id = (slot: number) => k.buffers[slot]!.id;
  const reads = new Set(collect(stageRoots(s)).loads.map((x) => id(x.buf)));
  const writes = new Set(s.kind === 'map' ? s.stores.map((st) => id(st.buf)) : []);
  return { reads, writes };
}

function conflict(a: ReturnType<typeof touches>, b: ReturnType<typeof touches>): boolean {
  for (const w of a.writes) if (b.reads.has(w) || b.writes.has(w)) return true;
  for (const w of b.writes) if (a.reads.has(w)) return true;
  return false;
}

/** Invocations per workgroup: enough for ~4 points each of the longest stage, within the limits. */
function workgroupSize(k: Kernel, limits: Limits, accs: number): number | undefined {
  let size = floorPow2(Math.min(limits.maxInvocations, 256));
  const points = k.stages.filter((s) => s.loops.length > 0).map((s) => pointCount(s.loops));
  if (points.every((p) => typeof p === 'number')) {
    const longest = Math.max(...(points as number[]));
    size = Math.min(size, Math.max(32, floorPow2(Math.ceil(longest / 4))));
  }
  while (size > 1 && size * accs * 4 > limits.maxWorkgroupStorage) size /= 2;
  return size * accs * 4 <= limits.maxWorkgroupStorage ? size : undefined;
}

/** A strided loop over the points of `loops`: invocation `tid` takes points tid, tid + size, ... */
function emitStrided(em: Emitter, loops: readonly Loop[], size: number, body: () => void): void {
  const e = em.fresh('e');
  const stmts = em.scoped({}, () => {
    const [only] = loops;
    em.name(loops.length === 1 && only ? { [`v:${only.name}`]: e } : unflatten(em, e, loops));
    body();
  });
  em.emit(...block(`for (var ${e} = tid; ${e} < ${em.extent(pointCount(loops))}; ${e} += ${size})`, stmts));
}

/** Partial accumulators of all invocations -> the reduction, read by every invocation. */
function emitTree(em: Emitter, s: ReduceStage, partials: readonly string[], size: number, reuse: boolean): void {
  const slot = (j: number, at: string) => (j === 0 ? at : at === '0' ? String(j * size) : `${j * size} + ${at}`);
  const bits = (j: number, at: string) => `bitcast<${accTy(s.accs[j]!)}>(red[${slot(j, at)}])`;
  s.accs.forEach((_, j) => em.emit(`red[${slot(j, 'tid')}] = bitcast<u32>(${partials[j]});`));
  em.emit('workgroupBarrier();');
  if (size > 1) {
    const step = s.accs.map(
      (a, j) => `red[${slot(j, 'tid')}] = bitcast<u32>(${combine(em, a, bits(j, 'tid'), bits(j, 'tid + h'))});`,
    );
    em.emit(
      ...block(`for (var h = ${size / 2}; h > 0; h = h / 2)`, [...block('if (tid < h)', step), 'workgroupBarrier();']),
    );
  }
  s.accs.forEach((a, j) => {
    const n = `a${a.id}`;
    em.emit(`let ${n} = ${bits(j, '0')};`);
    em.name({ [`a:${a.id}`]: accRef(a, n) });
  });
  if (reuse) em.emit('workgroupBarrier();');
}

export function buildWorkgroup(k: Kernel, layout: Layout, limits: Limits): Built | undefined {
  const accs = Math.max(0, ...k.stages.map((s) => (s.kind === 'reduce' ? s.accs.length : 0)));
  const size = workgroupSize(k, limits, Math.max(accs, 1));
  if (size === undefined) return undefined;
  const em = new Emitter(k, layout);
  const loops = gridLoops(k.parallel, layout);
  const points = pointCount(loops);
  em.open();
  em.emit(`let prog = ${WORKGROUP_INDEX};`);
  em.emit(...block(`if (prog >= ${em.extent(points)})`, ['return;']));
  em.emit('let tid = i32(lid);');
  em.open(unflatten(em, 'prog', loops));
  const info = k.stages.map((s) => touches(k, s));
  let pending: number[] = [];
  k.stages.forEach((s, si) => {
    if (pending.some((i) => conflict(info[i]!, info[si]!))) {
      em.emit('storageBarrier();');
      pending = [];
    }
    pending.push(si);
    em.enterStage(s);
    if (s.kind === 'reduce') {
      const partials = declarePartials(em, s, 'part');
      const stmts = em.scoped({}, () => emitStrided(em, s.loops, size, () => emitFold(em, s, partials)), true);
      em.emit(...block('', stmts));
      const later = k.stages.slice(si + 1).some((x) => x.kind === 'reduce');
      emitTree(em, s, partials, size, later);
    } else if (splittable(k, s)) {
      const stmts = em.scoped({}, () => emitStrided(em, s.loops, size, () => emitStores(em, s)), true);
      em.emit(...block('', stmts));
    } else {
      const stmts = em.scoped({}, () => emitSequential(em, k, [si]));
      em.emit(...block('if (tid == 0)', stmts));
    }
  });
  const program = em.close();
  const head = em.close();
  return {
    template: k.kind === 'rowwise' ? 'rowwise' : 'reduce',
    workgroupSize: size,
    grid: [{ extent: points, per: 1 }],
    decls: accs > 0 ? [`var<workgroup> red: array<u32, ${size * accs}>;`] : [],
    body: [...head, ...program],
    lib: em.lib,
  };
}
