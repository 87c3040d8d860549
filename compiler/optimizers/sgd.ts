// SGD, PyTorch form (optimizers.md §2): g = g + λ·θ (coupled L2), θ = θ − lr·g.

import { OPTIMIZER_SCALARS } from '../../runtime/optimizers/spec.js';
import { type OptimizerRule, coupledDecay, descend, readers } from './rule.js';

export const SGD: OptimizerRule = {
  name: 'sgd',
  state: [],
  scalars: OPTIMIZER_SCALARS.sgd,
  update(b, param, grad, state, scalars) {
    const { s } = readers(state, scalars);
    const g = coupledDecay(b, grad, param, s('weight_decay'));
    return descend(b, param, b.bin('mul', s('lr'), g), {});
  },
};
