// Forward values and validation messages of every builtin of the
// decomposition table, against expectations computed independently here
// (closed forms or direct JS loops). Gradients: builtins-grad.test.ts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILTINS, type IndexSpec, lowerIndex, validateIndex } from '../../compiler/decompose.js';
import type { Node } from '../../compiler/ir.js';
import { verifyNodes } from '../../compiler/verify.js';
import { type Shape, formatType, sym } from '../../compiler/types.js';
import { type Arr, B, Graph, arr, at, check, indices, rand, stridesOf, t } from './builtins-harness.js';

/** Elementwise closeness with NaN == NaN and exact infinities. */
function expectClose(actual: readonly number[], expected: readonly number[], tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (Number.isNaN(e)) expect(a, `element ${i}`).toBeNaN();
    else if (!Number.isFinite(e)) expect(a, `element ${i}`).toBe(e);
    else expect(Math.abs(a - e), `element ${i}: ${a} vs ${e}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  });
}

/** Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): an erf independent of the interpreter's. */
function erfRef(x: number): number {
  const s = Math.sign(x);
  const ax = Math.abs(x);
  const k = 1 / (1 + 0.3275911 * ax);
  const poly = k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429))));
  return s * (1 - poly * Math.exp(-ax * ax));
}

function unaryOn(name: string, xs: readonly number[], kw: Record<string, number> = {}): number[] {
  const g = new Graph();
  const x = g.input('x', arr([xs.length], xs));
  return g.run(g.call(name, [x], kw)).data;
}

const PTS = [-3, -1.5, -0.5, -1e-3, 0, 0.25, 1, 2.5];
const POS = [1e-3, 0.25, 1, 2.5, 10];

describe('the table', () => {
  const expected = [
    ...'exp log log1p expm1 sqrt rsqrt abs sign floor ceil round sin cos tanh sigmoid relu leaky_relu elu gelu gelu_tanh silu softplus erf'.split(
      ' ',
    ),
    ...'maximum minimum pow clip where cast stop_gradient'.split(' '),
    ...'add sub mul div mod neg not lt le gt ge eq ne and or matmul ternary transpose_last2'.split(' '),
    ...'sum mean max min prod logsumexp var std argmax argmin'.split(' '),
    ...'reshape transpose broadcast_to concat stack pad take roll one_hot'.split(' '),
    ...'dot einsum softmax log_softmax layer_norm rms_norm dropout rand_like conv2d max_pool2d avg_pool2d'.split(' '),
    ...'mse mae huber sigmoid_binary_cross_entropy softmax_cross_entropy'.split(' '),
  ];

  it('defines exactly the builtins of the language plus the operator builtins', () => {
    expect([...BUILTINS.keys()].sort()).toEqual([...new Set(expected)].sort());
  });

  it('declares parameters with unique names, required ones first', () => {
    for (const d of BUILTINS.values()) {
      expect(d.name).toBe([...BUILTINS.entries()].find(([, v]) => v === d)![0]);
      const names = d.params.map((p) => p.name);
      expect(new Set(names).size, d.name).toBe(names.length);
      const firstOptional = d.params.findIndex((p) => p.default !== undefined);
      if (firstOptional >= 0)
        expect(
          d.params.slice(firstOptional).every((p) => p.default !== undefined),
          d.name,
        ).toBe(true);
    }
  });

  it('has reduction and neural signatures as documented', () => {
    const sum = BUILTINS.get('sum')!.params;
    expect(sum).toEqual([
      { name: 'x', kind: 'tensor' },
      { name: 'axis', kind: 'ints', default: null },
      { name: 'keepdims', kind: 'bool', default: false, keywordOnly: true },
    ]);
    expect(BUILTINS.get('conv2d')!.params.map((p) => [p.name, p.kind, p.default])).toEqual([
      ['x', 'tensor', undefined],
      ['w', 'tensor', undefined],
      ['stride', 'ints', 1],
      ['padding', 'ints', 0],
      ['dilation', 'ints', 1],
      ['groups', 'int', 1],
    ]);
    expect(BUILTINS.get('einsum')!.params).toEqual([
      { name: 'spec', kind: 'string' },
      { name: 'a', kind: 'tensor' },
      { name: 'b', kind: 'tensor', default: null },
    ]);
  });
});

describe('elementwise unary', () => {
  const cases: [string, readonly number[], (x: number) => number, Record<string, number>?, number?][] = [
    ['exp', PTS, Math.exp],
    ['log', POS, Math.log],
    ['log1p', [...POS, -0.5], Math.log1p],
    ['expm1', PTS, Math.expm1],
    ['sqrt', [0, ...POS], Math.sqrt],
    ['rsqrt', POS, (x) => 1 / Math.sqrt(x)],
    ['abs', PTS, Math.abs],
    ['sign', PTS, (x) => (x > 0 ? 1 : x < 0 ? -1 : 0)],
    ['sin', PTS, Math.sin],
    ['cos', PTS, Math.cos],
    ['tanh', PTS, Math.tanh],
    ['erf', PTS, erfRef, {}, 1e-6],
    ['sigmoid', PTS, (x) => 1 / (1 + Math.exp(-x))],
    ['relu', PTS, (x) => (x > 0 ? x : 0)],
    ['leaky_relu', PTS, (x) => (x >= 0 ? x : 0.01 * x)],
    ['leaky_relu', PTS, (x) => (x >= 0 ? x : 0.2 * x), { alpha: 0.2 }],
    ['elu', PTS, (x) => (x > 0 ? x : Math.exp(x) - 1)],
    ['elu', PTS, (x) => (x > 0 ? x : 0.5 * (Math.exp(x) - 1)), { alpha: 0.5 }],
    ['gelu', PTS, (x) => 0.5 * x * (1 + erfRef(x / Math.SQRT2)), {}, 1e-6],
    ['gelu_tanh', PTS, (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))],
    ['silu', PTS, (x) => x / (1 + Math.exp(-x))],
    ['softplus', PTS, (x) => Math.log(1 + Math.exp(x))],
    ['stop_gradient', PTS, (x) => x],
    ['neg', PTS, (x) => -x],
  ];
  for (const [name, xs, ref, kw, tol] of cases)
    it(`${name}${kw && Object.keys(kw).length ? ` ${JSON.stringify(kw)}` : ''}`, () => {
      expectClose(unaryOn(name, xs, kw), xs.map(ref), tol ?? 1e-12);
    });

  it('floor, ceil and round (half to even)', () => {
    const xs = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.7, -2.7];
    expect(unaryOn('floor', xs)).toEqual([-3, -2, -1, 0, 1, 2, 2, -3]);
    expect(unaryOn('ceil', xs)).toEqual([-2, -1, 0, 1, 2, 3, 3, -2]);
    expect(unaryOn('round', xs)).toEqual([-2, -2, 0, 0, 2, 2, 3, -3]);
  });

  it('abs and sign on i32; sign keeps NaN', () => {
    const g = new Graph();
    const x = g.input('x', arr([4], [-5, 0, 3, -1]), 'i32');
    expect(g.run(g.call('abs', [x])).data).toEqual([5, 0, 3, 1]);
    expect(g.run(g.call('sign', [x])).data).toEqual([-1, 0, 1, -1]);
    expectClose(unaryOn('sign', [NaN, -0, 2]), [NaN, 0, 1]);
  });

  it('is stable at extreme arguments', () => {
    expectClose(unaryOn('sigmoid', [-1000, 1000, -50, 50]), [0, 1, Math.exp(-50) / (1 + Math.exp(-50)), 1]);
    // relative precision far in the tail (1 - tanh would lose it)
    expect(unaryOn('sigmoid', [-60])[0]! / Math.exp(-60)).toBeCloseTo(1, 12);
    expectClose(unaryOn('softplus', [1000, -1000, 0, -40]), [1000, 0, Math.LN2, Math.log1p(Math.exp(-40))]);
    expectClose(unaryOn('elu', [1000, -1000]), [1000, -1]);
    expectClose(unaryOn('silu', [-1000, 1000]), [0, 1000]);
    expectClose(unaryOn('gelu', [-10, 10]), [0, 10], 1e-6);
  });

  it('validates dtypes', () => {
    expect(check('exp', [t('i32', [3])])).toBe('expects f32, got i32[3]');
    expect(check('relu', [t('bool', [B, 2])])).toBe('expects f32, got bool[B, 2]');
    expect(check('abs', [t('bool', [2])])).toBe('expects f32 or i32, got bool[2]');
    expect(check('sign', [t('i32', [2])])).toBeUndefined();
    expect(check('neg', [t('bool', [2])])).toBe('expects f32 or i32, got bool[2]');
    expect(check('not', [t('f32', [2])])).toBe('expects bool, got f32[2]');
    expect(check('stop_gradient', [t('i32', [2])])).toBeUndefined();
  });
});

describe('elementwise binary and operators', () => {
  function bin(name: string, a: Arr, c: Arr, dtype: 'f32' | 'i32' | 'bool' = 'f32') {
    const g = new Graph();
    const x = g.input('a', a, dtype);
    const y = g.input('b', c, dtype);
    return g.run(g.call(name, [x, y]));
  }

  it('broadcasts NumPy-style', () => {
    const r = bin('add', arr([2, 3], [1, 2, 3, 4, 5, 6]), arr([3], [10, 20, 30]));
    expect(r).toEqual({ shape: [2, 3], data: [11, 22, 33, 14, 25, 36] });
    const r2 = bin('mul', arr([2, 1], [2, 3]), arr([1, 3], [1, 10, 100]));
    expect(r2).toEqual({ shape: [2, 3], data: [2, 20, 200, 3, 30, 300] });
    expect(bin('sub', arr([], [10]), arr([2], [1, 2]))).toEqual({ shape: [2], data: [9, 8] });
  });

  it('arithmetic, f32 and i32 (floor division, floored modulo)', () => {
    const a = arr([4], [-7, 7, -7, 7]);
    const c = arr([4], [2, -2, 3, 3]);
    expect(bin('div', a, c, 'i32').data).toEqual([-4, -4, -3, 2]);
    expect(bin('mod', a, c, 'i32').data).toEqual([1, -1, 2, 1]);
    expectClose(bin('div', a, c).data, [-3.5, -3.5, -7 / 3, 7 / 3]);
    expectClose(bin('mod', arr([3], [-7.5, 7.5, 5]), arr([3], [2, -2, 2.5])).data, [0.5, -0.5, 0]);
    expectClose(bin('pow', arr([3], [2, 4, 9]), arr([3], [3, 0.5, -0.5])).data, [8, 2, 1 / 3]);
    expect(bin('pow', arr([3], [2, -3, 5]), arr([3], [10, 3, 0]), 'i32').data).toEqual([1024, -27, 1]);
    expect(bin('maximum', arr([3], [1, 5, -2]), arr([3], [3, 2, -2])).data).toEqual([3, 5, -2]);
    expect(bin('minimum', arr([3], [1, 5, -2]), arr([3], [3, 2, -2]), 'i32').data).toEqual([1, 2, -2]);
    expectClose(bin('maximum', arr([2], [NaN, 1]), arr([2], [0, NaN])).data, [NaN, NaN]);
  });

  it('comparisons give bool; logical ops', () => {
    const a = arr([3], [1, 2, 3]);
    const c = arr([3], [2, 2, 2]);
    expect(bin('lt', a, c).data).toEqual([1, 0, 0]);
    expect(bin('le', a, c).data).toEqual([1, 1, 0]);
    expect(bin('gt', a, c).data).toEqual([0, 0, 1]);
    expect(bin('ge', a, c, 'i32').data).toEqual([0, 1, 1]);
    expect(bin('eq', a, c).data).toEqual([0, 1, 0]);
    expect(bin('ne', a, c).data).toEqual([1, 0, 1]);
    const p = arr([4], [0, 0, 1, 1]);
    const q = arr([4], [0, 1, 0, 1]);
    expect(bin('and', p, q, 'bool').data).toEqual([0, 0, 0, 1]);
    expect(bin('or', p, q, 'bool').data).toEqual([0, 1, 1, 1]);
    expect(bin('eq', p, q, 'bool').data).toEqual([1, 0, 0, 1]);
    const g = new Graph();
    const x = g.input('x', p, 'bool');
    const r = g.call('not', [x]);
    expect(r.dtype).toBe('bool');
    expect(g.run(r).data).toEqual([1, 1, 0, 0]);
    const gt = new Graph();
    expect(gt.call('gt', [gt.input('a', a), gt.input('b', c)]).dtype).toBe('bool');
  });

  it('where and ternary broadcast all three operands; literals adopt the dtype', () => {
    for (const name of ['where', 'ternary']) {
      const g = new Graph();
      const c = g.input('c', arr([2, 1], [1, 0]), 'bool');
      const a = g.input('a', arr([3], [1, 2, 3]));
      expect(g.run(g.call(name, [c, a, -1]))).toEqual({ shape: [2, 3], data: [1, 2, 3, -1, -1, -1] });
    }
  });

  it('clip = minimum(maximum(x, lo), hi), NaN passes, tensor bounds broadcast', () => {
    const g = new Graph();
    const x = g.input('x', arr([5], [-2, 0.5, 3, NaN, 1]));
    expectClose(g.run(g.call('clip', [x, 0, 1])).data, [0, 0.5, 1, NaN, 1]);
    // lo > hi gives hi, as NumPy
    expectClose(g.run(g.call('clip', [x, 2, 1])).data, [1, 1, 1, NaN, 1]);
    const lo = g.input('lo', arr([2, 1], [0, -5]));
    expect(g.run(g.call('clip', [x, lo, 2]))).toEqual({
      shape: [2, 5],
      data: [0, 0.5, 2, NaN, 1, -2, 0.5, 2, NaN, 1],
    });
  });

  it('cast converts (f32 -> i32 truncates toward zero)', () => {
    const g = new Graph();
    const x = g.input('x', arr([4], [-1.7, 1.7, 0, 2]));
    const i = g.call('cast', [x, 'i32']);
    expect(i.dtype).toBe('i32');
    expect(g.run(i).data).toEqual([-1, 1, 0, 2]);
    expect(g.run(g.call('cast', [x, 'bool'])).data).toEqual([1, 1, 0, 1]);
    expect(g.call('cast', [x, 'f32'])).toBe(x);
  });

  it('validates dtypes and broadcasting', () => {
    expect(check('add', [t('f32', [B, 3]), t('f32', [4])])).toBe('shapes f32[B, 3] and f32[4] do not broadcast');
    expect(check('add', [t('f32', [3]), t('i32', [3])])).toBe('dtypes differ: f32[3] and i32[3] (use cast)');
    expect(check('mul', [t('bool', [3]), t('bool', [3])])).toBe('expects f32 or i32, got bool[3]');
    expect(check('lt', [t('bool', [3]), t('bool', [3])])).toBe('expects f32 or i32, got bool[3]');
    expect(check('eq', [t('bool', [3]), t('bool', [1])])).toBeUndefined();
    expect(check('and', [t('f32', [3]), t('bool', [3])])).toBe('expects bool, got f32[3]');
    expect(check('where', [t('f32', [3]), t('f32', [3]), t('f32', [3])])).toBe('condition: expects bool, got f32[3]');
    expect(check('ternary', [t('bool', [2]), t('f32', [3]), t('f32', [3])])).toBe(
      'shapes bool[2], f32[3] and f32[3] do not broadcast',
    );
    expect(check('where', [t('bool', [3]), t('f32', [3]), t('i32', [3])])).toBe(
      'dtypes differ: f32[3] and i32[3] (use cast)',
    );
    expect(check('clip', [t('f32', [B, 3]), t('f32', [2]), t('f32', [])])).toBe(
      'shapes f32[B, 3], f32[2] and f32[] do not broadcast',
    );
    expect(check('maximum', [t('f32', [B, 3]), t('f32', [B, 1])])).toBeUndefined();
    expect(check('cast', [t('f32', [3]), 'f64'])).toBe('unknown dtype (expects one of f32, i32, bool)');
  });

  it('keeps symbolic dims through broadcasting', () => {
    const g = new Graph();
    const x = g.input('x', arr([2, 3], [1, 2, 3, 4, 5, 6]), 'f32', [B, 3]);
    const y = g.input('y', arr([3], [1, 1, 1]));
    const s = g.call('add', [x, y]);
    expect(formatType(s)).toBe('f32[B, 3]');
    expect(g.run(s).data).toEqual([2, 3, 4, 5, 6, 7]);
  });
});

describe('reductions', () => {
  const x = arr([2, 3], [1, 5, 3, 4, 2, 6]);
  function red(name: string, kw: Record<string, number | number[] | boolean> = {}, a: Arr = x) {
    const g = new Graph();
    return g.run(g.call(name, [g.input('x', a)], kw));
  }

  it('sum/prod/max/min over all axes, one axis, negative axes, lists, keepdims', () => {
    expect(red('sum')).toEqual({ shape: [], data: [21] });
    expect(red('sum', { axis: 0 })).toEqual({ shape: [3], data: [5, 7, 9] });
    expect(red('sum', { axis: -1 })).toEqual({ shape: [2], data: [9, 12] });
    expect(red('sum', { axis: [0, 1] })).toEqual({ shape: [], data: [21] });
    expect(red('sum', { axis: [-1, 0], keepdims: true })).toEqual({ shape: [1, 1], data: [21] });
    expect(red('sum', { axis: 1, keepdims: true })).toEqual({ shape: [2, 1], data: [9, 12] });
    expect(red('sum', { axis: [] })).toEqual({ shape: [2, 3], data: x.data });
    expect(red('prod', { axis: 1 })).toEqual({ shape: [2], data: [15, 48] });
    expect(red('max', { axis: 0 })).toEqual({ shape: [3], data: [4, 5, 6] });
    expect(red('min')).toEqual({ shape: [], data: [1] });
    const g = new Graph();
    expect(g.run(g.call('sum', [g.input('i', arr([3], [1, 2, 3]), 'i32')]))).toEqual({ shape: [], data: [6] });
  });

  it('mean, population var and std', () => {
    expectClose(red('mean', { axis: 1 }).data, [3, 4]);
    expectClose(red('mean').data, [3.5]);
    const v0 = ((1 - 3) ** 2 + (5 - 3) ** 2 + (3 - 3) ** 2) / 3;
    const v1 = ((4 - 4) ** 2 + (2 - 4) ** 2 + (6 - 4) ** 2) / 3;
    expectClose(red('var', { axis: 1 }).data, [v0, v1]);
    expectClose(red('std', { axis: -1, keepdims: true }).data, [Math.sqrt(v0), Math.sqrt(v1)]);
    expect(red('std', { axis: -1, keepdims: true }).shape).toEqual([2, 1]);
    const all = x.data.reduce((a, v) => a + (v - 3.5) ** 2, 0) / 6;
    expectClose(red('var').data, [all]);
  });

  it('mean over a symbolic axis counts at run time', () => {
    for (const n of [2, 5]) {
      const g = new Graph();
      const data = rand(n * 3, n);
      const xs = g.input('x', arr([n, 3], data), 'f32', [B, 3]);
      const m = g.call('mean', [xs], { axis: 0 });
      expect(formatType(m)).toBe('f32[3]');
      const expected = [0, 1, 2].map((j) => data.filter((_, i) => i % 3 === j).reduce((a, v) => a + v, 0) / n);
      expectClose(g.run(m).data, expected);
      const v = g.call('var', [xs]);
      const mu = data.reduce((a, c) => a + c, 0) / data.length;
      expectClose(g.run(v).data, [data.reduce((a, c) => a + (c - mu) ** 2, 0) / data.length]);
    }
  });

  it('logsumexp is stable: large values, all -inf rows, +inf', () => {
    const ref = (r: number[]) => Math.log(r.reduce((a, v) => a + Math.exp(v), 0));
    expectClose(red('logsumexp', { axis: 1 }).data, [ref([1, 5, 3]), ref([4, 2, 6])]);
    const big = arr([2, 2], [1000, 1000, -Infinity, -Infinity]);
    expectClose(red('logsumexp', { axis: 1 }, big).data, [1000 + Math.LN2, -Infinity]);
    expectClose(red('logsumexp', { axis: 1 }, arr([1, 2], [Infinity, 0])).data, [Infinity]);
    expectClose(red('logsumexp', { axis: 1 }, arr([1, 2], [-1000, -1001])).data, [-1000 + Math.log1p(Math.exp(-1))]);
  });

  it('argmax/argmin: first of equal values, flattened by default, NaN wins', () => {
    const ties = arr([2, 4], [3, 7, 7, 1, 2, 2, 0, 2]);
    expect(red('argmax', { axis: 1 }, ties)).toEqual({ shape: [2], data: [1, 0] });
    expect(red('argmin', { axis: 1 }, ties)).toEqual({ shape: [2], data: [3, 2] });
    expect(red('argmax', { axis: 0 }, ties)).toEqual({ shape: [4], data: [0, 0, 0, 1] });
    expect(red('argmax', {}, ties)).toEqual({ shape: [], data: [1] });
    expect(red('argmin', {}, ties)).toEqual({ shape: [], data: [6] });
    expect(red('argmax', { axis: -1, keepdims: true }, ties)).toEqual({ shape: [2, 1], data: [1, 0] });
    expect(red('argmax', { keepdims: true }, ties)).toEqual({ shape: [1, 1], data: [1] });
    expect(red('argmax', { axis: 0 }, arr([3], [1, NaN, NaN]))).toEqual({ shape: [], data: [1] });
    const g = new Graph();
    const r = g.call('argmax', [g.input('i', arr([3], [4, 9, 9]), 'i32')]);
    expect(r.dtype).toBe('i32');
    expect(g.run(r).data).toEqual([1]);
  });

  it('validates axes and dtypes', () => {
    expect(check('sum', [t('f32', [2, 3]), [2]])).toBe('axis 2 is out of range for f32[2, 3]');
    expect(check('sum', [t('f32', [2, 3]), [-3]])).toBe('axis -3 is out of range for f32[2, 3]');
    expect(check('max', [t('f32', [2, 3]), [1, -1]])).toBe('axis -1 is repeated in [1, -1]');
    expect(check('mean', [t('i32', [2, 3])])).toBe('expects f32, got i32[2, 3]');
    expect(check('sum', [t('bool', [2])])).toBe('expects f32 or i32, got bool[2]');
    expect(check('argmax', [t('f32', [B, 3]), 2])).toBe('axis 2 is out of range for f32[B, 3]');
    expect(check('logsumexp', [t('f32', [B, 3]), [0]])).toBeUndefined();
  });
});

describe('shape builtins', () => {
  const x6 = arr([2, 3], [0, 1, 2, 3, 4, 5]);

  it('reshape with and without -1, also over symbolic dims', () => {
    const g = new Graph();
    const x = g.input('x', x6);
    expect(g.run(g.call('reshape', [x, [3, -1]]))).toEqual({ shape: [3, 2], data: x6.data });
    expect(g.run(g.call('reshape', [x, [6]]))).toEqual({ shape: [6], data: x6.data });
    const s = g.input(
      's',
      arr([4, 6], (i) => i),
      'f32',
      [B, 6],
    );
    expect(formatType(g.call('reshape', [s, [-1, 3]]))).toBe('f32[2*B, 3]');
    expect(formatType(g.call('reshape', [s, [B, 2, -1]]))).toBe('f32[B, 2, 3]');
    const flat = g.call('reshape', [s, [-1]]);
    expect(formatType(flat)).toBe('f32[6*B]');
    expect(g.run(flat).data).toEqual(Array.from({ length: 24 }, (_, i) => i));
    const back = g.call('reshape', [g.call('reshape', [s, [-1, 2]]), [B, -1]]);
    expect(formatType(back)).toBe('f32[B, 6]');
  });

  it('reshape errors', () => {
    expect(check('reshape', [t('f32', [2, 3]), [4, 2]])).toBe(
      'cannot reshape f32[2, 3] into [4, 2]: 6 elements cannot become 8 elements',
    );
    expect(check('reshape', [t('f32', [2, 3]), [-1, -1]])).toBe(
      'cannot reshape f32[2, 3] into [-1, -1]: only one -1 is allowed',
    );
    expect(check('reshape', [t('f32', [2, 3]), [4, -1]])).toBe(
      'cannot reshape f32[2, 3] into [4, -1]: 6 elements are not a multiple of 4',
    );
    expect(check('reshape', [t('f32', [B, 3]), [5, -1]])).toBe(
      'cannot reshape f32[B, 3] into [5, -1]: 3*B elements are not a multiple of 5',
    );
    expect(check('reshape', [t('f32', [B, 3]), [-2, 3]])).toBe(
      'cannot reshape f32[B, 3] into [-2, 3]: bad dimension -2',
    );
    expect(check('reshape', [t('f32', [B, 3]), [sym('T'), -1]])).toBe(
      'cannot reshape f32[B, 3] into [T, -1]: 3*B elements are not a multiple of T',
    );
  });

  it('transpose (default reverses), transpose_last2', () => {
    const g = new Graph();
    const x = g.input(
      'x',
      arr([2, 3, 4], (i) => i),
    );
    const r = g.run(g.call('transpose', [x]));
    expect(r.shape).toEqual([4, 3, 2]);
    expect(r.data[1]).toBe(12);
    const p = g.run(g.call('transpose', [x, [1, -1, 0]]));
    expect(p.shape).toEqual([3, 4, 2]);
    const a3 = arr([2, 3, 4], (i) => i);
    for (const [i, j, k] of indices([3, 4, 2])) expect(p.data[i * 8 + j * 2 + k]).toBe(at(a3, [k, i, j]));
    const tl = g.run(g.call('transpose_last2', [x]));
    expect(tl.shape).toEqual([2, 4, 3]);
    for (const [i, j, k] of indices([2, 4, 3])) expect(tl.data[i * 12 + j * 3 + k]).toBe(at(a3, [i, k, j]));
    expect(check('transpose', [t('f32', [2, 3]), [0, 0]])).toBe(
      '[0, 0] is not a permutation of the 2 axes of f32[2, 3]',
    );
    expect(check('transpose', [t('f32', [2, 3]), [0]])).toBe('[0] is not a permutation of the 2 axes of f32[2, 3]');
    expect(check('transpose_last2', [t('f32', [3])])).toBe('.T needs at least 2 axes, got f32[3]');
  });

  it('broadcast_to', () => {
    const g = new Graph();
    const x = g.input('x', arr([3, 1], [1, 2, 3]));
    expect(g.run(g.call('broadcast_to', [x, [2, 3, 2]]))).toEqual({
      shape: [2, 3, 2],
      data: [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3],
    });
    expect(formatType(g.call('broadcast_to', [x, [B, 3, 4]]))).toBe('f32[B, 3, 4]');
    expect(check('broadcast_to', [t('f32', [3, 4]), [2, 4]])).toBe(
      'cannot broadcast f32[3, 4] to [2, 4]: dimension 3 cannot stretch to 2',
    );
    expect(check('broadcast_to', [t('f32', [3, 4]), [4]])).toBe(
      'cannot broadcast f32[3, 4] to [4]: the target has fewer axes',
    );
  });

  it('concat and stack', () => {
    const g = new Graph();
    const a = g.input('a', x6);
    const c = g.input('c', arr([2, 1], [10, 11]));
    expect(g.run(g.call('concat', [[a, c], 1]))).toEqual({ shape: [2, 4], data: [0, 1, 2, 10, 3, 4, 5, 11] });
    expect(g.run(g.call('concat', [[a, a]]))).toEqual({ shape: [4, 3], data: [...x6.data, ...x6.data] });
    expect(g.run(g.call('concat', [[c, a], -1])).data).toEqual([10, 0, 1, 2, 11, 3, 4, 5]);
    const st = g.run(g.call('stack', [[a, a], 1]));
    expect(st).toEqual({ shape: [2, 2, 3], data: [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5] });
    expect(g.run(g.call('stack', [[a, a], -1])).shape).toEqual([2, 3, 2]);
    expect(g.run(g.call('stack', [[a, a]])).shape).toEqual([2, 2, 3]);
    const s = g.input(
      's',
      arr([2, 3], (i) => i),
      'f32',
      [B, 3],
    );
    expect(formatType(g.call('concat', [[s, s, s], 0]))).toBe('f32[3*B, 3]');
    expect(formatType(g.call('stack', [[s, s], 2]))).toBe('f32[B, 3, 2]');
    const k = g.input('k', arr([], [7]));
    expect(g.run(g.call('stack', [[k, k]]))).toEqual({ shape: [2], data: [7, 7] });
  });

  it('concat and stack errors', () => {
    expect(check('concat', [[t('f32', [2, 3]), t('f32', [3, 3])], 1])).toBe(
      'shapes f32[2, 3] and f32[3, 3] differ off axis 1',
    );
    expect(check('concat', [[t('f32', [B, 3]), t('f32', [2, 3])], 0])).toBe(
      'cannot add sizes B and 2 along axis 0 (symbolic and static)',
    );
    expect(check('concat', [[t('f32', [2]), t('i32', [2])]])).toBe('dtypes differ: f32[2] and i32[2] (use cast)');
    expect(check('concat', [[t('f32', [2])], 1])).toBe('axis 1 is out of range for f32[2]');
    expect(check('concat', [[t('f32', [])]])).toBe('cannot concatenate scalars (f32[]); use stack');
    expect(check('concat', [[]])).toBe('needs at least one tensor');
    expect(check('stack', [[t('f32', [2]), t('f32', [3])]])).toBe(
      'all tensors must have the same type: f32[2] and f32[3] differ',
    );
    expect(check('stack', [[t('f32', [2])], 2])).toBe('axis 2 is out of range for f32[2]');
  });

  it('pad with a value; errors', () => {
    const g = new Graph();
    const x = g.input('x', arr([2, 2], [1, 2, 3, 4]));
    expect(
      g.run(
        g.call('pad', [
          x,
          [
            [1, 0],
            [0, 2],
          ],
          9,
        ]),
      ),
    ).toEqual({ shape: [3, 4], data: [9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9] });
    const s = g.input('s', arr([2, 2], [1, 2, 3, 4]), 'f32', [B, 2]);
    const ps = g.call('pad', [
      s,
      [
        [0, 0],
        [1, 1],
      ],
    ]);
    expect(formatType(ps)).toBe('f32[B, 4]');
    expect(check('pad', [t('f32', [2, 2]), [[1, 1]]])).toBe('needs one [lo, hi] pair per axis of f32[2, 2], got 1');
    expect(
      check('pad', [
        t('f32', [B, 2]),
        [
          [1, 0],
          [0, 0],
        ],
      ]),
    ).toBe('cannot pad symbolic axis B of f32[B, 2]');
    expect(check('pad', [t('f32', [2]), [[-1, 0]]])).toBe(
      'pad amounts must be non-negative integers, got [-1, 0] for axis 0',
    );
    expect(check('pad', [t('i32', [2]), [[1, 0]], 0.5])).toBe('value 0.5 is not an i32');
  });

  it('take: any axis, negative and multi-dimensional indices', () => {
    const g = new Graph();
    const x = g.input(
      'x',
      arr([3, 4], (i) => i),
    );
    const idx = g.input('idx', arr([2, 2], [2, 0, -1, 1]), 'i32');
    const r0 = g.run(g.call('take', [x, idx]));
    expect(r0.shape).toEqual([2, 2, 4]);
    expect(r0.data).toEqual([8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7]);
    const r1 = g.run(g.call('take', [x, idx, -1]));
    expect(r1.shape).toEqual([3, 2, 2]);
    expect(r1.data.slice(0, 4)).toEqual([2, 0, 3, 1]);
    const emb = g.input('ids', arr([2, 3], [0, 2, 1, 1, 1, 0]), 'i32', [B, 3]);
    const e = g.call('take', [x, emb]);
    expect(formatType(e)).toBe('f32[B, 3, 4]');
    expect(check('take', [t('f32', [3, 4]), t('f32', [2])])).toBe('idx: expects i32, got f32[2]');
    expect(check('take', [t('f32', [3, 4]), t('i32', [2]), 2])).toBe('axis 2 is out of range for f32[3, 4]');
  });

  it('roll: as NumPy, on static and symbolic axes, any shift', () => {
    const g = new Graph();
    const x = g.input(
      'x',
      arr([3, 4], (i) => i),
    );
    expect(g.run(g.call('roll', [x, 1])).data).toEqual([8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7]);
    expect(g.run(g.call('roll', [x, -5, 1])).data).toEqual([1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8]);
    expect(g.call('roll', [x, 3])).toBe(x);
    const xb = g.input(
      'xb',
      arr([3, 2], (i) => i),
      'f32',
      [B, 2],
    );
    const r = g.call('roll', [xb, 4]);
    expect(formatType(r)).toBe('f32[B, 2]');
    expect(g.run(r).data).toEqual([4, 5, 0, 1, 2, 3]);
    expect(check('roll', [t('f32', []), 1])).toBe('cannot roll a scalar f32[]');
    expect(check('roll', [t('f32', [3, 4]), 1, 2])).toBe('axis 2 is out of range for f32[3, 4]');
  });

  it('one_hot: f32 rows, all zero for labels out of range', () => {
    const g = new Graph();
    const y = g.input('y', arr([4], [0, 2, 3, -1]), 'i32');
    const r = g.call('one_hot', [y, 3]);
    expect(r.dtype).toBe('f32');
    expect(g.run(r)).toEqual({ shape: [4, 3], data: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] });
    const s = g.input('s', arr([2], [1, 0]), 'i32', [B]);
    expect(formatType(g.call('one_hot', [s, 10]))).toBe('f32[B, 10]');
    expect(check('one_hot', [t('f32', [4]), 3])).toBe('expects i32, got f32[4]');
    expect(check('one_hot', [t('i32', [4]), 0])).toBe('n must be a positive integer, got 0');
  });
});

describe('indexing', () => {
  const a3 = arr([3, 4, 5], (i) => i);

  /** NumPy's slice index list for one axis of size d. */
  function sliceIdx(d: number, start?: number, end?: number, step = 1): number[] {
    const cl = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const s = cl(start ?? 0);
    const e = cl(end ?? d);
    const out: number[] = [];
    for (let i = s; i < e; i += step) out.push(i);
    return out;
  }

  function idx(items: IndexSpec[], x: Arr = a3, declared?: Shape) {
    const g = new Graph();
    const n = g.input('x', x, 'f32', declared);
    const r = lowerIndex(g.ctx, n, items);
    verifyNodes([r], 'index');
    return { node: r, ...g.run(r) };
  }

  it('integer indices drop axes; negative ones count from the end', () => {
    const r = idx([{ kind: 'int', value: 1 }]);
    expect(r.shape).toEqual([4, 5]);
    expect(r.data).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i));
    const r2 = idx([{ kind: 'int', value: -1 }, { kind: 'ellipsis' }, { kind: 'int', value: -2 }]);
    expect(r2.shape).toEqual([4]);
    expect(r2.data).toEqual([0, 1, 2, 3].map((j) => at(a3, [2, j, 3])));
    expect(
      idx([
        { kind: 'int', value: 0 },
        { kind: 'int', value: 1 },
        { kind: 'int', value: 2 },
      ]).shape,
    ).toEqual([]);
  });

  it('slices with NumPy clamping and positive steps', () => {
    const cases: [number | undefined, number | undefined, number | undefined][] = [
      [1, 3, undefined],
      [undefined, undefined, 2],
      [-3, undefined, undefined],
      [1, -1, 2],
      [-100, 100, 3],
      [3, 1, undefined],
      [4, undefined, 1],
    ];
    for (const [start, end, step] of cases) {
      const r = idx([{ kind: 'ellipsis' }, { kind: 'slice', start, end, step }]);
      const js = sliceIdx(5, start, end, step ?? 1);
      expect(r.shape).toEqual([3, 4, js.length]);
      const expected: number[] = [];
      for (const [i, j] of indices([3, 4])) for (const k of js) expected.push(at(a3, [i, j, k]));
      expect(r.data).toEqual(expected);
    }
    const m = idx([
      { kind: 'slice', start: 0, end: 3, step: 2 },
      { kind: 'int', value: 2 },
      { kind: 'slice', step: 3 },
    ]);
    expect(m.shape).toEqual([2, 2]);
    expect(m.data).toEqual([at(a3, [0, 2, 0]), at(a3, [0, 2, 3]), at(a3, [2, 2, 0]), at(a3, [2, 2, 3])]);
  });

  it('a tensor index takes along its axis', () => {
    const g = new Graph();
    const x = g.input('x', a3);
    const i = g.input('i', arr([2], [3, -2]), 'i32');
    const r = lowerIndex(g.ctx, x, [
      { kind: 'slice', start: 1 },
      { kind: 'tensor', index: i },
      { kind: 'int', value: 0 },
    ]);
    const v = g.run(r);
    expect(v.shape).toEqual([2, 2]);
    expect(v.data).toEqual([at(a3, [1, 3, 0]), at(a3, [1, 2, 0]), at(a3, [2, 3, 0]), at(a3, [2, 2, 0])]);
    // a scalar tensor index drops the axis, like an int
    const s = g.input('s', arr([], [2]), 'i32');
    const r2 = lowerIndex(g.ctx, x, [{ kind: 'ellipsis' }, { kind: 'tensor', index: s }]);
    expect(g.run(r2).shape).toEqual([3, 4]);
    expect(g.run(r2).data[5]).toBe(at(a3, [1, 1, 2]));
  });

  it('symbolic axes: whole slices only', () => {
    const r = idx(
      [{ kind: 'slice' }, { kind: 'int', value: 0 }],
      arr([2, 3], (i) => i),
      [B, 3],
    );
    expect(formatType(r.node)).toBe('f32[B]');
    expect(r.data).toEqual([0, 3]);
    const s = t('f32', [B, 3]);
    expect(validateIndex(s, [{ kind: 'slice', start: 1 }])).toBe(
      "slices of symbolic axis B of f32[B, 3] must be whole (':')",
    );
    expect(validateIndex(s, [{ kind: 'int', value: 0 }])).toBe(
      'cannot index symbolic axis B of f32[B, 3] with a constant (only whole slices)',
    );
    expect(validateIndex(s, [{ kind: 'tensor', index: t('i32', [4]) }])).toBeUndefined();
  });

  it('validation messages', () => {
    const x = t('f32', [3, 4]);
    expect(validateIndex(x, [{ kind: 'int', value: 3 }])).toBe('index 3 is out of range for axis 0 of f32[3, 4]');
    expect(validateIndex(x, [{ kind: 'int', value: -4 }])).toBe('index -4 is out of range for axis 0 of f32[3, 4]');
    expect(validateIndex(x, [{ kind: 'slice', step: 0 }])).toBe('slice step must be a positive integer, got 0');
    expect(validateIndex(x, [{ kind: 'slice', step: -1 }])).toBe('slice step must be a positive integer, got -1');
    expect(
      validateIndex(x, [
        { kind: 'int', value: 0 },
        { kind: 'int', value: 0 },
        { kind: 'int', value: 0 },
      ]),
    ).toBe('too many indices for f32[3, 4]: 3 given');
    expect(validateIndex(x, [{ kind: 'ellipsis' }, { kind: 'ellipsis' }])).toBe(
      "only one '...' is allowed in an index",
    );
    expect(validateIndex(x, [{ kind: 'tensor', index: t('f32', [2]) }])).toBe('tensor index: expects i32, got f32[2]');
    expect(
      validateIndex(x, [
        { kind: 'tensor', index: t('i32', [2]) },
        { kind: 'tensor', index: t('i32', [2]) },
      ]),
    ).toBe('only one tensor index is supported');
    expect(validateIndex(x, [{ kind: 'ellipsis' }, { kind: 'int', value: 1 }])).toBeUndefined();
  });
});

// ---- linear algebra references ----

/** A brute-force einsum over letter labels (no ellipsis). */
function einsumRef(spec: string, ops: readonly Arr[]): Arr {
  const [lhs, rhs] = spec.split('->') as [string, string];
  const terms = lhs.split(',');
  const size = new Map<string, number>();
  terms.forEach((term, k) => [...term].forEach((l, i) => size.set(l, ops[k]!.shape[i]!)));
  const labels = [...size.keys()];
  const outShape = [...rhs].map((l) => size.get(l)!);
  const out = new Array<number>(outShape.reduce((a, d) => a * d, 1)).fill(0);
  const os = stridesOf(outShape);
  for (const c of indices(labels.map((l) => size.get(l)!))) {
    const v = (l: string) => c[labels.indexOf(l)]!;
    let p = 1;
    terms.forEach((term, k) => (p *= at(ops[k]!, [...term].map(v))));
    out[[...rhs].reduce((f, l, i) => f + v(l) * os[i]!, 0)]! += p;
  }
  return { shape: outShape, data: out };
}

describe('linear algebra', () => {
  function mm(name: string, sa: number[], sb: number[], decl?: [Shape, Shape]) {
    const g = new Graph();
    const A = arr(
      sa,
      rand(
        sa.reduce((a, d) => a * d, 1),
        1,
      ),
    );
    const Bm = arr(
      sb,
      rand(
        sb.reduce((a, d) => a * d, 1),
        2,
      ),
    );
    const r = g.call(name, [g.input('a', A, 'f32', decl?.[0]), g.input('b', Bm, 'f32', decl?.[1])]);
    return { A, Bm, node: r, ...g.run(r) };
  }

  it('matmul: 2-D, batched with broadcasting, 1-D operands (NumPy)', () => {
    const r = mm('matmul', [3, 4], [4, 2]);
    expect(r.shape).toEqual([3, 2]);
    expectClose(r.data, einsumRef('ij,jk->ik', [r.A, r.Bm]).data);
    const b = mm('matmul', [2, 1, 3, 4], [5, 4, 2]);
    expect(b.shape).toEqual([2, 5, 3, 2]);
    const A2 = { shape: [2, 3, 4], data: b.A.data };
    expectClose(b.data, einsumRef('aij,bjk->abik', [A2, b.Bm]).data);
    const vm = mm('matmul', [4], [2, 4, 3]);
    expect(vm.shape).toEqual([2, 3]);
    expectClose(vm.data, einsumRef('j,bjk->bk', [vm.A, vm.Bm]).data);
    const mv = mm('matmul', [2, 3, 4], [4]);
    expect(mv.shape).toEqual([2, 3]);
    expectClose(mv.data, einsumRef('bij,j->bi', [mv.A, mv.Bm]).data);
    const vv = mm('matmul', [4], [4]);
    expect(vv.shape).toEqual([]);
    expectClose(vv.data, einsumRef('i,i->', [vv.A, vv.Bm]).data);
  });

  it('matmul keeps symbolic batch dims', () => {
    const r = mm(
      'matmul',
      [3, 4],
      [4, 2],
      [
        [B, 4],
        [4, 2],
      ],
    );
    expect(formatType(r.node)).toBe('f32[B, 2]');
    expectClose(r.data, einsumRef('ij,jk->ik', [r.A, r.Bm]).data);
    const s = mm(
      'matmul',
      [2, 3, 4],
      [2, 4, 5],
      [
        [B, 3, 4],
        [B, 4, 5],
      ],
    );
    expect(formatType(s.node)).toBe('f32[B, 3, 5]');
  });

  it('matmul validation', () => {
    expect(check('matmul', [t('f32', [B, 784]), t('f32', [256, 10])])).toBe(
      'f32[B, 784] @ f32[256, 10]: inner dimensions 784 and 256 differ',
    );
    expect(check('matmul', [t('f32', [2, 3, 4]), t('f32', [5, 4, 6])])).toBe(
      'f32[2, 3, 4] @ f32[5, 4, 6]: batch dimensions [2] and [5] do not broadcast',
    );
    expect(check('matmul', [t('f32', []), t('f32', [3])])).toBe(
      'f32[] @ f32[3]: matmul needs operands with at least 1 axis',
    );
    expect(check('matmul', [t('f32', [3]), t('i32', [3])])).toBe(
      'f32[3] @ i32[3]: dtypes differ: f32[3] and i32[3] (use cast)',
    );
    expect(check('matmul', [t('bool', [3]), t('bool', [3])])).toBe(
      'bool[3] @ bool[3]: expects f32 or i32, got bool[3]',
    );
  });

  it('dot: NumPy cases', () => {
    const vv = mm('dot', [4], [4]);
    expectClose(vv.data, einsumRef('i,i->', [vv.A, vv.Bm]).data);
    const m = mm('dot', [3, 4], [4, 2]);
    expectClose(m.data, einsumRef('ij,jk->ik', [m.A, m.Bm]).data);
    const nv = mm('dot', [2, 3, 4], [4]);
    expect(nv.shape).toEqual([2, 3]);
    expectClose(nv.data, einsumRef('abj,j->ab', [nv.A, nv.Bm]).data);
    const nm = mm('dot', [2, 3, 4], [5, 4, 2]);
    expect(nm.shape).toEqual([2, 3, 5, 2]);
    expectClose(nm.data, einsumRef('abj,cjd->abcd', [nm.A, nm.Bm]).data);
    const sc = mm('dot', [], [2, 2]);
    expectClose(
      sc.data,
      sc.Bm.data.map((v) => v * sc.A.data[0]!),
    );
    expect(check('dot', [t('f32', [3, 4]), t('f32', [2, 5, 2])])).toBe(
      'dot(f32[3, 4], f32[2, 5, 2]): inner dimensions 4 and 5 differ',
    );
    expect(check('dot', [t('f32', [3, 4]), t('f32', [3])])).toBe(
      'dot(f32[3, 4], f32[3]): inner dimensions 4 and 3 differ',
    );
  });

  it('einsum with one and two operands, explicit and implicit outputs', () => {
    const cases: [string, number[][]][] = [
      [
        'ij,jk->ik',
        [
          [3, 4],
          [4, 2],
        ],
      ],
      [
        'bij,bjk->bik',
        [
          [2, 3, 4],
          [2, 4, 5],
        ],
      ],
      [
        'bij,bkj->bik',
        [
          [2, 3, 4],
          [2, 5, 4],
        ],
      ],
      ['ij->ji', [[3, 4]]],
      ['ij->', [[3, 4]]],
      ['ijk->kj', [[2, 3, 4]]],
      ['i,j->ij', [[3], [4]]],
      [
        'ij,ij->i',
        [
          [3, 4],
          [3, 4],
        ],
      ],
      [
        'ij,ij->',
        [
          [3, 4],
          [3, 4],
        ],
      ],
      [
        'ij,kl->lkji',
        [
          [2, 3],
          [2, 2],
        ],
      ],
      [
        'bhqd,bhkd->bhqk',
        [
          [2, 2, 3, 4],
          [2, 2, 5, 4],
        ],
      ],
      [
        'ijk,jl->lik',
        [
          [2, 3, 2],
          [3, 4],
        ],
      ],
      [
        'ijx,jy->y',
        [
          [2, 3, 2],
          [3, 4],
        ],
      ],
      [
        'ij,jk',
        [
          [3, 4],
          [4, 2],
        ],
      ],
      [
        'ba,cb',
        [
          [3, 4],
          [2, 3],
        ],
      ],
      ['ij', [[3, 4]]],
      ['ji', [[3, 4]]],
    ];
    for (const [spec, shapes] of cases) {
      const g = new Graph();
      const ops = shapes.map((s, k) =>
        arr(
          s,
          rand(
            s.reduce((a, d) => a * d, 1),
            10 + k,
          ),
        ),
      );
      const nodes = ops.map((o, k) => g.input(`x${k}`, o));
      const r = g.run(g.call('einsum', [spec, ...nodes]));
      let full = spec;
      if (!spec.includes('->')) {
        const all = spec.replace(',', '');
        full = `${spec}->${[...new Set(all)]
          .filter((l) => all.indexOf(l) === all.lastIndexOf(l))
          .sort()
          .join('')}`;
      }
      const e = einsumRef(full, ops);
      expect(r.shape, spec).toEqual(e.shape);
      expectClose(r.data, e.data);
    }
  });

  it('einsum with ellipses broadcasts the batch dims', () => {
    const g = new Graph();
    const A = arr([2, 1, 3, 4], rand(24, 3));
    const Bm = arr([5, 4, 2], rand(40, 4));
    const r = g.run(g.call('einsum', ['...ij,...jk->...ik', g.input('a', A), g.input('b', Bm)]));
    expect(r.shape).toEqual([2, 5, 3, 2]);
    expectClose(r.data, einsumRef('aij,bjk->abik', [{ shape: [2, 3, 4], data: A.data }, Bm]).data);
    const g2 = new Graph();
    const s = g2.input('s', arr([2, 3, 4], rand(24, 5)), 'f32', [B, 3, 4]);
    const tr = g2.call('einsum', ['...ij->...ji', s]);
    expect(formatType(tr)).toBe('f32[B, 4, 3]');
    const imp = g2.call('einsum', ['...j,kj', s, g2.input('w', arr([5, 4], rand(20, 6)))]);
    expect(formatType(imp)).toBe('f32[B, 3, 5]');
  });

  it('einsum validation', () => {
    const m = t('f32', [3, 4]);
    expect(check('einsum', ['ii->i', t('f32', [3, 3])])).toBe(
      "index 'i' repeats in term 'ii' (diagonals/traces are not supported)",
    );
    expect(check('einsum', ['ij,jk->ik', m, t('f32', [5, 2])])).toBe(
      "index 'j' has sizes 4 and 5 (f32[3, 4] and f32[5, 2])",
    );
    expect(check('einsum', ['ij,jk->ik', m])).toBe(
      '"ij,jk->ik" has 2 operand term(s) but 1 tensor(s) were given (einsum takes 1 or 2)',
    );
    expect(check('einsum', ['ijk->i', m])).toBe("term 'ijk' has 3 indices but operand 1 is f32[3, 4]");
    expect(check('einsum', ['ij->iz', m])).toBe("output index 'z' does not appear in the inputs");
    expect(check('einsum', ['ij->ii', m])).toBe("output index 'i' repeats");
    expect(check('einsum', ['i1->i', m])).toBe("invalid character '1' in einsum term 'i1'");
    expect(check('einsum', ['ij->i->j', m])).toBe(`'->' appears more than once in "ij->i->j"`);
    expect(check('einsum', ['ij,jk->ik', m, t('i32', [4, 2])])).toBe(
      'dtypes differ: f32[3, 4] and i32[4, 2] (use cast)',
    );
    expect(check('einsum', ['ij, jk -> ik', m, t('f32', [4, B])])).toBeUndefined();
  });
});

// ---- neural references ----

function softmaxRows(x: Arr): number[] {
  const n = x.shape.at(-1)!;
  const out: number[] = [];
  for (let r = 0; r < x.data.length / n; r++) {
    const row = x.data.slice(r * n, r * n + n);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    out.push(...e.map((v) => v / s));
  }
  return out;
}

interface ConvOpts {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

function conv2dRef(x: Arr, w: Arr, o: ConvOpts = {}): Arr {
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const groups = o.groups ?? 1;
  const [N, , H, W] = x.shape as [number, number, number, number];
  const [O, Cg, KH, KW] = w.shape as [number, number, number, number];
  const Ho = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const Wo = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const out: number[] = [];
  for (const [n, oc, i, j] of indices([N, O, Ho, Wo])) {
    const g = Math.floor(oc / (O / groups));
    let acc = 0;
    for (let c = 0; c < Cg; c++)
      for (let ki = 0; ki < KH; ki++)
        for (let kj = 0; kj < KW; kj++) {
          const y = i * sh + ki * dh - ph;
          const xx = j * sw + kj * dw - pw;
          if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
          acc += at(x, [n, g * Cg + c, y, xx]) * at(w, [oc, c, ki, kj]);
        }
    out.push(acc);
  }
  return { shape: [N, O, Ho, Wo], data: out };
}

function poolRef(
  kind: 'max' | 'avg',
  x: Arr,
  size: [number, number],
  stride = size,
  padding: [number, number] = [0, 0],
) {
  const lead = x.shape.slice(0, -2);
  const [H, W] = x.shape.slice(-2) as [number, number];
  const Ho = Math.floor((H + 2 * padding[0] - size[0]) / stride[0]) + 1;
  const Wo = Math.floor((W + 2 * padding[1] - size[1]) / stride[1]) + 1;
  const out: number[] = [];
  for (const c of indices([...lead, Ho, Wo])) {
    const [i, j] = c.slice(-2) as [number, number];
    let acc = kind === 'max' ? -Infinity : 0;
    for (let a = 0; a < size[0]; a++)
      for (let b = 0; b < size[1]; b++) {
        const y = i * stride[0] + a - padding[0];
        const xx = j * stride[1] + b - padding[1];
        if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
        const v = at(x, [...c.slice(0, -2), y, xx]);
        acc = kind === 'max' ? Math.max(acc, v) : acc + v;
      }
    out.push(kind === 'max' ? acc : acc / (size[0] * size[1]));
  }
  return { shape: [...lead, Ho, Wo], data: out };
}

describe('neural', () => {
  it('softmax and log_softmax along any axis, symbolic batch', () => {
    const x = arr([3, 4], rand(12, 7, -3, 3));
    const g = new Graph();
    const n = g.input('x', x, 'f32', [B, 4]);
    const s = g.call('softmax', [n]);
    expect(formatType(s)).toBe('f32[B, 4]');
    expectClose(g.run(s).data, softmaxRows(x));
    expectClose(
      g.run(g.call('log_softmax', [n], { axis: 1 })).data,
      softmaxRows(x).map((v) => Math.log(v)),
    );
    // axis 0: transpose, softmax rows, transpose back
    const xt = arr([4, 3], (f) => at(x, [f % 3, Math.floor(f / 3)]));
    const st = softmaxRows(xt);
    expectClose(
      g.run(g.call('softmax', [n], { axis: 0 })).data,
      x.data.map((_, f) => st[(f % 4) * 3 + Math.floor(f / 4)]!),
    );
    // stable for huge logits
    const h = new Graph();
    const big = h.input('x', arr([2], [1000, 0]));
    expectClose(h.run(h.call('softmax', [big])).data, [1, Math.exp(-1000)]);
    expectClose(h.run(h.call('log_softmax', [big])).data, [0, -1000]);
  });

  it('softmax validation', () => {
    expect(check('softmax', [t('i32', [3])])).toBe('expects f32, got i32[3]');
    expect(check('log_softmax', [t('f32', [B, 3]), 2])).toBe('axis 2 is out of range for f32[B, 3]');
    expect(check('softmax', [t('f32', [])])).toBe('axis -1 is out of range for f32[]');
  });

  it('layer_norm and rms_norm over the last axis', () => {
    const x = arr([3, 5], rand(15, 8, -2, 2));
    const gamma = arr([5], rand(5, 9));
    const beta = arr([5], rand(5, 10));
    const g = new Graph();
    const xn = g.input('x', x, 'f32', [B, 5]);
    const gn = g.input('g', gamma);
    const bn = g.input('b', beta);
    const ln = g.call('layer_norm', [xn, gn, bn]);
    expect(formatType(ln)).toBe('f32[B, 5]');
    const rms = g.call('rms_norm', [xn, gn], { eps: 1e-3 });
    const expLn: number[] = [];
    const expRms: number[] = [];
    for (let r = 0; r < 3; r++) {
      const row = x.data.slice(r * 5, r * 5 + 5);
      const mu = row.reduce((a, v) => a + v, 0) / 5;
      const v = row.reduce((a, c) => a + (c - mu) ** 2, 0) / 5;
      row.forEach((c, i) => expLn.push(((c - mu) / Math.sqrt(v + 1e-5)) * gamma.data[i]! + beta.data[i]!));
      const ms = row.reduce((a, c) => a + c * c, 0) / 5;
      row.forEach((c, i) => expRms.push((c / Math.sqrt(ms + 1e-3)) * gamma.data[i]!));
    }
    expectClose(g.run(ln).data, expLn);
    expectClose(g.run(rms).data, expRms);
    expect(check('layer_norm', [t('f32', [B, 5]), t('f32', [4]), t('f32', [5])])).toBe(
      'gamma f32[4] does not broadcast to x f32[B, 5]',
    );
    expect(check('layer_norm', [t('f32', [B, 5]), t('f32', [5]), t('f32', [2, 5])])).toBe(
      'beta f32[2, 5] does not broadcast to x f32[B, 5]',
    );
    expect(check('rms_norm', [t('f32', [5]), t('i32', [5])])).toBe('gamma: expects f32, got i32[5]');
    expect(check('rms_norm', [t('f32', []), t('f32', [])])).toBe('x must have at least one axis, got f32[]');
  });

  it('dropout: identity outside training; in training zeros or x / (1 - p), two call sites differ', () => {
    const x = arr([2000], () => 2);
    const ev = new Graph();
    const xe = ev.input('x', x);
    expect(ev.call('dropout', [xe, 0.5])).toBe(xe);
    const g = new Graph(true);
    g.inputs.set('@seed', { dtype: 'i32', shape: [], data: new Float64Array([42]) });
    const xn = g.input('x', x);
    const d1 = g.run(g.call('dropout', [xn, 0.25])).data;
    const d2 = g.run(g.call('dropout', [xn, 0.25])).data;
    expect(d1.every((v) => v === 0 || Math.abs(v - 2 / 0.75) < 1e-12)).toBe(true);
    const kept = d1.filter((v) => v !== 0).length / d1.length;
    expect(kept).toBeGreaterThan(0.7);
    expect(kept).toBeLessThan(0.8);
    expect(d1).not.toEqual(d2);
    expect(g.call('dropout', [xn, 0])).toBe(xn);
    expect(check('dropout', [t('f32', [3]), 1])).toBe('p must be in [0, 1), got 1');
    expect(check('dropout', [t('f32', [3]), -0.1])).toBe('p must be in [0, 1), got -0.1');
  });

  it('rand_like: uniform in [0, 1) with the shape of x; key 0 outside training, the step key in it', () => {
    const x = arr([4000], () => 2);
    const ev = new Graph();
    const xe = ev.input('x', x);
    const u1 = ev.run(ev.call('rand_like', [xe])).data;
    const u2 = ev.run(ev.call('rand_like', [xe])).data;
    expect(u1.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(Math.abs(u1.reduce((a, v) => a + v, 0) / u1.length - 0.5)).toBeLessThan(0.02);
    expect(u1).not.toEqual(u2);
    const again = new Graph();
    expect(again.run(again.call('rand_like', [again.input('x', x)])).data).toEqual(u1);
    const g = new Graph(true);
    g.inputs.set('@seed', { dtype: 'i32', shape: [], data: new Float64Array([42]) });
    const tr = g.run(g.call('rand_like', [g.input('x', x)])).data;
    expect(tr).not.toEqual(u1);
  });

  it('conv2d matches a direct loop: stride, padding, dilation, groups, rectangular', () => {
    const configs: [number[], number[], ConvOpts][] = [
      [[1, 1, 4, 4], [1, 1, 3, 3], {}],
      [[2, 3, 5, 6], [4, 3, 3, 2], { stride: [2, 1], padding: [1, 0] }],
      [[1, 2, 7, 7], [3, 2, 3, 3], { dilation: [2, 2], padding: [2, 2] }],
      [[2, 4, 5, 5], [6, 2, 3, 3], { groups: 2, stride: [2, 2], padding: [1, 1] }],
      [[1, 4, 4, 4], [4, 1, 2, 2], { groups: 4 }],
      [[1, 3, 4, 5], [2, 3, 1, 1], {}],
    ];
    for (const [xs, ws, o] of configs) {
      const X = arr(
        xs,
        rand(
          xs.reduce((a, d) => a * d, 1),
          20,
        ),
      );
      const Wt = arr(
        ws,
        rand(
          ws.reduce((a, d) => a * d, 1),
          21,
        ),
      );
      const g = new Graph();
      const kw: Record<string, number[] | number> = {};
      if (o.stride) kw.stride = o.stride;
      if (o.padding) kw.padding = o.padding;
      if (o.dilation) kw.dilation = o.dilation;
      if (o.groups) kw.groups = o.groups;
      const r = g.run(g.call('conv2d', [g.input('x', X), g.input('w', Wt)], kw));
      const e = conv2dRef(X, Wt, o);
      expect(r.shape, JSON.stringify(o)).toEqual(e.shape);
      expectClose(r.data, e.data);
    }
  });

  it('conv2d: single ints, symbolic batch', () => {
    const X = arr([2, 2, 5, 5], rand(100, 22));
    const Wt = arr([3, 2, 3, 3], rand(54, 23));
    const g = new Graph();
    const y = g.call('conv2d', [g.input('x', X, 'f32', [B, 2, 5, 5]), g.input('w', Wt)], { stride: 2, padding: 1 });
    expect(formatType(y)).toBe('f32[B, 3, 3, 3]');
    expectClose(g.run(y).data, conv2dRef(X, Wt, { stride: [2, 2], padding: [1, 1] }).data);
  });

  it('conv2d validation', () => {
    const x = t('f32', [B, 3, 32, 32]);
    expect(check('conv2d', [x, t('f32', [16, 4, 3, 3])])).toBe(
      'x f32[B, 3, 32, 32] has 3 channels but w f32[16, 4, 3, 3] expects 4 (4 per group, groups 1)',
    );
    expect(check('conv2d', [t('f32', [1, 3, 4, 4]), t('f32', [8, 3, 5, 5])])).toBe(
      'kernel 5x5 is larger than the padded input 4x4 (f32[1, 3, 4, 4], padding 0x0)',
    );
    expect(check('conv2d', [t('f32', [1, 3, 4, 4]), t('f32', [8, 3, 3, 3])], { dilation: 2 })).toBe(
      'kernel 3x3 (dilation 2x2) is larger than the padded input 4x4 (f32[1, 3, 4, 4], padding 0x0)',
    );
    expect(check('conv2d', [t('f32', [1, 3, 4, 4]), t('f32', [8, 3, 5, 5])], { padding: 1 })).toBeUndefined();
    expect(check('conv2d', [t('f32', [3, 4, 4]), t('f32', [8, 3, 3, 3])])).toBe(
      'x must be NCHW (rank 4), got f32[3, 4, 4]',
    );
    expect(check('conv2d', [t('f32', [1, 4, 4, 4]), t('f32', [6, 2, 3, 3])], { groups: 4 })).toBe(
      'groups 4 must divide both the input channels (4) and the output channels (6)',
    );
    expect(check('conv2d', [x, t('f32', [16, 3, 3, 3])], { stride: [1, 2, 3] })).toBe(
      'stride must be an int or a list of 2 ints, got [1, 2, 3]',
    );
    expect(check('conv2d', [x, t('f32', [16, 3, 3, 3])], { stride: 0 })).toBe(
      'stride must be positive integers, got [0]',
    );
    expect(check('conv2d', [t('f32', [1, 3, B, 4]), t('f32', [8, 3, 3, 3])])).toBe(
      'height and width must be static, got f32[1, 3, B, 4]',
    );
    expect(check('conv2d', [x, t('i32', [16, 3, 3, 3])])).toBe('w: expects f32, got i32[16, 3, 3, 3]');
  });

  it('max_pool2d and avg_pool2d match a direct loop (padding: -inf / counted zeros)', () => {
    const X = arr([2, 2, 5, 6], rand(120, 30));
    const configs: [[number, number], [number, number] | undefined, [number, number]][] = [
      [[2, 2], undefined, [0, 0]],
      [
        [3, 3],
        [2, 2],
        [1, 1],
      ],
      [
        [2, 3],
        [1, 2],
        [0, 1],
      ],
      [
        [3, 2],
        [3, 1],
        [1, 0],
      ],
    ];
    for (const kind of ['max', 'avg'] as const)
      for (const [size, stride, padding] of configs) {
        const g = new Graph();
        const kw: Record<string, number[]> = { padding };
        if (stride) kw.stride = stride;
        const r = g.run(g.call(`${kind}_pool2d`, [g.input('x', X), size], kw));
        const e = poolRef(kind, X, size, stride ?? size, padding);
        expect(r.shape).toEqual(e.shape);
        expectClose(r.data, e.data);
      }
    // CHW input, a single int size
    const g = new Graph();
    const c = arr([2, 4, 4], rand(32, 31));
    expectClose(g.run(g.call('max_pool2d', [g.input('x', c), 2])).data, poolRef('max', c, [2, 2]).data);
  });

  it('pooling validation', () => {
    expect(check('max_pool2d', [t('f32', [1, 1, 2, 2]), [3]])).toBe(
      'window 3x3 is larger than the padded input 2x2 (f32[1, 1, 2, 2], padding 0x0)',
    );
    expect(check('avg_pool2d', [t('f32', [1, 1, 8, 8]), [2]], { padding: 2 })).toBe(
      'padding 2x2 must be at most half the window 2x2',
    );
    expect(check('max_pool2d', [t('f32', [8, 8]), [2]])).toBe('x must be NCHW (rank 4) or CHW (rank 3), got f32[8, 8]');
    expect(check('max_pool2d', [t('i32', [1, 1, 8, 8]), [2]])).toBe('expects f32, got i32[1, 1, 8, 8]');
    expect(check('max_pool2d', [t('f32', [B, 1, 8, 8]), [2]])).toBeUndefined();
  });
});

describe('losses', () => {
  const p = arr([2, 3], [0.5, -1, 2, 3, 0, -2]);
  const q = arr([2, 3], [1, -1, 0, 1, 2, -2.5]);
  function loss(name: string, a: Arr, c: Arr, kw: Record<string, number> = {}, ct: 'f32' | 'i32' = 'f32') {
    const g = new Graph();
    return g.run(g.call(name, [g.input('p', a), g.input('q', c, ct)], kw));
  }

  it('elementwise losses', () => {
    expectClose(
      loss('mse', p, q).data,
      p.data.map((v, i) => (v - q.data[i]!) ** 2),
    );
    expectClose(
      loss('mae', p, q).data,
      p.data.map((v, i) => Math.abs(v - q.data[i]!)),
    );
    const huber = (d: number, delta: number) =>
      Math.abs(d) <= delta ? 0.5 * d * d : delta * (Math.abs(d) - 0.5 * delta);
    expectClose(
      loss('huber', p, q).data,
      p.data.map((v, i) => huber(v - q.data[i]!, 1)),
    );
    expectClose(
      loss('huber', p, q, { delta: 0.7 }).data,
      p.data.map((v, i) => huber(v - q.data[i]!, 0.7)),
    );
    const tq = arr([2, 3], [1, 0, 0.3, 1, 0, 0.5]);
    const bce = (x: number, y: number) =>
      -(y * Math.log(1 / (1 + Math.exp(-x))) + (1 - y) * Math.log(1 - 1 / (1 + Math.exp(-x))));
    expectClose(
      loss('sigmoid_binary_cross_entropy', p, tq).data,
      p.data.map((v, i) => bce(v, tq.data[i]!)),
      1e-12,
    );
    // broadcasting: the result has the broadcast shape
    expect(loss('mse', p, arr([3], [0, 0, 0])).shape).toEqual([2, 3]);
    // stable for huge logits
    expectClose(loss('sigmoid_binary_cross_entropy', arr([3], [100, -100, 100]), arr([3], [0, 1, 1])).data, [
      100,
      100,
      Math.log1p(Math.exp(-100)),
    ]);
  });

  it('softmax_cross_entropy with class ids and with probabilities', () => {
    const logits = arr([3, 4], rand(12, 40, -3, 3));
    const sm = softmaxRows(logits);
    const ids = arr([3], [2, 0, 3]);
    const r = loss('softmax_cross_entropy', logits, ids, {}, 'i32');
    expect(r.shape).toEqual([3]);
    expectClose(
      r.data,
      [0, 1, 2].map((i) => -Math.log(sm[i * 4 + ids.data[i]!]!)),
    );
    const probs = arr([3, 4], [0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25]);
    const rp = loss('softmax_cross_entropy', logits, probs);
    expectClose(
      rp.data,
      [0, 1, 2].map((i) => -[0, 1, 2, 3].reduce((a, j) => a + probs.data[i * 4 + j]! * Math.log(sm[i * 4 + j]!), 0)),
    );
    // huge logits stay finite
    expectClose(loss('softmax_cross_entropy', arr([1, 2], [1000, 0]), arr([1], [1]), {}, 'i32').data, [1000]);
  });

  it('softmax_cross_entropy keeps a symbolic batch', () => {
    const g = new Graph();
    const l = g.input('l', arr([2, 10], rand(20, 41)), 'f32', [B, 10]);
    const y = g.input('y', arr([2], [3, 9]), 'i32', [B]);
    expect(formatType(g.call('softmax_cross_entropy', [l, y]))).toBe('f32[B]');
  });

  it('loss validation', () => {
    expect(check('mse', [t('f32', [B, 3]), t('f32', [4])])).toBe('shapes f32[B, 3] and f32[4] do not broadcast');
    expect(check('mae', [t('f32', [3]), t('i32', [3])])).toBe('target: expects f32, got i32[3]');
    expect(check('huber', [t('f32', [3]), t('f32', [3]), 0])).toBe('delta must be positive, got 0');
    expect(check('softmax_cross_entropy', [t('f32', [B, 10]), t('i32', [B, 10])])).toBe(
      'labels must be i32 class ids of shape [B] or f32 probabilities of shape [B, 10] for logits f32[B, 10], got i32[B, 10]',
    );
    expect(check('softmax_cross_entropy', [t('f32', [B, 10]), t('f32', [B])])).toBe(
      'labels must be i32 class ids of shape [B] or f32 probabilities of shape [B, 10] for logits f32[B, 10], got f32[B]',
    );
    expect(check('softmax_cross_entropy', [t('f32', []), t('i32', [])])).toBe(
      'logits must have a class axis, got f32[]',
    );
    expect(check('sigmoid_binary_cross_entropy', [t('i32', [3]), t('f32', [3])])).toBe(
      'logits: expects f32, got i32[3]',
    );
  });
});

describe('lowering safety', () => {
  it('every lowering re-validates and produces verified IR', () => {
    const g = new Graph();
    const x = g.input('x', arr([2, 3], rand(6, 50)));
    const nodes: Node[] = [
      g.call('softmax', [x]),
      g.call('matmul', [x, g.call('transpose', [x])]),
      g.call('einsum', ['ij,kj->ik', x, x]),
      g.call('argmax', [x]),
    ];
    verifyNodes(nodes, 'builtins');
    expect(() => g.call('matmul', [x, x])).toThrow('matmul: f32[2, 3] @ f32[2, 3]: inner dimensions 3 and 2 differ');
  });
});

describe('properties (fast-check)', () => {
  it('slices agree with NumPy clamping on every axis', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.option(fc.integer({ min: -9, max: 9 }), { nil: undefined }),
        fc.option(fc.integer({ min: -9, max: 9 }), { nil: undefined }),
        fc.integer({ min: 1, max: 4 }),
        (d, start, end, step) => {
          const g = new Graph();
          const x = g.input(
            'x',
            arr([2, d], (i) => i),
          );
          const r = g.run(
            lowerIndex(g.ctx, x, [
              { kind: 'int', value: -1 },
              { kind: 'slice', start, end, step },
            ]),
          );
          const cl = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
          const expected: number[] = [];
          for (let i = cl(start ?? 0); i < cl(end ?? d); i += step) expected.push(d + i);
          expect(r).toEqual({ shape: [expected.length], data: expected });
        },
      ),
    );
  });

  it('binary ops accept exactly the NumPy-broadcastable shapes', () => {
    const shape = fc.array(fc.constantFrom(1, 2, 3), { maxLength: 3 });
    fc.assert(
      fc.property(shape, shape, (sa, sb) => {
        const n = Math.max(sa.length, sb.length);
        const pad = (s: number[]) => [...Array<number>(n - s.length).fill(1), ...s];
        const [pa, pb] = [pad(sa), pad(sb)];
        const ok = pa.every((d, i) => d === pb[i] || d === 1 || pb[i] === 1);
        const msg = check('add', [t('f32', sa), t('f32', sb)]);
        expect(msg === undefined).toBe(ok);
        if (!ok) return;
        const g = new Graph();
        const r = g.run(
          g.call('add', [
            g.input(
              'a',
              arr(sa, (i) => i),
            ),
            g.input(
              'b',
              arr(sb, (i) => 100 * i),
            ),
          ]),
        );
        const out = pa.map((d, i) => Math.max(d, pb[i]!));
        expect(r.shape).toEqual(out);
        const a = arr(pa, (i) => i);
        const b = arr(pb, (i) => 100 * i);
        const pick = (s: number[], c: number[]) => c.map((v, i) => (s[i] === 1 ? 0 : v));
        expect(r.data).toEqual([...indices(out)].map((c) => at(a, pick(pa, c)) + at(b, pick(pb, c))));
      }),
    );
  });

  it('reshape with -1 infers the missing factor, or explains why not', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.nat(), (dims, k) => {
        const total = dims.reduce((a, d) => a * d, 1);
        const hole = k % dims.length;
        const target = dims.map((d, i) => (i === hole ? -1 : d));
        const g = new Graph();
        const x = g.input(
          'x',
          arr([total], (i) => i),
        );
        expect(g.run(g.call('reshape', [x, target]))).toEqual({ shape: dims, data: iotaList(total) });
        const bad = [...target, 5];
        expect(check('reshape', [t('f32', [total]), bad]) === undefined).toBe(
          total % (5 * (total / dims[hole]!)) === 0,
        );
      }),
    );
    function iotaList(n: number): number[] {
      return Array.from({ length: n }, (_, i) => i);
    }
  });
});
