// One fuzzing step and what a campaign does with a failure. A program's seed
// is a hash of the campaign seed and its index, so any program of a campaign
// can be regenerated alone; every program also feeds one malformed text
// (a mutant of its source, or random bytes) to the never-crash oracle, and
// one damaged file (its artifact or its inputs as a data file, alternately)
// to the file-mutant oracle (mutate-files.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSource } from '../dsl/frontend.js';
import type { Tensor } from '../runtime/executor.js';
import { type StTensor, encodeSafetensors } from '../runtime/safetensors.js';
import type { KernelProgram } from '../compiler/kernel/kir.js';
import { type KernelCoverage, kernelCoverage } from './coverage.js';
import { type GenerateOptions, type Generated, MAX_B, generate } from './generate.js';
import {
  type Case,
  type Failure,
  type OracleOptions,
  caseInputs,
  mutate,
  fwdrevStats,
  neverCrash,
  randomBytes,
  runOracles,
  sameFailure,
} from './oracles.js';
import { type FileMutant, type FileMutantOptions, fileMutantOracle } from './mutate-files.js';
import { shrink } from './shrink.js';
import { candidateSeed } from './steer.js';

export interface ProgramResult {
  readonly index: number;
  readonly seed: number;
  readonly builtins: readonly string[];
  /** Fused op pairs and kernel templates its compiled programs reached (none when it failed before compiling). */
  readonly kernels: KernelCoverage;
  readonly failure?: Failure;
  /** The case that failed (the generated program, or the malformed text for a never-crash failure). */
  readonly failed?: Case;
  /** Forward and reverse mode met a singular point (one NaN, one finite): not compared (oracles.ts fwdrev). */
  readonly singular?: boolean;
  /** Why the target under test cleanly refused the program (webgpu: a device limit, say), which was then skipped. */
  readonly refused?: string;
  /** The damaged file of a file-mutant failure. */
  readonly mutant?: FileMutant;
}

/** The seed of program `index` of a campaign seeded `seed`, unsteered. */
export function programSeed(seed: number, index: number): number {
  return candidateSeed(seed, index);
}

/**
 * Program `index` of a campaign seeded `seed` through every oracle: `program` when given (a steered
 * choice, see steer.ts), else the unsteered program of that index.
 */
export async function fuzzOne(
  seed: number,
  index: number,
  opts: OracleOptions & GenerateOptions = {},
  program?: Generated,
): Promise<ProgramResult> {
  const g = program ?? generate(programSeed(seed, index), opts);
  const s = g.seed;
  const c: Case = { source: g.source, dataSeed: s, batch: 1 + (s % MAX_B) };
  let kernels: KernelCoverage = { pairs: [], templates: [] };
  let refused: string | undefined;
  let built: FileMutantOptions['built'];
  const singularBefore = fwdrevStats.singular;
  const failure = await runOracles(c, {
    ...opts,
    onKernels: (ps: readonly KernelProgram[]) => (kernels = kernelCoverage(ps)),
    onRefusal: (why) => (refused = why),
    onArtifact: (artifact, inputs) => (built = { artifact, inputs }),
  });
  const result = {
    index,
    seed: s,
    builtins: g.builtins,
    kernels,
    ...(refused !== undefined && { refused }),
    ...(fwdrevStats.singular > singularBefore && { singular: true }),
  };
  if (failure) return { ...result, failure, failed: c };
  const text = index % 4 === 3 ? randomBytes(s, 1 + (s % 200)) : mutate(g.source, s);
  const crash = await neverCrash(text);
  if (crash) return { ...result, failure: crash, failed: { ...c, source: text } };
  const part = index % 2 === 0 ? 'artifact' : 'data';
  const damaged = await fileMutantOracle(c, s, { part, ...(built && { built }) });
  if (damaged) {
    const { mutant, ...failure } = damaged;
    return { ...result, failure, failed: c, mutant };
  }
  return result;
}

/**
 * Shrinks a failing generated program to a smaller one that fails the same way, under the
 * options it failed under (a webgpu failure shrinks against webgpu).
 */
export async function shrinkFailure(
  c: Case,
  failure: Failure,
  opts: OracleOptions = {},
  maxTries = 300,
): Promise<string> {
  // A program that does not check cannot be told apart from its broken shrinks;
  // a malformed text is kept as it is, and so is the program of a damaged file.
  if (failure.kind === 'check' || /^(front end|compile mutant|artifact mutant|data mutant)/.test(failure.where))
    return c.source;
  const r = await shrink(
    c.source,
    async (cand) => {
      const f = await runOracles({ ...c, source: cand }, opts);
      return f !== undefined && sameFailure(f, failure);
    },
    maxTries,
  );
  return r.source;
}

function stTensor(t: Tensor): StTensor {
  const dtype = t.data instanceof Float32Array ? 'F32' : t.data instanceof Int32Array ? 'I32' : 'BOOL';
  return { dtype, shape: [...t.shape], data: t.data };
}

/**
 * Writes `<dir>/<kind>-<seed>.kiln` (shrunk), `.orig.kiln`, `.safetensors`
 * (the inputs, when the program checks), `.mutant.<file>` (the damaged file
 * of a file-mutant failure, e.g. `.mutant.manifest.json`) and `.txt` (the
 * failure); returns the `.kiln` path.
 */
export async function writeFailure(dir: string, r: ProgramResult, shrunk: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const f = r.failure!;
  const c = r.failed!;
  const base = join(dir, `${f.kind}-${r.seed}`);
  writeFileSync(`${base}.kiln`, shrunk);
  writeFileSync(`${base}.orig.kiln`, c.source);
  const { result } = compileSource('shrunk.kiln', shrunk);
  const model = result.diagnostics.length === 0 ? result.models[0] : undefined;
  if (model) {
    const inputs = caseInputs(model, c);
    writeFileSync(
      `${base}.safetensors`,
      encodeSafetensors(new Map(Object.entries(inputs).map(([k, t]) => [k, stTensor(t)]))),
    );
  }
  const m = r.mutant;
  if (m) writeFileSync(`${base}.mutant.${m.file.replace(/^.*\//, '')}`, m.bytes);
  writeFileSync(
    `${base}.txt`,
    [
      `kind: ${f.kind}`,
      `where: ${f.where}`,
      `program: index ${r.index}, seed ${r.seed}; B = ${c.batch}, data seed ${c.dataSeed}`,
      ...(m
        ? [
            `damaged: ${m.part === 'artifact' ? 'artifact' : `${m.format} data`} file ${m.file} (${m.mutation}); the program compiled with \`kiln compile --seed 1 --no-threads\`, the rest of the files undamaged (fuzzOne ${r.index} regenerates them)`,
          ]
        : []),
      '',
      f.detail,
      '',
    ].join('\n'),
  );
  return `${base}.kiln`;
}
