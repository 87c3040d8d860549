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
import { type GenerateOptions, MAX_B, generate } from './generate.js';
import {
  type Case,
  type Failure,
  type OracleOptions,
  caseInputs,
  mutate,
  neverCrash,
  randomBytes,
  runOracles,
  sameFailure,
} from './oracles.js';
import { type FileMutant, type FileMutantOptions, fileMutantOracle } from './mutate-files.js';
import { shrink } from './shrink.js';

export interface ProgramResult {
  readonly index: number;
  readonly seed: number;
  readonly builtins: readonly string[];
  readonly failure?: Failure;
  /** The case that failed (the generated program, or the malformed text for a never-crash failure). */
  readonly failed?: Case;
  /** The damaged file of a file-mutant failure. */
  readonly mutant?: FileMutant;
}

/** The seed of program `index` of a campaign seeded `seed`. */
export function programSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return (h ^ (h >>> 15)) >>> 0;
}

export async function fuzzOne(
  seed: number,
  index: number,
  opts: OracleOptions & GenerateOptions = {},
): Promise<ProgramResult> {
  const s = programSeed(seed, index);
  const g = generate(s, opts);
  const c: Case = { source: g.source, dataSeed: s, batch: 1 + (s % MAX_B) };
  let built: FileMutantOptions['built'];
  const failure = await runOracles(c, { ...opts, onArtifact: (artifact, inputs) => (built = { artifact, inputs }) });
  if (failure) return { index, seed: s, builtins: g.builtins, failure, failed: c };
  const text = index % 4 === 3 ? randomBytes(s, 1 + (s % 200)) : mutate(g.source, s);
  const crash = await neverCrash(text);
  if (crash) return { index, seed: s, builtins: g.builtins, failure: crash, failed: { ...c, source: text } };
  const part = index % 2 === 0 ? 'artifact' : 'data';
  const damaged = await fileMutantOracle(c, s, { part, ...(built && { built }) });
  if (damaged) {
    const { mutant, ...failure } = damaged;
    return { index, seed: s, builtins: g.builtins, failure, failed: c, mutant };
  }
  return { index, seed: s, builtins: g.builtins };
}

/** Shrinks a failing generated program to a smaller one that fails the same way. */
export async function shrinkFailure(c: Case, failure: Failure, maxTries = 300): Promise<string> {
  // A program that does not check cannot be told apart from its broken shrinks;
  // a malformed text is kept as it is, and so is the program of a damaged file.
  if (failure.kind === 'check' || /^(front end|compile mutant|artifact mutant|data mutant)/.test(failure.where))
    return c.source;
  const r = await shrink(
    c.source,
    async (cand) => {
      const f = await runOracles({ ...c, source: cand });
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
