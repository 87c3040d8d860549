// Polynomials with integer coefficients over atoms of any kind. An `Atoms`
// ring says how atoms are keyed (equal keys: equal atoms) and ordered; a term
// is `coef * atoms` with the atoms a multiset (repetition for powers).

export interface Term<A> {
  readonly coef: number;
  readonly atoms: readonly A[];
}

export interface Atoms<A> {
  key(a: A): string;
  /** The canonical order of atoms within a term. */
  cmp(a: A, b: A): number;
}

/** The key of a term's atoms (sorted): equal iff the multisets are equal. */
export function atomsKey<A>(sorted: readonly A[], ring: Atoms<A>): string {
  return sorted.map((a) => ring.key(a)).join(' ');
}

/**
 * A canonical polynomial: like terms merged as they are added (a term whose
 * coefficient reaches 0 is dropped), atoms sorted, the constant apart.
 * Mutable while being built; callers that share one never mutate it.
 */
export class Poly<A> {
  readonly terms = new Map<string, Term<A>>();
  c = 0;

  constructor(readonly ring: Atoms<A>) {}

  static constant<A>(ring: Atoms<A>, c: number): Poly<A> {
    const p = new Poly(ring);
    p.c = c;
    return p;
  }

  static mul<A>(a: Poly<A>, b: Poly<A>): Poly<A> {
    const out = new Poly(a.ring);
    out.c = a.c * b.c;
    for (const t of a.terms.values()) out.addPoly(b.mulTerm(t.coef, t.atoms));
    if (a.c !== 0) for (const t of b.terms.values()) out.add(t.coef * a.c, t.atoms);
    return out;
  }

  clone(): Poly<A> {
    const p = new Poly(this.ring);
    for (const [k, t] of this.terms) p.terms.set(k, t);
    p.c = this.c;
    return p;
  }

  add(coef: number, atoms: readonly A[]): this {
    if (coef === 0) return this;
    if (atoms.length === 0) {
      this.c += coef;
      return this;
    }
    const fs = [...atoms].sort(this.ring.cmp);
    const key = atomsKey(fs, this.ring);
    const v = (this.terms.get(key)?.coef ?? 0) + coef;
    if (v === 0) this.terms.delete(key);
    else this.terms.set(key, { coef: v, atoms: fs });
    return this;
  }

  addPoly(p: Poly<A>, scale = 1): this {
    for (const t of p.terms.values()) this.add(t.coef * scale, t.atoms);
    this.c += p.c * scale;
    return this;
  }

  /** This times coef * atoms. */
  mulTerm(coef: number, atoms: readonly A[]): Poly<A> {
    const out = new Poly(this.ring);
    for (const t of this.terms.values()) out.add(t.coef * coef, [...t.atoms, ...atoms]);
    out.add(this.c * coef, atoms);
    return out;
  }

  isZero(): boolean {
    return this.c === 0 && this.terms.size === 0;
  }

  /** The terms in the canonical order: atom by atom, then shorter first. */
  sorted(): Term<A>[] {
    return [...this.terms.values()].sort((x, y) => termCmp(x, y, this.ring));
  }
}

export function termCmp<A>(a: Term<A>, b: Term<A>, ring: Atoms<A>): number {
  const n = Math.min(a.atoms.length, b.atoms.length);
  for (let i = 0; i < n; i++) {
    const c = ring.cmp(a.atoms[i]!, b.atoms[i]!);
    if (c !== 0) return c;
  }
  return a.atoms.length - b.atoms.length;
}

// ---------------------------------------------------------------- term lists

/**
 * Like terms of a list merged, in order of first appearance (each keeps the
 * last of its terms' other fields), zero terms dropped: the normal form of
 * the polynomial views that keep terms as plain arrays.
 */
export function sumTerms<T extends { readonly coef: number }>(terms: Iterable<T>, key: (t: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const t of terms) {
    const k = key(t);
    const have = byKey.get(k);
    byKey.set(k, { ...t, coef: (have?.coef ?? 0) + t.coef });
  }
  return [...byKey.values()].filter((t) => t.coef !== 0);
}

/**
 * The product of two term lists with constants `ac` and `bc`, unmerged, in
 * the order x*y for each x then x*bc, then ac*y (atoms of x before y's).
 */
export function productTerms<A>(a: readonly Term<A>[], ac: number, b: readonly Term<A>[], bc: number): Term<A>[] {
  const out: Term<A>[] = [];
  for (const x of a) {
    for (const y of b) out.push({ coef: x.coef * y.coef, atoms: [...x.atoms, ...y.atoms] });
    if (bc !== 0) out.push({ coef: x.coef * bc, atoms: x.atoms });
  }
  if (ac !== 0) for (const y of b) out.push({ coef: y.coef * ac, atoms: y.atoms });
  return out;
}

/** coef * product of the atoms' values, multiplied left to right. */
export function evalMono<A>(coef: number, atoms: readonly A[], value: (a: A) => number): number {
  let v = coef;
  for (const a of atoms) v *= value(a);
  return v;
}
