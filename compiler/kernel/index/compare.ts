// Conditions on index expressions: canonical comparisons and conjunctions.

import { gcd } from '../../symbolic/monomial.js';
import { Poly } from '../../symbolic/poly.js';
import type { IBool, IExpr } from '../kir.js';
import { ic, ifalse, isFalse, itrue } from './atoms.js';
import { build, iadd, toPoly } from './canonical.js';
import { INDEX_ATOMS, indexKey } from './keys.js';

/**
 * a <= b, canonical: `c <= P` or `P <= c` with P's leading coefficient
 * positive and its coefficients coprime; constant comparisons fold.
 */
export function ile(a: IExpr, b: IExpr): IBool {
  const d = toPoly(b).clone().addPoly(toPoly(a), -1); // b - a >= 0
  if (d.terms.size === 0) return d.c >= 0 ? itrue : ifalse;
  const ts = d.sorted();
  const g = ts.reduce((acc, t) => gcd(acc, Math.abs(t.coef)), 0);
  const p = new Poly(INDEX_ATOMS);
  if (ts[0]!.coef > 0) {
    for (const t of ts) p.add(t.coef / g, t.atoms);
    return { k: 'le', a: ic(Math.ceil(-d.c / g)), b: build(p) };
  }
  for (const t of ts) p.add(-t.coef / g, t.atoms);
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
