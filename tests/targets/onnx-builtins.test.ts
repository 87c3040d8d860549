// Every builtin (the rows of builtin-rows.ts, shared with the wasm and
// WebGPU suites) exported to ONNX and run on onnxruntime at batch sizes 2
// and 5, against the float64 reference interpreter: the forward graph, or
// for differentiable rows the gradient graph, which keeps the forward
// outputs and whose adjoints bring in the IR ops a forward pass rarely has
// (scatter_add, pad, slice). Tolerances are the rows' own (builtin-rows.ts):
// `out` within the forward one, `loss` and gradients within the gradient
// one (at least TRANS: sums); i32 and bool outputs exact. onnxruntime's
// basic graph rewrites only, for speed (the examples run with all of them).

import { describe, expect, it } from 'vitest';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { type RefTensor, evaluate } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/ir.js';
import { exportOnnx } from '../../targets/onnx/export.js';
import { ROWS, TRANS, compileRow, inputsFor, rowLabel } from './builtin-rows.js';
import { mismatch, runOnnx } from './onnx-helpers.js';

const BATCHES = [2, 5];

/** Exports `g`, runs it on each input set, compares: `out` within `tol`, `loss` and gradients within `gtol`. */
async function check(
  what: string,
  g: Graph,
  sets: readonly Map<string, RefTensor>[],
  tol: number,
  gtol: number,
): Promise<void> {
  const exp = exportOnnx(g, new Map(), { name: what, producerVersion: 'test' });
  const run = await runOnnx(exp.bytes, sets, 'basic');
  sets.forEach((inputs, k) => {
    const want = evaluate(
      g.outputs.map((o) => o.node),
      { inputs, params: new Map() },
    );
    g.outputs.forEach((o, j) => {
      const t = o.name === 'out' ? tol : Math.max(gtol, TRANS);
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
      const forward = model.lower({ training: false });
      if (r.gtol === undefined) return check(`${rowLabel(r)} forward`, forward, sets, r.tol, r.tol);
      // The gradient graph keeps the forward outputs: one export checks both.
      const wrt = model.inputs.filter((d) => d.type.dtype === 'f32' && d.name !== 'y').map((d) => d.name);
      const g = gradientGraph(forward, { of: 'loss', params: [], inputs: wrt });
      return check(`${rowLabel(r)} forward and gradient`, g, sets, r.tol, r.gtol);
    });
  }
});
