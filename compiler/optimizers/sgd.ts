// SGD, PyTorch form (optimizers.md §2): g = g + λ·θ (coupled L2), θ = θ − lr·g.

import { OPTIMIZER_SCALARS } from '../../runtime/optimizer-scalars.js';
import { type OptimizerRule, ops, pick } from './rule.js';

export const SGD: OptimizerRule = {
  name: 'sgd',
  state: [],
  scalars: OPTIMIZER_SCALARS.sgd,
  update(b, param, grad, _state, scalars) {
    const { add, sub, mul } = ops(b);
    const lr = pick(scalars, 'lr', 'scalar');
    const wd = pick(scalars, 'weight_decay', 'scalar');
    // weight_decay is a runtime scalar, so the term is always there (0 by default).
    const g = add(grad, mul(wd, param));
    return { param: sub(param, mul(lr, g)), state: {} };
  },
};
