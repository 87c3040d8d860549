// Every builtin of compiler/decompose.ts on the webgpu target (the WGSL code
// generator, run on a WebGPU device) against the float64 reference
// interpreter (compiler/interpret.ts), forward, gradient and forward-mode derivative (jvp), at odd sizes
// (1, 3, 7, 129 elements) and batch sizes 1, 3, 5: the rows of
// tests/targets/builtins-wasm.test.ts (kept in step with it), compiled with
// the webgpu target limits. The three batch sizes of a row share one
// program (B is symbolic), so they run in one submission and compile their
// pipelines once.
//
// Tolerances as in builtins-wasm.test.ts (|got - want| <= tol * max(1, |want|)):
// EXACT 1e-5, TRANS 1e-4 (transcendental functions of targets/wgsl/math.ts
// through a few ops, reductions of up to a few hundred terms), LINALG 2e-3.

import { describe, expect, it } from 'vitest';
import { bindDims } from '../../compiler/bind.js';
import { BUILTINS } from '../../compiler/decompose.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { evaluate } from '../../compiler/interpret.js';
import type { RefTensor } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/ir.js';
import { compileGraph } from '../../compiler/compile.js';
import { TARGET_LIMITS } from '../../compiler/target.js';
import { GpuCache, runWebGpuPrograms } from '../helpers/webgpu-exec.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';

import { EXCLUDED, ROWS, TRANS, compileRow, inputsFor, jvpOnly, rowLabel, withTangents } from './builtin-rows.js';

/**
 * Runs `g` on WebGPU for each input set (one submission) and in the float64
 * interpreter; throws, naming the builtin, output, element and both values,
 * on the first element beyond `tol` (mixed absolute/relative; exact for non-f32).
 */
async function check(
  cache: GpuCache,
  what: string,
  g: Graph,
  cases: readonly { readonly b: number; readonly inputs: ReadonlyMap<string, RefTensor> }[],
  tol: number,
): Promise<void> {
  const program = compileGraph(g, TARGET_LIMITS['webgpu']).fusion.program;
  const params = new Map<string, RefTensor>();
  const jobs = cases.map(({ inputs }) => ({
    program,
    env: {
      inputs,
      params,
      dims: bindDims(
        g.inputs.filter((n) => inputs.has(n.name)).map((n) => ({ name: n.name, kind: 'input' as const, type: n })),
        inputs,
      ),
    },
  }));
  const results = await runWebGpuPrograms(cache, jobs);
  cases.forEach(({ b, inputs }, j) => {
    const want = evaluate(
      g.outputs.map((o) => o.node),
      { inputs, params },
    );
    const got = results[j]!.outputs;
    g.outputs.forEach((o, k) => {
      // `loss` sums every element of out * y: a reduction, so at least TRANS.
      const t = o.name === 'loss' || o.name === 'jvp.loss' ? Math.max(tol, TRANS) : tol;
      const w = want[k]!;
      const a = got.get(o.name);
      if (!a) throw new Error(`${what} B=${b}: webgpu has no output '${o.name}'`);
      if (a.shape.join(',') !== w.shape.join(','))
        throw new Error(`${what} B=${b}: output ${o.name} shape [${a.shape.join(', ')}] vs [${w.shape.join(', ')}]`);
      for (let i = 0; i < w.data.length; i++) {
        const x = a.data[i]!;
        const y = w.data[i]!;
        if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
        if (w.dtype === 'f32' && Math.abs(x - y) <= t * Math.max(1, Math.abs(y))) continue;
        throw new Error(
          `${what} B=${b}: output ${o.name}[${i}] webgpu ${x} vs reference ${y} (|diff| ${Math.abs(x - y)}, tol ${t}, ${w.dtype})`,
        );
      }
    });
  });
}

webgpuSuite('every builtin on webgpu vs the reference interpreter', () => {
  const cache = new GpuCache(gpuDevice()!);
  for (const r of ROWS) {
    const sizes = r.sizes ?? [7];
    describe(rowLabel(r), () => {
      it.each(sizes)(`forward, N = %i, batch 1, 3, 5 (tol ${r.tol})`, async (n) => {
        const model = compileRow(r, n);
        const g = model.lower({ training: false });
        const cases = [1, 3, 5].map((b) => ({ b, inputs: inputsFor(r, model, b, 17 * n + b) }));
        await check(cache, `${rowLabel(r)} forward N=${n}`, g, cases, r.tol);
      });
      if (r.gtol !== undefined) {
        const gtol = r.gtol;
        it.each(sizes)(`gradient, N = %i, batch 1, 3, 5 (tol ${gtol})`, async (n) => {
          const model = compileRow(r, n);
          const wrt = model.inputs.filter((d) => d.type.dtype === 'f32' && d.name !== 'y').map((d) => d.name);
          const g = gradientGraph(model.lower({ training: false }), { of: 'loss', params: [], inputs: wrt });
          const cases = [1, 3, 5].map((b) => ({ b, inputs: inputsFor(r, model, b, 31 * n + b) }));
          await check(cache, `${rowLabel(r)} gradient N=${n}`, g, cases, gtol);
        });
        it.each(sizes)(`jvp, N = %i, batch 1, 3, 5 (tol ${gtol})`, async (n) => {
          const model = compileRow(r, n);
          const g = jvpOnly(model.lower({ training: false }));
          const cases = [1, 3, 5].map((b) => ({
            b,
            inputs: withTangents(model, inputsFor(r, model, b, 37 * n + b), 41 * n + b),
          }));
          await check(cache, `${rowLabel(r)} jvp N=${n}`, g, cases, gtol);
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
