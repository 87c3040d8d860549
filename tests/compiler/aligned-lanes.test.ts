// alignedLaneOffsets and laneOffsets (compiler/kernel/affine.ts): the offsets
// of an index across four lanes whose first value is a multiple of 4, through
// floor div/mod; without alignment, c * l for a constant coefficient c.
// Checked against evaluation on random expressions: whenever they claim
// offsets o, e(v0 + l) - e(v0) = o[l] for every aligned v0 (any v0 without
// alignment) and every other variable.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignedLaneOffsets, laneOffsets } from '../../compiler/kernel/affine.js';
import { evalIndex } from '../../compiler/kernel/index-expr.js';
import type { IExpr } from '../../compiler/kernel/kir.js';

const v: IExpr = { k: 'var', name: 'v' };
const w: IExpr = { k: 'var', name: 'w' };
const c = (x: number): IExpr => ({ k: 'const', v: x });
const add = (a: IExpr, b: IExpr): IExpr => ({ k: 'add', a, b });
const mul = (a: IExpr, b: IExpr): IExpr => ({ k: 'mul', a, b });
const div = (a: IExpr, d: number): IExpr => ({ k: 'div', a, b: c(d) });
const mod = (a: IExpr, d: number): IExpr => ({ k: 'mod', a, b: c(d) });

const at = (e: IExpr, vv: number, ww: number) =>
  evalIndex(e, {
    vars: new Map([
      ['v', vv],
      ['w', ww],
    ]),
    dims: new Map(),
  });

const expr: fc.Arbitrary<IExpr> = fc.letrec<{ e: IExpr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(v),
    fc.constant(w),
    fc.integer({ min: 0, max: 9 }).map(c),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => add(a, b)),
    fc.tuple(tie('e'), fc.integer({ min: -3, max: 200 })).map(([a, k]) => mul(a, c(k))),
    fc.tuple(tie('e'), fc.constantFrom(1, 2, 3, 4, 8, 12, 14, 196, 784)).map(([a, d]) => div(a, d)),
    fc.tuple(tie('e'), fc.constantFrom(1, 2, 3, 4, 8, 12, 14, 196, 784)).map(([a, d]) => mod(a, d)),
  ),
})).e;

describe('lane offsets', () => {
  it('sees a convolution read step by one across aligned lanes, and only there', () => {
    // b30[k*196 + (n / 196)*28224 + n % 196] along n
    const im2col = add(add(mul(w, c(196)), mul(div(v, 196), c(28224))), mod(v, 196));
    expect(alignedLaneOffsets(im2col, 'v', 4)).toEqual([0, 1, 2, 3]);
    expect(laneOffsets(im2col, 'v', 4, false)).toBeUndefined();
    expect(alignedLaneOffsets(mod(v, 14), 'v', 4)).toBeUndefined(); // 14 is not a multiple of 4
    expect(alignedLaneOffsets(mod(add(v, c(2)), 196), 'v', 4)).toBeUndefined(); // starts mid-group
    expect(alignedLaneOffsets(mul(v, c(2)), 'v', 4)).toEqual([0, 2, 4, 6]);
    expect(alignedLaneOffsets(div(v, 8), 'v', 4)).toEqual([0, 0, 0, 0]);
  });

  it('gives the lane offsets of a coalesced 2 x 2 pool gradient', () => {
    expect(alignedLaneOffsets(div(v, 2), 'v', 4)).toEqual([0, 0, 1, 1]);
    expect(alignedLaneOffsets(add(mul(div(v, 2), c(4)), mod(v, 2)), 'v', 4)).toEqual([0, 1, 4, 5]);
    expect(alignedLaneOffsets(add(mul(div(v, 2), c(2)), mod(v, 2)), 'v', 4)).toEqual([0, 1, 2, 3]);
    expect(alignedLaneOffsets(div(v, 3), 'v', 4)).toBeUndefined(); // depends on v0 mod 3
  });

  it('agrees with evaluation wherever it claims offsets', () => {
    fc.assert(
      fc.property(
        expr,
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 50 }),
        (e, q, shift, ww) => {
          const check = (o: readonly number[] | undefined, v0: number) => {
            if (o === undefined) return;
            for (let l = 0; l < 4; l++) expect(at(e, v0 + l, ww) - at(e, v0, ww) + 0).toBe(o[l]! + 0); // + 0: -0 is 0
          };
          const aligned = alignedLaneOffsets(e, 'v', 4);
          expect(laneOffsets(e, 'v', 4, true)).toEqual(laneOffsets(e, 'v', 4, false) ?? aligned);
          check(aligned, 4 * q);
          check(laneOffsets(e, 'v', 4, true), 4 * q);
          check(laneOffsets(e, 'v', 4, false), 4 * q + shift); // a constant coefficient needs no alignment
        },
      ),
      { numRuns: 4000 },
    );
  });
});
