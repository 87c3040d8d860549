// A .kiln model's inputs and outputs, read from the checked source without
// compiling it, so that data errors come before the (slower) compile. An
// artifact directory has no source: its signature comes from the loaded model.

import { UserError } from '../errors.js';
import { loadModel } from '../model.js';
import { inputSpecs } from '../commands/common.js';
import type { TensorSpec } from '../../runtime/manifest.js';

export interface Signature {
  readonly name: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

export function sourceSignature(file: string, model: string | undefined): Signature {
  const lm = loadModel(file, model);
  if (!lm.train) throw new UserError(`${file}: cannot train model '${lm.model.name}': it has no train block`);
  return {
    name: lm.model.name,
    inputs: inputSpecs(lm),
    outputs: lm.model.outputs.map((o) => ({ name: o.name, dtype: o.type.dtype, shape: o.type.shape })),
  };
}
