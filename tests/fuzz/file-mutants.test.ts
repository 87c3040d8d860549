// The file-mutant oracle (fuzz/mutate-files.ts): damaged artifacts and data
// files loaded by the CLI's own code in-process end in success or a
// user-facing error; a loader that throws anything else is reported as a
// crash naming the part (and data form) and the error's class; the mutants
// are deterministic, and the checksummed params get past their checksum.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../cli/errors.js';
import { compileSource } from '../../dsl/frontend.js';
import { compile } from '../../compiler/compile.js';
import { programSeed, writeFailure } from '../../fuzz/campaign.js';
import { MAX_B, generate } from '../../fuzz/generate.js';
import {
  type FileMutant,
  type FileMutantOptions,
  type LoadRequest,
  fileMutantOracle,
  kilnLoader,
} from '../../fuzz/mutate-files.js';
import { type Case, caseInputs } from '../../fuzz/oracles.js';
import { buildArtifact } from '../../targets/artifact.js';
import { wasmTarget } from '../../targets/wasm/target.js';

/** Program `i` of campaign 23, with its artifact built once. */
function program(i: number): { c: Case; built: NonNullable<FileMutantOptions['built']> } {
  const s = programSeed(23, i);
  const c: Case = { source: generate(s).source, dataSeed: s, batch: 1 + (s % MAX_B) };
  const { result } = compileSource('t.kiln', c.source);
  const model = result.models[0]!;
  const train = result.trains.find((t) => t.model === model.name);
  const artifact = buildArtifact(
    compile(model, train, { target: 'wasm' }),
    wasmTarget({ relaxedSimd: false, threads: false }),
    {
      seed: 1,
    },
  );
  return { c, built: { artifact, inputs: caseInputs(model, c) } };
}

const planted = (e: Error) => (): Promise<void> => Promise.reject(e);

describe('the file-mutant oracle', () => {
  it('30 seeded mutants of 3 programs (artifacts and data) load cleanly or are refused as user errors', async () => {
    const seen: { mutant: FileMutant; outcome: string }[] = [];
    // The CLI's loader, recording what it said of each mutant.
    const loader = async (req: LoadRequest): Promise<void> => {
      try {
        await kilnLoader(req);
        seen.push({ mutant: req.mutant, outcome: 'ok' });
      } catch (e) {
        seen.push({ mutant: req.mutant, outcome: (e as Error).message });
        throw e;
      }
    };
    for (let i = 0; i < 3; i++) {
      const { c, built } = program(i);
      for (let k = 0; k < 10; k++) {
        const f = await fileMutantOracle(c, 1000 * i + k, { built, loader });
        expect(f, f && `${f.where}\n${f.detail}`).toBeUndefined();
      }
    }
    expect(seen.length).toBe(30);
    expect(new Set(seen.map((s) => s.mutant.part))).toEqual(new Set(['artifact', 'data']));
    // Most are refused, by the layer each damage reaches.
    expect(seen.filter((s) => s.outcome !== 'ok').length).toBeGreaterThan(10);
    expect(new Set(seen.map((s) => s.outcome.replace(/\d+/g, 'N'))).size).toBeGreaterThan(10);
  }, 60_000);

  it('seals damaged params again, so that the checks behind the checksum see them', async () => {
    const { c, built } = program(1);
    const outcomes: string[] = [];
    const loader = async (req: LoadRequest): Promise<void> => {
      try {
        await kilnLoader(req);
        outcomes.push(`${req.mutant.mutation}: ok`);
      } catch (e) {
        outcomes.push(`${req.mutant.mutation}: ${(e as Error).message}`);
        throw e;
      }
    };
    for (let k = 0; outcomes.filter((o) => o.includes('sealed again')).length < 4 && k < 400; k++) {
      const r = await fileMutantOracle(c, 2 * k, {
        built,
        part: 'artifact',
        loader: (req) => (req.mutant.file === 'params.safetensors' ? loader(req) : Promise.resolve()),
      });
      expect(r).toBeUndefined();
    }
    const sealed = outcomes.filter((o) => o.includes('sealed again'));
    expect(sealed.length).toBe(4);
    for (const o of sealed) expect(o).not.toMatch(/checksum mismatch/);
  }, 60_000);

  it('reports a loader that throws a TypeError as a crash of the artifact mutant, with the damaged file', async () => {
    const { c, built } = program(0);
    const f = await fileMutantOracle(c, 4, { built, part: 'artifact', loader: planted(new TypeError('planted')) });
    expect(f?.kind).toBe('crash');
    expect(f?.where).toBe('artifact mutant: TypeError');
    expect(f?.detail).toContain('planted');
    expect(f?.mutant.part).toBe('artifact');
    expect(f?.detail.startsWith(`${f.mutant.file}: ${f.mutant.mutation}`)).toBe(true);
  });

  it('names the data form of a data mutant crash, and accepts user errors', async () => {
    const { c, built } = program(0);
    for (const format of ['safetensors', 'npy'] as const) {
      const f = await fileMutantOracle(c, 5, { built, part: 'data', format, loader: planted(new RangeError('x')) });
      expect(f?.where).toBe(`data mutant: ${format}: RangeError`);
      expect(f?.mutant.format).toBe(format);
      const ok = await fileMutantOracle(c, 5, { built, part: 'data', format, loader: planted(new UserError('bad')) });
      expect(ok).toBeUndefined();
    }
  });

  it('is deterministic: a seed gives the same damaged file, another seed another', async () => {
    const { c, built } = program(2);
    const mutant = async (seed: number) =>
      (await fileMutantOracle(c, seed, { built, loader: planted(new TypeError('t')) }))!.mutant;
    const a = await mutant(10);
    const b = await mutant(10);
    expect(b.file).toBe(a.file);
    expect(b.mutation).toBe(a.mutation);
    expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
    const others = await Promise.all([12, 14, 16].map(mutant));
    expect(others.some((o) => !Buffer.from(o.bytes).equals(Buffer.from(a.bytes)))).toBe(true);
  });

  it('a campaign failure writes the damaged file beside the program', async () => {
    const { c, built } = program(0);
    const f = await fileMutantOracle(c, 6, { built, part: 'artifact', loader: planted(new TypeError('planted')) });
    const { mutant, ...failure } = f!;
    const dir = mkdtempSync(join(tmpdir(), 'kiln-fm-'));
    const kiln = await writeFailure(
      dir,
      { index: 0, seed: c.dataSeed, builtins: [], kernels: { pairs: [], templates: [] }, failure, failed: c, mutant },
      c.source,
    );
    const base = kiln.slice(0, -'.kiln'.length);
    const name = mutant.file.replace(/^.*\//, '');
    expect(existsSync(`${base}.mutant.${name}`)).toBe(true);
    expect(Buffer.from(readFileSync(`${base}.mutant.${name}`)).equals(Buffer.from(mutant.bytes))).toBe(true);
    const txt = readFileSync(`${base}.txt`, 'utf8');
    expect(txt).toContain('where: artifact mutant: TypeError');
    expect(txt).toContain(`damaged: artifact file ${mutant.file} (${mutant.mutation})`);
  });
});
