// `kiln compile FILE --target wasm|webgpu -o DIR [--entries run,step,jvp,vjp] [--dts [PATH]]`:
// write an artifact (manifest.json, the code — a wasm module or the WGSL
// shaders — and the initial params as safetensors) that the runtime loads
// without the compiler, with the programs of the entries asked for (default:
// `run`, and `step` for a model with a train block). `--dts` also writes the
// artifact's TypeScript declarations (targets/dts.ts), by default as
// DIR/model.d.ts.

import { realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ENTRY_NAMES, type EntryName } from '../../runtime/manifest.js';
import { type Artifact, compileArtifact, writeArtifact, writeFileAtomically } from '../../targets/artifact.js';
import { DTS_FILE, artifactDeclarations, typeNameOf } from '../../targets/dts.js';
import { UsageError, UserError } from '../errors.js';
import type { ModelContract } from '../../compiler/model.js';
import { type LoadedModel, loadModel } from '../model.js';
import { gradCamView } from './grad-cam-view.js';
import type { Output } from '../output.js';
import { checkTarget } from '../options.js';

export interface CompileOptions {
  readonly out: string;
  readonly target: string;
  readonly model?: string;
  readonly seed: number;
  readonly relaxedSimd?: boolean;
  /** Shared memory, so the runtime may use worker threads (default true). */
  readonly threads?: boolean;
  /** Comma-separated entry names. */
  readonly entries?: string;
  /** Compile the model's Grad-CAM view through this layer instead (with `of`). */
  readonly gradCam?: string;
  readonly of?: string;
  /** Also write the artifact's .d.ts: `true` for DIR/model.d.ts, or its path. */
  readonly dts?: boolean | string;
}

function dtsPath(opts: CompileOptions): string | undefined {
  if (opts.dts === undefined || opts.dts === false) return undefined;
  return opts.dts === true ? join(opts.out, DTS_FILE) : opts.dts;
}

/** Bad usage when the .d.ts would replace the source or a directory; before any work. */
function checkDtsPath(path: string, file: string): void {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  if (real(path) === real(file)) throw new UsageError(`--dts ${path} would overwrite ${file}, the source`);
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    // a path that does not exist yet is written
  }
  if (dir) throw new UsageError(`--dts ${path} is a directory; give the .d.ts file's path`);
}

/**
 * `run,jvp` -> the entries, each once, in ENTRY_NAMES order; bad usage for an
 * unknown name. `attribute` stands for what attribution runs: `run` and `vjp`.
 */
export function parseEntries(s: string): EntryName[] {
  const names = s.split(',').flatMap((x) => (x.trim() === 'attribute' ? ['run', 'vjp'] : [x.trim()]));
  for (const n of names)
    if (!(ENTRY_NAMES as readonly string[]).includes(n))
      throw new UsageError(
        `--entries: unknown entry '${n}' (valid entries: ${ENTRY_NAMES.join(', ')}, and attribute for run,vjp; e.g. --entries run,jvp)`,
      );
  return ENTRY_NAMES.filter((e) => names.includes(e));
}

export async function compileCommand(file: string, opts: CompileOptions, out: Output): Promise<number> {
  if (opts.target === 'reference')
    throw new UsageError("compile writes code for a device: --target wasm or webgpu ('reference' is the interpreter)");
  checkTarget(opts.target);
  const entries = opts.entries === undefined ? undefined : parseEntries(opts.entries);
  const dts = dtsPath(opts);
  if (dts !== undefined) checkDtsPath(dts, file);
  const lm = loadModel(file, opts.model);
  if ((opts.gradCam === undefined) !== (opts.of === undefined))
    throw new UsageError('--grad-cam LAYER and --of OUTPUT go together: the Grad-CAM view of a layer for an output');
  if (opts.gradCam !== undefined) {
    if (entries !== undefined) throw new UsageError('a Grad-CAM view has one entry, run: leave out --entries');
    const view = gradCamView(lm.model, opts.gradCam, opts.of!);
    return compileAndWrite(file, { ...lm, model: view, train: undefined }, opts, ['run'], out);
  }
  if (entries?.includes('step') && !lm.train)
    throw new UserError(
      `${file}: model '${lm.model.name}' has no train block, so it has no step entry (compile it with --entries ${entries.filter((e) => e !== 'step').join(',') || 'run'})`,
    );
  return compileAndWrite(file, lm, opts, entries, out);
}

async function compileAndWrite(
  file: string,
  lm: { readonly model: ModelContract; readonly train: LoadedModel['train'] },
  opts: CompileOptions,
  entries: EntryName[] | undefined,
  out: Output,
): Promise<number> {
  const artifact = await compileArtifact(lm.model, lm.train, {
    target: opts.target === 'webgpu' ? 'webgpu' : 'wasm',
    seed: opts.seed,
    relaxedSimd: opts.relaxedSimd ?? false,
    threads: opts.threads ?? true,
    ...(entries && { entries }),
  });
  if (entries?.includes('step') && !artifact.manifest.train)
    throw new UserError(`${file}: cannot compile the step entry: ${artifact.notes.join('; ')}`);
  await writing(`the artifact to ${opts.out}`, () => writeArtifact(opts.out, artifact));
  const dts = dtsPath(opts);
  if (dts !== undefined) await writeDeclarations(dts, artifact);
  const { manifest } = artifact;
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  out.stdout(
    `wrote ${opts.out}: manifest.json, ${manifest.files.code} (${kib(artifact.code.length)}), ` +
      `${manifest.files.params} (${manifest.params.length} tensors, ${kib(artifact.params.length)})\n`,
  );
  if (manifest.forward) out.stdout(`  forward: ${manifest.forward.kernels.length} kernels\n`);
  if (manifest.train)
    out.stdout(
      `  training step: ${manifest.train.program.kernels.length} kernels (${manifest.train.optimizer.name}, minimize ${manifest.train.loss})\n`,
    );
  if (manifest.train?.plain)
    out.stdout(
      `  training step without a curvature refresh: ${manifest.train.plain.program.kernels.length} kernels (steps t with (t - 1) % ${manifest.train.plain.every} != 0)\n`,
    );
  if (manifest.jvp)
    out.stdout(
      `  jvp: ${manifest.jvp.program.kernels.length} kernels (tangents for ${namesOf(manifest.jvp.inputs, 'tangent.')})\n`,
    );
  if (manifest.vjp)
    out.stdout(
      `  vjp: ${manifest.vjp.program.kernels.length} kernels (cotangents for ${namesOf(manifest.vjp.inputs, 'cotangent.')})\n`,
    );
  for (const n of artifact.notes) out.stdout(`  note: ${n}\n`);
  if (dts !== undefined)
    out.stdout(`wrote ${dts}: the types of the inputs, outputs and params (type ${typeNameOf(manifest.model)})\n`);
  return 0;
}

async function writeDeclarations(path: string, artifact: Artifact): Promise<void> {
  const text = artifactDeclarations(artifact.manifest);
  await writing(path, () => writeFileAtomically(path, new TextEncoder().encode(text)));
}

/** Runs a write, turning a failure into a one-line user error naming `what`. */
async function writing(what: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? 'a file is in the way of the directory'
          : code === 'ENOENT'
            ? 'no such directory'
            : code === 'ENOSPC'
              ? 'no space left on the device'
              : (e as Error).message;
    throw new UserError(`cannot write ${what}: ${why}`);
  }
}

/** The names after `prefix` of the tensors that have it (`none` when there are none). */
function namesOf(ts: readonly { readonly name: string }[], prefix: string): string {
  const names = ts.filter((t) => t.name.startsWith(prefix)).map((t) => t.name.slice(prefix.length));
  return names.join(', ') || 'none';
}
