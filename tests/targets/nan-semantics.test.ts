// IEEE special values through every builtin built from max, min, select or a
// comparison, on the reference interpreter, wasm (one thread, two threads,
// relaxed SIMD where the engine has it) and webgpu, against PyTorch's
// results written out here (not Kiln's own semantics.ts): NaN propagates
// through relu, maximum/minimum, clip (a NaN bound included), max/min
// reductions and max_pool2d; comparisons with NaN are false (`!=` true);
// argmax/argmin give the first NaN's index. Signed zeros: relu and clip as
// PyTorch's scalar CPU kernels (std::max, std::min: relu(-0) = -0; its
// vectorised kernels may pick the other zero of a tie), maximum/minimum as
// IEEE 754 (+0 beats -0 in max). Inputs are big enough (B = 2048 rows) that
// two threads really split every kernel, and rows are 64 wide, so the wasm
// kernels run their SIMD paths.

import { afterAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../compiler/interpret.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { compileGraph } from '../../compiler/compile.js';
import { compileSource } from '../../dsl/frontend.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact } from '../../runtime/index.js';
import { probeRelaxedSimd } from '../../targets/wasm/features.js';
import { buildWasmModule } from '../../targets/wasm/codegen.js';
import { buildArtifact } from '../../targets/artifact.js';
import { wasmTarget } from '../../targets/wasm/target.js';
import { wgslTarget } from '../../targets/wgsl/target.js';
import { compile } from '../../compiler/compile.js';
import { bindDims } from '../../compiler/bind.js';
import { runWasmProgram } from '../helpers/wasm-exec.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { lcg, refMap, toRef } from '../runtime/helpers.js';

const SRC = `
model nan(x: f32[B, 64], z: f32[B, 64], r: f32[B, 64]) {
  img = reshape(r, [-1, 1, 8, 8])
  output relu_x = relu(x)
  output leaky_x = leaky_relu(x, alpha = 0.5)
  output elu_x = elu(x)
  output max_xz = maximum(x, z)
  output min_xz = minimum(x, z)
  output max_zx = maximum(z, x)
  output min_zx = minimum(z, x)
  output clip_x = clip(x, -1.0, 2.0)
  output clip_lo = clip(x, z, 2.0)
  output clip_hi = clip(x, -1.0, z)
  output lt_xz = x < z
  output le_xz = x <= z
  output gt_xz = x > z
  output ge_xz = x >= z
  output eq_xz = x == z
  output ne_xz = x != z
  output amax = max(r, axis = -1)
  output amin = min(r, axis = -1)
  output imax = argmax(r, axis = -1)
  output imin = argmin(r, axis = -1)
  output pool2 = max_pool2d(img, 2)
  output pool3 = max_pool2d(img, 3, stride = 1, padding = 1)
}

model grads(a: f32[B, 64], b: f32[B, 64], c: f32[B, 64], z: f32[B, 64], y: f32[B, 64]) {
  output loss = sum((relu(a) + maximum(b, z) + clip(c, -1.0, 2.0)) * y)
}
`;

const B = 2048;
const W = 64;
/** Every pair (x, z) of these appears in every row of x and z. */
const V = [NaN, Infinity, -Infinity, -0, 0, 1.5, -1.5, 2.5];

// ---- PyTorch's results, spelled out ----

const isNaN = Number.isNaN;
/** torch.maximum: NaN if either is NaN; of equal zeros, +0 (IEEE 754 maximum). */
const tmax = (a: number, b: number): number =>
  isNaN(a) || isNaN(b) ? NaN : a === b ? (Object.is(a, -0) ? b : a) : a > b ? a : b;
/** torch.minimum: NaN if either is NaN; of equal zeros, -0. */
const tmin = (a: number, b: number): number =>
  isNaN(a) || isNaN(b) ? NaN : a === b ? (Object.is(a, -0) ? a : b) : a < b ? a : b;

/** C++'s std::max and std::min, as PyTorch's scalar clamp kernels use them (NaN in a passes). */
const stdMax = (a: number, b: number): number => (a < b ? b : a);
const stdMin = (a: number, b: number): number => (b < a ? b : a);
/** torch.clamp: NaN if a bound is NaN, else std::min(std::max(x, lo), hi). */
const clamp = (x: number, lo: number, hi: number): number => (isNaN(lo) || isNaN(hi) ? NaN : stdMin(stdMax(x, lo), hi));

const ELEMENTWISE: Readonly<Record<string, (x: number, z: number) => number>> = {
  relu_x: (x) => stdMax(x, 0),
  leaky_x: (x) => (x > 0 ? x : x * 0.5),
  elu_x: (x) => (x > 0 ? x : Math.expm1(x)),
  max_xz: tmax,
  min_xz: tmin,
  max_zx: (x, z) => tmax(z, x),
  min_zx: (x, z) => tmin(z, x),
  clip_x: (x) => clamp(x, -1, 2),
  clip_lo: (x, z) => clamp(x, z, 2),
  clip_hi: (x, z) => clamp(x, -1, z),
  lt_xz: (x, z) => +(x < z),
  le_xz: (x, z) => +(x <= z),
  gt_xz: (x, z) => +(x > z),
  ge_xz: (x, z) => +(x >= z),
  eq_xz: (x, z) => +(x === z),
  ne_xz: (x, z) => +(x !== z),
};

/** torch.amax / amin: NaN if any element is. */
const rowMax = (xs: readonly number[]) => xs.reduce(tmax, -Infinity);
const rowMin = (xs: readonly number[]) => xs.reduce(tmin, Infinity);
/** torch.argmax / argmin: the first NaN, else the first extreme. */
function argExt(xs: readonly number[], better: (a: number, b: number) => boolean): number {
  const nan = xs.findIndex(isNaN);
  if (nan >= 0) return nan;
  let k = 0;
  xs.forEach((v, i) => {
    if (better(v, xs[k]!)) k = i;
  });
  return k;
}
/** torch.nn.functional.max_pool2d of one 8x8 image (padding never wins: -inf). */
function maxPool(img: readonly number[], size: number, stride: number, pad: number): number[] {
  const out: number[] = [];
  const n = Math.floor((8 + 2 * pad - size) / stride) + 1;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let m = -Infinity;
      for (let di = 0; di < size; di++)
        for (let dj = 0; dj < size; dj++) {
          const r = i * stride - pad + di;
          const c = j * stride - pad + dj;
          if (r >= 0 && r < 8 && c >= 0 && c < 8) m = tmax(m, img[r * 8 + c]!);
        }
      out.push(m);
    }
  return out;
}

// ---- inputs ----

/** Row b of r: finite values with, by b % 8, NaNs, infinities, signed zeros or a tied maximum planted. */
function reductionRow(b: number, rnd: () => number): number[] {
  const row = Array.from({ length: W }, () => Math.fround(rnd() * 4 - 2));
  const p = (b * 7) % W;
  const q = (p + 29) % W;
  switch (b % 8) {
    case 1:
      row[p] = NaN;
      break;
    case 2:
      row[p] = Infinity;
      break;
    case 3:
      row[p] = -Infinity;
      row[q] = -Infinity;
      break;
    case 4:
      row[p] = NaN;
      row[q] = NaN;
      break;
    case 5:
      row[p] = Infinity;
      row[q] = NaN;
      break;
    case 6:
      row.fill(-Infinity);
      break;
    case 7:
      row.fill(-0);
      row[q] = 0;
      row[p] = -5;
      break;
  }
  return row;
}

function makeInputs(): Record<string, Tensor> {
  const x = new Float32Array(B * W);
  const z = new Float32Array(B * W);
  const r = new Float32Array(B * W);
  const rnd = lcg(7);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < W; j++) {
      x[b * W + j] = V[(j + b) % 8]!;
      z[b * W + j] = V[((j >> 3) + b) % 8]!;
    }
    r.set(reductionRow(b, rnd), b * W);
  }
  return { x: { data: x, shape: [B, W] }, z: { data: z, shape: [B, W] }, r: { data: r, shape: [B, W] } };
}

function expected(inp: Record<string, Tensor>): Map<string, number[]> {
  const x = Array.from(inp['x']!.data);
  const z = Array.from(inp['z']!.data);
  const r = Array.from(inp['r']!.data);
  const out = new Map<string, number[]>();
  for (const [name, f] of Object.entries(ELEMENTWISE))
    out.set(
      name,
      x.map((v, i) => f(v, z[i]!)),
    );
  const rows = Array.from({ length: B }, (_, b) => r.slice(b * W, (b + 1) * W));
  out.set('amax', rows.map(rowMax));
  out.set('amin', rows.map(rowMin));
  out.set(
    'imax',
    rows.map((row) => argExt(row, (a, c) => a > c)),
  );
  out.set(
    'imin',
    rows.map((row) => argExt(row, (a, c) => a < c)),
  );
  out.set(
    'pool2',
    rows.flatMap((row) => maxPool(row, 2, 2, 0)),
  );
  out.set(
    'pool3',
    rows.flatMap((row) => maxPool(row, 3, 1, 1)),
  );
  return out;
}

/** Exact: NaN where NaN, the same infinity, the same signed zero; finite values to f32 rounding (elu's expm1). */
function same(got: number, want: number): boolean {
  if (isNaN(want)) return isNaN(got);
  if (want === 0 || !Number.isFinite(want)) return Object.is(got, want);
  return Math.abs(got - want) <= 2e-7 * Math.abs(want) + 1e-30 || got === Math.fround(want);
}

const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));

/** Every output element as PyTorch gives it; the message lists the first mismatch of each wrong output. */
function expectPyTorch(what: string, got: ReadonlyMap<string, ArrayLike<number>>, want: Map<string, number[]>): void {
  const wrong: string[] = [];
  for (const [name, w] of want) {
    const g = got.get(name);
    if (g === undefined || g.length !== w.length) {
      wrong.push(`${name}: ${g === undefined ? 'missing' : `${g.length} elements, want ${w.length}`}`);
      continue;
    }
    const i = w.findIndex((v, k) => !same(g[k]!, v));
    if (i < 0) continue;
    const inputs = ELEMENTWISE[name] ? ` (x ${show(INPUTS['x']!.data[i]!)}, z ${show(INPUTS['z']!.data[i]!)})` : '';
    wrong.push(`${name}[${i}] is ${show(g[i]!)}, want ${show(w[i]!)}${inputs}`);
  }
  if (wrong.length > 0) throw new Error(`${what}:\n  ${wrong.join('\n  ')}`);
}

function modelOf(name: string) {
  const { result } = compileSource('nan.kiln', SRC);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  return result.models.find((m) => m.name === name)!;
}

const INPUTS = makeInputs();
const WANT = expected(INPUTS);

describe('NaN, ±Inf and -0 as PyTorch: the oracle and the reference interpreter', () => {
  it('the special rows and pairs are really there (the oracle sees NaN, both infinities and both zeros)', () => {
    expect(WANT.get('relu_x')!.some(isNaN)).toBe(true);
    expect(WANT.get('amax')!.filter(isNaN).length).toBe((B / 8) * 3);
    expect(WANT.get('imax')![4]).toBe(Math.min(28, (28 + 29) % 64));
    expect(WANT.get('pool2')!.some(isNaN)).toBe(true);
    expect(WANT.get('clip_lo')!.filter(isNaN).length).toBeGreaterThan(WANT.get('clip_x')!.filter(isNaN).length);
  });

  it('the reference interpreter gives PyTorch results', () => {
    const g = modelOf('nan').lower({ training: false });
    const values = evaluate(
      g.outputs.map((o) => o.node),
      { inputs: refMap(INPUTS), params: new Map() },
    );
    expectPyTorch('reference', new Map(g.outputs.map((o, k) => [o.name, values[k]!.data])), WANT);
  });
});

const open: Model[] = [];
afterAll(() => {
  for (const m of open) m.dispose();
});

async function runOn(target: 'wasm' | 'webgpu', opts: { threads?: number; relaxed?: boolean } = {}) {
  const gen =
    target === 'wasm'
      ? wasmTarget({ relaxedSimd: opts.relaxed ?? false, threads: (opts.threads ?? 1) > 1 })
      : wgslTarget;
  const artifact = buildArtifact(compile(modelOf('nan'), undefined, { target }), gen, { seed: 1 });
  const m = await loadArtifact(artifact, target === 'wasm' ? { threads: opts.threads ?? 1 } : {});
  open.push(m);
  const out = await m.run(INPUTS);
  return new Map(Object.entries(out).map(([k, t]) => [k, t.data]));
}

describe('NaN, ±Inf and -0 as PyTorch on wasm', () => {
  it('one thread', async () => {
    expectPyTorch('wasm, 1 thread', await runOn('wasm', { threads: 1 }), WANT);
  });
  it('two threads', async () => {
    expectPyTorch('wasm, 2 threads', await runOn('wasm', { threads: 2 }), WANT);
  });
  it.skipIf(!probeRelaxedSimd())('relaxed SIMD', async () => {
    expectPyTorch('wasm, relaxed SIMD', await runOn('wasm', { threads: 1, relaxed: true }), WANT);
  });
});

webgpuSuite('NaN, ±Inf and -0 as PyTorch on webgpu', () => {
  it('every output', async () => {
    expectPyTorch('webgpu', await runOn('webgpu'), WANT);
  });
});

describe('gradients at NaN, as README documents them', () => {
  // d/da, d/db, d/dc of sum((relu(a) + maximum(b, z) + clip(c, -1, 2)) * y), y = 1, a = b = c = x.
  // At NaN, relu gives 0 (as PyTorch, also at 0), maximum(x, z) routes the gradient to z (it goes
  // to x only where z <= x), clip passes it to x (PyTorch gives 0: NaN is not in [lo, hi]).
  const rows = 4;
  const head = (n: string) => {
    const t = toRef(INPUTS[n]!);
    return { ...t, shape: [rows, W], data: t.data.slice(0, rows * W) };
  };
  const x = head('x');
  const inputs = new Map([
    ['a', x],
    ['b', x],
    ['c', x],
    ['z', head('z')],
    ['y', { dtype: 'f32' as const, shape: [rows, W], data: new Float64Array(rows * W).fill(1) }],
  ]);
  const xs = Array.from(x.data);
  const zs = Array.from(inputs.get('z')!.data);
  const want = new Map([
    ['a', xs.map((v) => (v > 0 ? 1 : 0))],
    ['b', xs.map((v, i) => (zs[i]! <= v ? 1 : 0))],
    ['c', xs.map((v) => ((v >= -1 && v <= 2) || isNaN(v) ? 1 : 0))],
  ]);
  const g = gradientGraph(modelOf('grads').lower({ training: false }), {
    of: 'loss',
    params: [],
    inputs: ['a', 'b', 'c'],
  });
  /** The gradient outputs, by the input they belong to (their names end with it). */
  const byInput = (out: (name: string) => ArrayLike<number>) =>
    new Map([...want.keys()].map((k) => [k, Array.from(out(g.outputs.find((o) => o.name.endsWith(`.${k}`))!.name))]));

  it('reference', () => {
    const values = evaluate(
      g.outputs.map((o) => o.node),
      { inputs, params: new Map() },
    );
    const at = (name: string) => values[g.outputs.findIndex((o) => o.name === name)]!.data;
    expect(byInput(at)).toEqual(want);
    expect(isNaN(at('loss')[0]!)).toBe(true);
  });

  it('wasm', () => {
    const program = compileGraph(g).fusion.program;
    const mod = buildWasmModule([{ prefix: 'p', program }], { relaxedSimd: false, sharedMemory: false });
    const dims = bindDims(
      g.inputs.map((n) => ({ name: n.name, kind: 'input' as const, type: n })),
      inputs,
    );
    const got = runWasmProgram(mod, 'p', program, { inputs, params: new Map(), dims }).outputs;
    expect(byInput((name) => got.get(name)!.data)).toEqual(want);
  });
});
