// The final summary: a two-column table of what the run did and reached.

import type { EpochRecord } from './history.js';
import { fmtLoss, fmtPercent } from './progress.js';
import { formatSeconds } from './throughput.js';

export interface SummaryFacts {
  readonly model: string;
  readonly target: string;
  readonly data: string;
  readonly examples: number;
  readonly steps: number;
  readonly epochs: number;
  readonly batch: number;
  /** Steps and seconds of this invocation (a resumed run counts its own). */
  readonly ranSteps: number;
  readonly ranExamples: number;
  readonly seconds: number;
  readonly last: EpochRecord | undefined;
  readonly evalExamples: number | undefined;
  readonly outputs: readonly string[];
}

export function summaryTable(f: SummaryFacts): string {
  const rows: [string, string][] = [
    ['model', `${f.model} (${f.target})`],
    ['data', `${f.data} (${f.examples} examples)`],
    ['steps', `${f.steps} (${f.epochs} epoch${f.epochs === 1 ? '' : 's'}, batch ${f.batch})`],
    [
      'time',
      `${formatSeconds(f.seconds)} for ${f.ranSteps} step${f.ranSteps === 1 ? '' : 's'}` +
        (f.seconds > 0 ? ` (${Math.round(f.ranExamples / f.seconds)} examples/s)` : ''),
    ],
  ];
  const last = f.last;
  if (last)
    rows.push([
      'train loss',
      `${fmtLoss(last.loss)} (mean over epoch ${last.epoch}${last.partial ? ', partial' : ''})`,
    ]);
  if (last?.evalLoss !== undefined) rows.push(['eval loss', `${fmtLoss(last.evalLoss)} (${f.evalExamples} examples)`]);
  if (last?.evalAccuracy !== undefined) rows.push(['eval accuracy', fmtPercent(last.evalAccuracy)]);
  for (const o of f.outputs) rows.push(['wrote', o]);
  return table(rows);
}

export function table(rows: readonly [string, string][]): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const rule = `+${'-'.repeat(w0 + 2)}+${'-'.repeat(w1 + 2)}+`;
  return [rule, ...rows.map(([a, b]) => `| ${a.padEnd(w0)} | ${b.padEnd(w1)} |`), rule, ''].join('\n');
}
