// Gradients of the decomposition table: every differentiable builtin
// against central finite differences in float64 (tests/helpers/finite-diff),
// exact gradients at kinks and ties, and gradients of gradients.

import { describe, expect, it } from 'vitest';
import type { LowerContext, StaticValue } from '../../compiler/builtin.js';
import { gradients } from '../../compiler/autodiff.js';
import { type IndexSpec, lowerIndex } from '../../compiler/decompose.js';
import { evaluate, tensor } from '../../compiler/interpret.js';
import { IRBuilder, type Node } from '../../compiler/ir.js';
import { type DType, type Shape } from '../../compiler/types.js';
import { type GradCheckOptions, checkGradients } from '../helpers/finite-diff.js';
import { type Arr, B, arr, call, makeCtx, rand } from './builtins-harness.js';

interface In {
  readonly a: Arr;
  readonly dtype?: DType;
  /** The declared (possibly symbolic) shape. */
  readonly declared?: Shape;
}

type Build = (ctx: LowerContext, x: Record<string, Node>) => Node;

/** Checks d(loss)/d(every f32 input) against finite differences. */
function gradCheck(ins: Record<string, In>, f: Build, opts: GradCheckOptions & { training?: boolean } = {}) {
  const inputs = Object.fromEntries(
    Object.entries(ins).map(([k, v]) => [k, tensor(v.dtype ?? 'f32', v.a.shape, v.a.data)]),
  );
  if (opts.training) inputs['@seed'] = tensor('i32', [], [1234]);
  return checkGradients(
    (b) => {
      const ctx = makeCtx(b, opts.training ?? false);
      const nodes: Record<string, Node> = {};
      const wrt: Node[] = [];
      for (const [name, v] of Object.entries(ins)) {
        const dtype = v.dtype ?? 'f32';
        nodes[name] = b.input(name, { dtype, shape: v.declared ?? v.a.shape });
        if (dtype === 'f32') wrt.push(nodes[name]);
      }
      return { loss: f(ctx, nodes), wrt };
    },
    { inputs },
    opts,
  );
}

const size = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
let seed = 100;
/** A random f32 input of `shape` with values in [lo, hi). */
const R = (shape: number[], lo = -1, hi = 1): In => ({ a: arr(shape, rand(size(shape), seed++, lo, hi)) });
const I = (shape: number[], data: number[]): In => ({ a: arr(shape, data), dtype: 'i32' });

type Pos = readonly (Node | readonly Node[] | StaticValue)[];
/** A builtin call on the inputs named in `names`, in order, then static args. */
const on =
  (
    name: string,
    names: readonly string[],
    statics: readonly StaticValue[] = [],
    kw: Record<string, StaticValue> = {},
  ) =>
  (ctx: LowerContext, x: Record<string, Node>) =>
    call(ctx, name, [...names.map((n) => x[n]!), ...statics] as Pos, kw);

describe('elementwise gradients', () => {
  const unary: [string, number, number, Record<string, StaticValue>?][] = [
    ['exp', -2, 2],
    ['log', 0.1, 3],
    ['log1p', -0.5, 3],
    ['expm1', -2, 2],
    ['sqrt', 0.1, 3],
    ['rsqrt', 0.1, 3],
    ['abs', -2, 2],
    ['sin', -3, 3],
    ['cos', -3, 3],
    ['tanh', -2, 2],
    ['erf', -2, 2],
    ['sigmoid', -4, 4],
    ['relu', -2, 2],
    ['leaky_relu', -2, 2],
    ['leaky_relu', -2, 2, { alpha: 0.3 }],
    ['elu', -2, 2],
    ['elu', -2, 2, { alpha: 0.5 }],
    ['gelu', -3, 3],
    ['gelu_tanh', -3, 3],
    ['silu', -3, 3],
    ['softplus', -4, 4],
    ['neg', -2, 2],
  ];
  for (const [name, lo, hi, kw] of unary)
    it(`${name}${kw ? ` ${JSON.stringify(kw)}` : ''}`, () => {
      gradCheck({ x: R([9], lo, hi) }, on(name, ['x'], [], kw));
    });

  const binary: [string, In, In][] = [
    ['add', R([2, 3]), R([3])],
    ['sub', R([2, 1]), R([1, 3])],
    ['mul', R([2, 3]), R([2, 3])],
    ['div', R([2, 3]), R([3], 0.5, 2)],
    ['maximum', R([2, 3]), R([3])],
    ['minimum', R([2, 3]), R([2, 1])],
    ['pow', R([2, 3], 0.2, 2), R([3], -2, 2)],
    ['mod', R([2, 3], -3, 3), R([3], 0.7, 1.3)],
    ['mse', R([2, 3]), R([3])],
    ['mae', R([2, 3]), R([2, 3])],
    ['huber', R([2, 3], -3, 3), R([2, 3])],
    ['sigmoid_binary_cross_entropy', R([2, 3], -4, 4), R([2, 3], 0, 1)],
  ];
  for (const [name, a, b] of binary)
    it(name, () => {
      gradCheck({ a, b }, on(name, ['a', 'b']));
    });

  it('huber with delta', () => {
    gradCheck({ a: R([8], -2, 2), b: R([8]) }, on('huber', ['a', 'b'], [0.4]));
  });

  it('clip, where, ternary (all operands, broadcast)', () => {
    gradCheck({ x: R([2, 4], -2, 2), lo: R([4], -1, 0), hi: R([2, 1], 0, 1) }, on('clip', ['x', 'lo', 'hi']));
    const c = { a: arr([2, 3], [1, 0, 1, 0, 0, 1]), dtype: 'bool' as const };
    gradCheck({ c, a: R([2, 3]), b: R([3]) }, on('where', ['c', 'a', 'b']));
    gradCheck({ c, a: R([1, 3]), b: R([2, 1]) }, on('ternary', ['c', 'a', 'b']));
  });

  it('exact values at kinks: relu/abs 0, leaky_relu 1 (JAX), softplus 1/2, sigmoid 1/4', () => {
    const at0 = (name: string) => {
      const b = new IRBuilder();
      const x = b.input('x', { dtype: 'f32', shape: [1] });
      const y = b.reshape(b.reduce('sum', call(makeCtx(b), name, [x]), [0]), []);
      const [g] = gradients(b, y, [x]);
      return evaluate([g!], { inputs: new Map([['x', tensor('f32', [1], [0])]]), params: new Map() })[0]!.data[0];
    };
    expect(at0('relu')).toBe(0);
    expect(at0('abs')).toBe(0);
    expect(at0('leaky_relu')).toBe(1);
    expect(at0('softplus')).toBe(0.5);
    expect(at0('sigmoid')).toBe(0.25);
    expect(at0('elu')).toBe(1);
  });

  it('no gradient through sign, floor, ceil, round, stop_gradient; finite in the tails', () => {
    const b = new IRBuilder();
    const ctx = makeCtx(b);
    const x = b.input('x', { dtype: 'f32', shape: [4] });
    const parts = ['sign', 'floor', 'ceil', 'round', 'stop_gradient'].map((n) => call(ctx, n, [x]));
    const tails = ['sigmoid', 'softplus', 'elu', 'silu', 'gelu', 'gelu_tanh'].map((n) => call(ctx, n, [x]));
    const total = (ns: Node[]) =>
      b.reshape(
        b.reduce(
          'sum',
          ns.reduce((acc, n) => b.binary('add', acc, n)),
          [0],
        ),
        [],
      );
    const [g0] = gradients(b, total(parts), [x]);
    const [g1] = gradients(b, total(tails), [x]);
    const env = { inputs: new Map([['x', tensor('f32', [4], [-1000, -30, 30, 1000])]]), params: new Map() };
    const [v0, v1] = evaluate([g0!, g1!], env);
    expect([...v0!.data]).toEqual([0, 0, 0, 0]);
    expect([...v1!.data].every(Number.isFinite)).toBe(true);
    // at +1000: sigmoid' 0, softplus' 1, elu' 1, silu' 1, gelu' 1, gelu_tanh' 1
    expect(v1!.data[3]).toBeCloseTo(5, 12);
  });
});

describe('reduction gradients', () => {
  const cases: [string, Record<string, StaticValue>][] = [
    ['sum', {}],
    ['sum', { axis: [0, 2] }],
    ['mean', { axis: -1 }],
    ['mean', {}],
    ['max', { axis: 1 }],
    ['min', {}],
    ['prod', { axis: 2, keepdims: true }],
    ['logsumexp', { axis: 1 }],
    ['logsumexp', {}],
    ['var', { axis: [1, 2] }],
    ['std', { axis: 0 }],
    ['var', {}],
  ];
  for (const [name, kw] of cases)
    it(`${name} ${JSON.stringify(kw)}`, () => {
      gradCheck({ x: R([2, 3, 4], -2, 2) }, on(name, ['x'], [], kw));
    });

  it('max ties send the gradient to the first maximal element', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [2, 3] });
    const y = b.reshape(b.reduce('sum', call(makeCtx(b), 'max', [x], { axis: 1 }), [0]), []);
    const [g] = gradients(b, y, [x]);
    const env = { inputs: new Map([['x', tensor('f32', [2, 3], [1, 3, 3, 2, 2, 2])]]), params: new Map() };
    expect([...evaluate([g!], env)[0]!.data]).toEqual([0, 1, 0, 1, 0, 0]);
  });

  it('over a symbolic batch', () => {
    gradCheck({ x: { ...R([3, 4]), declared: [B, 4] } }, on('var', ['x'], [], { axis: 0 }));
    gradCheck({ x: { ...R([3, 4]), declared: [B, 4] } }, on('mean', ['x']));
  });
});

describe('shape gradients', () => {
  it('reshape (with -1 over a symbolic dim), transpose, broadcast_to, transpose_last2', () => {
    gradCheck({ x: { ...R([4, 6]), declared: [B, 6] } }, (ctx, x) =>
      call(ctx, 'mul', [call(ctx, 'reshape', [x.x!, [-1, 3]]), call(ctx, 'reshape', [x.x!, [-1, 3]])]),
    );
    gradCheck({ x: R([2, 3, 4]) }, on('transpose', ['x'], [[2, 0, 1]]));
    gradCheck({ x: R([3, 1]) }, on('broadcast_to', ['x'], [[2, 3, 4]]));
    gradCheck({ x: R([2, 3, 4]) }, on('transpose_last2', ['x']));
  });

  it('concat, stack (static and symbolic axes)', () => {
    gradCheck({ a: R([2, 3]), b: R([2, 1]), c: R([2, 2]) }, (ctx, x) => call(ctx, 'concat', [[x.a!, x.b!, x.c!], -1]));
    gradCheck({ a: { ...R([2, 3]), declared: [B, 3] }, b: { ...R([2, 3]), declared: [B, 3] } }, (ctx, x) =>
      call(ctx, 'concat', [[x.a!, x.b!, x.a!], 0]),
    );
    gradCheck({ a: R([2, 3]), b: R([2, 3]) }, (ctx, x) => call(ctx, 'stack', [[x.a!, x.b!], 1]));
  });

  it('pad, take (repeated and negative indices accumulate), one_hot products', () => {
    gradCheck(
      { x: R([2, 3]) },
      on(
        'pad',
        ['x'],
        [
          [
            [1, 2],
            [0, 1],
          ],
          3,
        ],
      ),
    );
    gradCheck({ x: R([4, 3]), i: I([2, 3], [0, 2, 2, -1, 0, 0]) }, on('take', ['x', 'i']));
    gradCheck({ x: R([4, 3]), i: I([5], [2, 1, 1, -3, 0]) }, on('take', ['x', 'i'], [1]));
  });

  it('indexing with ints, strided slices, ellipsis and a tensor index', () => {
    const items = (i: Node): IndexSpec[] => [
      { kind: 'slice', start: -3, step: 2 },
      { kind: 'tensor', index: i },
      { kind: 'ellipsis' },
      { kind: 'slice', start: 1, end: 5, step: 3 },
    ];
    gradCheck({ x: R([4, 3, 2, 6]), i: I([3], [2, 0, 2]) }, (ctx, x) => lowerIndex(ctx, x.x!, items(x.i!)));
    gradCheck({ x: R([5, 4]) }, (ctx, x) =>
      lowerIndex(ctx, x.x!, [
        { kind: 'int', value: -2 },
        { kind: 'slice', step: 3 },
      ]),
    );
  });
});

describe('linear algebra gradients', () => {
  it('matmul: 2-D, batched with broadcasting, 1-D operands, symbolic batch', () => {
    gradCheck({ a: R([3, 4]), b: R([4, 2]) }, on('matmul', ['a', 'b']));
    gradCheck({ a: R([2, 1, 3, 4]), b: R([3, 4, 2]) }, on('matmul', ['a', 'b']));
    gradCheck({ a: R([4]), b: R([2, 4, 3]) }, on('matmul', ['a', 'b']));
    gradCheck({ a: R([2, 3, 4]), b: R([4]) }, on('matmul', ['a', 'b']));
    gradCheck({ a: R([4]), b: R([4]) }, on('matmul', ['a', 'b']));
    gradCheck({ a: { ...R([3, 4]), declared: [B, 4] }, b: R([4, 2]) }, on('matmul', ['a', 'b']));
  });

  it('dot', () => {
    gradCheck({ a: R([2, 3, 4]), b: R([5, 4, 2]) }, on('dot', ['a', 'b']));
    gradCheck({ a: R([2, 3]), b: R([3]) }, on('dot', ['a', 'b']));
    gradCheck({ a: R([]), b: R([3]) }, on('dot', ['a', 'b']));
  });

  it('einsum', () => {
    const cases: [string, number[][]][] = [
      [
        'bij,bjk->bik',
        [
          [2, 3, 4],
          [2, 4, 2],
        ],
      ],
      [
        'ij,kj->ki',
        [
          [3, 4],
          [2, 4],
        ],
      ],
      ['ij->j', [[3, 4]]],
      ['ijk->kij', [[2, 3, 4]]],
      ['i,j->ij', [[3], [2]]],
      [
        'ijx,jy->yi',
        [
          [2, 3, 2],
          [3, 4],
        ],
      ],
      [
        '...ij,...jk->...ik',
        [
          [2, 1, 3, 2],
          [4, 2, 3],
        ],
      ],
    ];
    for (const [spec, shapes] of cases) {
      const ins: Record<string, In> = Object.fromEntries(shapes.map((s, k) => [`x${k}`, R(s)]));
      gradCheck(ins, (ctx, x) => call(ctx, 'einsum', [spec, ...Object.values(x)]));
    }
  });
});

describe('neural gradients', () => {
  it('softmax, log_softmax (any axis, symbolic batch)', () => {
    gradCheck({ x: { ...R([3, 4], -3, 3), declared: [B, 4] } }, on('softmax', ['x']));
    gradCheck({ x: R([3, 4], -3, 3) }, on('softmax', ['x'], [0]));
    gradCheck({ x: R([2, 5], -3, 3) }, on('log_softmax', ['x']));
  });

  it('layer_norm and rms_norm (x, gamma, beta)', () => {
    gradCheck(
      { x: { ...R([3, 5], -2, 2), declared: [B, 5] }, g: R([5]), b: R([5]) },
      on('layer_norm', ['x', 'g', 'b']),
    );
    gradCheck({ x: R([3, 5], -2, 2), g: R([5]) }, on('rms_norm', ['x', 'g'], [1e-3]));
  });

  it('dropout in training', () => {
    gradCheck({ x: R([50]) }, on('dropout', ['x'], [0.3]), { training: true });
  });

  it('conv2d with stride, padding, dilation and groups', () => {
    const configs: [number[], number[], Record<string, StaticValue>][] = [
      [[1, 2, 4, 4], [3, 2, 2, 2], {}],
      [[2, 2, 5, 5], [2, 2, 3, 3], { stride: 2, padding: 1 }],
      [[1, 1, 6, 5], [2, 1, 2, 2], { dilation: [2, 1], padding: [1, 0], stride: [1, 2] }],
      [[1, 4, 4, 4], [4, 2, 3, 3], { groups: 2, padding: 1 }],
    ];
    for (const [xs, ws, kw] of configs)
      gradCheck({ x: R(xs), w: R(ws) }, (ctx, x) => call(ctx, 'conv2d', [x.x!, x.w!], kw), { maxElements: 40 });
  });

  it('max_pool2d and avg_pool2d (overlapping windows, padding)', () => {
    for (const kind of ['max', 'avg'])
      gradCheck({ x: R([1, 2, 5, 5], -2, 2) }, (ctx, x) =>
        call(ctx, `${kind}_pool2d`, [x.x!, [3]], { stride: 2, padding: 1 }),
      );
  });

  it("max_pool2d's gradient at ties goes to the first maximal element of the window (row-major)", () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [1, 1, 2, 4] });
    const y = b.reshape(b.reduce('sum', call(makeCtx(b), 'max_pool2d', [x, 2]), [0, 1, 2, 3]), []);
    const [g] = gradients(b, y, [x]);
    const env = {
      inputs: new Map([['x', tensor('f32', [1, 1, 2, 4], [1, 3, 5, 5, 3, 2, 5, 5])]]),
      params: new Map(),
    };
    expect([...evaluate([g!], env)[0]!.data]).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
  });

  it('softmax_cross_entropy with class ids and with probabilities', () => {
    gradCheck(
      { l: { ...R([3, 4], -3, 3), declared: [B, 4] }, y: { ...I([3], [1, 3, 0]), declared: [B] } },
      on('softmax_cross_entropy', ['l', 'y']),
    );
    gradCheck({ l: R([3, 4], -3, 3), p: R([3, 4], 0, 1) }, on('softmax_cross_entropy', ['l', 'p']));
  });
});

describe('gradients of gradients', () => {
  /** d/dx of sum(v * d(sum f(x))/dx): a Hessian-vector product, checked by finite differences. */
  function hvp(name: string, lo: number, hi: number, extra: number[] = []) {
    const x = arr([6 + extra.length], [...rand(6, seed++, lo, hi), ...extra]);
    gradCheck({ x: { a: x } }, (ctx, n) => {
      const b = ctx.b;
      const y = b.reshape(b.reduce('sum', call(ctx, name, [n.x!]), [0]), []);
      return gradients(b, y, [n.x!])[0]!;
    });
  }
  it('softplus (also exactly at 0)', () => hvp('softplus', -3, 3, [0]));
  it('sigmoid', () => hvp('sigmoid', -3, 3, [0]));
  it('tanh', () => hvp('tanh', -2, 2));
  it('gelu', () => hvp('gelu', -3, 3));
  it('gelu_tanh', () => hvp('gelu_tanh', -3, 3));
  it('elu', () => hvp('elu', -2, 2));

  it('softmax_cross_entropy Hessian-vector product', () => {
    gradCheck({ l: R([2, 4], -2, 2), y: I([2], [3, 1]) }, (ctx, n) => {
      const b = ctx.b;
      const loss = call(ctx, 'sum', [call(ctx, 'softmax_cross_entropy', [n.l!, n.y!])]);
      return gradients(b, loss, [n.l!])[0]!;
    });
  });

  it('layer_norm Hessian-vector product', () => {
    gradCheck({ x: R([2, 4], -2, 2), g: R([4]), b: R([4]) }, (ctx, n) => {
      const loss = call(ctx, 'sum', [call(ctx, 'tanh', [call(ctx, 'layer_norm', [n.x!, n.g!, n.b!])])]);
      return gradients(ctx.b, loss, [n.x!])[0]!;
    });
  });

  it('a gradient penalty through conv2d', () => {
    gradCheck(
      { x: R([1, 1, 4, 4]), w: R([2, 1, 2, 2]) },
      (ctx, n) => {
        const y = call(ctx, 'sum', [call(ctx, 'tanh', [call(ctx, 'conv2d', [n.x!, n.w!], { padding: 1 })])]);
        const gx = gradients(ctx.b, y, [n.x!])[0]!;
        return call(ctx, 'sum', [call(ctx, 'mul', [gx, gx])]);
      },
      { maxElements: 20 },
    );
  });
});
