// Writes the two data files the browser example ships, from a trained
// params file and Fashion-MNIST's test set:
//
//   fashion_mlp.q8.safetensors  the params of examples/fashion_mlp.kiln,
//                               the matrices quantised to 8 bits per column
//                               (a quarter of the f32 size), the biases f32
//   images.json                 the first test image of each class
//
// and prints the test accuracy of the params before and after quantisation.
// How the shipped files were made (README, "In the browser"):
//
//   npm run build
//   node bin/kiln.js train examples/fashion_mlp.kiln --data fashion-mnist --epochs 1 --seed 0 \
//       --params-out /tmp/fashion_mlp.safetensors
//   node examples/browser/make-assets.mjs /tmp/fashion_mlp.safetensors
//
// Needs Debian's dataset-fashion-mnist (the full test set); falls back to the
// subset in data/fashion-mnist-subset.

import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { loadModel } from '../../dist/runtime/index.js';
import { decodeSafetensors, encodeSafetensors } from '../../dist/runtime/safetensors.js';
import { dequantize } from './serve.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

const paramsFile = process.argv[2];
if (!paramsFile) {
  console.error('usage: node examples/browser/make-assets.mjs TRAINED.safetensors');
  process.exit(2);
}

/** The test split: u8 pixels [n, 784] and labels. */
function testSet() {
  const debian = '/usr/share/datasets/fashion-mnist';
  const dir = existsSync(join(debian, 't10k-images-idx3-ubyte.gz')) ? debian : join(REPO, 'data/fashion-mnist-subset');
  const images = gunzipSync(readFileSync(join(dir, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(join(dir, 't10k-labels-idx1-ubyte.gz')));
  const n = labels.readUInt32BE(4);
  return { dir, n, pixels: images.subarray(16, 16 + n * 784), labels: labels.subarray(8, 8 + n) };
}

/** 8-bit affine quantisation per column of a [rows, cols] matrix: w ~ lo + q * step. */
function quantize(t) {
  const [rows, cols] = t.shape;
  const lo = new Float32Array(cols).fill(Infinity);
  const hi = new Float32Array(cols).fill(-Infinity);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const v = t.data[r * cols + c];
      if (v < lo[c]) lo[c] = v;
      if (v > hi[c]) hi[c] = v;
    }
  const step = lo.map((l, c) => (hi[c] > l ? (hi[c] - l) / 255 : 1));
  const q = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) q[r * cols + c] = Math.round((t.data[r * cols + c] - lo[c]) / step[c]);
  return { q, lo, step };
}

async function accuracy(dir, params, test) {
  const model = await loadModel(dir, { threads: 1 });
  try {
    model.setParams(params);
    let right = 0;
    const B = 1000;
    for (let i = 0; i < test.n; i += B) {
      const b = Math.min(B, test.n - i);
      const x = Float32Array.from(test.pixels.subarray(i * 784, (i + b) * 784), (v) => v / 255);
      const { probs } = await model.run({
        x: { data: x, shape: [b, 784] },
        y: { data: new Int32Array(b), shape: [b] },
      });
      for (let j = 0; j < b; j++) {
        const row = probs.data.subarray(j * 10, j * 10 + 10);
        if (row.indexOf(Math.max(...row)) === test.labels[i + j]) right++;
      }
    }
    return right / test.n;
  } finally {
    model.dispose();
  }
}

const trained = decodeSafetensors(new Uint8Array(readFileSync(paramsFile)), paramsFile).tensors;
const packed = {};
for (const [name, t] of trained) {
  if (t.shape.length === 2) {
    const { q, lo, step } = quantize(t);
    packed[`${name}.q8`] = { dtype: 'U8', shape: t.shape, data: q };
    packed[`${name}.lo`] = { dtype: 'F32', shape: [t.shape[1]], data: lo };
    packed[`${name}.step`] = { dtype: 'F32', shape: [t.shape[1]], data: step };
  } else packed[name] = t;
}

const test = testSet();
const tmp = mkdtempSync(join(tmpdir(), 'kiln-browser-assets-'));
try {
  const compiled = spawnSync(
    process.execPath,
    [join(REPO, 'bin/kiln.js'), 'compile', join(REPO, 'examples/fashion_mlp.kiln'), '--entries', 'run', '-o', tmp],
    { stdio: 'inherit' },
  );
  if (compiled.status !== 0) process.exit(1);
  const plain = (ts) => Object.fromEntries([...ts].map(([k, t]) => [k, { data: t.data, shape: t.shape }]));
  const before = await accuracy(tmp, plain(trained), test);
  const after = await accuracy(tmp, plain(dequantize(new Map(Object.entries(packed)))), test);
  const note = `test accuracy ${(100 * before).toFixed(2)}% (f32), ${(100 * after).toFixed(2)}% (8-bit), ${test.n} examples`;
  console.log(note);
  writeFileSync(
    join(HERE, 'fashion_mlp.q8.safetensors'),
    encodeSafetensors(packed, {
      model: 'examples/fashion_mlp.kiln',
      trained: 'kiln train examples/fashion_mlp.kiln --data fashion-mnist --epochs 1 --seed 0',
      quantisation: 'per column: w = lo + q8 * step',
      accuracy: note,
    }),
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// The first test image of each class, as base64 of the 784 u8 pixels.
const images = [];
for (let c = 0; c < CLASSES.length; c++) {
  const i = test.labels.indexOf(c);
  const pixels = Buffer.from(test.pixels.subarray(i * 784, (i + 1) * 784)).toString('base64');
  images.push({ index: i, label: c, pixels });
}
writeFileSync(
  join(HERE, 'images.json'),
  JSON.stringify(
    { source: 'Fashion-MNIST test set (t10k), first image of each class', classes: CLASSES, images },
    null,
    2,
  ) + '\n',
);
console.log(`wrote ${join(HERE, 'fashion_mlp.q8.safetensors')} and ${join(HERE, 'images.json')}`);
