// The AssemblyScript evaluation (../assemblyscript-eval.md): the vector exp and tanh of
// targets/wasm/math.ts against their AssemblyScript ports (exp.ts, compiled to the committed
// exp.wasm / loops.wasm by build.sh), checked bit for bit and timed interleaved in one process.
//
//   node bench/assemblyscript-eval/time.mjs [--rounds 101] [--fns exp,tanh] [--no-check]
//
// Three modules, the same loop dst[i..i+4) = f(src[i..i+4)) over 2^20 f32s:
//   kiln    Kiln's library (addMathLibrary, mul+add path) in a binaryen-built loop, optimised as
//           targets/wasm/codegen.ts optimises a kernel module (-O3, shrink 0, inline size 400);
//   as      loops.wasm as asc -O3 built it (the library inlined into AssemblyScript loops);
//   merged  exp.wasm read with binaryen.readBinary, Kiln's loop added around its functions and
//           optimised like a kernel module: what adopting it would ship.
// No extra install: the .wasm files are committed (rebuild them with build.sh).

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import binaryen from 'binaryen';
import { loadSource } from '../load-source.mjs';

const { WebAssembly } = globalThis;
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const ROUNDS = Number(option('--rounds', '101'));
const FNS = option('--fns', 'exp,tanh').split(',');

const { addMathLibrary } = await loadSource('targets/wasm/math.ts');
// Optimised exactly as a kernel module is (targets/wasm/optimize.ts).
const { optimize } = await loadSource('targets/wasm/optimize.ts');
const wasmFile = (name) => readFileSync(new URL(name, import.meta.url));

const N = 1 << 20;
const SRC = 65536; // above anything a module might place in low memory
const DST = SRC + 4 * N;
const PAGES = (DST + 4 * N) / 65536;
const I = binaryen.i32;

/** As targets/wasm/codegen.ts optimises a kernel module. */

/** Adds export `<fn>_v`(src, dst, n): the loop of bench/wasm-math.mjs around `callee` (v128 -> v128). */
function addLoop(m, fn, callee) {
  const get = (k) => m.local.get(k, I);
  const addr = (p) => m.i32.add(get(p), m.i32.shl(get(3), m.i32.const(2)));
  const body = m.block('done', [
    m.loop(
      'next',
      m.block(null, [
        m.br('done', m.i32.ge_u(get(3), get(2))),
        m.v128.store(0, 16, addr(1), m.call(callee, [m.v128.load(0, 16, addr(0))], binaryen.v128)),
        m.local.set(3, m.i32.add(get(3), m.i32.const(4))),
        m.br('next'),
      ]),
    ),
  ]);
  m.addFunction(`${fn}_v`, binaryen.createType([I, I, I]), binaryen.none, [I], body);
  m.addFunctionExport(`${fn}_v`, `${fn}_v`);
}

function finish(m, opt) {
  if (!m.validate()) throw new Error('invalid module');
  if (opt) optimize(m, 3);
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

function buildKiln(opt = true) {
  const m = new binaryen.Module();
  m.setMemory(PAGES, PAGES, 'memory');
  const lib = addMathLibrary(m, { relaxedSimd: false });
  for (const fn of FNS) addLoop(m, fn, lib.vector(fn));
  return finish(m, opt);
}

function buildMerged(opt = true) {
  const m = binaryen.readBinary(wasmFile('exp.wasm'));
  m.setFeatures(m.getFeatures() | binaryen.Features.SIMD128);
  const internal = {};
  for (const fn of ['exp', 'tanh']) {
    internal[fn] = binaryen.getExportInfo(m.getExport(fn)).value;
    m.removeExport(fn); // internal now, as in a kernel module: inlinable into its one caller
  }
  for (const fn of FNS) addLoop(m, fn, internal[fn]);
  return finish(m, opt);
}

/**
 * Kiln's own library pre-optimised once into a binary (exp.wasm's counterpart without
 * AssemblyScript), then read and merged per module like exp.wasm: separates what reading a
 * pre-optimised library saves from what AssemblyScript itself brings.
 */
let kilnLibrary;
function buildKilnPreoptimised(opt = true) {
  if (!kilnLibrary) {
    const lib = new binaryen.Module();
    const math = addMathLibrary(lib, { relaxedSimd: false });
    for (const fn of ['exp', 'tanh']) lib.addFunctionExport(math.vector(fn), fn);
    kilnLibrary = finish(lib, true);
  }
  const m = binaryen.readBinary(kilnLibrary);
  m.setFeatures(m.getFeatures() | binaryen.Features.SIMD128);
  m.setMemory(PAGES, PAGES, 'memory');
  for (const fn of FNS) {
    const callee = binaryen.getExportInfo(m.getExport(fn)).value;
    m.removeExport(fn);
    addLoop(m, fn, callee);
  }
  return finish(m, opt);
}

function instantiate(bytes) {
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
  const have = ex.memory.buffer.byteLength / 65536;
  if (have < PAGES) ex.memory.grow(PAGES - have);
  return ex;
}

const kilnBytes = buildKiln();
const mergedBytes = buildMerged();
const variants = {
  kiln: instantiate(kilnBytes),
  as: instantiate(wasmFile('loops.wasm')),
  merged: instantiate(mergedBytes),
};
const names = Object.keys(variants);
const heapOf = (ex) => ({ f: new Float32Array(ex.memory.buffer), i: new Int32Array(ex.memory.buffer) });

// ---------------------------------------------------------------- bit identity

const bits = new Int32Array(1);
const view = new Float32Array(bits.buffer);
const bitsOf = (x) => ((view[0] = x), bits[0]);

/** Calls `emit(bitPattern)` for every input of the check. */
function inputs(emit) {
  // Every 1021st bit pattern (all classes: +-0, denormals, normals, +-inf, NaNs).
  for (let b = 0; b < 2 ** 32; b += 1021) emit(b | 0);
  // Specials and 65536 consecutive patterns on each side of the boundaries.
  const specials = [0, -0, Infinity, -Infinity, NaN, 3.4028234663852886e38, -3.4028234663852886e38, 1.4e-45, -1.4e-45];
  for (const x of specials) emit(bitsOf(x));
  for (const b of [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fffffff, 0xffffffff]) emit(b | 0);
  const edges = [
    88.72283935546875, // ln FLT_MAX: exp overflows above
    89, // clamp
    -87.33654022216797, // ln FLT_MIN: exp goes denormal below
    -103.97208, // exp underflows to 0 below (as an f32)
    -104, // clamp
    1.1754943508222875e-38, // FLT_MIN: denormals below
    0.625, // tanh's polynomial / expm1 switch
    9.5, // tanh's clamp
    9.010913848876953, // tanh = 1 in f32 beyond
    Math.LN2 / 2, // ln2/2: the reduction's rounding switch
    0,
  ];
  for (const e of edges) {
    for (const s of [1, -1]) {
      const b0 = bitsOf(s * e) & 0x7fffffff;
      const sign = s < 0 || Object.is(s * e, -0) ? 0x80000000 | 0 : 0;
      for (let d = -65536; d <= 65536; d++) {
        const b = b0 + d;
        if (b >= 0 && b <= 0x7f800000) emit(b | sign);
      }
    }
  }
  // Random f32s in the working range and random bit patterns (fixed seed).
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) | 0) >>> 0) / 2 ** 32;
  for (let j = 0; j < 1 << 21; j++) emit(bitsOf(-110 + 205 * rand()));
  for (let j = 0; j < 1 << 21; j++) emit((rand() * 2 ** 32) | 0);
}

function checkBits() {
  const heaps = names.map((n) => heapOf(variants[n]));
  for (const fn of FNS) {
    let count = 0;
    const diff = Object.fromEntries(names.slice(1).map((n) => [n, { bits: 0, nanPayload: 0, first: null }]));
    let n = 0;
    const flush = () => {
      const len = (n + 3) & ~3;
      for (let j = n; j < len; j++) for (const h of heaps) h.i[SRC / 4 + j] = 0;
      names.forEach((name) => variants[name][`${fn}_v`](SRC, DST, len));
      const ref = heaps[0];
      for (let h = 1; h < names.length; h++) {
        const d = diff[names[h]];
        for (let j = 0; j < n; j++) {
          const a = ref.i[DST / 4 + j];
          const b = heaps[h].i[DST / 4 + j];
          if (a === b) continue;
          if (Number.isNaN(ref.f[DST / 4 + j]) && Number.isNaN(heaps[h].f[DST / 4 + j])) d.nanPayload++;
          else {
            d.bits++;
            d.first ??= { x: ref.f[SRC / 4 + j], kiln: ref.f[DST / 4 + j], other: heaps[h].f[DST / 4 + j] };
          }
        }
      }
      count += n;
      n = 0;
    };
    inputs((b) => {
      for (const h of heaps) h.i[SRC / 4 + n] = b;
      if (++n === N) flush();
    });
    if (n > 0) flush();
    const report = names
      .slice(1)
      .map((name) => {
        const d = diff[name];
        const first = d.first ? ` (first: ${fn}(${d.first.x}) kiln ${d.first.kiln}, ${name} ${d.first.other})` : '';
        return `${name}: ${d.bits} differing results, ${d.nanPayload} NaN-payload-only${first}`;
      })
      .join('; ');
    console.log(`bits ${fn.padEnd(4)} ${count} inputs vs kiln: ${report}`);
  }
}

// ---------------------------------------------------------------- timing

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

function timeAll() {
  console.log(
    `\n${N} f32s per call, ${ROUNDS} interleaved rounds (order rotated each round), median per variant, node ${process.version}`,
  );
  for (const fn of FNS) {
    const [lo, hi] = fn === 'exp' ? [-10, 10] : [-5, 5]; // as bench/wasm-math.mjs
    for (const name of names) {
      const h = heapOf(variants[name]);
      for (let j = 0; j < N; j++) h.f[SRC / 4 + j] = lo + ((hi - lo) * j) / N;
    }
    const calls = names.map((name) => () => variants[name][`${fn}_v`](SRC, DST, N));
    for (let w = 0; w < 5; w++) calls.forEach((c) => c()); // tier-up
    const ms = names.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < names.length; k++) {
        const v = (r + k) % names.length;
        const t = performance.now();
        calls[v]();
        ms[v].push(performance.now() - t);
      }
    }
    const med = ms.map(median);
    const row = names.map((name, v) => {
      const ns = (med[v] * 1e6) / N;
      const ratio = v === 0 ? '' : ` (${(med[v] / med[0]).toFixed(3)}x kiln)`;
      return `${name} ${ns.toFixed(3)} ns/elem ${((8 * N) / (med[v] * 1e6)).toFixed(2)} GB/s${ratio}`;
    });
    console.log(`${fn.padEnd(4)} ${row.join(' | ')}`);
  }
}

// ---------------------------------------------------------------- integration cost

function costs() {
  const reps = 41;
  const t = (f) => {
    const xs = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      f();
      xs.push(performance.now() - t0);
    }
    return median(xs).toFixed(2);
  };
  console.log(
    `\nmodule bytes: kiln ${kilnBytes.length}, merged ${mergedBytes.length}; ` +
      `exp.wasm ${wasmFile('exp.wasm').length}, loops.wasm ${wasmFile('loops.wasm').length}`,
  );
  console.log(
    `build, validate, emit (median of ${reps}): kiln ${t(() => buildKiln(false))} ms, ` +
      `merged (readBinary + loop) ${t(() => buildMerged(false))} ms; ` +
      `with -O3: kiln ${t(buildKiln)} ms, merged ${t(buildMerged)} ms, ` +
      `kiln's library pre-optimised and merged the same way ${t(buildKilnPreoptimised)} ms`,
  );
}

if (!args.includes('--no-check')) checkBits();
timeAll();
costs();
