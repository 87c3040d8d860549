// Batches: a seeded permutation per epoch (Fisher-Yates over the `ParamRng`
// stream `shuffle.<epoch>`, so any epoch's order is a pure function of the
// seed) and rows gathered in that order, the last partial batch included.

import { ParamRng } from '../../compiler/init.js';
import type { Tensor, TensorData } from '../../runtime/executor.js';
import type { Dataset } from '../data/dataset.js';

/** A seeded permutation of 0..n-1 for an epoch. */
export function permutation(n: number, seed: number, epoch: number): Int32Array {
  const rng = new ParamRng(seed, `shuffle.${epoch}`);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.nextUniform() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** The examples [lo, hi) of the epoch's order (in file order without one), every input. */
export function batchOf(data: Dataset, lo: number, hi: number, order: Int32Array | undefined): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(data.tensors)) out[name] = rows(t, lo, hi, order);
  return out;
}

function rows(t: Tensor, lo: number, hi: number, order: Int32Array | undefined): Tensor {
  const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const shape = [hi - lo, ...t.shape.slice(1)];
  if (!order) return { data: t.data.subarray(lo * row, hi * row) as TensorData, shape };
  const ctor = t.data.constructor as new (n: number) => TensorData;
  const data = new ctor((hi - lo) * row);
  for (let i = lo; i < hi; i++) data.set(t.data.subarray(order[i]! * row, (order[i]! + 1) * row), (i - lo) * row);
  return { data, shape };
}
