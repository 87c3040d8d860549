// `npm run bench`: Kiln against jax-js and TensorFlow.js (wasm backend), in
// one process. Workloads: (a) matmul n = 256, 512, 1024 in GFLOP/s; (b) the
// fused elementwise chain sqrt(a*a + b*b) * sigmoid(c) + 0.5 over 2^20 floats
// in GB/s; (c) one training step of an MLP 784-256-10 (ReLU, softmax
// cross-entropy, batch 128, Adam) in ms/step. Each number is the median of
// repeated runs after a warm-up of at least one second. Before timing, every
// implementation's output is checked once against a float64 reference (for
// the MLP: Kiln's reference interpreter); a disagreement is printed as a note
// and marks the number with '*'.
//
// Environment: KILN_BENCH_QUICK=1 shortens the timed phase (the warm-up stays
// at one second); KILN_BENCH_ONLY=matmul,elementwise,mlp,compile picks workloads
// (compile: the compile-time table of every example, bench/compile.mjs).

import os from 'node:os';
import { TIMING, measureInterleaved, fmt, formatTable, ratio } from './stats.mjs';
import { createJax } from './peers/jax.mjs';
import { createTfjs } from './peers/tfjs.mjs';
import { createKiln, referenceMlp } from './kiln.mjs';
import { compileTable, scalingTable } from './compile.mjs';
import { mulberry32 as rng } from '../dist/runtime/mulberry32.js';

const SIZES = [256, 512, 1024];
const EW_N = 1 << 20;
const MLP = { batch: 128, input: 784, hidden: 256, classes: 10 };
const ADAM = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8 };
const only = new Set((process.env.KILN_BENCH_ONLY ?? 'matmul,elementwise,mlp,compile').split(','));

// ---------------------------------------------------------------------------
// Data: deterministic (mulberry32), the same arrays for every implementation.

const uniform = (n, lo, hi, seed) => {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
};

// ---------------------------------------------------------------------------

const notes = [];
let disagreements = 0;
function note(s) {
  notes.push(s);
}

async function tryCreate(label, make) {
  try {
    return await make();
  } catch (e) {
    note(`${label}: unavailable (${e instanceof Error ? e.message : String(e)})`);
    return undefined;
  }
}

/** Max |got - want| / max |want| over every element (NaN counts as a disagreement). */
function normErr(got, want) {
  let scale = 0;
  let d = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
  }
  return d / (scale || 1);
}

/** Notes a disagreement (max |diff| / max |ref| above `tol`); returns whether `got` agrees. */
function checkArr(what, impl, got, want, tol) {
  const err = got.length === want.length ? normErr(got, want) : Infinity;
  if (err <= tol) return true;
  disagreements++;
  note(
    `${what}: ${impl} DISAGREES with the reference (max |diff| / max |ref| = ${err.toExponential(2)}, tolerance ${tol})`,
  );
  return false;
}

async function main() {
  const cpus = os.cpus();
  const cores = os.availableParallelism();
  const model = cpus[0]?.model?.trim() || 'unknown CPU';
  console.log('Kiln benchmarks');
  console.log(`date:    ${new Date().toISOString()}`);
  console.log(`node:    ${process.version} (${process.platform}-${process.arch}, V8 ${process.versions.v8})`);
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log(
    `machine: ${model}, ${cpus.length} logical CPUs, availableParallelism ${cores}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average at start ${load}`,
  );
  console.log(
    `timing:  per implementation a warm-up >= ${TIMING.warmupMs} ms, then >= ${TIMING.minRuns} runs and about ${TIMING.budgetMs} ms, taking turns with the others in rounds of ${TIMING.roundMs} ms; medians`,
  );
  console.log('');

  const impls = [];
  const kiln1 = await tryCreate('Kiln (1 thread)', () => createKiln({ threads: 1 }));
  if (kiln1) impls.push({ ...kiln1, key: 'k1' });
  const kilnN =
    cores > 1 ? await tryCreate(`Kiln (${cores} threads)`, () => createKiln({ threads: cores })) : undefined;
  if (kilnN) impls.push({ ...kilnN, key: 'kN' });
  const jax = await tryCreate('jax-js', createJax);
  if (jax) impls.push({ ...jax, key: 'jax' });
  const tfjs = await tryCreate('tfjs', createTfjs);
  if (tfjs) impls.push({ ...tfjs, key: 'tfjs' });

  console.log('implementations:');
  for (const impl of impls) console.log(`  ${impl.name.padEnd(18)} ${impl.config}`);
  console.log('');

  /** rows: { workload, size, unit, higher, values: { k1, kN, jax, tfjs }, bad: { key: true } } */
  const rows = [];

  /**
   * One table row: builds every implementation's instance of the workload
   * (`make(impl)`), checks its output once (`check(impl, w)` returns whether
   * it agrees), then times `w.run` for all of them, interleaved; `value`
   * turns the median milliseconds into the row's unit.
   */
  async function benchRow(row, label, make, check, value) {
    const live = [];
    try {
      for (const impl of impls) {
        const w = await tryCreate(`${label} ${impl.name}`, () => make(impl));
        if (!w) continue;
        live.push(w);
        try {
          if (!(await check(impl, w))) row.bad[impl.key] = true;
          w.key = impl.key;
        } catch (e) {
          note(`${label} ${impl.name}: failed (${e instanceof Error ? e.message : String(e)})`);
        }
      }
      const timed = live.filter((w) => w.key !== undefined);
      const t = await measureInterleaved(timed.map((w) => [w.key, () => w.run()]));
      for (const [k, r] of Object.entries(t)) row.values[k] = value(r.median);
    } catch (e) {
      note(`${label}: timing failed (${e instanceof Error ? e.message : String(e)})`);
    } finally {
      for (const w of live) w.dispose();
    }
    rows.push(row);
    process.stderr.write(`  done: ${label}\n`);
  }

  // (a) matmul --------------------------------------------------------------
  if (only.has('matmul')) {
    for (const n of SIZES) {
      const a = uniform(n * n, -1, 1, 11 + n);
      const b = uniform(n * n, -1, 1, 12 + n);
      // A float64 reference on 256 sampled entries.
      const r = rng(99);
      const samples = [];
      for (let s = 0; s < 256; s++) {
        const i = Math.floor(r() * n);
        const j = Math.floor(r() * n);
        let acc = 0;
        for (let k = 0; k < n; k++) acc += a[i * n + k] * b[k * n + j];
        samples.push([i * n + j, acc]);
      }
      const want = samples.map(([, v]) => v);
      const flops = 2 * n * n * n;
      await benchRow(
        { workload: 'matmul', size: `n=${n}`, unit: 'GFLOP/s', higher: true, values: {}, bad: {} },
        `matmul n=${n}`,
        (impl) => impl.matmul(n, a, b),
        async (impl, w) => {
          const c = await w.result();
          const got = samples.map(([idx]) => c[idx]);
          return checkArr(`matmul n=${n}`, impl.name, got, want, 1e-4);
        },
        (ms) => flops / (ms * 1e6),
      );
    }
  }

  // (b) elementwise ---------------------------------------------------------
  if (only.has('elementwise')) {
    const a = uniform(EW_N, -2, 2, 21);
    const b = uniform(EW_N, -2, 2, 22);
    const c = uniform(EW_N, -4, 4, 23);
    const want = new Float64Array(EW_N);
    for (let i = 0; i < EW_N; i++) want[i] = Math.sqrt(a[i] * a[i] + b[i] * b[i]) * (1 / (1 + Math.exp(-c[i]))) + 0.5;
    const bytes = 4 * 4 * EW_N; // three inputs read, one output written
    // Two rows: peers with their arrays resident on the device (their best case), and every implementation
    // from host Float32Arrays to a host Float32Array (Kiln's `run` always works this way: it copies the
    // inputs into its memory and the output out of it, 16 MiB of extra copying per call).
    const variants = [
      ['peers resident', (impl) => impl.elementwise(a, b, c)],
      ['host in/out', (impl) => impl.elementwiseHost(a, b, c)],
    ];
    for (const [variant, make] of variants)
      await benchRow(
        { workload: 'elementwise', size: `2^20, ${variant}`, unit: 'GB/s', higher: true, values: {}, bad: {} },
        `elementwise (${variant})`,
        make,
        async (impl, w) => checkArr(`elementwise (${variant})`, impl.name, await w.result(), want, 1e-5),
        (ms) => bytes / (ms * 1e6),
      );
  }

  // (c) MLP training step ---------------------------------------------------
  if (only.has('mlp')) {
    const { batch, input, hidden, classes } = MLP;
    const g1 = Math.sqrt(6 / (input + hidden));
    const g2 = Math.sqrt(6 / (hidden + classes));
    const params0 = {
      w1: uniform(input * hidden, -g1, g1, 31),
      b1: uniform(hidden, -0.01, 0.01, 32),
      w2: uniform(hidden * classes, -g2, g2, 33),
      b2: uniform(classes, -0.01, 0.01, 34),
    };
    const x = uniform(batch * input, 0, 1, 35);
    const ry = rng(36);
    const y = Int32Array.from({ length: batch }, () => Math.floor(ry() * classes));
    // The check: the losses of the first three steps (the 2nd and 3rd see Adam's updates) and the params after
    // them, against Kiln's float64 reference interpreter.
    const STEPS = 3;
    const ref = referenceMlp(params0, x, y, MLP, ADAM, STEPS);
    note(
      `MLP: reference losses of steps 1-${STEPS} (float64 interpreter): ${ref.losses.map((l) => l.toFixed(6)).join(', ')}`,
    );
    await benchRow(
      { workload: 'MLP train step', size: 'B=128', unit: 'ms/step', higher: false, values: {}, bad: {} },
      'MLP',
      async (impl) => {
        const w = await impl.mlp(params0, x, y, MLP, ADAM);
        return { ...w, run: () => w.step() };
      },
      async (impl, w) => {
        const losses = [];
        for (let t = 0; t < STEPS; t++) losses.push(await w.step());
        const params = await w.params();
        let ok = checkArr(`MLP losses (steps 1-${STEPS})`, impl.name, losses, ref.losses, 1e-4);
        for (const k of Object.keys(ref.params))
          ok = checkArr(`MLP param ${k} after ${STEPS} steps`, impl.name, params[k], ref.params[k], 1e-3) && ok;
        return ok;
      },
      (ms) => ms,
    );
  }

  for (const impl of impls) impl.dispose?.();

  // The table -----------------------------------------------------------------
  const nT = `${cores}T`;
  const header = [
    'workload',
    'size',
    'unit',
    'Kiln 1T',
    `Kiln ${nT}`,
    'jax-js',
    'tfjs',
    `Kiln/jax-js (1T | ${nT})`,
    `Kiln/tfjs (1T | ${nT})`,
  ];
  const table = rows.map((r) => {
    const v = r.values;
    const cell = (k) => fmt(v[k]) + (r.bad[k] ? '*' : '');
    const both = (peer) => `${ratio(v.k1, v[peer], r.higher)} | ${ratio(v.kN, v[peer], r.higher)}`;
    return [r.workload, r.size, r.unit, cell('k1'), cell('kN'), cell('jax'), cell('tfjs'), both('jax'), both('tfjs')];
  });
  console.log(formatTable(header, table));
  console.log('');
  console.log(
    'Ratios are speed ratios, Kiln over the peer (above 1: Kiln is faster): throughput / throughput, or the peer ms / Kiln ms.',
  );
  const peers = impls.filter((i) => i.key === 'jax' || i.key === 'tfjs');
  const single = peers.filter((p) => p.threads === 1).map((p) => p.name);
  console.log(
    `Peers run as they run in Node${single.length ? `; single-threaded here: ${single.join(', ')} (see "implementations")` : ''}.`,
  );
  if (rows.some((r) => Object.keys(r.bad).length > 0))
    console.log(
      '* this implementation computed something else than the reference (see the notes); its speed is shown anyway.',
    );
  if (notes.length) {
    console.log('');
    console.log('notes:');
    for (const n of notes) console.log(`  - ${n}`);
  }
  console.log(
    disagreements === 0
      ? '\nAll implementations agreed with the references.'
      : `\n${disagreements} disagreement(s) with the references: see the notes.`,
  );
}

if (['matmul', 'elementwise', 'mlp'].some((w) => only.has(w))) await main();
if (only.has('compile')) {
  console.log('');
  await compileTable();
  console.log('');
  await scalingTable();
}
// Kiln's and the peers' worker threads must not keep the process alive.
process.exit(0);
