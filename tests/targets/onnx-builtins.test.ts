// Every builtin (the rows of builtin-rows.ts, shared with the wasm and
// WebGPU suites) exported to ONNX and run on onnxruntime at batch sizes 2
// and 5, against the float64 reference interpreter: the forward graph and,
// for differentiable rows, the gradient graph (whose adjoints bring in the
// IR ops a forward pass rarely has: scatter_add, pad, slice). Tolerances
// are the rows' own (see builtin-rows.ts), i32 and bool outputs exact.

import { describe, expect, it } from 'vitest';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { type RefTensor, evaluate } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/ir.js';
import { exportOnnx } from '../../targets/onnx/export.js';
import { ROWS, TRANS, compileRow, inputsFor, rowLabel } from './builtin-rows.js';
import { mismatch, runOnnx } from './onnx-helpers.js';

const BATCHES = [2, 5];

async function check(what: string, g: Graph, sets: readonly Map<string, RefTensor>[], tol: number): Promise<void> {
  const exp = exportOnnx(g, new Map(), { name: what, producerVersion: 'test' });
  // Feed only what the graph declares (a gradient graph may drop an input).
  const declared = new Set(g.inputs.map((i) => i.name));
  const feeds = sets.map((s) => new Map([...s].filter(([k]) => declared.has(k))));
  const run = await runOnnx(exp.bytes, feeds);
  feeds.forEach((inputs, k) => {
    const want = evaluate(
      g.outputs.map((o) => o.node),
      { inputs, params: new Map() },
    );
    g.outputs.forEach((o, j) => {
      const t = o.name === 'loss' || o.name.startsWith('grad.') ? Math.max(tol, TRANS) : tol;
      expect(mismatch(`${what} ${o.name} B=${BATCHES[k]}`, run.results[k]!.get(o.name), want[j]!, t)).toBeUndefined();
    });
  });
}

describe('every builtin exported to ONNX vs the reference interpreter', () => {
  for (const r of ROWS) {
    const n = r.sizes?.includes(7) ? 7 : (r.sizes?.[0] ?? 7);
    it(`${rowLabel(r)}, N = ${n}`, async () => {
      const model = compileRow(r, n);
      const sets = BATCHES.map((b) => inputsFor(r, model, b, 17 * n + b));
      await check(`${rowLabel(r)} forward`, model.lower({ training: false }), sets, r.tol);
      if (r.gtol !== undefined) {
        const wrt = model.inputs.filter((d) => d.type.dtype === 'f32' && d.name !== 'y').map((d) => d.name);
        const g = gradientGraph(model.lower({ training: false }), { of: 'loss', params: [], inputs: wrt });
        await check(`${rowLabel(r)} gradient`, g, sets, r.gtol);
      }
    });
  }
});
