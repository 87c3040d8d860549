// The canonical constructors of index expressions: each result is rebuilt
// from its polynomial (compiler/symbolic/poly.ts over INDEX_ATOMS), with
// unflatten-then-flatten pairs recombined, and div/mod rewritten by the
// divisor algebra (compiler/symbolic/monomial.ts).
//
// Soundness. div is floor division and mod floored modulo by a positive
// divisor (kir.ts). Rewrites that hold for all integers are applied always;
// rewrites that need bounds (`x div n -> 0` when 0 <= x < n) only given a
// context with the loop extents, proved by compiler/symbolic/range.ts.
// Polynomials, div/mod and proofs call each other, so they share this file.

import {
  asMono,
  commonFactor,
  divideMono,
  dividePoly,
  gcd,
  intersectAtoms,
  isOne,
  pullOut,
  subtractAtoms,
} from '../../symbolic/monomial.js';
import { Poly, type Term, atomsKey, termCmp } from '../../symbolic/poly.js';
import { type AtomBounds, type Side, boundPoly, proveBetween } from '../../symbolic/range.js';
import type { Dim } from '../../types.js';
import type { IExpr } from '../kir.js';
import { RecentCache } from '../recent-cache.js';
import { CACHE_GENERATION, type IndexCtx, ic, idim, raw } from './atoms.js';
import { INDEX_ATOMS, atomCmp, indexKey } from './keys.js';
import { range } from './range.js';

/** An index expression as a polynomial over its atoms. */
export type IPoly = Poly<IExpr>;

const isDim = (a: IExpr): boolean => a.k === 'dim';
const sortAtoms = (fs: readonly IExpr[]): IExpr[] => [...fs].sort(atomCmp);
const monoPoly = (m: Term<IExpr>): IPoly => new Poly(INDEX_ATOMS).add(m.coef, m.atoms);

// ---------------------------------------------------------------- constructors

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

// ---------------------------------------------------------------- polynomial view

const polyCache = new RecentCache<IExpr, IPoly>(CACHE_GENERATION);

export function toPoly(e: IExpr): IPoly {
  const hit = polyCache.get(e);
  if (hit) return hit;
  let p: IPoly;
  switch (e.k) {
    case 'const':
      p = Poly.constant(INDEX_ATOMS, e.v);
      break;
    case 'var':
    case 'dim':
    case 'div':
    case 'mod':
    case 'value':
      p = new Poly(INDEX_ATOMS).add(1, [e]);
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

/** The canonical IExpr of a polynomial (after recombining div/mod pairs). */
export function build(p: IPoly): IExpr {
  const q = recombine(p);
  const entries = [...q.terms].sort(([, x], [, y]) => termCmp(x, y, INDEX_ATOMS));
  let out: IExpr | undefined;
  for (const [, t] of entries) {
    let te = t.atoms.reduce<IExpr | undefined>((acc, f) => (acc ? { k: 'mul', a: acc, b: f } : f), undefined)!;
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
function builtPoly(entries: readonly (readonly [string, Term<IExpr>])[], c: number): IPoly {
  const p = new Poly(INDEX_ATOMS);
  for (const [key, t] of entries) p.terms.set(key, t);
  p.c = c !== 0 ? c : entries.every(([, t]) => t.coef < 0) ? -0 : 0;
  return p;
}

/**
 * Undoes unflatten-then-flatten, which every reshape round trip produces:
 *   c*M*(x mod n) + c*n*M*(x div n)           -> c*M*x
 *   c*M*(x mod n) + c*n*M*((x div n) mod m)   -> c*M*(x mod (n*m))
 */
function recombine(p: IPoly): IPoly {
  let cur = p;
  for (let guard = 0; guard < 64; guard++) {
    const next = recombineOnce(cur);
    if (!next) break;
    cur = next;
  }
  return cur;
}

function recombineOnce(p: IPoly): IPoly | undefined {
  if (p.terms.size < 2) return undefined;
  for (const [key, t] of p.terms) {
    for (const [fi, f] of t.atoms.entries()) {
      if (f.k !== 'mod') continue;
      const n = asMono(toPoly(f.b), isDim);
      if (!n) continue;
      const rest = t.atoms.filter((_, i) => i !== fi);
      const want = t.coef * n.coef;
      const divKey = indexKey({ k: 'div', a: f.a, b: f.b });
      const k1 = atomsKey(sortAtoms([...rest, { k: 'div', a: f.a, b: f.b }, ...n.atoms]), INDEX_ATOMS);
      if (p.terms.get(k1)?.coef === want) {
        const out = p.clone();
        out.terms.delete(key);
        out.terms.delete(k1);
        return out.addPoly(toPoly(f.a).mulTerm(t.coef, rest));
      }
      for (const [k2, t2] of p.terms) {
        if (t2.coef !== want || k2 === key) continue;
        for (const g of t2.atoms) {
          if (g.k !== 'mod' || g.a.k !== 'div' || indexKey(g.a) !== divKey || !asMono(toPoly(g.b), isDim)) continue;
          if (atomsKey(sortAtoms([...rest, g, ...n.atoms]), INDEX_ATOMS) !== k2) continue;
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
// ---------------------------------------------------------------- div and mod

export function mkDiv(a: IExpr, b: IExpr, ctx: IndexCtx | undefined): IExpr {
  if (b.k === 'const') {
    if (b.v === 1) return a;
    if (!(b.v > 0) || !Number.isInteger(b.v)) return raw('div', a, b);
    if (a.k === 'const') return ic(Math.floor(a.v / b.v));
  }
  if (a.k === 'const' && a.v === 0) return a;
  const d = asMono(toPoly(b), isDim);
  if (!d) {
    if (ctx && proveBetween(toPoly(a), 0, toPoly(b), indexBounds(ctx))) return ic(0);
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
    const m = asMono(toPoly(a.b), isDim);
    const k = m && divideMono(m, d, indexKey);
    if (k) return mkMod(mkDiv(a.a, b, ctx), build(monoPoly(k)), ctx);
  }
  if (ctx) {
    if (proveBetween(pa, 0, toPoly(b), indexBounds(ctx))) return ic(0);
    if (d.atoms.length === 0) {
      const r = range(a, ctx);
      const q = Math.floor(r.lo / d.coef);
      if (Number.isFinite(r.lo) && Number.isFinite(r.hi) && q === Math.floor(r.hi / d.coef)) return ic(q);
    }
    const gs = gRule(pa, d, ctx);
    if (gs) return mkDiv(build(gs.p), build(monoPoly(gs.rest)), ctx);
  }
  return raw('div', a, b);
}

export function mkMod(a: IExpr, b: IExpr, ctx: IndexCtx | undefined): IExpr {
  if (b.k === 'const') {
    if (b.v === 1) return ic(0);
    if (!(b.v > 0) || !Number.isInteger(b.v)) return raw('mod', a, b);
    if (a.k === 'const') return ic(a.v - b.v * Math.floor(a.v / b.v));
  }
  if (a.k === 'const' && a.v === 0) return a;
  const d = asMono(toPoly(b), isDim);
  if (!d) {
    if (ctx && proveBetween(toPoly(a), 0, toPoly(b), indexBounds(ctx))) return a;
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
    const m = asMono(toPoly(a.b), isDim);
    if (m && divideMono(m, d, indexKey)) return mkMod(a.a, b, ctx);
  }
  if (ctx) {
    if (proveBetween(pa, 0, toPoly(b), indexBounds(ctx))) return a;
    if (d.atoms.length === 0) {
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
function gRule(
  a: IPoly,
  d: Term<IExpr>,
  ctx: IndexCtx,
): { g: Term<IExpr>; rest: Term<IExpr>; p: IPoly; r: IPoly } | undefined {
  const cands = new Map<string, Term<IExpr>>();
  for (const t of a.terms.values()) {
    const g: Term<IExpr> = { coef: gcd(t.coef, d.coef), atoms: intersectAtoms(d.atoms, t.atoms, indexKey) };
    if (!isOne(g)) cands.set(`${g.coef} ${atomsKey(g.atoms, INDEX_ATOMS)}`, g);
  }
  const ordered = [...cands.values()].sort((x, y) => y.atoms.length - x.atoms.length || y.coef - x.coef);
  for (const g of ordered) {
    const p = new Poly(INDEX_ATOMS);
    const r = new Poly(INDEX_ATOMS);
    r.c = a.c;
    for (const t of a.terms.values()) {
      const fs = t.coef % g.coef === 0 ? subtractAtoms(t.atoms, g.atoms, indexKey) : undefined;
      if (fs) p.add(t.coef / g.coef, fs);
      else r.add(t.coef, t.atoms);
    }
    if (p.terms.size === 0) continue;
    if (proveBetween(r, 0, monoPoly(g), indexBounds(ctx))) return { g, rest: divideMono(d, g, indexKey)!, p, r };
  }
  return undefined;
}

// ---------------------------------------------------------------- bounds for the proofs

function atomBound(f: IExpr, side: Side, ctx: IndexCtx): IPoly | undefined {
  if (f.k === 'dim') return toPoly(f);
  const r = range(f, ctx);
  const n = side === 'lo' ? r.lo : r.hi;
  if (Number.isFinite(n)) return Poly.constant(INDEX_ATOMS, n);
  switch (f.k) {
    case 'var': {
      const ext = ctx.extents.get(f.name);
      if (side === 'lo' || ext === undefined) return undefined;
      return toPoly(extentExpr(ext)).clone().addPoly(Poly.constant(INDEX_ATOMS, -1));
    }
    case 'div': {
      if (side === 'lo') return undefined;
      const ux = boundPoly(toPoly(f.a), 'hi', indexBounds(ctx));
      return ux && toPoly(mkDiv(build(ux), f.b, undefined));
    }
    case 'mod':
      return side === 'lo' ? undefined : toPoly(f.b).clone().addPoly(Poly.constant(INDEX_ATOMS, -1));
    case 'value':
      return side === 'lo' ? undefined : toPoly(f.hi).clone().addPoly(Poly.constant(INDEX_ATOMS, -1));
    case 'const':
    case 'add':
    case 'mul':
      return undefined;
  }
}

const boundsCache = new WeakMap<IndexCtx, AtomBounds<IExpr>>();

/** What the proofs of compiler/symbolic/range.ts need about index atoms, under ctx. */
export function indexBounds(ctx: IndexCtx): AtomBounds<IExpr> {
  let b = boundsCache.get(ctx);
  if (!b) {
    b = {
      range: (a) => range(a, ctx),
      isSymbol: isDim,
      symbolName: (a) => (a.k === 'dim' ? a.name : '?'),
      bound: (a, side) => atomBound(a, side, ctx),
    };
    boundsCache.set(ctx, b);
  }
  return b;
}
