// The graph-level optimisation pipeline: named rewrite passes in order, each
// rebuilding the graph (so each also does CSE and DCE) and each checked by
// the verifier. Runs after differentiation: it strips stop_gradient and
// reorders commutative operands (see simplify.ts).

import type { Graph } from '../ir.js';
import { FOLD_RULES, STRIP_STOP_GRADIENT_RULES } from './fold.js';
import { type Rule, graphNodes, rewriteGraph } from './rewrite.js';
import { SIMPLIFY_RULES } from './simplify.js';

export interface PassReport {
  readonly pass: string;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  /** Rule name -> times fired. */
  readonly fired: Record<string, number>;
}

export interface Pass {
  readonly name: string;
  readonly rules: readonly Rule[];
}

/** Once, first: a plain rebuild (CSE + DCE), then stop_gradient goes. */
export const SETUP_PASSES: readonly Pass[] = [
  { name: 'cse-dce', rules: [] },
  { name: 'strip-stop-gradient', rules: STRIP_STOP_GRADIENT_RULES },
];

/** Repeated in order until a round changes nothing. */
export const ROUND_PASSES: readonly Pass[] = [
  { name: 'fold-constants', rules: FOLD_RULES },
  { name: 'simplify', rules: SIMPLIFY_RULES },
];

const MAX_ROUNDS = 16;

/** Node counts of graphs (each pass's result is the next one's input: counted once). */
const nodeCounts = new WeakMap<Graph, number>();

function nodeCount(g: Graph): number {
  let n = nodeCounts.get(g);
  if (n === undefined) nodeCounts.set(g, (n = graphNodes(g).length));
  return n;
}

export function runPass(g: Graph, pass: Pass): { graph: Graph; report: PassReport } {
  const nodesBefore = nodeCount(g);
  const { graph, fired } = rewriteGraph(g, pass.rules, pass.name);
  return {
    graph,
    report: { pass: pass.name, nodesBefore, nodesAfter: nodeCount(graph), fired: Object.fromEntries(fired) },
  };
}

/** Optimises a (differentiated) graph; the log has one report per pass run. */
export function optimizeGraph(g: Graph): { graph: Graph; log: PassReport[] } {
  const log: PassReport[] = [];
  let cur = g;
  const run = (p: Pass): boolean => {
    const r = runPass(cur, p);
    cur = r.graph;
    log.push(r.report);
    return Object.keys(r.report.fired).length > 0;
  };
  for (const p of SETUP_PASSES) run(p);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let changed = false;
    for (const p of ROUND_PASSES) changed = run(p) || changed;
    if (!changed) break;
  }
  return { graph: cur, log };
}

/** One line per pass: `fold-constants  40 -> 31  fold-elementwise x6, fold-view x3`. */
export function formatPassLog(log: readonly PassReport[]): string {
  const width = Math.max(0, ...log.map((r) => r.pass.length));
  return log
    .map((r) => {
      const fired = Object.entries(r.fired)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${k} x${v}`)
        .join(', ');
      const head = `${r.pass.padEnd(width)}  ${r.nodesBefore} -> ${r.nodesAfter}`;
      return fired ? `${head}  ${fired}` : head;
    })
    .join('\n');
}
