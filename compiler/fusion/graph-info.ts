// Facts about an IR graph that every fusion decision needs: nodes in
// topological order, who consumes what, and a few node classifications.

import type { Graph, Node } from '../ir.js';
import { topoSort } from '../ir.js';

export interface GraphInfo {
  readonly graph: Graph;
  /** Every node reachable from the outputs, inputs before users. */
  readonly nodes: readonly Node[];
  /** The nodes by id. */
  readonly byId: ReadonlyMap<number, Node>;
  readonly consumers: ReadonlyMap<number, readonly Node[]>;
  readonly outputIds: ReadonlySet<number>;
}

export function graphInfo(g: Graph): GraphInfo {
  const nodes = topoSort(g.outputs.map((o) => o.node));
  const consumers = new Map<number, Node[]>();
  for (const n of nodes)
    for (const i of new Set(n.inputs)) {
      const list = consumers.get(i.id) ?? [];
      list.push(n);
      consumers.set(i.id, list);
    }
  return {
    graph: g,
    nodes,
    byId: new Map(nodes.map((n) => [n.id, n])),
    consumers,
    outputIds: new Set(g.outputs.map((o) => o.node.id)),
  };
}

/** Movement ops: index arithmetic only, never a copy. */
export function isView(n: Node): boolean {
  return n.op === 'reshape' || n.op === 'permute' || n.op === 'expand' || n.op === 'slice' || n.op === 'pad';
}

/** Per-step host scalars (`@lr`, `@seed`, ...) are kernel arguments, not buffers. */
export function isScalarArg(n: Node): boolean {
  return n.op === 'input' && n.name.startsWith('@') && n.shape.length === 0;
}

/** Nodes that already live in a buffer (or are kernel arguments). */
export function isLeaf(n: Node): boolean {
  return n.op === 'input' || n.op === 'param' || n.op === 'const' || n.op === 'iota' || n.op === 'dim';
}

/** The first node below a chain of views. */
export function throughViews(n: Node): Node {
  let x = n;
  while (isView(x)) x = x.inputs[0]!;
  return x;
}

/** True when a reduce's axes are exactly the trailing axes of its input (a "row" reduction). */
export function reducesTrailing(n: Node): boolean {
  if (n.op !== 'reduce') return false;
  const r = n.inputs[0]!.shape.length;
  return n.axes.every((a, i) => a === r - n.axes.length + i);
}

const TRANSCENDENTAL = new Set(['exp', 'log', 'log1p', 'expm1', 'sin', 'cos', 'tanh', 'erf', 'sqrt', 'recip']);

export function isTranscendental(n: Node): boolean {
  return n.op === 'unary' && TRANSCENDENTAL.has(n.fn);
}
