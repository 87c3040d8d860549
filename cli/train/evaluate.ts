// Evaluation on held-out data: the minimized output averaged over examples
// (each batch's value weighted by its size) and, for classifiers, accuracy
// (argmax of the scores against the labels). Forward passes only.

import type { Dataset } from '../data/dataset.js';
import { batchOf } from './batches.js';
import type { Classifier } from './classifier.js';
import type { Trainer } from './trainer.js';

export interface EvalResult {
  readonly loss: number;
  /** Fraction correct, for classifiers. */
  readonly accuracy?: number;
  readonly examples: number;
}

/** Eval batches are larger than training ones: no gradients, so memory is cheap. */
export const EVAL_BATCH = 500;

export async function evaluate(
  trainer: Trainer,
  data: Dataset,
  classifier: Classifier | undefined,
  batch = EVAL_BATCH,
): Promise<EvalResult> {
  const outputs = [trainer.loss, ...(classifier ? [classifier.scores] : [])];
  let loss = 0;
  let correct = 0;
  for (let lo = 0; lo < data.n; lo += batch) {
    const hi = Math.min(data.n, lo + batch);
    const b = batchOf(data, lo, hi, undefined);
    const out = await trainer.run(b, outputs);
    loss += out[trainer.loss]!.data[0]! * (hi - lo);
    if (classifier)
      correct += countCorrect(out[classifier.scores]!.data, b[classifier.label]!.data, classifier.classes);
  }
  return { loss: loss / data.n, examples: data.n, ...(classifier && { accuracy: correct / data.n }) };
}

/** Rows of `scores` ([n, classes]) whose first maximum is at the label. */
export function countCorrect(scores: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[i * classes + c]! > scores[i * classes + best]!) best = c;
    if (best === labels[i]) correct++;
  }
  return correct;
}
