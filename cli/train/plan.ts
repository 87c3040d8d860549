// How many steps a run takes: batches per epoch (the last one partial),
// epochs, and the total; `--steps` may end inside an epoch.

import type { RunSettings } from './checkpoint.js';

export interface Plan {
  /** Examples per step (all of them when --batch exceeds the data). */
  readonly batch: number;
  readonly perEpoch: number;
  readonly epochs: number;
  readonly total: number;
  /** Whether the goal is a step count (--steps) rather than epochs. */
  readonly bySteps: boolean;
}

export function planRun(examples: number, s: Pick<RunSettings, 'batch' | 'epochs' | 'steps'>): Plan {
  const batch = Math.min(s.batch, examples);
  const perEpoch = Math.ceil(examples / batch);
  if (s.steps !== null)
    return { batch, perEpoch, epochs: Math.ceil(s.steps / perEpoch), total: s.steps, bySteps: true };
  const epochs = s.epochs ?? 1;
  return { batch, perEpoch, epochs, total: epochs * perEpoch, bySteps: false };
}
