// Where in the source an IR op comes from. IR nodes carry no source spans
// (the model contract keeps the compiler free of the front end), so a node
// is traced to the first statement of the model body, in source order, whose
// value needs it: the `let` or `output` that computes it, or that calls the
// fn or builtin that does.

import type { CheckedModel } from '../../dsl/check-model.js';
import type { Span } from '../../dsl/source.js';
import { LAYER } from '../../compiler/model.js';
import { type Node, topoSort } from '../../compiler/ir.js';

export interface OpSite {
  /** The statement's name (the let's or the output's). */
  readonly name: string;
  /** Its value expression. */
  readonly span: Span;
}

/** The first statement of `model` (lowered with `training`) whose value has a node that `matches`. */
export function locateOp(model: CheckedModel, training: boolean, matches: (n: Node) => boolean): OpSite | undefined {
  const g = model.lower({ training, layers: model.layers.map((l) => l.name) });
  const byName = new Map(g.outputs.map((o) => [o.name, o.node]));
  for (const stmt of model.decl.body) {
    if (stmt.kind === 'param') continue;
    const node = byName.get(stmt.kind === 'let' ? `${LAYER}${stmt.name.name}` : stmt.name.name);
    if (node && topoSort([node]).some(matches)) return { name: stmt.name.name, span: stmt.value.span };
  }
  return undefined;
}
