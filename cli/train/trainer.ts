// A training loop's view of a backend: the runtime `Model` (any runtime
// target) or the float64 reference interpreter.

import type { Tensor } from '../../runtime/executor.js';
import type { TensorSpec } from '../../runtime/manifest.js';
import type { StTensor } from '../../runtime/safetensors.js';

export interface StepOutcome {
  readonly loss: number;
  /** Trainable params whose new value holds a NaN or an infinity (the step's flag); empty when all are finite. */
  readonly nonfinite: readonly string[];
}

export interface Trainer {
  readonly name: string;
  readonly target: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** The output the train block minimizes. */
  readonly loss: string;
  /** Updates taken so far. */
  stepCount(): number;
  /** One training step on a batch: the loss before the update, and the params it made non-finite. */
  step(batch: Readonly<Record<string, Tensor>>): Promise<StepOutcome>;
  /** Examples per forward pass of evaluation (EVAL_BATCH, fewer where that many cannot fit wasm's memory). */
  readonly evalBatch: number;
  /** A forward pass (no dropout), for evaluation. */
  run(batch: Readonly<Record<string, Tensor>>, outputs: readonly string[]): Promise<Record<string, Tensor>>;
  /** Params and optimizer state at the backend's full precision, for checkpoints. */
  state(): Promise<Map<string, StTensor>>;
  /**
   * The params alone, as f32 safetensors (`--params-out`); with `eval`, the
   * evaluation point (schedule-free's x, `--eval-params`) in their place.
   */
  params(opts?: { readonly eval?: boolean }): Promise<Map<string, StTensor>>;
  /** Runs `f` (forward passes) at the evaluation point when the optimizer keeps one (schedule-free's x). */
  atEvalPoint<T>(f: () => Promise<T>): Promise<T>;
  /** Restores `state()`'s tensors and the step count; `source` names them in errors. */
  restore(state: ReadonlyMap<string, StTensor>, step: number, source: string): Promise<void>;
  dispose(): void;
}
