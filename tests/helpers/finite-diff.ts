// Gradient checking against central finite differences in float64, on the
// reference interpreter. Reusable by any test that builds IR:
//
//   checkGradients(
//     (b) => {
//       const x = b.input('x', { dtype: 'f32', shape: [3] });
//       return { loss: b.reduce('sum', b.unary('exp', x), [0]), wrt: [x] };
//     },
//     { inputs: { x: randomTensor([3], rng(1)) } },
//   );
//
// `wrt` must be input or param nodes (the checker perturbs their tensors). A
// non-scalar `loss` is contracted with a fixed random cotangent (a checked
// vector-Jacobian product). Throws an Error describing the worst mismatches.
//
// It checks forward mode too (compiler/forward.ts): the directional
// derivative jvp(loss, wrt, v) along a random v must equal sum_k <grad_k, v_k>
// (the reverse rules) and the central difference of the loss along v.

import { mulberry32 as rng } from '../../runtime/mulberry32.js';
import { gradients } from '../../compiler/autodiff.js';
import { jvps } from '../../compiler/forward.js';
import { type EvalEnv, type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import { IRBuilder, type Node } from '../../compiler/ir.js';

export interface GradCheckOptions {
  /** Central-difference step, scaled by max(1, |x_i|). Default 1e-6. */
  readonly h?: number;
  /** Relative tolerance, against max(|fd_i|, the largest |gradient| of the tensor). Default 1e-6. */
  readonly rtol?: number;
  /** Check at most this many elements per tensor (spread evenly). Default: all. */
  readonly maxElements?: number;
}

export interface GradCheckEnv {
  readonly inputs?: Readonly<Record<string, RefTensor>>;
  readonly params?: Readonly<Record<string, RefTensor>>;
}

export interface GradCheckResult {
  /** The analytic gradients, one per `wrt` node. */
  readonly grads: RefTensor[];
  /** The largest |analytic - numeric| over all checked elements. */
  readonly maxError: number;
}

export type BuildLoss = (b: IRBuilder) => { readonly loss: Node; readonly wrt: readonly Node[] };

const COTANGENT = '__cotangent';
const TANGENT = '__tangent';

export function checkGradients(build: BuildLoss, env: GradCheckEnv, opts: GradCheckOptions = {}): GradCheckResult {
  const h = opts.h ?? 1e-6;
  const rtol = opts.rtol ?? 1e-6;
  const b = new IRBuilder();
  const built = build(b);
  let loss = built.loss;
  const inputs = new Map(Object.entries(env.inputs ?? {}));
  const params = new Map(Object.entries(env.params ?? {}));
  if (loss.shape.length !== 0) {
    const v = b.input(COTANGENT, loss);
    loss = b.reduce(
      'sum',
      b.binary('mul', loss, v),
      loss.shape.map((_d, i) => i),
    );
    loss = b.reshape(loss, []);
  }
  const grads = gradients(b, loss, built.wrt);
  const tangents = built.wrt.map((w, k) => b.input(`${TANGENT}${k}`, w));
  const [dir] = jvps(b, [loss], built.wrt, tangents);
  if (built.loss.shape.length !== 0 && !inputs.has(COTANGENT)) {
    // A fixed cotangent, shaped by a first evaluation of the bare loss.
    const [l] = evaluate([built.loss], { inputs, params });
    inputs.set(COTANGENT, randomTensor(l!.shape, rng(12345)));
  }
  const evalEnv: EvalEnv = { inputs, params };
  const [l0, ...g] = evaluate([loss, ...grads], evalEnv);
  const lossAt = (): number => evaluate([loss], evalEnv)[0]!.data[0]!;
  const noise = (10 * 2.2e-16 * (Math.abs(l0!.data[0]!) + 1)) / h;

  let maxError = 0;
  const failures: string[] = [];
  built.wrt.forEach((w, k) => {
    if (w.op !== 'input' && w.op !== 'param') throw new Error(`checkGradients: wrt[${k}] is a ${w.op}, not a leaf`);
    const table = w.op === 'input' ? inputs : params;
    const t = table.get(w.name);
    if (!t) throw new Error(`checkGradients: no tensor for ${w.op} '${w.name}'`);
    const an = g[k]!.data;
    const scale = an.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const n = t.data.length;
    const count = Math.min(n, opts.maxElements ?? n);
    for (let c = 0; c < count; c++) {
      const i = Math.floor((c * n) / count);
      const x = t.data[i]!;
      const step = h * Math.max(1, Math.abs(x));
      const data = t.data.slice();
      table.set(w.name, { ...t, data });
      data[i] = x + step;
      const up = lossAt();
      data[i] = x - step;
      const down = lossAt();
      table.set(w.name, t);
      const fd = (up - down) / (2 * step);
      const err = Math.abs(an[i]! - fd);
      maxError = Math.max(maxError, err);
      if (!(err <= rtol * Math.max(Math.abs(fd), scale) + noise))
        failures.push(`${w.op} '${w.name}'[${i}]: analytic ${an[i]}, numeric ${fd} (error ${err.toExponential(2)})`);
    }
  });
  checkDirectional(built.wrt, g, tangents, dir!, evalEnv, lossAt, { h, rtol, noise }, failures);
  if (failures.length > 0)
    throw new Error(`gradient check failed at ${failures.length} element(s):\n  ${failures.slice(0, 8).join('\n  ')}`);
  return { grads: g, maxError };
}

/**
 * The forward-mode check: along a random direction v (one tensor per wrt),
 * jvp must equal <grad, v> (to float64 rounding) and the central difference
 * (loss(x + s v) - loss(x - s v)) / 2s (to rtol).
 */
function checkDirectional(
  wrt: readonly Node[],
  grads: readonly RefTensor[],
  tangents: readonly Node[],
  dir: Node,
  env: EvalEnv,
  lossAt: () => number,
  tol: { readonly h: number; readonly rtol: number; readonly noise: number },
  failures: string[],
): void {
  const next = rng(777);
  const inputs = env.inputs as Map<string, RefTensor>;
  const tables = wrt.map((w) => (w.op === 'input' ? inputs : (env.params as Map<string, RefTensor>)));
  const names = wrt.map((w) => (w.op === 'input' || w.op === 'param' ? w.name : ''));
  const base = wrt.map((_w, k) => tables[k]!.get(names[k]!)!);
  const v = base.map((t) => randomTensor(t.shape, next));
  tangents.forEach((t, k) => inputs.set((t as Node & { name: string }).name, v[k]!));
  const fwd = evaluate([dir], env)[0]!.data[0]!;
  let dot = 0;
  let mag = 0;
  grads.forEach((g, k) =>
    g.data.forEach((x, i) => ((dot += x * v[k]!.data[i]!), (mag += Math.abs(x * v[k]!.data[i]!)))),
  );
  if (!(Math.abs(fwd - dot) <= 1e-9 * Math.max(1, mag)))
    failures.push(`jvp along a random direction: forward ${fwd}, reverse <grad, v> ${dot}`);
  const scale = Math.max(1, ...base.map((t) => t.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0)));
  const step = tol.h * scale;
  const at = (s: number) => {
    base.forEach((t, k) => tables[k]!.set(names[k]!, { ...t, data: t.data.map((x, i) => x + s * v[k]!.data[i]!) }));
    const l = lossAt();
    base.forEach((t, k) => tables[k]!.set(names[k]!, t));
    return l;
  };
  const fd = (at(step) - at(-step)) / (2 * step);
  if (!(Math.abs(fwd - fd) <= tol.rtol * Math.max(Math.abs(fd), mag) + tol.noise * wrt.length))
    failures.push(`jvp along a random direction: forward ${fwd}, central difference ${fd}`);
}

/** A seeded PRNG (mulberry32) giving floats in [0, 1). */
export { rng };

/** An f32 RefTensor with entries uniform in [lo, hi). */
export function randomTensor(shape: readonly number[], next: () => number, lo = -1, hi = 1): RefTensor {
  const n = shape.reduce((a, d) => a * d, 1);
  return tensor(
    'f32',
    shape,
    Array.from({ length: n }, () => lo + (hi - lo) * next()),
  );
}
