// NAdam, PyTorch form (optimizers.md §11): coupled L2, the μ_t schedule
// μ_t = b1·(1 − 0.5·0.96^(t·ψ)) with the running product P_t, all on the
// host: nadam_grad = (1 − μ_t)/(1 − P_t), nadam_mom = μ_{t+1}/(1 − P_t·μ_{t+1}).
//   m, v as Adam ;  d = sqrt(v/(1 − b2^t)) + eps
//   θ −= lr·nadam_grad·g/d + lr·nadam_mom·m/d

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { adamMoments } from './adam.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export const NADAM: OptimizerRule = {
  name: 'nadam',
  state: ['m', 'v'],
  scalars: OPTIMIZER_SCALARS.nadam,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt } = ops(b);
    const { s } = readers(state, scalars);
    const lr = s('lr');
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    const { m, v } = adamMoments(b, g, state, scalars);
    const d = add(mul(sqrt(v), s('rsqrt_bc2')), s('eps'));
    const step = add(div(mul(mul(lr, s('nadam_grad')), g), d), div(mul(mul(lr, s('nadam_mom')), m), d));
    return descend(b, param, step, { m, v });
  },
};
