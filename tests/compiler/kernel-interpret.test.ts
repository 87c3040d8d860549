import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RefTensor, evaluate, randUniform, tensor } from '../../compiler/interpret.js';
import { BINARY_FNS, type BinaryFn, IRBuilder, type Node, UNARY_FNS, type UnaryFn } from '../../compiler/ir.js';
import { vdtype } from '../../compiler/kernel/abi.js';
import { runKernel, runProgram } from '../../compiler/kernel/interpret.js';
import type {
  IBool,
  IExpr,
  Kernel,
  KernelBuffer,
  KernelKind,
  KernelProgram,
  Loop,
  ProgramBuffer,
  Stage,
  Store,
  VExpr,
} from '../../compiler/kernel/kir.js';
import { kernelFlops, kernelTable, printKernel } from '../../compiler/kernel/print.js';
import { type DType, type Dim, sym } from '../../compiler/types.js';

// ---------------------------------------------------------------- builders
// Plain objects, no canonicalisation: the tests run exactly the trees they write.

const ic = (v: number): IExpr => ({ k: 'const', v });
const iv = (name: string): IExpr => ({ k: 'var', name });
const id = (name: string): IExpr => ({ k: 'dim', name });
const iadd = (...xs: IExpr[]): IExpr => xs.reduce((a, b) => ({ k: 'add', a, b }));
const imul = (...xs: IExpr[]): IExpr => xs.reduce((a, b) => ({ k: 'mul', a, b }));
const idiv = (a: IExpr, b: IExpr): IExpr => ({ k: 'div', a, b });
const imod = (a: IExpr, b: IExpr): IExpr => ({ k: 'mod', a, b });
const ile = (a: IExpr, b: IExpr): IBool => ({ k: 'le', a, b });
const iand = (a: IBool, b: IBool): IBool => ({ k: 'and', a, b });
const itrue: IBool = { k: 'true' };

/** Row-major flat index of `idx` in `shape` (dims given as numbers or symbol names). */
function rm(idx: readonly IExpr[], shape: readonly (number | string)[]): IExpr {
  let out: IExpr = idx[0]!;
  for (let i = 1; i < idx.length; i++) {
    const d = shape[i]!;
    out = iadd(imul(out, typeof d === 'number' ? ic(d) : id(d)), idx[i]!);
  }
  return out;
}

const cst = (v: number, dtype: DType = 'f32'): VExpr => ({ k: 'const', v, dtype });
const ld = (buf: number, index: IExpr, dtype: DType = 'f32', valid: IBool = itrue, fill = 0): VExpr => ({
  k: 'load',
  buf,
  index,
  valid,
  fill,
  dtype,
});
const COMPARE: readonly BinaryFn[] = ['lt', 'le', 'eq', 'ne', 'and', 'or'];
const bin = (fn: BinaryFn, a: VExpr, b: VExpr): VExpr => ({
  k: 'binary',
  fn,
  a,
  b,
  dtype: COMPARE.includes(fn) ? 'bool' : vdtype(a),
});
const un = (fn: UnaryFn, x: VExpr): VExpr => ({ k: 'unary', fn, x, dtype: vdtype(x) });
const acc = (n: number, dtype: DType = 'f32'): VExpr => ({ k: 'acc', id: n, dtype });
const scal = (name: string, dtype: DType = 'f32'): VExpr => ({ k: 'scalar', name, dtype });

const loop = (name: string, extent: Dim): Loop => ({ name, extent });
const map = (loops: Loop[], stores: Store[]): Stage => ({ kind: 'map', loops, stores });
const st = (buf: number, index: IExpr, value: VExpr): Store => ({ buf, index, value });

function kernel(
  name: string,
  kind: KernelKind,
  buffers: [number, KernelBuffer['access']][],
  parallel: Loop[],
  stages: Stage[],
  opts: { dims?: string[]; scalars?: string[]; ops?: string[] } = {},
): Kernel {
  return {
    name,
    kind,
    buffers: buffers.map(([i, access]) => ({ id: i, access })),
    dims: opts.dims ?? [],
    scalars: opts.scalars ?? [],
    parallel,
    stages,
    ops: opts.ops ?? [],
  };
}

const buf = (i: number, size: Dim, role: ProgramBuffer['role'], dtype: DType = 'f32'): ProgramBuffer => ({
  id: i,
  dtype,
  size,
  role,
});

function program(
  buffers: ProgramBuffer[],
  kernels: Kernel[],
  outputs: KernelProgram['outputs'],
  opts: { assigns?: KernelProgram['assigns']; scalars?: string[] } = {},
): KernelProgram {
  return { buffers, kernels, outputs, assigns: opts.assigns ?? [], scalars: opts.scalars ?? [] };
}

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

const f32 = (shape: number[], data: number[]) => tensor('f32', shape, data);
const vals = (t: RefTensor | undefined): number[] => [...(t?.data ?? [])];
const run = (
  p: KernelProgram,
  inputs: Record<string, RefTensor>,
  opts: Partial<Parameters<typeof runProgram>[1]> = {},
) => runProgram(p, { inputs: new Map(Object.entries(inputs)), params: new Map(), ...opts });
const out = (name: string, b: number, shape: Dim[], dtype: DType = 'f32') => ({ name, buf: b, shape, dtype });
const B = sym('B');
const T = sym('T');

// ---------------------------------------------------------------- programs

/** out[B, 3] = x[B, 3] + bias[3] (bias broadcast along rows). */
function biasAdd(): KernelProgram {
  const p0 = iv('p0');
  const p1 = iv('p1');
  const k = kernel(
    'k0',
    'elementwise',
    [
      [0, 'read'],
      [1, 'read'],
      [2, 'write'],
    ],
    [loop('p0', B), loop('p1', 3)],
    [map([], [st(2, rm([p0, p1], ['B', 3]), bin('add', ld(0, rm([p0, p1], ['B', 3])), ld(1, p1)))])],
    { dims: ['B'], ops: ['add'] },
  );
  return program(
    [
      buf(0, { coef: 3, syms: ['B'] }, { kind: 'input', name: 'x' }),
      buf(1, 3, { kind: 'param', name: 'bias' }),
      buf(2, { coef: 3, syms: ['B'] }, { kind: 'output', name: 'y' }),
    ],
    [k],
    [out('y', 2, [B, 3])],
  );
}

/** y[r, :] = softmax(x[r, :]) for x f32[R, 5]: two reduce stages and a map stage. */
function softmax(rows: Dim = 2): KernelProgram {
  const p0 = iv('p0');
  const x = (j: string) => ld(0, rm([p0, iv(j)], ['R', 5]));
  const e = (j: string) => un('exp', bin('sub', x(j), acc(0)));
  const k = kernel(
    'k0',
    'rowwise',
    [
      [0, 'read'],
      [1, 'write'],
    ],
    [loop('p0', rows)],
    [
      { kind: 'reduce', loops: [loop('r0', 5)], accs: [{ id: 0, fn: 'max', dtype: 'f32', value: x('r0') }] },
      { kind: 'reduce', loops: [loop('r1', 5)], accs: [{ id: 1, fn: 'sum', dtype: 'f32', value: e('r1') }] },
      map([loop('m0', 5)], [st(1, rm([p0, iv('m0')], ['R', 5]), bin('div', e('m0'), acc(1)))]),
    ],
    { dims: typeof rows === 'number' ? [] : ['R'], ops: ['reduce_max', 'sub', 'exp', 'reduce_sum', 'div'] },
  );
  const size = typeof rows === 'number' ? rows * 5 : { coef: 5, syms: ['R'] };
  return program(
    [buf(0, size, { kind: 'input', name: 'x' }), buf(1, size, { kind: 'output', name: 'y' })],
    [k],
    [out('y', 1, [rows, 5])],
  );
}

/** c[2, 4] = a[2, 3] @ b[3, 4]. */
function matmul(): KernelProgram {
  const [p0, p1, r0] = [iv('p0'), iv('p1'), iv('r0')];
  const k = kernel(
    'mm',
    'matmul',
    [
      [0, 'read'],
      [1, 'read'],
      [2, 'write'],
    ],
    [loop('p0', 2), loop('p1', 4)],
    [
      {
        kind: 'reduce',
        loops: [loop('r0', 3)],
        accs: [
          {
            id: 7,
            fn: 'sum',
            dtype: 'f32',
            value: bin('mul', ld(0, rm([p0, r0], [2, 3])), ld(1, rm([r0, p1], [3, 4]))),
          },
        ],
      },
      map([], [st(2, rm([p0, p1], [2, 4]), acc(7))]),
    ],
    { ops: ['matmul'] },
  );
  return program(
    [
      buf(0, 6, { kind: 'input', name: 'a' }),
      buf(1, 12, { kind: 'input', name: 'b' }),
      buf(2, 8, { kind: 'output', name: 'c' }),
    ],
    [k],
    [out('c', 2, [2, 4])],
  );
}

/** A one-kernel elementwise program over n elements: out = f(a, b). */
function elementwise(n: number, types: [DType, DType], f: (a: VExpr, b: VExpr) => VExpr): KernelProgram {
  const i = iv('i');
  const value = f(ld(0, i, types[0]), ld(1, i, types[1]));
  const k = kernel(
    'ew',
    'elementwise',
    [
      [0, 'read'],
      [1, 'read'],
      [2, 'write'],
    ],
    [loop('i', n)],
    [map([], [st(2, i, value)])],
  );
  return program(
    [
      buf(0, n, { kind: 'input', name: 'a' }, types[0]),
      buf(1, n, { kind: 'input', name: 'b' }, types[1]),
      buf(2, n, { kind: 'output', name: 'y' }, vdtype(value)),
    ],
    [k],
    [out('y', 2, [n], vdtype(value))],
  );
}

/** Runs a single kernel over the given buffers (dims/scalars bound as given). */
function runOne(
  k: Kernel,
  buffers: Float64Array[],
  dims: Record<string, number> = {},
  scalars: Record<string, number> = {},
) {
  runKernel(k, buffers, { dims: new Map(Object.entries(dims)), scalars: new Map(Object.entries(scalars)) });
  return buffers;
}

// ---------------------------------------------------------------- tests

describe('runProgram', () => {
  it('elementwise with a broadcast load; B derived from the input size', () => {
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    const params = new Map([['bias', f32([3], [10, 20, 30])]]);
    const r = runProgram(biasAdd(), { inputs: new Map([['x', x]]), params });
    expect(r.get('y')!.shape).toEqual([2, 3]);
    expect(vals(r.get('y'))).toEqual([11, 22, 33, 14, 25, 36]);
    expect(vals(x)).toEqual([1, 2, 3, 4, 5, 6]); // inputs are copied, never written
  });

  it('explicit dims win, and a size that does not divide is an error', () => {
    const params = new Map([['bias', f32([3], [0, 0, 0])]]);
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(() => runProgram(biasAdd(), { inputs: new Map([['x', x]]), params, dims: new Map([['B', 3]]) })).toThrow(
      /input 'x': expected f32 with 9 elements/,
    );
    const bad = f32([7], [1, 2, 3, 4, 5, 6, 7]);
    expect(() => runProgram(biasAdd(), { inputs: new Map([['x', bad]]), params })).toThrow(/dim 'B'/);
    expect(() => runProgram(biasAdd(), { inputs: new Map(), params })).toThrow(/missing input 'x'/);
  });

  it('symbolic dims bound through products (B*T after T)', () => {
    // y[B, T] = x[B, T] * s[T]; x is listed first, so B is bound on the second pass.
    const [p0, p1] = [iv('p0'), iv('p1')];
    const flat = rm([p0, p1], ['B', 'T']);
    const k = kernel(
      'k0',
      'elementwise',
      [
        [0, 'read'],
        [1, 'read'],
        [2, 'write'],
      ],
      [loop('p0', B), loop('p1', T)],
      [map([], [st(2, flat, bin('mul', ld(0, flat), ld(1, p1)))])],
      { dims: ['B', 'T'] },
    );
    const bt = { coef: 1, syms: ['B', 'T'] };
    const p = program(
      [
        buf(0, bt, { kind: 'input', name: 'x' }),
        buf(1, T, { kind: 'input', name: 's' }),
        buf(2, bt, { kind: 'output', name: 'y' }),
      ],
      [k],
      [out('y', 2, [B, T])],
    );
    const r = run(p, { x: f32([2, 3], [1, 2, 3, 4, 5, 6]), s: f32([3], [1, 10, 100]) });
    expect(r.get('y')!.shape).toEqual([2, 3]);
    expect(vals(r.get('y'))).toEqual([1, 20, 300, 4, 50, 600]);
  });

  it('a padded load reads the fill outside its valid range', () => {
    // y[5] = 2 * pad(x[3], [1, 1], -7)
    const i = iv('i');
    const valid = iand(ile(ic(1), i), ile(i, ic(3)));
    const k = kernel(
      'pad',
      'elementwise',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [loop('i', 5)],
      [map([], [st(1, i, bin('mul', ld(0, iadd(i, ic(-1)), 'f32', valid, -7), cst(2)))])],
    );
    const p = program(
      [buf(0, 3, { kind: 'input', name: 'x' }), buf(1, 5, { kind: 'output', name: 'y' })],
      [k],
      [out('y', 1, [5])],
    );
    expect(vals(run(p, { x: f32([3], [1, 2, 3]) }).get('y'))).toEqual([-14, 2, 4, 6, -14]);
  });

  it('a reduction with an epilogue (shared load evaluated once per point)', () => {
    // y[B] = sqrt(sum_j x[b, j]^2), x * x being one shared load node
    const p0 = iv('p0');
    const x = ld(0, rm([p0, iv('r0')], ['B', 4]));
    const k = kernel(
      'norm',
      'reduce',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [loop('p0', B)],
      [
        { kind: 'reduce', loops: [loop('r0', 4)], accs: [{ id: 3, fn: 'sum', dtype: 'f32', value: bin('mul', x, x) }] },
        map([], [st(1, p0, un('sqrt', acc(3)))]),
      ],
      { dims: ['B'] },
    );
    const p = program(
      [buf(0, { coef: 4, syms: ['B'] }, { kind: 'input', name: 'x' }), buf(1, B, { kind: 'output', name: 'y' })],
      [k],
      [out('y', 1, [B])],
    );
    const r = run(p, { x: f32([2, 4], [1, 2, 2, 4, 3, 0, 4, 0]) });
    expect(vals(r.get('y'))).toEqual([5, 5]);
  });

  it('a rowwise softmax: reduce (max), reduce (sum of exp), map', () => {
    const data = [1, 2, 3, 4, 5, -1, 0, 1000, 0.5, 2];
    const y = vals(run(softmax(), { x: f32([2, 5], data) }).get('y'));
    for (let r = 0; r < 2; r++) {
      const row = data.slice(r * 5, r * 5 + 5);
      const m = Math.max(...row);
      const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
      row.forEach((v, j) => expect(y[r * 5 + j]).toBeCloseTo(Math.exp(v - m) / s, 15));
    }
  });

  it('a matmul-shaped kernel: parallel [m, n], reduce over k', () => {
    const a = [1, 2, 3, 4, 5, 6];
    const b = [1, 0, -1, 2, 0.5, 1, 3, -2, 7, 1, 0, 4];
    const c = vals(run(matmul(), { a: f32([2, 3], a), b: f32([3, 4], b) }).get('c'));
    const want: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++) want.push([0, 1, 2].reduce((s, t) => s + a[i * 3 + t]! * b[t * 4 + j]!, 0));
    expect(c).toEqual(want);
  });

  it('a gather through a data-dependent index, clamped into range', () => {
    // y[3, 2] = table[clamp(idx[i], 4), j]
    const [p0, p1] = [iv('p0'), iv('p1')];
    const row: IExpr = { k: 'value', x: ld(1, p0, 'i32'), hi: ic(4) };
    const k = kernel(
      'gather',
      'elementwise',
      [
        [0, 'read'],
        [1, 'read'],
        [2, 'write'],
      ],
      [loop('p0', 3), loop('p1', 2)],
      [map([], [st(2, rm([p0, p1], [3, 2]), ld(0, rm([row, p1], [4, 2])))])],
    );
    const p = program(
      [
        buf(0, 8, { kind: 'param', name: 'table' }),
        buf(1, 3, { kind: 'input', name: 'idx' }, 'i32'),
        buf(2, 6, { kind: 'output', name: 'y' }),
      ],
      [k],
      [out('y', 2, [3, 2])],
    );
    const params = new Map([['table', f32([4, 2], [0, 1, 10, 11, 20, 21, 30, 31])]]);
    const r = runProgram(p, { inputs: new Map([['idx', tensor('i32', [3], [2, -5, 9])]]), params });
    expect(vals(r.get('y'))).toEqual([20, 21, 0, 1, 30, 31]);
  });

  it('an in-place param update with a runtime scalar; the caller’s tensor is replaced, not mutated', () => {
    // w <- w - @lr * g, written in place (readwrite); also outputs w's new value.
    const i = iv('i');
    const k = kernel(
      'sgd',
      'elementwise',
      [
        [0, 'readwrite'],
        [1, 'read'],
      ],
      [loop('i', 3)],
      [map([], [st(0, i, bin('sub', ld(0, i), bin('mul', scal('@lr'), ld(1, i))))])],
      { scalars: ['@lr'] },
    );
    const p = program(
      [buf(0, 3, { kind: 'param', name: 'w' }), buf(1, 3, { kind: 'input', name: 'g' })],
      [k],
      [out('w_new', 0, [3])],
      { assigns: [{ target: 'w', buf: 0 }], scalars: ['@lr'] },
    );
    const w0 = f32([3], [1, 2, 3]);
    const params = new Map([['w', w0]]);
    const g = f32([3], [10, 20, 30]);
    const r = runProgram(p, { inputs: new Map([['g', g]]), params, scalars: new Map([['@lr', 0.5]]) });
    expect(vals(params.get('w'))).toEqual([-4, -8, -12]);
    expect(params.get('w')!.shape).toEqual([3]);
    expect(vals(r.get('w_new'))).toEqual([-4, -8, -12]);
    expect(vals(w0)).toEqual([1, 2, 3]);
    // The scalar may also come as a rank-0 input tensor of the same name.
    runProgram(p, {
      inputs: new Map([
        ['g', g],
        ['@lr', tensor('f32', [], [0.1])],
      ]),
      params,
    });
    expect(vals(params.get('w'))[0]).toBeCloseTo(-5, 12);
    expect(() => runProgram(p, { inputs: new Map([['g', g]]), params })).toThrow(/missing scalar '@lr'/);
  });

  it('assigns from a separate buffer', () => {
    const i = iv('i');
    const k = kernel(
      'k',
      'elementwise',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [loop('i', 2)],
      [map([], [st(1, i, bin('add', ld(0, i), cst(1)))])],
    );
    const p = program([buf(0, 2, { kind: 'param', name: 'w' }), buf(1, 2, { kind: 'temp' })], [k], [], {
      assigns: [{ target: 'w', buf: 1 }],
    });
    const params = new Map([['w', f32([2], [5, 6])]]);
    expect(runProgram(p, { inputs: new Map(), params }).size).toBe(0);
    expect(vals(params.get('w'))).toEqual([6, 7]);
  });

  it('kernels run in order and communicate through temps', () => {
    // t = x * 2 (k0), y = t + x (k1)
    const i = iv('i');
    const k0 = kernel(
      'k0',
      'elementwise',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [loop('i', 3)],
      [map([], [st(1, i, bin('mul', ld(0, i), cst(2)))])],
    );
    const k1 = kernel(
      'k1',
      'elementwise',
      [
        [1, 'read'],
        [0, 'read'],
        [2, 'write'],
      ],
      [loop('i', 3)],
      [map([], [st(2, i, bin('add', ld(0, i), ld(1, i)))])],
    );
    const p = program(
      [buf(0, 3, { kind: 'input', name: 'x' }), buf(1, 3, { kind: 'temp' }), buf(2, 3, { kind: 'output', name: 'y' })],
      [k0, k1],
      [out('y', 2, [3])],
    );
    expect(vals(run(p, { x: f32([3], [1, 2, 3]) }).get('y'))).toEqual([3, 6, 9]);
  });
});

describe('semantics match the reference interpreter', () => {
  const F = [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 3.7, -3.7, 1e-20, 1e30, NaN, Infinity, -Infinity];
  const I = [0, 1, -1, 2, -2, 7, -7, 3, 31, I32_MAX, I32_MIN, 65536];

  /** The reference result of `f` on input vectors a, b. */
  function reference(types: [DType, DType], a: number[], b: number[], f: (bld: IRBuilder, x: Node, y: Node) => Node) {
    const bld = new IRBuilder();
    const x = bld.input('a', { dtype: types[0], shape: [a.length] });
    const y = bld.input('b', { dtype: types[1], shape: [b.length] });
    const ins = new Map([
      ['a', tensor(types[0], [a.length], a)],
      ['b', tensor(types[1], [b.length], b)],
    ]);
    return vals(evaluate([f(bld, x, y)], { inputs: ins, params: new Map() })[0]);
  }

  function kernelResult(types: [DType, DType], a: number[], b: number[], f: (x: VExpr, y: VExpr) => VExpr) {
    const ins = { a: tensor(types[0], [a.length], a), b: tensor(types[1], [b.length], b) };
    return vals(run(elementwise(a.length, types, f), ins).get('y'));
  }

  const pairs = (xs: number[]) => [xs.flatMap((x) => xs.map(() => x)), xs.flatMap(() => xs)] as const;

  const unaryOk = (fn: UnaryFn, t: DType) =>
    fn === 'not' ? t === 'bool' : fn === 'neg' || fn === 'abs' ? t !== 'bool' : t === 'f32';

  for (const t of ['f32', 'i32', 'bool'] as const) {
    const data = t === 'f32' ? F : t === 'i32' ? I : [0, 1, 1, 0];
    for (const fn of UNARY_FNS.filter((u) => unaryOk(u, t)))
      it(`unary ${fn} on ${t}`, () => {
        const want = reference([t, t], data, data, (bld, x) => bld.unary(fn, x));
        expect(kernelResult([t, t], data, data, (x) => un(fn, x))).toEqual(want);
      });
  }

  const binaryOk = (fn: BinaryFn, t: DType) =>
    fn === 'and' || fn === 'or' ? t === 'bool' : fn === 'eq' || fn === 'ne' || t !== 'bool';
  for (const t of ['f32', 'i32', 'bool'] as const) {
    const [a, b] = pairs(t === 'f32' ? F : t === 'i32' ? I : [0, 1]);
    for (const fn of BINARY_FNS.filter((f) => binaryOk(f, t)))
      it(`binary ${fn} on ${t}`, () => {
        const want = reference([t, t], a, b, (bld, x, y) => bld.binary(fn, x, y));
        expect(kernelResult([t, t], a, b, (x, y) => bin(fn, x, y))).toEqual(want);
      });
  }

  it('i32 binary ops on random operands (property)', () => {
    const i32 = fc.integer({ min: I32_MIN, max: I32_MAX });
    const fns = BINARY_FNS.filter((f) => binaryOk(f, 'i32'));
    fc.assert(
      fc.property(fc.array(fc.tuple(i32, i32), { minLength: 1, maxLength: 8 }), fc.constantFrom(...fns), (xs, fn) => {
        const a = xs.map((x) => x[0]);
        const b = xs.map((x) => x[1]);
        const want = reference(['i32', 'i32'], a, b, (bld, x, y) => bld.binary(fn, x, y));
        expect(kernelResult(['i32', 'i32'], a, b, (x, y) => bin(fn, x, y))).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  for (const [from, to] of [
    ['f32', 'i32'],
    ['f32', 'bool'],
    ['i32', 'f32'],
    ['i32', 'bool'],
    ['bool', 'f32'],
    ['bool', 'i32'],
  ] as const)
    it(`cast ${from} -> ${to}`, () => {
      const data = from === 'f32' ? [...F, 3e9, -3e9, 2147483647.5] : from === 'i32' ? I : [0, 1];
      const want = reference([from, from], data, data, (bld, x) => bld.cast(x, to));
      expect(kernelResult([from, from], data, data, (x) => ({ k: 'cast', x, dtype: to }))).toEqual(want);
    });

  it('where selects on a bool', () => {
    const c = [1, 0, 1, 0];
    const a = [1, 2, NaN, 4];
    const got = kernelResult(['bool', 'f32'], c, a, (x, y) => ({ k: 'where', c: x, a: y, b: cst(-1), dtype: 'f32' }));
    expect(got).toEqual([1, -1, NaN, -1]);
  });

  it('rand is the reference counter-based generator', () => {
    const i = iv('i');
    const k = kernel(
      'rand',
      'elementwise',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [loop('i', 16)],
      [map([], [st(1, i, { k: 'rand', key: ld(0, ic(0), 'i32'), salt: 5, i })])],
    );
    const [, y] = runOne(k, [new Float64Array([1234]), new Float64Array(16)]);
    expect([...y!]).toEqual(Array.from({ length: 16 }, (_, j) => randUniform(1234, 5, j)));
  });

  it('index values are i32 (iota)', () => {
    const [p0, p1] = [iv('p0'), iv('p1')];
    const k = kernel(
      'iota',
      'elementwise',
      [[0, 'write']],
      [loop('p0', 2), loop('p1', 3)],
      [map([], [st(0, rm([p0, p1], [2, 3]), { k: 'index', i: iadd(p1, imul(p0, ic(10))) })])],
    );
    expect([...runOne(k, [new Float64Array(6)])[0]!]).toEqual([0, 1, 2, 10, 11, 12]);
    // Index division floors and modulo is floored, also for negative dividends.
    const i = iv('i');
    const shifted = iadd(i, ic(-3));
    const k2 = kernel(
      'divmod',
      'elementwise',
      [[0, 'write']],
      [loop('i', 6)],
      [
        map(
          [],
          [
            st(0, i, { k: 'index', i: idiv(shifted, ic(2)) }),
            st(0, iadd(i, ic(6)), { k: 'index', i: imod(shifted, ic(4)) }),
          ],
        ),
      ],
    );
    expect([...runOne(k2, [new Float64Array(12)])[0]!]).toEqual([-2, -1, -1, 0, 0, 1, 1, 2, 3, 0, 1, 2]);
  });
});

describe('reductions', () => {
  /** acc = fn over x[0..n) (extent may be 0), stored to y[0]. */
  function fold(fn: 'sum' | 'prod' | 'max' | 'min', dtype: DType, data: number[]): number {
    const k = kernel(
      'red',
      'reduce',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [],
      [
        { kind: 'reduce', loops: [loop('r', data.length)], accs: [{ id: 0, fn, dtype, value: ld(0, iv('r'), dtype) }] },
        map([], [st(1, ic(0), acc(0, dtype))]),
      ],
    );
    return runOne(k, [new Float64Array(data), new Float64Array(1)])[1]![0]!;
  }

  it('identities over an empty loop', () => {
    expect(fold('sum', 'f32', [])).toBe(0);
    expect(fold('prod', 'f32', [])).toBe(1);
    expect(fold('max', 'f32', [])).toBe(-Infinity);
    expect(fold('min', 'f32', [])).toBe(Infinity);
    expect(fold('max', 'i32', [])).toBe(I32_MIN);
    expect(fold('min', 'i32', [])).toBe(I32_MAX);
  });

  it('max/min propagate NaN; i32 sum and prod wrap', () => {
    expect(fold('max', 'f32', [1, NaN, 3])).toBeNaN();
    expect(fold('min', 'f32', [NaN, -1])).toBeNaN();
    expect(fold('sum', 'i32', [I32_MAX, 1])).toBe(I32_MIN);
    expect(fold('prod', 'i32', [65536, 65536])).toBe(0);
    expect(fold('sum', 'f32', [0.5, 0.25, 2])).toBe(2.75);
  });

  it('the accumulators of one stage fold independently; later stages see them', () => {
    const x = ld(0, iv('r'));
    const k = kernel(
      'two',
      'reduce',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [],
      [
        {
          kind: 'reduce',
          loops: [loop('r', 4)],
          accs: [
            { id: 0, fn: 'sum', dtype: 'f32', value: x },
            { id: 1, fn: 'max', dtype: 'f32', value: x },
          ],
        },
        {
          kind: 'reduce',
          loops: [loop('s', 4)],
          accs: [{ id: 2, fn: 'sum', dtype: 'f32', value: bin('sub', ld(0, iv('s')), acc(0)) }],
        },
        map([], [st(1, ic(0), acc(0)), st(1, ic(1), acc(1)), st(1, ic(2), acc(2))]),
      ],
    );
    expect([...runOne(k, [new Float64Array([1, 4, 2, 3]), new Float64Array(3)])[1]!]).toEqual([10, 4, 10 - 40]);
  });

  it('a deep DAG of shared subtrees is evaluated once per node per point', () => {
    // v_{n+1} = v_n + v_n, 200 times: 2^200 evaluations without sharing.
    let v: VExpr = ld(0, iv('i'));
    for (let j = 0; j < 200; j++) v = bin('add', v, v);
    const k = kernel(
      'deep',
      'elementwise',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [loop('i', 3)],
      [map([], [st(1, iv('i'), v)])],
    );
    const y = runOne(k, [new Float64Array([1, -1, 0.5]), new Float64Array(3)])[1]!;
    expect([...y]).toEqual([2 ** 200, -(2 ** 200), 2 ** 199]);
  });
});

describe('planner bugs are errors', () => {
  const i = iv('i');
  const copy = (index: IExpr, extent: Dim = 3, opts: Parameters<typeof kernel>[5] = {}) =>
    kernel(
      'kbad',
      'elementwise',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [loop('i', extent)],
      [map([], [st(1, i, ld(0, index))])],
      opts,
    );
  const bufs = () => [new Float64Array(3), new Float64Array(3)];

  it('out-of-bounds loads and stores name the kernel, buffer and index', () => {
    expect(() => runOne(copy(iadd(i, ic(1))), bufs())).toThrow(
      /kernel kbad: stage 0 \(map\): load from slot 0 \(b0\) at index 3 out of bounds \[0, 3\)/,
    );
    expect(() => runOne(copy(i, 4), bufs())).toThrow(/kernel kbad: .*load from slot 0 \(b0\) at index 3/);
    const k = kernel('kst', 'elementwise', [[0, 'write']], [loop('i', 2)], [map([], [st(0, iadd(i, ic(-1)), cst(1))])]);
    expect(() => runOne(k, [new Float64Array(2)])).toThrow(
      /kernel kst: .*store to slot 0 \(b0\) at index -1 out of bounds/,
    );
  });

  it('runProgram names the buffer in bounds errors', () => {
    const p = program(
      [buf(0, 3, { kind: 'input', name: 'x' }), buf(1, 3, { kind: 'output', name: 'y' })],
      [copy(iadd(i, ic(1)))],
      [out('y', 1, [3])],
    );
    expect(() => run(p, { x: f32([3], [1, 2, 3]) })).toThrow(/slot 0 \(b0 x\) at index 3/);
  });

  it('access modes are enforced', () => {
    const k = kernel(
      'kacc',
      'elementwise',
      [
        [0, 'write'],
        [1, 'write'],
      ],
      [loop('i', 3)],
      [map([], [st(1, i, ld(0, i))])],
    );
    expect(() => runOne(k, bufs())).toThrow(/loads from write-only slot 0/);
    const k2 = kernel(
      'kacc',
      'elementwise',
      [
        [0, 'read'],
        [1, 'read'],
      ],
      [loop('i', 3)],
      [map([], [st(1, i, ld(0, i))])],
    );
    expect(() => runOne(k2, bufs())).toThrow(/stores to read-only slot 1/);
  });

  it('undeclared dims and scalars, unbound ones, and names out of scope', () => {
    expect(() => runOne(copy(imod(i, id('N')), 3), bufs(), { N: 3 })).toThrow(/uses dim 'N' it does not declare/);
    expect(() => runOne(copy(i, sym('N')), bufs(), { N: 3 })).toThrow(/uses dim 'N' it does not declare/);
    expect(() => runOne(copy(imod(i, id('N')), 3, { dims: ['N'] }), bufs())).toThrow(/dim 'N' is not bound/);
    expect(runOne(copy(imod(iadd(i, ic(4)), id('N')), 3, { dims: ['N'] }), bufs(), { N: 3 })).toHaveLength(2);
    const k = kernel('ks', 'elementwise', [[0, 'write']], [loop('i', 3)], [map([], [st(0, i, scal('@lr'))])]);
    expect(() => runOne(k, [new Float64Array(3)], {}, { '@lr': 1 })).toThrow(/uses scalar '@lr' it does not declare/);
    expect(() => runOne(copy(iv('j')), bufs())).toThrow(/loop variable 'j' is not in scope/);
    const late = kernel(
      'kacc',
      'reduce',
      [[0, 'write']],
      [],
      [
        { kind: 'reduce', loops: [loop('r', 2)], accs: [{ id: 0, fn: 'sum', dtype: 'f32', value: acc(0) }] },
        map([], [st(0, ic(0), acc(0))]),
      ],
    );
    expect(() => runOne(late, [new Float64Array(1)])).toThrow(/accumulator 0 is not computed by an earlier stage/);
    const red: Stage = {
      kind: 'reduce',
      loops: [loop('r', 2)],
      accs: [{ id: 5, fn: 'sum', dtype: 'f32', value: cst(1) }],
    };
    const twice = kernel('k2', 'reduce', [[0, 'write']], [], [red, red, map([], [st(0, ic(0), acc(5))])]);
    expect(() => runOne(twice, [new Float64Array(1)])).toThrow(/stage 1 \(reduce\): accumulator 5 is defined twice/);
    // A stage loop variable is not visible in the next stage.
    const leak = kernel(
      'kleak',
      'reduce',
      [
        [0, 'read'],
        [1, 'write'],
      ],
      [],
      [
        { kind: 'reduce', loops: [loop('r', 2)], accs: [{ id: 0, fn: 'sum', dtype: 'f32', value: ld(0, iv('r')) }] },
        map([], [st(1, iv('r'), acc(0))]),
      ],
    );
    expect(() => runOne(leak, bufs())).toThrow(/stage 1 \(map\): loop variable 'r' is not in scope/);
  });
});

describe('printKernel and kernelTable', () => {
  it('prints a softmax with let-bound shared subtrees', () => {
    const p = softmax(sym('R'));
    expect(printKernel(p.kernels[0]!, p)).toBe(SOFTMAX_TEXT);
  });

  it('counts FLOPs per stage times iterations', () => {
    // Per row: 5 max folds; 5 * (sub, exp, fold); 5 * (sub, exp, div): a shared node counts once per stage.
    const p = softmax(sym('R'));
    expect(kernelTable(p)).toBe(
      [
        '  kernel  kind     ops                        inputs  outputs  flops  read  written',
        '  k0      rowwise  reduce_max, sub, exp (+2)  x       y        35*R   20*R  20*R',
        '1 kernel: 35*R flops, 20*R bytes read, 20*R bytes written',
        '',
      ].join('\n'),
    );
    expect(kernelTable(p, new Map([['R', 4]]))).toContain('1 kernel: 140 flops, 80 bytes read, 80 bytes written');
    expect(kernelFlops(matmul().kernels[0]!)).toEqual([{ coef: 48, syms: [] }]);
  });

  it('prints gathers, padding, scalars and multiple stores', () => {
    const [p0] = [iv('p0')];
    const idx = ld(1, p0, 'i32');
    const row: IExpr = { k: 'value', x: idx, hi: id('V') };
    const k = kernel(
      'k1',
      'elementwise',
      [
        [0, 'read'],
        [1, 'read'],
        [2, 'write'],
      ],
      [loop('p0', B)],
      [
        map(
          [],
          [
            st(2, p0, bin('mul', ld(0, row, 'f32', ile(ic(1), p0), 0), scal('@lr'))),
            st(2, iadd(p0, id('B')), { k: 'cast', x: un('neg', bin('add', idx, cst(1, 'i32'))), dtype: 'f32' }),
          ],
        ),
      ],
      { dims: ['B', 'V'], scalars: ['@lr'], ops: ['gather', 'mul'] },
    );
    const p = program(
      [
        buf(0, sym('V'), { kind: 'param', name: 'emb' }),
        buf(1, B, { kind: 'input', name: 'ids' }, 'i32'),
        buf(2, { coef: 2, syms: ['B'] }, { kind: 'temp' }),
      ],
      [k],
      [],
    );
    expect(printKernel(k, p)).toBe(
      [
        'kernel k1 elementwise',
        '  ops: gather, mul',
        '  buffers: b0 param emb (read), b1 input ids (read), b2 temp (write)',
        '  dims: B, V; scalars: @lr',
        '  for p0 in 0..B:',
        '    map:',
        '      let v0 = b1[p0]',
        '      b2[p0] = (1 <= p0 ? b0[clamp(v0, V)] : 0) * @lr',
        '      b2[p0 + B] = f32(-(v0 + 1))',
        '',
      ].join('\n'),
    );
  });
});

describe('printKernel constants', () => {
  it('marks f32 constants with a decimal point, keeps i32 and bool plain', () => {
    const value: VExpr = {
      k: 'where',
      c: cst(1, 'bool'),
      a: bin('add', bin('add', cst(2), cst(-0)), bin('mul', cst(3.4028234663852886e38), cst(0.5))),
      b: { k: 'cast', x: bin('sub', cst(7, 'i32'), cst(-1, 'i32')), dtype: 'f32' },
      dtype: 'f32',
    };
    const k = kernel('kc', 'elementwise', [[0, 'write']], [], [map([], [st(0, ic(0), un('exp', value))])]);
    const p = program([buf(0, 1, { kind: 'temp' })], [k], []);
    expect(printKernel(k, p).split('\n')[2]).toBe(
      '  map: b0[0] = exp(where(true, 2.0 + -0.0 + 3.4028234663852886e+38 * 0.5, f32(7 - -1)))',
    );
  });
});

const SOFTMAX_TEXT = [
  'kernel k0 rowwise',
  '  ops: reduce_max, sub, exp, reduce_sum, div',
  '  buffers: b0 input x (read), b1 output y (write)',
  '  dims: R',
  '  for p0 in 0..R:',
  '    reduce r0 in 0..5: acc0 = max(acc0, b0[p0*5 + r0])',
  '    reduce r1 in 0..5: acc1 += exp(b0[p0*5 + r1] - acc0)',
  '    map m0 in 0..5: b1[p0*5 + m0] = exp(b0[p0*5 + m0] - acc0) / acc1',
  '',
].join('\n');
