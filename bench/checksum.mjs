// What the `kiln.xxh32` checksum costs (README "Damaged files"; the bound of
// issue #22 is 5%). Saves are atomic, the CLI's path (temp file, write,
// sync, rename): without the checksum; on the writer's path for it with the
// hash skipped (the digest's placeholder left in place: the cost of the hash
// alone, the flush it hides behind being the same); with it. Loads are read
// and decode, without and with verifying. The variants take turns, order
// rotating, each the median of many in one warm process; then the first
// save and load of fresh processes (a CLI run saves or loads a few times,
// before the JIT has warmed up); then the hash alone. Last, checkpointing
// itself: saveCheckpoint of a real `kiln train` checkpoint (examples/
// fashion_mlp.kiln with its adam state after one epoch of batch 64, its
// metadata with the epoch's data order and history), without and with, and
// reading it back to resume (readCheckpoint, verifying where there is a checksum).
// `node bench/checksum.mjs [MB] [runs]` after `npm run build`.

import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { xxh32, xxh32Js } from '../dist/runtime/checksum.js';
import { mulberry32 } from '../dist/runtime/mulberry32.js';
import { readRegularFile } from '../dist/runtime/regular-file.js';
import { decodeSafetensors, encodeSafetensors } from '../dist/runtime/safetensors.js';
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from '../dist/runtime/safetensors-node.js';
import { readCheckpoint, saveCheckpoint } from '../dist/cli/train/checkpoint.js';
import { fmt, formatTable, median } from './stats.mjs';

const CHILD = process.argv[2] === '--child';
const args = CHILD ? process.argv.slice(4) : process.argv.slice(2);
const MB = Number(args[0] ?? 2.8);
const RUNS = Number(args[1] ?? 200);
/** Fresh processes per variant. */
const FRESH = 15;

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

const save = (path, tensors, checksum) => writeSafetensorsFile(path, tensors, undefined, { checksum });

/** writeSafetensorsFile's path with the checksum, the digest's placeholder left in place of the digest. */
function saveUnhashed(path, tensors) {
  const bytes = encodeSafetensors(tensors, undefined, { checksum: true, unsealed: true });
  const begin = Buffer.from(bytes.buffer, bytes.byteOffset, 100).indexOf('0'.repeat(16));
  writeFileAtomic(path, bytes, () => ({ begin, end: begin + 16 }));
}

const load = (path, verify) => (verify ? readSafetensorsFile(path) : decodeSafetensors(readRegularFile(path), path));

/** ms of one call. */
function time(f) {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

/**
 * The fns run in turns (order rotating), after a warm-up: per fn, its ms in each round. The event loop
 * turns between runs, so that the writer's background flush can close its descriptor.
 */
async function turns(fns) {
  const times = fns.map(() => []);
  for (let i = 0; i < 20; i++) fns.forEach((f) => f());
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < fns.length; i++) {
      const j = (i + r) % fns.length;
      await setImmediate();
      times[j].push(time(fns[j]));
    }
  }
  return times;
}

/** Median ms of `f` alone, after a warm-up. */
function alone(f) {
  for (let i = 0; i < 20; i++) f();
  return median(Array.from({ length: RUNS }, () => time(f)));
}

/** In a fresh process: ms of its first save and load (modes 'without', 'with'), or of its first hash of 1 MB. */
function child(dir, mode) {
  if (mode === 'js' || mode === 'simd') {
    const bytes = new Uint8Array(2 ** 20 + 3).map((_, i) => i * 7);
    console.log(JSON.stringify({ hash: time(() => (mode === 'js' ? xxh32Js : xxh32)(bytes)) }));
    return;
  }
  const tensors = params(MB);
  const path = join(dir, `${mode}.safetensors`);
  const on = mode === 'with';
  console.log(JSON.stringify({ save: time(() => save(path, tensors, on)), load: time(() => load(path, on)) }));
}

/** Per mode, the median of what FRESH fresh processes report, the modes taking turns. */
function fresh(dir, modes) {
  const runs = Object.fromEntries(modes.map((m) => [m, []]));
  const script = fileURLToPath(import.meta.url);
  for (let r = 0; r < FRESH; r++) {
    for (const mode of r % 2 ? [...modes].reverse() : modes) {
      const p = spawnSync(process.execPath, [script, '--child', mode, String(MB)], {
        encoding: 'utf8',
        env: { ...process.env, KILN_BENCH_DIR: dir },
      });
      if (p.status !== 0) throw new Error(p.stderr);
      runs[mode].push(JSON.parse(p.stdout));
    }
  }
  return (mode, key) => median(runs[mode].map((x) => x[key]));
}

/**
 * A real checkpoint (`kiln train examples/fashion_mlp.kiln`, one epoch of batch 64 on the data
 * `fashion-mnist` names) saved by saveCheckpoint in turns, without and with the checksum: ms per round.
 */
async function checkpointTurns(dir) {
  const made = join(dir, 'made');
  const root = fileURLToPath(new URL('..', import.meta.url));
  const p = spawnSync(
    process.execPath,
    [
      join(root, 'bin/kiln.js'),
      'train',
      join(root, 'examples/fashion_mlp.kiln'),
      '--data',
      'fashion-mnist',
      '--steps',
      '938',
      '--batch',
      '64',
      '--seed',
      '0',
      '--checkpoint',
      made,
    ],
    { encoding: 'utf8' },
  );
  if (p.status !== 0) throw new Error(p.stderr);
  const ckpt = readCheckpoint(made);
  const unsummed = (path, tensors, meta) => writeSafetensorsFile(path, tensors, meta, { checksum: false });
  const [off, on] = await turns([
    () => saveCheckpoint(join(dir, 'ck-off'), ckpt, unsummed),
    () => saveCheckpoint(join(dir, 'ck-on'), ckpt),
  ]);
  // Resuming reads the file written without the checksum (nothing to verify) and the one with it.
  const [readOff, readOn] = await turns([
    () => readCheckpoint(join(dir, 'ck-off')),
    () => readCheckpoint(join(dir, 'ck-on')),
  ]);
  const bytes = readRegularFile(join(dir, 'ck-on', 'checkpoint.safetensors')).length;
  return { off, on, readOff, readOn, mb: (bytes / 1e6).toFixed(2) };
}

/** b / a, and the median of b / a over the rounds (steadier when the machine's load drifts). */
const ratios = (a, b) => [(median(b) / median(a)).toFixed(3), median(b.map((t, i) => t / a[i])).toFixed(3)];

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-checksum-'));
  try {
    const tensors = params(MB);
    const plain = join(dir, 'plain.safetensors');
    const summed = join(dir, 'summed.safetensors');
    const [saveOff, saveSkip, saveOn] = await turns([
      () => save(plain, tensors, false),
      () => saveUnhashed(plain, tensors),
      () => save(summed, tensors, true),
    ]);
    const [loadOff, loadOn] = await turns([() => load(summed, false), () => load(summed, true)]);
    const bytes = readRegularFile(summed);
    const hashJs = alone(() => xxh32Js(bytes));
    const hashSimd = alone(() => xxh32(bytes));
    const first = fresh(dir, ['without', 'with']);
    const firstHash = fresh(dir, ['js', 'simd']);
    const firstRow = (key) => {
      const [off, on] = [first('without', key), first('with', key)];
      return [`first ${key}, ${FRESH} processes`, fmt(off), '', fmt(on), (on / off).toFixed(3)];
    };
    const ckpt = await checkpointTurns(dir);
    const gbs = (ms) => `${fmt(bytes.length / ms / 1e6)} GB/s`;
    console.log(
      `${(bytes.length / 1e6).toFixed(2)} MB params file (ms); ratio: with / without, then paired by round\n`,
    );
    console.log(
      formatTable(
        ['', 'without checksum', 'hash skipped', 'with checksum', 'ratio', 'paired', 'to hash skipped', 'paired'],
        [
          [
            `save, median of ${RUNS}`,
            fmt(median(saveOff)),
            fmt(median(saveSkip)),
            fmt(median(saveOn)),
            ...ratios(saveOff, saveOn),
            ...ratios(saveSkip, saveOn),
          ],
          [`load, median of ${RUNS}`, fmt(median(loadOff)), '', fmt(median(loadOn)), ...ratios(loadOff, loadOn)],
          firstRow('save'),
          firstRow('load'),
          [
            `checkpoint (${ckpt.mb} MB), median of ${RUNS}`,
            fmt(median(ckpt.off)),
            '',
            fmt(median(ckpt.on)),
            ...ratios(ckpt.off, ckpt.on),
          ],
          [
            `resume from it, median of ${RUNS}`,
            fmt(median(ckpt.readOff)),
            '',
            fmt(median(ckpt.readOn)),
            ...ratios(ckpt.readOff, ckpt.readOn),
          ],
        ],
      ),
    );
    console.log(
      `\nxxh32 alone, warm: ${fmt(hashJs)} ms in JS (${gbs(hashJs)}), ${fmt(hashSimd)} ms with SIMD (${gbs(hashSimd)})`,
    );
    console.log(
      `first call on 1 MB in a fresh process: ${fmt(firstHash('js', 'hash'))} ms in JS, ` +
        `${fmt(firstHash('simd', 'hash'))} ms with SIMD (its compile included)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (CHILD) child(process.env.KILN_BENCH_DIR, process.argv[3]);
else await main();
