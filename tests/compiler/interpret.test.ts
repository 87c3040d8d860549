import { describe, expect, it } from 'vitest';
import { bindDims, InputError } from '../../compiler/bind.js';
import { type RefTensor, erf, evaluate, randUniform, scalar, tensor } from '../../compiler/interpret.js';
import { type BinaryFn, IRBuilder, type Node, type UnaryFn } from '../../compiler/ir.js';
import { type DType, type Shape, sym } from '../../compiler/types.js';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** Plain numbers, with -0 normalised to 0 so toEqual does not trip on it. */
const vals = (t: RefTensor): number[] => [...t.data].map((v) => (v === 0 ? 0 : v));

/** Evaluates one node whose leaves are inputs named in `inputs`. */
function run(node: Node, inputs: Record<string, RefTensor> = {}, params: Record<string, RefTensor> = {}): RefTensor {
  return evaluate([node], { inputs: new Map(Object.entries(inputs)), params: new Map(Object.entries(params)) })[0]!;
}

/** Builds `f(x)` with x an input holding `data`, returns the result values. */
function unaryOn(dtype: DType, data: number[], f: (b: IRBuilder, x: Node) => Node): RefTensor {
  const b = new IRBuilder();
  const x = b.input('x', { dtype, shape: [data.length] });
  return run(f(b, x), { x: tensor(dtype, [data.length], data) });
}

function binaryOn(dtype: DType, fn: BinaryFn, a: number[], c: number[]): RefTensor {
  const b = new IRBuilder();
  const x = b.input('x', { dtype, shape: [a.length] });
  const y = b.input('y', { dtype, shape: [c.length] });
  return run(b.binary(fn, x, y), { x: tensor(dtype, [a.length], a), y: tensor(dtype, [c.length], c) });
}

const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('leaves', () => {
  it('const, full and iota', () => {
    const b = new IRBuilder();
    expect(vals(run(b.const(2.5, 'f32')))).toEqual([2.5]);
    const f = run(b.full(3, 'i32', [2, 2]));
    expect(f.shape).toEqual([2, 2]);
    expect(vals(f)).toEqual([3, 3, 3, 3]);
    expect(vals(run(b.iota([2, 3], 0)))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(vals(run(b.iota([2, 3], 1)))).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('reads inputs and params by name and shares one evaluation per node', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [2] });
    const w = b.param('w', { dtype: 'f32', shape: [2] });
    const s = b.binary('add', x, w);
    const [r1, r2] = evaluate([s, b.binary('mul', s, s)], {
      inputs: new Map([['x', tensor('f32', [2], [1, 2])]]),
      params: new Map([
        ['w', tensor('f32', [2], [10, 20])],
        ['unused', scalar(0)],
      ]),
    });
    expect(vals(r1!)).toEqual([11, 22]);
    expect(vals(r2!)).toEqual([121, 484]);
  });
});

describe('unary', () => {
  const xs = [-2.3, -0.4, 0.3, 1.7];
  const cases: [UnaryFn, (x: number) => number][] = [
    ['neg', (x) => -x],
    ['recip', (x) => 1 / x],
    ['exp', Math.exp],
    ['sin', Math.sin],
    ['cos', Math.cos],
    ['tanh', Math.tanh],
    ['expm1', Math.expm1],
    ['abs', Math.abs],
    ['floor', Math.floor],
    ['ceil', Math.ceil],
  ];
  it.each(cases)('%s', (fn, ref) => {
    expect(vals(unaryOn('f32', xs, (b, x) => b.unary(fn, x)))).toEqual(xs.map(ref).map((v) => (v === 0 ? 0 : v)));
  });

  it('sqrt, log, log1p (NaN outside the domain)', () => {
    expect(vals(unaryOn('f32', [4, 0, -1], (b, x) => b.unary('sqrt', x)))).toEqual([2, 0, NaN]);
    expect(vals(unaryOn('f32', [Math.E, 0, -1], (b, x) => b.unary('log', x)))).toEqual([1, -Infinity, NaN]);
    expect(vals(unaryOn('f32', [1e-20, -1], (b, x) => b.unary('log1p', x)))).toEqual([1e-20, -Infinity]);
  });

  it('round is half to even', () => {
    const r = unaryOn('f32', [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.4999, 2.6, -2.6, 1e17, NaN], (b, x) =>
      b.unary('round', x),
    );
    expect(vals(r)).toEqual([0, 2, 2, 4, 0, -2, -2, 2, 3, -3, 1e17, NaN]);
  });

  it('i32 neg and abs wrap', () => {
    expect(vals(unaryOn('i32', [I32_MIN, 5, -7], (b, x) => b.unary('neg', x)))).toEqual([I32_MIN, -5, 7]);
    expect(vals(unaryOn('i32', [I32_MIN, 5, -7], (b, x) => b.unary('abs', x)))).toEqual([I32_MIN, 5, 7]);
  });

  it('not', () => {
    expect(vals(unaryOn('bool', [0, 1], (b, x) => b.unary('not', x)))).toEqual([1, 0]);
  });

  it('erf matches known values to 1e-14', () => {
    // From mpmath at 30 digits.
    const known: [number, number][] = [
      [0, 0],
      [1e-10, 1.1283791670955126e-10],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
      [4.5, 0.9999999998033839],
      [5.9, 0.9999999999999999],
      [-0.7, -0.6778011938374184],
      [-3.2, -0.9999939742388483],
      [7, 1],
      [Infinity, 1],
      [-Infinity, -1],
    ];
    for (const [x, e] of known) expect(Math.abs(erf(x) - e)).toBeLessThan(1e-14);
    expect(erf(NaN)).toBeNaN();
    const r = unaryOn('f32', [0.5, -1], (b, x) => b.unary('erf', x));
    expect(vals(r)).toEqual([erf(0.5), erf(-1)]);
  });

  it('erf is odd and monotone across the series / continued-fraction switch', () => {
    let prev = -1;
    for (let x = -6; x <= 6; x += 0.01) {
      const v = erf(x);
      expect(v).toBeGreaterThanOrEqual(prev);
      expect(erf(-x)).toBe(-v);
      prev = v;
    }
  });
});

describe('binary', () => {
  it('f32 arithmetic', () => {
    const a = [1.5, -2, 3, 0];
    const c = [0.5, 4, -3, 2];
    expect(vals(binaryOn('f32', 'add', a, c))).toEqual([2, 2, 0, 2]);
    expect(vals(binaryOn('f32', 'sub', a, c))).toEqual([1, -6, 6, -2]);
    expect(vals(binaryOn('f32', 'mul', a, c))).toEqual([0.75, -8, -9, 0]);
    expect(vals(binaryOn('f32', 'div', a, c))).toEqual([3, -0.5, -1, 0]);
    expect(vals(binaryOn('f32', 'div', [1, -1, 0], [0, 0, 0]))).toEqual([Infinity, -Infinity, NaN]);
    expect(vals(binaryOn('f32', 'pow', [2, 9, -8, 0], [10, 0.5, 2, 0]))).toEqual([1024, 3, 64, 1]);
  });

  it('max and min propagate NaN', () => {
    expect(vals(binaryOn('f32', 'max', [1, NaN, 3, -1], [2, 1, NaN, -2]))).toEqual([2, NaN, NaN, -1]);
    expect(vals(binaryOn('f32', 'min', [1, NaN, 3, -1], [2, 1, NaN, -2]))).toEqual([1, NaN, NaN, -2]);
  });

  it('f32 mod is floored (sign of the divisor)', () => {
    expect(vals(binaryOn('f32', 'mod', [7, -7, 7, -7, 5.5, -5.5, 6], [3, 3, -3, -3, 2, 2, 3]))).toEqual([
      1, 2, -2, -1, 1.5, 0.5, 0,
    ]);
    expect(vals(binaryOn('f32', 'mod', [1], [0]))).toEqual([NaN]);
  });

  it('i32 arithmetic wraps', () => {
    expect(vals(binaryOn('i32', 'add', [I32_MAX, I32_MIN], [1, -1]))).toEqual([I32_MIN, I32_MAX]);
    expect(vals(binaryOn('i32', 'sub', [I32_MIN], [1]))).toEqual([I32_MAX]);
    expect(vals(binaryOn('i32', 'mul', [65536, 46341, -3], [65536, 46341, 7]))).toEqual([0, -2147479015, -21]);
  });

  it('i32 div is floor division, x / 0 = 0', () => {
    expect(vals(binaryOn('i32', 'div', [7, -7, 7, -7, 6, 5, I32_MIN], [2, 2, -2, -2, 3, 0, -1]))).toEqual([
      3,
      -4,
      -4,
      3,
      2,
      0,
      I32_MIN,
    ]);
  });

  it('i32 mod is floored, x mod 0 = 0', () => {
    expect(vals(binaryOn('i32', 'mod', [7, -7, 7, -7, 5, I32_MIN], [3, 3, -3, -3, 0, -1]))).toEqual([
      1, 2, -2, -1, 0, 0,
    ]);
  });

  it('i32 pow: integer power with wrap, negative exponents', () => {
    expect(
      vals(binaryOn('i32', 'pow', [2, 3, 2, 2, 0, 1, -1, -1, 3, 0, -2], [10, 4, 31, 32, 0, -5, -3, -4, -1, -1, 3])),
    ).toEqual([1024, 81, I32_MIN, 0, 1, 1, -1, 1, 0, 0, -8]);
  });

  it('i32 max/min', () => {
    expect(vals(binaryOn('i32', 'max', [1, -5], [2, -6]))).toEqual([2, -5]);
    expect(vals(binaryOn('i32', 'min', [1, -5], [2, -6]))).toEqual([1, -6]);
  });

  it('comparisons give bool, NaN compares false except ne', () => {
    const a = [1, 2, 3, NaN];
    const c = [2, 2, 2, NaN];
    const lt = binaryOn('f32', 'lt', a, c);
    expect(lt.dtype).toBe('bool');
    expect(vals(lt)).toEqual([1, 0, 0, 0]);
    expect(vals(binaryOn('f32', 'le', a, c))).toEqual([1, 1, 0, 0]);
    expect(vals(binaryOn('f32', 'eq', a, c))).toEqual([0, 1, 0, 0]);
    expect(vals(binaryOn('f32', 'ne', a, c))).toEqual([1, 0, 1, 1]);
    expect(vals(binaryOn('i32', 'lt', [-1, 5], [0, 5]))).toEqual([1, 0]);
    expect(vals(binaryOn('bool', 'eq', [0, 1, 1], [0, 0, 1]))).toEqual([1, 0, 1]);
  });

  it('logical', () => {
    expect(vals(binaryOn('bool', 'and', [0, 0, 1, 1], [0, 1, 0, 1]))).toEqual([0, 0, 0, 1]);
    expect(vals(binaryOn('bool', 'or', [0, 0, 1, 1], [0, 1, 0, 1]))).toEqual([0, 1, 1, 1]);
  });
});

describe('where, cast, identity ops', () => {
  it('where selects elementwise', () => {
    const b = new IRBuilder();
    const c = b.input('c', { dtype: 'bool', shape: [3] });
    const x = b.input('x', { dtype: 'f32', shape: [3] });
    const r = run(b.where(c, x, b.unary('neg', x)), {
      c: tensor('bool', [3], [1, 0, 1]),
      x: tensor('f32', [3], [1, 2, 3]),
    });
    expect(vals(r)).toEqual([1, -2, 3]);
  });

  it('cast f32 -> i32 truncates toward zero, saturates, NaN -> 0', () => {
    const r = unaryOn('f32', [1.9, -1.9, NaN, 3e9, -3e9, 0.5, Infinity, -Infinity], (b, x) => b.cast(x, 'i32'));
    expect(r.dtype).toBe('i32');
    expect(vals(r)).toEqual([1, -1, 0, I32_MAX, I32_MIN, 0, I32_MAX, I32_MIN]);
  });

  it('cast to bool is != 0; from bool is 0/1', () => {
    expect(vals(unaryOn('f32', [0, -0, NaN, 2, -0.1], (b, x) => b.cast(x, 'bool')))).toEqual([0, 0, 1, 1, 1]);
    expect(vals(unaryOn('i32', [0, -3], (b, x) => b.cast(x, 'bool')))).toEqual([0, 1]);
    expect(vals(unaryOn('bool', [0, 1], (b, x) => b.cast(x, 'f32')))).toEqual([0, 1]);
    expect(vals(unaryOn('bool', [0, 1], (b, x) => b.cast(x, 'i32')))).toEqual([0, 1]);
    expect(vals(unaryOn('i32', [-5, I32_MAX], (b, x) => b.cast(x, 'f32')))).toEqual([-5, I32_MAX]);
  });

  it('stop_gradient and assign are the identity', () => {
    expect(vals(unaryOn('f32', [1, 2], (b, x) => b.stopGradient(x)))).toEqual([1, 2]);
    expect(vals(unaryOn('f32', [1, 2], (b, x) => b.assign('w', x)))).toEqual([1, 2]);
  });
});

/** An input of the given shape holding 0, 1, 2, ... (or `data`). */
function withInput(
  shape: number[],
  f: (b: IRBuilder, x: Node) => Node,
  data: number[] = iota(shape.reduce((a, d) => a * d, 1)),
  dtype: DType = 'f32',
): RefTensor {
  const b = new IRBuilder();
  const x = b.input('x', { dtype, shape });
  return run(f(b, x), { x: tensor(dtype, shape, data) });
}

describe('reduce', () => {
  it('sum keeps reduced axes with size 1', () => {
    const r = withInput([2, 3], (b, x) => b.reduce('sum', x, [1]));
    expect(r.shape).toEqual([2, 1]);
    expect(vals(r)).toEqual([3, 12]);
    const r0 = withInput([2, 3], (b, x) => b.reduce('sum', x, [0]));
    expect(r0.shape).toEqual([1, 3]);
    expect(vals(r0)).toEqual([3, 5, 7]);
    const all = withInput([2, 3, 2], (b, x) => b.reduce('sum', x, [0, 2]));
    expect(all.shape).toEqual([1, 3, 1]);
    expect(vals(all)).toEqual([0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11]);
  });

  it('max, min, prod', () => {
    const d = [3, -1, 4, 1, -5, 9];
    expect(vals(withInput([2, 3], (b, x) => b.reduce('max', x, [1]), d))).toEqual([4, 9]);
    expect(vals(withInput([2, 3], (b, x) => b.reduce('min', x, [1]), d))).toEqual([-1, -5]);
    expect(vals(withInput([2, 3], (b, x) => b.reduce('prod', x, [1]), d))).toEqual([-12, -45]);
    expect(vals(withInput([2, 3], (b, x) => b.reduce('max', x, [0, 1]), d))).toEqual([9]);
  });

  it('max/min propagate NaN', () => {
    const d = [1, NaN, 3, 4];
    expect(vals(withInput([2, 2], (b, x) => b.reduce('max', x, [1]), d))).toEqual([NaN, 4]);
    expect(vals(withInput([2, 2], (b, x) => b.reduce('min', x, [1]), d))).toEqual([NaN, 3]);
  });

  it('empty reductions give 0, -inf, +inf, 1', () => {
    for (const [fn, e] of [
      ['sum', 0],
      ['max', -Infinity],
      ['min', Infinity],
      ['prod', 1],
    ] as const) {
      const r = withInput([2, 0], (b, x) => b.reduce(fn, x, [1]), []);
      expect(r.shape).toEqual([2, 1]);
      expect(vals(r)).toEqual([e, e]);
    }
  });

  it('i32 sum and prod wrap', () => {
    expect(vals(withInput([2], (b, x) => b.reduce('sum', x, [0]), [I32_MAX, 1], 'i32'))).toEqual([I32_MIN]);
    expect(vals(withInput([2], (b, x) => b.reduce('prod', x, [0]), [65536, 65536], 'i32'))).toEqual([0]);
  });
});

describe('movement', () => {
  it('reshape keeps row-major data', () => {
    const r = withInput([2, 3], (b, x) => b.reshape(x, [3, 2]));
    expect(r.shape).toEqual([3, 2]);
    expect(vals(r)).toEqual(iota(6));
  });

  it('permute', () => {
    const r = withInput([2, 3], (b, x) => b.permute(x, [1, 0]));
    expect(r.shape).toEqual([3, 2]);
    expect(vals(r)).toEqual([0, 3, 1, 4, 2, 5]);
    // out[i][j][k] = x[j][k][i] for perm [2, 0, 1] of x: [2, 3, 4]
    const p = withInput([2, 3, 4], (b, x) => b.permute(x, [2, 0, 1]));
    expect(p.shape).toEqual([4, 2, 3]);
    const expected: number[] = [];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) expected.push(j * 12 + k * 4 + i);
    expect(vals(p)).toEqual(expected);
  });

  it('expand broadcasts size-1 axes', () => {
    const r = withInput([2, 1], (b, x) => b.expand(x, [2, 3]));
    expect(vals(r)).toEqual([0, 0, 0, 1, 1, 1]);
    const r2 = withInput([1, 3], (b, x) => b.expand(x, [2, 3]));
    expect(vals(r2)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('pad with a value', () => {
    const r = withInput(
      [2, 2],
      (b, x) =>
        b.pad(
          x,
          [
            [1, 0],
            [0, 2],
          ],
          -1,
        ),
      [1, 2, 3, 4],
    );
    expect(r.shape).toEqual([3, 4]);
    expect(vals(r)).toEqual([-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1]);
  });

  it('slice with start, size and step', () => {
    const r = withInput([10], (b, x) => b.slice(x, [{ start: 1, size: 4, step: 2 }]));
    expect(vals(r)).toEqual([1, 3, 5, 7]);
    const r2 = withInput([3, 4], (b, x) =>
      b.slice(x, [
        { start: 1, size: 2, step: 1 },
        { start: 0, size: 2, step: 3 },
      ]),
    );
    expect(r2.shape).toEqual([2, 2]);
    expect(vals(r2)).toEqual([4, 7, 8, 11]);
  });

  it('concat', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [2, 1] });
    const y = b.input('y', { dtype: 'f32', shape: [2, 2] });
    const env = { x: tensor('f32', [2, 1], [1, 2]), y: tensor('f32', [2, 2], [3, 4, 5, 6]) };
    const r = run(b.concat([x, y, x], 1), env);
    expect(r.shape).toEqual([2, 4]);
    expect(vals(r)).toEqual([1, 3, 4, 1, 2, 5, 6, 2]);
    const r0 = run(b.concat([b.permute(x, [1, 0]), y], 0), env);
    expect(vals(r0)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('matmul', () => {
  it('2-D', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [2, 3] });
    const y = b.input('y', { dtype: 'f32', shape: [3, 2] });
    const r = run(b.matmul(x, y), {
      x: tensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]),
      y: tensor('f32', [3, 2], [7, 8, 9, 10, 11, 12]),
    });
    expect(r.shape).toEqual([2, 2]);
    expect(vals(r)).toEqual([58, 64, 139, 154]);
  });

  it('batched', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [2, 1, 2] });
    const y = b.input('y', { dtype: 'f32', shape: [2, 2, 3] });
    const r = run(b.matmul(x, y), {
      x: tensor('f32', [2, 1, 2], [1, 2, 3, 4]),
      y: tensor('f32', [2, 2, 3], iota(12)),
    });
    expect(r.shape).toEqual([2, 1, 3]);
    // batch 0: [1,2] @ [[0,1,2],[3,4,5]]; batch 1: [3,4] @ [[6,7,8],[9,10,11]]
    expect(vals(r)).toEqual([6, 9, 12, 54, 61, 68]);
  });

  it('i32 wraps', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'i32', shape: [1, 2] });
    const y = b.input('y', { dtype: 'i32', shape: [2, 1] });
    const r = run(b.matmul(x, y), {
      x: tensor('i32', [1, 2], [65536, 1]),
      y: tensor('i32', [2, 1], [65536, I32_MAX]),
    });
    expect(vals(r)).toEqual([I32_MAX]);
  });
});

describe('gather and scatter_add', () => {
  it('gather along axis 0 clamps indices', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [3, 2] });
    const i = b.input('i', { dtype: 'i32', shape: [4] });
    const r = run(b.gather(x, i, 0), {
      x: tensor('f32', [3, 2], iota(6)),
      i: tensor('i32', [4], [2, -5, 1, 99]),
    });
    expect(r.shape).toEqual([4, 2]);
    expect(vals(r)).toEqual([4, 5, 0, 1, 2, 3, 4, 5]);
  });

  it('gather along axis 1 with 2-D indices', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [2, 3] });
    const i = b.input('i', { dtype: 'i32', shape: [2, 2] });
    const r = run(b.gather(x, i, 1), {
      x: tensor('f32', [2, 3], iota(6)),
      i: tensor('i32', [2, 2], [0, 2, 1, 1]),
    });
    expect(r.shape).toEqual([2, 2, 2]);
    // r[a][j][k] = x[a][i[j][k]]
    expect(vals(r)).toEqual([0, 2, 1, 1, 3, 5, 4, 4]);
  });

  it('scatter_add accumulates and clamps', () => {
    const b = new IRBuilder();
    const u = b.input('u', { dtype: 'f32', shape: [4, 2] });
    const i = b.input('i', { dtype: 'i32', shape: [4] });
    const r = run(b.scatterAdd(u, i, 0, { dtype: 'f32', shape: [3, 2] }), {
      u: tensor('f32', [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
      i: tensor('i32', [4], [2, -1, 2, 7]),
    });
    expect(r.shape).toEqual([3, 2]);
    expect(vals(r)).toEqual([3, 4, 0, 0, 1 + 5 + 7, 2 + 6 + 8]);
  });
});

/** The documented rand algorithm, independently with BigInt u32 arithmetic. */
function randSpec(key: number, salt: number, index: number): number {
  const M = 0xffffffffn;
  const u = (v: number | bigint) => BigInt.asUintN(32, BigInt(v));
  const fmix = (h: bigint) => {
    h ^= h >> 16n;
    h = (h * 0x85ebca6bn) & M;
    h ^= h >> 13n;
    h = (h * 0xc2b2ae35n) & M;
    h ^= h >> 16n;
    return h;
  };
  const k = fmix(u(key) ^ ((u(salt) * 0x9e3779b9n) & M));
  let h = fmix(u(index) ^ k);
  h = fmix((h + (k ^ 0x6a09e667n)) & M);
  return Number(h >> 8n) / 2 ** 24;
}

describe('rand', () => {
  const draw = (key: number, salt: number, shape: Shape) => {
    const b = new IRBuilder();
    const k = b.input('key', { dtype: 'i32', shape: [] });
    return run(b.rand(shape, k, salt), { key: scalar(key, 'i32') });
  };

  it('follows the documented counter-based hash', () => {
    const r = draw(-7, 3, [2, 5]);
    expect(vals(r)).toEqual(iota(10).map((i) => randSpec(-7, 3, i)));
    for (const [k, s, i] of [
      [0, 0, 0],
      [I32_MIN, 12345, 99999],
      [42, -1, 7],
    ] as const)
      expect(randUniform(k, s, i)).toBe(randSpec(k, s, i));
  });

  it('is deterministic, in [0, 1), and depends on key and salt', () => {
    const a = vals(draw(1, 0, [1000]));
    expect(vals(draw(1, 0, [1000]))).toEqual(a);
    expect(a.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(vals(draw(2, 0, [1000]))).not.toEqual(a);
    expect(vals(draw(1, 1, [1000]))).not.toEqual(a);
  });

  it('is roughly uniform', () => {
    const n = 20000;
    const a = vals(draw(123, 4, [n]));
    const mean = a.reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    const bins = new Array<number>(10).fill(0);
    for (const v of a) bins[Math.floor(v * 10)]!++;
    for (const c of bins) expect(Math.abs(c - n / 10)).toBeLessThan(n / 10 / 10);
    // neighbouring elements are not correlated
    let cov = 0;
    for (let i = 1; i < n; i++) cov += (a[i]! - 0.5) * (a[i - 1]! - 0.5);
    expect(Math.abs(cov / n)).toBeLessThan(0.005);
  });
});

describe('symbolic dims', () => {
  it('binds B from the input and evaluates shapes', () => {
    const b = new IRBuilder();
    const B = sym('B');
    const x = b.input('x', { dtype: 'f32', shape: [B, 3] });
    const s = b.reduce('sum', x, [1]);
    const flat = b.reshape(x, [{ coef: 3, syms: ['B'] }]);
    const pos = b.iota([B, 1], 0);
    const [rs, rf, rp] = evaluate([s, flat, pos], {
      inputs: new Map([['x', tensor('f32', [2, 3], iota(6))]]),
      params: new Map(),
    });
    expect(rs!.shape).toEqual([2, 1]);
    expect(vals(rs!)).toEqual([3, 12]);
    expect(rf!.shape).toEqual([6]);
    expect(vals(rp!)).toEqual([0, 1]);
  });

  it('uses dims when given, and checks tensors against them', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [sym('B')] });
    const env = { inputs: new Map([['x', tensor('f32', [2], [1, 2])]]), params: new Map() };
    expect(vals(evaluate([x], { ...env, dims: new Map([['B', 2]]) })[0]!)).toEqual([1, 2]);
    expect(() => evaluate([x], { ...env, dims: new Map([['B', 3]]) })).toThrow(InputError);
  });

  it('reports missing and mismatched tensors', () => {
    const b = new IRBuilder();
    const B = sym('B');
    const x = b.input('x', { dtype: 'f32', shape: [B, 784] });
    const y = b.input('y', { dtype: 'i32', shape: [B] });
    const both = b.binary('add', b.reduce('sum', x, [1]), b.reshape(b.cast(y, 'f32'), [B, 1]));
    const ev = (inputs: [string, RefTensor][]) => () =>
      evaluate([both], { inputs: new Map(inputs), params: new Map() });
    const x32 = tensor('f32', [32, 784], new Float64Array(32 * 784));
    expect(ev([['x', x32]])).toThrow("missing input 'y' (expected i32[B])");
    expect(
      ev([
        ['x', tensor('f32', [32, 783], new Float64Array(32 * 783))],
        ['y', tensor('i32', [32], new Float64Array(32))],
      ]),
    ).toThrow("input 'x': expected f32[B, 784], got f32[32, 783] (dimension 1 is 783, expected 784)");
    expect(
      ev([
        ['x', x32],
        ['y', tensor('i32', [31], new Float64Array(31))],
      ]),
    ).toThrow("input 'y': dimension 0 is 31 but B = 32 from input 'x'");
    expect(
      ev([
        ['x', x32],
        ['y', tensor('f32', [32], new Float64Array(32))],
      ]),
    ).toThrow("input 'y': expected i32[B], got f32[32] (dtype f32, expected i32)");
  });
});

describe('bindDims', () => {
  const decl = (name: string, shape: Shape, kind: 'input' | 'param' = 'input') => ({
    name,
    kind,
    type: { dtype: 'f32' as const, shape },
  });
  const given = (entries: [string, number[]][]) =>
    new Map(entries.map(([n, shape]) => [n, { dtype: 'f32' as const, shape }]));
  const B = sym('B');
  const T = sym('T');

  it('binds single symbols and checks compound dims after', () => {
    const dims = bindDims(
      [decl('x', [B, T]), decl('y', [{ coef: 2, syms: ['B'] }]), decl('w', [{ coef: 1, syms: ['B', 'T'] }], 'param')],
      given([
        ['x', [4, 5]],
        ['y', [8]],
        ['w', [20]],
      ]),
    );
    expect([...dims]).toEqual([
      ['B', 4],
      ['T', 5],
    ]);
    expect(() =>
      bindDims(
        [decl('x', [B]), decl('y', [{ coef: 2, syms: ['B'] }])],
        given([
          ['x', [4]],
          ['y', [9]],
        ]),
      ),
    ).toThrow("input 'y': expected f32[2*B], got f32[9] (dimension 0 is 9, expected 2*B = 8)");
  });

  it('solves a compound dim with one unknown symbol', () => {
    expect([...bindDims([decl('y', [{ coef: 2, syms: ['B'] }])], given([['y', [8]]]))]).toEqual([['B', 4]]);
  });

  it('names params and reports rank', () => {
    expect(() => bindDims([decl('w', [3, 3], 'param')], given([['w', [3]]]))).toThrow(
      "param 'w': expected f32[3, 3], got f32[3] (rank 1, expected 2)",
    );
    expect(() => bindDims([decl('w', [3], 'param')], given([]))).toThrow("missing param 'w' (expected f32[3])");
  });
});
