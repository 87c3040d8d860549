// Scalar semantics of the WGSL kernels on special values, against the
// kernel interpreter (compiler/semantics.ts): NaN and infinities through
// every op (max/min propagate NaN, comparisons are false on NaN, Math.pow's
// special cases, floored f32 mod, saturating casts, i32 division by zero and
// wrapping), subnormals, the `rand` hash bit for bit, and the accuracy of
// the math helpers (targets/wgsl/math.ts) on dense sweeps.
//
// Each case is one hand-built elementwise kernel out[i] = f(a[i], b[i]).

import { describe, expect, it } from 'vitest';
import { vdtype } from '../../compiler/kernel/abi.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import type { IExpr, KernelProgram, VExpr } from '../../compiler/kernel/kir.js';
import type { BinaryFn, UnaryFn } from '../../compiler/ir.js';
import type { DType } from '../../compiler/types.js';
import { generateWgsl } from '../../targets/wgsl/codegen.js';
import { mismatch } from '../helpers/random-graph.js';
import { GpuCache, runWebGpuProgram } from '../helpers/webgpu-exec.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';

const p0: IExpr = { k: 'var', name: 'p0' };
const ld = (buf: number, dtype: DType): VExpr => ({ k: 'load', buf, index: p0, valid: { k: 'true' }, fill: 0, dtype });
const COMPARE = new Set<BinaryFn>(['lt', 'le', 'eq', 'ne', 'and', 'or']);
const un = (fn: UnaryFn, x: VExpr): VExpr => ({ k: 'unary', fn, x, dtype: fn === 'not' ? 'bool' : vdtype(x) });
const bin = (fn: BinaryFn, a: VExpr, b: VExpr): VExpr => ({
  k: 'binary',
  fn,
  a,
  b,
  dtype: COMPARE.has(fn) ? 'bool' : vdtype(a),
});

/** out[i] = f(a[i], b[i]) over the arrays, as one elementwise kernel. */
function programOf(dtype: DType, n: number, f: (x: VExpr, y: VExpr) => VExpr): KernelProgram {
  const value = f(ld(0, dtype), ld(1, dtype));
  const out = vdtype(value);
  return {
    buffers: [
      { id: 0, dtype, size: n, role: { kind: 'input', name: 'a' } },
      { id: 1, dtype, size: n, role: { kind: 'input', name: 'b' } },
      { id: 2, dtype: out, size: n, role: { kind: 'output', name: 'y' } },
    ],
    kernels: [
      {
        name: 'k0',
        kind: 'elementwise',
        buffers: [
          { id: 0, access: 'read' },
          { id: 1, access: 'read' },
          { id: 2, access: 'write' },
        ],
        dims: [],
        scalars: [],
        parallel: [{ name: 'p0', extent: n }],
        stages: [{ kind: 'map', loops: [], stores: [{ buf: 2, index: p0, value }] }],
        ops: [],
      },
    ],
    outputs: [{ name: 'y', buf: 2, shape: [n], dtype: out }],
    assigns: [],
    scalars: [],
  };
}

const I32_MIN = -2147483648;
const ia = [7, -7, 7, -7, I32_MIN, I32_MIN, 5, 0, -1, 3, 2, 2147483647, -3];
const ib = [2, 2, -2, -2, -1, 1, 0, 0, -1, -3, 31, 2, 0];

const fa = [0.5, -0.5, 1.5, 2.5, -2.5, 5.25, -5.25, NaN, Infinity, -Infinity, 0, -0, 1e30, 3.5, -4, -1, 1, 7.5, 1e-40];
const fb = [2, 2, -2, 0, 3, -2, 2, 1, 1, 2, -0, 0, NaN, -3, 2, Infinity, Infinity, 0.1, 1];

/** Special values for unary ops (f32-exact; 1e-40 is subnormal). */
const SPECIAL = [
  NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  2.5,
  -2.5,
  3.5,
  1e-30,
  -1e-30,
  1e30,
  -1e30,
  80,
  -80,
  -110,
  20,
  -20,
  0.1,
  1e-40,
  -1e-40,
  3e38,
  -3e38,
].map(Math.fround);

/** Pairs for pow: Math.pow's special cases. */
const POW: readonly [number, number][] = [
  [-8, 1 / 3],
  [-2, 3],
  [-2, 2],
  [-0, -3],
  [-0, 3],
  [-0, 2],
  [0, -1],
  [0, 0],
  [-Infinity, 3],
  [-Infinity, -3],
  [-Infinity, 2],
  [Infinity, -2],
  [1, Infinity],
  [-1, -Infinity],
  [0.5, Infinity],
  [0.5, -Infinity],
  [2, Infinity],
  [NaN, 0],
  [NaN, -0],
  [1, NaN],
  [-2, 0.5],
  [4, 0.5],
  [10, 38],
  [2, -149],
  [2, 126],
  [-3, 1e10],
  [0.3, 2.7],
];

webgpuSuite('WGSL scalar semantics vs the kernel interpreter', () => {
  const cache = new GpuCache(gpuDevice()!);

  async function check(dtype: DType, a: number[], b: number[], f: (x: VExpr, y: VExpr) => VExpr, tol = 1e-6) {
    const n = a.length;
    const program = programOf(dtype, n, f);
    const t = (data: number[]) => ({
      dtype,
      shape: [n],
      data: Float64Array.from(data.map((v) => (dtype === 'f32' ? Math.fround(v) : v))),
    });
    const inputs = new Map([
      ['a', t(a)],
      ['b', t(b)],
    ]);
    const want = runProgram(program, { inputs, params: new Map() }).get('y')!;
    const got = await runWebGpuProgram(cache, program, { inputs, params: new Map(), dims: new Map() });
    const m = mismatch(got.outputs.get('y')!, want, tol);
    if (m) {
      const i = Number(/element (\d+)/.exec(m)?.[1] ?? -1);
      throw new Error(`${m} (inputs ${a[i]}, ${b[i]})`);
    }
  }

  describe('i32', () => {
    it.each(['div', 'mod', 'pow', 'max', 'min', 'add', 'sub', 'mul', 'lt', 'le', 'eq', 'ne'] as const)('%s', (fn) =>
      check('i32', ia, ib, (x, y) => bin(fn, x, y), 0),
    );
    it('neg and abs wrap', async () => {
      await check('i32', ia, ib, (x) => un('neg', x), 0);
      await check('i32', ia, ib, (x) => un('abs', x), 0);
    });
  });

  describe('f32 binary ops on NaN, infinities, zeros and subnormals', () => {
    it.each(['max', 'min', 'mod', 'div', 'add', 'mul', 'lt', 'le', 'eq', 'ne', 'and', 'or', 'pow'] as const)(
      '%s',
      (fn) => check('f32', fa, fb, (x, y) => bin(fn, x, y)),
    );
    it('pow: special cases of Math.pow', () =>
      check(
        'f32',
        POW.map((p) => p[0]),
        POW.map((p) => p[1]),
        (x, y) => bin('pow', x, y),
        // exp(y log x) in f32: the relative error grows with |y log x| (87 for 10^38).
        1e-5,
      ));
    it('max and min: +0 beats -0 in max, -0 in min', async () => {
      const a = [0, -0, 0, -0];
      const b = [-0, 0, 0, -0];
      const sign = (v: VExpr) => bin('div', { k: 'const', v: 1, dtype: 'f32' }, v); // 1/±0 = ±inf
      await check('f32', a, b, (x, y) => sign(bin('max', x, y)), 0);
      await check('f32', a, b, (x, y) => sign(bin('min', x, y)), 0);
    });
  });

  describe('f32 unary ops on special values', () => {
    const ops: readonly UnaryFn[] = [
      'neg',
      'recip',
      'abs',
      'floor',
      'ceil',
      'round',
      'not',
      'sqrt',
      'exp',
      'log',
      'log1p',
      'expm1',
      'tanh',
      'erf',
    ];
    it.each(ops)('%s', (fn) => check('f32', SPECIAL, SPECIAL, (x) => un(fn, x), 1e-6));
    it.each(['sin', 'cos'] as const)('%s (|x| < 8192, and NaN / inf)', (fn) => {
      const xs = SPECIAL.filter((v) => !(Math.abs(v) > 8192) || !Number.isFinite(v));
      return check('f32', xs, xs, (x) => un(fn, x), 1e-6);
    });
    it('round is half to even', () => {
      const xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 4.5, 8388607.5, -8388607.5, 0.49999997];
      return check('f32', xs, xs, (x) => un('round', x), 0);
    });
  });

  describe('casts', () => {
    const xs = [...fa, 3e9, -3e9, 2147483520, 2147483648, -2147483648, -2147483904, 0.999, -0.999];
    it.each(['i32', 'bool', 'f32'] as const)('f32 (NaN, inf, huge) to %s', (to) =>
      check('f32', xs, xs, (x) => ({ k: 'cast', x, dtype: to }), 0),
    );
    it.each(['f32', 'bool'] as const)('i32 to %s', (to) =>
      // 2147483647 becomes the nearest f32, 2^31 (the interpreter keeps it exact in float64).
      check('i32', ia, ib, (x) => ({ k: 'cast', x, dtype: to }), 1e-7),
    );
  });

  describe('where, logic and rand', () => {
    it('where on f32 (NaN is true), i32 and bool conditions', async () => {
      await check('f32', fa, fb, (x, y) => ({ k: 'where', c: bin('lt', x, y), a: x, b: y, dtype: 'f32' }));
      await check('f32', fa, fb, (x, y) => ({
        k: 'where',
        c: { k: 'cast', x, dtype: 'bool' },
        a: y,
        b: x,
        dtype: 'f32',
      }));
      await check(
        'i32',
        ia,
        ib,
        (x, y) => ({ k: 'where', c: { k: 'cast', x, dtype: 'bool' }, a: y, b: x, dtype: 'i32' }),
        0,
      );
    });
    it('not, and, or on bools', () =>
      check(
        'f32',
        fa,
        fb,
        (x, y) => {
          const c = bin('lt', x, y);
          const d = bin('eq', x, y);
          return { k: 'cast', x: bin('or', bin('and', un('not', c), d), un('not', d)), dtype: 'f32' };
        },
        0,
      ));
    it('rand reproduces the reference hash bit for bit', async () => {
      const keys = [...ia, 12345, -999999, 0x7fffffff];
      await check('i32', keys, keys, (x) => ({ k: 'rand', key: x, salt: 12345, i: p0 }), 0);
      await check('i32', keys, keys, (x) => ({ k: 'rand', key: x, salt: 0, i: p0 }), 0);
      await check(
        'i32',
        keys,
        keys,
        (x) => ({ k: 'rand', key: x, salt: 4294967295, i: { k: 'mul', a: p0, b: { k: 'const', v: 1000003 } } }),
        0,
      );
    });
    it('constants that are NaN, infinite or overflow i32 when folded', () =>
      check('f32', [1, 2], [3, 4], (x) => {
        const c = (v: number, dtype: DType): VExpr => ({ k: 'const', v, dtype });
        const inf = bin('div', c(1, 'f32'), c(0, 'f32'));
        const nan = bin('mul', inf, c(0, 'f32'));
        const big = { k: 'cast', x: bin('add', c(2147483647, 'i32'), c(1, 'i32')), dtype: 'f32' } as const;
        return bin('add', bin('add', bin('max', x, inf), bin('min', x, nan)), big);
      }));
  });

  describe('math helper accuracy on dense sweeps (relative, absolute below 1)', () => {
    const sweep = (lo: number, hi: number, n = 2001) =>
      Array.from({ length: n }, (_, i) => Math.fround(lo + ((hi - lo) * i) / (n - 1)));
    const cases: readonly [UnaryFn, number[], number][] = [
      ['exp', sweep(-87, 88), 3e-7],
      ['log', [...sweep(1e-6, 4), ...sweep(4, 1e6)], 3e-7],
      ['log1p', sweep(-0.999, 10), 3e-7],
      ['expm1', sweep(-20, 20), 3e-7],
      ['tanh', sweep(-12, 12), 3e-7],
      ['erf', sweep(-5, 5), 3e-7],
      ['sin', sweep(-100, 100), 3e-7],
      ['cos', sweep(-100, 100), 3e-7],
      ['sqrt', sweep(0, 1e4), 2e-7],
    ];
    it.each(cases)('%s', (fn, xs, tol) => check('f32', xs, xs, (x) => un(fn, x), tol));
    it('pow', () => {
      const xs = sweep(0.01, 30, 101).flatMap((x) => sweep(-8, 8, 33).map(() => x));
      const ys = sweep(0.01, 30, 101).flatMap(() => sweep(-8, 8, 33));
      return check('f32', xs, ys, (x, y) => bin('pow', x, y), 2e-6);
    });
  });
});

describe('WGSL literals', () => {
  it('emits no literal WGSL cannot represent', () => {
    const program = programOf('f32', 4, (x) =>
      bin('add', bin('mul', x, { k: 'const', v: 3.4028234663852886e38, dtype: 'f32' }), {
        k: 'const',
        v: -1e-45,
        dtype: 'f32',
      }),
    );
    const code = generateWgsl(program.kernels[0]!).code;
    expect(code).toContain('3.4028234663852886e+38');
  });
});
