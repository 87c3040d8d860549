// The optimizers the training step can compile (optimizers.md; the rest of
// the sheet's library is a later issue). Hyperparameter names, defaults and
// host-side scalar values live in runtime/optimizer-scalars.ts, shared with
// the runtime so the two cannot disagree.

import { type OptimizerConfig, resolveHyperparameters } from '../../runtime/optimizer-scalars.js';
import { adamRule } from './adam.js';
import { adamwRule } from './adamw.js';
import type { OptimizerRule } from './rule.js';
import { SGD } from './sgd.js';

export type { OptimizerRule, OptimizerUpdate } from './rule.js';
export { SGD } from './sgd.js';
export { adamRule } from './adam.js';
export { adamwRule } from './adamw.js';

/**
 * The update rule for an optimizer line (validated: unknown optimizers,
 * arguments and out-of-range values throw). Only structural choices
 * (amsgrad) are read here; every numeric hyperparameter is a runtime scalar.
 */
export function optimizerRule(opt: OptimizerConfig): OptimizerRule {
  const h = resolveHyperparameters(opt);
  const amsgrad = h['amsgrad'] === true;
  switch (opt.name) {
    case 'sgd':
      return SGD;
    case 'adam':
      return adamRule({ amsgrad });
    case 'adamw':
      return adamwRule({ amsgrad });
    default:
      // resolveHyperparameters has already rejected every other name.
      throw new Error(`optimizer '${opt.name}' has no update rule`);
  }
}
