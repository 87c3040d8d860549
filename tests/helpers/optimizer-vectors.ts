// The test vectors of optimizers.md §35, §35b and §36: a 3-element parameter
// θ0 with given gradients, θ after each step (or after the last) as the sheet
// prints them (9 significant digits). Shared by the reference-interpreter
// tests (tests/compiler/optimizers.test.ts) and the wasm tests
// (tests/runtime/optimizers-wasm.test.ts).

import type { OptimizerConfig } from '../../runtime/optimizers/spec.js';

type Vec = number[];

export const THETA0 = [1.0, -2.0, 0.5];
export const GRADS = [
  [0.5, -1.0, 0.0],
  [0.3, 0.2, -0.4],
  [-0.1, 0.7, 0.25],
];

export interface VectorCase {
  readonly name: string;
  readonly opt: OptimizerConfig;
  readonly gradScale?: number;
  readonly steps?: number;
  /** θ after each step (§35), or only after the last (§36: `final`), as printed: 9 significant digits. */
  readonly expected?: readonly Vec[];
  readonly final?: Vec;
}

export const VECTORS: readonly VectorCase[] = [
  {
    name: '§35 SGD + momentum (heavy ball, dampening 0)',
    opt: { name: 'momentum', hyper: { lr: 0.1, momentum: 0.9, dampening: 0 } },
    expected: [
      [0.95, -1.9, 0.5],
      [0.875, -1.83, 0.54],
      [0.8175, -1.837, 0.551],
    ],
  },
  {
    name: '§35 SGD + momentum, dampening 0.5 (first step undampened)',
    opt: { name: 'momentum', hyper: { lr: 0.1, momentum: 0.9, dampening: 0.5 } },
    expected: [
      [0.95, -1.9, 0.5],
      [0.89, -1.82, 0.52],
      [0.841, -1.783, 0.5255],
    ],
  },
  {
    name: '§35 Nesterov',
    opt: { name: 'momentum', hyper: { lr: 0.1, momentum: 0.9, nesterov: true } },
    expected: [
      [0.905, -1.81, 0.5],
      [0.8075, -1.767, 0.576],
      [0.76575, -1.8433, 0.5609],
    ],
  },
  {
    name: '§35 RMSProp, PyTorch defaults form',
    opt: { name: 'rmsprop', hyper: { lr: 0.01, alpha: 0.99, eps: 1e-8 } },
    expected: [
      [0.90000002, -1.90000001, 0.5],
      [0.848360251, -1.91970659, 0.599999975],
      [0.86540701, -1.97667744, 0.546808497],
    ],
  },
  {
    name: '§35 RMSProp, PyTorch centered + momentum',
    opt: { name: 'rmsprop', hyper: { lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0.9, centered: true } },
    expected: [
      [0.899496239, -1.89949623, 0.5],
      [0.756912665, -1.82880939, 0.600503756],
      [0.64575234, -1.82216336, 0.637739976],
    ],
  },
  {
    name: '§35 AdaGrad, PyTorch form',
    opt: { name: 'adagrad', hyper: { lr: 0.1, initial_accumulator: 0, eps: 1e-10, lr_decay: 0 } },
    expected: [
      [0.9, -1.9, 0.5],
      [0.848550424, -1.91961161, 0.6],
      [0.86545351, -1.97620326, 0.547000106],
    ],
  },
  {
    name: '§35 Lion',
    opt: { name: 'lion', hyper: { lr: 0.01, b1: 0.9, b2: 0.99, weight_decay: 0.1 } },
    expected: [
      [0.989, -1.988, 0.4995],
      [0.978011, -1.996012, 0.5090005],
      [0.987032989, -2.00401599, 0.498491499],
    ],
  },
  {
    name: '§35b RMSProp, PyTorch form, gradients x 1e-6',
    opt: { name: 'rmsprop', hyper: { lr: 0.01, alpha: 0.99, eps: 1e-8 } },
    gradScale: 1e-6,
    expected: [
      [0.916666667, -1.90909091, 0.5],
      [0.872610407, -1.92702991, 0.58],
      [0.887174468, -1.97971305, 0.536140351],
    ],
  },
  {
    name: '§35b AdaGrad, PyTorch form, gradients x 1e-6',
    opt: { name: 'adagrad', hyper: { lr: 0.1, eps: 1e-10 } },
    gradScale: 1e-6,
    expected: [
      [0.900019996, -1.90001, 0.5],
      [0.848579242, -1.91961969, 0.599975006],
      [0.865479471, -1.97620676, 0.546986346],
    ],
  },
  {
    name: '§36 Adamax (optax and torch agree)',
    opt: { name: 'adamax', hyper: { lr: 0.1 } },
    final: [0.778453187, -1.86570922, 0.562789337],
  },
  {
    name: '§36 Adadelta (optax and torch agree)',
    opt: { name: 'adadelta', hyper: { lr: 1.0, rho: 0.9, eps: 1e-6 } },
    final: [0.995364997, -2.00045852, 0.500701938],
  },
  {
    name: '§36 NAdam, torch (μ schedule, ψ = 4e-3)',
    opt: { name: 'nadam', hyper: { lr: 0.1, momentum_decay: 4e-3 } },
    final: [0.844973412, -1.96844218, 0.550867788],
  },
  {
    // optax's form gives 0.823118745 for the first element: 9 digits separate the two.
    name: '§36 RAdam, torch, 8 steps (rectified from t = 6)',
    opt: { name: 'radam', hyper: { lr: 0.1 } },
    steps: 8,
    final: [0.823118747, -1.82157278, 0.542114939],
  },
];

/** The gradients of each step of `c`: the sheet's three, repeated, times `gradScale`. */
export function vectorGrads(c: VectorCase): Vec[] {
  return Array.from({ length: c.steps ?? 3 }, (_, i) => GRADS[i % 3]!.map((x) => x * (c.gradScale ?? 1)));
}
