// Which loop of a kernel becomes f32x4 lanes.
//
// Two shapes of vectorisation, chosen per kernel:
// - *inner*: the innermost loop of a stage (a row of a softmax, layer norm
//   or dot product): vector accumulators, horizontal reduction, scalar tail;
// - *parallel*: the innermost parallel loop (elementwise kernels, column
//   reductions, epilogues): every stage runs on four points at once, so
//   accumulators are per-lane and any reduction stays exact in order.
// A loop qualifies when its loads and stores are contiguous in it
// (coefficient 1; loads also any four elements within a window of 8, such as
// every other one) or invariant, no gather index depends on it, and
// reordering the points cannot change a result: a buffer the vectorised
// code writes is only read at exactly the index it is written
// (`aliasSafe`).

import type { IExpr, Kernel, Stage, VExpr } from '../../compiler/kernel/kir.js';
import { vdtype } from '../../compiler/kernel/abi.js';
import {
  aliasSafe,
  bvars,
  collect,
  isUnitStep,
  laneOffsets,
  distinctSlots,
  ivars,
  stageRoots,
} from '../../compiler/kernel/affine.js';

type LoadExpr = Extract<VExpr, { k: 'load' }>;

/** 'window': lanes within 8 elements of each other (two loads and a shuffle; expr.ts loadWindow). */
export type Access = 'invariant' | 'contiguous' | 'masked' | 'window' | 'lanewise';

/** How a load behaves across four consecutive values of `v`. */
export function classifyLoad(x: LoadExpr, v: string, aligned = false): Access {
  const inIndex = ivars(x.index).has(v);
  const inMask = bvars(x.valid).has(v);
  if (!inIndex && !inMask) return 'invariant';
  const o = laneOffsets(x.index, v, 4, aligned);
  if (o === undefined || Math.max(...o) - Math.min(...o) > 7) return 'lanewise';
  if (!isUnitStep(o)) return 'window';
  return inMask ? 'masked' : 'contiguous';
}

export function classifyStore(index: IExpr, v: string, aligned = false): Access {
  if (!ivars(index).has(v)) return 'invariant';
  return isUnitStep(laneOffsets(index, v, 4, aligned)) ? 'contiguous' : 'lanewise';
}

export interface VectorPlan {
  /** Run every stage on four consecutive points of the innermost parallel loop. */
  readonly parallel: boolean;
  /** Per stage (when not `parallel`): vectorise the stage's innermost loop. */
  readonly inner: readonly boolean[];
}

const LANE_OPS_SLOW: ReadonlySet<string> = new Set(['div', 'mod', 'pow']);

/** Operations that run lane by lane (no SIMD instruction): i32 div/mod/pow, f32 mod. */
function slowOps(nodes: readonly VExpr[]): number {
  let n = 0;
  for (const x of nodes)
    if (x.k === 'binary' && LANE_OPS_SLOW.has(x.fn) && (vdtype(x.a) !== 'f32' || x.fn === 'mod')) n++;
  return n;
}

function minExtent(d: Kernel['parallel'][number]['extent']): number {
  return typeof d === 'number' ? d : d.coef;
}

/** Can the innermost loop of stage `s` be vectorised? */
function innerOk(s: Stage): boolean {
  const v = s.loops[s.loops.length - 1];
  if (!v || (typeof v.extent === 'number' && v.extent < 4)) return false;
  if (s.kind === 'reduce' && s.accs.some((a) => a.dtype === 'bool' || a.fn === 'prod')) return false;
  const { loads } = collect(stageRoots(s));
  let wide = 0;
  // A stage's loops start at 0: its vector lanes are aligned.
  for (const x of loads) {
    const c = classifyLoad(x, v.name, true);
    if (c === 'lanewise') return false;
    if (c !== 'invariant') wide++;
  }
  if (s.kind === 'map') {
    for (const st of s.stores) if (classifyStore(st.index, v.name, true) !== 'contiguous') return false;
    if (!aliasSafe([s])) return false;
    wide++;
  }
  return wide > 0;
}

/** Can every stage run on four points of the innermost parallel loop at once? */
function parallelOk(k: Kernel): boolean {
  const v = k.parallel[k.parallel.length - 1];
  if (!v || minExtent(v.extent) < 4) return false;
  if (k.stages.some((s) => s.kind === 'reduce' && s.accs.some((a) => a.dtype === 'bool'))) return false;
  if (!aliasSafe(k.stages)) return false;
  const { loads, nodes } = collect(k.stages.flatMap(stageRoots));
  let good = 0;
  let bad = slowOps(nodes);
  // Below the outermost loop (which runs over a call's [begin, end)) the lanes start at 0: aligned.
  const aligned = k.parallel.length >= 2;
  for (const x of loads) {
    const c = classifyLoad(x, v.name, aligned);
    if (c === 'contiguous' || c === 'masked' || c === 'window') good++;
    else if (c === 'lanewise') bad++;
  }
  for (const s of k.stages)
    if (s.kind === 'map')
      for (const st of s.stores) {
        const c = classifyStore(st.index, v.name, aligned);
        if (c === 'contiguous') good++;
        else bad++;
      }
  return good > 0 && bad * 3 <= good;
}

export function planVectors(k: Kernel): VectorPlan {
  const none: VectorPlan = { parallel: false, inner: k.stages.map(() => false) };
  if (!distinctSlots(k)) return none;
  const inner = k.stages.map(innerOk);
  const looped = k.stages.filter((s) => s.loops.length > 0);
  const parallel = parallelOk(k);
  // Inner loops of at most four points (a pool's one-hot mask) gain one vector each; the stages
  // without loops would stay scalar. Lanes over the parallel loop vectorise every stage.
  const short = (s: Stage) => {
    const e = s.loops[s.loops.length - 1]!.extent;
    return typeof e === 'number' && e <= 4;
  };
  const innerWins = !(parallel && looped.every(short));
  if (looped.length > 0 && innerWins && k.stages.every((s, i) => s.loops.length === 0 || inner[i]))
    return { parallel: false, inner };
  if (parallel) return { parallel: true, inner: k.stages.map(() => false) };
  return { parallel: false, inner };
}
