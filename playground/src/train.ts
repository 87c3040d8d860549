// Training in the page: the checked model compiled to an artifact in memory
// for the chosen back end, loaded by the runtime, and trained on batches of
// the Fashion-MNIST subset with its own fused training step; evaluated on
// test images with its forward pass.

import type { ModelContract, TrainContract } from '../../compiler/model.js';
import type { DimSpec, Model, TensorSpec } from '../../runtime/index.js';
import { loadArtifact } from '../../runtime/index.js';
import { mulberry32 } from '../../runtime/mulberry32.js';
import { compileArtifact } from '../../targets/artifact.js';
import { type FashionMnist, PIXELS, type Split, batchOf } from './data.js';

export type BackendName = 'wasm' | 'webgpu';

/** Which of the model's tensors are the image, the label and the class probabilities. */
export interface Binding {
  readonly image: TensorSpec;
  readonly label: string;
  readonly probs: string;
}

function isBatch(d: DimSpec): boolean {
  return typeof d !== 'number' && d.coef === 1 && d.syms.length === 1;
}

/** The shape of `t` for `batch` examples. */
export function shapeOf(t: TensorSpec, batch: number): number[] {
  return t.shape.map((d) => (typeof d === 'number' ? d : batch));
}

/**
 * How the model takes Fashion-MNIST: an f32 input of [B, ...] with 784 values per example, an i32
 * label input [B] and an f32 output [B, 10]; or why it cannot.
 */
export function bindModel(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): Binding | string {
  const perExample = (t: TensorSpec) =>
    t.shape.length >= 2 && isBatch(t.shape[0]!) && t.shape.slice(1).every((d) => typeof d === 'number')
      ? (t.shape.slice(1) as number[]).reduce((a, b) => a * b, 1)
      : -1;
  const image = inputs.find((t) => t.dtype === 'f32' && perExample(t) === PIXELS);
  const label = inputs.find((t) => t.dtype === 'i32' && t.shape.length === 1 && isBatch(t.shape[0]!));
  const probs = outputs.find((t) => t.dtype === 'f32' && t.shape.length === 2 && perExample(t) === 10);
  const extra = inputs.find((t) => t !== image && t !== label);
  if (!image || !label || !probs || extra)
    return 'the playground trains models of Fashion-MNIST: inputs x: f32[B, 784] (or f32[B, 1, 28, 28]) and y: i32[B], an output f32[B, 10]';
  return { image, label: label.name, probs: probs.name };
}

/** Compiles the model for `backend` in the page and loads the artifact from memory. */
export async function loadForTraining(
  model: ModelContract,
  train: TrainContract,
  backend: BackendName,
  threads: number,
): Promise<Model> {
  const artifact = await compileArtifact(model, train, { target: backend, seed: 0, threads: threads > 1 });
  if (!artifact.manifest.train) throw new Error(artifact.notes.join('; ') || 'no training step');
  return loadArtifact(
    { manifest: artifact.manifest, code: artifact.code, params: artifact.params },
    { threads: backend === 'wasm' ? threads : 1 },
  );
}

/** A permutation of 0..n-1 from a seed (mulberry32), so runs are repeatable. */
export function shuffled(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The inputs for images `indices` of a split. */
export function inputsOf(b: Binding, split: Split, indices: readonly number[]) {
  const { x, y } = batchOf(split, indices);
  return {
    [b.image.name]: { data: x, shape: shapeOf(b.image, indices.length) },
    [b.label]: { data: y, shape: [indices.length] },
  };
}

/** Predicted classes of the first `n` test images, and the accuracy over them. */
export async function evaluate(
  m: Model,
  b: Binding,
  data: FashionMnist,
  n: number,
): Promise<{ predicted: number[]; accuracy: number }> {
  const indices = Array.from({ length: Math.min(n, data.test.n) }, (_, i) => i);
  const out = await m.run(inputsOf(b, data.test, indices), { outputs: [b.probs] });
  const probs = out[b.probs]!.data as Float32Array;
  const predicted = indices.map((_, i) => {
    const row = probs.subarray(i * 10, i * 10 + 10);
    return row.indexOf(Math.max(...row));
  });
  const right = predicted.filter((p, i) => p === data.test.labels[i]).length;
  return { predicted, accuracy: right / indices.length };
}

export interface TrainLoop {
  readonly steps: number;
  readonly batch: number;
  /** Evaluate after every this many steps (and after the last). */
  readonly evalEvery: number;
  readonly evalImages: number;
  onStep(step: number, loss: number): void;
  onEval(step: number, result: { predicted: number[]; accuracy: number }): void;
  /** Polled between steps. */
  stopped(): boolean;
}

/** Runs the training loop; returns every step's loss. */
export async function trainLoop(m: Model, b: Binding, data: FashionMnist, loop: TrainLoop): Promise<number[]> {
  const losses: number[] = [];
  let order = shuffled(data.train.n, 0);
  let at = 0;
  for (let step = 1; step <= loop.steps && !loop.stopped(); step++) {
    if (at + loop.batch > order.length) {
      order = shuffled(data.train.n, step);
      at = 0;
    }
    const loss = await m.step(inputsOf(b, data.train, order.slice(at, at + loop.batch)));
    at += loop.batch;
    losses.push(loss);
    loop.onStep(step, loss);
    if (step % loop.evalEvery === 0 || step === loop.steps)
      loop.onEval(step, await evaluate(m, b, data, loop.evalImages));
    // Let the page paint between steps.
    await new Promise((ok) => setTimeout(ok, 0));
  }
  return losses;
}
