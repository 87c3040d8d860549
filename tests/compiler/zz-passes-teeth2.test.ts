import { it } from 'vitest';
import { evaluate } from '../../compiler/interpret.js';
import type { Rule } from '../../compiler/passes/rewrite.js';
import { rewriteGraph } from '../../compiler/passes/rewrite.js';
import { printGraph } from '../../compiler/print.js';
import { generateGraph, evalClose } from '../helpers/random-graph.js';

it('teeth2', () => {
  let fires = 0, diff = 0, shown = 0;
  const bug: Rule = { name: 'w', apply: (n, b) => { const i = n.inputs[0]; if (n.op !== 'slice' || i?.op !== 'slice') return undefined; fires++; if (shown++ < 3) console.log(printGraph({builder: b, inputs: [], params: [], outputs: [{name: 'n', node: n}]})); return b.slice(i.inputs[0]!, n.axes.map((o, k) => ({ start: i.axes[k]!.start + o.start, size: o.size, step: i.axes[k]!.step * o.step }))); } };
  for (let s = 0; s < 300; s++) {
    const r = generateGraph({ seed: s, steps: 20, dataSeed: s });
    let once;
    try { once = rewriteGraph(r.graph, [bug], 'wrong').graph; } catch (e) { diff++; continue; }
    const before = evaluate(r.graph.outputs.map((o) => o.node), r);
    const after = evaluate(once.outputs.map((o) => o.node), r);
    if (before.some((t, i) => !evalClose(t, after[i]!, 1e-9))) diff++;
  }
  console.log('fires', fires, 'diff', diff);
});
