// `--inputs DATA` on every command that runs a model (CLI.md v1 "data
// everywhere", cli/commands/inputs.ts): run, grad, jvp, vjp and attribute
// read `fashion-mnist:test --limit N`, a CSV, an IDX or a .npy directory as
// exactly the examples a .safetensors file of the same values holds (the
// same outputs, bit for bit, on the same target), on the reference
// interpreter and on wasm; `--limit` keeps the first N examples; and the
// errors a user can meet: an unknown data set or split, `--limit 0`, data
// that lacks an input (the message names it), a model without an examples
// dimension given data, data given as tangents.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { resolveFashionMnist } from '../../cli/data/fashion-mnist.js';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/safetensors.js';
import {
  npyBytes,
  tinyCsv,
  tinyIdx,
  tinyProblem,
  TINY,
  TINY_IMAGE,
  writeTinySafetensors,
} from './fixtures/train/data.js';
import { kiln, tempDir } from './helpers.js';

const MLP = 'examples/mlp.kiln';
const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

async function ok(...args: string[]): Promise<string> {
  const r = await kiln(...args);
  expect(r.stderr, `kiln ${args.join(' ')}`).toBe('');
  expect(r.status, `kiln ${args.join(' ')}`).toBe(0);
  return r.stdout;
}

/** The first n test examples of fashion-mnist, read from its IDX files here (not through cli/data). */
function fashionTest(n: number): { x: Float32Array; y: Int32Array } {
  const { set } = resolveFashionMnist('fashion-mnist:test', 'eval');
  const bytes = (p: string) => {
    const b = readFileSync(p);
    return b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b;
  };
  const images = bytes(set.images);
  const labels = bytes(set.labels!);
  return {
    x: Float32Array.from(images.subarray(16, 16 + n * 784), (v) => v / 255),
    y: Int32Array.from(labels.subarray(8, 8 + n)),
  };
}

function writeXy(path: string, x: Float32Array, y: Int32Array, xShape: readonly number[]): string {
  const n = y.length;
  writeFileSync(
    path,
    encodeSafetensors({
      x: { dtype: 'F32', shape: [n, ...xShape], data: x },
      y: { dtype: 'I32', shape: [n], data: y },
    }),
  );
  return path;
}

/** Two result files hold the same tensors, bit for bit. */
function expectSameFile(what: string, got: string, want: string): void {
  const g = read(got);
  const w = read(want);
  expect([...g.keys()].sort(), what).toEqual([...w.keys()].sort());
  for (const [name, t] of w) {
    expect(g.get(name)!.shape, `${what} ${name}`).toEqual(t.shape);
    expect(Array.from(g.get(name)!.data), `${what} ${name}`).toEqual(Array.from(t.data));
  }
}

describe('--inputs DATA on every command', () => {
  it('run, grad, jvp, vjp and attribute read fashion-mnist:test --limit N as a .safetensors file of those examples (reference and wasm)', async () => {
    const N = 5;
    const dir = tempDir();
    const { x, y } = fashionTest(N);
    const same = writeXy(join(dir, 'same.safetensors'), x, y, [784]);
    const params = join(dir, 'params.safetensors');
    await ok('init', MLP, '-o', params, '--seed', '2');
    // Directions without a batch dimension, so one file serves any --limit.
    const tangents = join(dir, 't.safetensors');
    writeFileSync(
      tangents,
      encodeSafetensors({ b1: { dtype: 'F32', shape: [128], data: new Float32Array(128).fill(1) } }),
    );
    const cotangents = join(dir, 'c.safetensors');
    writeFileSync(cotangents, encodeSafetensors({ loss: { dtype: 'F32', shape: [], data: Float32Array.of(1) } }));
    const art = join(dir, 'art');
    await ok('compile', MLP, '-o', art, '--entries', 'run,jvp,vjp');
    const commands: readonly (readonly string[])[] = [
      ['run'],
      ['grad', '--wrt-inputs'],
      ['jvp', '--tangents', tangents],
      ['vjp', '--cotangents', cotangents],
      ['attribute', '--wrt', 'x', '--of', 'probs', '--method', 'input_x_gradient'],
    ];
    for (const target of ['reference', 'wasm'])
      for (const [command, ...rest] of commands) {
        // wasm runs the artifact where it can (grad compiles its gradient program from the source).
        const model = target === 'wasm' && command !== 'grad' ? art : MLP;
        const out = (from: string) => join(dir, `${command}-${target}-${from}.safetensors`);
        const args = [command!, model, ...rest, '--params', params, '--target', target];
        await ok(...args, '--inputs', 'fashion-mnist:test', '--limit', String(N), '--out', out('data'));
        await ok(...args, '--inputs', same, '--out', out('same'));
        expectSameFile(`${command} on ${target}`, out('data'), out('same'));
      }
    // One example per output row: the limit reached every command, and the labels too (loss reads y).
    expect(read(join(dir, 'run-wasm-data.safetensors')).get('probs')!.shape).toEqual([N, 10]);
    expect(read(join(dir, 'grad-reference-data.safetensors')).get('grad.x')!.shape).toEqual([N, 784]);
    expect(read(join(dir, 'vjp-wasm-data.safetensors')).get('vjp.x')!.shape).toEqual([N, 784]);
    expect(read(join(dir, 'attribute-reference-data.safetensors')).get('attr.x')!.shape).toEqual([N, 784]);
    // `fashion-mnist` alone is the test split, as for `kiln train --eval`.
    const plain = join(dir, 'plain.safetensors');
    await ok('run', MLP, '--params', params, '--inputs', 'fashion-mnist', '--limit', String(N), '--out', plain);
    expectSameFile('run on fashion-mnist', plain, join(dir, 'run-wasm-data.safetensors'));
  });

  it('a model without a label input takes the images alone', async () => {
    const dir = tempDir();
    const file = join(dir, 'images.kiln');
    writeFileSync(file, 'model m(x: f32[B, 784]) {\n  output s = sum(x, axis = -1)\n}\n');
    const out = await ok('run', file, '--inputs', 'fashion-mnist:test', '--limit', '3', '--target', 'reference');
    const { x } = fashionTest(3);
    const sums = [0, 1, 2].map((b) => x.subarray(b * 784, (b + 1) * 784).reduce((a, v) => a + v, 0));
    const got = /^s: f32\[3\] = \[(\S+), (\S+), (\S+)\]/.exec(out)!.slice(1).map(Number);
    got.forEach((v, i) => expect(v).toBeCloseTo(sums[i]!, 3));
  });

  it('a CSV, a .npy directory and an IDX directory, with --limit, equal the same examples as .safetensors', async () => {
    const dir = tempDir();
    const n = 12;
    const { x, y } = tinyProblem(n);
    const first = (k: number) => writeTinySafetensors(tempDir(), k);
    // CSV with a header, the label column named like nothing: the last column.
    const csv = join(dir, 'tiny.csv');
    tinyCsv(csv, n, 'a,b,c,d,class');
    const csvOut = (t: string, from: string) => join(dir, `csv-${t}-${from}.safetensors`);
    for (const target of ['reference', 'wasm']) {
      await ok('run', TINY, '--inputs', csv, '--limit', '5', '--target', target, '--out', csvOut(target, 'data'));
      await ok('run', TINY, '--inputs', first(5), '--target', target, '--out', csvOut(target, 'same'));
      expectSameFile(`csv run on ${target}`, csvOut(target, 'data'), csvOut(target, 'same'));
    }
    // The same rows with the label first, picked by --y-col and --x-cols.
    const swapped = join(dir, 'swapped.csv');
    writeFileSync(
      swapped,
      Array.from({ length: n }, (_, i) => [y[i]!, ...x.subarray(4 * i, 4 * i + 4)].join(',')).join('\n') + '\n',
    );
    const swappedOut = join(dir, 'swapped-out.safetensors');
    await ok('grad', TINY, '--inputs', swapped, '--y-col', '0', '--x-cols', '1-4', '--limit', '5', '--out', swappedOut);
    const gradSame = join(dir, 'grad-same.safetensors');
    await ok('grad', TINY, '--inputs', first(5), '--out', gradSame);
    expectSameFile('csv grad with --x-cols/--y-col', swappedOut, gradSame);

    // A .npy directory: f8 features and i8 labels, converted with checks; --limit above the count keeps all.
    const npy = join(dir, 'npy');
    mkdirSync(npy);
    writeFileSync(join(npy, 'x.npy'), npyBytes('<f8', [n, 4], x));
    writeFileSync(join(npy, 'y.npy'), npyBytes('<i8', [n], y));
    const cot = join(dir, 'c.safetensors');
    writeFileSync(cot, encodeSafetensors({ loss: { dtype: 'F32', shape: [], data: Float32Array.of(1) } }));
    for (const target of ['reference', 'wasm']) {
      const o = (from: string) => join(dir, `npy-${target}-${from}.safetensors`);
      await ok(
        'vjp',
        TINY,
        '--inputs',
        npy,
        '--limit',
        '100',
        '--cotangents',
        cot,
        '--target',
        target,
        '--out',
        o('data'),
      );
      await ok('vjp', TINY, '--inputs', first(n), '--cotangents', cot, '--target', target, '--out', o('same'));
      expectSameFile(`npy vjp on ${target}`, o('data'), o('same'));
      expect(read(o('data')).get('vjp.x')!.shape).toEqual([n, 4]);
    }

    // An IDX directory with two sets: --inputs takes the test set (t10k), images reshaped to [B, 1, 2, 2].
    const idx = join(dir, 'idx');
    mkdirSync(idx);
    tinyIdx(idx, 'train', 20, true, 5);
    tinyIdx(idx, 't10k', n, false, 6);
    const t10k = tinyProblem(n, 6);
    const pixels = Float32Array.from(t10k.x.subarray(0, 4 * 7), (v) => Math.round((v + 1) * 127.5) / 255);
    const idxSame = writeXy(join(dir, 'idx-same.safetensors'), pixels, t10k.y.subarray(0, 7), [1, 2, 2]);
    for (const target of ['reference', 'wasm']) {
      const o = (from: string) => join(dir, `idx-${target}-${from}.safetensors`);
      const args = ['attribute', TINY_IMAGE, '--wrt', 'x', '--of', 'probs', '--method', 'saliency', '--target', target];
      await ok(...args, '--inputs', idx, '--limit', '7', '--out', o('data'));
      await ok(...args, '--inputs', idxSame, '--out', o('same'));
      expectSameFile(`idx attribute on ${target}`, o('data'), o('same'));
      expect(read(o('data')).get('attr.x')!.shape).toEqual([7, 1, 2, 2]);
    }
  });

  it('--limit keeps the first N examples of a .safetensors file too, on every target', async () => {
    const dir = tempDir();
    const all = writeTinySafetensors(dir, 9);
    const first4 = writeTinySafetensors(dir, 4, 1, 'first4.safetensors');
    const tangents = join(dir, 't.safetensors');
    writeFileSync(
      tangents,
      encodeSafetensors({ w: { dtype: 'F32', shape: [4, 3], data: new Float32Array(12).fill(1) } }),
    );
    for (const target of ['reference', 'wasm']) {
      const o = (from: string) => join(dir, `limit-${target}-${from}.safetensors`);
      const args = ['jvp', TINY, '--tangents', tangents, '--target', target];
      await ok(...args, '--inputs', all, '--limit', '4', '--out', o('data'));
      await ok(...args, '--inputs', first4, '--out', o('same'));
      expectSameFile(`limit jvp on ${target}`, o('data'), o('same'));
      expect(read(o('data')).get('probs')!.shape).toEqual([4, 3]);
    }
  });

  it('reports unknown data, --limit 0, a missing input and data given as tangents in one clear line', async () => {
    const dir = tempDir();
    const fails = async (status: number, message: RegExp, ...args: string[]) => {
      const r = await kiln(...args);
      expect(r.status, `kiln ${args.join(' ')}: ${r.stderr}`).toBe(status);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
    };
    const sets =
      /cannot read fashion: no such file, directory or data set \(the data sets: fashion-mnist, fashion-mnist:train, fashion-mnist:test\)/;
    await fails(1, sets, 'run', MLP, '--inputs', 'fashion');
    await fails(
      1,
      sets,
      'grad',
      MLP,
      '--inputs',
      'fashion',
      '--out',
      join(dir, 'g.safetensors'),
      '--target',
      'reference',
    );
    await fails(
      2,
      /unknown split 'val' of fashion-mnist \(expected fashion-mnist:train or fashion-mnist:test\)/,
      'vjp',
      MLP,
      '--inputs',
      'fashion-mnist:val',
      '--cotangents',
      join(dir, 'c.safetensors'),
    );
    const limit0 = /--limit must be a positive integer, got '0'/;
    await fails(2, limit0, 'run', MLP, '--inputs', 'fashion-mnist:test', '--limit', '0');
    await fails(
      2,
      limit0,
      'attribute',
      MLP,
      '--inputs',
      'fashion-mnist:test',
      '--limit',
      '0',
      '--wrt',
      'x',
      '--of',
      'probs',
      '--method',
      'saliency',
    );

    // Data lacking an input the command needs: the message names the input, on every target.
    const { x } = tinyProblem(4);
    const npy = join(dir, 'npy');
    mkdirSync(npy);
    writeFileSync(join(npy, 'x.npy'), npyBytes('<f4', [4, 4], x));
    const xOnly = join(dir, 'x-only.safetensors');
    writeFileSync(xOnly, encodeSafetensors({ x: { dtype: 'F32', shape: [4, 4], data: x } }));
    const images = join(dir, 'images');
    mkdirSync(images);
    tinyIdx(images, 't10k', 4, false);
    rmSync(join(images, 't10k-labels-idx1-ubyte'));
    for (const target of ['reference', 'wasm']) {
      await fails(1, /npy: missing y\.npy \(the model's input 'y'\)/, 'run', TINY, '--inputs', npy, '--target', target);
      await fails(
        1,
        /x-only\.safetensors: missing tensor 'y' \(the model's input i32\[B\], examples first\)/,
        'grad',
        TINY,
        '--inputs',
        xOnly,
        '--out',
        join(dir, 'g.safetensors'),
        '--target',
        target,
      );
      await fails(
        1,
        /t10k: no labels file \(t10k-labels-idx1-ubyte\[\.gz\]\) for input 'y'/,
        'run',
        TINY_IMAGE,
        '--inputs',
        images,
        '--target',
        target,
      );
    }
    // Data holds examples along the first dimension: a model without one takes a .safetensors file only.
    const fixed = join(dir, 'fixed.kiln');
    writeFileSync(fixed, 'model m(x: f32[4]) {\n  output s = sum(x)\n}\n');
    await fails(
      1,
      /input 'x' is f32\[4\]: data holds examples along the first dimension \(batched in training\), so it must be symbolic/,
      'run',
      fixed,
      '--inputs',
      npy,
      '--target',
      'reference',
    );
    // Tangents and cotangents are not data.
    await fails(
      2,
      /--tangents takes a \.safetensors file of tangents named like the f32 inputs and params, not data \(fashion-mnist:test\)/,
      'jvp',
      MLP,
      '--inputs',
      'fashion-mnist:test',
      '--tangents',
      'fashion-mnist:test',
    );
    await fails(
      2,
      /--cotangents takes a \.safetensors file of cotangents named like the f32 outputs, not data/,
      'vjp',
      TINY,
      '--inputs',
      xOnly,
      '--cotangents',
      npy,
    );
    // The columns of CSV data go with CSV data only.
    await fails(
      2,
      /--x-cols and --y-col choose the columns of \.csv data, and .*x-only\.safetensors is not a \.csv file/,
      'run',
      TINY,
      '--inputs',
      xOnly,
      '--x-cols',
      '0-3',
    );
  });
});
