// Graph substitution: the nodes computing `roots` again with some nodes
// replaced by others of the same type, in the same builder. Nodes that do not
// depend on a replaced one are reused as they are (the builder hash-conses
// the rest), so the result shares everything else with the original graph:
// its random keys (dropout masks), its inputs, its constants.

import { type IRBuilder, type Node, IRError, topoSort } from './ir.js';
import { formatType, shapeEq } from './types.js';

/**
 * `roots` rebuilt with `b` (their builder) where each node whose id is a key
 * of `replacements` stands for its value. Every replacement must have the
 * replaced node's dtype and shape.
 */
export function substitute(b: IRBuilder, roots: readonly Node[], replacements: ReadonlyMap<number, Node>): Node[] {
  const order = topoSort(roots);
  const byId = new Map<number, Node>(order.map((n) => [n.id, n]));
  for (const [id, r] of replacements) {
    const old = byId.get(id);
    if (old && (old.dtype !== r.dtype || !shapeEq(old.shape, r.shape)))
      throw new IRError(`substitute: ${formatType(r)} cannot stand for ${formatType(old)} (%${id})`);
  }
  const done = new Map<number, Node>();
  for (const n of order) {
    const r = replacements.get(n.id);
    if (r) {
      done.set(n.id, r);
      continue;
    }
    const ins = n.inputs.map((i) => done.get(i.id) ?? i);
    // Unchanged inputs: the node itself (a rebuild would hash-cons to it anyway).
    done.set(n.id, ins.every((x, k) => x === n.inputs[k]) ? n : b.node(n, ins, n));
  }
  return roots.map((r) => done.get(r.id)!);
}
