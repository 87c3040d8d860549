// The model contract: what the compiler consumes. The front end (dsl/)
// produces it from source; the compiler, the code generators and the CLI
// read only this, so none of them depend on the AST or on source spans.

import { GRAD_CAM_NAMES } from '../runtime/attribution.js';
import type { InitSpec } from './init.js';
import type { Graph } from './ir.js';
import type { TensorType } from './types.js';

/** The output name under which `lower` exposes a layer (the runtime's Grad-CAM reads it too). */
export const LAYER = GRAD_CAM_NAMES.layer;

export interface ModelTensor {
  readonly name: string;
  readonly type: TensorType;
}

export interface ModelParam extends ModelTensor {
  readonly init: InitSpec;
}

export interface ModelContract {
  readonly name: string;
  /** In declaration order; symbolic dimensions allowed. */
  readonly inputs: readonly ModelTensor[];
  /** In declaration order; static shapes. */
  readonly params: readonly ModelParam[];
  /** In declaration order. */
  readonly outputs: readonly ModelTensor[];
  /** The symbolic dimension names of the inputs, in order of first appearance. */
  readonly symbolicDims: readonly string[];
  /** Whether the model draws random numbers in training steps (dropout): its training graph has `@seed`. */
  readonly usesRandomness: boolean;
  /**
   * The model's named intermediate values (its `let` statements, not the
   * outputs), in declaration order: what `lower` can expose as `layer.<name>`
   * (Grad-CAM attributes through one).
   */
  readonly layers: readonly ModelTensor[];
  /**
   * The model as a fresh IR graph (a new IRBuilder per call; deterministic).
   * With `training`, dropout is active and, if the model uses it, the graph
   * has an extra input `@seed: i32[]` (last) keying the random numbers.
   * `layers` adds an output `layer.<name>` after the model's for each named
   * value asked for (an unknown name is an Error).
   */
  lower(opts: { readonly training: boolean; readonly layers?: readonly string[] }): Graph;
}

/** A named call with literal keyword arguments, as in a train block. */
export interface HyperCallContract {
  readonly name: string;
  /** Only the arguments written in the source; defaults are the consumer's. */
  readonly args: Readonly<Record<string, number | boolean>>;
}

export interface OptimizerCallContract extends HyperCallContract {
  /** For `lookahead(inner, k, alpha)` and `sam(inner, rho, adaptive)`: the wrapped optimizer. */
  readonly inner?: OptimizerCallContract;
}

export interface TrainContract {
  /** The name of the model it trains. */
  readonly model: string;
  /** A scalar f32 output of the model. */
  readonly minimize: string;
  /**
   * Gradient noise (§34) is written among the optimizer's arguments,
   * `adam(lr = 1e-3, grad_noise = 0.01, grad_noise_gamma = 0.55)` (on the
   * wrapped optimizer under lookahead); buildTrainStep splits it off.
   */
  readonly optimizer: OptimizerCallContract;
  readonly schedule?: HyperCallContract;
  readonly clip?: { readonly kind: 'global_norm' | 'value'; readonly max: number };
  /** Params not to train, in source order. */
  readonly freeze: readonly string[];
  /**
   * The gradient estimator (LANGUAGE.md v1): absent or backprop, the exact
   * reverse-mode gradient; forward, the forward gradient averaged over
   * `directions` random tangents (a positive integer).
   */
  readonly gradient?: GradientEstimator;
}

export type GradientEstimator =
  { readonly kind: 'backprop' } | { readonly kind: 'forward'; readonly directions: number };
