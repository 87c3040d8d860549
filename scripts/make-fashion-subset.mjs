#!/usr/bin/env node
// Writes the Fashion-MNIST subset shipped in data/fashion-mnist-subset/, which
// `kiln train --data fashion-mnist` falls back to when Debian's
// dataset-fashion-mnist is not installed: a class-balanced, seeded choice of
// 600 training and 100 test images per class (6000 and 1000 in all), kept in
// their original order, as gzipped IDX files like the originals.
//
//   npm run build && node scripts/make-fashion-subset.mjs [SOURCE_DIR] [OUT_DIR]
//
// SOURCE_DIR defaults to /usr/share/datasets/fashion-mnist (apt install
// dataset-fashion-mnist). The output is byte-for-byte reproducible.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
// Kiln's seeded generator; only the choice of examples depends on it.
import { mulberry32 as rng } from '../dist/runtime/mulberry32.js';

const SOURCE = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const OUT = process.argv[3] ?? 'data/fashion-mnist-subset';
const SEED = 20240607;
const SETS = [
  { prefix: 'train', perClass: 600 },
  { prefix: 't10k', perClass: 100 },
];

function readIdx(path) {
  const bytes = gunzipSync(readFileSync(path));
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  return { dims, data: bytes.subarray(4 + 4 * rank) };
}

function idxBytes(dims, data) {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return gzipSync(out, { level: 9 });
}

/** Indices of `perClass` examples of every class, chosen by a seeded shuffle, in their original order. */
function balancedChoice(labels, perClass, random) {
  const byClass = new Map();
  labels.forEach((c, i) => {
    if (!byClass.has(c)) byClass.set(c, []);
    byClass.get(c).push(i);
  });
  const chosen = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const idx = byClass.get(c);
    if (idx.length < perClass) throw new Error(`class ${c} has only ${idx.length} examples`);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    chosen.push(...idx.slice(0, perClass));
  }
  return chosen.sort((a, b) => a - b);
}

mkdirSync(OUT, { recursive: true });
const random = rng(SEED);
for (const { prefix, perClass } of SETS) {
  const images = readIdx(join(SOURCE, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(SOURCE, `${prefix}-labels-idx1-ubyte.gz`));
  const pick = balancedChoice(Array.from(labels.data), perClass, random);
  const size = images.dims[1] * images.dims[2];
  const pixels = new Uint8Array(pick.length * size);
  pick.forEach((src, k) => pixels.set(images.data.subarray(src * size, (src + 1) * size), k * size));
  const imageFile = join(OUT, `${prefix}-images-idx3-ubyte.gz`);
  const labelFile = join(OUT, `${prefix}-labels-idx1-ubyte.gz`);
  writeFileSync(imageFile, idxBytes([pick.length, images.dims[1], images.dims[2]], pixels));
  writeFileSync(
    labelFile,
    idxBytes(
      [pick.length],
      Uint8Array.from(pick, (i) => labels.data[i]),
    ),
  );
  console.log(`${prefix}: ${pick.length} examples -> ${imageFile}, ${labelFile}`);
}
