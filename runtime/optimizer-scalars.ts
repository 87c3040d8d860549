// The per-step scalars of a training step, computed on the host in float64
// (optimizers.md §1, §33; ANCHORS.md "Bias corrections and schedules").
//
// The compiled step graph reads every hyperparameter and every per-step value
// (scheduled learning rate, bias corrections) from scalar inputs named `@lr`,
// `@b1`, ...; nothing of the kind is baked into a kernel, so changing `lr`
// between steps needs no recompile. This file says what those inputs hold at
// step t = 1, 2, 3, ... It must run unchanged in Node and in browsers: no
// imports from the compiler, no `node:` modules.

export type HyperValue = number | boolean;

/** An optimizer line of a train block: its name and the arguments written in the source. */
export interface OptimizerConfig {
  readonly name: string;
  readonly hyper: Readonly<Record<string, HyperValue>>;
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

export const SUPPORTED_OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;
export type SupportedOptimizer = (typeof SUPPORTED_OPTIMIZERS)[number];

/** 'required': a number the source must give. */
type Default = number | boolean | 'required';

const ADAM_DEFAULTS = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8, weight_decay: 0, amsgrad: false } as const;

/** Kiln's canonical defaults (optimizers.md, "Kiln's canonical forms"). */
export const OPTIMIZER_DEFAULTS: Readonly<Record<SupportedOptimizer, Readonly<Record<string, Default>>>> = {
  sgd: { lr: 'required', weight_decay: 0 },
  adam: ADAM_DEFAULTS,
  adamw: { ...ADAM_DEFAULTS, weight_decay: 1e-2 },
};

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
 * graph input names. `inv_bc1` = 1/(1 − b1^t) and `rsqrt_bc2` = 1/sqrt(1 − b2^t)
 * (the kernel form of §8); `one_minus_b*` are computed in float64 because
 * `1 − f32(0.999)` is off by 1.3e-5 relative (§1).
 */
export const OPTIMIZER_SCALARS: Readonly<Record<SupportedOptimizer, readonly string[]>> = {
  sgd: ['lr', 'weight_decay'],
  adam: ADAM_SCALARS,
  adamw: ADAM_SCALARS,
};

/** The scalar the clip threshold is passed in (global_norm and value alike). */
export const CLIP_SCALAR = 'clip';

/** The graph input name of a scalar. */
export const scalarInput = (name: string): string => `@${name}`;

/** Modifiers the checker accepts on any optimizer (§21, §22, §34) that have no implementation yet. */
const MODIFIERS: readonly string[] = ['cautious', 'ema'];

export function isSupportedOptimizer(name: string): name is SupportedOptimizer {
  return (SUPPORTED_OPTIMIZERS as readonly string[]).includes(name);
}

/** Throws the one message every layer uses for an optimizer Kiln cannot run yet. */
export function unsupportedOptimizer(name: string): never {
  throw new Error(`optimizer '${name}' is not supported yet (supported: ${SUPPORTED_OPTIMIZERS.join(', ')})`);
}

/**
 * The hyperparameters of `opt` with defaults filled in. Throws on an
 * unsupported optimizer, an unknown or ill-typed argument, a missing required
 * one, or a value out of its range (PyTorch's checks).
 */
export function resolveHyperparameters(opt: OptimizerConfig): Record<string, HyperValue> {
  if (!isSupportedOptimizer(opt.name)) return unsupportedOptimizer(opt.name);
  const table = OPTIMIZER_DEFAULTS[opt.name];
  const out: Record<string, HyperValue> = {};
  for (const [k, v] of Object.entries(opt.hyper)) {
    if (MODIFIERS.includes(k)) throw new Error(`optimizer modifier '${k}' is not supported yet`);
    const d = table[k];
    if (d === undefined)
      throw new Error(`unknown hyperparameter '${k}' for ${opt.name} (expected: ${Object.keys(table).join(', ')})`);
    if (typeof d === 'boolean' ? typeof v !== 'boolean' : typeof v !== 'number')
      throw new Error(
        `hyperparameter '${k}' of ${opt.name} must be ${typeof d === 'boolean' ? 'true or false' : 'a number'}`,
      );
    out[k] = v;
  }
  for (const [k, d] of Object.entries(table)) {
    if (Object.hasOwn(out, k)) continue;
    if (d === 'required') throw new Error(`${opt.name} needs ${k}, as in ${opt.name}(${k} = 0.01)`);
    out[k] = d;
  }
  const num = (k: string) => out[k] as number;
  const check = (k: string, ok: (x: number) => boolean, range: string) => {
    if (Object.hasOwn(out, k) && !ok(num(k)))
      throw new Error(`hyperparameter '${k}' of ${opt.name} must be ${range}, got ${num(k)}`);
  };
  check('lr', (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
  check('weight_decay', (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
  check('eps', (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
  check('b1', (x) => x >= 0 && x < 1, 'in [0, 1)');
  check('b2', (x) => x >= 0 && x < 1, 'in [0, 1)');
  return out;
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

/**
 * The value of every scalar input of the step graph at step `t` (1 for the
 * first update), keyed by input name (`@lr`, ...): the optimizer's scalars,
 * with `@lr` after the schedule, and `@clip` when the train block clips.
 */
export function hostScalars(
  opt: OptimizerConfig,
  schedule: ScheduleConfig | undefined,
  t: number,
  clip?: ClipConfig,
): Record<string, number> {
  if (!Number.isInteger(t) || t < 1) throw new Error(`step must be an integer >= 1 (1 for the first update), got ${t}`);
  const h = resolveHyperparameters(opt);
  const name = opt.name as SupportedOptimizer;
  const lr = scheduleValue(schedule, h['lr'] as number, t - 1);
  const values: Record<string, number> = { lr, weight_decay: h['weight_decay'] as number };
  if (name === 'adam' || name === 'adamw') {
    const b1 = h['b1'] as number;
    const b2 = h['b2'] as number;
    Object.assign(values, {
      b1,
      b2,
      one_minus_b1: 1 - b1,
      one_minus_b2: 1 - b2,
      eps: h['eps'] as number,
      inv_bc1: 1 / (1 - b1 ** t),
      rsqrt_bc2: 1 / Math.sqrt(1 - b2 ** t),
    });
  }
  const out: Record<string, number> = {};
  for (const s of OPTIMIZER_SCALARS[name]) {
    const v = values[s];
    if (v === undefined) throw new Error(`no host value for scalar '${s}' of ${name}`);
    out[scalarInput(s)] = v;
  }
  if (clip) {
    if (!(clip.max > 0) || !Number.isFinite(clip.max))
      throw new Error(`the clip threshold must be a positive number, got ${clip.max}`);
    out[scalarInput(CLIP_SCALAR)] = clip.max;
  }
  return out;
}
