// How convolutions and pooling lower to kernels: the im2col of a padded
// convolution is one store per window tap (no select among the taps), pooling
// over tiling windows reads its input through a reshape, a pooling gradient's
// `p div 2` / `p mod 2` become split loops, small window reductions are
// unrolled, and a sum that a broadcast would read several times is stored
// once. Each refinement must leave every value bit for bit as it was.

import { describe, expect, it } from 'vitest';
import { compileSource, loadKilnFile } from '../../dsl/frontend.js';
import { compileGraph } from '../../compiler/compile.js';
import type { Graph } from '../../compiler/ir.js';
import type { Kernel, KernelProgram } from '../../compiler/kernel/kir.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import { printKernel } from '../../compiler/kernel/print.js';
import { divModCount } from '../../compiler/kernel/refine-loops.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { initialState, stepScalars } from '../../compiler/train-reference.js';
import { randomTensors } from '../helpers/random-tensors.js';

function forwardModel(src: string) {
  const { result } = compileSource('test.kiln', src);
  expect(result.diagnostics).toEqual([]);
  return result.models[0]!;
}

const forwardGraph = (src: string): Graph => forwardModel(src).lower({ training: false });

function trainGraph(file: string): Graph {
  const { result } = loadKilnFile(file);
  const t = result.trains[0]!;
  return buildTrainStep(
    result.models.find((m) => m.name === t.model)!,
    t,
  ).graph;
}

const CONV = `model c(x: f32[B, 2, 6, 6]) {
  param k: f32[3, 2, 3, 3] = he_normal
  output y = conv2d(x, k, padding = 1)
}`;

const POOL = `model p(x: f32[B, 3, 8, 7]) {
  output y = max_pool2d(x, 2)
}`;

const concatKernel = (p: KernelProgram): Kernel => p.kernels.find((k) => k.ops.includes('concat'))!;

describe('convolution and pooling kernels', () => {
  it('a padded convolution stores its 9 taps with one store each, no select among them', () => {
    const p = compileGraph(forwardGraph(CONV)).fusion.program;
    const k = concatKernel(p);
    const map = k.stages.find((s) => s.kind === 'map')!;
    expect(map.kind === 'map' && map.stores).toHaveLength(9);
    expect(printKernel(k, p)).not.toContain('where(');
  });

  it('max pooling over tiling windows is one unrolled window per output, no index division', () => {
    const p = compileGraph(forwardGraph(POOL)).fusion.program;
    expect(p.kernels).toHaveLength(1);
    const k = p.kernels[0]!;
    expect(k.ops).not.toContain('concat');
    const reduce = k.stages.find((s) => s.kind === 'reduce')!;
    expect(reduce.loops).toEqual([]);
    expect(divModCount(k.stages)).toBe(0);
  });

  it("the CNN training step's gradient kernels split their loops instead of dividing indices", () => {
    const plain = compileGraph(trainGraph('examples/fashion_cnn.kiln'), { noRefine: true }).fusion.program;
    const refined = compileGraph(trainGraph('examples/fashion_cnn.kiln')).fusion.program;
    // matmul kernels keep their own index form (their template reads operands by tiles)
    const divs = (p: KernelProgram) =>
      p.kernels.reduce((n, k) => n + (k.kind === 'matmul' ? 0 : divModCount(k.stages)), 0);
    expect(divs(plain)).toBeGreaterThan(0);
    expect(divs(refined)).toBe(0);
    expect(refined.kernels.some((k) => k.parallel.some((l) => l.name.endsWith('o')))).toBe(true);
  });

  it('the col2im sum a pooling gradient broadcasts is stored once, not recomputed per pooled element', () => {
    const p = compileGraph(trainGraph('examples/fashion_cnn.kiln')).fusion.program;
    // the kernel that sums the 9 shifted column gradients reads no mask and writes one temp
    const col2im = p.kernels.filter((k) => k.ops.filter((o) => o === 'add').length >= 8 && k.kind === 'elementwise');
    expect(col2im).toHaveLength(1);
    const reads = col2im[0]!.buffers.filter((b) => b.access === 'read');
    expect(reads).toHaveLength(1);
  });

  it.each([
    ['a convolution', CONV],
    ['max pooling', POOL],
    [
      'avg pooling with a remainder row and column',
      `model p(x: f32[B, 2, 9, 7]) {
  output y = avg_pool2d(x, 2)
}`,
    ],
  ])('%s gives the same values with and without refined loops', (_name, src) => {
    const model = forwardModel(src);
    const g = model.lower({ training: false });
    const dims = new Map([['B', 3]]);
    const inputs = randomTensors(model.inputs, dims, 7);
    const params = randomTensors(model.params, dims, 8);
    const run = (noRefine: boolean) =>
      runProgram(compileGraph(g, { noRefine }).fusion.program, { inputs, params: new Map(params), dims });
    const a = run(false);
    const b = run(true);
    for (const [name, t] of b) expect([...a.get(name)!.data], name).toEqual([...t.data]);
  });

  it('a CNN training step gives the same loss and params with and without refined loops', () => {
    const { result } = loadKilnFile('examples/fashion_cnn.kiln');
    const model = result.models[0]!;
    const step = buildTrainStep(model, result.trains[0]!);
    const dims = new Map([['B', 2]]);
    const batch = randomTensors(model.inputs, dims, 3);
    const state = new Map([...randomTensors(model.params, dims, 5), ...initialState(step)]);
    const scalars = new Map(Object.entries(stepScalars(step, 1)));
    const run = (noRefine: boolean) => {
      const params = new Map(state);
      const out = runProgram(compileGraph(step.graph, { noRefine }).fusion.program, {
        inputs: batch,
        params,
        scalars,
        dims,
      });
      return { out, params };
    };
    const a = run(false);
    const b = run(true);
    for (const [name, t] of b.out) expect([...a.out.get(name)!.data], name).toEqual([...t.data]);
    for (const [name, t] of b.params) expect([...a.params.get(name)!.data], name).toEqual([...t.data]);
  });
});
