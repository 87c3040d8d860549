// Structural keys and the canonical order of index atoms: the ring that
// makes index expressions polynomials over compiler/symbolic/.

import type { Atoms } from '../../symbolic/poly.js';
import type { IExpr } from '../kir.js';
import { RecentCache } from '../recent-cache.js';
import { CACHE_GENERATION } from './atoms.js';
import { type IndexFold, foldIndex } from '../walk.js';
import { printValue } from './print.js';

const OP_SYM = { add: '+', mul: '*', div: '/', mod: '%' } as const;
const keyCache = new RecentCache<IExpr, string>(CACHE_GENERATION);

const KEY: IndexFold<string, undefined> = {
  leaf: (e) => (e.k === 'const' ? String(e.v) : `${e.k === 'var' ? 'v' : 'd'}:${e.name}`),
  op: (k, a, b) => `(${OP_SYM[k]} ${a} ${b})`,
  value: (e, rec) => `(val ${printValue(e.x)} ${rec(e.hi)})`,
};

/** A structural key: equal keys iff structurally equal expressions. */
export function indexKey(e: IExpr): string {
  const hit = keyCache.get(e);
  if (hit !== undefined) return hit;
  const k = foldIndex(e, KEY, indexKey, undefined);
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

export function atomCmp(a: IExpr, b: IExpr): number {
  const r = RANK[a.k] - RANK[b.k];
  if (r !== 0) return r;
  const ka = indexKey(a);
  const kb = indexKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Index atoms for compiler/symbolic: keyed structurally, ordered by kind then key. */
export const INDEX_ATOMS: Atoms<IExpr> = { key: indexKey, cmp: atomCmp };
