import { it } from 'vitest';
import { printGraph } from '../../compiler/print.js';
import { optimizeGraph, formatPassLog } from '../../compiler/passes/pipeline.js';
import { generateGraph } from '../../tests/helpers/random-graph.js';
import { topoSort } from '../../compiler/ir.js';
it('show', () => {
  const ops = new Map<string, number>();
  for (let s = 0; s < 200; s++) {
    const r = generateGraph({ seed: s * 7919 + 1, steps: 20, dataSeed: s });
    for (const n of topoSort(r.graph.outputs.map((o) => o.node))) {
      const k = n.op === 'unary' || n.op === 'binary' || n.op === 'reduce' ? n.op + ':' + n.fn : n.op;
      ops.set(k, (ops.get(k) ?? 0) + 1);
    }
    if (s < 2) {
      console.log(printGraph(r.graph));
      const o = optimizeGraph(r.graph);
      console.log(printGraph(o.graph));
      console.log(formatPassLog(o.log));
    }
  }
  console.log(
    [...ops]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  );
});
