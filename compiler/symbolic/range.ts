// Interval arithmetic over polynomials and the symbolic non-negativity proof.
// Symbols (dims) are >= 1 with no upper bound, so bounds are proved
// symbolically: other atoms are replaced by polynomial bounds (`t <= T - 1`)
// until only symbols remain, and the result is shown non-negative by
// substituting d = 1 + d' (all coefficients >= 0).

import { Poly } from './poly.js';

/** Inclusive bounds; either may be infinite. */
export interface Range {
  readonly lo: number;
  readonly hi: number;
}

export type Side = 'lo' | 'hi';

/** What the proofs need to know about atoms. */
export interface AtomBounds<A> {
  range(a: A): Range;
  /** A symbol: >= 1, unbounded above, kept as is in bounds. */
  isSymbol(a: A): boolean;
  symbolName(a: A): string;
  /** A polynomial bound of a non-symbol atom on one side, or undefined. */
  bound(a: A, side: Side): Poly<A> | undefined;
}

/** x * y with 0 * infinity = 0. */
export const rmul = (x: number, y: number): number => (x === 0 || y === 0 ? 0 : x * y);

export function mulRange(a: Range, b: Range): Range {
  const c = [rmul(a.lo, b.lo), rmul(a.lo, b.hi), rmul(a.hi, b.lo), rmul(a.hi, b.hi)];
  return { lo: Math.min(...c), hi: Math.max(...c) };
}

export function addRange(a: Range, b: Range): Range {
  return { lo: a.lo + b.lo, hi: a.hi + b.hi };
}

/** Floor division a div b by a positive divisor (b's bounds clamped to >= 1). */
export function divRange(a: Range, b: Range): Range {
  const blo = Math.max(1, b.lo);
  const bhi = Math.max(blo, b.hi);
  return {
    lo: a.lo >= 0 ? fdiv(a.lo, bhi) : fdiv(a.lo, blo),
    hi: a.hi >= 0 ? fdiv(a.hi, blo) : fdiv(a.hi, bhi),
  };
}

/** Floored a mod b by a positive divisor: exact when b is a constant and a stays within one period. */
export function modRange(a: Range, b: Range): Range {
  const bhi = Math.max(1, b.hi);
  if (b.lo === b.hi && Number.isFinite(a.lo) && Number.isFinite(a.hi)) {
    const n = b.lo;
    if (Math.floor(a.lo / n) === Math.floor(a.hi / n))
      return { lo: a.lo - n * Math.floor(a.lo / n), hi: a.hi - n * Math.floor(a.hi / n) };
  }
  return { lo: 0, hi: a.lo >= 0 ? Math.min(a.hi, bhi - 1) : bhi - 1 };
}

/** Floor division by y >= 1 (y may be infinite). */
export function fdiv(x: number, y: number): number {
  if (!Number.isFinite(x)) return x;
  if (y === Infinity) return x >= 0 ? 0 : -1;
  return Math.floor(x / y);
}

export function polyRange<A>(p: Poly<A>, range: (a: A) => Range): Range {
  let lo = p.c;
  let hi = p.c;
  for (const t of p.terms.values()) {
    let r: Range = { lo: t.coef, hi: t.coef };
    for (const f of t.atoms) r = mulRange(r, range(f));
    lo += r.lo;
    hi += r.hi;
  }
  return { lo, hi };
}

/** lo <= p <= hi - 1, proved. */
export function proveBetween<A>(p: Poly<A>, lo: number, hi: Poly<A>, b: AtomBounds<A>): boolean {
  return (
    proveNonNeg(p.clone().addPoly(Poly.constant(p.ring, lo), -1), b) &&
    proveNonNeg(hi.clone().addPoly(p, -1).addPoly(Poly.constant(p.ring, 1), -1), b)
  );
}

/** True only if p >= 0 for all atom values within their bounds. */
export function proveNonNeg<A>(p: Poly<A>, b: AtomBounds<A>): boolean {
  let cur = p;
  for (let depth = 0; depth < 6; depth++) {
    if (polyRange(cur, b.range).lo >= 0) return true;
    if ([...cur.terms.values()].every((t) => t.atoms.every(b.isSymbol))) return shiftedNonNeg(cur, b);
    const lower = boundPoly(cur, 'lo', b);
    if (!lower) return false;
    cur = lower;
  }
  return false;
}

/** A polynomial bound of p in which atoms other than symbols are replaced by their bounds. */
export function boundPoly<A>(p: Poly<A>, side: Side, b: AtomBounds<A>): Poly<A> | undefined {
  const out = Poly.constant(p.ring, p.c);
  for (const t of p.terms.values()) {
    if (t.atoms.every(b.isSymbol)) {
      out.add(t.coef, t.atoms);
      continue;
    }
    const pb = productBound(t.atoms, (side === 'lo') === t.coef > 0 ? 'lo' : 'hi', p, b);
    if (!pb) return undefined;
    out.addPoly(pb, t.coef);
  }
  return out;
}

/** Bound of a product of atoms; needs every atom >= 0 unless there is only one. */
function productBound<A>(fs: readonly A[], side: Side, like: Poly<A>, b: AtomBounds<A>): Poly<A> | undefined {
  if (fs.length > 1 && !fs.every((f) => b.range(f).lo >= 0)) return undefined;
  let acc = Poly.constant(like.ring, 1);
  for (const f of fs) {
    const fb = b.bound(f, side);
    if (!fb) return undefined;
    acc = Poly.mul(acc, fb);
  }
  return acc;
}

/** p over symbols only: p >= 0 for all symbols >= 1 if, with d = 1 + d', every coefficient is >= 0. */
function shiftedNonNeg<A>(p: Poly<A>, b: AtomBounds<A>): boolean {
  const acc = new Map<string, number>([['', p.c]]);
  for (const t of p.terms.values()) {
    const names = t.atoms.map((f) => (b.isSymbol(f) ? b.symbolName(f) : '?'));
    if (names.length > 12) return false;
    for (let mask = 0; mask < 1 << names.length; mask++) {
      const key = names.filter((_, i) => mask & (1 << i)).join(' ');
      acc.set(key, (acc.get(key) ?? 0) + t.coef);
    }
  }
  return [...acc.values()].every((v) => v >= 0);
}
