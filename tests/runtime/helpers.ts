// Shared by the runtime tests: compiling examples into artifacts, random
// inputs, conversions to the reference interpreter, and tolerances.

import type { CheckedModel, CheckedTrain } from '../../dsl/check.js';
import { loadKilnFile } from '../../dsl/frontend.js';
import { compile } from '../../compiler/compile.js';
import type { ModelContract, TrainContract } from '../../compiler/model.js';
import { evalShape, type DType } from '../../compiler/types.js';
import type { RefTensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';
import type { TrainStep } from '../../compiler/train-step.js';
import type { Tensor, TensorData } from '../../runtime/executor.js';
import { type Model, stepSeed } from '../../runtime/index.js';
import { type Artifact, buildArtifact } from '../../targets/artifact.js';
import { wasmTarget } from '../../targets/wasm/target.js';
import { wgslTarget } from '../../targets/wgsl/target.js';

export interface Example {
  readonly model: CheckedModel;
  readonly train: CheckedTrain | undefined;
}

export function example(file: string): Example {
  const { result } = loadKilnFile(file);
  const train = result.trains[0];
  const model = result.models.find((m) => m.name === train?.model) ?? result.models[0]!;
  return { model, train: result.trains.find((t) => t.model === model.name) };
}

/** A model's artifact as `kiln compile` packs it (no relaxed SIMD; wasm with threads unless `opts` says). */
export function artifactFor(
  model: ModelContract,
  train: TrainContract | undefined,
  opts: { readonly seed: number; readonly target?: 'wasm' | 'webgpu'; readonly threads?: boolean },
): Artifact {
  const target = opts.target ?? 'wasm';
  const gen = target === 'wasm' ? wasmTarget({ relaxedSimd: false, threads: opts.threads ?? true }) : wgslTarget;
  return buildArtifact(compile(model, train, { target }), gen, { seed: opts.seed });
}

const cache = new Map<string, Artifact>();

/** The example's artifact (seed 1, no relaxed SIMD; wasm unless `target` says), built once per test file. */
export function artifactOf(file: string, opts: { threads?: boolean; target?: 'wasm' | 'webgpu' } = {}): Artifact {
  const target = opts.target ?? 'wasm';
  const key = `${file}:${opts.threads ?? true}:${target}`;
  let a = cache.get(key);
  if (!a) {
    const ex = example(file);
    a = artifactFor(ex.model, ex.train, { seed: 1, threads: opts.threads ?? true, target });
    cache.set(key, a);
  }
  return a;
}

/** Deterministic pseudo-random numbers in [0, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function randomTensor(dtype: DType, shape: number[], rnd: () => number, classes = 2): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (dtype) {
    case 'f32':
      return { data: Float32Array.from({ length: n }, () => rnd() * 2 - 1), shape };
    case 'i32':
      return { data: Int32Array.from({ length: n }, () => Math.floor(rnd() * classes)), shape };
    case 'bool':
      return { data: Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1)), shape };
  }
}

/** Inputs for a model with every symbolic dimension bound to `size`. */
export function randomInputs(model: CheckedModel, size: number, seed = 42, classes = 2): Record<string, Tensor> {
  const dims = new Map<string, number>();
  for (const i of model.inputs)
    for (const d of i.type.shape) if (typeof d !== 'number') for (const s of d.syms) dims.set(s, size);
  const rnd = lcg(seed);
  const out: Record<string, Tensor> = {};
  for (const i of model.inputs) out[i.name] = randomTensor(i.type.dtype, evalShape(i.type.shape, dims), rnd, classes);
  return out;
}

export function dtypeOf(data: TensorData): DType {
  return data instanceof Float32Array ? 'f32' : data instanceof Int32Array ? 'i32' : 'bool';
}

export function toRef(t: Tensor): RefTensor {
  return { dtype: dtypeOf(t.data), shape: [...t.shape], data: Float64Array.from(t.data) };
}

export function refMap(ts: Readonly<Record<string, Tensor>>): Map<string, RefTensor> {
  return new Map(Object.entries(ts).map(([k, t]) => [k, toRef(t)]));
}

/** Every element within atol + rtol·|expected|; the message names the tensor and the worst element. */
export function expectAllClose(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-4,
  atol = 1e-5,
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: ${actual.length} elements, expected ${expected.length}`);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (Number.isNaN(a) !== Number.isNaN(e) || err > worstErr) {
      worst = i;
      worstErr = Number.isNaN(err) ? Infinity : err;
    }
  }
  if (worst >= 0)
    throw new Error(
      `${what}[${worst}]: got ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol}; ${expected.length} elements)`,
    );
}

/**
 * Runs `steps` fused steps of `m` (step seeds of --seed 0) beside
 * referenceTrainStep from m's current params and zero state: the loss within
 * rtol 1e-4 / atol 1e-6 and every param and state tensor within rtol 1e-3 /
 * atol 2e-5 after each step (the tolerances of every backprop step test).
 */
export async function expectStepsMatchReference(
  m: Model,
  step: TrainStep,
  batch: (t: number) => Record<string, Tensor>,
  steps = 3,
  label = '',
): Promise<void> {
  let params: Map<string, RefTensor> = new Map([...refMap(await m.getParams({ state: false })), ...initialState(step)]);
  for (let t = 1; t <= steps; t++) {
    const b = batch(t);
    const loss = await m.step(b);
    const ref = referenceTrainStep(step, {
      params,
      batch: refMap(b),
      scalars: stepScalars(step, t),
      seed: stepSeed(0, t),
    });
    expectAllClose(`${label}loss at step ${t}`, [loss], [ref.loss], 1e-4, 1e-6);
    params = ref.params;
    const got = await m.getParams();
    for (const [name, want] of params)
      expectAllClose(`${label}${name} after step ${t}`, got[name]!.data, want.data, 1e-3, 2e-5);
  }
}
