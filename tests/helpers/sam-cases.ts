// SAM (optimizers.md §28d) on the tiny tanh MLP of optimizer-cases.ts,
// shared by the reference tests (tests/compiler/sam.test.ts) and the wasm /
// webgpu tests (tests/runtime/sam-wasm.test.ts). The float64 trajectory is
// written here from the sheet, with the MLP's gradient by hand (tinyGrads),
// not by Kiln: e from the raw g, g' = ∇L(w + e), then clipping of g', then the
// inner optimizer (sgd, adam or lookahead(adam)) from w with g'.

import { BATCHES, TINY_INIT, TINY_NAMES, type TinyParams, tinyGrads } from './optimizer-cases.js';
import type { HyperValue, OptimizerConfig } from '../../runtime/optimizers/spec.js';

type Vec = number[];
type Hyper = Readonly<Record<string, HyperValue>>;

export interface SamCase {
  readonly label: string;
  readonly opt: OptimizerConfig;
  /** A `clip global_norm(x)` line, applied to g'. */
  readonly clip?: number;
  /** SAM's run-time hyperparameters changed from step 5 on (rho). */
  readonly change?: Hyper;
}

const o = (name: string, hyper: Hyper = {}, inner?: OptimizerConfig): OptimizerConfig => ({
  name,
  hyper,
  ...(inner && { inner }),
});

export const SAM_CASES: readonly SamCase[] = [
  { label: 'sam(adam)', opt: o('sam', { rho: 0.1 }, o('adam', { lr: 0.05 })), change: { rho: 0.3 } },
  { label: 'sam(sgd), adaptive', opt: o('sam', { rho: 0.5, adaptive: true }, o('sgd', { lr: 0.2 })) },
  {
    label: 'sam(lookahead(adam)), clip global_norm(0.3)',
    opt: o('sam', { rho: 0.2 }, o('lookahead', { k: 3, alpha: 0.5 }, o('adam', { lr: 0.05, b1: 0.8 }))),
    clip: 0.3,
  },
];

/** The train block's extra lines of a case. */
export const samExtra = (c: SamCase): string => (c.clip !== undefined ? `clip global_norm(${c.clip})` : '');

/** SAM's settings at step t (the case's changes from step 5 on). */
function samAt(c: SamCase, t: number): { rho: number; adaptive: boolean } {
  const h = { rho: 0.05, adaptive: false, ...c.opt.hyper, ...(t >= 5 ? c.change : {}) };
  return { rho: h.rho as number, adaptive: h.adaptive === true };
}

const map = (p: TinyParams, f: (x: number, n: (typeof TINY_NAMES)[number], i: number) => number): TinyParams =>
  Object.fromEntries(TINY_NAMES.map((n) => [n, p[n].map((x, i) => f(x, n, i))])) as TinyParams;
const sumSq = (p: TinyParams): number => TINY_NAMES.reduce((s, n) => s + p[n].reduce((a, x) => a + x * x, 0), 0);

/** SAM's e for params w with gradient g (§28d, the global norm over all params). */
export function samE64(w: TinyParams, g: TinyParams, rho: number, adaptive: boolean): TinyParams {
  const wg = adaptive ? map(g, (x, n, i) => x * w[n][i]!) : g;
  const coef = rho / (Math.sqrt(sumSq(wg)) + 1e-12);
  return map(g, (x, n, i) => (adaptive ? w[n][i]! * w[n][i]! : 1) * x * coef);
}

export interface SamTrajectory {
  readonly losses: number[];
  /** Params and state after each step (`w1`, `w1.m`, `w1.slow`, ...). */
  readonly after: Record<string, Vec>[];
}

/** 8 (or `steps`) steps in float64. */
export function samReference(c: SamCase, steps = 8): SamTrajectory {
  let w: TinyParams = structuredClone(TINY_INIT) as TinyParams;
  const zero = map(w, () => 0);
  let [m, v, slow] = [zero, zero, w];
  const la = c.opt.inner!.name === 'lookahead' ? c.opt.inner!.hyper : undefined;
  const base = la ? c.opt.inner!.inner! : c.opt.inner!;
  const h = { b1: 0.9, b2: 0.999, eps: 1e-8, ...base.hyper } as Record<string, number>;
  const out: SamTrajectory = { losses: [], after: [] };
  for (let t = 1; t <= steps; t++) {
    const batch = BATCHES[(t - 1) % 2]!;
    const { rho, adaptive } = samAt(c, t);
    const { loss, g } = tinyGrads(w, batch);
    const e = samE64(w, g, rho, adaptive);
    let gp = tinyGrads(
      map(w, (x, n, i) => x + e[n][i]!),
      batch,
    ).g;
    if (c.clip !== undefined) {
      const coef = Math.min(c.clip / (Math.sqrt(sumSq(gp)) + 1e-6), 1);
      gp = map(gp, (x) => x * coef);
    }
    const state: Record<string, Vec> = {};
    if (base.name === 'sgd') w = map(w, (x, n, i) => x - h['lr']! * gp[n][i]!);
    else {
      m = map(m, (x, n, i) => h['b1']! * x + (1 - h['b1']!) * gp[n][i]!);
      v = map(v, (x, n, i) => h['b2']! * x + (1 - h['b2']!) * gp[n][i]! ** 2);
      const [bc1, bc2] = [1 - h['b1']! ** t, 1 - h['b2']! ** t];
      w = map(w, (x, n, i) => x - ((h['lr']! / bc1) * m[n][i]!) / (Math.sqrt(v[n][i]!) / Math.sqrt(bc2) + h['eps']!));
      for (const n of TINY_NAMES) Object.assign(state, { [`${n}.m`]: m[n], [`${n}.v`]: v[n] });
    }
    if (la && t % (la['k'] as number) === 0) {
      const fast = w;
      slow = map(slow, (x, n, i) => x + (la['alpha'] as number) * (fast[n][i]! - x));
      w = slow;
    }
    if (la) for (const n of TINY_NAMES) state[`${n}.slow`] = slow[n];
    out.losses.push(loss);
    out.after.push({ ...Object.fromEntries(TINY_NAMES.map((n) => [n, [...w[n]]])), ...state });
  }
  return out;
}

/** The optimizer line of a config (wrappers nest: sam(lookahead(adam(...)), rho = 0.1)). */
export function samLine(opt: OptimizerConfig): string {
  const args = [
    ...(opt.inner ? [samLine(opt.inner)] : []),
    ...Object.entries(opt.hyper).map(([k, v]) => `${k} = ${v}`),
  ];
  return args.length > 0 ? `${opt.name}(${args.join(', ')})` : opt.name;
}

/** The config of step t: the case's changes (on sam's own arguments) from step 5 on. */
export function samConfigAt(c: SamCase, t: number): OptimizerConfig {
  return t >= 5 && c.change ? { ...c.opt, hyper: { ...c.opt.hyper, ...c.change } } : c.opt;
}
