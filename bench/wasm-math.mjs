// Throughput of the WASM math library (targets/wasm/math.ts) on 2^20 f32s,
// and (with --accuracy) the sweeps behind the maximum errors it documents.
//
//   node bench/wasm-math.mjs [--fns exp,tanh] [--relaxed] [--no-opt]
//   node bench/wasm-math.mjs --accuracy [--stride 7] [--fns exp,log] [--relaxed]
//
// The library is transpiled from source on the fly (no build needed).
// --relaxed turns on V8's relaxed-SIMD flag (Node 20 ships it off).

import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import binaryen from 'binaryen';
import { loadSource } from './load-source.mjs';

const { WebAssembly } = globalThis;
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};

const { addMathLibrary, MATH_ACCURACY } = await loadSource('targets/wasm/math.ts');

/** erf to ~1e-16, as compiler/interpret.ts computes it (copied: that module has project imports). */
function erf(x) {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r = 1;
  if (ax < 2.5) {
    const x2 = 2 * ax * ax;
    let term = ax;
    let sum = ax;
    for (let k = 1; term > sum * 1e-17; k++) sum += term *= x2 / (2 * k + 1);
    r = 1.1283791670955126 * Math.exp(-ax * ax) * sum;
  } else if (ax < 6) {
    let f = ax;
    for (let k = 80; k >= 1; k--) f = ax + k / 2 / f;
    r = 1 - (0.5641895835477563 * Math.exp(-ax * ax)) / f;
  }
  return x < 0 ? -r : x === 0 ? x : r;
}

const relaxed = flag('--relaxed');
if (relaxed) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const N = 1 << 20;

/** Exports `<fn>_v` / `<fn>_s`: (a, b, out, n) applying the vector / scalar function. */
function build(fns, optimize) {
  const m = new binaryen.Module();
  const pages = (N * 12) / 65536;
  m.setMemory(pages, pages, 'memory');
  const lib = addMathLibrary(m, { relaxedSimd: relaxed });
  const I = binaryen.i32;
  const get = (k) => m.local.get(k, I);
  for (const fn of fns) {
    for (const vec of [true, false]) {
      const name = vec ? lib.vector(fn) : lib.scalar(fn);
      const addr = (p) => m.i32.add(get(p), m.i32.shl(get(4), m.i32.const(2)));
      const load = (p) => (vec ? m.v128.load(0, 16, addr(p)) : m.f32.load(0, 4, addr(p)));
      const call = m.call(name, fn === 'pow' ? [load(0), load(1)] : [load(0)], vec ? binaryen.v128 : binaryen.f32);
      const body = m.block('done', [
        m.loop(
          'next',
          m.block(null, [
            m.br('done', m.i32.ge_u(get(4), get(3))),
            vec ? m.v128.store(0, 16, addr(2), call) : m.f32.store(0, 4, addr(2), call),
            m.local.set(4, m.i32.add(get(4), m.i32.const(vec ? 4 : 1))),
            m.br('next'),
          ]),
        ),
      ]);
      const exported = `${fn}_${vec ? 'v' : 's'}`;
      m.addFunction(exported, binaryen.createType([I, I, I, I]), binaryen.none, [I], body);
      m.addFunctionExport(exported, exported);
    }
  }
  if (!m.validate()) throw new Error('invalid module');
  if (optimize) m.optimize();
  const bytes = m.emitBinary();
  m.dispose();
  return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
}

const INPUT = { exp: [-10, 10], expm1: [-2, 2], log: [1e-3, 1e3], log1p: [-0.9, 10], sin: [-10, 10], cos: [-10, 10] };
const REF = {
  exp: Math.exp,
  expm1: Math.expm1,
  log: Math.log,
  log1p: Math.log1p,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  erf,
  pow: Math.pow,
};

function time(f) {
  f(); // warm up (tier-up)
  let best = Infinity;
  for (let rep = 0; rep < 7; rep++) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

function throughput() {
  const fns = option('--fns', 'exp,tanh').split(',');
  const ex = build(fns, !flag('--no-opt'));
  const heap = new Float32Array(ex.memory.buffer);
  const out = new Float32Array(N);
  console.log(
    `${N} f32s, best of 7, ${relaxed ? 'relaxed SIMD' : 'SIMD'}, ${flag('--no-opt') ? 'unoptimized' : 'binaryen-optimized'}, node ${process.version}`,
  );
  for (const fn of fns) {
    const [lo, hi] = INPUT[fn] ?? [-5, 5];
    for (let j = 0; j < N; j++) {
      heap[j] = lo + ((hi - lo) * j) / N;
      heap[N + j] = 0.5 + (j % 7);
    }
    const vec = time(() => ex[`${fn}_v`](0, N * 4, N * 8, N));
    const sca = time(() => ex[`${fn}_s`](0, N * 4, N * 8, N));
    const ref = REF[fn];
    const js = time(() => {
      for (let j = 0; j < N; j++) out[j] = fn === 'pow' ? ref(heap[j], heap[N + j]) : ref(heap[j]);
    });
    const rate = (ms) => `${((N / ms) * 1e-3).toFixed(0).padStart(5)} M/s ${((ms * 1e6) / N).toFixed(2)} ns`;
    console.log(`${fn.padEnd(6)} vector ${rate(vec)} | scalar ${rate(sca)} | JS Math ${rate(js)}`);
  }
}

// ---------------------------------------------------------------- accuracy

const bits = new Int32Array(1);
const view = new Float32Array(bits.buffer);
const bitsOf = (x) => ((view[0] = x), bits[0]);
const ordinal = (x) => {
  const i = bitsOf(x);
  return i < 0 ? -(i & 0x7fffffff) : i;
};
const ulps = (a, b) =>
  Number.isNaN(a) || Number.isNaN(b)
    ? Number.isNaN(a) && Number.isNaN(b)
      ? 0
      : Infinity
    : Math.abs(ordinal(a) - ordinal(b));

function accuracy() {
  const stride = Number(option('--stride', '7'));
  const fns = option('--fns', 'exp,expm1,log,log1p,sin,cos,tanh,erf').split(',');
  const ex = build(fns, false);
  const heap = new Float32Array(ex.memory.buffer);
  for (const fn of fns) {
    const { lo, hi, maxUlp } = MATH_ACCURACY[fn];
    const sides = [];
    if (lo < 0) sides.push([bitsOf(-0), bitsOf(lo)]);
    if (hi > 0) sides.push([0, bitsOf(hi)]);
    let worst = { u: 0 };
    let count = 0;
    const hist = [0, 0, 0, 0];
    const flush = (n) => {
      ex[`${fn}_v`](0, N * 4, N * 8, n & ~3);
      const lanes = heap.slice(2 * N, 2 * N + n);
      ex[`${fn}_s`](0, N * 4, N * 8, n);
      for (let j = 0; j < n; j++) {
        const x = heap[j];
        const y = heap[2 * N + j];
        if (j < (n & ~3) && bitsOf(y) !== bitsOf(lanes[j]) && !Number.isNaN(y)) throw new Error(`${fn}(${x}): lanes`);
        const u = ulps(y, Math.fround(REF[fn](x)));
        hist[Math.min(u, 3)]++;
        if (u > worst.u) worst = { u, x, y };
      }
      count += n;
    };
    for (const [a, b] of sides) {
      let n = 0;
      for (let i = Math.min(a, b); i <= Math.max(a, b); i += stride) {
        bits[0] = i;
        heap[n++] = view[0];
        if (n === N) n = (flush(n), 0);
      }
      if (n > 0) flush(n);
    }
    console.log(
      `${fn.padEnd(6)} [${lo}, ${hi}] ${count} points: max ${worst.u} ulp (documented ${maxUlp})` +
        (worst.u ? ` at x=${worst.x} got ${worst.y}` : '') +
        `; ulps 0/1/2/3+: ${hist.join(' / ')}`,
    );
  }
}

if (flag('--accuracy')) accuracy();
else throughput();
