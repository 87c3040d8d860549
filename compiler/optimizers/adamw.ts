// AdamW, PyTorch form (optimizers.md §9): decoupled, lr-scaled weight decay
// θ ← θ − lr·λ·θ, then the Adam step of §8 with no λ·θ added to g.

import { type AdamOptions, ADAM_SCALARS, adamUpdate } from './adam.js';
import type { OptimizerRule } from './rule.js';

export function adamwRule(opts: AdamOptions): OptimizerRule {
  return {
    name: 'adamw',
    state: opts.amsgrad ? ['m', 'v', 'vmax'] : ['m', 'v'],
    scalars: ADAM_SCALARS,
    update: (b, param, grad, state, scalars) =>
      adamUpdate(b, param, grad, state, scalars, { ...opts, decoupled: true }),
  };
}
