// Simplification with the loop bounds: div/mod folding, and conditions that
// always (never) hold decided by the symbolic proofs.

import { Poly } from '../../symbolic/poly.js';
import { proveNonNeg } from '../../symbolic/range.js';
import type { IBool, IExpr } from '../kir.js';
import { type IndexCtx, ifalse, isFalse, itrue } from './atoms.js';
import { indexBounds, mkDiv, mkMod, toPoly } from './canonical.js';
import { mapChildren } from './walk.js';
import { iand, ile } from './compare.js';
import { INDEX_ATOMS, indexEq } from './keys.js';

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
  return mapChildren(
    e,
    (x) => simplifyOnce(x, ctx),
    (a, b) => mkDiv(a, b, ctx),
    (a, b) => mkMod(a, b, ctx),
  );
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
      if (proveNonNeg(toPoly(b).clone().addPoly(toPoly(a), -1), indexBounds(ctx))) return itrue;
      // a - b - 1 >= 0 always: impossible
      if (
        proveNonNeg(toPoly(a).clone().addPoly(toPoly(b), -1).addPoly(Poly.constant(INDEX_ATOMS, -1)), indexBounds(ctx))
      )
        return ifalse;
      return ile(a, b);
    }
  }
}
