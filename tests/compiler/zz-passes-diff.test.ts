import { it } from 'vitest';
import { evaluate } from '../../compiler/interpret.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { printGraph } from '../../compiler/print.js';
import { optimizeGraph, formatPassLog } from '../../compiler/passes/pipeline.js';
import { generateGraph, mismatch } from '../helpers/random-graph.js';
import { topoSort, type Graph } from '../../compiler/ir.js';

function check(g: Graph, env: Parameters<typeof evaluate>[1], s: number) {
  const before = evaluate(
    g.outputs.map((o) => o.node),
    env,
  );
  const { graph, log } = optimizeGraph(g);
  const after = evaluate(
    graph.outputs.map((o) => o.node),
    env,
  );
  before.forEach((t, i) => {
    const m = mismatch(t, after[i]!);
    if (m)
      throw new Error(
        `seed ${s} ${g.outputs[i]!.name}: ${m}\n${printGraph(g)}\n${printGraph(graph)}\n${formatPassLog(log)}`,
      );
  });
  return log;
}

it('scratch', () => {
  const N = Number(process.env.N ?? 300);
  const S0 = Number(process.env.S0 ?? 0);
  const fired = new Map<string, number>();
  let nodes = 0,
    after = 0,
    gnodes = 0,
    gafter = 0;
  const t0 = Date.now();
  for (let s = S0; s < S0 + N; s++) {
    const r = generateGraph({ seed: s * 7919 + 1, steps: 1 + (s % 20), dataSeed: s });
    const env = { inputs: r.inputs, params: r.params, dims: r.dims };
    const log = check(r.graph, env, s);
    nodes += topoSort(r.graph.outputs.map((o) => o.node)).length;
    after += log[log.length - 1]!.nodesAfter;
    for (const l of log) for (const [k, v] of Object.entries(l.fired)) fired.set(k, (fired.get(k) ?? 0) + v);
    const g = r.graph;
    const out = g.outputs[0]!.node;
    const b = g.builder;
    const loss = b.reshape(
      b.reduce(
        'sum',
        out,
        out.shape.map((_d, i) => i),
      ),
      [],
    );
    const g2 = { ...g, outputs: [...g.outputs, { name: 'loss', node: loss }] };
    const gg = gradientGraph(g2, {
      of: 'loss',
      params: g.params.filter((p) => p.dtype === 'f32').map((p) => p.name),
      inputs: g.inputs.filter((p) => p.dtype === 'f32').map((p) => p.name),
    });
    const glog = check(gg, env, s);
    gnodes += glog[0]!.nodesBefore;
    gafter += glog[glog.length - 1]!.nodesAfter;
    for (const l of glog) for (const [k, v] of Object.entries(l.fired)) fired.set(k, (fired.get(k) ?? 0) + v);
  }
  console.log(Date.now() - t0, 'ms', nodes / N, after / N, gnodes / N, gafter / N);
  console.log(
    [...fired]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  );
}, 3_600_000);
