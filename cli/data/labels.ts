// Class labels must index the model's classes: an out-of-range label would
// read past the logits' class axis, so it is a data error caught up front.

import { UserError } from '../errors.js';
import type { Dataset } from './dataset.js';

export function checkLabels(dataset: Dataset, label: string, classes: number): void {
  const t = dataset.tensors[label];
  if (!t) return;
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < 0 || v >= classes)
      throw new UserError(
        `${dataset.source}: label ${v} of example ${i} (tensor '${label}') is outside the model's ${classes} classes (0 to ${classes - 1})`,
      );
  }
}
