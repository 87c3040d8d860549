// The per-step scalars of a training step, computed on the host in float64
// (optimizers.md §1, §33; ANCHORS.md "Bias corrections and schedules").
//
// The compiled step graph reads every hyperparameter and every per-step value
// (scheduled learning rate, bias corrections, first-step and sync flags) from
// scalar inputs named `@lr`, `@b1`, ...; nothing of the kind is baked into a
// kernel, so changing a hyperparameter between steps needs no recompile. This
// file says what those inputs hold at step t = 1, 2, 3, ..., each a function
// of t and the hyperparameters alone (a resumed run continues bit for bit).
// It must run unchanged in Node and in browsers: no imports from the
// compiler, no `node:` modules.

export type HyperValue = number | boolean;

/**
 * An optimizer line of a train block: its name and the arguments written in
 * the source (modifiers `cautious`, `ema` among them). For `lookahead`,
 * `hyper` holds `k` and `alpha` and `inner` the wrapped optimizer.
 */
export interface OptimizerConfig {
  readonly name: string;
  readonly hyper: Readonly<Record<string, HyperValue>>;
  readonly inner?: OptimizerConfig;
}

/** A schedule line: its name and the arguments written in the source. */
export interface ScheduleConfig {
  readonly name: string;
  readonly args: Readonly<Record<string, HyperValue>>;
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
] as const;
export type SupportedOptimizer = (typeof SUPPORTED_OPTIMIZERS)[number];

/** 'required': a number the source must give. */
type Default = number | boolean | 'required';

/** optax noisy_sgd's gamma (§34): the default of `grad_noise_gamma`. */
const GRAD_NOISE_GAMMA_DEFAULT = 0.55;

const ADAM_LIKE = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8, weight_decay: 0 } as const;

/** Kiln's canonical hyperparameters and defaults (optimizers.md, "Kiln's canonical forms"). */
export const OPTIMIZER_DEFAULTS: Readonly<Record<SupportedOptimizer, Readonly<Record<string, Default>>>> = {
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
};

/**
 * Modifiers any optimizer accepts (§22, §34), written among its arguments.
 * `ema` has no default: absent means off, `ema = d` keeps an EMA with decay d.
 * `grad_noise = eta` turns on annealed gradient noise (§34) with
 * `grad_noise_gamma` (default 0.55); absent means off. The two are not
 * optimizer hyperparameters: buildTrainStep and hostScalars split them off
 * into a GradNoiseConfig (splitGradNoise).
 */
export const MODIFIER_DEFAULTS: Readonly<Record<string, Default | undefined>> = {
  cautious: false,
  ema: undefined,
  grad_noise: undefined,
  grad_noise_gamma: GRAD_NOISE_GAMMA_DEFAULT,
};

/**
 * The boolean hyperparameters: they choose the graph's shape (state tensors,
 * masking), so they are fixed at compile time; a runtime changing one needs a
 * recompile. Every numeric one is a runtime scalar (`ema`'s decay too, though
 * whether there is an EMA at all is fixed).
 */
export const STRUCTURAL_HYPERPARAMETERS: readonly string[] = ['nesterov', 'centered', 'amsgrad', 'cautious'];

/** `lookahead(inner, k, alpha)` (§21). */
export const LOOKAHEAD_DEFAULTS: Readonly<Record<string, Default>> = { k: 5, alpha: 0.5 };

/** `grad_noise(eta, gamma)` (§34, optax noisy_sgd defaults). */
export const GRAD_NOISE_DEFAULTS: Readonly<Record<string, Default>> = { eta: 0.01, gamma: 0.55 };

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
 * `<optimizer>_*` ones are that optimizer's per-step values (see hostScalars).
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
};

/** The scalars of the modifiers (after the optimizer's, in this order). */
export const MODIFIER_SCALARS = {
  lookahead: ['lookahead_alpha', 'lookahead_sync', 'lookahead_first'],
  ema: ['ema_decay', 'one_minus_ema_decay'],
  grad_noise: ['noise_std'],
} as const;

/** The scalar the clip threshold is passed in (global_norm and value alike). */
export const CLIP_SCALAR = 'clip';

/** The graph input name of a scalar. */
export const scalarInput = (name: string): string => `@${name}`;

export function isSupportedOptimizer(name: string): name is SupportedOptimizer {
  return (SUPPORTED_OPTIMIZERS as readonly string[]).includes(name);
}

/** Throws the one message every layer uses for an optimizer Kiln cannot run. */
export function unsupportedOptimizer(name: string): never {
  throw new Error(`optimizer '${name}' is not supported yet (supported: ${SUPPORTED_OPTIMIZERS.join(', ')})`);
}

// ---------------------------------------------------------------------------
// Validation

/** An optimizer call as the checker holds it (dsl/check.ts OptimizerSpec): only the written arguments. */
export interface OptimizerSpecLike {
  readonly name: string;
  readonly args: Readonly<Record<string, HyperValue>>;
  readonly inner?: OptimizerSpecLike;
}

/**
 * One problem with an optimizer call. `arg`: the argument at fault (point at
 * its value), absent for the call as a whole; `inner`: it is in the optimizer
 * lookahead wraps, not in the lookahead call.
 */
export interface OptimizerIssue {
  readonly arg?: string;
  readonly inner?: boolean;
  readonly message: string;
}

interface Range {
  readonly ok: (x: number) => boolean;
  readonly text: string;
}
const NON_NEGATIVE: Range = { ok: (x) => Number.isFinite(x) && x >= 0, text: 'a finite number >= 0' };
const DECAY: Range = { ok: (x) => x >= 0 && x < 1, text: 'in [0, 1)' };
const UNIT: Range = { ok: (x) => x >= 0 && x <= 1, text: 'in [0, 1]' };
const OPEN_UNIT: Range = { ok: (x) => x > 0 && x < 1, text: 'in (0, 1)' };
const POSITIVE_INT: Range = { ok: (x) => Number.isInteger(x) && x >= 1, text: 'an integer >= 1' };

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
  grad_noise: NON_NEGATIVE,
  grad_noise_gamma: NON_NEGATIVE,
};
/** Where one optimizer's argument means something else than the table above. */
const RANGE_OVERRIDES: Readonly<Record<string, Readonly<Record<string, Range>>>> = {
  // AdEMAMix's alpha is the slow EMA's weight (2.0 by default), not a decay.
  ademamix: { alpha: NON_NEGATIVE },
  lookahead: { k: POSITIVE_INT, alpha: UNIT },
  grad_noise: { eta: NON_NEGATIVE, gamma: NON_NEGATIVE },
};

const kindOf = (d: Default | undefined): 'bool' | 'number' => (typeof d === 'boolean' ? 'bool' : 'number');

/** Checks one call's arguments against its table (`name` for the messages). */
function checkArgs(
  name: string,
  args: Readonly<Record<string, HyperValue>>,
  table: Readonly<Record<string, Default | undefined>>,
  inner: boolean,
): OptimizerIssue[] {
  const issues: OptimizerIssue[] = [];
  const at = (arg: string | undefined, message: string) =>
    issues.push({ ...(arg !== undefined && { arg }), ...(inner && { inner }), message });
  for (const [k, v] of Object.entries(args)) {
    if (!Object.hasOwn(table, k)) {
      at(k, `unknown hyperparameter '${k}' for ${name} (expected: ${Object.keys(table).join(', ')})`);
      continue;
    }
    const kind = kindOf(table[k]);
    if (kind === 'bool' ? typeof v !== 'boolean' : typeof v !== 'number') {
      at(k, `hyperparameter '${k}' of ${name} must be ${kind === 'bool' ? 'true or false' : 'a number'}`);
      continue;
    }
    const range = RANGE_OVERRIDES[name]?.[k] ?? RANGES[k];
    if (typeof v === 'number' && range && !range.ok(v))
      at(k, `hyperparameter '${k}' of ${name} must be ${range.text}, got ${v}`);
    else if (typeof v === 'number' && !Number.isFinite(v))
      at(k, `hyperparameter '${k}' of ${name} must be a finite number, got ${v}`);
  }
  for (const [k, d] of Object.entries(table))
    if (d === 'required' && !Object.hasOwn(args, k)) at(undefined, `${name} needs ${k}, as in ${name}(${k} = 0.01)`);
  return issues;
}

/** Constraints between arguments, on the defaults-filled values. */
function crossChecks(name: string, h: Readonly<Record<string, HyperValue>>, inner: boolean): OptimizerIssue[] {
  const issues: OptimizerIssue[] = [];
  const at = (arg: string, message: string) => issues.push({ arg, ...(inner && { inner }), message });
  // PyTorch SGD: "Nesterov momentum requires a momentum and zero dampening".
  if (name === 'momentum' && h['nesterov'] === true) {
    if (h['dampening'] !== 0) at('nesterov', 'nesterov momentum needs dampening = 0');
    if (h['momentum'] === 0) at('nesterov', 'nesterov momentum needs momentum > 0');
  }
  if (h['grad_noise_gamma'] !== undefined && h['grad_noise'] === undefined)
    at('grad_noise_gamma', 'grad_noise_gamma needs grad_noise (the noise scale eta), as in grad_noise = 0.01');
  return issues;
}

/**
 * Every problem with an optimizer call, for the checker to report at the
 * argument (or the call): unknown optimizer, unknown or ill-typed argument,
 * missing required one, value out of range, inconsistent combination.
 * Empty when the call is valid. On a call the checker already accepted
 * (names, kinds and required arguments checked), only range and combination
 * issues remain, so nothing is reported twice.
 */
export function validateOptimizer(spec: OptimizerSpecLike): OptimizerIssue[] {
  const unknown = (name: string, inner: boolean): OptimizerIssue => ({
    ...(inner && { inner }),
    message: `optimizer '${name}' is not supported yet (supported: ${SUPPORTED_OPTIMIZERS.join(', ')})`,
  });
  const base = (s: OptimizerSpecLike, inner: boolean): OptimizerIssue[] => {
    if (!isSupportedOptimizer(s.name)) return [unknown(s.name, inner)];
    const issues = checkArgs(s.name, s.args, { ...OPTIMIZER_DEFAULTS[s.name], ...MODIFIER_DEFAULTS }, inner);
    if (issues.length > 0) return issues;
    return crossChecks(s.name, { ...defaultsOf(OPTIMIZER_DEFAULTS[s.name]), ...s.args }, inner);
  };
  if (spec.name !== 'lookahead') {
    if (spec.inner) return [{ message: `only lookahead wraps an optimizer, not ${spec.name}` }];
    return base(spec, false);
  }
  if (!spec.inner)
    return [{ message: 'lookahead wraps one optimizer: lookahead(adam(lr = 1e-3), k = 5, alpha = 0.5)' }];
  if (spec.inner.name === 'lookahead') return [{ inner: true, message: 'lookahead cannot wrap another lookahead' }];
  return [...checkArgs('lookahead', spec.args, LOOKAHEAD_DEFAULTS, false), ...base(spec.inner, true)];
}

function defaultsOf(table: Readonly<Record<string, Default | undefined>>): Record<string, HyperValue> {
  const out: Record<string, HyperValue> = {};
  for (const [k, d] of Object.entries(table)) if (d !== undefined && d !== 'required') out[k] = d;
  return out;
}

const toSpec = (opt: OptimizerConfig): OptimizerSpecLike => ({
  name: opt.name,
  args: opt.hyper,
  ...(opt.inner && { inner: toSpec(opt.inner) }),
});

/**
 * `opt` with every default filled in (recursively for lookahead's inner
 * optimizer; modifiers only when written). Throws the first problem
 * validateOptimizer finds.
 */
export function resolveOptimizer(opt: OptimizerConfig): OptimizerConfig {
  const issue = validateOptimizer(toSpec(opt))[0];
  if (issue) throw new Error(issue.message);
  if (opt.inner)
    return {
      name: opt.name,
      hyper: { ...defaultsOf(LOOKAHEAD_DEFAULTS), ...opt.hyper },
      inner: resolveOptimizer(opt.inner),
    };
  const table = OPTIMIZER_DEFAULTS[opt.name as SupportedOptimizer];
  // Keep the table's order, then the modifiers as written.
  const hyper: Record<string, HyperValue> = {};
  for (const [k, d] of Object.entries(table)) {
    const v = opt.hyper[k] ?? d;
    if (v !== 'required') hyper[k] = v;
  }
  for (const k of Object.keys(MODIFIER_DEFAULTS)) {
    const v = opt.hyper[k];
    if (v !== undefined) hyper[k] = v;
  }
  return { name: opt.name, hyper };
}

/**
 * The hyperparameters of `opt` with defaults filled in (for lookahead: its
 * own, `k` and `alpha`). Throws on an unsupported optimizer, an unknown or
 * ill-typed argument, a missing required one, or a value out of its range.
 */
export function resolveHyperparameters(opt: OptimizerConfig): Record<string, HyperValue> {
  return { ...resolveOptimizer(opt).hyper };
}

/** The arguments of grad_noise with defaults, checked. */
export function resolveGradNoise(args: Readonly<Record<string, HyperValue>>): GradNoiseConfig {
  const issue = checkArgs('grad_noise', args, GRAD_NOISE_DEFAULTS, false)[0];
  if (issue) throw new Error(issue.message);
  const h = { ...defaultsOf(GRAD_NOISE_DEFAULTS), ...args };
  return { eta: h['eta'] as number, gamma: h['gamma'] as number };
}

/**
 * `opt` without its `grad_noise` / `grad_noise_gamma` arguments (on the base
 * optimizer: lookahead's inner one, or `opt` itself), and the gradient noise
 * they ask for (undefined when `grad_noise` is absent). Checks their ranges.
 */
export function splitGradNoise(opt: OptimizerConfig): { optimizer: OptimizerConfig; gradNoise?: GradNoiseConfig } {
  const base = opt.inner ?? opt;
  const { grad_noise: eta, grad_noise_gamma: gamma, ...hyper } = base.hyper;
  if (eta === undefined && gamma === undefined) return { optimizer: opt };
  const issue = validateOptimizer(toSpec(opt))[0];
  if (issue) throw new Error(issue.message);
  const stripped = { ...base, hyper };
  return {
    optimizer: opt.inner ? { ...opt, inner: stripped } : stripped,
    gradNoise: { eta: eta as number, gamma: (gamma ?? GRAD_NOISE_GAMMA_DEFAULT) as number },
  };
}

/** The base optimizer of `opt` (lookahead's inner one, or `opt` itself), defaults filled. */
export function baseOptimizer(opt: OptimizerConfig): { name: SupportedOptimizer; hyper: Record<string, HyperValue> } {
  const r = resolveOptimizer(opt);
  const base = r.inner ?? r;
  return { name: base.name as SupportedOptimizer, hyper: { ...base.hyper } };
}

/**
 * The scalar inputs of the step graph for `opt`, without `@`, in graph order:
 * the base optimizer's, then lookahead's, then ema's, then grad_noise's when
 * `noise` (the clip threshold comes after, from the train block).
 */
export function scalarNames(opt: OptimizerConfig, noise?: GradNoiseConfig): string[] {
  const split = splitGradNoise(opt);
  noise ??= split.gradNoise;
  const r = resolveOptimizer(split.optimizer);
  const base = baseOptimizer(r);
  return [
    ...OPTIMIZER_SCALARS[base.name],
    ...(r.inner ? MODIFIER_SCALARS.lookahead : []),
    ...(base.hyper['ema'] !== undefined ? MODIFIER_SCALARS.ema : []),
    ...(noise ? MODIFIER_SCALARS.grad_noise : []),
  ];
}

// ---------------------------------------------------------------------------
// Schedules (§33, optax forms). The schedule's peak is the optimizer's `lr`;
// it is evaluated at index n = t − 1, so the first update uses index 0 (§1).

/** Each schedule's arguments with defaults ('required': must be given; undefined default: off). */
export const SCHEDULE_ARGS: Readonly<Record<string, Readonly<Record<string, Default | undefined>>>> = {
  constant: {},
  // optax warmup_constant_schedule(init, peak = lr, warmup)
  linear_warmup: { warmup: 'required', init: 0 },
  // optax cosine_decay_schedule(lr, decay_steps = steps, alpha, exponent)
  cosine: { steps: 'required', alpha: 0, exponent: 1 },
  // optax warmup_cosine_decay_schedule(init, peak = lr, warmup, decay_steps = steps, end, exponent)
  warmup_cosine: { warmup: 'required', steps: 'required', init: 0, end: 0, exponent: 1 },
  // optax exponential_decay(lr, transition_steps = steps, decay_rate = rate, transition_begin = begin, staircase, end_value = end)
  exponential: { rate: 'required', steps: 1, begin: 0, staircase: false, end: undefined },
};

function scheduleArgs(s: ScheduleConfig): Record<string, HyperValue | undefined> {
  const table = SCHEDULE_ARGS[s.name];
  if (!table) throw new Error(`unknown schedule '${s.name}' (expected: ${Object.keys(SCHEDULE_ARGS).join(', ')})`);
  const out: Record<string, HyperValue | undefined> = {};
  for (const [k, v] of Object.entries(s.args)) {
    if (!Object.hasOwn(table, k)) {
      const expected = Object.keys(table);
      throw new Error(
        `unknown argument '${k}' for schedule ${s.name}${expected.length > 0 ? ` (expected: ${expected.join(', ')})` : ' (it takes none)'}`,
      );
    }
    const d = table[k];
    if (typeof d === 'boolean' ? typeof v !== 'boolean' : typeof v !== 'number' || !Number.isFinite(v))
      throw new Error(
        `argument '${k}' of schedule ${s.name} must be ${typeof d === 'boolean' ? 'true or false' : 'a finite number'}`,
      );
    out[k] = v;
  }
  for (const [k, d] of Object.entries(table)) {
    if (Object.hasOwn(out, k)) continue;
    if (d === 'required') throw new Error(`schedule ${s.name} needs ${k}, as in ${s.name}(${k} = 100)`);
    out[k] = d;
  }
  return out;
}

/** optax cosine_decay_schedule(init, T, alpha, p) at n (clamped at T, unlike PyTorch: §36.19). */
function cosineDecay(init: number, T: number, alpha: number, p: number, n: number): number {
  const cos = 0.5 * (1 + Math.cos((Math.PI * Math.min(n, T)) / T));
  return init * ((1 - alpha) * cos ** p + alpha);
}

/**
 * The learning rate at schedule index n = t − 1 for base (peak) rate `lr`.
 * No schedule is `constant`.
 */
export function scheduleValue(schedule: ScheduleConfig | undefined, lr: number, n: number): number {
  if (!schedule) return lr;
  const a = scheduleArgs(schedule);
  const num = (k: string) => a[k] as number;
  const positive = (k: string) => {
    if (!(num(k) > 0)) throw new Error(`argument '${k}' of schedule ${schedule.name} must be positive, got ${num(k)}`);
    return num(k);
  };
  const nonNegative = (k: string) => {
    if (!(num(k) >= 0)) throw new Error(`argument '${k}' of schedule ${schedule.name} must be >= 0, got ${num(k)}`);
    return num(k);
  };
  switch (schedule.name) {
    case 'constant':
      return lr;
    case 'linear_warmup': {
      const W = nonNegative('warmup');
      const I = num('init');
      // warmup 0 means no warmup (optax would stay at init forever).
      if (W === 0) return lr;
      return I + ((lr - I) * Math.min(Math.max(n, 0), W)) / W;
    }
    case 'cosine':
      return cosineDecay(lr, positive('steps'), num('alpha'), num('exponent'), n);
    case 'warmup_cosine': {
      const W = nonNegative('warmup');
      const D = positive('steps');
      if (!(D > W))
        throw new Error(`schedule warmup_cosine needs steps > warmup (steps include the warmup), got ${D} <= ${W}`);
      const I = num('init');
      if (n < W) return I + ((lr - I) * n) / W;
      // α = end/peak; a zero peak makes every value 0 (avoid 0/0).
      if (lr === 0) return 0;
      return cosineDecay(lr, D - W, num('end') / lr, num('exponent'), n - W);
    }
    case 'exponential': {
      const r = positive('rate');
      const T = positive('steps');
      const B = num('begin');
      const staircase = a['staircase'] as boolean;
      const end = a['end'] as number | undefined;
      const k = n - B;
      let v = k <= 0 ? lr : lr * r ** (staircase ? Math.floor(k / T) : k / T);
      if (end !== undefined) v = r < 1 ? Math.max(v, end) : r > 1 ? Math.min(v, end) : v;
      return v;
    }
    default:
      throw new Error(`unknown schedule '${schedule.name}'`);
  }
}

// ---------------------------------------------------------------------------
// Per-step values

/** Running products of NAdam's μ_i by (b1, ψ), extended in step order so every t gets the same bits. */
const muProducts = new Map<string, { readonly t: number; readonly p: number }>();

/**
 * PyTorch NAdam's μ_t = b1·(1 − 0.5·0.96^(t·ψ)) and P_t = μ_1·…·μ_t (§11).
 * P_t is a function of t and the hyperparameters alone: the product is
 * always formed from i = 1 upward (memoised, so consecutive steps cost one
 * multiply), so a resumed run computes exactly the bits the original did.
 */
export function nadamMu(b1: number, psi: number, t: number): { mu: number; muNext: number; product: number } {
  const mu = (i: number) => b1 * (1 - 0.5 * 0.96 ** (i * psi));
  const key = `${b1}/${psi}`;
  const cached = muProducts.get(key);
  const start = cached && cached.t <= t ? cached : { t: 0, p: 1 };
  let p = start.p;
  for (let i = start.t + 1; i <= t; i++) p *= mu(i);
  if (!cached || cached.t <= t) {
    if (muProducts.size >= 64) muProducts.clear();
    muProducts.set(key, { t, p });
  }
  return { mu: mu(t), muNext: mu(t + 1), product: p };
}

/** AdEMAMix's warmups (official ademamix.py; §19): α_t linear from 0, b3_t by half-life from b1. */
export function ademamixWarmup(h: Readonly<Record<string, HyperValue>>, t: number): { alpha: number; b3: number } {
  const num = (k: string) => h[k] as number;
  const [alpha, b1, b3, Ta, Tb] = [num('alpha'), num('b1'), num('b3'), num('alpha_warmup'), num('b3_warmup')];
  const f = (beta: number) => Math.log(0.5) / Math.log(beta + 1e-8) - 1;
  const fInv = (x: number) => 0.5 ** (1 / (x + 1));
  const a = t / Tb;
  return {
    alpha: t < Ta ? (t / Ta) * alpha : alpha,
    b3: t < Tb ? fInv((1 - a) * f(b1) + a * f(b3)) : b3,
  };
}

/** The optimizer-specific scalar values at step t (a superset of what the optimizer reads). */
function optimizerValues(
  name: SupportedOptimizer,
  h: Readonly<Record<string, HyperValue>>,
  lr: number,
  t: number,
): Record<string, number> {
  const v: Record<string, number> = { lr };
  for (const [k, x] of Object.entries(h)) if (typeof x === 'number' && k !== 'lr') v[k] = x;
  const num = (k: string) => h[k] as number;
  const first = t === 1;
  for (const k of ['b1', 'b2', 'b3', 'alpha', 'rho', 'momentum'])
    if (typeof h[k] === 'number') v[`one_minus_${k}`] = 1 - num(k);
  if (typeof h['b1'] === 'number') v['inv_bc1'] = 1 / (1 - num('b1') ** t);
  if (typeof h['b2'] === 'number') {
    const bc2 = 1 - num('b2') ** t;
    v['inv_bc2'] = 1 / bc2;
    v['rsqrt_bc2'] = 1 / Math.sqrt(bc2);
    if (typeof h['b1'] === 'number') v['bc_c'] = Math.sqrt(bc2) / (1 - num('b1') ** t);
  }
  switch (name) {
    case 'momentum':
      // PyTorch copies g into the buffer on the first step: no dampening then (§3).
      v['dampening_scale'] = first ? 1 : 1 - num('dampening');
      break;
    case 'adagrad':
      v['lr_decay_scale'] = 1 / (1 + (t - 1) * num('lr_decay'));
      break;
    case 'nadam': {
      const { mu, muNext, product } = nadamMu(num('b1'), num('momentum_decay'), t);
      v['nadam_grad'] = (1 - mu) / (1 - product);
      v['nadam_mom'] = muNext / (1 - product * muNext);
      break;
    }
    case 'radam': {
      const b2 = num('b2');
      const bc2 = 1 - b2 ** t;
      const rhoInf = 2 / (1 - b2) - 1;
      const rho = rhoInf - (2 * t * b2 ** t) / bc2;
      // PyTorch's switch: rectify when ρ_t > 5 (optax: >= 5).
      const rect = rho > 5;
      v['radam_rect'] = rect ? 1 : 0;
      v['radam_scale'] = rect
        ? Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho)) * Math.sqrt(bc2)
        : 0;
      break;
    }
    case 'adan':
      v['rsqrt_bc3'] = 1 / Math.sqrt(1 - num('b3') ** t);
      v['adan_diff'] = first ? 0 : 1;
      // Proximal decay θ/(1 + lr·λ) = θ − θ·lr·λ/(1 + lr·λ): the small factor keeps its precision in f32.
      v['adan_decay'] = (lr * num('weight_decay')) / (1 + lr * num('weight_decay'));
      break;
    case 'ademamix': {
      const w = ademamixWarmup(h, t);
      v['alpha'] = w.alpha;
      v['b3'] = w.b3;
      v['one_minus_b3'] = 1 - w.b3;
      break;
    }
    case 'adopt':
      // optax: the first call only sets v = g² (b2 → 0) and keeps m (b1 → 1); clip at count = t − 1.
      v['adopt_b1'] = first ? 1 : num('b1');
      v['adopt_one_minus_b1'] = first ? 0 : 1 - num('b1');
      v['adopt_b2'] = first ? 0 : num('b2');
      v['adopt_one_minus_b2'] = first ? 1 : 1 - num('b2');
      v['adopt_clip'] = (t - 1) ** 0.25;
      break;
    case 'madgrad':
      v['madgrad_sqrt_t'] = Math.sqrt(t);
      v['madgrad_first'] = first ? 1 : 0;
      break;
    case 'adabound': {
      // The final lr follows the schedule: final_lr · lr_t / lr (official adabound.py; base lr 0 freezes).
      const base = num('lr');
      const fl = base > 0 ? (num('final_lr') * lr) / base : 0;
      const gamma = num('gamma');
      v['adabound_lower'] = fl * (1 - 1 / (gamma * t + 1));
      v['adabound_upper'] = fl * (1 + 1 / (gamma * t));
      break;
    }
    case 'novograd':
      // optax: ν starts as ‖g‖² on the first step.
      v['novograd_b2'] = first ? 0 : num('b2');
      v['novograd_one_minus_b2'] = first ? 1 : 1 - num('b2');
      break;
    default:
      break;
  }
  return v;
}

/**
 * The value of every scalar input of the step graph at step `t` (1 for the
 * first update), keyed by input name (`@lr`, ...): the optimizer's scalars
 * (with `@lr` after the schedule), the modifiers', `@noise_std` with grad
 * noise (`noise`, or the optimizer's `grad_noise` arguments), and `@clip`
 * when the train block clips. Exactly the inputs scalarNames lists, plus
 * `@clip`.
 */
export function hostScalars(
  opt: OptimizerConfig,
  schedule: ScheduleConfig | undefined,
  t: number,
  clip?: ClipConfig,
  noise?: GradNoiseConfig,
): Record<string, number> {
  if (!Number.isInteger(t) || t < 1) throw new Error(`step must be an integer >= 1 (1 for the first update), got ${t}`);
  // `grad_noise = eta` written among the optimizer's arguments (the explicit `noise` wins).
  const split = splitGradNoise(opt);
  noise ??= split.gradNoise;
  const r = resolveOptimizer(split.optimizer);
  const base = baseOptimizer(r);
  const lr = scheduleValue(schedule, base.hyper['lr'] as number, t - 1);
  const values = optimizerValues(base.name, base.hyper, lr, t);
  if (r.inner) {
    const k = r.hyper['k'] as number;
    values['lookahead_alpha'] = r.hyper['alpha'] as number;
    values['lookahead_sync'] = t % k === 0 ? 1 : 0;
    values['lookahead_first'] = t === 1 ? 1 : 0;
  }
  const ema = base.hyper['ema'];
  if (typeof ema === 'number') {
    // PyTorch AveragedModel copies θ on its first update, then lerps.
    values['ema_decay'] = t === 1 ? 0 : ema;
    values['one_minus_ema_decay'] = t === 1 ? 1 : 1 - ema;
  }
  if (noise) {
    const { eta, gamma } = resolveGradNoise({ eta: noise.eta, gamma: noise.gamma });
    values['noise_std'] = Math.sqrt(eta / t ** gamma);
  }
  const out: Record<string, number> = {};
  for (const s of scalarNames(r, noise)) {
    const v = values[s];
    if (v === undefined) throw new Error(`no host value for scalar '${s}' of ${base.name}`);
    out[scalarInput(s)] = v;
  }
  if (clip) {
    if (!(clip.max > 0) || !Number.isFinite(clip.max))
      throw new Error(`the clip threshold must be a positive number, got ${clip.max}`);
    out[scalarInput(CLIP_SCALAR)] = clip.max;
  }
  return out;
}
