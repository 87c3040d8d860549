// What the user sees while training. On a terminal (stderr a TTY) a
// cli-progress bar with the epoch, step, loss, examples/s and ETA, epoch
// lines printed above it; otherwise plain lines on stdout: about 50 step lines
// with --steps, one per epoch with --epochs (and a progress line every
// PLAIN_EVERY_S seconds within long epochs), and the eval results.

import cliProgress from 'cli-progress';
import type { Output } from '../output.js';
import type { EpochRecord } from './history.js';
import { formatSeconds } from './throughput.js';

export interface StepInfo {
  readonly step: number;
  readonly total: number;
  /** 1-based. */
  readonly epoch: number;
  readonly epochs: number;
  readonly loss: number;
  /** Mean loss over the epoch so far. */
  readonly epochLoss: number;
  readonly examplesPerSecond: number;
  readonly etaSeconds: number | undefined;
}

export interface Reporter {
  /** The run starts (or resumes) at `step` of `total`. */
  start(step: number, total: number): void;
  step(info: StepInfo): void;
  epoch(record: EpochRecord, epochs: number): void;
  /** A message line (checkpoint saved, stopping, ...). */
  note(line: string): void;
  stop(): void;
}

export const PLAIN_EVERY_S = 10;
/** Off a terminal a --steps run prints about this many step lines (CLI.md v1.1: quiet off a terminal). */
export const PLAIN_STEP_LINES = 50;

export function fmtLoss(x: number): string {
  return x.toPrecision(6);
}

export function fmtPercent(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function epochLines(r: EpochRecord, epochs: number, withLoss: boolean): string[] {
  const lines = withLoss ? [`epoch ${r.epoch}/${epochs}  loss ${fmtLoss(r.loss)}`] : [];
  if (r.evalLoss !== undefined)
    lines.push(
      `  eval loss ${fmtLoss(r.evalLoss)}${r.evalAccuracy === undefined ? '' : `  accuracy ${fmtPercent(r.evalAccuracy)}`}`,
    );
  return lines;
}

/** Plain lines on stdout; `perStep` (--steps) prints every step, else every epoch. */
export function plainReporter(out: Output, perStep: boolean, now: () => number): Reporter {
  let lastLine = now();
  return {
    start: () => undefined,
    step: (s) => {
      if (perStep) {
        // About PLAIN_STEP_LINES lines whatever the step count: the first, the last, every k-th.
        const every = Math.max(1, Math.ceil(s.total / PLAIN_STEP_LINES));
        if (s.step === 1 || s.step === s.total || s.step % every === 0)
          out.stdout(`step ${s.step}/${s.total}  loss ${fmtLoss(s.loss)}\n`);
        return;
      }
      if (now() - lastLine < PLAIN_EVERY_S) return;
      lastLine = now();
      out.stdout(
        `  epoch ${s.epoch}/${s.epochs}  step ${s.step}/${s.total}  loss ${fmtLoss(s.epochLoss)}  ${Math.round(s.examplesPerSecond)} examples/s  ETA ${formatSeconds(s.etaSeconds ?? NaN)}\n`,
      );
    },
    epoch: (r, epochs) => {
      lastLine = now();
      for (const line of epochLines(r, epochs, !perStep)) out.stdout(`${line}\n`);
    },
    note: (line) => out.stdout(`${line}\n`),
    stop: () => undefined,
  };
}

/** The progress bar on stderr; epoch lines above it (and on stdout too when that is not the terminal). */
export function barReporter(out: Output, stream: NodeJS.WriteStream, copyToStdout: boolean): Reporter {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: 'epoch {epoch}/{epochs} {bar} step {value}/{total} | loss {loss} | {rate} ex/s | ETA {eta_formatted}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  const say = (line: string) => {
    multi.log(`${line}\n`);
    if (copyToStdout) out.stdout(`${line}\n`);
  };
  return {
    start: (step, total) => {
      bar = multi.create(total, step, { epoch: '-', epochs: '-', loss: '-', rate: '-' });
    },
    step: (s) =>
      bar?.update(s.step, {
        epoch: s.epoch,
        epochs: s.epochs,
        loss: fmtLoss(s.epochLoss),
        rate: Math.round(s.examplesPerSecond),
      }),
    epoch: (r, epochs) => {
      for (const line of epochLines(r, epochs, true)) say(line);
    },
    note: say,
    stop: () => {
      multi.update(); // flushes the lines logged since the last redraw
      multi.stop();
    },
  };
}
