// What the `kiln.xxh32` checksum costs (README "Damaged files"; the bound of
// issue #22 is 5%): an atomic save of a params file (the CLI's path: temp
// file, write, sync, rename) with and without the checksum, and a load
// (read, decode) with and without verifying it; the two take turns, order
// alternating, and each row is the median of many. Then the hash alone.
// `node bench/checksum.mjs [MB] [runs]` after `npm run build`.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import { xxh32, xxh32Js } from '../dist/runtime/checksum.js';
import { mulberry32 } from '../dist/runtime/mulberry32.js';
import { readRegularFile } from '../dist/runtime/regular-file.js';
import { decodeSafetensors } from '../dist/runtime/safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../dist/runtime/safetensors-node.js';
import { fmt, formatTable, median } from './stats.mjs';

const MB = Number(process.argv[2] ?? 2.8);
const RUNS = Number(process.argv[3] ?? 200);

/** An MLP's params of about `mb` MB: a square hidden layer, a 100-wide one, their biases. */
function params(mb) {
  const n = Math.round(Math.sqrt((mb * 1e6) / 4 / 1.13));
  const rand = mulberry32(1);
  const f32 = (...shape) => ({
    dtype: 'F32',
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() - 0.5),
  });
  return { w1: f32(n, n), b1: f32(n), w2: f32(n, 100), b2: f32(100) };
}

/** Median ms of `a` and `b`, run in turns (order alternating), after a warm-up. */
async function pair(a, b) {
  const times = [[], []];
  const fns = [a, b];
  for (let i = 0; i < 20; i++) fns.forEach((f) => f());
  for (let r = 0; r < RUNS; r++) {
    for (const j of r % 2 ? [1, 0] : [0, 1]) {
      // Lets the writer's background flush finish its callback between saves.
      await setImmediate();
      const t0 = performance.now();
      fns[j]();
      times[j].push(performance.now() - t0);
    }
  }
  return times.map(median);
}

/** Median ms of `f` alone. */
function alone(f) {
  for (let i = 0; i < 20; i++) f();
  const xs = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    f();
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-checksum-'));
try {
  const tensors = params(MB);
  const plain = join(dir, 'plain.safetensors');
  const summed = join(dir, 'summed.safetensors');
  const [saveOff, saveOn] = await pair(
    () => writeSafetensorsFile(plain, tensors, undefined, { checksum: false }),
    () => writeSafetensorsFile(summed, tensors),
  );
  const bytes = readRegularFile(summed);
  const [loadOff, loadOn] = await pair(
    () => decodeSafetensors(readRegularFile(summed), summed),
    () => readSafetensorsFile(summed),
  );
  const hashJs = alone(() => xxh32Js(bytes));
  const hashSimd = alone(() => xxh32(bytes));
  const gbs = (ms) => `${fmt(bytes.length / ms / 1e6)} GB/s`;
  console.log(`${(bytes.length / 1e6).toFixed(2)} MB params file, median of ${RUNS} runs each (ms)\n`);
  console.log(
    formatTable(
      ['', 'without checksum', 'with checksum', 'ratio'],
      [
        ['save (atomic)', fmt(saveOff), fmt(saveOn), (saveOn / saveOff).toFixed(3)],
        ['load (verify)', fmt(loadOff), fmt(loadOn), (loadOn / loadOff).toFixed(3)],
      ],
    ),
  );
  console.log(
    `\nxxh32 alone: ${fmt(hashJs)} ms in JS (${gbs(hashJs)}), ${fmt(hashSimd)} ms with SIMD (${gbs(hashSimd)})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
