// A stable, human-readable text form of IR graphs, for `kiln dump` and golden
// tests. Nodes are renumbered in print order so unrelated changes to the
// builder do not churn the goldens.

import { formatType } from './types.js';
import { type Graph, type Node, attrsKey, topoSort } from './ir.js';

/** The op's printed name: unary/binary/reduce print their function directly. */
export function opLabel(n: Node): string {
  switch (n.op) {
    case 'unary':
    case 'binary':
      return n.fn;
    case 'reduce':
      return `reduce_${n.fn}`;
    default:
      return n.op;
  }
}

function attrText(n: Node): string {
  switch (n.op) {
    case 'unary':
    case 'binary':
      return '';
    case 'reduce':
      return `axes=[${n.axes.join(', ')}]`;
    default:
      return attrsKey(n);
  }
}

/** The printed ids (`%0`, `%1`, ...) of the nodes `roots` reach, in print order. */
export function printIds(roots: readonly Node[]): Map<number, string> {
  const ids = new Map<number, string>();
  for (const n of topoSort(roots)) ids.set(n.id, `%${ids.size}`);
  return ids;
}

export function printNodes(
  roots: readonly Node[],
  names: ReadonlyMap<number, string> = new Map(),
): {
  text: string;
  ids: Map<number, string>;
} {
  const ids = new Map<number, string>();
  const lines: string[] = [];
  for (const n of topoSort(roots)) {
    const id = `%${ids.size}`;
    ids.set(n.id, id);
    const a = attrText(n);
    const args = n.inputs.map((i) => ids.get(i.id)!).join(', ');
    const name = names.get(n.id);
    lines.push(`  ${id} = ${opLabel(n)}${a ? `[${a}]` : ''}(${args}) : ${formatType(n)}${name ? `  // ${name}` : ''}`);
  }
  return { text: lines.join('\n'), ids };
}

export function printGraph(g: Graph, title = 'graph'): string {
  const names = new Map<number, string>();
  for (const o of g.outputs) if (!names.has(o.node.id)) names.set(o.node.id, o.name);
  const { text, ids } = printNodes([...g.inputs, ...g.params, ...g.outputs.map((o) => o.node)], names);
  const outs = g.outputs.map((o) => `  output ${o.name} = ${ids.get(o.node.id)!}`);
  return [`${title} {`, text, ...outs, '}'].join('\n') + '\n';
}
