// Matching loaded tensors to the model's inputs: every input present, the
// declared rank and static dimensions, the same example count everywhere, and
// at least one example. Dtypes are the loaders' business (each form converts
// its own), so every tensor here already has the input's dtype.

import type { Tensor } from '../../runtime/executor.js';
import type { TensorSpec } from '../../runtime/manifest.js';
import { formatTensorType } from '../../runtime/validate.js';
import { UserError } from '../errors.js';
import type { Dataset } from './dataset.js';

/** The dataset of `source`, or a user error naming the tensor and the expected and found shapes. */
export function bindDataset(
  source: string,
  tensors: Readonly<Record<string, Tensor>>,
  inputs: readonly TensorSpec[],
): Dataset {
  let n: number | undefined;
  let first = '';
  for (const spec of inputs) {
    const t = tensors[spec.name];
    if (!t) throw missingTensor(source, spec);
    checkShape(source, spec, t);
    const count = t.shape[0]!;
    if (n === undefined) {
      n = count;
      first = spec.name;
    } else if (count !== n)
      throw new UserError(
        `${source}: tensor '${spec.name}' has ${count} examples but '${first}' has ${n} (the first dimension counts examples)`,
      );
  }
  if (n === undefined || n === 0) throw new UserError(`${source}: the data holds no examples`);
  return { source, n, tensors };
}

/** The error for an input that `source` lacks, naming it and its declared type. */
export function missingTensor(source: string, spec: TensorSpec): UserError {
  const want = formatTensorType(spec.dtype, spec.shape);
  const batched = spec.shape.length > 0 && typeof spec.shape[0] !== 'number';
  return new UserError(
    `${source}: missing tensor '${spec.name}' (the model's input ${want}${batched ? ', examples first' : ''})`,
  );
}

function checkShape(source: string, spec: TensorSpec, t: Tensor): void {
  const want = formatTensorType(spec.dtype, spec.shape);
  const found = `[${t.shape.join(', ')}]`;
  if (spec.shape.length === 0 || typeof spec.shape[0] === 'number')
    throw new UserError(
      `input '${spec.name}' is ${want}: data holds examples along the first dimension (batched in training), so it must be symbolic (like B)`,
    );
  if (t.shape.length !== spec.shape.length)
    throw new UserError(
      `${source}: tensor '${spec.name}' has shape ${found}, but input '${spec.name}' is ${want} (examples first)`,
    );
  spec.shape.forEach((d, i) => {
    if (typeof d === 'number' && t.shape[i] !== d)
      throw new UserError(
        `${source}: tensor '${spec.name}' has shape ${found}, but input '${spec.name}' is ${want} (dimension ${i} is ${t.shape[i]}, expected ${d})`,
      );
  });
}
