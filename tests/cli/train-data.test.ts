// `kiln train` data forms through the CLI: safetensors, a directory of .npy
// files (v1-v3 headers, converted dtypes), CSV (header or not, names,
// indices, ranges), IDX directories (gzipped or not, reshaped to the image
// input) and the name fashion-mnist; and every data error as one clear line
// with exit status 1 (or 2 for bad flags), never a stack trace.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { shippedSubset } from '../../cli/data/fashion-mnist.js';
import { describe, expect, it } from 'vitest';
import { kiln, tempDir } from './helpers.js';
import {
  LINREG,
  TINY,
  TINY_IMAGE,
  lastAccuracy,
  losses,
  npyBytes,
  tinyCsv,
  tinyIdx,
  tinyProblem,
  writeIdx,
  writeTinySafetensors,
} from './fixtures/train/data.js';

/** A failed run: its status and its one-line message. */
async function failure(...args: string[]): Promise<{ status: number; message: string }> {
  const r = await kiln('train', ...args);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toContain('internal error');
  return { status: r.status, message: r.stderr.trim() };
}

async function expectUserError(args: string[], message: RegExp): Promise<void> {
  const f = await failure(...args);
  expect(f.status, f.message).toBe(1);
  expect(f.message).toMatch(message);
  expect(f.message.split('\n')).toHaveLength(1);
}

function npyDir(files: Record<string, Uint8Array>): string {
  const dir = tempDir();
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

const common = ['--threads', '1', '--batch', '16'];

describe('kiln train data forms', () => {
  it('off a terminal a --steps run prints about 50 step lines: the first, every k-th, the last', async () => {
    const dir = tempDir();
    const r = await kiln('train', TINY, '--data', writeTinySafetensors(dir, 96), '--steps', '300', ...common);
    expect(r.status).toBe(0);
    const steps = [...r.stdout.matchAll(/^step (\d+)\/300 /gm)].map((m) => Number(m[1]));
    expect(steps).toEqual([1, ...Array.from({ length: 50 }, (_, i) => 6 * (i + 1))]);
    expect(r.stdout.split('\n').length).toBeLessThan(75);
  });

  it('safetensors: trains a classifier and reports eval accuracy', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 96);
    const held = writeTinySafetensors(dir, 64, 2, 'held.safetensors');
    const r = await kiln('train', TINY, '--data', data, '--eval', held, '--epochs', '3', ...common);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(losses(r.stdout)).toHaveLength(3);
    expect(lastAccuracy(r.stdout)).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/eval accuracy/);
  });

  it('a directory of .npy files: v1, v2 and v3 headers, float64 and int64 converted', async () => {
    const { x, y } = tinyProblem(40);
    const dir = npyDir({
      'x.npy': npyBytes('<f8', [40, 4], x, { version: 2 }),
      'y.npy': npyBytes('<i8', [40], y, { version: 3 }),
      'notes.txt': new TextEncoder().encode('other files are ignored'),
    });
    const r = await kiln('train', TINY, '--data', dir, '--steps', '3', ...common);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(losses(r.stdout)).toHaveLength(3);
    const v1 = npyDir({ 'x.npy': npyBytes('<f4', [40, 4], x), 'y.npy': npyBytes('|u1', [40], y) });
    expect((await kiln('train', TINY, '--data', v1, '--steps', '1', ...common)).status).toBe(0);
  });

  it('.npy errors name the file and what is wrong', async () => {
    const { x, y } = tinyProblem(8);
    const good = { 'x.npy': npyBytes('<f4', [8, 4], x), 'y.npy': npyBytes('<i4', [8], y) };
    const cases: [Record<string, Uint8Array>, RegExp][] = [
      [
        { ...good, 'x.npy': npyBytes('<f4', [8, 4], x, { truncate: 5 }) },
        /x\.npy: truncated: the header declares <f4 \(8, 4\)/,
      ],
      [{ ...good, 'x.npy': npyBytes('<f4', [8, 4], x, { fortran: true }) }, /x\.npy: .*Fortran order/],
      [{ ...good, 'x.npy': npyBytes('>f4', [8, 4], x) }, /x\.npy: big-endian data/],
      [{ ...good, 'x.npy': npyBytes('<f2', [8, 4], x) }, /x\.npy: dtype '<f2' is not supported/],
      [{ ...good, 'x.npy': new TextEncoder().encode('not numpy at all') }, /x\.npy: not a \.npy file/],
      [{ 'x.npy': good['x.npy'] }, /missing y\.npy \(the model's input 'y'\)/],
      [{ ...good, 'z.npy': good['y.npy'] }, /z\.npy: 'z' is not an input of the model/],
      [
        { ...good, 'x.npy': npyBytes('<f4', [4, 8], x) },
        /tensor 'x' has shape \[4, 8\], but input 'x' is f32\[B, 4\] \(dimension 1 is 8, expected 4\)/,
      ],
      [
        { ...good, 'y.npy': npyBytes('<f8', [8], [0, 1, 2, 0.5, 1, 2, 0, 1]) },
        /y\.npy: tensor 'y' \(<f8\): value 0\.5 at index 3 is not an integer/,
      ],
      [
        { ...good, 'y.npy': npyBytes('<i8', [8], [0, 1, 2, 0, 1, 2, 3e9, 1]) },
        /y\.npy: tensor 'y' holds 3000000000 at \[6\]; i32 holds at most 2147483647$/,
      ],
      [
        { ...good, 'y.npy': npyBytes('<i4', [8], [0, 1, 2, 0, 1, 7, 0, 1]) },
        /y\.npy: tensor 'y' holds 7 at \[5\]; 'softmax_cross_entropy' needs class ids in \[0, 3\)$/,
      ],
      [{ ...good, 'y.npy': npyBytes('<i4', [7], y.subarray(0, 7)) }, /tensor 'y' has 7 examples but 'x' has 8/],
      [{ 'x.npy': npyBytes('<f4', [0, 4], []), 'y.npy': npyBytes('<i4', [0], []) }, /holds no examples/],
    ];
    for (const [files, message] of cases)
      await expectUserError([TINY, '--data', npyDir(files), '--steps', '1'], message);
  });

  it('CSV: a header with names, or indices and ranges without one', async () => {
    const dir = tempDir();
    const named = join(dir, 'named.csv');
    tinyCsv(named, 40, 'a,b,c,d,label');
    const r = await kiln('train', TINY, '--data', named, '--steps', '2', ...common);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const picked = await kiln(
      'train',
      TINY,
      '--data',
      named,
      '--x-cols',
      'a,b,c,d',
      '--y-col',
      'label',
      '--steps',
      '1',
    );
    expect(picked.status).toBe(0);
    // Label first, as in Kaggle's Fashion-MNIST CSV: columns by index and range.
    const bare = join(dir, 'bare.csv');
    const { x, y } = tinyProblem(20);
    writeFileSync(
      bare,
      Array.from({ length: 20 }, (_, i) => [y[i], ...x.subarray(4 * i, 4 * i + 4)].join(',')).join('\n'),
    );
    const ranged = await kiln('train', TINY, '--data', bare, '--x-cols', '1-4', '--y-col', '0', '--steps', '1');
    expect(ranged.stderr).toBe('');
    expect(ranged.status).toBe(0);
  });

  it('CSV errors name the file, line and column', async () => {
    const dir = tempDir();
    const write = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const header = 'a,b,c,d,label\n';
    await expectUserError(
      [TINY, '--data', write('word.csv', `${header}1,2,3,4,0\n1,oops,3,4,1\n`), '--steps', '1'],
      /word\.csv:3: column 'b' holds 'oops', not a number/,
    );
    await expectUserError(
      [TINY, '--data', write('frac.csv', `${header}1,2,3,4,1.5\n`), '--steps', '1'],
      /frac\.csv:2: column 'label' holds 1\.5, but input 'y' is i32/,
    );
    await expectUserError(
      [TINY, '--data', write('ragged.csv', `${header}1,2,3,4,0\n1,2,3\n`), '--steps', '1'],
      /ragged\.csv: .*(record length|Record Length)/i,
    );
    await expectUserError(
      [TINY, '--data', write('range.csv', `${header}1,2,3,4,0\n1,2,3,4,9\n`), '--steps', '1'],
      /range\.csv: tensor 'y' holds 9 at \[1\]; 'softmax_cross_entropy' needs class ids in \[0, 3\)$/,
    );
    await expectUserError(
      [TINY, '--data', write('narrow.csv', `${header}1,2,3,4,0\n`), '--x-cols', 'a,b', '--steps', '1'],
      /narrow\.csv: 2 feature columns for input 'x' f32\[B, 4\], which takes 4 values per example/,
    );
    await expectUserError(
      [TINY, '--data', write('empty.csv', header), '--steps', '1'],
      /empty\.csv: the data holds no examples/,
    );
    const bad = await failure(TINY, '--data', write('cols.csv', `${header}1,2,3,4,0\n`), '--y-col', 'nope');
    expect(bad.status).toBe(2);
    expect(bad.message).toMatch(/--y-col: no column 'nope' \(columns: a, b, c, d, label\)/);
  });

  it('IDX: a directory with train and t10k sets, gzipped or not; images reshaped to the input', async () => {
    const dir = tempDir();
    tinyIdx(dir, 'train', 60, true);
    tinyIdx(dir, 't10k', 30, false, 2);
    const r = await kiln('train', TINY_IMAGE, '--data', dir, '--eval', dir, '--epochs', '2', ...common);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('training tiny_image on 60 examples');
    expect(r.stdout).toMatch(new RegExp(`eval: ${join(dir, 't10k')}, 30 examples`));
    expect(lastAccuracy(r.stdout)).toBeGreaterThan(0);
    // The flat model takes the same images as 4 values; a set can be named by its path.
    const flat = await kiln('train', TINY, '--data', join(dir, 't10k'), '--steps', '1');
    expect(flat.stderr).toBe('');
    expect(flat.status).toBe(0);
    expect(flat.stdout).toContain('on 30 examples');
  });

  it('IDX errors: truncated, corrupt, mismatched counts and sizes, labels out of range', async () => {
    const set = (make: (dir: string) => void) => {
      const dir = tempDir();
      make(dir);
      return dir;
    };
    const images = (n: number) => new Uint8Array(n * 4).fill(100);
    await expectUserError(
      [
        TINY,
        '--data',
        set(
          (d) => (
            writeIdx(join(d, 'train-images-idx3-ubyte'), [5, 2, 2], images(5), 3),
            writeIdx(join(d, 'train-labels-idx1-ubyte'), [5], new Uint8Array(5))
          ),
        ),
        '--steps',
        '1',
      ],
      /train-images-idx3-ubyte: truncated: the header declares 5×2×2 bytes of data \(20\), the file holds 17/,
    );
    await expectUserError(
      [
        TINY,
        '--data',
        set(
          (d) => (
            writeFileSync(join(d, 'train-images-idx3-ubyte.gz'), Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3])),
            writeIdx(join(d, 'train-labels-idx1-ubyte'), [5], new Uint8Array(5))
          ),
        ),
        '--steps',
        '1',
      ],
      /train-images-idx3-ubyte\.gz: corrupt gzip data/,
    );
    await expectUserError(
      [
        TINY,
        '--data',
        set(
          (d) => (
            writeIdx(join(d, 'train-images-idx3-ubyte'), [5, 2, 2], images(5)),
            writeIdx(join(d, 'train-labels-idx1-ubyte'), [4], new Uint8Array(4))
          ),
        ),
        '--steps',
        '1',
      ],
      /train-labels-idx1-ubyte: holds 4 labels, but train-images-idx3-ubyte holds 5 images/,
    );
    await expectUserError(
      [
        TINY,
        '--data',
        set(
          (d) => (
            writeIdx(join(d, 'train-images-idx3-ubyte'), [5, 3, 3], new Uint8Array(45)),
            writeIdx(join(d, 'train-labels-idx1-ubyte'), [5], new Uint8Array(5))
          ),
        ),
        '--steps',
        '1',
      ],
      /images of 3×3 \(9 values\) do not fit input 'x' f32\[B, 4\]/,
    );
    await expectUserError(
      [
        TINY,
        '--data',
        set(
          (d) => (
            writeIdx(join(d, 'train-images-idx3-ubyte'), [5, 2, 2], images(5)),
            writeIdx(join(d, 'train-labels-idx1-ubyte'), [5], Uint8Array.from([0, 1, 2, 3, 0]))
          ),
        ),
        '--steps',
        '1',
      ],
      /tensor 'y' holds 3 at \[3\]; 'softmax_cross_entropy' needs class ids in \[0, 3\)$/,
    );
    await expectUserError(
      [
        TINY,
        '--data',
        set(
          (d) => (
            writeIdx(join(d, 'train-images-idx3-ubyte'), [0, 2, 2], images(0)),
            writeIdx(join(d, 'train-labels-idx1-ubyte'), [0], new Uint8Array(0))
          ),
        ),
        '--steps',
        '1',
      ],
      /the data holds no examples/,
    );
    await expectUserError(
      [LINREG, '--data', set((d) => tinyIdx(d, 'train', 4, false)), '--steps', '1'],
      /IDX images feed one f32 input, but the model's inputs are x: f32\[B, 3\], y: f32\[B\]/,
    );
  });

  it("fashion-mnist: Debian's files when installed, else the shipped subset", async () => {
    const r = await kiln(
      'train',
      'examples/fashion_mlp.kiln',
      '--data',
      'fashion-mnist',
      '--steps',
      '2',
      '--batch',
      '8',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/data: .*(Debian's dataset-fashion-mnist|the subset shipped with Kiln), train split/);
    expect(r.stdout).toMatch(/training fashion_mlp on (60000|6000) examples/);
    // Without --eval, the named dataset's test split is the eval set: the run ends with a test accuracy.
    expect(r.stdout).toMatch(/eval: .*test split\), (10000|1000) examples/);
    expect(r.stdout).toMatch(/eval accuracy +\| \d+\.\d+%/);
    // The fallback: the subset shipped in the repository, found from the CLI's own files.
    expect(shippedSubset()).toBe(resolve('data/fashion-mnist-subset'));
    const bad = await failure('examples/fashion_mlp.kiln', '--data', 'fashion-mnist:dev');
    expect(bad.status).toBe(2);
  });

  it('other data problems: a missing file, an empty directory, a lone .npy, --x-cols on other forms', async () => {
    const dir = tempDir();
    await expectUserError(
      [TINY, '--data', join(dir, 'nope.safetensors')],
      /cannot read .*nope\.safetensors: no such file/,
    );
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await expectUserError(
      [TINY, '--data', empty],
      /empty: holds neither \.npy files .* nor IDX files .*\(it is empty\)/,
    );
    await expectUserError(
      [TINY, '--data', join(dir, 'x.npy')],
      /give the directory that holds one \.npy file per input/,
    );
    const data = writeTinySafetensors(dir, 8);
    const usage = await failure(TINY, '--data', data, '--x-cols', '0-3');
    expect(usage.status).toBe(2);
    expect(usage.message).toMatch(/--x-cols and --y-col choose the columns of \.csv data/);
  });
});
