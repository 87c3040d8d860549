// `kiln compile FILE --target wasm|webgpu -o DIR`: write an artifact
// (manifest.json, the code — a wasm module or the WGSL shaders — and the
// initial params as safetensors) that the runtime loads without the compiler.

import { compileArtifact, writeArtifact } from '../../targets/artifact.js';
import { UsageError, UserError } from '../errors.js';
import { loadModel } from '../model.js';
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
}

export async function compileCommand(file: string, opts: CompileOptions, out: Output): Promise<number> {
  if (opts.target === 'reference')
    throw new UsageError("compile writes code for a device: --target wasm or webgpu ('reference' is the interpreter)");
  checkTarget(opts.target);
  const lm = loadModel(file, opts.model);
  const artifact = await compileArtifact(lm.model, lm.train, {
    target: opts.target === 'webgpu' ? 'webgpu' : 'wasm',
    seed: opts.seed,
    relaxedSimd: opts.relaxedSimd ?? false,
    threads: opts.threads ?? true,
  });
  try {
    await writeArtifact(opts.out, artifact);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? 'a file is in the way of the directory'
          : code === 'ENOSPC'
            ? 'no space left on the device'
            : (e as Error).message;
    throw new UserError(`cannot write the artifact to ${opts.out}: ${why}`);
  }
  const { manifest } = artifact;
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  out.stdout(
    `wrote ${opts.out}: manifest.json, ${manifest.files.code} (${kib(artifact.code.length)}), ` +
      `${manifest.files.params} (${manifest.params.length} tensors, ${kib(artifact.params.length)})\n`,
  );
  out.stdout(`  forward: ${manifest.forward.kernels.length} kernels\n`);
  if (manifest.train)
    out.stdout(
      `  training step: ${manifest.train.program.kernels.length} kernels (${manifest.train.optimizer.name}, minimize ${manifest.train.loss})\n`,
    );
  for (const n of artifact.notes) out.stdout(`  note: ${n}\n`);
  return 0;
}
