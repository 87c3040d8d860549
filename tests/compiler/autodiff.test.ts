import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradients } from '../../compiler/autodiff.js';
import { type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import { type BinaryFn, IRBuilder, IRError, type Node, type UnaryFn } from '../../compiler/ir.js';
import { verifyNodes } from '../../compiler/verify.js';
import { type Shape, sym } from '../../compiler/types.js';
import { checkGradients, randomTensor, rng } from '../helpers/finite-diff.js';

const f32 = (shape: Shape) => ({ dtype: 'f32' as const, shape });
/** The sum of all elements as a scalar. */
const total = (b: IRBuilder, x: Node) =>
  b.reshape(
    b.reduce(
      'sum',
      x,
      x.shape.map((_d, i) => i),
    ),
    [],
  );
const staticShape = (s: Shape) => s.map((d) => (typeof d === 'number' ? d : NaN));
const vals = (t: RefTensor) => [...t.data].map((v) => (v === 0 ? 0 : v));

/** Values in [lo, hi] with random signs: away from 0 (kinks of abs, sign changes). */
function signed(shape: number[], seed: number, lo = 0.2, hi = 1): RefTensor {
  const r = rng(seed);
  const t = randomTensor(shape, r, lo, hi);
  return tensor(
    'f32',
    shape,
    t.data.map((v) => (r() < 0.5 ? -v : v)),
  );
}

/** Evaluates gradients of `loss` with respect to `wrt` (input nodes) on `inputs`. */
function grads(b: IRBuilder, loss: Node, wrt: Node[], inputs: Record<string, RefTensor>): number[][] {
  const gs = gradients(b, loss, wrt);
  return evaluate(gs, { inputs: new Map(Object.entries(inputs)), params: new Map() }).map(vals);
}

/**
 * Second order: checks d/dw of sum_k <d/dw_k sum(out * c), v_k> against
 * finite differences, i.e. Hessian-vector products, for every w in wrt.
 */
function checkSecondOrder(
  build: (b: IRBuilder) => { out: Node; wrt: Node[] },
  inputs: Record<string, RefTensor>,
  seed = 99,
): void {
  // Shapes of the cotangents from a throwaway build.
  const probe = build(new IRBuilder());
  const r = rng(seed);
  const extra: Record<string, RefTensor> = { __c: randomTensor(staticShape(probe.out.shape), r) };
  probe.wrt.forEach((w, k) => (extra[`__v${k}`] = randomTensor(staticShape(w.shape), r)));
  checkGradients(
    (b) => {
      const { out, wrt } = build(b);
      const g = gradients(b, total(b, b.binary('mul', out, b.input('__c', out))), wrt);
      const terms = g.map((gk, k) => total(b, b.binary('mul', gk, b.input(`__v${k}`, gk))));
      return { loss: terms.reduce((acc, t) => b.binary('add', acc, t)), wrt };
    },
    { inputs: { ...inputs, ...extra } },
  );
}

describe('unary rules', () => {
  const cases: [UnaryFn, number, number][] = [
    ['neg', -2, 2],
    ['recip', 0.5, 2],
    ['sqrt', 0.3, 3],
    ['exp', -2, 2],
    ['log', 0.3, 3],
    ['log1p', -0.5, 3],
    ['expm1', -2, 2],
    ['sin', -3, 3],
    ['cos', -3, 3],
    ['tanh', -2, 2],
    ['erf', -2, 2],
  ];
  it.each(cases)('%s', (fn, lo, hi) => {
    const x0 = randomTensor([2, 3], rng(fn.length * 7 + lo), lo, hi);
    checkGradients(
      (b) => {
        const x = b.input('x', f32([2, 3]));
        return { loss: b.unary(fn, x), wrt: [x] };
      },
      { inputs: { x: x0 } },
    );
    checkSecondOrder(
      (b) => {
        const x = b.input('x', f32([2, 3]));
        return { out: b.unary(fn, x), wrt: [x] };
      },
      { x: x0 },
    );
  });

  it('abs is sign(x), 0 at 0', () => {
    checkGradients(
      (b) => {
        const x = b.input('x', f32([2, 3]));
        return { loss: b.unary('abs', x), wrt: [x] };
      },
      { inputs: { x: signed([2, 3], 3) } },
    );
    const b = new IRBuilder();
    const x = b.input('x', f32([3]));
    expect(grads(b, total(b, b.unary('abs', x)), [x], { x: tensor('f32', [3], [-2, 0, 3]) })).toEqual([[-1, 0, 1]]);
  });

  it.each(['floor', 'ceil', 'round'] as const)('%s has zero gradient', (fn) => {
    const x0 = tensor('f32', [4], [0.3, 1.3, -0.7, 2.2]);
    const { grads: g } = checkGradients(
      (b) => {
        const x = b.input('x', f32([4]));
        return { loss: total(b, b.binary('mul', b.unary(fn, x), x)), wrt: [x] };
      },
      { inputs: { x: x0 } },
    );
    const expected = { floor: [0, 1, -1, 2], ceil: [1, 2, 0, 3], round: [0, 1, -1, 2] }[fn];
    expect(vals(g[0]!)).toEqual(expected);
  });
});

describe('binary rules', () => {
  const cases: [BinaryFn, [number, number], [number, number]][] = [
    ['add', [-2, 2], [-2, 2]],
    ['sub', [-2, 2], [-2, 2]],
    ['mul', [-2, 2], [-2, 2]],
    ['div', [-2, 2], [0.5, 2]],
    ['max', [-2, 2], [-2, 2]],
    ['min', [-2, 2], [-2, 2]],
    ['pow', [0.5, 2], [-1.5, 1.5]],
    ['mod', [-3, 3], [0.7, 2]],
  ];
  it.each(cases)('%s', (fn, [alo, ahi], [blo, bhi]) => {
    const inputs = {
      x: randomTensor([3, 4], rng(11 + fn.length), alo, ahi),
      y: randomTensor([3, 4], rng(23 + fn.length), blo, bhi),
    };
    const build = (b: IRBuilder) => {
      const x = b.input('x', f32([3, 4]));
      const y = b.input('y', f32([3, 4]));
      return { x, y, out: b.binary(fn, x, y) };
    };
    checkGradients(
      (b) => {
        const { x, y, out } = build(b);
        return { loss: out, wrt: [x, y] };
      },
      { inputs },
    );
    checkSecondOrder((b) => {
      const { x, y, out } = build(b);
      return { out, wrt: [x, y] };
    }, inputs);
  });

  it('max/min ties go to the first argument', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([3]));
    const y = b.input('y', f32([3]));
    const inputs = { x: tensor('f32', [3], [1, 2, 3]), y: tensor('f32', [3], [1, 5, 0]) };
    expect(grads(b, total(b, b.binary('max', x, y)), [x, y], inputs)).toEqual([
      [1, 0, 1],
      [0, 1, 0],
    ]);
    expect(grads(b, total(b, b.binary('min', x, y)), [x, y], inputs)).toEqual([
      [1, 1, 0],
      [0, 0, 1],
    ]);
  });

  it('pow: d/d exponent is 0 (not NaN) where the base is <= 0', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([3]));
    const y = b.input('y', f32([3]));
    const inputs = { x: tensor('f32', [3], [-2, 0, 2]), y: tensor('f32', [3], [2, 2, 2]) };
    const [gx, gy] = grads(b, total(b, b.binary('pow', x, y)), [x, y], inputs);
    expect(gx).toEqual([-4, 0, 4]);
    expect(gy).toEqual([0, 0, 4 * Math.log(2)]);
    // and its second derivative is finite too
    const [gy2] = gradients(b, total(b, b.binary('pow', x, y)), [y]);
    const [h] = grads(b, total(b, gy2!), [x, y], inputs);
    expect(h!.every(Number.isFinite)).toBe(true);
  });

  it('comparisons and logical ops give no gradient', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([2]));
    const m = b.cast(b.binary('and', b.binary('lt', x, b.full(1, 'f32', [2])), b.binary('ne', x, x)), 'f32');
    expect(grads(b, total(b, b.binary('add', m, m)), [x], { x: tensor('f32', [2], [0, 2]) })).toEqual([[0, 0]]);
  });
});

describe('where, cast, stop_gradient, assign, rand', () => {
  it('where routes to the chosen branch, nothing to the condition', () => {
    const inputs = { c: tensor('bool', [4], [1, 0, 0, 1]), x: signed([4], 5), y: signed([4], 6) };
    const { grads: g } = checkGradients(
      (b) => {
        const c = b.input('c', { dtype: 'bool', shape: [4] });
        const x = b.input('x', f32([4]));
        const y = b.input('y', f32([4]));
        return { loss: total(b, b.where(c, b.binary('mul', x, x), y)), wrt: [x, y] };
      },
      { inputs },
    );
    expect(vals(g[1]!)).toEqual([0, 1, 1, 0]);
  });

  it('integer inputs get no gradient; cast from an integer passes none', () => {
    const b = new IRBuilder();
    const i = b.input('i', { dtype: 'i32', shape: [2] });
    const x = b.input('x', f32([2]));
    const loss = total(b, b.binary('mul', x, b.cast(i, 'f32')));
    expect(() => gradients(b, loss, [i])).toThrow(IRError);
    expect(grads(b, loss, [x], { i: tensor('i32', [2], [3, -4]), x: tensor('f32', [2], [1, 1]) })).toEqual([[3, -4]]);
    // f32 -> i32 -> f32 is piecewise constant: zero gradient
    const trunc = total(b, b.cast(b.cast(x, 'i32'), 'f32'));
    expect(grads(b, trunc, [x], { x: tensor('f32', [2], [1.5, 2.5]) })).toEqual([[0, 0]]);
  });

  it('stop_gradient blocks, assign passes through', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([2]));
    const loss = total(b, b.binary('mul', b.stopGradient(x), b.assign('x', x)));
    expect(grads(b, loss, [x], { x: tensor('f32', [2], [3, 4]) })).toEqual([[3, 4]]);
  });

  it('rand is a leaf: d(rand * x)/dx = rand', () => {
    const b = new IRBuilder();
    const k = b.input('k', { dtype: 'i32', shape: [] });
    const x = b.input('x', f32([5]));
    const r = b.rand([5], k, 1);
    const inputs = { k: tensor('i32', [], [9]), x: randomTensor([5], rng(1)) };
    const [g] = grads(b, total(b, b.binary('mul', r, x)), [x], inputs);
    const [rv] = evaluate([r], { inputs: new Map(Object.entries(inputs)), params: new Map() });
    expect(g).toEqual(vals(rv!));
  });
});

describe('driver', () => {
  it('needs an f32 scalar loss and f32 wrt', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([2]));
    expect(() => gradients(b, x, [x])).toThrow(IRError);
    expect(() => gradients(b, b.reshape(b.cast(total(b, x), 'i32'), []), [x])).toThrow(IRError);
  });

  it('gives zeros for a w that does not influence y, and 1 for y itself', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([2]));
    const w = b.param('w', f32([3]));
    const y = total(b, b.unary('exp', x));
    const [gw, gy] = gradients(b, y, [w, y]);
    const [rw, ry] = evaluate([gw!, gy!], { inputs: new Map(), params: new Map() });
    expect(vals(rw!)).toEqual([0, 0, 0]);
    expect(vals(ry!)).toEqual([1]);
  });

  it('sums fan-in', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([2]));
    const y = total(b, b.binary('add', b.binary('mul', x, x), b.unary('sin', x)));
    const [g] = grads(b, y, [x], { x: tensor('f32', [2], [1, 2]) });
    expect(g![0]).toBeCloseTo(2 + Math.cos(1), 14);
    expect(g![1]).toBeCloseTo(4 + Math.cos(2), 14);
  });

  it('works with respect to an intermediate node', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([2]));
    const h = b.unary('exp', x);
    const y = total(b, b.binary('mul', h, h));
    const [g] = grads(b, y, [h], { x: tensor('f32', [2], [0, 1]) });
    expect(g![0]).toBeCloseTo(2, 14);
    expect(g![1]).toBeCloseTo(2 * Math.E, 14);
  });
});

describe('broadcasting via expand', () => {
  it('bias add and scale broadcast over rows', () => {
    const inputs = {
      x: randomTensor([4, 3], rng(2)),
      bias: randomTensor([3], rng(3)),
      s: randomTensor([4, 1], rng(4)),
    };
    checkGradients(
      (b) => {
        const x = b.input('x', f32([4, 3]));
        const bias = b.input('bias', f32([3]));
        const s = b.input('s', f32([4, 1]));
        return { loss: b.bin('mul', b.bin('add', x, bias), s), wrt: [x, bias, s] };
      },
      { inputs },
    );
  });

  it('any NumPy-broadcast pair of shapes (property)', () => {
    const ops = ['add', 'sub', 'mul', 'div', 'max', 'min'] as const;
    const arb = fc.record({
      shape: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      ones: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      drop: fc.integer({ min: 0, max: 3 }),
      swap: fc.boolean(),
      op: fc.constantFrom(...ops),
      seed: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(arb, ({ shape, ones, drop, swap, op, seed }) => {
        // y: x's shape with some axes 1 and some leading axes dropped
        const ys = shape.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, shape.length - 1));
        const [sa, sb] = swap ? [ys, shape] : [shape, ys];
        const r = rng(seed);
        const [lo, hi] = op === 'div' ? [0.5, 2] : [-2, 2];
        checkGradients(
          (b) => {
            const x = b.input('x', f32(sa));
            const y = b.input('y', f32(sb));
            return { loss: b.unary('sin', b.bin(op, x, y)), wrt: [x, y] };
          },
          { inputs: { x: randomTensor(sa, r, 0.5, 2), y: randomTensor(sb, r, lo, hi) } },
        );
      }),
      { numRuns: 60 },
    );
  });

  it('expand of a middle axis and of a scalar', () => {
    const inputs = { x: randomTensor([2, 1, 3], rng(5)), s: randomTensor([], rng(6)) };
    checkGradients(
      (b) => {
        const x = b.input('x', f32([2, 1, 3]));
        const s = b.input('s', f32([]));
        const e = b.expand(x, [2, 4, 3]);
        return { loss: b.unary('sin', b.binary('mul', e, b.broadcastTo(s, [2, 4, 3]))), wrt: [x, s] };
      },
      { inputs },
    );
  });
});

describe('reduce rules', () => {
  it.each([
    ['sum', [1]],
    ['sum', [0, 2]],
    ['max', [1]],
    ['max', [0, 2]],
    ['min', [2]],
    ['min', [0, 1, 2]],
    ['prod', [1]],
    ['prod', [0, 2]],
  ] as const)('%s over %j', (fn, axes) => {
    const x0 = signed([2, 3, 4], 7 + axes.length, 0.5, 1.5);
    checkGradients(
      (b) => {
        const x = b.input('x', f32([2, 3, 4]));
        return { loss: b.unary('sin', b.reduce(fn, x, axes)), wrt: [x] };
      },
      { inputs: { x: x0 } },
    );
    checkSecondOrder(
      (b) => {
        const x = b.input('x', f32([2, 3, 4]));
        return { out: b.reduce(fn, x, axes), wrt: [x] };
      },
      { x: x0 },
    );
  });

  it('max and min give the gradient to the FIRST extremal element', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([2, 3]));
    const inputs = { x: tensor('f32', [2, 3], [1, 3, 3, 2, 2, 1]) };
    expect(grads(b, total(b, b.reduce('max', x, [1])), [x], inputs)).toEqual([[0, 1, 0, 1, 0, 0]]);
    expect(grads(b, total(b, b.reduce('max', x, [0])), [x], inputs)).toEqual([[0, 1, 1, 1, 0, 0]]);
    expect(grads(b, total(b, b.reduce('min', x, [0, 1])), [x], inputs)).toEqual([[1, 0, 0, 0, 0, 0]]);
    // over non-adjacent axes: first in row-major order over axes 0 and 2
    const z = b.input('z', f32([2, 2, 2]));
    const [g] = grads(b, total(b, b.reduce('max', z, [0, 2])), [z], {
      z: tensor('f32', [2, 2, 2], [0, 5, 1, 1, 5, 5, 1, 0]),
    });
    expect(g).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
  });

  it('prod is exact with zeros in the group', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([3, 3]));
    const inputs = { x: tensor('f32', [3, 3], [2, 3, 4, 0, 5, 6, 0, 0, 7]) };
    expect(grads(b, total(b, b.reduce('prod', x, [1])), [x], inputs)).toEqual([[12, 8, 6, 30, 0, 0, 0, 0, 0]]);
  });
});

describe('movement rules', () => {
  const x0 = randomTensor([3, 4], rng(31));
  const one = (f: (b: IRBuilder, x: Node) => Node, x = x0) => {
    const shape = [...x.shape];
    checkGradients(
      (b) => {
        const xi = b.input('x', f32(shape));
        return { loss: f(b, xi), wrt: [xi] };
      },
      { inputs: { x } },
    );
    checkSecondOrder(
      (b) => {
        const xi = b.input('x', f32(shape));
        return { out: b.unary('sin', f(b, xi)), wrt: [xi] };
      },
      { x },
    );
  };

  it('reshape', () => one((b, x) => b.reshape(x, [2, 6])));
  it('permute', () => one((b, x) => b.permute(x, [2, 0, 1]), randomTensor([2, 3, 4], rng(32))));
  it('pad', () =>
    one((b, x) =>
      b.pad(
        x,
        [
          [1, 2],
          [0, 3],
        ],
        7,
      ),
    ));
  it('slice, step 1', () =>
    one((b, x) =>
      b.slice(x, [
        { start: 1, size: 2, step: 1 },
        { start: 1, size: 3, step: 1 },
      ]),
    ));
  it('slice, strided on several axes (tail shorter than a step)', () =>
    one(
      (b, x) =>
        b.slice(x, [
          { start: 1, size: 2, step: 2 },
          { start: 0, size: 3, step: 3 },
          { start: 2, size: 1, step: 5 },
        ]),
      randomTensor([5, 7, 4], rng(33)),
    ));
  it('slice of size 0', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([3]));
    const s = b.slice(x, [{ start: 3, size: 0, step: 2 }]);
    const y = b.binary('add', total(b, x), total(b, s));
    expect(grads(b, y, [x], { x: tensor('f32', [3], [1, 2, 3]) })).toEqual([[1, 1, 1]]);
  });
  it('concat', () => {
    const inputs = { x: randomTensor([2, 3], rng(34)), y: randomTensor([2, 1], rng(35)) };
    const build = (b: IRBuilder) => {
      const x = b.input('x', f32([2, 3]));
      const y = b.input('y', f32([2, 1]));
      return { out: b.unary('sin', b.concat([x, y, x], 1)), wrt: [x, y] };
    };
    checkGradients(
      (b) => {
        const { out, wrt } = build(b);
        return { loss: out, wrt };
      },
      { inputs },
    );
    checkSecondOrder(build, inputs);
  });
});

describe('matmul, gather, scatter_add', () => {
  it('matmul 2-D and batched', () => {
    for (const [sa, sb] of [
      [
        [3, 4],
        [4, 2],
      ],
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ]) {
      const inputs = { a: randomTensor(sa!, rng(41)), c: randomTensor(sb!, rng(42)) };
      const build = (b: IRBuilder) => {
        const a = b.input('a', f32(sa!));
        const c = b.input('c', f32(sb!));
        return { out: b.matmul(a, c), wrt: [a, c] };
      };
      checkGradients(
        (b) => {
          const { out, wrt } = build(b);
          return { loss: b.unary('tanh', out), wrt };
        },
        { inputs },
      );
      checkSecondOrder(build, inputs);
    }
  });

  it('gather with repeated and clamped indices', () => {
    const inputs = { x: randomTensor([4, 3], rng(43)), i: tensor('i32', [2, 3], [0, 2, 2, -1, 9, 1]) };
    const build = (b: IRBuilder) => {
      const x = b.input('x', f32([4, 3]));
      const i = b.input('i', { dtype: 'i32', shape: [2, 3] });
      return { out: b.unary('sin', b.gather(x, i, 0)), wrt: [x] };
    };
    const { grads: g } = checkGradients(
      (b) => {
        const { out, wrt } = build(b);
        return { loss: out, wrt };
      },
      { inputs },
    );
    expect(g[0]!.shape).toEqual([4, 3]);
    checkSecondOrder(build, inputs);
    // along axis 1
    checkGradients(
      (b) => {
        const x = b.input('x', f32([4, 3]));
        const i = b.input('i', { dtype: 'i32', shape: [2, 3] });
        return { loss: b.gather(x, i, 1), wrt: [x] };
      },
      { inputs },
    );
  });

  it('scatter_add', () => {
    const inputs = { u: randomTensor([2, 5], rng(44)), i: tensor('i32', [5], [0, 3, 3, -2, 1]) };
    const build = (b: IRBuilder) => {
      const u = b.input('u', f32([2, 5]));
      const i = b.input('i', { dtype: 'i32', shape: [5] });
      return { out: b.unary('sin', b.scatterAdd(u, i, 1, f32([2, 4]))), wrt: [u] };
    };
    checkGradients(
      (b) => {
        const { out, wrt } = build(b);
        return { loss: out, wrt };
      },
      { inputs },
    );
    checkSecondOrder(build, inputs);
  });
});

describe('symbolic dims', () => {
  it('concat of B and 2*B rows', () => {
    const B = sym('B');
    checkGradients(
      (b) => {
        const x = b.input('x', f32([B, 3]));
        const z = b.input('z', f32([{ coef: 2, syms: ['B'] }, 3]));
        const c = b.concat([z, b.unary('exp', x), x], 0);
        return { loss: total(b, b.unary('sin', b.binary('mul', c, b.cast(b.iota(c.shape, 0), 'f32')))), wrt: [x, z] };
      },
      { inputs: { x: randomTensor([2, 3], rng(53)), z: randomTensor([4, 3], rng(54)) } },
    );
  });

  it('gradients over [B, 3] with max, concat and broadcasting', () => {
    const B = sym('B');
    checkGradients(
      (b) => {
        const x = b.input('x', f32([B, 3]));
        const w = b.param('w', f32([3]));
        const h = b.unary('tanh', b.bin('mul', x, w));
        const m = b.reduce('max', b.concat([h, b.unary('neg', h)], 0), [0]);
        return { loss: total(b, b.binary('add', m, b.reduce('sum', h, [0]))), wrt: [x, w] };
      },
      { inputs: { x: randomTensor([5, 3], rng(51)) }, params: { w: randomTensor([3], rng(52)) } },
    );
  });
});

describe('second order', () => {
  // A small MLP: f(x) = sum(softplus(tanh(x W1 + b1) W2)), softplus = log1p(exp)
  const mlp = (b: IRBuilder) => {
    const x = b.input('x', f32([4, 3]));
    const w1 = b.param('w1', f32([3, 5]));
    const b1 = b.param('b1', f32([5]));
    const w2 = b.param('w2', f32([5, 2]));
    const h = b.unary('tanh', b.bin('add', b.matmul(x, w1), b1));
    const f = total(b, b.unary('log1p', b.unary('exp', b.matmul(h, w2))));
    return { x, w1, b1, w2, f };
  };
  const r = rng(61);
  const env = {
    inputs: { x: randomTensor([4, 3], r), v: randomTensor([3, 5], r) },
    params: { w1: randomTensor([3, 5], r), b1: randomTensor([5], r), w2: randomTensor([5, 2], r) },
  };

  it('Hessian-vector product of an MLP: grad(sum(grad(f, W1) * v))', () => {
    checkGradients((b) => {
      const { x, w1, b1, w2, f } = mlp(b);
      const [g1] = gradients(b, f, [w1]);
      const hvp = total(b, b.binary('mul', g1!, b.input('v', f32([3, 5]))));
      return { loss: hvp, wrt: [w1, b1, w2, x] };
    }, env);
  });

  it('gradient penalty: grad of |grad(f, x)|^2 with respect to the weights', () => {
    checkGradients((b) => {
      const { x, w1, b1, w2, f } = mlp(b);
      const [gx] = gradients(b, f, [x]);
      return { loss: total(b, b.binary('mul', gx!, gx!)), wrt: [w1, b1, w2] };
    }, env);
  });

  it('gradient graphs pass the verifier', () => {
    const b = new IRBuilder();
    const { x, w1, b1, w2, f } = mlp(b);
    const g = gradients(b, f, [x, w1, b1, w2]);
    const h = gradients(b, total(b, b.binary('mul', g[0]!, g[0]!)), [x, w1, b1, w2]);
    expect(() => verifyNodes([...g, ...h], 'autodiff')).not.toThrow();
  });

  it('third order through a chain of rules', () => {
    checkGradients(
      (b) => {
        const x = b.input('x', f32([3]));
        const f = total(b, b.binary('mul', b.unary('erf', x), b.unary('exp', b.unary('neg', b.binary('mul', x, x)))));
        const [g] = gradients(b, f, [x]);
        const [h] = gradients(b, total(b, b.unary('sin', g!)), [x]);
        return { loss: total(b, b.binary('mul', h!, h!)), wrt: [x] };
      },
      { inputs: { x: randomTensor([3], rng(62)) } },
    );
  });
});
