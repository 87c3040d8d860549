// Kernel counts lock the fusion planner's behaviour: a change that adds a
// kernel to a training step shows up here (and in the golden kernel tables).

import { describe, expect, it } from 'vitest';
import { compileSource, loadKilnFile } from '../../dsl/frontend.js';
import type { CheckedModel } from '../../dsl/check.js';
import { compileGraph } from '../../compiler/compile.js';
import { TARGET_LIMITS } from '../../compiler/target.js';
import type { KernelProgram } from '../../compiler/kernel/kir.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { evaluate } from '../../compiler/interpret.js';
import { runProgram } from '../../compiler/kernel/interpret.js';

function model(src: string): CheckedModel {
  const { result } = compileSource('test.kiln', src);
  expect(result.diagnostics).toEqual([]);
  return result.models[0]!;
}

function forwardKernels(src: string): KernelProgram {
  return compileGraph(model(src).lower({ training: false })).fusion.program;
}

function trainKernels(file: string): KernelProgram {
  const { result } = loadKilnFile(file);
  const t = result.trains[0]!;
  return compileGraph(
    buildTrainStep(
      result.models.find((m) => m.name === t.model)!,
      t,
    ).graph,
  ).fusion.program;
}

/** Names of the buffers a kernel writes. */
function writes(p: KernelProgram, k: number): string[] {
  return p.kernels[k]!.buffers.filter((b) => b.access !== 'read').map((b) => {
    const r = p.buffers[b.id]!.role;
    return r.kind === 'temp' ? `t${b.id}` : r.name;
  });
}

describe('kernel counts', () => {
  it('softmax is one kernel', () => {
    expect(forwardKernels('model s(x: f32[B, 10]) { output y = softmax(x, axis = -1) }').kernels).toHaveLength(1);
  });

  it('log_softmax is one kernel', () => {
    expect(forwardKernels('model s(x: f32[B, 10]) { output y = log_softmax(x) }').kernels).toHaveLength(1);
  });

  it('layer norm forward is one kernel', () => {
    const p = forwardKernels(`model ln(x: f32[B, 16]) {
      param g: f32[16] = ones
      param b: f32[16] = zeros
      output y = layer_norm(x, g, b)
    }`);
    expect(p.kernels).toHaveLength(1);
    expect(p.kernels[0]!.kind).toBe('rowwise');
  });

  it('per-example softmax cross-entropy is one kernel', () => {
    const p = forwardKernels('model ce(x: f32[B, 10], y: i32[B]) { output l = softmax_cross_entropy(x, y) }');
    expect(p.kernels).toHaveLength(1);
  });

  it('a dense layer with bias and relu is one kernel', () => {
    const p = forwardKernels(`model d(x: f32[B, 8]) {
      param w: f32[8, 4] = ones
      param b: f32[4] = zeros
      output y = relu(x @ w + b)
    }`);
    expect(p.kernels).toHaveLength(1);
    expect(p.kernels[0]!.kind).toBe('matmul');
  });

  it('the MLP training step: 9 kernels, cross-entropy forward and backward in one, each Adam update fused', () => {
    const p = trainKernels('examples/mlp.kiln');
    expect(p.kernels.length).toBeLessThanOrEqual(10);
    expect(p.kernels).toHaveLength(9);
    // One row-wise kernel computes the per-example loss and d loss / d logits together.
    const ce = p.kernels.filter((k) => k.kind === 'rowwise' && k.ops.includes('exp') && k.ops.includes('log'));
    expect(ce).toHaveLength(1);
    // ... including d loss / d logits, which feeds the backward matmuls.
    const ceWrites = ce[0]!.buffers.filter((b) => b.access !== 'read').map((b) => b.id);
    expect(ceWrites.length).toBeGreaterThanOrEqual(2);
    const backward = p.kernels.filter((k) => k.kind === 'matmul' && k.buffers.some((b) => ceWrites.includes(b.id)));
    expect(backward.length).toBeGreaterThanOrEqual(2);
    // Each parameter, its moments and its gradient: one kernel, the one that reduces the gradient.
    for (const param of ['w1', 'b1', 'w2', 'b2']) {
      const owners = p.kernels.map((_, i) => i).filter((i) => writes(p, i).includes(param));
      expect(owners, param).toHaveLength(1);
      const k = owners[0]!;
      expect(writes(p, k).sort()).toEqual([param, `${param}.m`, `${param}.v`].sort());
      expect(['matmul', 'reduce']).toContain(p.kernels[k]!.kind);
    }
  });

  it('splits kernels at the WebGPU limit of 8 buffers, and stays correct', () => {
    const names = 'abcdefghij'.split('');
    const src = `model wide(${names.map((n) => `${n}: f32[4]`).join(', ')}) { output y = ${names.join(' * ')} }`;
    const g = model(src).lower({ training: false });
    const wasm = compileGraph(g, TARGET_LIMITS['wasm']).fusion.program;
    const gpu = compileGraph(g, TARGET_LIMITS['webgpu']).fusion.program;
    expect(wasm.kernels).toHaveLength(1);
    expect(gpu.kernels.length).toBeGreaterThan(1);
    for (const k of gpu.kernels) expect(k.buffers.length).toBeLessThanOrEqual(8);
    const inputs = new Map(
      names.map((n, i) => [
        n,
        { dtype: 'f32' as const, shape: [4], data: Float64Array.from([1, 2, 3, 4], (v) => v + i / 10) },
      ]),
    );
    const want = evaluate([g.outputs[0]!.node], { inputs, params: new Map() })[0]!;
    const got = runProgram(gpu, { inputs, params: new Map(), dims: new Map() }).get('y')!;
    expect([...got.data]).toEqual([...want.data]);
  });
});
