import { it } from 'vitest';
import { evaluate } from '../../compiler/interpret.js';
import type { Rule } from '../../compiler/passes/rewrite.js';
import { SIMPLIFY_RULES } from '../../compiler/passes/simplify.js';
import { FOLD_RULES } from '../../compiler/passes/fold.js';
import { rewriteGraph } from '../../compiler/passes/rewrite.js';
import { generateGraph, evalClose } from '../helpers/random-graph.js';

const bugs: Record<string, Rule> = {
  subComm: { name: 'w', apply: (n, b) => n.op === 'binary' && (n.fn === 'sub' || n.fn === 'div') && n.inputs[0]!.id > n.inputs[1]!.id ? b.binary(n.fn, n.inputs[1]!, n.inputs[0]!) : undefined },
  permComp: { name: 'w', apply: (n, b) => { const i = n.inputs[0]; if (n.op !== 'permute' || i?.op !== 'permute') return undefined; return b.permute(i.inputs[0]!, i.perm.map((q) => n.perm[q]!)); } },
  sliceStart: { name: 'w', apply: (n, b) => { const i = n.inputs[0]; if (n.op !== 'slice' || i?.op !== 'slice') return undefined; return b.slice(i.inputs[0]!, n.axes.map((o, k) => ({ start: i.axes[k]!.start + o.start, size: o.size, step: i.axes[k]!.step * o.step }))); } },
  reduceSumUnit: { name: 'w', apply: (n, b) => n.op === 'reduce' && n.fn === 'prod' ? b.reduce('sum', n.inputs[0]!, n.axes) : undefined },
  maxMin: { name: 'w', apply: (n, b) => n.op === 'binary' && n.fn === 'max' && n.inputs[0]!.op === 'binary' ? b.binary('min', n.inputs[0]!, n.inputs[1]!) : undefined },
  whereSwap: { name: 'w', apply: (n, b) => n.op === 'where' && n.inputs[0]!.op === 'binary' ? b.where(n.inputs[0]!, n.inputs[2]!, n.inputs[1]!) : undefined },
};
it('teeth', () => {
  for (const [k, bug] of Object.entries(bugs)) {
    let caught = 0;
    for (let s = 0; s < 300; s++) {
      const r = generateGraph({ seed: s, steps: 20, dataSeed: s });
      let once;
      try { once = rewriteGraph(r.graph, [bug, ...SIMPLIFY_RULES, ...FOLD_RULES], 'wrong').graph; } catch { caught++; continue; }
      const before = evaluate(r.graph.outputs.map((o) => o.node), r);
      const after = evaluate(once.outputs.map((o) => o.node), r);
      if (before.some((t, i) => !evalClose(t, after[i]!, 1e-9))) caught++;
    }
    console.log(k, caught);
  }
});
