// `kiln train FILE --data DATA [...]` (CLI.md): loads the model on its
// target, the data (and --eval data) in any of the data forms, restores a
// checkpoint with --resume, runs the training loop with a progress bar or
// plain lines, and writes --params-out, --plot and a final summary. Exit
// status 0, 1 on user errors (bad data, a diverged loss), 2 on bad usage,
// 130 when interrupted (after saving a checkpoint).

import { processOutput, type Output } from '../output.js';
import { UsageError, UserError } from '../errors.js';
import { fingerprint } from '../data/fingerprint.js';
import { nonfiniteAllowed } from '../data/finite.js';
import { checkLabels } from '../data/labels.js';
import { type LoadedData, loadData } from '../data/load.js';
import { FASHION_MNIST } from '../data/fashion-mnist.js';
import { writeSafetensorsFile } from '../../runtime/safetensors-node.js';
import { writeFileAtomic } from '../train/atomic-write.js';
import {
  type Checkpoint,
  CHECKPOINT_FILE,
  type RunSettings,
  checkpointPath,
  readCheckpoint,
  saveCheckpoint,
} from '../train/checkpoint.js';
import { type Classifier, classifierOf } from '../train/classifier.js';
import { History } from '../train/history.js';
import { INTERRUPTED_STATUS, watchInterrupt } from '../train/interrupt.js';
import { JsonlLog } from '../train/log.js';
import { type LoopResult, type Snapshot, orderFor, trainLoop } from '../train/loop.js';
import { type Plan, planRun } from '../train/plan.js';
import { plotSvg } from '../train/plot.js';
import { type Reporter, barReporter, fmtLoss, plainReporter } from '../train/progress.js';
import { divergedMessage, keptNote, nonfiniteMessage } from '../train/stop-message.js';
import { referenceTrainer } from '../train/reference-trainer.js';
import { runtimeTrainer } from '../train/runtime-trainer.js';
import { type GivenSettings, resolveSettings } from '../train/settings.js';
import { summaryTable } from '../train/summary.js';
import type { Trainer } from '../train/trainer.js';
import { checkTarget, type CommonOptions } from '../options.js';
import { isDirectory } from './common.js';
import { type Signature, sourceSignature } from '../train/signature.js';
import { checkOutputPath } from '../output-paths.js';

export interface TrainOptions extends CommonOptions, GivenSettings {
  readonly data: string;
  readonly eval?: string;
  readonly paramsIn?: string;
  readonly paramsOut?: string;
  /** `--params-out` writes the evaluation point (schedule-free's x). */
  readonly evalParams?: boolean;
  readonly checkpoint?: string;
  readonly resume?: boolean;
  readonly log?: string;
  readonly plot?: string;
  readonly xCols?: string;
  readonly yCol?: string;
}

export async function trainCommand(file: string, opts: TrainOptions, out: Output): Promise<number> {
  checkUsage(opts);
  checkOutputs(file, opts);
  const prior = opts.checkpoint === undefined ? undefined : readCheckpoint(opts.checkpoint);
  if (opts.checkpoint !== undefined) checkPrior(opts.checkpoint, prior, opts.resume === true);
  const settings = resolveSettings(opts, prior?.meta, opts.checkpoint);
  checkTarget(settings.target);
  // A source's data is checked before compiling it; an artifact's once it is loaded.
  const source = isDirectory(file) ? undefined : sourceSignature(file, opts.model);
  const early = source && (await loadAll(opts, source));
  const trainer = await makeTrainer(file, opts, settings);
  try {
    if (prior && prior.meta.model !== trainer.name)
      throw new UserError(
        `${checkpointPath(opts.checkpoint!)}: the checkpoint is of model '${prior.meta.model}', not '${trainer.name}'`,
      );
    const { train, evalSet, classifier } = early ?? (await loadAll(opts, trainer));
    return await run({ file, opts, out, trainer, settings, prior, train, evalSet, classifier });
  } finally {
    trainer.dispose();
  }
}

/** The training and eval data for the model's inputs, labels checked against its classes. */
async function loadAll(
  opts: TrainOptions,
  sig: Signature,
): Promise<{ train: LoadedData; evalSet: LoadedData | undefined; classifier: Classifier | undefined }> {
  const ctx = { inputs: sig.inputs, csv: { xCols: opts.xCols, yCol: opts.yCol } };
  const train = await loadData(opts.data, { ...ctx, role: 'train' });
  // `--data fashion-mnist` alone also evaluates on its test split: a named dataset's
  // test set is what a user training on it wants to see the accuracy on.
  const evalName = opts.eval ?? (opts.data === FASHION_MNIST ? FASHION_MNIST : undefined);
  const evalSet = evalName === undefined ? undefined : await loadData(evalName, { ...ctx, role: 'eval' });
  const classifier = classifierOf(sig.inputs, sig.outputs);
  if (classifier) for (const d of [train, evalSet]) if (d) checkLabels(d.dataset, classifier.label, classifier.classes);
  return { train, evalSet, classifier };
}

/** Every file the run writes, before any work: its directory exists, and it is not the source or data. */
function checkOutputs(file: string, opts: TrainOptions): void {
  const reads = [opts.data, opts.eval, opts.paramsIn];
  const outputs: [string, string | undefined][] = [
    ['--params-out', opts.paramsOut],
    ['--plot', opts.plot],
    ['--log', opts.log],
  ];
  for (const [flag, path] of outputs) if (path !== undefined) checkOutputPath(path, file, reads, flag);
}

function checkUsage(opts: TrainOptions): void {
  if (opts.steps !== undefined && opts.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  if (opts.resume && opts.checkpoint === undefined) throw new UsageError('--resume needs --checkpoint DIR');
  if (opts.resume && opts.paramsIn !== undefined)
    throw new UsageError('--resume restores the params from the checkpoint; leave out --params-in');
  if (opts.evalParams && opts.paramsOut === undefined) throw new UsageError('--eval-params needs --params-out P');
}

function checkPrior(dir: string, prior: Checkpoint | undefined, resume: boolean): void {
  if (resume && !prior) throw new UserError(`${dir}: no checkpoint to resume (no ${CHECKPOINT_FILE} there)`);
  if (!resume && prior)
    throw new UserError(
      `${dir} already holds a checkpoint (step ${prior.meta.position.step}); add --resume to continue it, or choose another directory`,
    );
}

async function makeTrainer(file: string, opts: TrainOptions, s: RunSettings): Promise<Trainer> {
  const common = {
    ...(opts.model !== undefined && { model: opts.model }),
    seed: s.seed,
    ...(opts.paramsIn !== undefined && { paramsIn: opts.paramsIn }),
    ...(s.lr !== null && { lr: s.lr }),
  };
  if (s.target === 'reference') return referenceTrainer(file, common);
  return runtimeTrainer(file, {
    ...common,
    target: s.target,
    batch: s.batch,
    ...(opts.threads !== undefined && { threads: opts.threads }),
  });
}

interface RunContext {
  readonly file: string;
  readonly opts: TrainOptions;
  readonly out: Output;
  readonly trainer: Trainer;
  readonly settings: RunSettings;
  readonly prior: Checkpoint | undefined;
  readonly train: LoadedData;
  readonly evalSet: LoadedData | undefined;
  readonly classifier: Classifier | undefined;
}

async function run(r: RunContext): Promise<number> {
  const { opts, out, trainer, settings, prior } = r;
  const data = r.train.dataset;
  const plan = planRun(data.n, settings);
  const sha = opts.checkpoint === undefined ? '' : fingerprint(data);
  const start = await startingPoint(r, plan, sha);
  header(r, plan, start);
  if (start.position.step >= plan.total) {
    out.stdout(
      `nothing to do: the checkpoint is at step ${start.position.step} of ${plan.total}; ask for more with --epochs or --steps\n`,
    );
    await writeParams(r);
    return 0;
  }
  const reporter = makeReporter(out, plan.bySteps);
  const log = opts.log === undefined ? undefined : JsonlLog.open(opts.log, prior?.meta.position.step);
  const elapsed0 = prior?.meta.elapsedSeconds ?? 0;
  const now = () => performance.now() / 1000;
  const t0 = now();
  const save =
    opts.checkpoint === undefined
      ? undefined
      : saver(opts.checkpoint, trainer, settings, { examples: data.n, sha256: sha }, () => elapsed0 + now() - t0);
  const interrupt = watchInterrupt((signal) =>
    reporter.note(`${signal}: stopping after this step${opts.checkpoint ? ' and saving a checkpoint' : ''}`),
  );
  let result: LoopResult;
  try {
    result = await trainLoop({
      trainer,
      data,
      evalData: r.evalSet?.dataset,
      classifier: r.classifier,
      settings,
      plan,
      start,
      reporter,
      log,
      save,
      interrupt,
      now,
    });
  } finally {
    interrupt.dispose();
    reporter.stop();
    log?.close();
  }
  if (opts.plot !== undefined)
    writeFileAtomic(opts.plot, plotSvg(start.history, `${trainer.name}: ${data.source} (${trainer.target})`));
  return finish(r, plan, start, result, now() - t0);
}

/** Where the run starts: the checkpoint's position (data checked), or step 0. */
async function startingPoint(r: RunContext, plan: Plan, sha: string): Promise<Snapshot> {
  const { prior, trainer, settings } = r;
  const data = r.train.dataset;
  if (!prior)
    return {
      position: { step: 0, epoch: 0, batch: 0, epochLossSum: 0, epochSeen: 0 },
      order: orderFor(settings, data.n, 0),
      history: History.empty(),
    };
  const path = checkpointPath(r.opts.checkpoint!);
  const m = prior.meta;
  if (m.data.examples !== data.n || m.data.sha256 !== sha)
    throw new UserError(
      `${path}: the checkpoint was trained on other data (${m.data.examples} examples, fingerprint ${m.data.sha256.slice(0, 12)}); ${data.source} has ${data.n} examples, fingerprint ${sha.slice(0, 12)}`,
    );
  if (m.position.batch > plan.perEpoch)
    throw new UserError(`${path}: the checkpoint's position (batch ${m.position.batch}) is past the epoch's end`);
  await trainer.restore(prior.tensors, m.position.step, path);
  return {
    position: m.position,
    order: m.order === null ? undefined : Int32Array.from(m.order),
    history: History.fromJson(m.history),
  };
}

function header(r: RunContext, plan: Plan, start: Snapshot): void {
  const { out, trainer, settings } = r;
  const data = r.train.dataset;
  const epochs = plan.bySteps ? '' : ` (${plan.epochs} epoch${plan.epochs === 1 ? '' : 's'})`;
  out.stdout(
    `training ${trainer.name} on ${data.n} examples: ${plan.total} steps of batch ${plan.batch}${epochs}${settings.shuffle ? '' : ', in order'}\n`,
  );
  if (r.train.origin) out.stdout(`  data: ${data.source} (${r.train.origin})\n`);
  const ev = r.evalSet;
  if (ev)
    out.stdout(
      `  eval: ${ev.dataset.source}${ev.origin ? ` (${ev.origin})` : ''}, ${ev.dataset.n} examples${r.classifier ? `, accuracy of '${r.classifier.scores}' over ${r.classifier.classes} classes` : ''}\n`,
    );
  const p = start.position;
  if (r.prior)
    out.stdout(
      `  resuming from ${checkpointPath(r.opts.checkpoint!)} at step ${p.step} (epoch ${p.epoch + 1}, batch ${p.batch + 1} of ${plan.perEpoch})\n`,
    );
}

function makeReporter(out: Output, bySteps: boolean): Reporter {
  // Only the real process output can be a terminal; tests and pipes get plain lines.
  if (out === processOutput && process.stderr.isTTY) return barReporter(out, process.stderr, !process.stdout.isTTY);
  return plainReporter(out, bySteps, () => performance.now() / 1000);
}

function saver(
  dir: string,
  trainer: Trainer,
  settings: RunSettings,
  data: { examples: number; sha256: string },
  elapsed: () => number,
): (reason: 'epoch' | 'end' | 'interrupt', s: Snapshot) => Promise<void> {
  return async (reason, s) => {
    const tensors = await trainer.state();
    saveCheckpoint(dir, {
      tensors,
      meta: {
        format: 'kiln-checkpoint',
        version: 1,
        model: trainer.name,
        settings,
        position: s.position,
        data,
        order: s.order ? Array.from(s.order) : null,
        history: s.history.toJson(),
        elapsedSeconds: elapsed(),
        reason,
      },
    });
  };
}

async function finish(
  r: RunContext,
  plan: Plan,
  start: Snapshot,
  result: LoopResult,
  seconds: number,
): Promise<number> {
  const { opts, out, trainer } = r;
  const end = result.end;
  const ckpt = opts.checkpoint;
  if (end.kind === 'diverged' || end.kind === 'nonfinite') {
    const kept = ckpt === undefined ? undefined : readCheckpoint(ckpt);
    const note = keptNote(kept && ckpt, kept?.meta.position.step);
    const checked = !nonfiniteAllowed();
    throw new UserError(
      end.kind === 'diverged' ? divergedMessage(end, note, checked) : nonfiniteMessage(end, note, checked),
    );
  }
  if (end.kind === 'interrupted') {
    out.stdout(
      `interrupted at step ${end.step}: ${ckpt === undefined ? 'nothing saved (no --checkpoint)' : `checkpoint saved in ${ckpt}; continue with --resume`}\n`,
    );
    return INTERRUPTED_STATUS;
  }
  const wrote: string[] = [];
  if (await writeParams(r)) wrote.push(`${opts.paramsOut} (params)`);
  if (ckpt !== undefined) wrote.push(`${checkpointPath(ckpt)} (checkpoint)`);
  if (opts.log !== undefined) wrote.push(`${opts.log} (log)`);
  if (opts.plot !== undefined) wrote.push(`${opts.plot} (plot)`);
  if (end.lastLoss !== undefined) out.stdout(`final loss ${fmtLoss(end.lastLoss)}\n`);
  out.stdout(
    summaryTable({
      model: trainer.name,
      target: trainer.target,
      data: r.train.dataset.source,
      examples: r.train.dataset.n,
      steps: plan.total,
      epochs: plan.epochs,
      batch: plan.batch,
      ranSteps: result.ranSteps,
      ranExamples: result.ranExamples,
      seconds,
      last: start.history.epochs.at(-1),
      evalExamples: r.evalSet?.dataset.n,
      outputs: wrote,
    }),
  );
  return 0;
}

/** `--params-out`: the params alone; whether it was asked for. */
async function writeParams(r: RunContext): Promise<boolean> {
  const path = r.opts.paramsOut;
  if (path === undefined) return false;
  const params = await r.trainer.params({ eval: r.opts.evalParams === true });
  try {
    writeSafetensorsFile(path, params);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  r.out.stdout(`wrote the params to ${path}\n`);
  return true;
}
