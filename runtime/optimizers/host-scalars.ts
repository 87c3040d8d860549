// The per-step scalars of a training step, computed on the host in float64
// (optimizers.md §1, §33; ANCHORS.md "Bias corrections and schedules").
//
// The compiled step graph reads every hyperparameter and every per-step value
// (scheduled learning rate, bias corrections, first-step and sync flags) from
// scalar inputs named `@lr`, `@b1`, ...; nothing of the kind is baked into a
// kernel, so changing a hyperparameter between steps needs no recompile. This
// file says what those inputs hold at step t = 1, 2, 3, ..., each a function
// of t and the hyperparameters alone (a resumed run continues bit for bit).

import { baseOptimizer, resolveGradNoise, resolveOptimizer, splitGradNoise, splitSam } from './resolve.js';
import { type ScheduleConfig, scheduleValue } from './schedules.js';
import {
  type ClipConfig,
  type GradNoiseConfig,
  type HyperValue,
  type OptimizerConfig,
  type SupportedOptimizer,
  CLIP_SCALAR,
  MODIFIER_SCALARS,
  OPTIMIZER_SCALARS,
  scalarInput,
} from './spec.js';

/**
 * The scalar inputs of the step graph for `opt`, without `@`, in graph order:
 * the base optimizer's, then lookahead's, then ema's, then grad_noise's when
 * `noise`, then sam's (the clip threshold comes after, from the train block).
 */
export function scalarNames(opt: OptimizerConfig, noise?: GradNoiseConfig): string[] {
  const split = splitGradNoise(opt);
  noise ??= split.gradNoise;
  const { optimizer: r, sam } = splitSam(resolveOptimizer(split.optimizer));
  const base = baseOptimizer(r);
  return [
    ...OPTIMIZER_SCALARS[base.name],
    ...(r.inner ? MODIFIER_SCALARS.lookahead : []),
    ...(base.hyper['ema'] !== undefined ? MODIFIER_SCALARS.ema : []),
    ...(noise ? MODIFIER_SCALARS.grad_noise : []),
    ...(sam ? MODIFIER_SCALARS.sam : []),
  ];
}

/**
 * Whether step t (1 for the first) runs the refreshing step program of an
 * optimizer that refreshes a curvature estimate every k steps: (t − 1) % k
 * == 0 (optax: count % k == 0 with count = t − 1), k the current value of
 * hyperparameter `every` (of the wrapped optimizer under lookahead). Throws
 * when `opt` has no such hyperparameter or it is not an integer >= 1.
 */
export function refreshesAt(opt: OptimizerConfig, every: string, t: number): boolean {
  const base = baseOptimizer(splitGradNoise(opt).optimizer);
  const k = base.hyper[every];
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1)
    throw new Error(`${base.name}: '${every}' must be an integer >= 1, got ${String(k)}`);
  if (!Number.isSafeInteger(t) || t < 1) throw new Error(`the step number must be an integer >= 1, got ${t}`);
  return (t - 1) % k === 0;
}

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

/** Running (max lr, Σ weights) of schedule-free averaging by settings, extended in step order (as muProducts). */
const sfSums = new Map<string, { readonly t: number; readonly maxLr: number; readonly total: number }>();

/**
 * Schedule-free's averaging weight c_t = w_t/W_t (optax schedule_free, §30):
 * max_lr_t = max over i ≤ t of lr_i, w_t = max_lr_t^p, W_t = w_1 + … + w_t,
 * with lr_i the learning rate at optax's step_count i (counted from 1), and
 * 0 when W_t is 0 (optax's nan_to_num). Always summed from i = 1 upward.
 */
export function scheduleFreeWeight(lrAt: (i: number) => number, power: number, t: number, key: string): number {
  const cached = sfSums.get(key);
  const start = cached && cached.t <= t ? cached : { t: 0, maxLr: 0, total: 0 };
  let { maxLr, total } = start;
  for (let i = start.t + 1; i <= t; i++) {
    maxLr = Math.max(maxLr, lrAt(i));
    total += maxLr ** power;
  }
  if (!cached || cached.t <= t) {
    if (sfSums.size >= 64) sfSums.clear();
    sfSums.set(key, { t, maxLr, total });
  }
  const w = maxLr ** power;
  return total > 0 ? w / total : 0;
}

/** 1/(1 − β^t) and the optax nesterov split of a bias-corrected momentum: U = m·B + g·g (§29). */
function momentumCoefs(beta: number, t: number, nesterov: boolean): { m: number; g: number } {
  return nesterov
    ? { m: beta / (1 - beta ** (t + 1)), g: (1 - beta) / (1 - beta ** t) }
    : { m: 1 / (1 - beta ** t), g: 0 };
}

/** The optimizer-specific scalar values at step t (a superset of what the optimizer reads). */
function optimizerValues(
  name: SupportedOptimizer,
  h: Readonly<Record<string, HyperValue>>,
  lr: number,
  t: number,
  lrAt: (n: number) => number = () => lr,
  scheduleKey = '',
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
    case 'muon': {
      const nesterov = h['nesterov'] === true;
      const mu = momentumCoefs(num('beta'), t, nesterov);
      v['one_minus_beta'] = 1 - num('beta');
      v['muon_m'] = mu.m;
      v['muon_g'] = mu.g;
      // adam_lr follows the schedule: adam_lr · lr_t / lr (absent: lr_t itself).
      const base = num('lr');
      v['adam_lr'] = typeof h['adam_lr'] === 'number' ? (base > 0 ? (num('adam_lr') * lr) / base : 0) : lr;
      // optax muon's Adam branch is adamw(b1 = adam_b1, b2 = adam_b2, eps, nesterov = nesterov).
      const am = momentumCoefs(num('adam_b1'), t, nesterov);
      v['adam_one_minus_b1'] = 1 - num('adam_b1');
      v['adam_one_minus_b2'] = 1 - num('adam_b2');
      v['adam_m'] = am.m;
      v['adam_g'] = am.g;
      v['adam_rsqrt_bc2'] = 1 / Math.sqrt(1 - num('adam_b2') ** t);
      break;
    }
    case 'prodigy': {
      const b3 = typeof h['b3'] === 'number' ? num('b3') : Math.sqrt(num('b2'));
      v['b3'] = b3;
      const bc = Math.sqrt(1 - num('b2') ** t) / (1 - num('b1') ** t);
      v['prodigy_lr_bc'] = lr * bc;
      v['prodigy_s_coef'] = h['safeguard_warmup'] === true ? 1 : lr * bc;
      v['prodigy_first'] = first ? 1 : 0;
      break;
    }
    case 'schedule_free_adamw': {
      // optax warmup_constant_schedule(0, lr, warmup) on top of the train block's schedule.
      const W = num('warmup');
      const sched = (n: number) => lrAt(n) * (W > 0 && n < W ? n / W : 1);
      // The base optimizer counts from 0, the averaging from 1 (optax, §30).
      v['lr'] = sched(t - 1);
      const c = scheduleFreeWeight(
        sched,
        num('weight_lr_power'),
        t,
        `${scheduleKey}/${num('lr')}/${W}/${num('weight_lr_power')}`,
      );
      v['sf_c'] = c;
      v['sf_one_minus_c'] = 1 - c;
      v['sf_first'] = first ? 1 : 0;
      break;
    }
    case 'shampoo':
      v['shampoo_first'] = first ? 1 : 0;
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
  const resolved = resolveOptimizer(split.optimizer);
  const { optimizer: r, sam } = splitSam(resolved);
  const base = baseOptimizer(r);
  const lr = scheduleValue(schedule, base.hyper['lr'] as number, t - 1);
  const values = optimizerValues(
    base.name,
    base.hyper,
    lr,
    t,
    (n) => scheduleValue(schedule, base.hyper['lr'] as number, n),
    JSON.stringify(schedule ?? null),
  );
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
  if (sam) values['sam_rho'] = sam.rho;
  const out: Record<string, number> = {};
  for (const s of scalarNames(resolved, noise)) {
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
