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

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await compileTable();
