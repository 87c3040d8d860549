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
    const walk = (x: Node) => {
      if (seen.has(x.id)) return;
      seen.add(x.id);
      if (x !== n && (materialized.has(x.id) || x.op === 'input' || x.op === 'param')) {
        reads.add(x.id);
        return;
      }
      if (x.op === 'const' || x.op === 'iota') return;
      if (!isView(x)) ops++;
      if (rowLocal.has(x.id)) rowReduce = true;
      x.inputs.forEach(walk);
    };
    walk(n);
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
  return { materialized, rowLocal, reasons };
}

export function describeNode(n: Node, ids: ReadonlyMap<number, string>): string {
  return `${ids.get(n.id) ?? `#${n.id}`} ${opLabel(n)}`;
}
