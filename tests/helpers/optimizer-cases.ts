// The optimizer trajectory cases shared by the reference-interpreter tests
// (tests/compiler/optimizers.test.ts) and the wasm tests
// (tests/runtime/optimizers-wasm.test.ts): every optimizer, its structural
// variants and the modifiers, with hyperparameter changes from step 5 on.

import type { ScheduleConfig } from '../../runtime/optimizers/schedules.js';
import type { HyperValue, OptimizerConfig } from '../../runtime/optimizers/spec.js';

type Hyper = Readonly<Record<string, HyperValue>>;

/** `name(k = v, ...)`, wrapped in lookahead when `inner` is given. */
export function optimizerLine(opt: OptimizerConfig): string {
  const call = (o: OptimizerConfig, inner?: string) => {
    const args = [...(inner ? [inner] : []), ...Object.entries(o.hyper).map(([k, v]) => `${k} = ${v}`)];
    return args.length > 0 ? `${o.name}(${args.join(', ')})` : o.name;
  };
  return opt.inner ? call(opt, call(opt.inner)) : call(opt);
}

export interface TrajectoryCase {
  readonly label: string;
  /** As written in the train block (defaults filled by the compiler). */
  readonly opt: OptimizerConfig;
  /** Hyperparameters of the base optimizer changed from step 5 on (no recompile). */
  readonly change?: Hyper;
  readonly schedule?: ScheduleConfig;
}

export const la = (inner: OptimizerConfig, hyper: Hyper = {}): OptimizerConfig => ({ name: 'lookahead', hyper, inner });
export const o = (name: string, hyper: Hyper = {}): OptimizerConfig => ({ name, hyper });

export const CASES: readonly TrajectoryCase[] = [
  { label: 'sgd', opt: o('sgd', { lr: 0.3, weight_decay: 0.05 }), change: { lr: 0.15, weight_decay: 0.1 } },
  {
    label: 'momentum, dampening',
    opt: o('momentum', { lr: 0.2, momentum: 0.8, dampening: 0.3, weight_decay: 0.02 }),
    change: { lr: 0.1, momentum: 0.6, dampening: 0.1 },
  },
  {
    label: 'momentum, nesterov',
    opt: o('momentum', { lr: 0.2, momentum: 0.85, nesterov: true, weight_decay: 0.01 }),
    change: { lr: 0.1, momentum: 0.7 },
  },
  {
    label: 'adagrad',
    opt: o('adagrad', { lr: 0.2, lr_decay: 0.1, eps: 1e-6, initial_accumulator: 0.05, weight_decay: 0.01 }),
    change: { lr: 0.1, lr_decay: 0.05, eps: 1e-5 },
  },
  {
    label: 'rmsprop, momentum',
    opt: o('rmsprop', { lr: 0.02, alpha: 0.9, eps: 1e-6, momentum: 0.5, weight_decay: 0.01 }),
    change: { lr: 0.01, alpha: 0.8, momentum: 0.7 },
  },
  {
    label: 'rmsprop, centered',
    opt: o('rmsprop', { lr: 0.02, alpha: 0.9, centered: true, momentum: 0.3 }),
    change: { lr: 0.01, alpha: 0.95 },
  },
  { label: 'rmsprop, no momentum', opt: o('rmsprop', { lr: 0.02 }), change: { lr: 0.01, alpha: 0.95 } },
  {
    label: 'adadelta',
    opt: o('adadelta', { lr: 1, rho: 0.8, eps: 1e-4, weight_decay: 0.01 }),
    change: { lr: 0.5, rho: 0.9 },
  },
  {
    label: 'adam',
    opt: o('adam', { lr: 0.05, b1: 0.8, b2: 0.95, eps: 1e-6, weight_decay: 0.02 }),
    change: { lr: 0.02, b1: 0.85, b2: 0.9 },
  },
  { label: 'adam, amsgrad', opt: o('adam', { lr: 0.05, b2: 0.6, amsgrad: true }), change: { lr: 0.02 } },
  {
    label: 'adamw',
    opt: o('adamw', { lr: 0.05, weight_decay: 0.1, b2: 0.99 }),
    change: { lr: 0.02, weight_decay: 0.2 },
  },
  { label: 'adamw, amsgrad', opt: o('adamw', { lr: 0.05, b2: 0.6, amsgrad: true }), change: { b2: 0.7 } },
  {
    label: 'adamax',
    opt: o('adamax', { lr: 0.05, b1: 0.8, b2: 0.9, weight_decay: 0.01 }),
    change: { lr: 0.02, b2: 0.95 },
  },
  // b1 and ψ stay: the reference keeps PyTorch's running product of μ.
  {
    label: 'nadam',
    opt: o('nadam', { lr: 0.05, momentum_decay: 0.05, weight_decay: 0.01 }),
    change: { lr: 0.02, weight_decay: 0.02 },
  },
  { label: 'radam', opt: o('radam', { lr: 0.05, weight_decay: 0.01 }), change: { lr: 0.02 } },
  {
    label: 'adabelief',
    opt: o('adabelief', { lr: 0.05, eps: 1e-8, eps_root: 1e-10, weight_decay: 0.1 }),
    change: { lr: 0.02, b1: 0.8 },
  },
  {
    label: 'lion',
    opt: o('lion', { lr: 0.01, b1: 0.8, b2: 0.95, weight_decay: 0.5 }),
    change: { lr: 0.005, b1: 0.9 },
  },
  { label: 'lamb', opt: o('lamb', { lr: 0.05, weight_decay: 0.1 }), change: { lr: 0.02, eps: 1e-4 } },
  {
    label: 'lars',
    opt: o('lars', { lr: 0.5, momentum: 0.8, trust_coefficient: 0.02, eps: 1e-3, weight_decay: 0.05 }),
    change: { lr: 0.2, trust_coefficient: 0.05 },
  },
  {
    label: 'lars, nesterov',
    opt: o('lars', { lr: 0.5, nesterov: true, trust_coefficient: 0.02 }),
    change: { lr: 0.2, momentum: 0.5 },
  },
  {
    label: 'adan',
    opt: o('adan', { lr: 0.05, weight_decay: 0.1 }),
    change: { lr: 0.02, weight_decay: 0.2, b2: 0.9 },
  },
  {
    label: 'ademamix, warmups',
    opt: o('ademamix', { lr: 0.05, b3: 0.99, alpha: 3, alpha_warmup: 4, b3_warmup: 6, weight_decay: 0.05 }),
    change: { lr: 0.02, alpha: 2.5 },
  },
  { label: 'adopt', opt: o('adopt', { lr: 0.05, b2: 0.99 }), change: { lr: 0.02, b1: 0.8 } },
  { label: 'grams', opt: o('grams', { lr: 0.05, weight_decay: 0.1 }), change: { lr: 0.02, b2: 0.99 } },
  {
    label: 'madgrad',
    opt: o('madgrad', { lr: 0.02, momentum: 0.8, weight_decay: 0.01 }),
    change: { lr: 0.01, momentum: 0.7 },
  },
  {
    label: 'adabound',
    opt: o('adabound', { lr: 0.05, final_lr: 0.05, gamma: 0.1, weight_decay: 0.01 }),
    change: { lr: 0.02, final_lr: 0.03 },
  },
  {
    label: 'adabound, cosine schedule',
    opt: o('adabound', { lr: 0.05, final_lr: 0.05, gamma: 0.1 }),
    schedule: { name: 'cosine', args: { steps: 8 } },
  },
  { label: 'diffgrad', opt: o('diffgrad', { lr: 0.05, weight_decay: 0.01 }), change: { lr: 0.02 } },
  {
    label: 'novograd',
    opt: o('novograd', { lr: 0.05, b2: 0.5, weight_decay: 0.01 }),
    change: { lr: 0.02, b1: 0.8, b2: 0.6 },
  },
  {
    label: 'adamw + cautious',
    opt: o('adamw', { lr: 0.05, weight_decay: 0.1, cautious: true }),
    change: { lr: 0.02 },
  },
  {
    label: 'momentum + cautious',
    opt: o('momentum', { lr: 0.2, momentum: 0.9, cautious: true }),
    change: { lr: 0.1 },
  },
  { label: 'lion + cautious', opt: o('lion', { lr: 0.01, weight_decay: 0.1, cautious: true }) },
  { label: 'adam + ema', opt: o('adam', { lr: 0.05, ema: 0.8 }), change: { lr: 0.02, ema: 0.6 } },
  { label: 'lookahead(adam)', opt: la(o('adam', { lr: 0.05 }), { k: 3, alpha: 0.6 }), change: { lr: 0.02 } },
  {
    label: 'lookahead(momentum + cautious + ema), defaults',
    opt: la(o('momentum', { lr: 0.2, cautious: true, ema: 0.7 })),
  },
  { label: 'lookahead(novograd), k = 2', opt: la(o('novograd', { lr: 0.05 }), { k: 2 }) },
  // Wave 2: their float64 references are in tests/compiler/optimizers-wave2.test.ts.
  {
    label: 'muon',
    opt: o('muon', { lr: 0.05, beta: 0.9, weight_decay: 0.02, adam_lr: 0.03 }),
    change: { lr: 0.03, beta: 0.8, adam_b2: 0.99 },
  },
  { label: 'muon, no nesterov, 3 steps, adam_lr = lr', opt: o('muon', { lr: 0.05, nesterov: false, ns_steps: 3 }) },
  {
    label: 'prodigy',
    opt: o('prodigy', { lr: 1, d0: 1e-2, weight_decay: 0.01 }),
    change: { lr: 0.5, d_coef: 0.8, b2: 0.99 },
  },
  {
    label: 'prodigy, safeguard_warmup, b3',
    opt: o('prodigy', { lr: 1, d0: 1e-2, b3: 0.9, safeguard_warmup: true }),
  },
  {
    label: 'schedule_free_adamw, warmup',
    opt: o('schedule_free_adamw', { lr: 0.05, warmup: 3, weight_decay: 0.01 }),
    change: { b2: 0.99, weight_decay: 0.02 },
  },
  {
    label: 'schedule_free_adamw, cosine schedule',
    opt: o('schedule_free_adamw', { lr: 0.05, b1: 0.8 }),
    schedule: { name: 'cosine', args: { steps: 8 } },
  },
];

/** The optimizers whose float64 references live in tests/compiler/optimizers-wave2.test.ts. */
export const WAVE2 = ['muon', 'prodigy', 'schedule_free_adamw'] as const;

/** The optimizer config at step t: the base optimizer's hyperparameters changed from step 5 on. */
export function configAt(c: TrajectoryCase, t: number): OptimizerConfig {
  if (!c.change || t < 5) return c.opt;
  const base = c.opt.inner ?? c.opt;
  const changed = { name: base.name, hyper: { ...base.hyper, ...c.change } };
  return c.opt.inner ? { ...c.opt, inner: changed } : changed;
}

// ---------------------------------------------------------------------------
// The tiny tanh MLP both trajectory tests train: its source, initial params and batches

export const TINY_NAMES = ['w1', 'b1', 'w2', 'b2'] as const;
export type TinyName = (typeof TINY_NAMES)[number];
export const TINY_SHAPES: Record<TinyName, number[]> = { w1: [2, 3], b1: [3], w2: [3, 1], b2: [] };
export const TINY_INIT: Record<TinyName, number[]> = {
  w1: [0.4, -0.3, 0.2, 0.1, 0.5, -0.6],
  b1: [0.05, -0.05, 0.1],
  w2: [0.7, -0.4, 0.3],
  b2: [0.2],
};
/** The batch size of BATCHES. */
export const B = 4;
export const BATCHES = [
  { x: [0.5, -1, 1.5, 0.2, -0.7, 0.9, 0.1, -0.3], y: [1, -0.5, 0.25, 0.8] },
  { x: [-0.4, 0.8, 0.3, -1.2, 1.1, 0.6, -0.9, -0.2], y: [-0.3, 0.9, 0.4, -1] },
];

export const tinySrc = (line: string, extra = '') => `model tiny(x: f32[B, 2], y: f32[B]) {
    param w1: f32[2, 3] = glorot_uniform
    param b1: f32[3] = zeros
    param w2: f32[3, 1] = glorot_uniform
    param b2: f32[] = zeros
    h = tanh(x @ w1 + b1)
    output loss = mean(mse((h @ w2)[:, 0] + b2, y))
  }
  train tiny {
    minimize loss
    optimizer ${line}
    ${extra}
  }`;

/** The tiny MLP's params (or gradients) as float64 arrays. */
export type TinyParams = Record<TinyName, number[]>;

/** The tiny MLP's loss and gradients on one batch, by hand in float64. */
export function tinyGrads(p: TinyParams, batch: (typeof BATCHES)[number]): { loss: number; g: TinyParams } {
  const { x: X, y: Y } = batch;
  const g: TinyParams = { w1: Array(6).fill(0), b1: [0, 0, 0], w2: [0, 0, 0], b2: [0] };
  let loss = 0;
  for (let i = 0; i < B; i++) {
    const h = [0, 1, 2].map((j) => Math.tanh(X[2 * i]! * p.w1[j]! + X[2 * i + 1]! * p.w1[3 + j]! + p.b1[j]!));
    const res = h.reduce((a, hj, j) => a + hj * p.w2[j]!, 0) + p.b2[0]! - Y[i]!;
    loss += (res * res) / B;
    const dpred = (2 * res) / B;
    g.b2[0]! += dpred;
    for (let j = 0; j < 3; j++) {
      g.w2[j]! += h[j]! * dpred;
      const dz = dpred * p.w2[j]! * (1 - h[j]! * h[j]!);
      g.b1[j]! += dz;
      g.w1[j]! += X[2 * i]! * dz;
      g.w1[3 + j]! += X[2 * i + 1]! * dz;
    }
  }
  return { loss, g };
}
