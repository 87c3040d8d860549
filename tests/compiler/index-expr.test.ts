import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type IndexCtx,
  ctxOf,
  dimExpr,
  evalBool,
  evalIndex,
  iadd,
  iand,
  ic,
  idim,
  idiv,
  ifalse,
  ile,
  ilt,
  imod,
  imul,
  isFalse,
  isub,
  itrue,
  ivalue,
  ivar,
  printBool,
  printIndex,
  range,
  simplify,
  simplifyBool,
  substIndex,
} from '../../compiler/kernel/index-expr.js';
import type { IBool, IExpr, VExpr } from '../../compiler/kernel/kir.js';
import { flatIndex, unflatten } from '../../compiler/kernel/view.js';
import { type Dim, type Shape, sym } from '../../compiler/types.js';

const P = printIndex;
const a = ivar('a');
const b = ivar('b');
const c = ivar('c');
const k = ivar('k');
const z = ivar('z');
const i = ivar('i');
const t = ivar('t');
const j = ivar('j');
const x = ivar('x'); // unbounded: not in ctx
const T = idim('T');
const B = idim('B');
const n = (v: number) => ic(v);

/** a<10, b<784, c<5, k<8, z<2, i<B, t<T, j<16. */
const ctx: IndexCtx = ctxOf([
  { name: 'a', extent: 10 },
  { name: 'b', extent: 784 },
  { name: 'c', extent: 5 },
  { name: 'k', extent: 8 },
  { name: 'z', extent: 2 },
  { name: 'i', extent: sym('B') },
  { name: 't', extent: sym('T') },
  { name: 'j', extent: 16 },
]);

const sum = (...es: IExpr[]) => es.reduce((acc, e) => iadd(acc, e), ic(0));
const prod = (...es: IExpr[]) => es.reduce((acc, e) => imul(acc, e), ic(1));

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

describe('canonical forms', () => {
  it('folds constants and orders sums with the constant last', () => {
    expect(P(iadd(n(3), iadd(b, a)))).toBe('a + b + 3');
    expect(iadd(a, b)).toEqual(iadd(b, a));
    expect(P(iadd(iadd(n(2), a), n(-2)))).toBe('a');
    expect(P(imul(n(3), n(4)))).toBe('12');
    expect(P(imul(n(2), imul(a, n(3))))).toBe('a*6');
  });

  it('applies x*0 = 0, x*1 = x, x+0 = x, and merges like terms', () => {
    expect(imul(a, n(0))).toEqual(n(0));
    expect(imul(a, n(1))).toEqual(a);
    expect(iadd(a, n(0))).toEqual(a);
    expect(P(iadd(a, a))).toBe('a*2');
    expect(P(isub(a, a))).toBe('0');
  });

  it('distributes products over sums', () => {
    expect(P(imul(iadd(a, n(1)), n(2)))).toBe('a*2 + 2');
    expect(P(imul(iadd(i, n(1)), T))).toBe('i*T + T');
    expect(imul(iadd(a, b), c)).toEqual(iadd(imul(c, b), imul(a, c)));
  });

  it('orders factors: variables, dims, div, mod, coefficient last', () => {
    expect(P(prod(n(16), T, idiv(x, n(3)), i))).toBe('i*T*(x / 3)*16');
    expect(P(dimExpr({ coef: 2, syms: ['B', 'T'] }))).toBe('B*T*2');
    expect(P(dimExpr(7))).toBe('7');
  });

  it('prints C-like with minimal parentheses', () => {
    expect(P(isub(a, b))).toBe('a - b');
    expect(P(imul(a, n(-1)))).toBe('-a');
    expect(P(isub(n(0), imul(a, n(3))))).toBe('-a*3');
    expect(P(idiv(iadd(a, n(1)), n(4)))).toBe('(a + 1) / 4');
    expect(P(imod(idiv(x, n(4)), n(7)))).toBe('x / 4 % 7');
    expect(P(imul(idiv(x, n(4)), n(3)))).toBe('(x / 4)*3');
    expect(P(idiv(x, imul(T, n(16))))).toBe('x / (T*16)');
    expect(P(isub(a, n(1)))).toBe('a - 1');
    expect(P({ k: 'div', a: { k: 'mul', a, b: n(3) }, b: n(4) })).toBe('a*3 / 4');
    expect(P({ k: 'mul', a, b: { k: 'add', a: b, b: n(1) } })).toBe('a*(b + 1)');
    expect(P({ k: 'add', a, b: { k: 'add', a: b, b: c } })).toBe('a + (b + c)');
    expect(P({ k: 'div', a: n(-7), b: n(2) })).toBe('-7 / 2');
  });
});

describe('div/mod rules', () => {
  it('x div 1 = x, x mod 1 = 0, constants fold with floor semantics', () => {
    expect(idiv(x, n(1))).toEqual(x);
    expect(imod(x, n(1))).toEqual(n(0));
    expect(idiv(n(-7), n(2))).toEqual(n(-4));
    expect(imod(n(-7), n(2))).toEqual(n(1));
    expect(idiv(n(0), T)).toEqual(n(0));
  });

  it('(a*784 + b) div 784 = a and mod = b when 0 <= b < 784', () => {
    const e = iadd(imul(a, n(784)), b);
    expect(P(e)).toBe('a*784 + b');
    expect(P(idiv(e, n(784), ctx))).toBe('a');
    expect(P(imod(e, n(784), ctx))).toBe('b');
    // without bounds only the exact part is pulled out
    expect(P(idiv(e, n(784)))).toBe('a + b / 784');
    expect(P(imod(e, n(784)))).toBe('b % 784');
    // b may reach 784 when it has no bound: stays
    expect(P(simplify(idiv(iadd(imul(a, n(784)), x), n(784)), ctx))).toBe('a + x / 784');
  });

  it('(x mod n) mod n = x mod n, and (x mod n*k) mod n = x mod n', () => {
    expect(P(imod(imod(x, n(28)), n(28)))).toBe('x % 28');
    expect(P(imod(imod(x, n(56)), n(28)))).toBe('x % 28');
    expect(P(imod(imod(x, imul(T, n(4))), T))).toBe('x % T');
  });

  it('x div n = 0 and x mod n = x when 0 <= x < n', () => {
    expect(idiv(b, n(784), ctx)).toEqual(n(0));
    expect(imod(b, n(784), ctx)).toEqual(b);
    expect(P(idiv(b, n(783), ctx))).toBe('b / 783');
    expect(idiv(imod(x, n(28)), n(28), ctx)).toEqual(n(0));
    expect(idiv(t, T, ctx)).toEqual(n(0));
    expect(imod(t, T, ctx)).toEqual(t);
    expect(P(imod(t, B, ctx))).toBe('t % B');
  });

  it('(a*k*n) div n = a*k, also with symbolic n', () => {
    expect(P(idiv(imul(a, n(6 * 28)), n(28)))).toBe('a*6');
    expect(P(idiv(prod(a, T, n(4)), T))).toBe('a*4');
    expect(P(idiv(prod(a, T, B), imul(B, T)))).toBe('a');
    expect(imod(prod(a, T, n(4)), T)).toEqual(n(0));
  });

  it('common factors cancel: (g*x) div (g*m) = x div m, (g*x) mod (g*m) = g*(x mod m)', () => {
    expect(P(idiv(imul(x, n(6)), n(8)))).toBe('x*3 / 4');
    expect(P(imod(imul(x, n(6)), n(8)))).toBe('(x*3 % 4)*2');
    expect(P(idiv(imul(x, n(6)), n(4)))).toBe('x + x / 2');
    expect(P(idiv(imul(x, T), imul(T, n(3))))).toBe('x / 3');
  });

  it('nested (x div a) div b = x div (a*b)', () => {
    expect(P(idiv(idiv(x, n(4)), n(7)))).toBe('x / 28');
    expect(P(idiv(idiv(x, T), n(4)))).toBe('x / (T*4)');
  });

  it('(x mod (a*b)) div a = (x div a) mod b', () => {
    expect(P(idiv(imod(x, n(112)), n(28)))).toBe('x / 28 % 4');
    expect(P(idiv(imod(x, imul(T, n(16))), n(16)))).toBe('x / 16 % T');
  });

  it('pulls terms divisible by the divisor out of sums', () => {
    const e = sum(imul(a, n(28)), prod(c, n(28), n(5)), k);
    expect(P(idiv(e, n(28), ctx))).toBe('a + c*5');
    expect(P(imod(e, n(28), ctx))).toBe('k');
    expect(P(idiv(sum(imul(a, n(30)), x), n(28)))).toBe('a + (a*2 + x) / 28');
    expect(P(idiv(iadd(x, n(30)), n(28)))).toBe('(x + 2) / 28 + 1');
    expect(P(imod(iadd(x, n(30)), n(28)))).toBe('(x + 2) % 28');
  });

  it('symbolic divisors: (i*T + t) div T = i, mod = t', () => {
    const e = iadd(imul(i, T), t);
    expect(P(idiv(e, T, ctx))).toBe('i');
    expect(P(imod(e, T, ctx))).toBe('t');
    const f = sum(prod(i, T, n(16)), imul(t, n(16)), j); // [B, T, 16] row-major
    expect(P(idiv(f, n(16), ctx))).toBe('i*T + t');
    expect(P(imod(f, n(16), ctx))).toBe('j');
    expect(P(idiv(f, imul(T, n(16)), ctx))).toBe('i');
    expect(P(imod(idiv(f, n(16), ctx), T, ctx))).toBe('t');
    expect(P(imod(f, imul(T, n(16)), ctx))).toBe('j + t*16');
    // T divides both i*T and 2*T, and t < T: the pair halves
    expect(P(idiv(e, imul(T, n(2)), ctx))).toBe('i / 2');
    expect(P(imod(e, imul(T, n(2)), ctx))).toBe('t + T*(i % 2)');
    // without bounds on t nothing is known
    expect(P(idiv(e, imul(T, n(2))))).toBe('(i*T + t) / (T*2)');
  });

  it('a common factor of terms and divisor with a small remainder: (a*8 + k) div 16 = a div 2', () => {
    const e = iadd(imul(a, n(8)), k);
    expect(P(idiv(e, n(16), ctx))).toBe('a / 2');
    expect(P(imod(e, n(16), ctx))).toBe('k + (a % 2)*8');
    const s = sum(prod(i, T, n(4)), t); // split of a T-sized block
    expect(P(idiv(s, imul(T, n(2)), ctx))).toBe('i*2');
  });

  it('a range inside one quotient bucket folds: (z - 3) div 8 = -1', () => {
    expect(P(idiv(isub(z, n(3)), n(8), ctx))).toBe('-1');
    expect(P(imod(isub(z, n(3)), n(8), ctx))).toBe('z + 5');
  });

  it('recombines unflatten-then-flatten', () => {
    expect(iadd(imul(idiv(x, n(28)), n(28)), imod(x, n(28)))).toEqual(x);
    expect(P(iadd(imul(imod(idiv(x, n(28)), n(4)), n(28)), imod(x, n(28))))).toBe('x % 112');
    expect(iadd(imul(idiv(x, T), T), imod(x, T))).toEqual(x);
    expect(P(sum(imul(idiv(x, n(4)), n(8)), imul(imod(x, n(4)), n(2)), a))).toBe('a + x*2');
    // not a pair: coefficients do not match
    expect(P(iadd(imul(idiv(x, n(28)), n(27)), imod(x, n(28))))).toBe('(x / 28)*27 + x % 28');
  });

  it('never rewrites without proof', () => {
    expect(P(simplify(idiv(iadd(a, n(1)), n(2)), ctx))).toBe('(a + 1) / 2');
    expect(P(simplify(idiv(b, iadd(T, n(1))), ctx))).toBe('b / (T + 1)');
    expect(P(simplify(imod(i, T), ctx))).toBe('i % T');
    expect(P(simplify(idiv(x, n(28)), ctx))).toBe('x / 28');
  });

  it('simplify rewrites hand-built trees bottom-up', () => {
    const raw: IExpr = {
      k: 'div',
      a: { k: 'add', a: { k: 'mul', a: n(784), b: a }, b: { k: 'add', a: b, b: n(0) } },
      b: n(784),
    };
    expect(simplify(raw, ctx)).toEqual(a);
    const sym3: IExpr = { k: 'mod', a: { k: 'add', a: t, b: { k: 'mul', a: T, b: i } }, b: T };
    expect(simplify(sym3, ctx)).toEqual(t);
  });
});

describe('range', () => {
  it('bounds loop variables, dims and arithmetic', () => {
    expect(range(iadd(imul(a, n(784)), b), ctx)).toEqual({ lo: 0, hi: 9 * 784 + 783 });
    expect(range(T, ctx)).toEqual({ lo: 1, hi: Infinity });
    expect(range(iadd(imul(i, T), t), ctx)).toEqual({ lo: 0, hi: Infinity });
    expect(range(x, ctx)).toEqual({ lo: -Infinity, hi: Infinity });
    expect(range(isub(n(3), b), ctx)).toEqual({ lo: -780, hi: 3 });
  });

  it('bounds div, mod and value', () => {
    expect(range(idiv(b, n(28)), ctx)).toEqual({ lo: 0, hi: 27 });
    expect(range(imod(b, n(28)), ctx)).toEqual({ lo: 0, hi: 27 });
    expect(range(imod(k, n(28)), ctx)).toEqual({ lo: 0, hi: 7 });
    expect(range({ k: 'mod', a: iadd(k, n(8)), b: n(32) }, ctx)).toEqual({ lo: 8, hi: 15 });
    expect(range({ k: 'div', a: isub(a, n(5)), b: n(2) }, ctx)).toEqual({ lo: -3, hi: 2 });
    expect(range({ k: 'div', a: isub(a, n(5)), b: T }, ctx)).toEqual({ lo: -5, hi: 4 });
    expect(range(imod(x, T), ctx)).toEqual({ lo: 0, hi: Infinity });
    const v: VExpr = { k: 'const', v: 3, dtype: 'i32' };
    expect(range(ivalue(v, n(10)), ctx)).toEqual({ lo: 0, hi: 9 });
  });

  it('takes symbolic extents as IExpr or Dim', () => {
    const c2 = ctxOf([
      { name: 'u', extent: { coef: 2, syms: ['B'] } },
      { name: 'w', extent: 4 },
    ]);
    expect(range(ivar('u'), c2)).toEqual({ lo: 0, hi: Infinity });
    const c3: IndexCtx = { extents: new Map([['u', iadd(ivar('w'), n(1))]]) };
    expect(range(ivar('u'), ctxOf([{ name: 'w', extent: 4 }], c3))).toEqual({ lo: 0, hi: 3 });
  });
});

describe('conditions', () => {
  it('canonical le: constant on one side, coefficients coprime', () => {
    expect(printBool(ile(n(1), b))).toBe('1 <= b');
    expect(printBool(ile(b, n(28)))).toBe('b <= 28');
    expect(printBool(ile(iadd(b, n(1)), n(29)))).toBe('b <= 28');
    expect(printBool(ile(imul(b, n(2)), n(5)))).toBe('b <= 2');
    expect(printBool(ile(n(3), imul(b, n(2))))).toBe('2 <= b');
    expect(printBool(ilt(b, n(28)))).toBe('b <= 27');
    expect(printBool(ile(b, a))).toBe('0 <= a - b');
    expect(ile(n(2), n(3))).toEqual(itrue);
    expect(ile(n(3), n(2))).toEqual(ifalse);
    expect(printBool(ifalse)).toBe('false');
    expect(isFalse(ile(n(3), n(2)))).toBe(true);
  });

  it('and: flattens, merges bounds of one expression, drops true, false absorbs', () => {
    const e = iand(iand(ile(n(1), b), ile(n(2), b)), iand(ile(b, n(5)), ile(b, n(3))));
    expect(printBool(e)).toBe('2 <= b && b <= 3');
    expect(iand(itrue, ile(n(1), b))).toEqual(ile(n(1), b));
    expect(iand(ile(n(4), b), ile(b, n(3)))).toEqual(ifalse);
    expect(iand(ile(n(1), b), ifalse)).toEqual(ifalse);
    expect(printBool(iand(ile(n(1), b), ile(n(1), a)))).toBe('1 <= b && 1 <= a');
  });

  it('simplifyBool drops what always holds and finds the impossible', () => {
    expect(simplifyBool(ile(n(0), b), ctx)).toEqual(itrue);
    expect(simplifyBool(ile(b, n(783)), ctx)).toEqual(itrue);
    expect(simplifyBool(ile(n(800), b), ctx)).toEqual(ifalse);
    expect(printBool(simplifyBool(iand(ile(n(0), b), ile(b, n(700))), ctx))).toBe('b <= 700');
    expect(simplifyBool(ile(t, isub(T, n(1))), ctx)).toEqual(itrue);
    expect(simplifyBool(ilt(iadd(imul(i, T), t), imul(B, T)), ctx)).toEqual(itrue);
    expect(simplifyBool(ile(T, t), ctx)).toEqual(ifalse);
    expect(printBool(simplifyBool(ile(n(1), t), ctx))).toBe('1 <= t');
  });
});

describe('evaluation', () => {
  const env = {
    vars: new Map([
      ['a', 3],
      ['b', 10],
    ]),
    dims: new Map([['T', 4]]),
  };

  it('uses floor division and floored modulo', () => {
    expect(evalIndex({ k: 'div', a: n(-7), b: n(2) }, env)).toBe(-4);
    expect(evalIndex({ k: 'mod', a: n(-7), b: n(2) }, env)).toBe(1);
    expect(evalIndex(iadd(imul(a, T), b), env)).toBe(22);
    expect(evalBool(iand(ile(n(1), a), ile(a, n(2))), env)).toBe(false);
    expect(evalBool(itrue, env)).toBe(true);
  });

  it('clamps data-dependent indices and reports unbound names', () => {
    const v: VExpr = { k: 'scalar', name: 's', dtype: 'i32' };
    expect(evalIndex(ivalue(v, n(5)), { ...env, value: () => 9 })).toBe(4);
    expect(evalIndex(ivalue(v, n(5)), { ...env, value: () => -2 })).toBe(0);
    expect(() => evalIndex(ivalue(v, n(5)), env)).toThrow(/env.value/);
    expect(() => evalIndex(c, env)).toThrow(/unbound index var 'c'/);
    expect(P(ivalue(v, T))).toBe('clamp($s, T)');
  });
});

// ---------------------------------------------------------------- properties

/** Variables with extents (some symbolic) and dims for random expressions. */
const VARS: readonly [string, Dim][] = [
  ['p', 5],
  ['q', 7],
  ['r', 1],
  ['s', sym('T')],
  ['u', { coef: 3, syms: ['B'] }],
  ['v', { coef: 1, syms: ['B', 'T'] }],
];
const pctx = ctxOf(VARS.map(([name, extent]) => ({ name, extent })));

const divisorArb: fc.Arbitrary<IExpr> = fc.oneof(
  fc.integer({ min: 1, max: 12 }).map((v) => n(v)),
  fc.constantFrom<IExpr>(
    T,
    B,
    imul(T, n(2)),
    imul(B, T),
    imul(B, n(4)),
    imul(T, n(16)),
    { k: 'add', a: T, b: n(1) }, // positive, but not a monomial
  ),
);

const { expr: exprArb } = fc.letrec<{ expr: IExpr; leaf: IExpr }>((tie) => ({
  leaf: fc.oneof(
    fc.constantFrom(...VARS.map(([name]) => ivar(name))),
    fc.constantFrom(T, B),
    fc.integer({ min: -10, max: 40 }).map((v) => n(v)),
  ),
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.tuple(tie('expr'), tie('expr')).map(([x1, x2]): IExpr => ({ k: 'add', a: x1, b: x2 })),
    fc.tuple(tie('expr'), tie('leaf')).map(([x1, x2]): IExpr => ({ k: 'mul', a: x1, b: x2 })),
    fc
      .tuple(tie('expr'), fc.constantFrom(...VARS.map(([name]) => ivar(name))), divisorArb)
      // strided sums like those views produce: e*d + var
      .map(([x1, v, d]): IExpr => ({ k: 'add', a: { k: 'mul', a: x1, b: d }, b: v })),
    fc.tuple(tie('expr'), divisorArb).map(([x1, d]): IExpr => ({ k: 'div', a: x1, b: d })),
    fc.tuple(tie('expr'), divisorArb).map(([x1, d]): IExpr => ({ k: 'mod', a: x1, b: d })),
  ),
}));

const envArb = fc.record({ T: fc.integer({ min: 1, max: 6 }), B: fc.integer({ min: 1, max: 4 }) }).chain((dims) => {
  const ext = (d: Dim) => (typeof d === 'number' ? d : d.syms.reduce((acc, s) => acc * dims[s as 'T' | 'B'], d.coef));
  return fc.tuple(...VARS.map(([, d]) => fc.integer({ min: 0, max: ext(d) - 1 }))).map((vals) => ({
    vars: new Map(VARS.map(([name], idx) => [name, vals[idx]!] as const)),
    dims: new Map(Object.entries(dims)),
  }));
});

describe('properties', () => {
  it('simplify and the constructors never change a value (variables within their extents)', () => {
    fc.assert(
      fc.property(exprArb, fc.array(envArb, { minLength: 4, maxLength: 4 }), (e, envs) => {
        const s = simplify(e, pctx);
        const canon = substIndex(e, new Map());
        for (const env of envs) {
          const want = evalIndex(e, env);
          expect(evalIndex(s, env)).toBe(want);
          expect(evalIndex(canon, env)).toBe(want);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('simplified expressions print the same however they were built', () => {
    fc.assert(
      fc.property(exprArb, exprArb, (e1, e2) => {
        const s1 = simplify({ k: 'add', a: e1, b: e2 }, pctx);
        const s2 = simplify({ k: 'add', a: e2, b: e1 }, pctx);
        expect(P(s1)).toBe(P(s2));
      }),
      { numRuns: 500 },
    );
  });

  it('range contains every value', () => {
    fc.assert(
      fc.property(exprArb, envArb, (e, env) => {
        const r = range(e, pctx);
        const v = evalIndex(e, env);
        expect(v).toBeGreaterThanOrEqual(r.lo);
        expect(v).toBeLessThanOrEqual(r.hi);
      }),
      { numRuns: 500 },
    );
  });

  const boolArb: fc.Arbitrary<IBool> = fc.letrec<{ b: IBool }>((tie) => ({
    b: fc.oneof(
      { depthSize: 'small' },
      fc.tuple(exprArb, exprArb).map(([x1, x2]): IBool => ({ k: 'le', a: x1, b: x2 })),
      fc.constant<IBool>(itrue),
      fc.tuple(tie('b'), tie('b')).map(([x1, x2]): IBool => ({ k: 'and', a: x1, b: x2 })),
    ),
  })).b;

  it('simplifyBool and iand never change a condition', () => {
    fc.assert(
      fc.property(boolArb, fc.array(envArb, { minLength: 3, maxLength: 3 }), (c0, envs) => {
        const s = simplifyBool(c0, pctx);
        const merged = iand(c0, itrue);
        for (const env of envs) {
          const want = evalBool(c0, env);
          expect(evalBool(s, env)).toBe(want);
          expect(evalBool(merged, env)).toBe(want);
        }
      }),
      { numRuns: 500 },
    );
  });

  const dimArb = fc.constantFrom<Dim>(1, 2, 3, 5, 16, sym('T'), sym('B'), { coef: 2, syms: ['B'] });
  const shapeArb = fc.array(dimArb, { minLength: 1, maxLength: 4 });

  it('unflatten of a row-major flat index gives back each index exactly (symbolic strides)', () => {
    fc.assert(
      fc.property(shapeArb, (shape: Shape) => {
        const loops = shape.map((d, m) => ({ name: `i${m}`, extent: d }));
        const c2 = ctxOf(loops);
        const idx = shape.map((d, m) => (d === 1 ? n(0) : ivar(`i${m}`)));
        const coords = unflatten(shape, simplify(flatIndex(shape, idx), c2), c2);
        expect(coords.map(P)).toEqual(idx.map(P));
      }),
      { numRuns: 500 },
    );
  });

  it('flattening an unflattened index gives back the flat index exactly', () => {
    fc.assert(
      fc.property(shapeArb, (shape: Shape) => {
        const total = shape.reduce<IExpr>((acc, d) => imul(acc, dimExpr(d)), n(1));
        const c2: IndexCtx = { extents: new Map([['f', total]]) };
        const f = ivar('f');
        const back = simplify(flatIndex(shape, unflatten(shape, f, c2)), c2);
        expect(P(back)).toBe(shape.every((d) => d === 1) ? '0' : 'f');
        expect(hasDivMod(back)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
