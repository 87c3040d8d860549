// Compile time of every example (`npm run bench`, or `npm run bench:compile`
// alone). Two views:
// - in process, warm: the same source compiled repeatedly in one process (the
//   first compile, which also JIT-compiles the compiler and binaryen, is not
//   counted): the front end (parse + check), the middle end (lowering, the
//   training step, rewrite passes, fusion, kernels, memory plan, both
//   programs) and wasm code generation (binaryen, -O3), each the minimum over
//   the runs, since other processes only ever add time;
// - whole CLI process: `kiln check` and `kiln compile --target wasm`, wall
//   time of `node bin/kiln.js ...`, the median of a few runs.
// The targets (#12) are printed beside the numbers.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { formatTable, median } from './stats.mjs';
import { compileStages } from './kiln.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLES = path.join(ROOT, 'examples');
const QUICK = Boolean(process.env.KILN_BENCH_QUICK);

/** ms targets: in-process warm compile (front + middle + codegen), `kiln check` wall. */
const TARGET_WARM = { 'attention.kiln': 400, 'fashion_cnn.kiln': 300, 'mlp.kiln': 60 };
const TARGET_CHECK = 250;
const TARGET_COMPILE_CLI = { 'mlp.kiln': 1500 };

async function inProcess(file, text) {
  await compileStages(file, text); // warm-up
  const best = { front: Infinity, middle: Infinity, codegen: Infinity, total: Infinity };
  const budget = QUICK ? 300 : 1500;
  const start = performance.now();
  for (let runs = 0; runs < 3 || (performance.now() - start < budget && runs < 50); runs++) {
    const t = await compileStages(file, text);
    for (const k of Object.keys(best)) best[k] = Math.min(best[k], t[k]);
  }
  return best;
}

function cliWall(args, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, [path.join(ROOT, 'bin/kiln.js'), ...args], { cwd: ROOT, stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  return median(times);
}

const ms = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const withTarget = (x, target) => (target === undefined ? ms(x) : `${ms(x)} (${x <= target ? '≤' : '>'} ${target})`);

export async function compileTable() {
  const files = fs
    .readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.kiln'))
    .sort();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-compile-'));
  const rows = [];
  try {
    for (const file of files) {
      const text = fs.readFileSync(path.join(EXAMPLES, file), 'utf8');
      const warm = await inProcess(file, text);
      const runs = QUICK ? 1 : 3;
      const check = cliWall(['check', path.join('examples', file)], runs);
      const out = path.join(tmp, `${file}.artifact`);
      const compile = cliWall(['compile', path.join('examples', file), '-o', out], runs);
      rows.push([
        file,
        ms(warm.front),
        ms(warm.middle),
        ms(warm.codegen),
        withTarget(warm.total, TARGET_WARM[file]),
        withTarget(check, TARGET_CHECK),
        withTarget(compile, TARGET_COMPILE_CLI[file]),
      ]);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log('Compile time, ms (in brackets: the target of issue #12)');
  console.log('');
  console.log(
    formatTable(
      [
        'example',
        'front end',
        'middle end',
        'wasm codegen',
        'in-process warm total',
        '`kiln check` process',
        '`kiln compile` process',
      ],
      rows,
    ),
  );
  console.log('');
  console.log(
    'In process: the minimum over repeated compiles of the same source after one warm-up compile (forward program and',
  );
  console.log(
    'training step, as `kiln compile` builds them). wasm codegen is Kiln emitting the kernels through binaryen and',
  );
  console.log("binaryen's -O3 pipeline. CLI: wall time of `node bin/kiln.js`, process start and imports included.");
}

/** The scaling model: `n` params of shape [8], each `sum(tanh(x * wI + cI), axis = 1)` added into the loss. */
function manyParams(n) {
  const params = Array.from({ length: n }, (_, i) => `  param w${i}: f32[8] = zeros`);
  // Distinct constants, so no two kernels are identical (binaryen would merge them).
  const terms = Array.from({ length: n }, (_, i) => `sum(tanh(x * w${i} + ${(i + 1) / 1000}), axis = 1)`);
  return `model m(x: f32[B, 8], y: f32[B]) {\n${params.join('\n')}\n  s = ${terms.join(' + ')}\n  output loss = mean((s - y) * (s - y))\n}\n${TRAIN_SGD}`;
}

const TRAIN_SGD = 'train m {\n  minimize loss\n  optimizer sgd(lr = 0.01)\n}\n';

function deepChain(n) {
  const lets = Array.from({ length: n }, (_, i) => `  h${i + 1} = tanh(h${i}) + 0.5`);
  return `model m(x: f32[B, 8]) {\n  param w: f32[8] = zeros\n  h0 = x * w\n${lets.join('\n')}\n  output loss = mean(h${n})\n}\n${TRAIN_SGD}`;
}

function longSum(n) {
  const terms = Array.from({ length: n }, (_, i) => `x * ${(i % 97) / 100 + 0.01}`);
  return `model m(x: f32[B, 8]) {\n  param w: f32[8] = zeros\n  s = ${terms.join(' + ')}\n  output loss = mean(s * w)\n}\n${TRAIN_SGD}`;
}

/**
 * Compile time against model size (issue #22): one full compile (front end,
 * middle end, wasm codegen) of each generated model, after the examples
 * warmed the process up. Goals: 1,000 params in at most 10 s, t(800)/t(100)
 * at most 12, and the 10,000-deep chain and 20,000-term sum compile.
 */
export async function scalingTable() {
  const cases = [
    ...(QUICK ? [100, 800] : [100, 200, 400, 800, 1000]).map((n) => [`${n} params of [8]`, manyParams(n), n]),
    ...(QUICK
      ? []
      : [
          ['10,000-deep chain of lets', deepChain(10_000)],
          ['20,000-term sum', longSum(20_000)],
        ]),
  ];
  await compileStages('warm.kiln', manyParams(10));
  const rows = [];
  const totals = new Map();
  for (const [name, text, n] of cases) {
    const t = await compileStages('scale.kiln', text);
    if (n !== undefined) totals.set(n, t.total);
    const goal = n === 1000 ? ` (${t.total <= 10_000 ? '≤' : '>'} 10000)` : '';
    rows.push([name, ms(t.front), ms(t.middle), ms(t.codegen), `${ms(t.total)}${goal}`]);
  }
  console.log('Compile time against model size, ms (one compile each; goals of issue #22 in brackets)');
  console.log('');
  console.log(formatTable(['model', 'front end', 'middle end', 'wasm codegen', 'total'], rows));
  const ratio = totals.get(800) / totals.get(100);
  console.log('');
  console.log(`t(800 params) / t(100 params) = ${ratio.toFixed(2)} (${ratio <= 12 ? '≤' : '>'} 12)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await compileTable();
  console.log('');
  await scalingTable();
}
