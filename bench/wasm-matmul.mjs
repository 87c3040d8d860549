// Single-thread throughput of the wasm code generator's kernels, called
// directly (no runtime): matmul GFLOP/s (plain and with transposed operands,
// as the backward pass has them), fused elementwise GB/s, row softmax GB/s.
//
//   npm run build && node bench/wasm-matmul.mjs
//   node --experimental-wasm-relaxed-simd bench/wasm-matmul.mjs   (fused multiply-add)
//
// KILN_DIST points at another build of the compiler (default ../dist).
// Each case: 3 warm-up calls, then the median of 15 timed calls.

import { performance } from 'node:perf_hooks';

const { WebAssembly } = globalThis;
const dist = process.env.KILN_DIST ?? new URL('../dist', import.meta.url).pathname;
const { IRBuilder } = await import(`${dist}/compiler/ir.js`);
const { compileGraph } = await import(`${dist}/compiler/compile.js`);
const { buildWasmModule } = await import(`${dist}/targets/wasm/codegen.js`);
const { probeRelaxedSimd } = await import(`${dist}/targets/wasm/features.js`);

const relaxedSimd = probeRelaxedSimd();
const RUNS = Number(process.env.RUNS ?? 21);
const only = process.env.ONLY;

function program(build) {
  const b = new IRBuilder();
  const { inputs, outputs } = build(b);
  return compileGraph({ builder: b, inputs, params: [], outputs }).fusion.program;
}

/** Instantiates the program's module, lays the buffers out, returns a function running every kernel once. */
function prepare(p) {
  const mod = buildWasmModule([{ prefix: 'b', program: p }], { relaxedSimd, sharedMemory: false });
  const offsets = new Map();
  let top = 0;
  for (const buf of p.buffers) {
    offsets.set(buf.id, top);
    top += Math.ceil((4 * buf.size) / 64) * 64;
  }
  const probe = new WebAssembly.Instance(new WebAssembly.Module(mod.binary), {
    env: { memory: new WebAssembly.Memory({ initial: 1 }) },
  });
  let scratchBytes = 0;
  for (const k of p.kernels) {
    const s = mod.scratch.get(`b.${k.name}`);
    if (s) scratchBytes = Math.max(scratchBytes, probe.exports[s]());
  }
  const scratch = top;
  top += scratchBytes;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(top / 65536) + 1 });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(mod.binary), { env: { memory } });
  const f32 = new Float32Array(memory.buffer);
  for (const buf of p.buffers) {
    const at = offsets.get(buf.id) / 4;
    for (let i = 0; i < buf.size; i++) f32[at + i] = Math.random() - 0.5;
  }
  const calls = p.kernels.map((k) => {
    const fn = exports[mod.entries.get(`b.${k.name}`)];
    const args = [...k.buffers.map((b) => offsets.get(b.id)), 0, k.parallel[0]?.extent ?? 1];
    if (mod.scratch.has(`b.${k.name}`)) args.push(scratch);
    return () => fn(...args);
  });
  return () => {
    for (const c of calls) c();
  };
}

/** Median and best of RUNS timed calls after 3 warm-up calls, in seconds. */
function time(run) {
  for (let i = 0; i < 3; i++) run();
  const ts = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    run();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[RUNS >> 1] / 1000, best: ts[0] / 1000 };
}

const f32 = (shape) => ({ dtype: 'f32', shape });
const results = [];
const report = (name, t, what, amount) => {
  const rate = (s) => +(amount / s / 1e9).toFixed(2);
  results.push({
    name,
    'median ms': +(t.median * 1e3).toFixed(3),
    [what]: rate(t.median),
    [`best ${what}`]: rate(t.best),
  });
};
const want = (name) => only === undefined || name.includes(only);

for (const [name, ta, tb] of [
  ['matmul 512x512x512', false, false],
  ['matmul 512^3, A^T @ B', true, false],
  ['matmul 512^3, A @ B^T', false, true],
]) {
  if (!want(name)) continue;
  const n = 512;
  const p = program((b) => {
    const a = b.input('a', f32([n, n]));
    const c = b.input('b', f32([n, n]));
    const x = ta ? b.permute(a, [1, 0]) : a;
    const y = tb ? b.permute(c, [1, 0]) : c;
    return { inputs: [a, c], outputs: [{ name: 'c', node: b.matmul(x, y) }] };
  });
  report(name, time(prepare(p)), 'GFLOP/s', 2 * n ** 3);
}

if (want('sigmoid')) {
  const n = 1 << 22;
  const p = program((b) => {
    const [x, y, z] = ['a', 'b', 'c'].map((s) => b.input(s, f32([n])));
    const sig = b.unary('recip', b.bin('add', b.unary('exp', b.unary('neg', z)), 1));
    const o = b.bin(
      'add',
      b.binary('mul', b.unary('sqrt', b.bin('add', b.binary('mul', x, x), b.binary('mul', y, y))), sig),
      0.5,
    );
    return { inputs: [x, y, z], outputs: [{ name: 'o', node: o }] };
  });
  report(`elementwise sqrt(a*a+b*b)*sigmoid(c)+0.5, n=2^22`, time(prepare(p)), 'GB/s', 16 * n);
}

if (want('a*b+1')) {
  const n = 1 << 22;
  const p = program((b) => {
    const x = b.input('a', f32([n]));
    const y = b.input('b', f32([n]));
    return { inputs: [x, y], outputs: [{ name: 'o', node: b.bin('add', b.binary('mul', x, y), 1) }] };
  });
  report('elementwise a*b+1, n=2^22', time(prepare(p)), 'GB/s', 12 * n);
}

if (want('softmax')) {
  const rows = 4096;
  const cols = 1024;
  const p = program((b) => {
    const x = b.input('x', f32([rows, cols]));
    const m = b.reduce('max', x, [1]);
    const e = b.unary('exp', b.binary('sub', x, b.expand(m, [rows, cols])));
    const s = b.reduce('sum', e, [1]);
    return { inputs: [x], outputs: [{ name: 'y', node: b.binary('div', e, b.expand(s, [rows, cols])) }] };
  });
  report(`softmax ${rows}x${cols}`, time(prepare(p)), 'GB/s', 8 * rows * cols);
}

console.log(`relaxed SIMD: ${relaxedSimd}`);
console.table(results);
