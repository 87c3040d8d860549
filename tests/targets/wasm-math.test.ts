// The WASM math library (targets/wasm/math.ts) and rand (targets/wasm/rand.ts)
// against the reference interpreter's float64 functions rounded to f32: the
// documented maximum errors (MATH_ACCURACY) over dense sweeps, random points
// and special values, for the scalar and the vector versions, on the plain
// SIMD path and (where the engine has it) the relaxed-SIMD path.

import v8 from 'node:v8';
import binaryen from 'binaryen';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { erf } from '../../compiler/interpret.js';
import { MATH_ACCURACY, MATH_FNS, type MathFn, addMathLibrary } from '../../targets/wasm/math.js';

// The project is typed without DOM libs: the part of the WebAssembly API used here.
interface WasmSync {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => { readonly exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmSync }).WebAssembly;
const instantiateBytes = (bytes: Uint8Array) => new wasm.Instance(new wasm.Module(bytes)).exports;
const memoryBuffer = (exports: Record<string, unknown>) => (exports['memory'] as { buffer: ArrayBuffer }).buffer;

// ---------------------------------------------------------------- relaxed SIMD support

/** A module whose one function uses f32x4.relaxed_madd. */
function relaxedProbe(): Uint8Array {
  const m = new binaryen.Module();
  const lib = addMathLibrary(m, { relaxedSimd: true });
  lib.vector('exp');
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

// Node 20 has relaxed SIMD behind a V8 flag; turning it on in this worker
// lets the relaxed path run here. Engines that still refuse skip it.
function relaxedSupported(): boolean {
  const probe = relaxedProbe();
  if (wasm.validate(probe)) return true;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return wasm.validate(probe);
}
const RELAXED = relaxedSupported();

// ---------------------------------------------------------------- harness

const CAP = 1 << 16; // elements per call
const IN_A = 0;
const IN_B = CAP * 4;
const OUT = CAP * 8;

interface Harness {
  /** Whether vector lanes must equal scalar results bit for bit (not with fused relaxed_madd). */
  readonly exactLanes: boolean;
  /** fn applied with the scalar and the vector version (lanes past n are padding). */
  run(fn: MathFn, a: ArrayLike<number>, b?: ArrayLike<number>): { scalar: Float32Array; vector: Float32Array };
}

/**
 * A module exporting, per function, `<fn>_s` and `<fn>_v`: (a, b, out, n)
 * loops applying the scalar / vector function to n f32s at a (and b).
 */
function buildModule(fns: readonly MathFn[], relaxedSimd: boolean, optimize: boolean): Uint8Array {
  const m = new binaryen.Module();
  m.setMemory(48, 48, 'memory');
  const lib = addMathLibrary(m, { relaxedSimd });
  const i32 = binaryen.i32;
  const get = (k: number) => m.local.get(k, i32);
  for (const fn of fns) {
    for (const vec of [false, true]) {
      const name = vec ? lib.vector(fn) : lib.scalar(fn);
      const addr = (param: number) => m.i32.add(get(param), m.i32.shl(get(4), m.i32.const(2)));
      const load = (param: number) => (vec ? m.v128.load(0, 16, addr(param)) : m.f32.load(0, 4, addr(param)));
      const args = fn === 'pow' ? [load(0), load(1)] : [load(0)];
      const value = m.call(name, args, vec ? binaryen.v128 : binaryen.f32);
      const body = m.block('done', [
        m.loop(
          'next',
          m.block(null, [
            m.br('done', m.i32.ge_u(get(4), get(3))),
            vec ? m.v128.store(0, 16, addr(2), value) : m.f32.store(0, 4, addr(2), value),
            m.local.set(4, m.i32.add(get(4), m.i32.const(vec ? 4 : 1))),
            m.br('next'),
          ]),
        ),
      ]);
      const exported = `${fn}_${vec ? 'v' : 's'}`;
      m.addFunction(exported, binaryen.createType([i32, i32, i32, i32]), binaryen.none, [i32], body);
      m.addFunctionExport(exported, exported);
    }
  }
  if (!m.validate()) throw new Error('invalid math test module');
  if (optimize) m.optimize();
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

type Loop = (a: number, b: number, out: number, n: number) => void;

/** Compiled on first use, so a skipped suite never instantiates its module. */
function harness(relaxedSimd: boolean, optimize = false): Harness {
  let exports: Record<string, unknown> | undefined;
  const instantiate = () => {
    const bytes = buildModule(MATH_FNS, relaxedSimd, optimize);
    return instantiateBytes(bytes);
  };
  return {
    exactLanes: !relaxedSimd,
    run(fn, a, b) {
      exports ??= instantiate();
      const loop = (name: string) => exports![name] as Loop;
      const n = a.length;
      const scalar = new Float32Array(n);
      const vector = new Float32Array(n);
      for (let s = 0; s < n; s += CAP) {
        const len = Math.min(CAP, n - s);
        const heap = new Float32Array(memoryBuffer(exports));
        for (let j = 0; j < len; j++) {
          heap[IN_A / 4 + j] = a[s + j]!;
          heap[IN_B / 4 + j] = b ? b[s + j]! : 0;
        }
        loop(`${fn}_s`)(IN_A, IN_B, OUT, len);
        scalar.set(heap.subarray(OUT / 4, OUT / 4 + len), s);
        loop(`${fn}_v`)(IN_A, IN_B, OUT, (len + 3) & ~3);
        vector.set(heap.subarray(OUT / 4, OUT / 4 + len), s);
      }
      return { scalar, vector };
    },
  };
}

// ---------------------------------------------------------------- ulps

const f32Bits = new Int32Array(1);
const f32View = new Float32Array(f32Bits.buffer);
const bitsOf = (x: number): number => {
  f32View[0] = x;
  return f32Bits[0]!;
};
const fromBits = (i: number): number => {
  f32Bits[0] = i;
  return f32View[0]!;
};
/** Position of an f32 on a line where consecutive floats differ by 1 (+-0 both 0). */
const ordinal = (x: number): number => {
  const i = bitsOf(x);
  return i < 0 ? -(i & 0x7fffffff) : i;
};
/** Ulp distance (inf is one past FLT_MAX); NaN only matches NaN; zeros must agree in sign. */
function ulpError(got: number, want: number): number {
  if (Number.isNaN(want) || Number.isNaN(got)) return Number.isNaN(want) && Number.isNaN(got) ? 0 : Infinity;
  if (got === 0 && want === 0) return Object.is(got, want) ? 0 : Infinity;
  return Math.abs(ordinal(got) - ordinal(want));
}

const REF: Record<Exclude<MathFn, 'pow'>, (x: number) => number> = {
  exp: Math.exp,
  expm1: Math.expm1,
  log: Math.log,
  log1p: Math.log1p,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  // The interpreter's erf(-0) is +0; ours keeps IEEE's (and C's) -0.
  erf: (x) => (x === 0 ? x : erf(x)),
};
const UNARY = MATH_FNS.filter((fn): fn is Exclude<MathFn, 'pow'> => fn !== 'pow');

const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38;
const DENORM_MIN = 1.401298464324817e-45;
const SPECIALS = [
  0,
  -0,
  Infinity,
  -Infinity,
  NaN,
  DENORM_MIN,
  -DENORM_MIN,
  1e-40,
  -1e-40,
  FLT_MIN,
  -FLT_MIN,
  1e-30,
  -1e-30,
  1e-7,
  -1e-7,
  1e-6,
  -1e-6,
  0.5,
  -0.5,
  1,
  -1,
  2,
  -2,
  88.72283172607422,
  88.72284,
  -87.33654,
  -103.97208,
  -104,
  1e4,
  -1e4,
  1e30,
  -1e30,
  FLT_MAX,
  -FLT_MAX,
].map(Math.fround);

/** Every `count`-th-ish f32 between 0 and `end` (by bit pattern), with an odd step to vary the low bits. */
function bitSweep(end: number, count: number): number[] {
  const last = Math.abs(bitsOf(Math.abs(end)));
  const step = Math.max(1, Math.floor(last / count)) | 1;
  const out: number[] = [];
  for (let i = 0; i <= last; i += step) out.push(end < 0 ? -fromBits(i) : fromBits(i));
  return out;
}

function linspace(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, j) => Math.fround(lo + ((hi - lo) * j) / (n - 1)));
}

/** The sweep of a documented range: bit patterns on each side of 0, plus an even grid. */
function rangeInputs(lo: number, hi: number): number[] {
  const xs: number[] = [];
  if (lo < 0) xs.push(...bitSweep(Math.max(lo, -FLT_MAX), 1 << 16));
  if (hi > 0) xs.push(...bitSweep(Math.min(hi, FLT_MAX), 1 << 16));
  xs.push(...linspace(Math.max(lo, -1e6), Math.min(hi, 1e6), 20001));
  return xs.filter((x) => x >= lo && x <= hi);
}

interface Worst {
  ulps: number;
  at: number[];
  got: number;
  want: number;
}

/**
 * Max error of fn over the inputs, over the scalar results and the vector
 * lanes; on the plain path the lanes must equal the scalar results bit for bit.
 */
function measure(h: Harness, fn: MathFn, a: number[], b?: number[]): Worst {
  const { scalar, vector } = h.run(fn, a, b);
  let worst: Worst = { ulps: 0, at: [], got: 0, want: 0 };
  for (let j = 0; j < a.length; j++) {
    const x = Math.fround(a[j]!);
    const y = b ? Math.fround(b[j]!) : 0;
    const got = scalar[j]!;
    const lane = vector[j]!;
    if (h.exactLanes && bitsOf(got) !== bitsOf(lane) && !(Number.isNaN(got) && Number.isNaN(lane))) {
      throw new Error(`${fn}(${x}${b ? `, ${y}` : ''}): scalar ${got} but vector lane ${lane}`);
    }
    const want = Math.fround(fn === 'pow' ? Math.pow(x, y) : REF[fn](x));
    for (const result of [got, lane]) {
      const ulps = ulpError(result, want);
      if (ulps > worst.ulps) worst = { ulps, at: b ? [x, y] : [x], got: result, want };
    }
  }
  return worst;
}

function expectWithin(worst: Worst, bound: number, fn: MathFn): void {
  const where = `${fn}(${worst.at.join(', ')}) = ${worst.got}, want ${worst.want}`;
  expect(worst.ulps, where).toBeLessThanOrEqual(bound);
}

// ---------------------------------------------------------------- pow inputs

/** Deterministic (a, b) pairs: ranges where the result is representable, integer powers, edge cases. */
function powInputs(seed: number, n: number): { a: number[]; b: number[] } {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const a: number[] = [];
  const b: number[] = [];
  for (let j = 0; j < n; j++) {
    let x: number;
    let y: number;
    switch (j % 5) {
      case 0: // any magnitude, exponent keeping |b log2 a| <= 160
        x = Math.fround(Math.exp((rnd() - 0.5) * 200));
        y = Math.fround(((rnd() - 0.5) * 320) / Math.max(Math.abs(Math.log2(x)), 1e-3));
        break;
      case 1: // negative and positive bases, integer exponents
        x = Math.fround((rnd() - 0.5) * 40);
        y = Math.round((rnd() - 0.5) * 60);
        break;
      case 2: // bases near 1
        x = Math.fround(1 + (rnd() - 0.5) * 2 ** -(rnd() * 20));
        y = Math.fround((rnd() - 0.5) * 2 ** (rnd() * 24));
        break;
      case 3: // negative bases, non-integer exponents (NaN) and halves
        x = -Math.fround(rnd() * 10);
        y = Math.fround(Math.round((rnd() - 0.5) * 20) / (rnd() < 0.5 ? 2 : 1));
        break;
      default: // arbitrary bit patterns (huge exponents give 0 / inf)
        x = fromBits((rnd() * 2 ** 32) | 0);
        y = fromBits((rnd() * 2 ** 32) | 0);
    }
    a.push(x);
    b.push(y);
  }
  return { a, b };
}

// ---------------------------------------------------------------- the suite

function suite(relaxedSimd: boolean): void {
  const h = harness(relaxedSimd);

  describe.each(UNARY)('%s', (fn) => {
    const { lo, hi, maxUlp } = MATH_ACCURACY[fn];

    it(`within ${maxUlp} ulp on a dense sweep of [${lo}, ${hi}], scalar and vector`, () => {
      expectWithin(measure(h, fn, rangeInputs(lo, hi)), maxUlp, fn);
    });

    it('within the bound on random points of the range', () => {
      const x = fc.float({ min: Math.fround(lo), max: Math.fround(hi), noNaN: true });
      fc.assert(
        fc.property(fc.array(x, { minLength: 1, maxLength: 256 }), (xs) => {
          expectWithin(measure(h, fn, xs), maxUlp, fn);
        }),
        { seed: 0x5eed, numRuns: 200 },
      );
    });

    it('special values (+-0, +-inf, NaN, denormals, extremes) match Math.*', () => {
      const inRange = SPECIALS.filter((x) => Number.isNaN(x) || (x >= lo && x <= hi));
      expectWithin(measure(h, fn, inRange), maxUlp, fn);
    });
  });

  it('limits outside the swept ranges are exact', () => {
    const cases: [MathFn, number, number][] = [
      ['exp', 89, Infinity],
      ['exp', 1000, Infinity],
      ['exp', FLT_MAX, Infinity],
      ['exp', -105, 0],
      ['exp', -FLT_MAX, 0],
      ['exp', -Infinity, 0],
      ['expm1', 1000, Infinity],
      ['expm1', -21, -1],
      ['expm1', -Infinity, -1],
      ['log', -DENORM_MIN, NaN],
      ['log', -Infinity, NaN],
      ['log1p', -1.0000001, NaN],
      ['log1p', -Infinity, NaN],
      ['sin', Infinity, NaN],
      ['cos', -Infinity, NaN],
      ['tanh', 9.1, 1],
      ['tanh', -FLT_MAX, -1],
      ['erf', 3.95, 1],
      ['erf', -Infinity, -1],
    ];
    for (const [fn, x, want] of cases) {
      const got = h.run(fn, [x]);
      expect(got.scalar[0], `${fn}(${x})`).toBe(want);
      expect(got.vector[0], `${fn}(${x}) vector`).toBe(want);
    }
  });

  it('keeps relative accuracy next to 0 (expm1, log1p, tanh, erf, sin)', () => {
    for (const fn of ['expm1', 'log1p', 'tanh', 'erf', 'sin'] as const) {
      const xs = [1e-7, -1e-7, 1e-6, 3e-5, -2e-4, 1e-20, -1e-38].map(Math.fround);
      expectWithin(measure(h, fn, xs), 1, fn);
    }
  });

  it('sin and cos next to multiples of pi/2 (|x| <= 12800)', () => {
    const xs: number[] = [];
    for (let k = 1; k <= 8148; k++) {
      const near = bitsOf(Math.fround((k * Math.PI) / 2));
      for (let d = -2; d <= 2; d++) xs.push(fromBits(near + d), -fromBits(near + d));
    }
    for (const fn of ['sin', 'cos'] as const) expectWithin(measure(h, fn, xs), MATH_ACCURACY[fn].maxUlp, fn);
  });

  it('sin and cos beyond the accurate range: |x| 2^-35 absolute error to 1e5, always in [-1, 1]', () => {
    const xs = [...bitSweep(FLT_MAX, 1 << 15), ...bitSweep(-FLT_MAX, 1 << 15)].filter((x) => Math.abs(x) > 12800);
    for (const fn of ['sin', 'cos'] as const) {
      const { scalar } = h.run(fn, xs);
      for (let j = 0; j < xs.length; j++) {
        const x = xs[j]!;
        const y = scalar[j]!;
        expect(Math.abs(y), `${fn}(${x})`).toBeLessThanOrEqual(1); // also not NaN
        if (Math.abs(x) <= 1e5) expect(Math.abs(y - REF[fn](x)), `${fn}(${x})`).toBeLessThan(Math.abs(x) * 2 ** -35);
      }
    }
  });

  describe('pow', () => {
    const { maxUlp } = MATH_ACCURACY.pow;

    it(`within ${maxUlp} ulp on representable results, integer powers, bases near 1`, () => {
      const { a, b } = powInputs(1, 200_000);
      expectWithin(measure(h, 'pow', a, b), maxUlp, 'pow');
    });

    it('follows Math.pow on every pair of special values', () => {
      const vals = [0, -0, 1, -1, 2, -2, 0.5, -0.5, 3, -3, 1 / 3, Infinity, -Infinity, NaN, DENORM_MIN, -DENORM_MIN]
        .concat([FLT_MAX, -FLT_MAX, 1e-40, 127, 128, -149, 150, 2 ** 24 + 2, 2 ** 24 - 1])
        .map(Math.fround);
      const a = vals.flatMap((x) => vals.map(() => x));
      const b = vals.flatMap(() => vals);
      expectWithin(measure(h, 'pow', a, b), maxUlp, 'pow');
    });

    it('random f32 pairs', () => {
      const f = fc.float({ noNaN: false });
      fc.assert(
        fc.property(fc.array(fc.tuple(f, f), { minLength: 1, maxLength: 128 }), (pairs) => {
          const worst = measure(
            h,
            'pow',
            pairs.map((p) => p[0]),
            pairs.map((p) => p[1]),
          );
          expectWithin(worst, maxUlp, 'pow');
        }),
        { seed: 0x5eed, numRuns: 200 },
      );
    });
  });
}

describe('math library, SIMD path (mul + add)', () => {
  suite(false);
});

describe.runIf(RELAXED)('math library, relaxed SIMD path (relaxed_madd)', () => {
  suite(true);
});

// ---------------------------------------------------------------- module plumbing

describe('addMathLibrary', () => {
  it('adds functions lazily and once, prefixed kiln_math_', () => {
    const m = new binaryen.Module();
    const lib = addMathLibrary(m, { relaxedSimd: false });
    const exp = lib.vector('exp');
    expect(exp).toMatch(/^kiln_math_/);
    expect(lib.vector('exp')).toBe(exp);
    expect(addMathLibrary(m, { relaxedSimd: false }).vector('exp')).toBe(exp);
    const tanh = lib.scalar('tanh');
    expect(tanh).toMatch(/^kiln_math_/);
    expect(tanh).not.toBe(lib.vector('tanh'));
    const names = new Set<string>();
    for (let i = 0; i < m.getNumFunctions(); i++) names.add(binaryen.getFunctionInfo(m.getFunctionByIndex(i)).name);
    expect([...names].sort()).toEqual([exp, tanh, lib.vector('tanh')].sort());
    expect(m.validate()).toBeTruthy();
    m.dispose();
  });

  it('every function validates with the right signature on both paths', () => {
    for (const relaxedSimd of [false, true]) {
      const m = new binaryen.Module();
      const lib = addMathLibrary(m, { relaxedSimd });
      for (const fn of MATH_FNS) {
        const arity = fn === 'pow' ? 2 : 1;
        const s = binaryen.getFunctionInfo(m.getFunction(lib.scalar(fn)));
        const v = binaryen.getFunctionInfo(m.getFunction(lib.vector(fn)));
        expect(binaryen.expandType(s.params)).toEqual(new Array(arity).fill(binaryen.f32));
        expect(s.results).toBe(binaryen.f32);
        expect(binaryen.expandType(v.params)).toEqual(new Array(arity).fill(binaryen.v128));
        expect(v.results).toBe(binaryen.v128);
      }
      expect(m.validate()).toBeTruthy();
      m.dispose();
    }
  });

  it("binaryen's optimizer does not change any result", () => {
    const plain = harness(false);
    const optimized = harness(false, true);
    const xs = [...bitSweep(FLT_MAX, 4096), ...bitSweep(-FLT_MAX, 4096), ...linspace(-20, 20, 4001), ...SPECIALS];
    for (const fn of MATH_FNS) {
      const ys = fn === 'pow' ? xs.map((x) => Math.fround(Math.sin(x) * 8)) : undefined;
      const p = plain.run(fn, xs, ys);
      const o = optimized.run(fn, xs, ys);
      expect(Array.from(new Int32Array(o.scalar.buffer)), fn).toEqual(Array.from(new Int32Array(p.scalar.buffer)));
      expect(Array.from(new Int32Array(o.vector.buffer)), fn).toEqual(Array.from(new Int32Array(p.vector.buffer)));
    }
  });
});
