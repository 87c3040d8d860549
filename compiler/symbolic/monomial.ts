// Monomials `coef * atoms` and the divisor algebra over them: exact division,
// common factors, splitting a polynomial by a monomial divisor. Atoms are
// compared by their ring key; a monomial's atoms are a multiset.

import { type Atoms, Poly, type Term } from './poly.js';

export function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** a * b with the atoms in the ring's order. */
export function mulMono<A>(a: Term<A>, b: Term<A>, ring: Atoms<A>): Term<A> {
  return { coef: a.coef * b.coef, atoms: [...a.atoms, ...b.atoms].sort(ring.cmp) };
}

/** Multiset difference fs - sub, or undefined when sub is not contained in fs. */
export function subtractAtoms<A>(fs: readonly A[], sub: readonly A[], key: (a: A) => string): A[] | undefined {
  const rest = [...fs];
  for (const s of sub) {
    const k = key(s);
    const i = rest.findIndex((f) => key(f) === k);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return rest;
}

/** Multiset intersection, in a's order. */
export function intersectAtoms<A>(a: readonly A[], b: readonly A[], key: (a: A) => string): A[] {
  const rest = [...b];
  const out: A[] = [];
  for (const f of a) {
    const k = key(f);
    const i = rest.findIndex((g) => key(g) === k);
    if (i >= 0) {
      out.push(f);
      rest.splice(i, 1);
    }
  }
  return out;
}

/** a / b when exact (coefficient divides, atoms contained); undefined otherwise. */
export function divideMono<A>(a: Term<A>, b: Term<A>, key: (a: A) => string): Term<A> | undefined {
  if (a.coef % b.coef !== 0) return undefined;
  const fs = subtractAtoms(a.atoms, b.atoms, key);
  return fs && { coef: a.coef / b.coef, atoms: fs };
}

export const isOne = <A>(m: Term<A>): boolean => m.coef === 1 && m.atoms.length === 0;

/** p as a positive monomial over symbols (a positive integer counts), else undefined. */
export function asMono<A>(p: Poly<A>, isSymbol: (a: A) => boolean): Term<A> | undefined {
  if (p.terms.size === 0) return p.c > 0 && Number.isInteger(p.c) ? { coef: p.c, atoms: [] } : undefined;
  if (p.terms.size !== 1 || p.c !== 0) return undefined;
  const t = p.terms.values().next().value!;
  if (t.coef <= 0 || !t.atoms.every(isSymbol)) return undefined;
  return t;
}

/** The largest monomial dividing every term of p and d (in d's atoms). */
export function commonFactor<A>(p: Poly<A>, d: Term<A>): Term<A> {
  const key = p.ring.key;
  let coef = d.coef;
  let fs: readonly A[] = d.atoms;
  for (const t of p.terms.values()) {
    coef = gcd(coef, t.coef);
    fs = intersectAtoms(fs, t.atoms, key);
  }
  if (p.c !== 0) {
    coef = gcd(coef, p.c);
    fs = [];
  }
  return { coef, atoms: fs };
}

/** p / m for an m that divides every term (commonFactor's result). */
export function dividePoly<A>(p: Poly<A>, m: Term<A>): Poly<A> {
  const out = new Poly(p.ring);
  for (const t of p.terms.values()) out.add(t.coef / m.coef, subtractAtoms(t.atoms, m.atoms, p.ring.key)!);
  out.c += p.c / m.coef;
  return out;
}

/**
 * Splits p = d*q + r where every term of p divisible (in its atoms) by d
 * gives its truncated quotient to q; undefined when q would be 0.
 */
export function pullOut<A>(p: Poly<A>, d: Term<A>): { q: Poly<A>; r: Poly<A> } | undefined {
  const q = new Poly(p.ring);
  const r = new Poly(p.ring);
  let changed = false;
  for (const t of p.terms.values()) {
    const rest = subtractAtoms(t.atoms, d.atoms, p.ring.key);
    const k = rest ? Math.trunc(t.coef / d.coef) : 0;
    if (k !== 0) {
      q.add(k, rest!);
      changed = true;
    }
    r.add(t.coef - k * d.coef, t.atoms);
  }
  const k = d.atoms.length === 0 ? Math.trunc(p.c / d.coef) : 0;
  q.c += k;
  r.c += p.c - k * d.coef;
  changed ||= k !== 0;
  return changed ? { q, r } : undefined;
}
