// The WGSL code generator against the kernel interpreter (the oracle) on
// every example: the forward pass at batch sizes 1, 3 and 5, the gradient
// of the training objective, three training steps (params fed back), and a
// training step with its kernels split along their outermost parallel loop
// (as the runtime does past the binding limit), all compiled with the
// webgpu target limits (8 buffers per kernel).
//
// Tolerances (relative, absolute below magnitude 1, as `mismatch` measures):
// 1e-4 for forward passes and gradients (f32 sums of up to a few hundred
// terms, math helpers of 1-2 ulp); 2e-3 for training steps (Adam's division
// by sqrt(v) + eps amplifies the gradients' f32 error).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import type { RefTensor } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/ir.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import type { KernelProgram } from '../../compiler/kernel/kir.js';
import { compileGraph } from '../../compiler/compile.js';
import { TARGET_LIMITS } from '../../compiler/target.js';
import { initialState, stepScalars } from '../../compiler/train-reference.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { loadKilnFile } from '../../dsl/frontend.js';
import { mismatch } from '../helpers/random-graph.js';
import { GpuCache, runWebGpuProgram } from '../helpers/webgpu-exec.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';
import { dimsOf, randomTensors } from '../helpers/random-tensors.js';

const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));

interface Case {
  readonly program: KernelProgram;
  readonly inputs: ReadonlyMap<string, RefTensor>;
  readonly params: ReadonlyMap<string, RefTensor>;
  readonly dims: ReadonlyMap<string, number>;
  readonly scalars?: ReadonlyMap<string, number>;
  /** Dispatch every splittable kernel in this many pieces of p0 (tests/helpers/webgpu-exec.ts). */
  readonly pieces?: number;
}

const program = (g: Graph) => compileGraph(g, TARGET_LIMITS['webgpu']).fusion.program;

/** Runs `c` on the interpreter and on WebGPU; the first disagreement beyond `tol`, and the params after both. */
async function disagreement(
  cache: GpuCache,
  c: Case,
  tol: number,
): Promise<{ msg?: string; params: Map<string, RefTensor> }> {
  const want = new Map(c.params);
  const out = runProgram(c.program, {
    inputs: c.inputs,
    params: want,
    dims: c.dims,
    ...(c.scalars && { scalars: c.scalars }),
  });
  const got = await runWebGpuProgram(cache, c.program, {
    inputs: c.inputs,
    params: c.params,
    dims: c.dims,
    ...(c.scalars && { scalars: c.scalars }),
    ...(c.pieces && { pieces: c.pieces }),
  });
  for (const [name, t] of out) {
    const m = mismatch(got.outputs.get(name)!, t, tol);
    if (m) return { msg: `output ${name}: ${m}`, params: want };
  }
  for (const [name, t] of want) {
    const m = mismatch(got.params.get(name)!, t, tol);
    if (m) return { msg: `param ${name}: ${m}`, params: want };
  }
  return { params: want };
}

webgpuSuite('examples on WebGPU vs the kernel interpreter', () => {
  const cache = new GpuCache(gpuDevice()!);

  describe.each(EXAMPLES)('%s', (file) => {
    const { result } = loadKilnFile(file);
    const train = result.trains[0]!;
    const model = result.models.find((m) => m.name === train.model)!;

    it('forward, batch 1, 3, 5', async () => {
      const g = model.lower({ training: false });
      const p = program(g);
      for (const b of [1, 3, 5]) {
        const dims = new Map([...model.symbolicDims].map((s) => [s, b]));
        const inputs = randomTensors(model.inputs, dims, 1 + b);
        const params = randomTensors(model.params, dims, 2 + b);
        const c = { program: p, inputs, params, dims: dimsOf(g, new Map([...inputs, ...params])) };
        expect((await disagreement(cache, c, 1e-4)).msg, `batch ${b}`).toBeUndefined();
      }
    });

    it('gradient', async () => {
      const dims = new Map([...model.symbolicDims].map((s) => [s, 3]));
      const g = gradientGraph(model.lower({ training: false }), {
        of: train.minimize,
        params: model.params.filter((p) => p.type.dtype === 'f32').map((p) => p.name),
        inputs: [],
      });
      const inputs = randomTensors(model.inputs, dims, 3);
      const params = randomTensors(model.params, dims, 4);
      const c = { program: program(g), inputs, params, dims: dimsOf(g, new Map([...inputs, ...params])) };
      expect((await disagreement(cache, c, 1e-4)).msg).toBeUndefined();
    });

    it('three training steps', async () => {
      const dims = new Map([...model.symbolicDims].map((s) => [s, 4]));
      const step = buildTrainStep(model, train);
      let params = new Map([...randomTensors(model.params, dims, 5), ...initialState(step)]);
      const p = program(step.graph);
      for (let i = 1; i <= 3; i++) {
        const inputs = randomTensors(model.inputs, dims, 10 + i);
        const scalars = new Map(Object.entries(stepScalars(step, i)));
        if (step.graph.inputs.some((n) => n.name === '@seed')) scalars.set('@seed', 7 + i);
        const c = { program: p, inputs, params, scalars, dims: dimsOf(step.graph, new Map([...inputs, ...params])) };
        const r = await disagreement(cache, c, 2e-3);
        expect(r.msg, `step ${i}`).toBeUndefined();
        params = r.params;
      }
    });

    it('a training step with every splittable kernel dispatched in 3 pieces of its outermost loop', async () => {
      const dims = new Map([...model.symbolicDims].map((s) => [s, 5]));
      const step = buildTrainStep(model, train);
      const params = new Map([...randomTensors(model.params, dims, 6), ...initialState(step)]);
      const inputs = randomTensors(model.inputs, dims, 21);
      const scalars = new Map(Object.entries(stepScalars(step, 1)));
      if (step.graph.inputs.some((n) => n.name === '@seed')) scalars.set('@seed', 8);
      const dimsAll = dimsOf(step.graph, new Map([...inputs, ...params]));
      const c = { program: program(step.graph), inputs, params, scalars, dims: dimsAll, pieces: 3 };
      expect((await disagreement(cache, c, 2e-3)).msg).toBeUndefined();
    });
  });
});
