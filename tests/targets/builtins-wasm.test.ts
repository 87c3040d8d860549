// Every builtin of compiler/decompose.ts on the wasm target against the
// float64 reference interpreter (compiler/interpret.ts), forward,
// gradient and forward-mode derivative (jvp), at odd sizes (1, 3, 7, 129 elements) and batch sizes 1, 3, 5.
//
// Each row is a tiny Kiln model: `out` is the builtin's result and, for
// differentiable rows, `loss = sum(out * y)` with a random `y`, so the
// gradient with respect to every f32 input is a meaningful cotangent.
// Inputs are f32-exact (rounded before either side sees them).
//
// Tolerances (|got - want| <= tol * max(1, |want|): relative above magnitude
// 1, absolute below), stated per row:
// - EXACT 1e-5: ops exact or correctly rounded in f32 (arithmetic, select,
//   shape ops, comparisons, i32 results compared exactly anyway);
// - TRANS 1e-4: transcendental functions (1-2 ulp of targets/wasm/math.ts,
//   through a few ops) and reductions of up to a few hundred terms;
// - LINALG 2e-3: conv/matmul/norm gradients (f32 sums of products feeding
//   further sums).

import { describe, expect, it } from 'vitest';
import { bindDims } from '../../compiler/bind.js';
import { BUILTINS } from '../../compiler/decompose.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { evaluate } from '../../compiler/interpret.js';
import type { RefTensor } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/ir.js';
import { compileGraph } from '../../compiler/compile.js';
import { buildWasmModule } from '../../targets/wasm/codegen.js';
import { runWasmProgram } from '../helpers/wasm-exec.js';

import { EXCLUDED, ROWS, TRANS, compileRow, inputsFor, jvpOnly, rowLabel, withTangents } from './builtin-rows.js';

/**
 * Runs `g` on wasm (whole ranges) and in the float64 interpreter; throws,
 * naming the builtin, output, element and both values, on the first
 * element beyond `tol` (mixed absolute/relative; exact for non-f32).
 */
function check(what: string, g: Graph, inputs: ReadonlyMap<string, RefTensor>, tol: number): void {
  const params = new Map<string, RefTensor>();
  const want = evaluate(
    g.outputs.map((o) => o.node),
    { inputs, params },
  );
  const program = compileGraph(g).fusion.program;
  const mod = buildWasmModule([{ prefix: 'p', program }], { relaxedSimd: false, sharedMemory: false });
  const dims = bindDims(
    g.inputs.filter((n) => inputs.has(n.name)).map((n) => ({ name: n.name, kind: 'input' as const, type: n })),
    inputs,
  );
  const got = runWasmProgram(mod, 'p', program, { inputs, params, dims }).outputs;
  g.outputs.forEach((o, k) => {
    // `loss` sums every element of out * y: a reduction, so at least TRANS.
    const t = o.name === 'loss' || o.name === 'jvp.loss' ? Math.max(tol, TRANS) : tol;
    const w = want[k]!;
    const a = got.get(o.name);
    if (!a) throw new Error(`${what}: wasm has no output '${o.name}'`);
    if (a.shape.join(',') !== w.shape.join(','))
      throw new Error(`${what}: output ${o.name} shape [${a.shape.join(', ')}] vs [${w.shape.join(', ')}]`);
    for (let i = 0; i < w.data.length; i++) {
      const x = a.data[i]!;
      const y = w.data[i]!;
      if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
      if (w.dtype === 'f32' && Math.abs(x - y) <= t * Math.max(1, Math.abs(y))) continue;
      throw new Error(
        `${what}: output ${o.name}[${i}] wasm ${x} vs reference ${y} (|diff| ${Math.abs(x - y)}, tol ${t}, ${w.dtype})`,
      );
    }
  });
}

describe('every builtin on wasm vs the reference interpreter', () => {
  for (const r of ROWS) {
    const sizes = r.sizes ?? [7];
    describe(rowLabel(r), () => {
      it.each(sizes)(`forward, N = %i, batch 1, 3, 5 (tol ${r.tol})`, (n) => {
        const model = compileRow(r, n);
        const g = model.lower({ training: false });
        for (const b of [1, 3, 5])
          check(`${rowLabel(r)} forward N=${n} B=${b}`, g, inputsFor(r, model, b, 17 * n + b), r.tol);
      });
      if (r.gtol !== undefined) {
        const gtol = r.gtol;
        it.each(sizes)(`gradient, N = %i, batch 1, 3, 5 (tol ${gtol})`, (n) => {
          const model = compileRow(r, n);
          const wrt = model.inputs.filter((d) => d.type.dtype === 'f32' && d.name !== 'y').map((d) => d.name);
          const g = gradientGraph(model.lower({ training: false }), { of: 'loss', params: [], inputs: wrt });
          for (const b of [1, 3, 5])
            check(`${rowLabel(r)} gradient N=${n} B=${b}`, g, inputsFor(r, model, b, 31 * n + b), gtol);
        });
        it.each(sizes)(`jvp, N = %i, batch 1, 3, 5 (tol ${gtol})`, (n) => {
          const model = compileRow(r, n);
          const g = jvpOnly(model.lower({ training: false }));
          for (const b of [1, 3, 5]) {
            const inputs = withTangents(model, inputsFor(r, model, b, 37 * n + b), 41 * n + b);
            check(`${rowLabel(r)} jvp N=${n} B=${b}`, g, inputs, gtol);
          }
        });
      }
    });
  }

  it('covers every name in BUILTINS', () => {
    const covered = new Set(ROWS.flatMap((r) => r.covers));
    const missing = [...BUILTINS.keys()].filter((k) => !covered.has(k) && !EXCLUDED.has(k));
    expect(missing).toEqual([]);
    for (const k of EXCLUDED.keys()) expect(BUILTINS.has(k)).toBe(true);
  });
});
