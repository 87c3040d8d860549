// The staged compile(): each stage is computed when first read and only
// once, the gradient program keeps only the differentiated output and the
// gradients, a training step that cannot be built is a reason (the forward
// program still compiles), the lens programs are built only when read, and
// code is generated for the programs asked for by a target of the
// compilation's kind.

import { beforeEach, describe, expect, it, vi } from 'vitest';
import { compile } from '../../compiler/compile.js';
import type { NamedProgram, Target, TargetCode } from '../../compiler/target.js';
import type { TrainContract } from '../../compiler/model.js';
import { loadKilnFile } from '../../dsl/frontend.js';

const calls = vi.hoisted(() => ({ optimize: 0, fusion: 0, memory: 0 }));

vi.mock('../../compiler/passes/pipeline.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../compiler/passes/pipeline.js')>();
  return {
    ...actual,
    optimizeGraph: (...a: Parameters<typeof actual.optimizeGraph>) => (calls.optimize++, actual.optimizeGraph(...a)),
  };
});
vi.mock('../../compiler/fusion/plan.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../compiler/fusion/plan.js')>();
  return {
    ...actual,
    planKernels: (...a: Parameters<typeof actual.planKernels>) => (calls.fusion++, actual.planKernels(...a)),
  };
});
vi.mock('../../compiler/memory.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../compiler/memory.js')>();
  return {
    ...actual,
    planMemory: (...a: Parameters<typeof actual.planMemory>) => (calls.memory++, actual.planMemory(...a)),
  };
});

const { result } = loadKilnFile('examples/mlp.kiln');
const model = result.models[0]!;
const train = result.trains[0]!;

/** A code generator that records which programs it was given. */
function recordingTarget(name: Target['name']): { target: Target; given: NamedProgram[][] } {
  const given: NamedProgram[][] = [];
  const code: TargetCode = {
    file: 'code',
    bytes: new Uint8Array(),
    base: 0,
    features: [],
    kernel: (_prefix, k) => ({ entry: k.name }),
    listing: () => '',
  };
  return {
    given,
    target: {
      name,
      generate: (programs) => {
        given.push([...programs]);
        return code;
      },
    },
  };
}

beforeEach(() => {
  calls.optimize = calls.fusion = calls.memory = 0;
});

describe('compile', () => {
  it('lowers the model without optimising, fusing or planning memory when only the IR is read', () => {
    const c = compile(model, train);
    expect(c.ir.outputs.map((o) => o.name)).toEqual(model.outputs.map((o) => o.name));
    expect(c.forward.ir).toBe(c.ir);
    expect(calls).toEqual({ optimize: 0, fusion: 0, memory: 0 });
  });

  it('computes each stage once, in order, when it is first read', () => {
    const c = compile(model, undefined);
    const { memory } = c.forward;
    expect(calls).toEqual({ optimize: 1, fusion: 1, memory: 1 });
    expect(c.forward.memory).toBe(memory);
    expect(c.forward.fusion.program.kernels.length).toBeGreaterThan(0);
    expect(memory.storageOf.size).toBe(c.forward.fusion.program.buffers.length);
    expect(calls).toEqual({ optimize: 1, fusion: 1, memory: 1 });
  });

  it('plans kernels within the target’s limits', () => {
    const fashion = loadKilnFile('examples/fashion_mlp.kiln').result;
    const widest = (target: 'wasm' | 'webgpu') => {
      const step = compile(fashion.models[0]!, fashion.trains[0]!, { target }).step;
      if (step?.kind !== 'built') throw new Error('no training step');
      return Math.max(...step.stages.fusion.program.kernels.map((k) => new Set(k.buffers.map((b) => b.id)).size));
    };
    // WebGPU's limit of 8 storage buffers per kernel (compiler/target.ts) changes this step's plan.
    expect(widest('webgpu')).toBeLessThan(widest('wasm'));
  });

  it('keeps the differentiated output and the gradients as the program; the grad stage has every output', () => {
    const c = compile(model, undefined, { grad: { of: 'loss', inputs: ['x'] } });
    const grads = model.params.map((p) => `grad.${p.name}`);
    expect(c.grad!.outputs.map((o) => o.name)).toEqual([...model.outputs.map((o) => o.name), ...grads, 'grad.x']);
    expect(c.forward.ir.outputs.map((o) => o.name)).toEqual(['loss', ...grads, 'grad.x']);
    expect(compile(model, undefined).grad).toBeUndefined();
  });

  it('builds the training step given a train block, and says why when it cannot', () => {
    const built = compile(model, train).step;
    expect(built?.kind).toBe('built');
    if (built?.kind === 'built') expect(built.stages.ir).toBe(built.step.graph);
    expect(compile(model, undefined).step).toBeUndefined();
    const wrong: TrainContract = { ...train, minimize: 'nope' };
    expect(compile(model, wrong).step).toEqual({ kind: 'unavailable', reason: "model mlp has no output 'nope'" });
  });

  it('generates code for the forward program and the step, or for the programs asked for', () => {
    const { target, given } = recordingTarget('wasm');
    const c = compile(model, train);
    c.code(target);
    c.code(target, ['step']);
    const step = c.step?.kind === 'built' ? c.step.stages.fusion.program : undefined;
    expect(given).toEqual([
      [
        { prefix: 'fwd', program: c.forward.fusion.program },
        { prefix: 'step', program: step },
      ],
      [{ prefix: 'step', program: step }],
    ]);
    const noStep = compile(model, { ...train, minimize: 'nope' });
    noStep.code(target);
    expect(given[2]!.map((p) => p.prefix)).toEqual(['fwd']);
    expect(() => noStep.code(target, ['step'])).toThrow(/no training step: model mlp has no output 'nope'/);
  });

  it('builds the lens programs jvp and vjp only when read, each once, from a lowering of its own', () => {
    const c = compile(model, undefined);
    expect(calls).toEqual({ optimize: 0, fusion: 0, memory: 0 });
    const jvp = c.jvp;
    expect(calls).toEqual({ optimize: 0, fusion: 0, memory: 0 });
    expect(jvp.ir.outputs.map((o) => o.name)).toEqual(['probs', 'pred', 'loss', 'jvp.probs', 'jvp.loss']);
    expect(jvp.ir.inputs.map((i) => i.name)).toEqual([
      'x',
      'y',
      'tangent.x',
      'tangent.w1',
      'tangent.b1',
      'tangent.w2',
      'tangent.b2',
    ]);
    expect(c.vjp.ir.outputs.map((o) => o.name)).toEqual(['vjp.w1', 'vjp.b1', 'vjp.w2', 'vjp.b2', 'vjp.x']);
    expect(c.vjp.ir.inputs.map((i) => i.name)).toEqual(['x', 'y', 'cotangent.probs', 'cotangent.loss']);
    expect(c.jvp).toBe(jvp);
    expect(jvp.ir).not.toBe(c.ir);
    expect(c.ir.outputs.map((o) => o.name)).toEqual(['probs', 'pred', 'loss']);
    const { target, given } = recordingTarget('wasm');
    c.code(target, ['fwd', 'jvp', 'vjp']);
    expect(given[0]!.map((p) => p.prefix)).toEqual(['fwd', 'jvp', 'vjp']);
    expect(given[0]![1]!.program).toBe(c.jvp.fusion.program);
    expect(given[0]![2]!.program).toBe(c.vjp.fusion.program);
    expect(calls).toEqual({ optimize: 3, fusion: 3, memory: 0 });
  });

  it('refuses a code generator of another target', () => {
    expect(() => compile(model, undefined, { target: 'webgpu' }).code(recordingTarget('wasm').target)).toThrow(
      /planned for target webgpu/,
    );
  });
});
