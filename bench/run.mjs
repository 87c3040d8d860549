// `npm run bench`: Kiln against jax-js and TensorFlow.js (wasm backend), in
// one process. Workloads: (a) matmul n = 256, 512, 1024 in GFLOP/s; (b) the
// fused elementwise chain sqrt(a*a + b*b) * sigmoid(c) + 0.5 over 2^20 floats
// in GB/s; training steps in ms/step, all with Adam and softmax
// cross-entropy: (c) an MLP 784-256-10 (ReLU, batch 128), (d) the Fashion
// CNN of examples/fashion_cnn.kiln (batch 64, without its schedule and clip)
// and (e) a layer-norm + single-head self-attention block (batch 16, 64
// tokens of width 64; sizes in bench/train-models.mjs). Each number is the
// median of repeated runs after a warm-up of at least one second. Before
// timing, every implementation's output is checked once against a float64
// reference (for the training steps: Kiln's reference interpreter, from the
// same initial params); a disagreement is printed as a note and marks the
// number with '*'. A peer that cannot express a workload says why in a note
// and its cell is '—'.
//
// Environment: KILN_BENCH_QUICK=1 shortens the timed phase (the warm-up stays
// at one second); KILN_BENCH_ONLY=matmul,elementwise,mlp,cnn,attention,compile
// picks workloads (compile: the compile-time table of every example,
// bench/compile.mjs).

import os from 'node:os';
import { TIMING, measureInterleaved, fmt, formatTable, ratio } from './stats.mjs';
import { createJax } from './peers/jax.mjs';
import { createTfjs } from './peers/tfjs.mjs';
import { createKiln, referenceTraining } from './kiln.mjs';
import { compileTable, scalingTable } from './compile.mjs';
import { mulberry32 as rng } from '../dist/runtime/mulberry32.js';
import { ADAM, ATTENTION, CNN, MLP, Unsupported, cnnFlat } from './train-models.mjs';

const SIZES = [256, 512, 1024];
const EW_N = 1 << 20;
const TRAINING = ['mlp', 'cnn', 'attention'];
const only = new Set((process.env.KILN_BENCH_ONLY ?? `matmul,elementwise,${TRAINING},compile`).split(','));

// ---------------------------------------------------------------------------
// Data: deterministic (mulberry32), the same arrays for every implementation.

const uniform = (n, lo, hi, seed) => {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
};

/** Uniform in ±sqrt(6 / (fanIn + fanOut)) (Glorot) or, with fanOut = 0, ±sqrt(6 / fanIn) (He). */
const scaled = (n, fanIn, fanOut, seed) => {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  return uniform(n, -bound, bound, seed);
};

/** Class labels in [0, classes). */
const labels = (batch, classes, seed) => {
  const r = rng(seed);
  return Int32Array.from({ length: batch }, () => Math.floor(r() * classes));
};

/** Initial params (Glorot or He bounds, nonzero biases) and one batch (x, y) of each training workload. */
const TRAINING_DATA = {
  mlp: ({ batch, input, hidden, classes }) => ({
    params0: {
      w1: scaled(input * hidden, input, hidden, 31),
      b1: uniform(hidden, -0.01, 0.01, 32),
      w2: scaled(hidden * classes, hidden, classes, 33),
      b2: uniform(classes, -0.01, 0.01, 34),
    },
    x: uniform(batch * input, 0, 1, 35),
    y: labels(batch, classes, 36),
  }),
  cnn: (dims) => {
    const { batch, size, ch1, ch2, hidden, classes } = dims;
    const flat = cnnFlat(dims);
    return {
      params0: {
        k1: scaled(ch1 * 9, 9, 0, 41),
        c1: uniform(ch1, -0.01, 0.01, 42),
        k2: scaled(ch2 * ch1 * 9, ch1 * 9, 0, 43),
        c2: uniform(ch2, -0.01, 0.01, 44),
        w1: scaled(flat * hidden, flat, 0, 45),
        b1: uniform(hidden, -0.01, 0.01, 46),
        w2: scaled(hidden * classes, hidden, classes, 47),
        b2: uniform(classes, -0.01, 0.01, 48),
      },
      x: uniform(batch * size * size, 0, 1, 49),
      y: labels(batch, classes, 50),
    };
  },
  attention: ({ batch, tokens, width, classes }) => ({
    params0: {
      ln_g: uniform(width, 0.9, 1.1, 51),
      ln_b: uniform(width, -0.1, 0.1, 52),
      wq: scaled(width * width, width, width, 53),
      wk: scaled(width * width, width, width, 54),
      wv: scaled(width * width, width, width, 55),
      wo: scaled(width * width, width, width, 56),
      wc: scaled(width * classes, width, classes, 57),
      bc: uniform(classes, -0.01, 0.01, 58),
    },
    x: uniform(batch * tokens * width, -1, 1, 59),
    y: labels(batch, classes, 60),
  }),
};

/**
 * The training-step rows: workload (the row's label), size column, dims,
 * and the check: the losses of the first `steps` steps (the 2nd and later
 * see Adam's updates) against Kiln's float64 reference interpreter, within
 * `lossTol`, and the params after them within `paramTol` (max |diff| / max
 * |ref| per tensor). The CNN checks two steps: its reference step takes
 * seconds.
 */
const TRAINING_ROWS = {
  mlp: { workload: 'MLP train step', size: `B=${MLP.batch}`, dims: MLP, steps: 3, lossTol: 1e-4, paramTol: 1e-3 },
  cnn: { workload: 'CNN train step', size: `B=${CNN.batch}`, dims: CNN, steps: 2, lossTol: 1e-4, paramTol: 1e-3 },
  attention: {
    workload: 'attention train step',
    size: `B=${ATTENTION.batch} T=${ATTENTION.tokens} D=${ATTENTION.width}`,
    dims: ATTENTION,
    steps: 3,
    lossTol: 1e-4,
    paramTol: 1e-3,
  },
};

// ---------------------------------------------------------------------------

const notes = [];
let disagreements = 0;
function note(s) {
  notes.push(s);
}

/** `make()`, or undefined with a note if it throws (`onUnsupported` is called when it cannot express the workload). */
async function tryCreate(label, make, onUnsupported = () => {}) {
  try {
    return await make();
  } catch (e) {
    if (e instanceof Unsupported) {
      onUnsupported();
      note(`${label}: cannot run this workload (${e.message})`);
    } else note(`${label}: unavailable (${e instanceof Error ? e.message : String(e)})`);
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

  /** rows: { workload, size, unit, higher, values: { k1, kN, jax, tfjs }, bad: { key: true }, unsupported: { key: true } } */
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
        const w = await tryCreate(
          `${label} ${impl.name}`,
          () => make(impl),
          () => (row.unsupported[impl.key] = true),
        );
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
        { workload: 'matmul', size: `n=${n}`, unit: 'GFLOP/s', higher: true, values: {}, bad: {}, unsupported: {} },
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
    // Two rows: inputs resident (the peers' arrays on their device; Kiln's in the views of its memory
    // that Model.inputViews gives, read in place; every output still comes back to the host), and every
    // implementation from host Float32Arrays to a host Float32Array (Kiln's `run` copies the inputs into
    // its memory and the output out of it, 16 MiB of extra copying per call).
    const variants = [
      ['inputs resident', (impl) => impl.elementwise(a, b, c)],
      ['host in/out', (impl) => impl.elementwiseHost(a, b, c)],
    ];
    for (const [variant, make] of variants)
      await benchRow(
        {
          workload: 'elementwise',
          size: `2^20, ${variant}`,
          unit: 'GB/s',
          higher: true,
          values: {},
          bad: {},
          unsupported: {},
        },
        `elementwise (${variant})`,
        make,
        async (impl, w) => checkArr(`elementwise (${variant})`, impl.name, await w.result(), want, 1e-5),
        (ms) => bytes / (ms * 1e6),
      );
  }

  // (c, d, e) training steps -------------------------------------------------
  for (const kind of TRAINING.filter((k) => only.has(k))) {
    const { workload, size, dims, steps, lossTol, paramTol } = TRAINING_ROWS[kind];
    const { params0, x, y } = TRAINING_DATA[kind](dims);
    const ref = referenceTraining(kind, params0, x, y, dims, ADAM, steps);
    note(
      `${workload}: reference losses of steps 1-${steps} (float64 interpreter): ${ref.losses.map((l) => l.toFixed(6)).join(', ')}`,
    );
    await benchRow(
      { workload, size, unit: 'ms/step', higher: false, values: {}, bad: {}, unsupported: {} },
      workload,
      async (impl) => {
        const w = await impl[kind](params0, x, y, dims, ADAM);
        return { ...w, run: () => w.step() };
      },
      async (impl, w) => {
        const losses = [];
        for (let t = 0; t < steps; t++) losses.push(await w.step());
        const params = await w.params();
        let ok = checkArr(`${workload} losses (steps 1-${steps})`, impl.name, losses, ref.losses, lossTol);
        for (const k of Object.keys(ref.params))
          ok =
            checkArr(`${workload} param ${k} after ${steps} steps`, impl.name, params[k], ref.params[k], paramTol) &&
            ok;
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
    const cell = (k) => (r.unsupported[k] ? '—' : fmt(v[k]) + (r.bad[k] ? '*' : ''));
    const against = (kiln, peer) => (r.unsupported[peer] ? '—' : ratio(v[kiln], v[peer], r.higher));
    const both = (peer) => `${against('k1', peer)} | ${against('kN', peer)}`;
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

if (['matmul', 'elementwise', ...TRAINING].some((w) => only.has(w))) await main();
if (only.has('compile')) {
  console.log('');
  await compileTable();
  console.log('');
  await scalingTable();
}
// Kiln's and the peers' worker threads must not keep the process alive.
process.exit(0);
