// Corrupt files (CLI.md v1.1): seeded random corruptions of safetensors,
// IDX, CSV and .npy files (truncated, bytes flipped, lying headers, huge
// declared shapes, wrong dtypes) fed to every command that loads them. Each
// run ends with exit 0 (the corruption left a valid file) or 1 or 2 with
// exactly one `error:` line: never an internal error, a stack trace or a
// hang, and never an output file when refused. Files Kiln wrote carry a
// checksum, so any change to their data is refused.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rng } from '../helpers/finite-diff.js';
import { kiln, tempDir } from './helpers.js';
import {
  TINY,
  TINY_IMAGE,
  npyBytes,
  tinyCsv,
  tinyIdx,
  tinyProblem,
  writeTinySafetensors,
} from './fixtures/train/data.js';

type Mutation = (bytes: Uint8Array, r: () => number) => Uint8Array;
const int = (r: () => number, n: number): number => Math.floor(r() * n);
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const fromLatin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** Replaces the first match of `re` in the file's text (binary-safe), or leaves it alone. */
const edit =
  (re: RegExp, to: (r: () => number) => string): Mutation =>
  (b, r) =>
    fromLatin1(latin1(b).replace(re, () => to(r)));

/** A safetensors file with its header JSON rewritten by `f` (the data kept, the header length updated). */
const stEdit =
  (f: (h: Record<string, { dtype?: string; shape?: number[] }>, r: () => number) => void): Mutation =>
  (b, r) => {
    const len = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + len))) as Parameters<typeof f>[0];
    f(header, r);
    const text = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + text.length + b.length - 8 - len);
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(text, 8);
    out.set(b.subarray(8 + len), 8 + text.length);
    return out;
  };

/** A tensor of the header other than __metadata__, picked at random. */
const someTensor = (h: Record<string, { dtype?: string; shape?: number[] }>, r: () => number) => {
  const names = Object.keys(h).filter((k) => k !== '__metadata__');
  return h[names[int(r, names.length)]!]!;
};

/** A v1 .npy file with its header text rewritten by `f` (the header length updated). */
const npyEdit =
  (f: (text: string, r: () => number) => string): Mutation =>
  (b, r) => {
    const len = new DataView(b.buffer, b.byteOffset).getUint16(8, true);
    const text = new TextEncoder().encode(f(latin1(b.subarray(10, 10 + len)), r));
    const out = new Uint8Array(10 + text.length + b.length - 10 - len);
    out.set(b.subarray(0, 8));
    new DataView(out.buffer).setUint16(8, text.length, true);
    out.set(text, 10);
    out.set(b.subarray(10 + len), 10 + text.length);
    return out;
  };

const MUTATIONS: Record<string, Mutation> = {
  truncate: (b, r) => b.slice(0, int(r, b.length)),
  flip: (b, r) => {
    const out = b.slice();
    for (let k = 0, n = 1 + int(r, 4); k < n; k++) {
      const i = int(r, out.length);
      out[i] = out[i]! ^ (1 << int(r, 8));
    }
    return out;
  },
  flipHeader: (b, r) => {
    const out = b.slice();
    const i = int(r, Math.min(out.length, 96));
    out[i] = out[i]! ^ (1 << int(r, 8));
    return out;
  },
  appendGarbage: (b, r) => {
    const out = new Uint8Array(b.length + 1 + int(r, 16));
    out.set(b);
    for (let i = b.length; i < out.length; i++) out[i] = int(r, 256);
    return out;
  },
  // Lying headers and shapes, in each format's own terms.
  stHeaderLength: (b, r) => {
    const out = b.slice();
    new DataView(out.buffer).setBigUint64(0, BigInt(int(r, 2 ** 31)) * BigInt(1 + int(r, 3)), true);
    return out;
  },
  hugeShape: stEdit((h, r) => {
    const t = someTensor(h, r);
    t.shape = [[1e15, 2 ** 53, 4294967296, 1e9, 0][int(r, 5)]!, ...(t.shape ?? []).slice(1)];
  }),
  wrongDtype: stEdit((h, r) => {
    someTensor(h, r).dtype = ['I64', 'F16', 'BOOL', 'U8', 'F64', 'I16', 'U32', 'XX'][int(r, 8)]!;
  }),
  npyShape: npyEdit((t, r) =>
    t.replace(/'shape': \(\d+/, `'shape': (${[10 ** 15, 2 ** 40, 0, 7, 2 ** 53][int(r, 5)]}`),
  ),
  npyDescr: npyEdit((t, r) =>
    t.replace(/'descr': '[^']*'/, `'descr': '${['<f2', '<i8', '|u1', '>f4', 'O', '<c8', '<u4', '|i1'][int(r, 8)]}'`),
  ),
  idxDims: (b, r) => {
    const out = b.slice();
    if (out.length >= 8) new DataView(out.buffer).setUint32(4, [0xffffffff, 2 ** 28, 0, 3][int(r, 4)]!, false);
    return out;
  },
  csvCell: edit(/\n[^,\n]*,/, (r) => `\n${['nan', '1e999', '', '"', 'x'][int(r, 5)]},`),
};

interface Case {
  readonly name: string;
  /** The file to corrupt, its mutations, and whether every change must be refused (it has a checksum). */
  readonly file: string;
  readonly mutations: readonly string[];
  readonly checksummed: boolean;
  readonly args: (out: string) => string[];
}

async function setup(dir: string): Promise<Case[]> {
  const st = writeTinySafetensors(dir, 12);
  const csv = join(dir, 'tiny.csv');
  tinyCsv(csv, 12, 'a,b,c,d,label');
  const npy = join(dir, 'npy');
  mkdirSync(npy);
  const { x, y } = tinyProblem(12);
  writeFileSync(join(npy, 'x.npy'), npyBytes('<f4', [12, 4], x));
  writeFileSync(join(npy, 'y.npy'), npyBytes('<i8', [12], y));
  const idx = join(dir, 'idx');
  mkdirSync(idx);
  tinyIdx(idx, 'train', 12, false);
  const ckpt = join(dir, 'ck');
  const params = join(dir, 'params.safetensors');
  const made = await kiln('train', TINY, '--data', st, '--steps', '2', '--checkpoint', ckpt, '--params-out', params);
  if (made.status !== 0) throw new Error(made.stderr);
  const ck = join(ckpt, 'checkpoint.safetensors');
  const stMut = ['truncate', 'flip', 'flipHeader', 'appendGarbage', 'stHeaderLength', 'hugeShape', 'wrongDtype'];
  return [
    {
      name: 'run --inputs st',
      file: st,
      mutations: stMut,
      checksummed: false,
      args: (o) => ['run', TINY, '--inputs', st, '--out', o],
    },
    {
      name: 'train --data st',
      file: st,
      mutations: stMut,
      checksummed: false,
      args: (o) => ['train', TINY, '--data', st, '--steps', '1', '--params-out', o],
    },
    {
      name: 'run --inputs csv',
      file: csv,
      mutations: ['truncate', 'flip', 'appendGarbage', 'csvCell'],
      checksummed: false,
      args: (o) => ['run', TINY, '--inputs', csv, '--out', o],
    },
    {
      name: 'train --data csv',
      file: csv,
      mutations: ['truncate', 'flip', 'csvCell'],
      checksummed: false,
      args: (o) => ['train', TINY, '--data', csv, '--steps', '1', '--params-out', o],
    },
    {
      name: 'train --data npy x',
      file: join(npy, 'x.npy'),
      mutations: ['truncate', 'flip', 'flipHeader', 'appendGarbage', 'npyShape', 'npyDescr'],
      checksummed: false,
      args: (o) => ['train', TINY, '--data', npy, '--steps', '1', '--params-out', o],
    },
    {
      name: 'run --inputs npy y',
      file: join(npy, 'y.npy'),
      mutations: ['truncate', 'flip', 'npyShape', 'npyDescr'],
      checksummed: false,
      args: (o) => ['run', TINY, '--inputs', npy, '--out', o],
    },
    {
      name: 'train --data idx images',
      file: join(idx, 'train-images-idx3-ubyte'),
      mutations: ['truncate', 'flip', 'appendGarbage', 'idxDims'],
      checksummed: false,
      args: (o) => ['train', TINY_IMAGE, '--data', idx, '--steps', '1', '--params-out', o],
    },
    {
      name: 'run --inputs idx labels',
      file: join(idx, 'train-labels-idx1-ubyte'),
      mutations: ['truncate', 'flip', 'idxDims'],
      checksummed: false,
      args: (o) => ['run', TINY_IMAGE, '--inputs', idx, '--out', o],
    },
    {
      name: 'run --params',
      file: params,
      mutations: ['truncate', 'flip', 'appendGarbage', 'stHeaderLength', 'hugeShape', 'wrongDtype'],
      checksummed: true,
      args: (o) => ['run', TINY, '--inputs', st, '--params', params, '--out', o],
    },
    {
      name: 'train --params-in',
      file: params,
      mutations: ['truncate', 'flip', 'hugeShape', 'wrongDtype'],
      checksummed: true,
      args: (o) => ['train', TINY, '--data', st, '--steps', '1', '--params-in', params, '--params-out', o],
    },
    {
      name: 'train --resume',
      file: ck,
      mutations: ['truncate', 'flip', 'appendGarbage', 'stHeaderLength', 'hugeShape', 'wrongDtype'],
      checksummed: true,
      args: (o) => ['train', TINY, '--data', st, '--steps', '3', '--checkpoint', ckpt, '--resume', '--params-out', o],
    },
  ];
}

/** Whether the mutation changed the data section of a safetensors file, rather than its header. */
function changed(a: Uint8Array, b: Uint8Array): boolean {
  return a.length !== b.length || a.some((v, i) => v !== b[i]);
}

describe('corrupt files', () => {
  it('every corruption ends in a clear error (or a valid run), never a crash', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const cases = await setup(dir);
    const r = rng(0x6b696c6e);
    const seen = { refused: 0, ran: 0 };
    for (const c of cases) {
      // A plain Uint8Array (a Buffer's slice() would be a view, and the mutations would edit the original).
      const original = new Uint8Array(readFileSync(c.file));
      for (let k = 0; k < 12; k++) {
        const m = c.mutations[k % c.mutations.length]!;
        const bytes = MUTATIONS[m]!(original, r);
        if (!changed(original, bytes)) continue;
        writeFileSync(c.file, bytes);
        const out = join(dir, `out-${k}.safetensors`);
        const args = c.args(out);
        const what = `${c.name} / ${m} #${k}`;
        const t0 = Date.now();
        const res = await kiln(...args);
        expect(Date.now() - t0, `${what}: took too long`).toBeLessThan(20_000);
        expect(res.stderr, what).not.toContain('internal error');
        expect(res.stderr, what).not.toMatch(/\n\s+at /);
        if (res.status === 0 && !c.checksummed) {
          seen.ran++;
          rmSync(out, { force: true });
        } else {
          seen.refused++;
          expect([1, 2], `${what}: status ${res.status}\n${res.stderr}`).toContain(res.status);
          const lines = res.stderr.split('\n').filter((l) => l !== '');
          expect(lines, what).toHaveLength(1);
          expect(lines[0], what).toMatch(/^error: /);
          expect(existsSync(out), `${what}: wrote ${out}`).toBe(false);
        }
        // The input itself is never rewritten (the checkpoint included).
        expect(readFileSync(c.file).equals(Buffer.from(bytes)), what).toBe(true);
      }
      writeFileSync(c.file, original);
    }
    // The test can fail: most corruptions are refused.
    expect(seen.refused).toBeGreaterThan(seen.ran);
    expect(readdirSync(dir).filter((f) => f.startsWith('out-'))).toEqual([]);
  });
});
