import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, tensor } from '../../compiler/interpret.js';
import { IRBuilder, type Node } from '../../compiler/ir.js';
import {
  ctxOf,
  evalBool,
  evalIndex,
  ic,
  ivar,
  printBool,
  printIndex,
  simplify,
} from '../../compiler/kernel/index-expr.js';
import type { IExpr } from '../../compiler/kernel/kir.js';
import {
  concatPieces,
  flatIndex,
  loopsFor,
  reshapeGroups,
  stridesOf,
  unflatten,
  viewIndex,
} from '../../compiler/kernel/view.js';
import { type Dim, type Shape, dimMul, evalShape, numel, sym } from '../../compiler/types.js';

const P = printIndex;
const Bd = sym('B');
const Td = sym('T');

function hasDivMod(e: IExpr): boolean {
  switch (e.k) {
    case 'div':
    case 'mod':
      return true;
    case 'add':
    case 'mul':
      return hasDivMod(e.a) || hasDivMod(e.b);
    case 'value':
      return hasDivMod(e.hi);
    case 'const':
    case 'var':
    case 'dim':
      return false;
  }
}

/** viewIndex of `node` over loops i0, i1, ... down to `src`. */
function view(node: Node, src: Node) {
  const { loops, idx } = loopsFor(node.shape, 'i');
  return viewIndex(node, idx, (n) => n === src, ctxOf(loops));
}

/** Unravels a flat row-major offset into coordinates. */
function coordsOf(f: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    c[k] = f % shape[k]!;
    f = Math.floor(f / shape[k]!);
  }
  return c;
}

/**
 * Checks viewIndex + load against the reference interpreter at every element,
 * with the source holding its own flat index.
 */
function checkAgainstInterpreter(node: Node, src: Node, dims: ReadonlyMap<string, number>): void {
  const v = view(node, src);
  if (!v) throw new Error('no view');
  expect(v.source).toBe(src);
  const srcShape = evalShape(src.shape, dims);
  const srcSize = srcShape.reduce((a, d) => a * d, 1);
  const data = Array.from({ length: srcSize }, (_, f) => f);
  const [want] = evaluate([node], {
    inputs: new Map([['x', tensor('f32', srcShape, data)]]),
    params: new Map(),
    dims,
  });
  const shape = evalShape(node.shape, dims);
  for (let f = 0; f < want!.data.length; f++) {
    const c = coordsOf(f, shape);
    const env = { vars: new Map(c.map((x, k) => [`i${k}`, x] as const)), dims };
    let got: number;
    if (evalBool(v.valid, env)) {
      const at = evalIndex(v.index, env);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(at).toBeLessThan(srcSize);
      got = data[at]!;
    } else {
      got = v.fill;
    }
    if (got !== want!.data[f]) {
      throw new Error(
        `element ${f} [${c.join(', ')}]: got ${got}, want ${want!.data[f]}; index ${P(v.index)} valid ${printBool(v.valid)}`,
      );
    }
  }
}

describe('helpers', () => {
  it('strides, flatIndex and unflatten with symbolic dims', () => {
    expect(stridesOf([Bd, Td, 16]).map(P)).toEqual(['T*16', '16', '1']);
    const idx = [ivar('b'), ivar('t'), ivar('j')];
    expect(P(flatIndex([Bd, Td, 16], idx))).toBe('b*T*16 + j + t*16');
    const f = ivar('f');
    expect(unflatten([Bd, Td, 16], f).map(P)).toEqual(['f / (T*16)', 'f / 16 % T', 'f % 16']);
    expect(unflatten([1, 6, 1], f).map(P)).toEqual(['0', 'f', '0']);
  });

  it('loopsFor skips size-1 axes', () => {
    const { loops, idx } = loopsFor([Bd, 1, 4], 'x');
    expect(loops).toEqual([
      { name: 'x0', extent: Bd },
      { name: 'x2', extent: 4 },
    ]);
    expect(idx.map(P)).toEqual(['x0', '0', 'x2']);
  });

  it('reshapeGroups pairs axes into groups of equal products', () => {
    expect(reshapeGroups([Bd, 784], [Bd, 28, 28])).toEqual([
      { from: [0], to: [0] },
      { from: [1], to: [1, 2] },
    ]);
    expect(reshapeGroups([Bd, Td, 16], [dimMul(Bd, Td), 16])).toEqual([
      { from: [0, 1], to: [0] },
      { from: [2], to: [1] },
    ]);
    expect(reshapeGroups([6, 4], [2, 12])).toEqual([{ from: [0, 1], to: [0, 1] }]);
    expect(reshapeGroups([6], [1, 6, 1])).toEqual([
      { from: [0], to: [0, 1] },
      { from: [], to: [2] },
    ]);
    expect(reshapeGroups([Bd, 2], [2, Bd])).toEqual([{ from: [0, 1], to: [0, 1] }]);
  });
});

describe('viewIndex: common cases simplify fully', () => {
  const b = new IRBuilder();
  const x = b.input('x', { dtype: 'f32', shape: [Bd, 784] });

  it('reshape [B, 784] -> [B, 28, 28] -> back is b*784 + i', () => {
    const r = b.reshape(b.reshape(x, [Bd, 28, 28]), [Bd, 784]);
    const v = view(r, x)!;
    expect(P(v.index)).toBe('i0*784 + i1');
    expect(v.valid).toEqual({ k: 'true' });
  });

  it('reshape [B, 784] -> [B, 28, 28]', () => {
    expect(P(view(b.reshape(x, [Bd, 28, 28]), x)!.index)).toBe('i0*784 + i1*28 + i2');
  });

  it('reshape through a misaligned intermediate and back', () => {
    const r = b.reshape(b.reshape(b.reshape(x, [Bd, 16, 49]), [Bd, 7, 112]), [Bd, 28, 28]);
    expect(P(view(r, x)!.index)).toBe('i0*784 + i1*28 + i2');
  });

  it('a permute of an aligned reshape has no div/mod', () => {
    const p = b.permute(b.reshape(x, [Bd, 28, 28]), [2, 0, 1]);
    const v = view(p, x)!;
    expect(P(v.index)).toBe('i0 + i1*784 + i2*28');
    expect(hasDivMod(v.index)).toBe(false);
  });

  it('symbolic strides: [B, T, 16] seen as [B*T, 16], [B*T*16] and [B, T*16]', () => {
    const b2 = new IRBuilder();
    const y = b2.input('x', { dtype: 'f32', shape: [Bd, Td, 16] });
    expect(P(view(b2.reshape(y, [dimMul(Bd, Td), 16]), y)!.index)).toBe('i0*16 + i1');
    expect(P(view(b2.reshape(y, [numel(y.shape)]), y)!.index)).toBe('i0');
    expect(P(view(b2.reshape(y, [Bd, dimMul(Td, 16)]), y)!.index)).toBe('i0*T*16 + i1');
    const heads = b2.permute(b2.reshape(y, [Bd, Td, 4, 4]), [0, 2, 1, 3]); // [B, 4, T, 4]
    const v = view(heads, y)!;
    expect(P(v.index)).toBe('i0*T*16 + i1*4 + i2*16 + i3');
    const back = b2.reshape(b2.permute(heads, [0, 2, 1, 3]), [Bd, Td, 16]);
    expect(P(view(back, y)!.index)).toBe('i0*T*16 + i1*16 + i2');
  });

  it('a source seen as [B*T, 16] from [B, T, 16] splits with T', () => {
    const b2 = new IRBuilder();
    const y = b2.input('x', { dtype: 'f32', shape: [dimMul(Bd, Td), 16] });
    expect(P(view(b2.reshape(y, [Bd, Td, 16]), y)!.index)).toBe('i0*T*16 + i1*16 + i2');
  });

  it('expand, slice and pad', () => {
    const b2 = new IRBuilder();
    const y = b2.input('x', { dtype: 'f32', shape: [1, 16] });
    expect(P(view(b2.expand(y, [Bd, 16]), y)!.index)).toBe('i1');
    const z = b2.input('z', { dtype: 'f32', shape: [10] });
    expect(P(view(b2.slice(z, [{ start: 1, size: 3, step: 3 }]), z)!.index)).toBe('i0*3 + 1');
    const pd = b2.pad(z, [[2, 1]], -1);
    const v = view(pd, z)!;
    expect(P(v.index)).toBe('i0 - 2');
    expect(printBool(v.valid)).toBe('2 <= i0 && i0 <= 11');
    expect(v.fill).toBe(-1);
    // slicing the padding away leaves no condition
    const inner = view(b2.slice(pd, [{ start: 2, size: 10, step: 1 }]), z)!;
    expect(P(inner.index)).toBe('i0');
    expect(inner.valid).toEqual({ k: 'true' });
  });

  it('a pad under a split reshape keeps the split exact (the padded index is in range where valid)', () => {
    const b2 = new IRBuilder();
    const y = b2.input('x', { dtype: 'f32', shape: [Bd, 784] });
    const pd = b2.reshape(
      b2.pad(y, [
        [0, 0],
        [1, 1],
      ]),
      [Bd, 2, 393],
    );
    const v = view(pd, y)!;
    expect(printBool(v.valid)).toBe('1 <= i1*393 + i2 && i1*393 + i2 <= 784');
    expect(P(v.index)).toBe('i0*784 + i1*393 + i2 - 1');
  });

  it('nested pads: same fill is a conjunction, different fills give undefined', () => {
    const b2 = new IRBuilder();
    const z = b2.input('x', { dtype: 'f32', shape: [4] });
    const same = b2.pad(b2.pad(z, [[1, 0]], 0), [[0, 2]], 0);
    const v = view(same, z)!;
    expect(printBool(v.valid)).toBe('1 <= i0 && i0 <= 4');
    checkAgainstInterpreter(same, z, new Map());
    expect(view(b2.pad(b2.pad(z, [[1, 0]], 0), [[0, 2]], 1), z)).toBeUndefined();
    // the outer pad's condition never fails: its fill does not matter
    const v2 = view(b2.slice(b2.pad(b2.pad(z, [[1, 0]], 0), [[2, 2]], 1), [{ start: 2, size: 5, step: 1 }]), z)!;
    expect(v2.fill).toBe(0);
  });

  it('stops at non-movement ops and at concat', () => {
    const b2 = new IRBuilder();
    const z = b2.input('x', { dtype: 'f32', shape: [4] });
    expect(view(b2.reshape(b2.unary('exp', z), [2, 2]), z)).toBeUndefined();
    expect(view(b2.concat([z, z], 0), z)).toBeUndefined();
    expect(P(view(z, z)!.index)).toBe('i0');
  });

  it('i32 and bool pad values are coerced like the interpreter', () => {
    const b2 = new IRBuilder();
    const z = b2.input('x', { dtype: 'i32', shape: [4] });
    expect(view(b2.pad(z, [[1, 0]], 2.7), z)!.fill).toBe(2);
  });
});

describe('concatPieces', () => {
  it('gives each operand its range along the axis and shifted index', () => {
    const b = new IRBuilder();
    const u = b.input('u', { dtype: 'f32', shape: [Bd, 2] });
    const w = b.input('w', { dtype: 'f32', shape: [Bd, 3] });
    const c = b.concat([u, w, u], 1);
    const { loops, idx } = loopsFor(c.shape, 'i');
    const pieces = concatPieces(c, idx, ctxOf(loops));
    expect(pieces.map((p) => printBool(p.valid))).toEqual(['i1 <= 1', '2 <= i1 && i1 <= 4', '5 <= i1']);
    expect(pieces.map((p) => p.idx.map(P))).toEqual([
      ['i0', 'i1'],
      ['i0', 'i1 - 2'],
      ['i0', 'i1 - 5'],
    ]);
    expect(pieces[1]!.input).toBe(w);
  });

  it('matches the interpreter, with symbolic sizes along the axis', () => {
    const b = new IRBuilder();
    const u = b.input('u', { dtype: 'f32', shape: [Bd, 2] });
    const w = b.input('w', { dtype: 'f32', shape: [dimMul(Bd, 2), 2] });
    const c = b.concat([u, w], 0); // [3B, 2]
    const { loops, idx } = loopsFor(c.shape, 'i');
    const pieces = concatPieces(c, idx, ctxOf(loops));
    for (const B of [1, 2, 3]) {
      const dims = new Map([['B', B]]);
      const ud = Array.from({ length: 2 * B }, (_, f) => f);
      const wd = Array.from({ length: 4 * B }, (_, f) => 100 + f);
      const inputs = new Map([
        ['u', tensor('f32', [B, 2], ud)],
        ['w', tensor('f32', [2 * B, 2], wd)],
      ]);
      const [want] = evaluate([c], { inputs, params: new Map(), dims });
      for (let f = 0; f < want!.data.length; f++) {
        const env = { vars: new Map(coordsOf(f, [3 * B, 2]).map((v, k) => [`i${k}`, v] as const)), dims };
        const live = pieces.filter((p) => evalBool(p.valid, env));
        expect(live).toHaveLength(1);
        const p = live[0]!;
        const at = evalIndex(flatIndex(p.input.shape, p.idx), env);
        expect((p.input === u ? ud : wd)[at]).toBe(want!.data[f]);
      }
    }
  });
});

// ---------------------------------------------------------------- random view chains

type Step = readonly [op: number, seeds: readonly number[]];

function primeFactors(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; n > 1; p++) {
    while (n % p === 0) {
      out.push(p);
      n /= p;
    }
  }
  return out;
}

/** Size of a shape with B = 3, to keep chains small. */
const sizeAt3 = (s: Shape) => evalShape(s, new Map([['B', 3]])).reduce((a, d) => a * d, 1);

/**
 * Applies random movement ops to x. Parameters come from `seeds` so that
 * fast-check can shrink them; an op that does not fit the shape is skipped.
 */
function buildChain(b: IRBuilder, x: Node, steps: readonly Step[], symbolic: boolean): Node {
  let cur = x;
  for (const [op, seeds] of steps) {
    let s = 0;
    const pick = (n: number) => (n <= 0 ? 0 : seeds[s++ % seeds.length]! % n);
    const shape = cur.shape;
    const rank = shape.length;
    let next: Node | undefined;
    switch (op) {
      case 0: {
        // reshape: regroup the prime factors (and B), sometimes in another order, with 1s sprinkled in
        const factors: Dim[] = shape.flatMap((d): Dim[] =>
          typeof d === 'number' ? primeFactors(d) : [...primeFactors(d.coef), ...d.syms.map(sym)],
        );
        if (pick(3) === 0)
          for (let k = factors.length - 1; k > 0; k--) {
            const m = pick(k + 1);
            [factors[k], factors[m]] = [factors[m]!, factors[k]!];
          }
        const out: Dim[] = [];
        let acc: Dim = 1;
        for (const [k, f] of factors.entries()) {
          acc = dimMul(acc, f);
          if (k === factors.length - 1 || pick(2) === 0) {
            out.push(acc);
            acc = 1;
            if (pick(5) === 0) out.push(1);
          }
        }
        if (out.length === 0) out.push(1);
        if (out.length <= 5) next = b.reshape(cur, out);
        break;
      }
      case 1: {
        const perm = Array.from({ length: rank }, (_, k) => k);
        for (let k = rank - 1; k > 0; k--) {
          const m = pick(k + 1);
          [perm[k], perm[m]] = [perm[m]!, perm[k]!];
        }
        next = b.permute(cur, perm);
        break;
      }
      case 2: {
        const sizes: Dim[] = symbolic ? [2, 3, Bd] : [2, 3];
        const to = shape.map((d) => (d === 1 && pick(3) > 0 ? sizes[pick(sizes.length)]! : d));
        if (sizeAt3(to) <= 400) next = b.expand(cur, to);
        break;
      }
      case 3: {
        next = b.slice(
          cur,
          shape.map((d) => {
            if (typeof d !== 'number' || pick(3) === 0) return { start: 0, size: d, step: 1 };
            const start = pick(d);
            const step = 1 + pick(3);
            const size = 1 + pick(Math.floor((d - 1 - start) / step) + 1);
            return { start, size, step };
          }),
        );
        break;
      }
      case 4: {
        const pads = shape.map((d): [number, number] =>
          typeof d !== 'number' || pick(2) === 0 ? [0, 0] : [pick(3), pick(3)],
        );
        const value = [0, -1.5][pick(2)]!;
        const p = b.pad(cur, pads, value);
        if (sizeAt3(p.shape) <= 400) next = p;
        break;
      }
    }
    if (next) cur = next;
  }
  return cur;
}

/** The distinct pad values along a chain. */
function padValues(n: Node, src: Node): Set<number> {
  const out = new Set<number>();
  for (let cur = n; cur !== src; cur = cur.inputs[0]!) if (cur.op === 'pad') out.add(cur.value);
  return out;
}

const stepsArb = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.array(fc.nat(1000), { minLength: 8, maxLength: 8 })),
  { minLength: 1, maxLength: 8 },
);

function chainProperty(startShape: fc.Arbitrary<Shape>, symbolic: boolean, bindings: readonly number[]) {
  return fc.property(startShape, stepsArb, (shape, steps) => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape });
    const node = buildChain(b, x, steps, symbolic);
    const v = view(node, x);
    if (!v) {
      // the only reason to give up on a movement chain: two different fills
      expect(padValues(node, x).size).toBeGreaterThan(1);
      return;
    }
    expect(P(v.index)).not.toContain('$');
    expect(printBool(v.valid)).not.toContain('$');
    for (const B of bindings) checkAgainstInterpreter(node, x, new Map([['B', B]]));
  });
}

describe('viewIndex against the reference interpreter', () => {
  const staticDim = fc.integer({ min: 1, max: 6 });

  it('random chains over static shapes', () => {
    fc.assert(chainProperty(fc.array(staticDim, { minLength: 1, maxLength: 3 }), false, [1]), { numRuns: 400 });
  });

  it('random chains over shapes with a symbolic dim B (B = 2 and 3)', () => {
    const shapeArb = fc
      .tuple(fc.array(staticDim, { minLength: 0, maxLength: 2 }), fc.nat(2), fc.constantFrom<Dim>(Bd, dimMul(Bd, 2)))
      .map(([dims, at, s]): Shape => {
        const out: Dim[] = [...dims];
        out.splice(Math.min(at, out.length), 0, s);
        return out;
      });
    fc.assert(chainProperty(shapeArb, true, [2, 3]), { numRuns: 400 });
  });

  it('indices of a view are simplified in the loop context', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [Bd, 6] });
    const r = b.reshape(b.permute(b.reshape(x, [Bd, 2, 3]), [0, 2, 1]), [Bd, 6]);
    const { loops, idx } = loopsFor(r.shape, 'i');
    const ctx = ctxOf(loops);
    const v = viewIndex(r, idx, (n) => n === x, ctx)!;
    expect(simplify(v.index, ctx)).toEqual(v.index);
    expect(P(v.index)).toBe('i0*6 + i1 / 2 + (i1 % 2)*3');
    checkAgainstInterpreter(r, x, new Map([['B', 2]]));
    expect(ic(0)).toEqual({ k: 'const', v: 0 });
  });
});
