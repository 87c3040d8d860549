// The training loop: batches in the epoch's order from the saved position,
// one fused step each, the epoch's mean loss, evaluation and a checkpoint at
// every epoch end (and at the end of the run), a stop on a NaN or infinite
// loss before anything more is saved, and a checkpoint then a stop when
// interrupted. Everything that decides the order of updates (seed, epoch,
// batch index) is in the position, so a resumed run repeats an
// uninterrupted one exactly.

import type { Dataset } from '../data/dataset.js';
import { batchOf, permutation } from './batches.js';
import type { Position, RunSettings } from './checkpoint.js';
import type { Classifier } from './classifier.js';
import { evaluate } from './evaluate.js';
import type { EpochRecord, History } from './history.js';
import type { Interrupt } from './interrupt.js';
import type { JsonlLog } from './log.js';
import type { Plan } from './plan.js';
import type { Reporter } from './progress.js';
import { Throughput } from './throughput.js';
import type { Trainer } from './trainer.js';

/** The run's state as a checkpoint records it. */
export interface Snapshot {
  readonly position: Position;
  readonly order: Int32Array | undefined;
  readonly history: History;
}

export type SaveReason = 'epoch' | 'end' | 'interrupt';

export interface LoopConfig {
  readonly trainer: Trainer;
  readonly data: Dataset;
  readonly evalData: Dataset | undefined;
  readonly classifier: Classifier | undefined;
  readonly settings: RunSettings;
  readonly plan: Plan;
  readonly start: Snapshot;
  readonly reporter: Reporter;
  readonly log: JsonlLog | undefined;
  readonly save: ((reason: SaveReason, s: Snapshot) => Promise<void>) | undefined;
  readonly interrupt: Interrupt;
  /** Seconds, monotonic. */
  readonly now: () => number;
}

export type LoopEnd =
  | { readonly kind: 'done'; readonly lastLoss: number | undefined }
  | { readonly kind: 'interrupted'; readonly step: number }
  | { readonly kind: 'diverged'; readonly step: number; readonly epoch: number; readonly loss: number }
  /** The step's update made params non-finite (the fused flag); `batch` is 1-based within the epoch. */
  | {
      readonly kind: 'nonfinite';
      readonly step: number;
      readonly epoch: number;
      readonly batch: number;
      readonly params: readonly string[];
    };

export interface LoopResult {
  readonly end: LoopEnd;
  /** Steps and examples this invocation trained. */
  readonly ranSteps: number;
  readonly ranExamples: number;
}

export function orderFor(settings: RunSettings, n: number, epoch: number): Int32Array | undefined {
  return settings.shuffle ? permutation(n, settings.seed, epoch) : undefined;
}

export async function trainLoop(c: LoopConfig): Promise<LoopResult> {
  const { plan, data, reporter, log } = c;
  let { position: pos, order } = c.start;
  const history = c.start.history;
  let throughput = new Throughput();
  let ranSteps = 0;
  let ranExamples = 0;
  let lastLoss: number | undefined;
  const t0 = c.now();
  reporter.start(pos.step, plan.total);
  log?.write({ event: 'start', step: pos.step, epoch: pos.epoch + 1, total: plan.total, examples: data.n });
  while (pos.step < plan.total) {
    const lo = pos.batch * plan.batch;
    const hi = Math.min(data.n, lo + plan.batch);
    // Steps resolve as microtasks: yield so that signals and the progress bar's timer get their turn.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const { loss, nonfinite } = await c.trainer.step(batchOf(data, lo, hi, order));
    const step = pos.step + 1;
    const epoch = pos.epoch + 1;
    // Before anything is saved: the params in memory are no longer good.
    if (nonfinite.length > 0) {
      const batch = pos.batch + 1;
      log?.write({ event: 'nonfinite', step, epoch, batch, params: [...nonfinite] });
      return { end: { kind: 'nonfinite', step, epoch, batch, params: nonfinite }, ranSteps, ranExamples };
    }
    if (!Number.isFinite(loss)) {
      log?.write({ event: 'diverged', step, epoch, loss: String(loss) });
      return { end: { kind: 'diverged', step, epoch, loss }, ranSteps, ranExamples };
    }
    ranSteps += 1;
    ranExamples += hi - lo;
    lastLoss = loss;
    pos = {
      step,
      epoch: pos.epoch,
      batch: pos.batch + 1,
      epochLossSum: pos.epochLossSum + loss * (hi - lo),
      epochSeen: pos.epochSeen + (hi - lo),
    };
    history.addStep(step, loss);
    throughput.add(c.now(), hi - lo);
    log?.write({ event: 'step', step, epoch, loss, examples: hi - lo, time: round3(c.now() - t0) });
    reporter.step({
      step,
      total: plan.total,
      epoch,
      epochs: plan.epochs,
      loss,
      epochLoss: pos.epochLossSum / pos.epochSeen,
      examplesPerSecond: throughput.examplesPerSecond(),
      etaSeconds: throughput.eta(plan.total - step),
    });
    const epochDone = pos.batch === plan.perEpoch;
    const runDone = step === plan.total;
    let saved = false;
    if (epochDone || runDone) {
      const record = await endOfEpoch(c, pos, epochDone);
      history.addEpoch(record);
      reporter.epoch(record, plan.epochs);
      log?.write({ event: 'epoch', ...logFields(record) });
      if (epochDone) {
        pos = { step, epoch: pos.epoch + 1, batch: 0, epochLossSum: 0, epochSeen: 0 };
        order = orderFor(c.settings, data.n, pos.epoch);
      }
      await c.save?.(runDone ? 'end' : 'epoch', { position: pos, order, history });
      saved = true;
      throughput = new Throughput();
    }
    if (c.interrupt.signal !== undefined && !runDone) {
      if (!saved) await c.save?.('interrupt', { position: pos, order, history });
      log?.write({ event: 'interrupted', step, epoch, signal: c.interrupt.signal });
      return { end: { kind: 'interrupted', step }, ranSteps, ranExamples };
    }
  }
  log?.write({ event: 'end', step: pos.step, time: round3(c.now() - t0) });
  return { end: { kind: 'done', lastLoss }, ranSteps, ranExamples };
}

async function endOfEpoch(c: LoopConfig, pos: Position, complete: boolean): Promise<EpochRecord> {
  const result = c.evalData
    ? await c.trainer.atEvalPoint(() => evaluate(c.trainer, c.evalData!, c.classifier, c.trainer.evalBatch))
    : undefined;
  return {
    epoch: pos.epoch + 1,
    step: pos.step,
    loss: pos.epochLossSum / pos.epochSeen,
    ...(result && { evalLoss: result.loss }),
    ...(result?.accuracy !== undefined && { evalAccuracy: result.accuracy }),
    ...(!complete && { partial: true }),
  };
}

function logFields(r: EpochRecord): { step: number } & Record<string, unknown> {
  return {
    step: r.step,
    epoch: r.epoch,
    loss: r.loss,
    ...(r.evalLoss !== undefined && { eval_loss: r.evalLoss }),
    ...(r.evalAccuracy !== undefined && { eval_accuracy: r.evalAccuracy }),
    ...(r.partial && { partial: true }),
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
