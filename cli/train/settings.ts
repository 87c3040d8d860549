// The run's settings from the command line, or, with --resume, from the
// checkpoint: a resumed run continues as it was started (same target, seed,
// batch, shuffling and learning rate), so a flag given with a different
// value is an error; the goal (--epochs / --steps) may change.

import { UserError } from '../errors.js';
import type { CheckpointMeta, RunSettings } from './checkpoint.js';

export interface GivenSettings {
  readonly target: string;
  readonly seed: number;
  readonly batch: number;
  readonly shuffle: boolean;
  readonly lr?: number;
  readonly epochs?: number;
  readonly steps?: number;
  /** Option names the user typed (commander's value source 'cli'); the rest are defaults. */
  readonly explicit?: ReadonlySet<string>;
}

const FLAGS: Record<'target' | 'seed' | 'batch' | 'shuffle' | 'lr', (v: RunSettings) => string> = {
  target: (v) => `--target ${v.target}`,
  seed: (v) => `--seed ${v.seed}`,
  batch: (v) => `--batch ${v.batch}`,
  shuffle: (v) => (v.shuffle ? 'shuffling' : '--no-shuffle'),
  lr: (v) => (v.lr === null ? "the train block's learning rate" : `--lr ${v.lr}`),
};

export function resolveSettings(given: GivenSettings, prior: CheckpointMeta | undefined, dir = ''): RunSettings {
  const mine: RunSettings = {
    target: given.target,
    seed: given.seed,
    batch: given.batch,
    shuffle: given.shuffle,
    lr: given.lr ?? null,
    epochs: given.epochs ?? null,
    steps: given.steps ?? null,
  };
  if (!prior) return mine;
  const was = prior.settings;
  const explicit = given.explicit ?? new Set<string>();
  for (const key of Object.keys(FLAGS) as (keyof typeof FLAGS)[]) {
    if (explicit.has(key) && mine[key] !== was[key])
      throw new UserError(
        `${dir}: the checkpoint's run used ${FLAGS[key](was)}; --resume continues it as it was, so leave out ${FLAGS[key](mine)}`,
      );
  }
  const newGoal = mine.epochs !== null || mine.steps !== null;
  return {
    ...was,
    epochs: newGoal ? mine.epochs : was.epochs,
    steps: newGoal ? mine.steps : was.steps,
  };
}
