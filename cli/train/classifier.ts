// Whether a model is a classifier, for accuracy and label checks: it has one
// i32 input of shape [B] (the labels) and an f32 output of shape [B, C] with
// a static C >= 2 (probabilities or logits; the argmax is the prediction).
// Several such outputs: `probs`, then `logits`, then the first.

import type { DimSpec, TensorSpec } from '../../runtime/manifest.js';

export interface Classifier {
  /** The label input. */
  readonly label: string;
  /** The output whose argmax over the last axis is the predicted class. */
  readonly scores: string;
  readonly classes: number;
}

export function classifierOf(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): Classifier | undefined {
  const labels = inputs.filter((s) => s.dtype === 'i32' && s.shape.length === 1 && typeof s.shape[0] !== 'number');
  if (labels.length !== 1) return undefined;
  const batch = labels[0]!.shape[0]!;
  const scores = outputs.filter(
    (o) =>
      o.dtype === 'f32' &&
      o.shape.length === 2 &&
      sameDim(o.shape[0]!, batch) &&
      typeof o.shape[1] === 'number' &&
      o.shape[1] >= 2,
  );
  const pick = scores.find((o) => o.name === 'probs') ?? scores.find((o) => o.name === 'logits') ?? scores[0];
  if (!pick) return undefined;
  return { label: labels[0]!.name, scores: pick.name, classes: pick.shape[1] as number };
}

function sameDim(a: DimSpec, b: DimSpec): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  return a.coef === b.coef && a.syms.length === b.syms.length && a.syms.every((s, i) => s === b.syms[i]);
}
