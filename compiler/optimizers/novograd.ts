// NovoGrad, optax form (optimizers.md §27): one second moment ν per tensor
// (a per-tensor scalar state) from ‖g‖², a whole-tensor reduction; no
// (1 − b1) on the momentum; lr outside. ν starts as ‖g‖² on the first step
// (host scalars novograd_b2, novograd_one_minus_b2 are 0, 1 then).
//   ν = b2·ν + (1 − b2)·‖g‖² ;  m = b1·m + g/(sqrt(ν) + eps) + λ·θ ;  θ −= lr·m

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, descend, ops, readers } from './rule.js';

export const NOVOGRAD: OptimizerRule = {
  name: 'novograd',
  state: ['m', 'nu'],
  perTensorState: ['nu'],
  scalars: OPTIMIZER_SCALARS.novograd,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, sq, sumAll, ema } = ops(b);
    const { s, st } = readers(state, scalars);
    const nu = ema(s('novograd_b2'), st('nu'), s('novograd_one_minus_b2'), sumAll(sq(grad)));
    const u = add(div(grad, add(sqrt(nu), s('eps'))), mul(s('weight_decay'), param));
    const m = add(mul(s('b1'), st('m')), u);
    return descend(b, param, mul(s('lr'), m), { m, nu });
  },
};
