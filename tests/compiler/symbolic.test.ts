// compiler/symbolic/: the shared polynomial arithmetic, over plain string
// atoms (the same ring dims use), independent of its users.

import { describe, expect, it } from 'vitest';
import { formatMono, formatSum } from '../../compiler/symbolic/format.js';
import {
  asMono,
  commonFactor,
  divideMono,
  dividePoly,
  gcd,
  intersectAtoms,
  mulMono,
  pullOut,
  subtractAtoms,
} from '../../compiler/symbolic/monomial.js';
import { type Atoms, Poly, evalMono, productTerms, sumTerms } from '../../compiler/symbolic/poly.js';
import {
  type AtomBounds,
  addRange,
  divRange,
  fdiv,
  modRange,
  mulRange,
  polyRange,
  proveBetween,
  proveNonNeg,
} from '../../compiler/symbolic/range.js';

const S: Atoms<string> = { key: (s) => s, cmp: (a, b) => (a < b ? -1 : a > b ? 1 : 0) };
const id = (s: string) => s;

/** A polynomial from [coef, ...atoms] terms plus a constant. */
function P(c: number, ...terms: [number, ...string[]][]): Poly<string> {
  const p = Poly.constant(S, c);
  for (const [coef, ...atoms] of terms) p.add(coef, atoms);
  return p;
}
const show = (p: Poly<string>) => [...p.sorted().map((t) => `${t.coef}*${t.atoms.join('*')}`), String(p.c)].join(' + ');

describe('Poly', () => {
  it('merges like terms whatever the atom order, and drops cancelled ones', () => {
    const p = P(1, [2, 'B', 'T'], [3, 'T', 'B'], [1, 'A']);
    expect(show(p)).toBe('1*A + 5*B*T + 1');
    p.add(-1, ['A']);
    expect(p.terms.size).toBe(1);
    expect(P(0).isZero()).toBe(true);
    expect(
      P(0, [1, 'B'])
        .addPoly(P(0, [1, 'B']), -1)
        .isZero(),
    ).toBe(true);
  });

  it('multiplies (distributing over sums) and leaves its factors alone', () => {
    const a = P(1, [1, 'B']);
    const b = P(-1, [1, 'B']);
    expect(show(Poly.mul(a, b))).toBe('1*B*B + -1');
    expect(show(a)).toBe('1*B + 1');
    expect(show(P(2, [3, 'T']).mulTerm(2, ['B']))).toBe('4*B + 6*B*T + 0');
  });

  it('evaluates monomials left to right', () => {
    expect(evalMono(3, ['B', 'T'], (s) => (s === 'B' ? 2 : 5))).toBe(30);
  });
});

describe('term lists', () => {
  it('sum like terms in order of first appearance', () => {
    const key = (t: { atoms: readonly string[] }) => [...t.atoms].sort().join(' ');
    const ts = sumTerms(
      [
        { coef: 1, atoms: ['T'] },
        { coef: 2, atoms: ['B'] },
        { coef: -1, atoms: ['T'] },
        { coef: 1, atoms: ['B'] },
      ],
      key,
    );
    expect(ts).toEqual([{ coef: 3, atoms: ['B'] }]);
  });

  it('multiply as cross products, then constants', () => {
    const out = productTerms([{ coef: 2, atoms: ['A'] }], 1, [{ coef: 3, atoms: ['B'] }], 5);
    expect(out).toEqual([
      { coef: 6, atoms: ['A', 'B'] },
      { coef: 10, atoms: ['A'] },
      { coef: 3, atoms: ['B'] },
    ]);
  });
});

describe('monomials', () => {
  it('multiply, divide exactly, and refuse inexact division', () => {
    expect(mulMono({ coef: 2, atoms: ['T'] }, { coef: 3, atoms: ['B'] }, S)).toEqual({ coef: 6, atoms: ['B', 'T'] });
    expect(divideMono({ coef: 6, atoms: ['B', 'T'] }, { coef: 2, atoms: ['T'] }, id)).toEqual({
      coef: 3,
      atoms: ['B'],
    });
    expect(divideMono({ coef: 6, atoms: ['B'] }, { coef: 4, atoms: [] }, id)).toBeUndefined();
    expect(divideMono({ coef: 6, atoms: ['B'] }, { coef: 2, atoms: ['T'] }, id)).toBeUndefined();
    expect(divideMono({ coef: 6, atoms: ['B'] }, { coef: 0, atoms: [] }, id)).toBeUndefined();
  });

  it('take multiset differences and intersections', () => {
    expect(subtractAtoms(['B', 'B', 'T'], ['B'], id)).toEqual(['B', 'T']);
    expect(subtractAtoms(['B'], ['B', 'B'], id)).toBeUndefined();
    expect(intersectAtoms(['B', 'B', 'T'], ['T', 'B', 'C'], id)).toEqual(['B', 'T']);
    expect(gcd(-12, 18)).toBe(6);
  });

  it('find common factors and split by a divisor', () => {
    const p = P(0, [4, 'B', 'T'], [6, 'B']);
    const g = commonFactor(p, { coef: 8, atoms: ['B'] });
    expect(g).toEqual({ coef: 2, atoms: ['B'] });
    expect(show(dividePoly(p, g))).toBe('2*T + 3');
    const split = pullOut(P(3, [5, 'B'], [1, 'T']), { coef: 2, atoms: ['B'] })!;
    expect(show(split.q)).toBe('2');
    expect(show(split.r)).toBe('1*B + 1*T + 3');
    expect(pullOut(P(1, [1, 'T']), { coef: 2, atoms: ['B'] })).toBeUndefined();
    expect(asMono(P(0, [3, 'B']), () => true)).toEqual({ coef: 3, atoms: ['B'] });
    expect(asMono(P(1, [3, 'B']), () => true)).toBeUndefined();
    expect(asMono(P(0, [-3, 'B']), () => true)).toBeUndefined();
  });
});

describe('ranges and proofs', () => {
  // Symbols are upper-case (>= 1); `i` ranges over [0, N - 1].
  const bounds: AtomBounds<string> = {
    range: (a) => (a === 'i' ? { lo: 0, hi: Infinity } : { lo: 1, hi: Infinity }),
    isSymbol: (a) => a !== 'i',
    symbolName: (a) => a,
    bound: (a, side) => (a !== 'i' ? P(0, [1, a]) : side === 'lo' ? P(0) : P(-1, [1, 'N'])),
  };

  it('interval products treat 0 * infinity as 0, floor division by infinity', () => {
    expect(mulRange({ lo: 0, hi: 2 }, { lo: 1, hi: Infinity })).toEqual({ lo: 0, hi: Infinity });
    expect(fdiv(5, Infinity)).toBe(0);
    expect(fdiv(-5, Infinity)).toBe(-1);
    expect(polyRange(P(-1, [2, 'B']), bounds.range)).toEqual({ lo: 1, hi: Infinity });
  });

  it('bound sums, floor quotients and floored remainders', () => {
    expect(addRange({ lo: -1, hi: 2 }, { lo: 3, hi: Infinity })).toEqual({ lo: 2, hi: Infinity });
    expect(divRange({ lo: -7, hi: 9 }, { lo: 2, hi: 4 })).toEqual({ lo: -4, hi: 4 });
    expect(divRange({ lo: 0, hi: 9 }, { lo: 1, hi: Infinity })).toEqual({ lo: 0, hi: 9 });
    expect(modRange({ lo: 5, hi: 7 }, { lo: 4, hi: 4 })).toEqual({ lo: 1, hi: 3 }); // one period: exact
    expect(modRange({ lo: 3, hi: 5 }, { lo: 4, hi: 4 })).toEqual({ lo: 0, hi: 3 });
    expect(modRange({ lo: 0, hi: 2 }, { lo: 1, hi: 10 })).toEqual({ lo: 0, hi: 2 });
    expect(modRange({ lo: -5, hi: 2 }, { lo: 1, hi: 10 })).toEqual({ lo: 0, hi: 9 });
  });

  it('prove bounds symbolically, and only true ones', () => {
    expect(proveNonNeg(P(-1, [1, 'B']), bounds)).toBe(true); // B - 1 >= 0
    expect(proveNonNeg(P(0, [1, 'B', 'T'], [-1, 'B']), bounds)).toBe(true); // B*T - B >= 0
    expect(proveNonNeg(P(-2, [1, 'B']), bounds)).toBe(false);
    expect(proveBetween(P(0, [1, 'i']), 0, P(0, [1, 'N']), bounds)).toBe(true); // 0 <= i < N
    expect(proveBetween(P(1, [1, 'i']), 0, P(0, [1, 'N']), bounds)).toBe(false); // i + 1 < N fails at i = N - 1
  });
});

describe('format', () => {
  it('prints monomials and sums as dims and byte counts do', () => {
    expect(formatMono(1, ['B', 'T'])).toBe('B*T');
    expect(formatMono(2, ['B'])).toBe('2*B');
    expect(formatMono(7, [])).toBe('7');
    expect(formatSum([])).toBe('0');
    expect(
      formatSum([
        { coef: -3, names: ['B'] },
        { coef: -1, names: [] },
      ]),
    ).toBe('-3*B - 1');
  });
});
