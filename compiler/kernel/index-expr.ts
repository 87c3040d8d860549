// Integer index arithmetic for the kernel IR: constructors that keep
// expressions in a canonical form, range analysis, and the div/mod
// simplifier that turns the index arithmetic of views (view.ts) back into
// plain strided offsets.
//
// Canonical form. Every IExpr built here is a polynomial over *atoms* (loop
// variables, symbolic dims, div, mod and value nodes) with integer
// coefficients: a left-associated sum of terms in a fixed order with the
// constant last; each term a left-associated product of its atoms (vars, then
// dims, then div, mod, value) with the coefficient last. Products distribute
// over sums. So structurally equal expressions are identical trees and print
// identically, and the simplifier can reason on terms.
//
// Soundness. div is floor division and mod floored modulo by a positive
// divisor (kir.ts). Rewrites that hold for all integers are applied by the
// constructors (idiv, imod); rewrites that need bounds (`x div n -> 0` when
// 0 <= x < n) only by `simplify`, given the loop extents. Symbolic dims are
// >= 1 with no upper bound, so bounds are proved symbolically: atoms are
// replaced by polynomial bounds (`t <= T - 1`) until only dims remain, and
// the result is shown non-negative by substituting d = 1 + d' (all
// coefficients >= 0).

import type { Dim } from '../types.js';
import type { IBool, IExpr, Loop, VExpr } from './kir.js';
import { RecentCache } from './recent-cache.js';

/** Entries per generation of the expression caches (see recent-cache.ts). */
const CACHE_GENERATION = 20_000;

/** Loop extents for range analysis: variable `name` ranges over [0, extent). */
export interface IndexCtx {
  readonly extents: ReadonlyMap<string, IExpr | Dim>;
}

/** Inclusive bounds; either may be infinite. */
export interface Range {
  readonly lo: number;
  readonly hi: number;
}

/** A context from loops (optionally extending another context). */
export function ctxOf(loops: readonly Loop[], base?: IndexCtx): IndexCtx {
  const extents = new Map<string, IExpr | Dim>(base?.extents ?? []);
  for (const l of loops) extents.set(l.name, l.extent);
  return { extents };
}

// ---------------------------------------------------------------- constructors

export function ic(v: number): IExpr {
  return { k: 'const', v: v === 0 ? 0 : v };
}
export function ivar(name: string): IExpr {
  return { k: 'var', name };
}
export function idim(name: string): IExpr {
  return { k: 'dim', name };
}
export function iadd(a: IExpr, b: IExpr): IExpr {
  if (a.k === 'const' && b.k === 'const') return ic(a.v + b.v);
  return build(toPoly(a).clone().addPoly(toPoly(b)));
}
export function isub(a: IExpr, b: IExpr): IExpr {
  return build(toPoly(a).clone().addPoly(toPoly(b), -1));
}
export function imul(a: IExpr, b: IExpr): IExpr {
  if (a.k === 'const' && b.k === 'const') return ic(a.v * b.v);
  return build(Poly.mul(toPoly(a), toPoly(b)));
}
/**
 * Floor division by a positive divisor, with the rewrites valid for all
 * integers; given ctx, also those that need the loop bounds.
 */
export function idiv(a: IExpr, b: IExpr, ctx?: IndexCtx): IExpr {
  return mkDiv(canon(a), canon(b), ctx);
}
/** Floored modulo by a positive divisor; as idiv. */
export function imod(a: IExpr, b: IExpr, ctx?: IndexCtx): IExpr {
  return mkMod(canon(a), canon(b), ctx);
}

/** The canonical form of an expression built by hand (constructors' results already are). */
function canon(e: IExpr): IExpr {
  return e.k === 'add' || e.k === 'mul' ? build(toPoly(e)) : e;
}
/** A data-dependent index: `x` clamped into [0, hi). */
export function ivalue(x: VExpr, hi: IExpr): IExpr {
  return { k: 'value', x, hi };
}

/** Symbolic dimensions as index expressions, by coef and names (expressions are immutable: shared). */
const dimExprs = new Map<string, IExpr>();

/** A dimension as an index expression: coef * dims. */
export function dimExpr(d: Dim): IExpr {
  if (typeof d === 'number') return ic(d);
  const key = `${d.coef} ${d.syms.join(' ')}`;
  let e = dimExprs.get(key);
  if (e === undefined) dimExprs.set(key, (e = d.syms.reduce<IExpr>((acc, s) => imul(acc, idim(s)), ic(d.coef))));
  return e;
}

/** A loop extent (IExpr or Dim) as an IExpr. */
export function extentExpr(x: IExpr | Dim): IExpr {
  if (typeof x === 'number') return ic(x);
  return 'k' in x ? x : dimExpr(x);
}

export const itrue: IBool = { k: 'true' };
/** The canonical false: 1 <= 0 (IBool has no literal false). */
export const ifalse: IBool = { k: 'le', a: ic(1), b: ic(0) };

export function isFalse(c: IBool): boolean {
  return c.k === 'le' && c.a.k === 'const' && c.b.k === 'const' && c.a.v > c.b.v;
}

/**
 * a <= b, canonical: `c <= P` or `P <= c` with P's leading coefficient
 * positive and its coefficients coprime; constant comparisons fold.
 */
export function ile(a: IExpr, b: IExpr): IBool {
  const d = toPoly(b).clone().addPoly(toPoly(a), -1); // b - a >= 0
  if (d.terms.size === 0) return d.c >= 0 ? itrue : ifalse;
  const ts = sortedTerms(d);
  const g = ts.reduce((acc, t) => gcd(acc, Math.abs(t.coef)), 0);
  const p = new Poly();
  if (ts[0]!.coef > 0) {
    for (const t of ts) p.add(t.coef / g, t.factors);
    return { k: 'le', a: ic(Math.ceil(-d.c / g)), b: build(p) };
  }
  for (const t of ts) p.add(-t.coef / g, t.factors);
  return { k: 'le', a: build(p), b: ic(Math.floor(d.c / g)) };
}

/** a < b. */
export function ilt(a: IExpr, b: IExpr): IBool {
  return ile(iadd(a, ic(1)), b);
}

/** Conjunction: flattened, bounds on the same expression merged, true dropped, false absorbing. */
export function iand(a: IBool, b: IBool): IBool {
  const bounds = new Map<string, { e: IExpr; lo: number; hi: number }>();
  const collect = (c: IBool): boolean => {
    switch (c.k) {
      case 'true':
        return true;
      case 'and':
        return collect(c.a) && collect(c.b);
      case 'le': {
        const n = ile(c.a, c.b);
        if (n.k === 'true') return true;
        if (n.k !== 'le' || isFalse(n)) return false;
        const lower = n.a.k === 'const';
        const e = lower ? n.b : n.a;
        const key = indexKey(e);
        const have = bounds.get(key) ?? { e, lo: -Infinity, hi: Infinity };
        bounds.set(
          key,
          lower ? { ...have, lo: Math.max(have.lo, n.a.v) } : { ...have, hi: Math.min(have.hi, constOf(n.b)) },
        );
        return true;
      }
    }
  };
  if (!collect(a) || !collect(b)) return ifalse;
  let out: IBool = itrue;
  const push = (c: IBool) => (out = out.k === 'true' ? c : { k: 'and', a: out, b: c });
  for (const { e, lo, hi } of bounds.values()) {
    if (lo > hi) return ifalse;
    if (lo > -Infinity) push({ k: 'le', a: ic(lo), b: e });
    if (hi < Infinity) push({ k: 'le', a: e, b: ic(hi) });
  }
  return out;
}

function constOf(e: IExpr): number {
  return e.k === 'const' ? e.v : NaN;
}

/** Replaces variables by expressions (rebuilding canonically). */
export function substIndex(e: IExpr, map: ReadonlyMap<string, IExpr>): IExpr {
  switch (e.k) {
    case 'const':
    case 'dim':
      return e;
    case 'var':
      return map.get(e.name) ?? e;
    case 'add':
      return iadd(substIndex(e.a, map), substIndex(e.b, map));
    case 'mul':
      return imul(substIndex(e.a, map), substIndex(e.b, map));
    case 'div':
      return idiv(substIndex(e.a, map), substIndex(e.b, map));
    case 'mod':
      return imod(substIndex(e.a, map), substIndex(e.b, map));
    case 'value':
      return ivalue(e.x, substIndex(e.hi, map));
  }
}

export function substBool(c: IBool, map: ReadonlyMap<string, IExpr>): IBool {
  switch (c.k) {
    case 'true':
      return c;
    case 'le':
      return ile(substIndex(c.a, map), substIndex(c.b, map));
    case 'and':
      return iand(substBool(c.a, map), substBool(c.b, map));
  }
}

// ---------------------------------------------------------------- keys and order

const OP_SYM = { add: '+', mul: '*', div: '/', mod: '%' } as const;
const keyCache = new RecentCache<IExpr, string>(CACHE_GENERATION);

/** A structural key: equal keys iff structurally equal expressions. */
export function indexKey(e: IExpr): string {
  const hit = keyCache.get(e);
  if (hit !== undefined) return hit;
  let k: string;
  switch (e.k) {
    case 'const':
      k = String(e.v);
      break;
    case 'var':
      k = `v:${e.name}`;
      break;
    case 'dim':
      k = `d:${e.name}`;
      break;
    case 'add':
    case 'mul':
    case 'div':
    case 'mod':
      k = `(${OP_SYM[e.k]} ${indexKey(e.a)} ${indexKey(e.b)})`;
      break;
    case 'value':
      k = `(val ${printValue(e.x)} ${indexKey(e.hi)})`;
      break;
  }
  keyCache.set(e, k);
  return k;
}

/**
 * indexKey(a) === indexKey(b), without spelling out keys that are not yet
 * known: keys of different kinds never coincide (a constant's is a number,
 * a variable's starts with v:, a dim's with d:, the others with a
 * parenthesis), and a gathered value's key is its text.
 */
export function indexEq(a: IExpr, b: IExpr): boolean {
  if (a === b) return true;
  if (a.k !== b.k) return false;
  const ka = keyCache.get(a);
  const kb = keyCache.get(b);
  if (ka !== undefined && kb !== undefined) return ka === kb;
  switch (a.k) {
    case 'const':
      return String(a.v) === String((b as typeof a).v);
    case 'var':
    case 'dim':
      return a.name === (b as typeof a).name;
    case 'add':
    case 'mul':
    case 'div':
    case 'mod': {
      const c = b as typeof a;
      return indexEq(a.a, c.a) && indexEq(a.b, c.b);
    }
    case 'value': {
      const c = b as typeof a;
      return (a.x === c.x || printValue(a.x) === printValue(c.x)) && indexEq(a.hi, c.hi);
    }
  }
}

const RANK: Record<IExpr['k'], number> = { var: 0, dim: 1, div: 2, mod: 3, value: 4, const: 5, add: 6, mul: 7 };

function factorCmp(a: IExpr, b: IExpr): number {
  const r = RANK[a.k] - RANK[b.k];
  if (r !== 0) return r;
  const ka = indexKey(a);
  const kb = indexKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function termCmp(a: Term, b: Term): number {
  const n = Math.min(a.factors.length, b.factors.length);
  for (let i = 0; i < n; i++) {
    const c = factorCmp(a.factors[i]!, b.factors[i]!);
    if (c !== 0) return c;
  }
  return a.factors.length - b.factors.length;
}

const sortFactors = (fs: readonly IExpr[]): IExpr[] => [...fs].sort(factorCmp);
const termKey = (fs: readonly IExpr[]): string => fs.map(indexKey).join(' ');

// ---------------------------------------------------------------- polynomials

interface Term {
  readonly coef: number;
  /** Sorted atoms, with repetition for powers. */
  readonly factors: readonly IExpr[];
}

/** A monomial with a positive coefficient over dims only: a divisor we can reason about. */
interface Mono {
  readonly coef: number;
  readonly factors: readonly IExpr[];
}

/** Mutable while being built; polynomials returned by toPoly are shared and never mutated. */
class Poly {
  readonly terms = new Map<string, Term>();
  c = 0;

  static constant(c: number): Poly {
    const p = new Poly();
    p.c = c;
    return p;
  }

  static mul(a: Poly, b: Poly): Poly {
    const out = new Poly();
    out.c = a.c * b.c;
    for (const t of a.terms.values()) out.addPoly(b.mulTerm(t.coef, t.factors));
    if (a.c !== 0) for (const t of b.terms.values()) out.add(t.coef * a.c, t.factors);
    return out;
  }

  clone(): Poly {
    const p = new Poly();
    for (const [k, t] of this.terms) p.terms.set(k, t);
    p.c = this.c;
    return p;
  }

  add(coef: number, factors: readonly IExpr[]): this {
    if (coef === 0) return this;
    if (factors.length === 0) {
      this.c += coef;
      return this;
    }
    const fs = sortFactors(factors);
    const key = termKey(fs);
    const v = (this.terms.get(key)?.coef ?? 0) + coef;
    if (v === 0) this.terms.delete(key);
    else this.terms.set(key, { coef: v, factors: fs });
    return this;
  }

  addPoly(p: Poly, scale = 1): this {
    for (const t of p.terms.values()) this.add(t.coef * scale, t.factors);
    this.c += p.c * scale;
    return this;
  }

  /** This times coef * factors. */
  mulTerm(coef: number, factors: readonly IExpr[]): Poly {
    const out = new Poly();
    for (const t of this.terms.values()) out.add(t.coef * coef, [...t.factors, ...factors]);
    out.add(this.c * coef, factors);
    return out;
  }

  isZero(): boolean {
    return this.c === 0 && this.terms.size === 0;
  }
}

const polyCache = new RecentCache<IExpr, Poly>(CACHE_GENERATION);

function toPoly(e: IExpr): Poly {
  const hit = polyCache.get(e);
  if (hit) return hit;
  let p: Poly;
  switch (e.k) {
    case 'const':
      p = Poly.constant(e.v);
      break;
    case 'var':
    case 'dim':
    case 'div':
    case 'mod':
    case 'value':
      p = new Poly().add(1, [e]);
      break;
    case 'add':
      p = toPoly(e.a).clone().addPoly(toPoly(e.b));
      break;
    case 'mul':
      p = Poly.mul(toPoly(e.a), toPoly(e.b));
      break;
  }
  polyCache.set(e, p);
  return p;
}

function sortedTerms(p: Poly): Term[] {
  return [...p.terms.values()].sort(termCmp);
}

/** The canonical IExpr of a polynomial (after recombining div/mod pairs). */
function build(p: Poly): IExpr {
  const q = recombine(p);
  const entries = [...q.terms].sort(([, x], [, y]) => termCmp(x, y));
  let out: IExpr | undefined;
  for (const [, t] of entries) {
    let te = t.factors.reduce<IExpr | undefined>((acc, f) => (acc ? { k: 'mul', a: acc, b: f } : f), undefined)!;
    if (t.coef !== 1) te = { k: 'mul', a: te, b: ic(t.coef) };
    out = out ? { k: 'add', a: out, b: te } : te;
  }
  if (!out) return ic(q.c);
  const e: IExpr = q.c === 0 ? out : { k: 'add', a: out, b: ic(q.c) };
  if (e.k === 'add' || e.k === 'mul') polyCache.set(e, builtPoly(entries, q.c));
  return e;
}

/**
 * What toPoly gives for the expression `build` made of these sorted terms,
 * without taking it apart again: the same terms, inserted in sorted order
 * (toPoly adds them left to right), and the constant with the sign of zero
 * toPoly's products and sums would give it (-0 when every term's
 * coefficient is negative).
 */
function builtPoly(entries: readonly (readonly [string, Term])[], c: number): Poly {
  const p = new Poly();
  for (const [key, t] of entries) p.terms.set(key, t);
  p.c = c !== 0 ? c : entries.every(([, t]) => t.coef < 0) ? -0 : 0;
  return p;
}

/**
 * Undoes unflatten-then-flatten, which every reshape round trip produces:
 *   c*M*(x mod n) + c*n*M*(x div n)           -> c*M*x
 *   c*M*(x mod n) + c*n*M*((x div n) mod m)   -> c*M*(x mod (n*m))
 */
function recombine(p: Poly): Poly {
  let cur = p;
  for (let guard = 0; guard < 64; guard++) {
    const next = recombineOnce(cur);
    if (!next) break;
    cur = next;
  }
  return cur;
}

function recombineOnce(p: Poly): Poly | undefined {
  if (p.terms.size < 2) return undefined;
  for (const [key, t] of p.terms) {
    for (const [fi, f] of t.factors.entries()) {
      if (f.k !== 'mod') continue;
      const n = asMono(toPoly(f.b));
      if (!n) continue;
      const rest = t.factors.filter((_, i) => i !== fi);
      const want = t.coef * n.coef;
      const divKey = indexKey({ k: 'div', a: f.a, b: f.b });
      const k1 = termKey(sortFactors([...rest, { k: 'div', a: f.a, b: f.b }, ...n.factors]));
      if (p.terms.get(k1)?.coef === want) {
        const out = p.clone();
        out.terms.delete(key);
        out.terms.delete(k1);
        return out.addPoly(toPoly(f.a).mulTerm(t.coef, rest));
      }
      for (const [k2, t2] of p.terms) {
        if (t2.coef !== want || k2 === key) continue;
        for (const g of t2.factors) {
          if (g.k !== 'mod' || g.a.k !== 'div' || indexKey(g.a) !== divKey || !asMono(toPoly(g.b))) continue;
          if (termKey(sortFactors([...rest, g, ...n.factors])) !== k2) continue;
          const out = p.clone();
          out.terms.delete(key);
          out.terms.delete(k2);
          return out.addPoly(toPoly(mkMod(f.a, imul(f.b, g.b), undefined)).mulTerm(t.coef, rest));
        }
      }
    }
  }
  return undefined;
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** p as a positive monomial over dims (a constant counts), else undefined. */
function asMono(p: Poly): Mono | undefined {
  if (p.terms.size === 0) return p.c > 0 && Number.isInteger(p.c) ? { coef: p.c, factors: [] } : undefined;
  if (p.terms.size !== 1 || p.c !== 0) return undefined;
  const t = p.terms.values().next().value!;
  if (t.coef <= 0 || !t.factors.every((f) => f.k === 'dim')) return undefined;
  return t;
}

const monoPoly = (m: Mono): Poly => new Poly().add(m.coef, m.factors);
const isOne = (m: Mono): boolean => m.coef === 1 && m.factors.length === 0;

/** Multiset difference fs - sub, or undefined when sub is not contained in fs. */
function subtractFactors(fs: readonly IExpr[], sub: readonly IExpr[]): IExpr[] | undefined {
  const rest = [...fs];
  for (const s of sub) {
    const k = indexKey(s);
    const i = rest.findIndex((f) => indexKey(f) === k);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return rest;
}

function intersectFactors(a: readonly IExpr[], b: readonly IExpr[]): IExpr[] {
  const rest = [...b];
  const out: IExpr[] = [];
  for (const f of a) {
    const k = indexKey(f);
    const i = rest.findIndex((g) => indexKey(g) === k);
    if (i >= 0) {
      out.push(f);
      rest.splice(i, 1);
    }
  }
  return out;
}

/** The largest monomial (positive constant times dims) dividing every term of p and d. */
function commonFactor(p: Poly, d: Mono): Mono {
  let coef = d.coef;
  let fs: readonly IExpr[] = d.factors;
  for (const t of p.terms.values()) {
    coef = gcd(coef, t.coef);
    fs = intersectFactors(fs, t.factors);
  }
  if (p.c !== 0) {
    coef = gcd(coef, p.c);
    fs = [];
  }
  return { coef, factors: fs };
}

function dividePoly(p: Poly, m: Mono): Poly {
  const out = new Poly();
  for (const t of p.terms.values()) out.add(t.coef / m.coef, subtractFactors(t.factors, m.factors)!);
  out.c += p.c / m.coef;
  return out;
}

function divideMono(a: Mono, b: Mono): Mono | undefined {
  if (a.coef % b.coef !== 0) return undefined;
  const fs = subtractFactors(a.factors, b.factors);
  return fs && { coef: a.coef / b.coef, factors: fs };
}

/**
 * Splits p = d*q + r where every term of p divisible (in its atoms) by d
 * gives its truncated quotient to q; undefined when q would be 0.
 */
function pullOut(p: Poly, d: Mono): { q: Poly; r: Poly } | undefined {
  const q = new Poly();
  const r = new Poly();
  let changed = false;
  for (const t of p.terms.values()) {
    const rest = subtractFactors(t.factors, d.factors);
    const k = rest ? Math.trunc(t.coef / d.coef) : 0;
    if (k !== 0) {
      q.add(k, rest!);
      changed = true;
    }
    r.add(t.coef - k * d.coef, t.factors);
  }
  const k = d.factors.length === 0 ? Math.trunc(p.c / d.coef) : 0;
  q.c += k;
  r.c += p.c - k * d.coef;
  changed ||= k !== 0;
  return changed ? { q, r } : undefined;
}

// ---------------------------------------------------------------- div and mod

function raw(k: 'div' | 'mod', a: IExpr, b: IExpr): IExpr {
  return { k, a, b };
}

function mkDiv(a: IExpr, b: IExpr, ctx: IndexCtx | undefined): IExpr {
  if (b.k === 'const') {
    if (b.v === 1) return a;
    if (!(b.v > 0) || !Number.isInteger(b.v)) return raw('div', a, b);
    if (a.k === 'const') return ic(Math.floor(a.v / b.v));
  }
  if (a.k === 'const' && a.v === 0) return a;
  const d = asMono(toPoly(b));
  if (!d) {
    if (ctx && proveBetween(toPoly(a), 0, toPoly(b), ctx)) return ic(0);
    return raw('div', a, b);
  }
  const pa = toPoly(a);
  // (g*x) div (g*m) = x div m
  const g = commonFactor(pa, d);
  if (!isOne(g)) return mkDiv(build(dividePoly(pa, g)), build(dividePoly(monoPoly(d), g)), ctx);
  // (d*q + r) div d = q + r div d
  const split = pullOut(pa, d);
  if (split) return iadd(build(split.q), mkDiv(build(split.r), b, ctx));
  // (x div m) div d = x div (m*d)
  if (a.k === 'div') return mkDiv(a.a, imul(a.b, b), ctx);
  // (x mod (d*k)) div d = (x div d) mod k
  if (a.k === 'mod') {
    const m = asMono(toPoly(a.b));
    const k = m && divideMono(m, d);
    if (k) return mkMod(mkDiv(a.a, b, ctx), build(monoPoly(k)), ctx);
  }
  if (ctx) {
    if (proveBetween(pa, 0, toPoly(b), ctx)) return ic(0);
    if (d.factors.length === 0) {
      const r = range(a, ctx);
      const q = Math.floor(r.lo / d.coef);
      if (Number.isFinite(r.lo) && Number.isFinite(r.hi) && q === Math.floor(r.hi / d.coef)) return ic(q);
    }
    const gs = gRule(pa, d, ctx);
    if (gs) return mkDiv(build(gs.p), build(monoPoly(gs.rest)), ctx);
  }
  return raw('div', a, b);
}

function mkMod(a: IExpr, b: IExpr, ctx: IndexCtx | undefined): IExpr {
  if (b.k === 'const') {
    if (b.v === 1) return ic(0);
    if (!(b.v > 0) || !Number.isInteger(b.v)) return raw('mod', a, b);
    if (a.k === 'const') return ic(a.v - b.v * Math.floor(a.v / b.v));
  }
  if (a.k === 'const' && a.v === 0) return a;
  const d = asMono(toPoly(b));
  if (!d) {
    if (ctx && proveBetween(toPoly(a), 0, toPoly(b), ctx)) return a;
    return raw('mod', a, b);
  }
  const pa = toPoly(a);
  // (g*x) mod (g*m) = g * (x mod m)
  const g = commonFactor(pa, d);
  if (!isOne(g))
    return imul(mkMod(build(dividePoly(pa, g)), build(dividePoly(monoPoly(d), g)), ctx), build(monoPoly(g)));
  // (d*q + r) mod d = r mod d
  const split = pullOut(pa, d);
  if (split) return mkMod(build(split.r), b, ctx);
  // (x mod (d*k)) mod d = x mod d
  if (a.k === 'mod') {
    const m = asMono(toPoly(a.b));
    if (m && divideMono(m, d)) return mkMod(a.a, b, ctx);
  }
  if (ctx) {
    if (proveBetween(pa, 0, toPoly(b), ctx)) return a;
    if (d.factors.length === 0) {
      const r = range(a, ctx);
      const q = Math.floor(r.lo / d.coef);
      if (Number.isFinite(r.lo) && Number.isFinite(r.hi) && q === Math.floor(r.hi / d.coef))
        return iadd(a, ic(-q * d.coef));
    }
    const gs = gRule(pa, d, ctx);
    if (gs) return iadd(imul(mkMod(build(gs.p), build(monoPoly(gs.rest)), ctx), build(monoPoly(gs.g))), build(gs.r));
  }
  return raw('mod', a, b);
}

/**
 * a = g*p + r with g dividing d and 0 <= r < g gives
 *   a div d = p div (d/g)   and   a mod d = g*(p mod (d/g)) + r.
 * Tries the common factors of d with each term, largest first.
 */
function gRule(a: Poly, d: Mono, ctx: IndexCtx): { g: Mono; rest: Mono; p: Poly; r: Poly } | undefined {
  const cands = new Map<string, Mono>();
  for (const t of a.terms.values()) {
    const g: Mono = { coef: gcd(t.coef, d.coef), factors: intersectFactors(d.factors, t.factors) };
    if (!isOne(g)) cands.set(`${g.coef} ${termKey(g.factors)}`, g);
  }
  const ordered = [...cands.values()].sort((x, y) => y.factors.length - x.factors.length || y.coef - x.coef);
  for (const g of ordered) {
    const p = new Poly();
    const r = new Poly();
    r.c = a.c;
    for (const t of a.terms.values()) {
      const fs = t.coef % g.coef === 0 ? subtractFactors(t.factors, g.factors) : undefined;
      if (fs) p.add(t.coef / g.coef, fs);
      else r.add(t.coef, t.factors);
    }
    if (p.terms.size === 0) continue;
    if (proveBetween(r, 0, monoPoly(g), ctx)) return { g, rest: divideMono(d, g)!, p, r };
  }
  return undefined;
}

// ---------------------------------------------------------------- range analysis

const rangeCache = new WeakMap<IndexCtx, WeakMap<IExpr, Range>>();

const rmul = (x: number, y: number): number => (x === 0 || y === 0 ? 0 : x * y);

/** Floor division by y >= 1 (y may be infinite). */
function fdiv(x: number, y: number): number {
  if (!Number.isFinite(x)) return x;
  if (y === Infinity) return x >= 0 ? 0 : -1;
  return Math.floor(x / y);
}

/** Inclusive bounds of e over its loop variables' ranges; dims are >= 1. */
export function range(e: IExpr, ctx: IndexCtx): Range {
  let cache = rangeCache.get(ctx);
  if (!cache) rangeCache.set(ctx, (cache = new WeakMap()));
  const hit = cache.get(e);
  if (hit) return hit;
  const r = rangeOf(e, ctx);
  cache.set(e, r);
  return r;
}

function rangeOf(e: IExpr, ctx: IndexCtx): Range {
  switch (e.k) {
    case 'const':
      return { lo: e.v, hi: e.v };
    case 'var': {
      const ext = ctx.extents.get(e.name);
      if (ext === undefined) return { lo: -Infinity, hi: Infinity };
      return { lo: 0, hi: range(extentExpr(ext), ctx).hi - 1 };
    }
    case 'dim':
      return { lo: 1, hi: Infinity };
    case 'add': {
      const a = range(e.a, ctx);
      const b = range(e.b, ctx);
      return { lo: a.lo + b.lo, hi: a.hi + b.hi };
    }
    case 'mul': {
      const a = range(e.a, ctx);
      const b = range(e.b, ctx);
      const c = [rmul(a.lo, b.lo), rmul(a.lo, b.hi), rmul(a.hi, b.lo), rmul(a.hi, b.hi)];
      return { lo: Math.min(...c), hi: Math.max(...c) };
    }
    case 'div': {
      const a = range(e.a, ctx);
      const b = range(e.b, ctx);
      const blo = Math.max(1, b.lo);
      const bhi = Math.max(blo, b.hi);
      return {
        lo: a.lo >= 0 ? fdiv(a.lo, bhi) : fdiv(a.lo, blo),
        hi: a.hi >= 0 ? fdiv(a.hi, blo) : fdiv(a.hi, bhi),
      };
    }
    case 'mod': {
      const a = range(e.a, ctx);
      const b = range(e.b, ctx);
      const bhi = Math.max(1, b.hi);
      if (b.lo === b.hi && Number.isFinite(a.lo) && Number.isFinite(a.hi)) {
        const n = b.lo;
        if (Math.floor(a.lo / n) === Math.floor(a.hi / n))
          return { lo: a.lo - n * Math.floor(a.lo / n), hi: a.hi - n * Math.floor(a.hi / n) };
      }
      return { lo: 0, hi: a.lo >= 0 ? Math.min(a.hi, bhi - 1) : bhi - 1 };
    }
    case 'value':
      return { lo: 0, hi: Math.max(0, range(e.hi, ctx).hi - 1) };
  }
}

function polyRange(p: Poly, ctx: IndexCtx): Range {
  let lo = p.c;
  let hi = p.c;
  for (const t of p.terms.values()) {
    let r: Range = { lo: t.coef, hi: t.coef };
    for (const f of t.factors) {
      const b = range(f, ctx);
      const c = [rmul(r.lo, b.lo), rmul(r.lo, b.hi), rmul(r.hi, b.lo), rmul(r.hi, b.hi)];
      r = { lo: Math.min(...c), hi: Math.max(...c) };
    }
    lo += r.lo;
    hi += r.hi;
  }
  return { lo, hi };
}

// ---------------------------------------------------------------- symbolic proofs

/** lo <= p <= hi - 1, proved from the loop extents. */
function proveBetween(p: Poly, lo: number, hi: Poly, ctx: IndexCtx): boolean {
  return (
    proveNonNeg(p.clone().addPoly(Poly.constant(lo), -1), ctx) &&
    proveNonNeg(hi.clone().addPoly(p, -1).addPoly(Poly.constant(1), -1), ctx)
  );
}

/** True only if p >= 0 for all loop variable values and all dims >= 1. */
function proveNonNeg(p: Poly, ctx: IndexCtx): boolean {
  let cur = p;
  for (let depth = 0; depth < 6; depth++) {
    if (polyRange(cur, ctx).lo >= 0) return true;
    if ([...cur.terms.values()].every((t) => t.factors.every((f) => f.k === 'dim'))) return shiftedNonNeg(cur);
    const lower = boundPoly(cur, 'lo', ctx);
    if (!lower) return false;
    cur = lower;
  }
  return false;
}

/** A polynomial bound (lower or upper) of p in which atoms other than dims are replaced by their bounds. */
function boundPoly(p: Poly, side: 'lo' | 'hi', ctx: IndexCtx): Poly | undefined {
  const out = Poly.constant(p.c);
  for (const t of p.terms.values()) {
    if (t.factors.every((f) => f.k === 'dim')) {
      out.add(t.coef, t.factors);
      continue;
    }
    const b = productBound(t.factors, (side === 'lo') === t.coef > 0 ? 'lo' : 'hi', ctx);
    if (!b) return undefined;
    out.addPoly(b, t.coef);
  }
  return out;
}

/** Bound of a product of atoms; needs every atom >= 0 unless there is only one. */
function productBound(fs: readonly IExpr[], side: 'lo' | 'hi', ctx: IndexCtx): Poly | undefined {
  if (fs.length > 1 && !fs.every((f) => range(f, ctx).lo >= 0)) return undefined;
  let acc = Poly.constant(1);
  for (const f of fs) {
    const b = factorBound(f, side, ctx);
    if (!b) return undefined;
    acc = Poly.mul(acc, b);
  }
  return acc;
}

function factorBound(f: IExpr, side: 'lo' | 'hi', ctx: IndexCtx): Poly | undefined {
  if (f.k === 'dim') return toPoly(f);
  const r = range(f, ctx);
  const n = side === 'lo' ? r.lo : r.hi;
  if (Number.isFinite(n)) return Poly.constant(n);
  switch (f.k) {
    case 'var': {
      const ext = ctx.extents.get(f.name);
      if (side === 'lo' || ext === undefined) return undefined;
      return toPoly(extentExpr(ext)).clone().addPoly(Poly.constant(-1));
    }
    case 'div': {
      if (side === 'lo') return undefined;
      const ux = boundPoly(toPoly(f.a), 'hi', ctx);
      return ux && toPoly(mkDiv(build(ux), f.b, undefined));
    }
    case 'mod':
      return side === 'lo' ? undefined : toPoly(f.b).clone().addPoly(Poly.constant(-1));
    case 'value':
      return side === 'lo' ? undefined : toPoly(f.hi).clone().addPoly(Poly.constant(-1));
    case 'const':
    case 'add':
    case 'mul':
      return undefined;
  }
}

/** p over dims only: p >= 0 for all dims >= 1 if, with d = 1 + d', every coefficient is >= 0. */
function shiftedNonNeg(p: Poly): boolean {
  const acc = new Map<string, number>([['', p.c]]);
  for (const t of p.terms.values()) {
    const names = t.factors.map((f) => (f.k === 'dim' ? f.name : '?'));
    if (names.length > 12) return false;
    for (let mask = 0; mask < 1 << names.length; mask++) {
      const key = names.filter((_, i) => mask & (1 << i)).join(' ');
      acc.set(key, (acc.get(key) ?? 0) + t.coef);
    }
  }
  return [...acc.values()].every((v) => v >= 0);
}

// ---------------------------------------------------------------- simplify

/** Simplifies with the bounds of the loop variables in ctx (div/mod folding). */
export function simplify(e: IExpr, ctx: IndexCtx): IExpr {
  let cur = e;
  for (let i = 0; i < 4; i++) {
    const next = simplifyOnce(cur, ctx);
    if (indexEq(next, cur)) return next;
    cur = next;
  }
  return cur;
}

function simplifyOnce(e: IExpr, ctx: IndexCtx): IExpr {
  switch (e.k) {
    case 'const':
    case 'var':
    case 'dim':
      return e;
    case 'add':
      return iadd(simplifyOnce(e.a, ctx), simplifyOnce(e.b, ctx));
    case 'mul':
      return imul(simplifyOnce(e.a, ctx), simplifyOnce(e.b, ctx));
    case 'div':
      return mkDiv(simplifyOnce(e.a, ctx), simplifyOnce(e.b, ctx), ctx);
    case 'mod':
      return mkMod(simplifyOnce(e.a, ctx), simplifyOnce(e.b, ctx), ctx);
    case 'value': {
      const hi = simplifyOnce(e.hi, ctx);
      return hi === e.hi ? e : ivalue(e.x, hi);
    }
  }
}

/** Simplifies a condition: sides simplified, conditions that always hold dropped, impossible ones -> false. */
export function simplifyBool(c: IBool, ctx: IndexCtx): IBool {
  switch (c.k) {
    case 'true':
      return c;
    case 'and': {
      const a = simplifyBool(c.a, ctx);
      return isFalse(a) ? ifalse : iand(a, simplifyBool(c.b, ctx));
    }
    case 'le': {
      const a = simplify(c.a, ctx);
      const b = simplify(c.b, ctx);
      if (proveNonNeg(toPoly(b).clone().addPoly(toPoly(a), -1), ctx)) return itrue;
      // a - b - 1 >= 0 always: impossible
      if (proveNonNeg(toPoly(a).clone().addPoly(toPoly(b), -1).addPoly(Poly.constant(-1)), ctx)) return ifalse;
      return ile(a, b);
    }
  }
}

// ---------------------------------------------------------------- evaluation

export interface IndexEnv {
  readonly vars: ReadonlyMap<string, number>;
  readonly dims: ReadonlyMap<string, number>;
  /** The value of a data-dependent index (before clamping). */
  value?(x: VExpr): number;
}

export function evalIndex(e: IExpr, env: IndexEnv): number {
  switch (e.k) {
    case 'const':
      return e.v;
    case 'var':
    case 'dim': {
      const v = (e.k === 'var' ? env.vars : env.dims).get(e.name);
      if (v === undefined) throw new Error(`unbound index ${e.k} '${e.name}'`);
      return v;
    }
    case 'add':
      return evalIndex(e.a, env) + evalIndex(e.b, env);
    case 'mul':
      return evalIndex(e.a, env) * evalIndex(e.b, env) + 0; // no -0
    case 'div':
      return Math.floor(evalIndex(e.a, env) / evalIndex(e.b, env)) + 0;
    case 'mod': {
      const a = evalIndex(e.a, env);
      const b = evalIndex(e.b, env);
      return a - b * Math.floor(a / b);
    }
    case 'value': {
      if (!env.value) throw new Error('a data-dependent index needs env.value');
      const hi = evalIndex(e.hi, env);
      return Math.min(Math.max(Math.trunc(env.value(e.x)), 0), hi - 1);
    }
  }
}

export function evalBool(c: IBool, env: IndexEnv): boolean {
  switch (c.k) {
    case 'true':
      return true;
    case 'le':
      return evalIndex(c.a, env) <= evalIndex(c.b, env);
    case 'and':
      return evalBool(c.a, env) && evalBool(c.b, env);
  }
}

// ---------------------------------------------------------------- printing

const P_ADD = 1;
const P_MUL = 2;
const P_ATOM = 3;

const paren = (s: string, yes: boolean): string => (yes ? `(${s})` : s);

/** e without its negative sign (for `a - b` and `-b`), or undefined when e is not negative. */
function negated(e: IExpr): IExpr | undefined {
  if (e.k === 'const' && e.v < 0) return ic(-e.v);
  if (e.k === 'mul' && e.b.k === 'const' && e.b.v < 0) return e.b.v === -1 ? e.a : { k: 'mul', a: e.a, b: ic(-e.b.v) };
  return undefined;
}

/** C-like text with `/` (floor division) and `%` (floored modulo), minimal parentheses. */
export function printIndex(e: IExpr): string {
  return pr(e, 0);
}

function pr(e: IExpr, prec: number): string {
  switch (e.k) {
    case 'const':
      return paren(String(e.v), e.v < 0 && prec >= P_ATOM);
    case 'var':
    case 'dim':
      return e.name;
    case 'add': {
      const n = negated(e.b);
      const s = n ? `${pr(e.a, P_ADD)} - ${pr(n, P_MUL)}` : `${pr(e.a, P_ADD)} + ${pr(e.b, P_MUL)}`;
      return paren(s, prec > P_ADD);
    }
    case 'mul': {
      const n = negated(e);
      if (n) return paren(`-${pr(n, P_MUL)}`, prec > P_MUL);
      // (x / 4)*3 rather than the equivalent but misleading x / 4*3
      const left = e.a.k === 'div' || e.a.k === 'mod' ? `(${pr(e.a, 0)})` : pr(e.a, P_MUL);
      return paren(`${left}*${pr(e.b, P_ATOM)}`, prec > P_MUL);
    }
    case 'div':
    case 'mod':
      return paren(`${pr(e.a, P_MUL)} ${e.k === 'div' ? '/' : '%'} ${pr(e.b, P_ATOM)}`, prec > P_MUL);
    case 'value':
      return `clamp(${printValue(e.x)}, ${pr(e.hi, 0)})`;
  }
}

export function printBool(c: IBool): string {
  switch (c.k) {
    case 'true':
      return 'true';
    case 'le':
      return isFalse(c) ? 'false' : `${pr(c.a, P_ADD)} <= ${pr(c.b, P_ADD)}`;
    case 'and':
      return `${printBool(c.a)} && ${printBool(c.b)}`;
  }
}

const valueText = new WeakMap<VExpr, string>();

/** A compact text of a value expression (for data-dependent indices in dumps and keys). */
export function printValue(x: VExpr): string {
  const hit = valueText.get(x);
  if (hit !== undefined) return hit;
  let s: string;
  switch (x.k) {
    case 'load': {
      const body = `b${x.buf}[${printIndex(x.index)}]`;
      s = x.valid.k === 'true' ? body : `(${printBool(x.valid)} ? ${body} : ${x.fill})`;
      break;
    }
    case 'const':
      s = `${x.v}:${x.dtype}`;
      break;
    case 'scalar':
      s = `$${x.name}`;
      break;
    case 'index':
      s = `index(${printIndex(x.i)})`;
      break;
    case 'unary':
      s = `${x.fn}(${printValue(x.x)})`;
      break;
    case 'binary':
      s = `${x.fn}(${printValue(x.a)}, ${printValue(x.b)})`;
      break;
    case 'where':
      s = `where(${printValue(x.c)}, ${printValue(x.a)}, ${printValue(x.b)})`;
      break;
    case 'cast':
      s = `${x.dtype}(${printValue(x.x)})`;
      break;
    case 'rand':
      s = `rand(${printValue(x.key)}, ${x.salt}, ${printIndex(x.i)})`;
      break;
    case 'acc':
      s = `acc${x.id}`;
      break;
  }
  valueText.set(x, s);
  return s;
}
