// Integer ids and labels out of range (CLI.md v1.1): a `take` index outside
// its table, a class label outside [0, C), a negative id, a binary
// cross-entropy target outside [0, 1] are refused before any step, on every
// command that reads inputs, naming the file, tensor, first offending index
// and the range the model needs. I64, I16, I8, U8, U16 and U32 ids convert
// to i32 where every value fits.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, type StTensor } from '../../runtime/safetensors.js';
import { fromInts } from '../../cli/data/convert.js';
import { kiln, tempDir } from './helpers.js';

const BOW = 'examples/bag_of_words.kiln';
const N = 8;

/** bag_of_words data: tokens[3, 7] = `token`, label[5] = `label`. */
function bowData(dir: string, token: number, label: number, name = 'bow.safetensors'): string {
  const tokens = new Int32Array(N * 12).map((_, i) => i % 50);
  tokens[3 * 12 + 7] = token;
  const labels = new Float32Array(N).map((_, i) => i % 2);
  labels[5] = label;
  const path = join(dir, name);
  writeFileSync(
    path,
    encodeSafetensors({
      tokens: { dtype: 'I32', shape: [N, 12], data: tokens },
      label: { dtype: 'F32', shape: [N], data: labels },
    }),
  );
  return path;
}

/** A 3-class softmax classifier. */
function classifier(dir: string): string {
  const path = join(dir, 'cls.kiln');
  writeFileSync(
    path,
    `model cls(x: f32[B, 4], y: i32[B]) {
  param w: f32[4, 3] = glorot_uniform
  output logits = x @ w
  output loss = mean(softmax_cross_entropy(logits, y))
}
train cls {
  minimize loss
  optimizer sgd(lr = 0.1)
}
`,
  );
  return path;
}

/** Classifier data whose labels are `y` as a raw safetensors tensor of any dtype. */
function clsData(
  dir: string,
  y: StTensor | { dtype: string; shape: number[]; bytes: Uint8Array },
  name: string,
): string {
  const x: StTensor = { dtype: 'F32', shape: [y.shape[0]!, 4], data: new Float32Array(y.shape[0]! * 4).fill(0.5) };
  const path = join(dir, name);
  if ('bytes' in y) {
    // A dtype encodeSafetensors does not write: patch the header of an F32 stand-in.
    const stand: StTensor = { dtype: 'U8', shape: [y.bytes.length], data: y.bytes };
    const file = encodeSafetensors({ x, y: stand });
    const headerEnd = 8 + Number(new DataView(file.buffer).getBigUint64(0, true));
    const text = new TextDecoder().decode(file.subarray(8, headerEnd));
    const from = `"y":{"dtype":"U8","shape":[${y.bytes.length}]`;
    const to = `"y":{"dtype":"${y.dtype}","shape":[${y.shape.join(',')}]`.padEnd(from.length, ' ');
    if (!text.includes(from) || to.length !== from.length) throw new Error('cannot patch the header');
    file.set(new TextEncoder().encode(text.replace(from, to)), 8);
    writeFileSync(path, file);
  } else writeFileSync(path, encodeSafetensors({ x, y }));
  return path;
}

async function refused(args: string[], message: string, out?: string): Promise<void> {
  const r = await kiln(...args);
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(1);
  expect(r.stderr, args.join(' ')).toBe(`error: ${message}\n`);
  expect(r.stdout, args.join(' ')).not.toMatch(/step|loss/);
  if (out !== undefined) expect(existsSync(out), out).toBe(false);
}

describe('ids out of range', () => {
  // The reproducer: token ids 999 and -5 and label 7 on bag_of_words.
  for (const [token, label, message] of [
    [999, 1, "tensor 'tokens' holds 999 at [3, 7]; 'take' needs ids in [0, 50) (table 'emb')"],
    [-5, 1, "tensor 'tokens' holds -5 at [3, 7]; 'take' needs ids in [0, 50) (table 'emb')"],
    [50, 1, "tensor 'tokens' holds 50 at [3, 7]; 'take' needs ids in [0, 50) (table 'emb')"],
    [3, 7, "tensor 'label' holds 7 at [5]; 'sigmoid_binary_cross_entropy' needs targets in [0, 1]"],
    [3, -0.5, "tensor 'label' holds -0.5 at [5]; 'sigmoid_binary_cross_entropy' needs targets in [0, 1]"],
  ] as const)
    it(`bag_of_words with token ${token} and label ${label}: refused before step 1, nothing written`, async () => {
      const dir = tempDir();
      const data = bowData(dir, token, label);
      const good = bowData(dir, 1, 1, 'good.safetensors');
      const before = readFileSync(data);
      const out = join(dir, 'out.safetensors');
      const ckpt = join(dir, 'ckpt');
      for (const args of [
        ['train', BOW, '--data', data, '--steps', '1', '--params-out', out, '--checkpoint', ckpt],
        ['train', BOW, '--data', data, '--steps', '1', '--params-out', out, '--target', 'reference'],
        ['run', BOW, '--inputs', data, '--out', out],
        ['run', BOW, '--inputs', data, '--out', out, '--target', 'reference'],
        ['grad', BOW, '--inputs', data, '--out', out],
        ['grad', BOW, '--inputs', data, '--out', out, '--target', 'reference'],
      ])
        await refused(args, `${data}: ${message}`, out);
      // Eval data is checked too, before the first step.
      await refused(
        ['train', BOW, '--data', good, '--eval', data, '--steps', '1', '--params-out', out],
        `${data}: ${message}`,
        out,
      );
      expect(existsSync(ckpt)).toBe(false);
      expect(readFileSync(data).equals(before)).toBe(true);
    });

  it('a compiled artifact carries the ranges in its manifest and is checked as its source is', async () => {
    const dir = tempDir();
    const art = join(dir, 'bow');
    expect((await kiln('compile', BOW, '-o', art)).status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(art, 'manifest.json'), 'utf8')) as { ids: unknown };
    expect(manifest.ids).toEqual({
      tokens: { lo: 0, hi: 50, hiIncluded: false, why: "'take' needs ids in [0, 50) (table 'emb')" },
      label: expect.objectContaining({ lo: 0, hi: 1, hiIncluded: true }),
    });
    const out = join(dir, 'out.safetensors');
    const bad = bowData(dir, 999, 1);
    await refused(
      ['run', art, '--inputs', bad, '--out', out],
      `${bad}: tensor 'tokens' holds 999 at [3, 7]; 'take' needs ids in [0, 50) (table 'emb')`,
      out,
    );
    const good = bowData(dir, 49, 1, 'good.safetensors');
    const r = await kiln('run', art, '--inputs', good);
    expect(r.status, r.stderr).toBe(0);
  });

  it('valid ids still run and train', async () => {
    const dir = tempDir();
    const data = bowData(dir, 49, 1);
    const out = join(dir, 'p.safetensors');
    const r = await kiln('train', BOW, '--data', data, '--steps', '1', '--params-out', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(out)).toBe(true);
    const run = await kiln('run', BOW, '--inputs', data, '--params', out);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^prob: f32\[8\]/);
  });

  it('class labels outside [0, C) in safetensors, .npy, CSV and --inputs', async () => {
    const dir = tempDir();
    const model = classifier(dir);
    const y = clsData(dir, { dtype: 'I32', shape: [6], data: new Int32Array([0, 1, 2, 0, 7, 1]) }, 'y7.safetensors');
    const neg = clsData(
      dir,
      { dtype: 'I32', shape: [6], data: new Int32Array([0, 1, -1, 0, 2, 1]) },
      'neg.safetensors',
    );
    await refused(
      ['train', model, '--data', y, '--steps', '1'],
      `${y}: tensor 'y' holds 7 at [4]; 'softmax_cross_entropy' needs class ids in [0, 3)`,
    );
    await refused(
      ['run', model, '--inputs', y],
      `${y}: tensor 'y' holds 7 at [4]; 'softmax_cross_entropy' needs class ids in [0, 3)`,
    );
    await refused(
      ['grad', model, '--inputs', y, '--out', join(dir, 'g.safetensors')],
      `${y}: tensor 'y' holds 7 at [4]; 'softmax_cross_entropy' needs class ids in [0, 3)`,
    );
    await refused(
      ['train', model, '--data', neg, '--steps', '1'],
      `${neg}: tensor 'y' holds -1 at [2]; 'softmax_cross_entropy' needs class ids in [0, 3)`,
    );
    const csv = join(dir, 'd.csv');
    writeFileSync(csv, 'a,b,c,d,label\n1,2,3,4,0\n1,2,3,4,3\n');
    await refused(
      ['run', model, '--inputs', csv],
      `${csv}: tensor 'y' holds 3 at [1]; 'softmax_cross_entropy' needs class ids in [0, 3)`,
    );
  });

  it('I64, I16, I8, U16 and U32 labels convert to i32; values beyond i32 are refused', async () => {
    const dir = tempDir();
    const model = classifier(dir);
    const labels = [0, 1, 2, 0, 1, 2];
    const cases: [string, Uint8Array][] = [
      ['I64', new Uint8Array(BigInt64Array.from(labels.map(BigInt)).buffer)],
      ['I16', new Uint8Array(Int16Array.from(labels).buffer)],
      ['I8', new Uint8Array(Int8Array.from(labels).buffer)],
      ['U16', new Uint8Array(Uint16Array.from(labels).buffer)],
      ['U32', new Uint8Array(Uint32Array.from(labels).buffer)],
    ];
    for (const [dtype, bytes] of cases) {
      const data = clsData(dir, { dtype, shape: [6], bytes }, `${dtype}.safetensors`);
      for (const target of ['wasm', 'reference']) {
        const r = await kiln('train', model, '--data', data, '--steps', '1', '--target', target);
        expect(r.status, `${dtype} ${target}: ${r.stderr}`).toBe(0);
        const run = await kiln('run', model, '--inputs', data, '--target', target);
        expect(run.status, `${dtype} ${target}: ${run.stderr}`).toBe(0);
        expect(run.stdout).toMatch(/loss: f32\[\] = /);
      }
    }
    const big = BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 3000000000n]);
    const data = clsData(dir, { dtype: 'I64', shape: [6], bytes: new Uint8Array(big.buffer) }, 'big.safetensors');
    for (const args of [
      ['train', model, '--data', data, '--steps', '1'],
      ['run', model, '--inputs', data],
      ['run', model, '--inputs', data, '--target', 'reference'],
    ])
      await refused(args, `${data}: tensor 'y' holds 3000000000 at [5]; i32 holds at most 2147483647`);
    const low = BigInt64Array.from([0n, -3000000000n, 2n, 0n, 1n, 1n]);
    const lowData = clsData(dir, { dtype: 'I64', shape: [6], bytes: new Uint8Array(low.buffer) }, 'low.safetensors');
    await refused(
      ['run', model, '--inputs', lowData],
      `${lowData}: tensor 'y' holds -3000000000 at [1]; i32 holds at least -2147483648`,
    );
    // In range for i32 but not for the model: the id check follows the conversion.
    const seven = BigInt64Array.from([0n, 1n, 7n, 0n, 1n, 1n]);
    const sevenData = clsData(
      dir,
      { dtype: 'I64', shape: [6], bytes: new Uint8Array(seven.buffer) },
      'seven.safetensors',
    );
    await refused(
      ['train', model, '--data', sevenData, '--steps', '1'],
      `${sevenData}: tensor 'y' holds 7 at [2]; 'softmax_cross_entropy' needs class ids in [0, 3)`,
    );
    // Integer dtypes convert to i32 only: an f32 input is not given I64.
    expect(() =>
      fromInts('x', { dtype: 'I64', shape: [1], data: new BigInt64Array(1) }, 'f32', 'f.safetensors'),
    ).toThrow(
      "f.safetensors: tensor 'x' has dtype I64, but the model expects f32 (integer dtypes convert to i32 only)",
    );
  });

  it('.npy ids in int8, int16, uint16 and uint32 convert to i32', async () => {
    const dir = tempDir();
    const model = classifier(dir);
    const npy = (descr: string, shape: number[], data: Uint8Array): Uint8Array => {
      const header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`;
      const pad = 64 - ((10 + header.length + 1) % 64);
      const text = `${header}${' '.repeat(pad)}\n`;
      const out = new Uint8Array(10 + text.length + data.length);
      out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, text.length & 255, text.length >> 8]);
      out.set(new TextEncoder().encode(text), 10);
      out.set(data, 10 + text.length);
      return out;
    };
    const x = new Uint8Array(new Float32Array(24).fill(0.5).buffer);
    for (const [descr, y] of [
      ['|i1', new Uint8Array(Int8Array.from([0, 1, 2, 0, 1, 2]).buffer)],
      ['<i2', new Uint8Array(Int16Array.from([0, 1, 2, 0, 1, 2]).buffer)],
      ['<u2', new Uint8Array(Uint16Array.from([0, 1, 2, 0, 1, 2]).buffer)],
      ['<u4', new Uint8Array(Uint32Array.from([0, 1, 2, 0, 1, 2]).buffer)],
    ] as const) {
      const d = join(dir, descr.replace(/[<|]/, ''));
      mkdirSync(d);
      writeFileSync(join(d, 'x.npy'), npy('<f4', [6, 4], x));
      writeFileSync(join(d, 'y.npy'), npy(descr, [6], y));
      const r = await kiln('train', model, '--data', d, '--steps', '1');
      expect(r.status, `${descr}: ${r.stderr}`).toBe(0);
    }
    const d = join(dir, 'u4big');
    mkdirSync(d);
    writeFileSync(join(d, 'x.npy'), npy('<f4', [6, 4], x));
    writeFileSync(
      join(d, 'y.npy'),
      npy('<u4', [6], new Uint8Array(Uint32Array.from([0, 1, 2, 4294967295, 1, 2]).buffer)),
    );
    await refused(
      ['train', model, '--data', d, '--steps', '1'],
      `${join(d, 'y.npy')}: tensor 'y' holds 4294967295 at [3]; i32 holds at most 2147483647`,
    );
  });
});
