// `compile`: a source's model to an artifact in memory (the files `kiln
// compile` writes, as values), which `loadArtifact` of kiln/runtime runs
// as it is, `writeArtifact` writes as a directory and `artifactTypes`
// describes in TypeScript.

import { diag } from '../dsl/source.js';
import { ENTRY_NAMES, type EntryName } from '../runtime/manifest.js';
import {
  type Artifact,
  MANIFEST_FILE,
  compileArtifact,
  writeArtifact as writeFiles,
  writeFileAtomically,
} from '../targets/artifact.js';
import { DTS_FILE, type DtsOptions, artifactDeclarations } from '../targets/dts.js';
import { toDiagnostic } from './diagnostics.js';
import { type Failure, type ModelOptions, isFailure, pickModel } from './source.js';

export type { Artifact };

export interface CompileOptions extends ModelOptions {
  /** Where the kernels will run (default wasm). */
  readonly target?: 'wasm' | 'webgpu';
  /** What the artifact can do (default: `run`, and `step` for a model with a train block). */
  readonly entries?: readonly EntryName[];
  /** Seed of the initial params (default 0). */
  readonly seed?: number;
  /** wasm: fused multiply-add through relaxed SIMD; the artifact then needs an engine that has it. */
  readonly relaxedSimd?: boolean;
  /** wasm: shared memory, so the runtime may run kernels on worker threads (default true). */
  readonly threads?: boolean;
}

export type CompileResult =
  { readonly ok: true; readonly artifact: Artifact; readonly diagnostics: readonly [] } | Failure;

function checkOptions(opts: CompileOptions): void {
  if (opts.target !== undefined && opts.target !== 'wasm' && opts.target !== 'webgpu')
    throw new TypeError(`kiln: unknown target '${String(opts.target)}' (expected wasm or webgpu)`);
  for (const e of opts.entries ?? [])
    if (!(ENTRY_NAMES as readonly string[]).includes(e))
      throw new TypeError(`kiln: unknown entry '${String(e)}' (expected ${ENTRY_NAMES.join(', ')})`);
  if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed))
    throw new TypeError(`kiln: the seed must be an integer, got ${String(opts.seed)}`);
}

/**
 * Compiles a model of `source` for a target. Errors in the source, an
 * unknown model and an entry the model cannot have come back as
 * diagnostics; options of the wrong kind throw a TypeError.
 */
export async function compile(source: string, opts: CompileOptions = {}): Promise<CompileResult> {
  checkOptions(opts);
  const picked = pickModel(source, opts);
  if (isFailure(picked)) return picked;
  const { model, train } = picked;
  const refuse = (message: string): Failure => ({ ok: false, diagnostics: [toDiagnostic(diag(model.span, message))] });
  const entries = opts.entries && ENTRY_NAMES.filter((e) => opts.entries!.includes(e));
  if (entries?.includes('step') && !train) return refuse(`model '${model.name}' has no train block, so no step entry`);
  const artifact = await compileArtifact(model, train, {
    target: opts.target ?? 'wasm',
    seed: opts.seed ?? 0,
    relaxedSimd: opts.relaxedSimd ?? false,
    threads: opts.threads ?? true,
    ...(entries && { entries }),
  });
  if (entries?.includes('step') && !artifact.manifest.train)
    return refuse(`cannot compile the step entry: ${artifact.notes.join('; ')}`);
  return { ok: true, artifact, diagnostics: [] };
}

/** The artifact's files by name (`manifest.json`, the code file, the params), as `writeArtifact` writes them. */
export function artifactFiles(artifact: Artifact): Record<string, Uint8Array> {
  return {
    [MANIFEST_FILE]: new TextEncoder().encode(`${JSON.stringify(artifact.manifest, null, 1)}\n`),
    [artifact.manifest.files.code]: artifact.code,
    [artifact.manifest.files.params]: artifact.params,
  };
}

/** The artifact's TypeScript declarations (what `kiln compile --dts` writes): see targets/dts.ts. */
export function artifactTypes(artifact: Artifact, opts: DtsOptions = {}): string {
  return artifactDeclarations(artifact.manifest, opts);
}

export interface WriteOptions {
  /** Also write the declarations: `true` for `DIR/model.d.ts`, or their path. */
  readonly dts?: boolean | string;
}

/** Writes the artifact as a directory the runtime loads (created if needed; each file atomically, the manifest last). */
export async function writeArtifact(artifact: Artifact, dir: string, opts: WriteOptions = {}): Promise<void> {
  await writeFiles(dir, artifact);
  if (opts.dts === undefined || opts.dts === false) return;
  const { join } = await import('node:path');
  const path = opts.dts === true ? join(dir, DTS_FILE) : opts.dts;
  await writeFileAtomically(path, new TextEncoder().encode(artifactTypes(artifact)));
}
