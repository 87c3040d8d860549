// The rewrite engine: every middle-end optimisation is a named pass made of
// rules. A pass rebuilds the graph bottom-up into a FRESH builder, so nodes
// no output reaches vanish (dead-code elimination) and hash-consing merges
// equal nodes (common-subexpression elimination); at each rebuilt node the
// rules run until none fires, and whole-graph sweeps repeat until a sweep
// fires nothing. The IR verifier checks the result of every sweep.

import { formatType, shapeEq } from '../types.js';
import { type Graph, IRBuilder, IRError, type Node, type NodeOf, topoSort } from '../ir.js';
import { printNodes } from '../print.js';
import { verifyGraph } from '../verify.js';

/**
 * One rewrite. `n` has been rebuilt in `b` (its inputs are already
 * rewritten); return a replacement of the same type built with `b`, or
 * undefined (returning `n` itself also means "no change").
 */
export interface Rule {
  readonly name: string;
  apply(n: Node, b: IRBuilder): Node | undefined;
}

export interface RewriteOptions {
  /** Rule applications at one node before giving up (a rule cycle). Default 64. */
  readonly maxStepsPerNode?: number;
  /** Whole-graph sweeps before giving up. Default 32. */
  readonly maxSweeps?: number;
}

export interface RewriteResult {
  readonly graph: Graph;
  /** How often each rule fired, summed over sweeps (rules that never fired are absent). */
  readonly fired: Map<string, number>;
}

/** Every node of the graph: declared inputs and params (used or not) and what the outputs reach. */
export function graphNodes(g: Graph): Node[] {
  return topoSort([...g.inputs, ...g.params, ...g.outputs.map((o) => o.node)]);
}

/**
 * Rewrites `g` with `rules` to a fixpoint, as the pass named `pass`. Inputs
 * and params are kept, in order, even when unused (they are the model's
 * interface); outputs keep their names. Throws IRError when a rule changes
 * a node's type, when rules do not converge, or when the verifier rejects
 * the result.
 */
export function rewriteGraph(g: Graph, rules: readonly Rule[], pass: string, opts: RewriteOptions = {}): RewriteResult {
  const maxSweeps = opts.maxSweeps ?? 32;
  const fired = new Map<string, number>();
  let cur = g;
  for (let sweep = 1; ; sweep++) {
    const now = new Map<string, number>();
    cur = sweepOnce(cur, rules, pass, now, opts.maxStepsPerNode ?? 64);
    // Every sweep, not just the last, so a bad node is reported by the sweep that made it.
    verifyGraph(cur, pass);
    for (const [k, v] of now) fired.set(k, (fired.get(k) ?? 0) + v);
    if (now.size === 0) break;
    if (sweep >= maxSweeps)
      throw new IRError(`[${pass}] no fixpoint after ${maxSweeps} sweeps; still firing: ${[...now.keys()].join(', ')}`);
  }
  return { graph: cur, fired };
}

function sweepOnce(
  g: Graph,
  rules: readonly Rule[],
  pass: string,
  fired: Map<string, number>,
  maxSteps: number,
): Graph {
  const b = new IRBuilder();
  const map = new Map<number, Node>();
  // Ids (in the new builder) of nodes no rule fires on: a node reached again
  // through CSE is not tried twice.
  const settled = new Set<number>();

  const settle = (start: Node): Node => {
    let n = start;
    const trail: string[] = [];
    for (;;) {
      if (settled.has(n.id)) return n;
      let next: Node | undefined;
      for (const r of rules) {
        const out = r.apply(n, b);
        if (out === undefined || out === n) continue;
        if (out.dtype !== n.dtype || !shapeEq(out.shape, n.shape))
          throw new IRError(
            `[${pass}] rule '${r.name}' replaced a node of type ${formatType(n)} by one of type ${formatType(out)}:\n` +
              printNodes([n]).text,
          );
        fired.set(r.name, (fired.get(r.name) ?? 0) + 1);
        trail.push(r.name);
        next = out;
        break;
      }
      if (next === undefined) {
        settled.add(n.id);
        return n;
      }
      if (trail.length > maxSteps)
        throw new IRError(
          `[${pass}] rules do not converge on a node (${trail.length} rewrites); last: ${trail.slice(-8).join(' -> ')}`,
        );
      n = next;
    }
  };

  // Leaves of the interface first, in order, so they keep their relative ids.
  const inputs = g.inputs.map((n) => {
    const m = b.input(n.name, n) as NodeOf<'input'>;
    map.set(n.id, m);
    return m;
  });
  const params = g.params.map((n) => {
    const m = b.param(n.name, n) as NodeOf<'param'>;
    map.set(n.id, m);
    return m;
  });
  for (const n of topoSort(g.outputs.map((o) => o.node))) {
    if (map.has(n.id)) continue;
    const ins = n.inputs.map(
      (i) => map.get(i.id) ?? IRError.throw(`[${pass}] node ${n.id} precedes its input ${i.id}`),
    );
    // `n` doubles as its attributes (the builder reads only those) and as the
    // requested type: rules keep types, so it is still right.
    const rebuilt = b.node(n, ins, n);
    if (rebuilt.dtype !== n.dtype || !shapeEq(rebuilt.shape, n.shape))
      throw new IRError(`[${pass}] node ${n.id} records ${formatType(n)} but its op gives ${formatType(rebuilt)}`);
    map.set(n.id, rebuilt.op === 'input' || rebuilt.op === 'param' ? rebuilt : settle(rebuilt));
  }
  return {
    builder: b,
    inputs,
    params,
    outputs: g.outputs.map((o) => ({ name: o.name, node: map.get(o.node.id)! })),
  };
}
