// Learning-rate schedules (optimizers.md §33, optax forms): their names and
// arguments with defaults, and their value at each step. The schedule's
// peak is the optimizer's `lr`; it is evaluated at index n = t − 1, so the
// first update uses index 0 (§1).

import type { HyperTable, HyperValue } from './spec.js';

/** A schedule line: its name and the arguments written in the source. */
export interface ScheduleConfig {
  readonly name: string;
  readonly args: Readonly<Record<string, HyperValue>>;
}

/** Each schedule's arguments with defaults ('required': must be given; undefined default: off). */
export const SCHEDULE_ARGS: Readonly<Record<string, HyperTable>> = {
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
