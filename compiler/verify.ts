// The IR verifier, run after every stage: each node's recorded type must be
// what its op derives from its inputs, ids must respect data flow, names of
// inputs/params/outputs must be unique, and graph inputs/params must be the
// nodes the graph actually uses.

import { formatType, shapeEq } from './types.js';
import { type Graph, type Node, IRError, inferType, topoSort } from './ir.js';
import { printNodes } from './print.js';

export function verifyNodes(roots: readonly Node[], stage: string): void {
  verifySorted(topoSort(roots), stage);
}

/** verifyNodes over nodes already in topological order. */
function verifySorted(nodes: readonly Node[], stage: string): void {
  for (const n of nodes) {
    for (const i of n.inputs) if (i.id >= n.id) throw new IRError(`[${stage}] node ${n.id} uses a later node ${i.id}`);
    let t;
    try {
      t = inferType(n, n.inputs, n);
    } catch (e) {
      throw new IRError(`[${stage}] invalid node: ${(e as Error).message}\n${printNodes([n]).text}`);
    }
    if (t.dtype !== n.dtype || !shapeEq(t.shape, n.shape))
      throw new IRError(`[${stage}] node ${n.id} records ${formatType(n)} but its op gives ${formatType(t)}`);
  }
}

export function verifyGraph(g: Graph, stage: string): void {
  const unique = (what: string, names: readonly string[]) => {
    const seen = new Set<string>();
    for (const s of names) {
      if (seen.has(s)) throw new IRError(`[${stage}] duplicate ${what} '${s}'`);
      seen.add(s);
    }
  };
  unique(
    'input',
    g.inputs.map((n) => n.name),
  );
  unique(
    'param',
    g.params.map((n) => n.name),
  );
  unique(
    'output',
    g.outputs.map((o) => o.name),
  );
  const nodes = topoSort(g.outputs.map((o) => o.node));
  verifySorted(nodes, stage);
  const declared = new Set<number>([...g.inputs, ...g.params].map((n) => n.id));
  for (const n of nodes)
    if ((n.op === 'input' || n.op === 'param') && !declared.has(n.id))
      throw new IRError(`[${stage}] ${n.op} '${n.name}' is used but not declared by the graph`);
}
