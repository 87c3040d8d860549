// Muon, optax contrib.muon form (optimizers.md §29, "Wave 2 canonical forms"):
// rank-2 params take the Muon branch (bias-corrected momentum, Newton–Schulz
// orthogonalisation as matmuls inside the step, the shape factor
// sqrt(max(1, cols/rows)) of a JAX-layout [in, out] weight, decoupled decay);
// every other param the Adam branch (optax adamw with adam_b1, adam_b2,
// eps, nesterov as Muon's, no weight decay). The momentum splits
// U = muon_m·B + muon_g·g come from the host (nesterov or not).

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import type { IRBuilder, Node } from '../ir.js';
import { type OptimizerRule, decoupledDecay, descend, ops, readers } from './rule.js';

/** The quintic Newton–Schulz coefficients (a, b, c) of optax and PyTorch (§29): structural, not hyperparameters. */
export const NS_COEFFS = [3.4445, -4.775, 2.0315] as const;

const transpose = (b: IRBuilder, x: Node) => b.permute(x, [1, 0]);

/**
 * optax orthogonalize_via_newton_schulz with frobenius preconditioning: the
 * wide orientation (rows ≤ cols), X/(‖X‖_F + eps), then `steps` times
 * A = X·Xᵀ, X = a·X + (b·A + c·A·A)·X.
 */
export function newtonSchulz(b: IRBuilder, u: Node, eps: Node, steps: number): Node {
  const { add, mul, div, sqrt, sq, sumAll } = ops(b);
  const [rows, cols] = u.shape as [number, number];
  const tall = rows > cols;
  let x = tall ? transpose(b, u) : u;
  x = div(x, add(sqrt(sumAll(sq(x))), eps));
  const [ca, cb, cc] = NS_COEFFS;
  for (let i = 0; i < steps; i++) {
    const a = b.matmul(x, transpose(b, x));
    const poly = add(mul(cb, a), mul(cc, b.matmul(a, a)));
    x = add(mul(ca, x), b.matmul(poly, x));
  }
  return tall ? transpose(b, x) : x;
}

/** Whether `p` takes the Muon branch: rank 2 with static dims (optax's default split is ndim == 2). */
export const isMatrix = (p: Node): boolean => p.shape.length === 2 && p.shape.every((d) => typeof d === 'number');

export function muonRule(opts: { readonly nsSteps: number }): OptimizerRule {
  return {
    name: 'muon',
    state: ['m', 'v'],
    stateFor: (p) => (isMatrix(p) ? ['m'] : ['m', 'v']),
    scalars: OPTIMIZER_SCALARS.muon,
    update(b, param, grad, state, scalars) {
      const { add, mul, div, sqrt, ema } = ops(b);
      const { s, st } = readers(state, scalars);
      if (isMatrix(param)) {
        const m = ema(s('beta'), st('m'), s('one_minus_beta'), grad);
        const u = add(mul(s('muon_m'), m), mul(s('muon_g'), grad));
        const o = newtonSchulz(b, u, s('eps'), opts.nsSteps);
        const [rows, cols] = param.shape as [number, number];
        // optax scale_by_shape: sqrt(max(1, fan_out/fan_in)) with fan_in the rows of an [in, out] weight.
        const shape = Math.sqrt(Math.max(1, cols / rows));
        const delta = mul(shape === 1 ? s('lr') : mul(s('lr'), shape), o);
        return descend(b, decoupledDecay(b, param, s('lr'), s('weight_decay')), delta, { m });
      }
      const m = ema(s('adam_b1'), st('m'), s('adam_one_minus_b1'), grad);
      const v = ema(s('adam_b2'), st('v'), s('adam_one_minus_b2'), mul(grad, grad));
      const mhat = add(mul(s('adam_m'), m), mul(s('adam_g'), grad));
      const delta = div(mul(s('adam_lr'), mhat), add(mul(sqrt(v), s('adam_rsqrt_bc2')), s('eps')));
      return descend(b, param, delta, { m, v });
    },
  };
}
