// Which IR nodes get a buffer of their own (and so a kernel that computes
// them), and which are inlined into their consumers' kernels. Every decision
// has a reason, printed by `kiln dump --stage kernels --explain-fusion`.

import type { Node } from '../ir.js';
import { opLabel } from '../print.js';
import { type GraphInfo, isLeaf, isView, reducesTrailing, throughViews } from './graph-info.js';

export interface Decisions {
  /** Node ids computed into their own buffer. */
  readonly materialized: ReadonlySet<number>;
  /** Reduce node ids computed as a stage of each kernel that reads them (row-wise fusion). */
  readonly rowLocal: ReadonlySet<number>;
  readonly reasons: ReadonlyMap<number, string>;
}

/** At most this many IR ops are recomputed in each consumer instead of being stored. */
const CHEAP_OPS = 6;
/** ... reading at most this many buffers. */
const CHEAP_READS = 3;
/**
 * Most IR ops one kernel computes: a longer chain of inlined values is cut
 * into kernels of at most this many ops (boundInlining), and a merge beyond
 * it is refused (plan.ts). What fusing saves (a round trip through memory)
 * stops paying for itself long before, while checking a merge, and binaryen's
 * optimisation of the kernel, grow faster than linearly in its size: a model
 * of 1,000 params would otherwise fuse into kernels of thousands of ops that
 * take minutes to compile.
 */
export const MAX_KERNEL_OPS = 128;

/** The consumers of `n` that are not views, looking through chains of views. */
function effectiveConsumers(info: GraphInfo, n: Node): Node[] {
  const out: Node[] = [];
  const visit = (x: Node) => {
    for (const c of info.consumers.get(x.id) ?? []) {
      if (isView(c)) visit(c);
      else if (!out.includes(c)) out.push(c);
    }
  };
  visit(n);
  return out;
}

/** True when some consumer of `n` reads it through a broadcasting expand: each element more than once. */
function readThroughBroadcast(info: GraphInfo, n: Node): boolean {
  const visit = (x: Node): boolean =>
    (info.consumers.get(x.id) ?? []).some(
      (c) => isView(c) && ((c.op === 'expand' && c.shape.some((d, i) => d !== x.shape[i])) || visit(c)),
    );
  return visit(n);
}

export function decide(info: GraphInfo, forced: ReadonlyMap<number, string>): Decisions {
  const materialized = new Set<number>();
  const rowLocal = new Set<number>();
  const reasons = new Map<number, string>();
  const mark = (n: Node, why: string) => {
    if (isLeaf(n) || materialized.has(n.id)) return;
    materialized.add(n.id);
    reasons.set(n.id, why);
  };

  /** The inlined cone of `n`: ops and buffers it would recompute, and whether a row reduction is inside. */
  const cone = (n: Node) => {
    let ops = 0;
    let rowReduce = false;
    const reads = new Set<number>();
    const seen = new Set<number>();
    // An explicit stack: a cone can be as deep as the model is long.
    const stack: Node[] = [n];
    for (let x = stack.pop(); x !== undefined; x = stack.pop()) {
      if (seen.has(x.id)) continue;
      seen.add(x.id);
      if (x !== n && (materialized.has(x.id) || x.op === 'input' || x.op === 'param')) {
        reads.add(x.id);
        continue;
      }
      if (x.op === 'const' || x.op === 'iota') continue;
      if (!isView(x)) ops++;
      if (rowLocal.has(x.id)) rowReduce = true;
      for (let i = x.inputs.length - 1; i >= 0; i--) stack.push(x.inputs[i]!);
    }
    return { ops, reads: reads.size, rowReduce };
  };

  for (const n of info.nodes) {
    const why = forced.get(n.id);
    if (why !== undefined) mark(n, why);
    if (info.outputIds.has(n.id)) mark(n, 'graph output');
    switch (n.op) {
      case 'matmul':
        mark(n, 'matmul');
        for (const x of n.inputs) {
          const src = throughViews(x);
          if (!isLeaf(src)) mark(src, `operand of matmul %${n.id}`);
        }
        break;
      case 'scatter_add':
        mark(n, 'scatter_add');
        break;
      case 'assign':
        mark(n, 'in-place update');
        break;
      case 'reduce':
        if (materialized.has(n.id)) break;
        // A reduction over every axis inlined into its consumers would make each of
        // them one serial program (or recompute it per element): it gets a kernel.
        if (reducesTrailing(n) && n.axes.length < n.shape.length) rowLocal.add(n.id);
        else mark(n, n.axes.length === n.shape.length ? 'reduces every axis' : 'reduces leading axes');
        break;
      default:
        break;
    }
  }
  // Elementwise values with several consumers, or read several times through a
  // broadcast: recompute when cheap or when they belong to a row (fused with
  // the row's reductions), else store.
  for (const n of info.nodes) {
    if (materialized.has(n.id) || isLeaf(n) || isView(n) || n.op === 'reduce') continue;
    const users = effectiveConsumers(info, n);
    const broadcast = users.length === 1 && readThroughBroadcast(info, n);
    if (users.length <= 1 && !broadcast) continue;
    const c = cone(n);
    if (c.rowReduce || users.some((u) => rowLocal.has(u.id))) continue;
    if (c.ops <= CHEAP_OPS && c.reads <= CHEAP_READS) continue;
    const readers = broadcast ? 'read through a broadcast' : `${users.length} consumers`;
    mark(n, `${readers} and not cheap to recompute (${c.ops} ops, ${c.reads} buffers)`);
  }
  boundInlining(info, materialized, rowLocal, mark);
  return { materialized, rowLocal, reasons };
}

/**
 * Cuts inlined cones larger than MAX_KERNEL_OPS: in topological order, the
 * set of ops each value's kernel would compute inline (a kernel computes a
 * shared value once); where a value's set exceeds the bound, its largest
 * inlined inputs get buffers until it fits. Every kept set is bounded, so
 * the sets cost O(nodes × bound) however large the graph.
 */
function boundInlining(
  info: GraphInfo,
  materialized: ReadonlySet<number>,
  rowLocal: Set<number>,
  mark: (n: Node, why: string) => void,
): void {
  const EMPTY: Int32Array = new Int32Array(0);
  const cones = new Map<number, Int32Array>();
  const coneOf = (x: Node) => (isLeaf(x) || materialized.has(x.id) ? EMPTY : (cones.get(x.id) ?? EMPTY));
  const coneOfInputs = (n: Node, inputs: readonly Node[]) => {
    let acc: Int32Array = isView(n) ? EMPTY : Int32Array.of(n.id);
    for (const x of inputs) acc = unionSorted(acc, coneOf(x));
    return acc;
  };
  for (const n of info.nodes) {
    if (isLeaf(n)) continue;
    let inputs = [...new Set(n.inputs)];
    let cone = coneOfInputs(n, inputs);
    if (cone.length > MAX_KERNEL_OPS) {
      const before = cone.length;
      for (const x of [...inputs].sort((a, b) => coneOf(b).length - coneOf(a).length)) {
        if (cone.length <= MAX_KERNEL_OPS) break;
        const src = throughViews(x);
        if (coneOf(x).length === 0 || isLeaf(src)) continue;
        rowLocal.delete(src.id);
        mark(src, `its consumer %${n.id} would compute ${before} ops inline (at most ${MAX_KERNEL_OPS} per kernel)`);
        inputs = inputs.filter((y) => y !== x);
        cone = coneOfInputs(n, inputs);
      }
    }
    if (!materialized.has(n.id)) cones.set(n.id, cone);
  }
}

/** The union of two sorted id lists, sorted. */
function unionSorted(a: Int32Array, b: Int32Array): Int32Array {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = new Int32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length || j < b.length) {
    const x = i < a.length ? a[i]! : Infinity;
    const y = j < b.length ? b[j]! : Infinity;
    const v = Math.min(x, y);
    out[k++] = v;
    if (x === v) i++;
    if (y === v) j++;
  }
  return out.subarray(0, k);
}

export function describeNode(n: Node, ids: ReadonlyMap<number, string>): string {
  return `${ids.get(n.id) ?? `#${n.id}`} ${opLabel(n)}`;
}
