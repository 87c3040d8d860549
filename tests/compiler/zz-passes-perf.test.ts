import { it } from 'vitest';
import { IRBuilder, type NodeOf } from '../../compiler/ir.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { optimizeGraph, formatPassLog } from '../../compiler/passes/pipeline.js';
it('perf', () => {
  const b = new IRBuilder();
  const x = b.input('x', { dtype: 'f32', shape: [8, 16] });
  const params: NodeOf<'param'>[] = [];
  let h = x;
  for (let i = 0; i < 300; i++) {
    const w = b.param(`w${i}`, { dtype: 'f32', shape: [16, 16] }) as NodeOf<'param'>;
    const bb = b.param(`b${i}`, { dtype: 'f32', shape: [16] }) as NodeOf<'param'>;
    params.push(w, bb);
    h = b.unary('tanh', b.bin('add', b.matmul(h, w), bb));
    h = b.bin('mul', b.bin('add', h, 0), 1);
  }
  const loss = b.reshape(b.reduce('sum', h, [0, 1]), []);
  const g = gradientGraph({ builder: b, inputs: [x as NodeOf<'input'>], params, outputs: [{ name: 'loss', node: loss }] }, { of: 'loss', params: params.map((p) => p.name), inputs: [] });
  const t0 = performance.now();
  const { log } = optimizeGraph(g);
  console.log((performance.now() - t0).toFixed(0), 'ms');
  console.log(formatPassLog(log));
});
