// What each optimizer of a train block is, defined once (optimizers.md,
// "Kiln's canonical forms"): its name, its hyperparameters with defaults,
// kinds and ranges, the modifiers every optimizer accepts, lookahead's own
// arguments, and the runtime scalars its update reads. The checker (through
// compiler/optimizers/catalog.ts), the step graph (compiler/optimizers/,
// compiler/train-step.ts) and the host (runtime) all read these tables, so
// they cannot disagree.
//
// The runtime is the bottom layer: this file imports nothing and runs
// unchanged in Node and in browsers.

export type HyperValue = number | boolean;

/** A hyperparameter's default; 'required': a number the source must give. */
export type HyperDefault = HyperValue | 'required';

/**
 * The defaults of one call's arguments. An undefined default is a number that
 * is off when absent (`ema`, `grad_noise`, exponential's `end`).
 */
export type HyperTable = Readonly<Record<string, HyperDefault | undefined>>;

/** What an argument takes: a number, true or false, or a number that must be given. */
export type ArgKind = 'number' | 'bool' | 'required';

/** The kind of an argument, read from its default (booleans default to true or false). */
export function argKind(d: HyperDefault | undefined): ArgKind {
  return d === 'required' ? 'required' : typeof d === 'boolean' ? 'bool' : 'number';
}

/** The default values of a table (required and off arguments have none). */
export function defaultValues(table: HyperTable): Record<string, HyperValue> {
  const out: Record<string, HyperValue> = {};
  for (const [k, d] of Object.entries(table)) if (d !== undefined && d !== 'required') out[k] = d;
  return out;
}

/**
 * An optimizer line of a train block: its name and the arguments written in
 * the source (modifiers `cautious`, `ema` among them). For `lookahead`,
 * `hyper` holds `k` and `alpha` and `inner` the wrapped optimizer; for `sam`,
 * `rho` and `adaptive` and `inner` the wrapped one (a lookahead or a base
 * optimizer: `sam(lookahead(adam(...)))`).
 */
export interface OptimizerConfig {
  readonly name: string;
  readonly hyper: Readonly<Record<string, HyperValue>>;
  readonly inner?: OptimizerConfig;
}

export interface ClipConfig {
  readonly kind: 'global_norm' | 'value';
  readonly max: number;
}

/** Annealed Gaussian gradient noise (§34): σ_t² = eta / t^gamma. */
export interface GradNoiseConfig {
  readonly eta: number;
  readonly gamma: number;
}

// ---------------------------------------------------------------------------
// The optimizers

/** The canonical optimizers of optimizers.md ("Kiln's canonical forms"), in the sheet's order. */
export const SUPPORTED_OPTIMIZERS = [
  'sgd',
  'momentum',
  'adagrad',
  'rmsprop',
  'adadelta',
  'adam',
  'adamw',
  'adamax',
  'nadam',
  'radam',
  'adabelief',
  'lion',
  'lamb',
  'lars',
  'adan',
  'ademamix',
  'adopt',
  'grams',
  'madgrad',
  'adabound',
  'diffgrad',
  'novograd',
  'adahessian',
  'sophia',
  // Wave 2 (optimizers.md "Wave 2 canonical forms")
  'muon',
  'prodigy',
  'schedule_free_adamw',
  'shampoo',
] as const;
export type SupportedOptimizer = (typeof SUPPORTED_OPTIMIZERS)[number];

export function isSupportedOptimizer(name: string): name is SupportedOptimizer {
  return (SUPPORTED_OPTIMIZERS as readonly string[]).includes(name);
}

/** The one message every layer uses for an optimizer Kiln cannot run. */
export function unsupportedOptimizerMessage(name: string): string {
  return `optimizer '${name}' is not supported yet (supported: ${SUPPORTED_OPTIMIZERS.join(', ')})`;
}

const ADAM_LIKE = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8, weight_decay: 0 } as const;

/**
 * Kiln's canonical hyperparameters and defaults (optimizers.md, "Kiln's
 * canonical forms"), in the sheet's order. The boolean ones (`nesterov`,
 * `centered`, `amsgrad`, and the modifier `cautious`) choose the graph's
 * shape (state tensors, masking), so they are fixed at compile time; every
 * numeric one is a runtime scalar.
 */
export const OPTIMIZER_DEFAULTS: Readonly<Record<SupportedOptimizer, HyperTable>> = {
  sgd: { lr: 'required', weight_decay: 0 },
  momentum: { lr: 'required', momentum: 0.9, dampening: 0, nesterov: false, weight_decay: 0 },
  adagrad: { lr: 1e-2, lr_decay: 0, eps: 1e-10, initial_accumulator: 0, weight_decay: 0 },
  rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0, centered: false, weight_decay: 0 },
  adadelta: { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0 },
  adam: { ...ADAM_LIKE, amsgrad: false },
  adamw: { ...ADAM_LIKE, weight_decay: 1e-2, amsgrad: false },
  adamax: { ...ADAM_LIKE, lr: 2e-3 },
  nadam: { ...ADAM_LIKE, lr: 2e-3, momentum_decay: 4e-3 },
  radam: ADAM_LIKE,
  adabelief: { ...ADAM_LIKE, eps: 1e-16, eps_root: 1e-16 },
  lion: { lr: 1e-4, b1: 0.9, b2: 0.99, weight_decay: 0 },
  lamb: { ...ADAM_LIKE, eps: 1e-6 },
  lars: { lr: 'required', momentum: 0.9, trust_coefficient: 1e-3, eps: 0, nesterov: false, weight_decay: 0 },
  adan: { lr: 1e-3, b1: 0.98, b2: 0.92, b3: 0.99, eps: 1e-8, weight_decay: 0 },
  ademamix: { ...ADAM_LIKE, b3: 0.9999, alpha: 2.0, alpha_warmup: 0, b3_warmup: 0 },
  adopt: { lr: 1e-3, b1: 0.9, b2: 0.9999, eps: 1e-6 },
  grams: ADAM_LIKE,
  madgrad: { lr: 1e-2, momentum: 0.9, eps: 1e-6, weight_decay: 0 },
  adabound: { ...ADAM_LIKE, final_lr: 0.1, gamma: 1e-3 },
  diffgrad: ADAM_LIKE,
  novograd: { ...ADAM_LIKE, b2: 0.25, eps: 1e-6 },
  // Wave 2 (optimizers.md §28b, §28c): curvature from a Hutchinson Hessian diagonal.
  adahessian: { lr: 0.15, b1: 0.9, b2: 0.999, eps: 1e-4, weight_decay: 0, hessian_power: 1, update_interval: 1 },
  sophia: {
    lr: 'required',
    b1: 0.965,
    b2: 0.99,
    eps: 1e-8,
    weight_decay: 1e-4,
    gamma: 0.01,
    clip_threshold: 1.0,
    update_interval: 10,
  },
  // Wave 2. An undefined default is derived on the host: muon's adam_lr = lr, prodigy's b3 = sqrt(b2).
  // muon's ns_steps is structural (the number of Newton–Schulz matmuls), fixed at compile time like nesterov.
  muon: {
    lr: 'required',
    beta: 0.95,
    ns_steps: 5,
    nesterov: true,
    eps: 1e-8,
    weight_decay: 0,
    adam_b1: 0.9,
    adam_b2: 0.999,
    adam_lr: undefined,
  },
  prodigy: {
    lr: 1.0,
    b1: 0.9,
    b2: 0.999,
    b3: undefined,
    eps: 1e-8,
    d0: 1e-6,
    d_coef: 1.0,
    weight_decay: 0,
    safeguard_warmup: false,
  },
  schedule_free_adamw: { lr: 2.5e-3, b1: 0.9, b2: 0.999, eps: 1e-8, weight_decay: 0, warmup: 0, weight_lr_power: 2 },
  // Gupta et al. 2018: the preconditioners start at eps·I; their inverse roots are refreshed every update_interval steps.
  shampoo: { lr: 'required', eps: 1e-4, update_interval: 1 },
};

/** The optimizers whose update reads a Hutchinson estimate of the loss Hessian's diagonal (compiler/curvature.ts). */
export const CURVATURE_OPTIMIZERS: readonly SupportedOptimizer[] = ['adahessian', 'sophia'];

/**
 * Their hyperparameter k: step t refreshes the estimate when (t − 1) % k == 0.
 * The artifact holds two step programs, one that refreshes and one that
 * reuses the stored estimate; the runtime picks by t and the current k.
 */
export const CURVATURE_INTERVAL = 'update_interval';

/**
 * The optimizers with a refreshing and a plain step program that read no
 * Hessian: Shampoo recomputes its inverse roots in the refreshing one only,
 * every CURVATURE_INTERVAL steps, and keeps the stored roots in between.
 */
export const ROOT_REFRESH_OPTIMIZERS: readonly SupportedOptimizer[] = ['shampoo'];

// ---------------------------------------------------------------------------
// Modifiers and lookahead

/** optax noisy_sgd's gamma (§34): the default of `grad_noise_gamma`. */
export const GRAD_NOISE_GAMMA_DEFAULT = 0.55;

/**
 * Modifiers any optimizer accepts (§22, §34), written among its arguments.
 * `ema` has no default: absent means off, `ema = d` keeps an EMA with decay d.
 * `grad_noise = eta` turns on annealed gradient noise (§34) with
 * `grad_noise_gamma` (default 0.55); absent means off. The two are not
 * optimizer hyperparameters: buildTrainStep and hostScalars split them off
 * into a GradNoiseConfig (splitGradNoise).
 */
export const MODIFIER_DEFAULTS: HyperTable = {
  cautious: false,
  ema: undefined,
  grad_noise: undefined,
  grad_noise_gamma: GRAD_NOISE_GAMMA_DEFAULT,
};

/** `lookahead(inner, k, alpha)` (§21). */
export const LOOKAHEAD_DEFAULTS: HyperTable = { k: 5, alpha: 0.5 };

/**
 * `sam(inner, rho, adaptive)` (§28d). `rho` is a run-time scalar; `adaptive`
 * (ASAM) chooses the perturbation's graph, fixed at compile time.
 */
export const SAM_DEFAULTS: HyperTable = { rho: 0.05, adaptive: false };

/** SAM's settings, split off the optimizer it wraps (resolve.ts splitSam). */
export interface SamConfig {
  readonly rho: number;
  readonly adaptive: boolean;
}

/** `grad_noise(eta, gamma)` (§34, optax noisy_sgd defaults): the host's view of the two modifiers. */
export const GRAD_NOISE_DEFAULTS: HyperTable = { eta: 0.01, gamma: GRAD_NOISE_GAMMA_DEFAULT };

// ---------------------------------------------------------------------------
// Ranges

export interface Range {
  readonly ok: (x: number) => boolean;
  /** How the messages phrase it: `must be ${text}`. */
  readonly text: string;
}
const NON_NEGATIVE: Range = { ok: (x) => Number.isFinite(x) && x >= 0, text: 'a finite number >= 0' };
const DECAY: Range = { ok: (x) => x >= 0 && x < 1, text: 'in [0, 1)' };
const UNIT: Range = { ok: (x) => x >= 0 && x <= 1, text: 'in [0, 1]' };
const OPEN_UNIT: Range = { ok: (x) => x > 0 && x < 1, text: 'in (0, 1)' };
const POSITIVE: Range = { ok: (x) => Number.isFinite(x) && x > 0, text: 'a finite number > 0' };
const POSITIVE_INT: Range = { ok: (x) => Number.isInteger(x) && x >= 1, text: 'an integer >= 1' };
const NON_NEGATIVE_INT: Range = { ok: (x) => Number.isInteger(x) && x >= 0, text: 'an integer >= 0' };

/** Ranges by hyperparameter name (PyTorch's and the author code's checks; decay rates in [0, 1)). */
const RANGES: Readonly<Record<string, Range>> = {
  lr: NON_NEGATIVE,
  weight_decay: NON_NEGATIVE,
  eps: NON_NEGATIVE,
  eps_root: NON_NEGATIVE,
  b1: DECAY,
  b2: DECAY,
  b3: DECAY,
  momentum: DECAY,
  alpha: DECAY,
  rho: UNIT,
  dampening: UNIT,
  lr_decay: NON_NEGATIVE,
  initial_accumulator: NON_NEGATIVE,
  momentum_decay: NON_NEGATIVE,
  trust_coefficient: NON_NEGATIVE,
  alpha_warmup: NON_NEGATIVE,
  b3_warmup: NON_NEGATIVE,
  final_lr: NON_NEGATIVE,
  // AdaBound's bounds divide by γ·t.
  gamma: OPEN_UNIT,
  ema: DECAY,
  // The authors' AdaHessian checks 0 <= hessian_power <= 1.
  hessian_power: UNIT,
  update_interval: POSITIVE_INT,
  clip_threshold: POSITIVE,
  grad_noise: NON_NEGATIVE,
  grad_noise_gamma: NON_NEGATIVE,
  // Wave 2
  beta: DECAY,
  // Muon's iteration count is a loop unrolled into the graph: a small integer.
  ns_steps: { ok: (x) => Number.isInteger(x) && x >= 1 && x <= 20, text: 'an integer in [1, 20]' },
  adam_b1: DECAY,
  adam_b2: DECAY,
  adam_lr: NON_NEGATIVE,
  // Prodigy divides by d0.
  d0: POSITIVE,
  d_coef: NON_NEGATIVE,
  warmup: NON_NEGATIVE_INT,
  weight_lr_power: NON_NEGATIVE,
};
/** Where one call's argument means something else than the table above. */
const RANGE_OVERRIDES: Readonly<Record<string, Readonly<Record<string, Range>>>> = {
  // AdEMAMix's alpha is the slow EMA's weight (2.0 by default), not a decay.
  ademamix: { alpha: NON_NEGATIVE },
  // Sophia's gamma scales the curvature (γ·h), it is no decay rate.
  sophia: { gamma: NON_NEGATIVE },
  // Shampoo's preconditioners start at eps·I: they must be positive definite for their inverse roots.
  shampoo: { eps: POSITIVE },
  lookahead: { k: POSITIVE_INT, alpha: UNIT },
  // SAM's rho is a radius, not adadelta's decay; ASAM uses values above 1.
  sam: { rho: NON_NEGATIVE },
  grad_noise: { eta: NON_NEGATIVE, gamma: NON_NEGATIVE },
};

/** The range of argument `arg` of call `call` (an optimizer, lookahead, sam or grad_noise); undefined: any finite number. */
export function rangeOf(call: string, arg: string): Range | undefined {
  return RANGE_OVERRIDES[call]?.[arg] ?? RANGES[arg];
}

// ---------------------------------------------------------------------------
// Runtime scalars

const ADAM_SCALARS = [
  'lr',
  'b1',
  'b2',
  'one_minus_b1',
  'one_minus_b2',
  'eps',
  'weight_decay',
  'inv_bc1',
  'rsqrt_bc2',
] as const;

/**
 * The runtime scalars each optimizer's update reads, without the `@` of their
 * graph input names (every one is read, whatever the structural flags).
 * Common ones: `inv_bc1` = 1/(1 − b1^t), `inv_bc2` = 1/(1 − b2^t),
 * `rsqrt_bc2` = 1/sqrt(1 − b2^t) (the kernel form of §8), `bc_c` =
 * sqrt(1 − b2^t)/(1 − b1^t) (eps form (C)); `one_minus_*` are computed in
 * float64 because `1 − f32(0.999)` is off by 1.3e-5 relative (§1). The
 * `<optimizer>_*` ones are that optimizer's per-step values (host-scalars.ts).
 */
export const OPTIMIZER_SCALARS: Readonly<Record<SupportedOptimizer, readonly string[]>> = {
  sgd: ['lr', 'weight_decay'],
  momentum: ['lr', 'momentum', 'dampening_scale', 'weight_decay'],
  adagrad: ['lr', 'lr_decay_scale', 'eps', 'initial_accumulator', 'weight_decay'],
  rmsprop: ['lr', 'alpha', 'one_minus_alpha', 'eps', 'momentum', 'weight_decay'],
  adadelta: ['lr', 'rho', 'one_minus_rho', 'eps', 'weight_decay'],
  adam: ADAM_SCALARS,
  adamw: ADAM_SCALARS,
  adamax: ['lr', 'b1', 'b2', 'one_minus_b1', 'eps', 'weight_decay', 'inv_bc1'],
  nadam: [...ADAM_SCALARS.filter((s) => s !== 'inv_bc1'), 'nadam_grad', 'nadam_mom'],
  radam: [...ADAM_SCALARS.filter((s) => s !== 'rsqrt_bc2'), 'radam_rect', 'radam_scale'],
  adabelief: [...ADAM_SCALARS, 'eps_root'],
  lion: ['lr', 'b1', 'b2', 'one_minus_b1', 'one_minus_b2', 'weight_decay'],
  lamb: ADAM_SCALARS,
  lars: ['lr', 'momentum', 'trust_coefficient', 'eps', 'weight_decay'],
  adan: [
    'lr',
    'b1',
    'b2',
    'b3',
    'one_minus_b1',
    'one_minus_b2',
    'one_minus_b3',
    'eps',
    'inv_bc1',
    'inv_bc2',
    'rsqrt_bc3',
    'adan_diff',
    'adan_decay',
  ],
  ademamix: [...ADAM_SCALARS, 'b3', 'one_minus_b3', 'alpha'],
  adopt: ['lr', 'eps', 'adopt_b1', 'adopt_one_minus_b1', 'adopt_b2', 'adopt_one_minus_b2', 'adopt_clip'],
  grams: ADAM_SCALARS,
  madgrad: ['lr', 'eps', 'momentum', 'one_minus_momentum', 'weight_decay', 'madgrad_sqrt_t', 'madgrad_first'],
  adabound: [
    'lr',
    'b1',
    'b2',
    'one_minus_b1',
    'one_minus_b2',
    'eps',
    'weight_decay',
    'bc_c',
    'adabound_lower',
    'adabound_upper',
  ],
  diffgrad: ['lr', 'b1', 'b2', 'one_minus_b1', 'one_minus_b2', 'eps', 'weight_decay', 'bc_c'],
  novograd: ['lr', 'b1', 'eps', 'weight_decay', 'novograd_b2', 'novograd_one_minus_b2'],
  adahessian: [...ADAM_SCALARS, 'hessian_power'],
  sophia: [
    'lr',
    'b1',
    'b2',
    'one_minus_b1',
    'one_minus_b2',
    'eps',
    'weight_decay',
    'inv_bc1',
    'gamma',
    'clip_threshold',
  ],
  // U = muon_m·B + muon_g·g (nesterov or not, bias-corrected); the Adam branch the same with adam_m, adam_g.
  muon: [
    'lr',
    'beta',
    'one_minus_beta',
    'muon_m',
    'muon_g',
    'eps',
    'weight_decay',
    'adam_lr',
    'adam_b1',
    'adam_one_minus_b1',
    'adam_b2',
    'adam_one_minus_b2',
    'adam_m',
    'adam_g',
    'adam_rsqrt_bc2',
  ],
  // lr reaches the step only as dlr = d·prodigy_lr_bc; s += (d²/d0)·prodigy_s_coef·g; the first step reads θ for θ0 and d0 for d.
  prodigy: [
    'b1',
    'one_minus_b1',
    'b2',
    'one_minus_b2',
    'b3',
    'eps',
    'weight_decay',
    'd0',
    'd_coef',
    'prodigy_lr_bc',
    'prodigy_s_coef',
    'prodigy_first',
  ],
  // lr: the base optimizer's (schedule and warmup at t − 1); sf_c the averaging weight c_t.
  schedule_free_adamw: [
    'lr',
    'b1',
    'one_minus_b1',
    'b2',
    'one_minus_b2',
    'eps',
    'weight_decay',
    'rsqrt_bc2',
    'sf_c',
    'sf_one_minus_c',
    'sf_first',
  ],
  // shampoo_first: 1 at t = 1, where L, R and H start from eps·I.
  shampoo: ['lr', 'eps', 'shampoo_first'],
};

/**
 * Whole-model optimizer state (f32[] values, not one per param), stored as
 * `<optimizer>.<name>`: Prodigy's step-size estimate d and its numerator.
 */
export const GLOBAL_STATE: Readonly<Partial<Record<SupportedOptimizer, readonly string[]>>> = {
  prodigy: ['d', 'numerator'],
};

/** Whether `name` (with shape `shape`) is a whole-model state tensor of some optimizer. */
export function isGlobalState(name: string, shape: readonly unknown[]): boolean {
  const dot = name.indexOf('.');
  const opt = name.slice(0, dot);
  return (
    dot > 0 &&
    shape.length === 0 &&
    isSupportedOptimizer(opt) &&
    (GLOBAL_STATE[opt]?.includes(name.slice(dot + 1)) ?? false)
  );
}

/** The scalars of the modifiers (after the optimizer's, in this order). */
export const MODIFIER_SCALARS = {
  lookahead: ['lookahead_alpha', 'lookahead_sync', 'lookahead_first'],
  ema: ['ema_decay', 'one_minus_ema_decay'],
  grad_noise: ['noise_std'],
  sam: ['sam_rho'],
} as const;

/** The scalar the clip threshold is passed in (global_norm and value alike). */
export const CLIP_SCALAR = 'clip';

/** The graph input name of a scalar. */
export const scalarInput = (name: string): string => `@${name}`;
