// AdaGrad, PyTorch form (optimizers.md §5): coupled L2, lr decay, eps outside
// the sqrt. The state holds Σg² alone and the initial accumulator G0 is added
// at use (sqrt(Σg² + G0)), so G0 stays a runtime scalar and the state starts
// at zero like every other.
//   G = G + g² ;  θ −= lr/(1 + (t − 1)·lr_decay) · g/(sqrt(G + G0) + eps)

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, coupledDecay, descend, ops, readers } from './rule.js';

export const ADAGRAD: OptimizerRule = {
  name: 'adagrad',
  state: ['sum'],
  scalars: OPTIMIZER_SCALARS.adagrad,
  update(b, param, grad, state, scalars) {
    const { add, mul, div, sqrt, sq } = ops(b);
    const { s, st } = readers(state, scalars);
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    const sum = add(st('sum'), sq(g));
    const denom = add(sqrt(add(sum, s('initial_accumulator'))), s('eps'));
    return descend(b, param, div(mul(mul(s('lr'), s('lr_decay_scale')), g), denom), { sum });
  },
};
