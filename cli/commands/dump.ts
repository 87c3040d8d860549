// `kiln dump FILE --stage ...`: print a compiler stage. With --train the
// graph is the whole training step (forward, gradients, optimizer update);
// with --entry jvp or vjp, the model's forward or reverse derivative (the
// program of that artifact entry). The text is api/stages.ts's, as the
// library's `dump` returns it; this checks the options and loads the model.

import { DUMP_ENTRIES, type DumpEntry, STAGES, type Stage, StageError, renderStage } from '../../api/stages.js';
import { isTargetName } from '../../compiler/target.js';
import { UserError, UsageError } from '../errors.js';
import { defaultScalarOutput, loadModel } from '../model.js';
import type { Output } from '../output.js';

export interface DumpOptions {
  readonly stage: string;
  readonly train: boolean;
  readonly model?: string;
  readonly target?: string;
  readonly explainFusion?: boolean;
  readonly passes?: boolean;
  readonly verbose?: boolean;
  readonly dims?: string;
  /** run | step | jvp | vjp (step is --train). */
  readonly entry?: string;
}

/** --entry, or step with --train; bad usage for an unknown name or both disagreeing. */
function entryOf(opts: DumpOptions): DumpEntry {
  if (opts.entry === undefined) return opts.train ? 'step' : 'run';
  if (!(DUMP_ENTRIES as readonly string[]).includes(opts.entry))
    throw new UsageError(`--entry: unknown entry '${opts.entry}' (expected ${DUMP_ENTRIES.join(', ')})`);
  if (opts.train && opts.entry !== 'step') throw new UsageError(`--train shows the step entry, not ${opts.entry}`);
  return opts.entry as DumpEntry;
}

/** `B=32,T=8` -> a dims map. */
export function parseDims(s: string | undefined): Map<string, number> | undefined {
  if (s === undefined) return undefined;
  const out = new Map<string, number>();
  for (const part of s.split(',')) {
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--dims expects NAME=SIZE pairs like B=32,T=8, got '${part}'`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export async function dumpCommand(file: string, opts: DumpOptions, out: Output): Promise<number> {
  if (!(STAGES as readonly string[]).includes(opts.stage))
    throw new UsageError(`unknown stage '${opts.stage}' (expected ${STAGES.join(', ')})`);
  const stage = opts.stage as Stage;
  const dims = parseDims(opts.dims);
  const entry = entryOf(opts);
  const target = opts.target ?? 'wasm';
  if (stage === 'kernels' && !isTargetName(target)) throw new UsageError(`unknown target '${target}'`);
  const lm = loadModel(file, opts.model);
  // The gradient's output as the other commands pick it, with their messages.
  const of = stage === 'grad' && entry === 'run' ? defaultScalarOutput(lm, undefined) : undefined;
  try {
    out.stdout(
      await renderStage(
        { model: lm.model, train: lm.train, program: lm.loaded.program, result: lm.loaded.result },
        {
          stage,
          entry,
          ...(isTargetName(target) && { target }),
          ...(dims && { dims }),
          ...(opts.verbose && { verbose: true }),
          ...(opts.explainFusion && { explainFusion: true }),
          ...(opts.passes && { passes: true }),
          ...(of !== undefined && { of }),
        },
      ),
    );
  } catch (e) {
    if (e instanceof StageError) throw new UserError(`${lm.path}: ${e.message}`);
    throw e;
  }
  return 0;
}
