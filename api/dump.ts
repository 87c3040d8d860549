// `dump`: a compiler stage of a source's model as text (what `kiln dump`
// prints), or the diagnostics.

import { diag } from '../dsl/source.js';
import { DUMP_ENTRIES, type DumpEntry, STAGES, type Stage, StageError, renderStage } from './stages.js';
import { toDiagnostic } from './diagnostics.js';
import { type Failure, type ModelOptions, isFailure, pickModel } from './source.js';

export { DUMP_ENTRIES, STAGES, type DumpEntry, type Stage };

export interface DumpOptions extends ModelOptions {
  /** ast | ir | grad | opt | kernels | wasm | wgsl. */
  readonly stage: Stage;
  /** The program: `run` (default, the forward pass), `step` (the training step), `jvp`, `vjp`. */
  readonly entry?: DumpEntry;
  /** The training step: the same as `entry: 'step'`. */
  readonly train?: boolean;
  /** kernels: whose limits to plan for (default wasm). */
  readonly target?: 'wasm' | 'webgpu';
  /** kernels: sizes evaluated at these symbolic dimensions, e.g. `{ B: 128 }`. */
  readonly dims?: Readonly<Record<string, number>>;
  /** kernels: every kernel as loop-nest pseudo-code. */
  readonly verbose?: boolean;
  /** kernels: why values were materialised and merges refused. */
  readonly explainFusion?: boolean;
  /** opt: what each rewrite pass did. */
  readonly passes?: boolean;
  /** grad: the scalar f32 output (default: the train block's minimize, or the only scalar f32 output). */
  readonly of?: string;
}

export type DumpResult = { readonly ok: true; readonly text: string; readonly diagnostics: readonly [] } | Failure;

function entryOf(opts: DumpOptions): DumpEntry {
  if (!(STAGES as readonly string[]).includes(opts.stage))
    throw new TypeError(`kiln: unknown stage '${String(opts.stage)}' (expected ${STAGES.join(', ')})`);
  if (opts.target !== undefined && opts.target !== 'wasm' && opts.target !== 'webgpu')
    throw new TypeError(`kiln: unknown target '${String(opts.target)}' (expected wasm or webgpu)`);
  const entry = opts.entry ?? (opts.train ? 'step' : 'run');
  if (!(DUMP_ENTRIES as readonly string[]).includes(entry))
    throw new TypeError(`kiln: unknown entry '${String(entry)}' (expected ${DUMP_ENTRIES.join(', ')})`);
  if (opts.train && entry !== 'step') throw new TypeError(`kiln: train shows the step entry, not ${entry}`);
  return entry;
}

/** One stage of one model of `source` as text. */
export async function dump(source: string, opts: DumpOptions): Promise<DumpResult> {
  const entry = entryOf(opts);
  const picked = pickModel(source, opts);
  if (isFailure(picked)) return picked;
  const { model, train, compiled } = picked;
  const refuse = (message: string): Failure => ({ ok: false, diagnostics: [toDiagnostic(diag(model.span, message))] });
  if (opts.of !== undefined) {
    const o = model.outputs.find((x) => x.name === opts.of);
    if (!o || o.type.dtype !== 'f32' || o.type.shape.length !== 0)
      return refuse(`model '${model.name}' has no scalar f32 output '${opts.of}' to differentiate`);
  }
  try {
    const text = await renderStage(
      { model, train, program: compiled.program, result: compiled.result },
      {
        stage: opts.stage,
        entry,
        ...(opts.target && { target: opts.target }),
        ...(opts.dims && { dims: new Map(Object.entries(opts.dims)) }),
        ...(opts.verbose && { verbose: true }),
        ...(opts.explainFusion && { explainFusion: true }),
        ...(opts.passes && { passes: true }),
        ...(opts.of !== undefined && { of: opts.of }),
      },
    );
    return { ok: true, text, diagnostics: [] };
  } catch (e) {
    if (e instanceof StageError) return refuse(e.message);
    throw e;
  }
}
