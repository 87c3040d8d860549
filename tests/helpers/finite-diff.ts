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

import { gradients } from '../../compiler/autodiff.js';
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
  if (failures.length > 0)
    throw new Error(`gradient check failed at ${failures.length} element(s):\n  ${failures.slice(0, 8).join('\n  ')}`);
  return { grads: g, maxError };
}

/** A seeded PRNG (mulberry32) giving floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An f32 RefTensor with entries uniform in [lo, hi). */
export function randomTensor(shape: readonly number[], next: () => number, lo = -1, hi = 1): RefTensor {
  const n = shape.reduce((a, d) => a * d, 1);
  return tensor(
    'f32',
    shape,
    Array.from({ length: n }, () => lo + (hi - lo) * next()),
  );
}
