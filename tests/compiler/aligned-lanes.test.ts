// alignedLaneCoef and alignedLaneOffsets (compiler/kernel/affine.ts): the step
// (or the offsets) of an index across four lanes whose first value is a
// multiple of 4, through floor div/mod. Checked against evaluation on random
// expressions: whenever they claim a step c (offsets o), e(v0 + l) - e(v0) =
// c * l (o[l]) for every aligned v0 and every other variable.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignedLaneCoef, alignedLaneOffsets } from '../../compiler/kernel/affine.js';
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

describe('alignedLaneCoef', () => {
  it('sees a convolution read step by one across aligned lanes', () => {
    // b30[k*196 + (n / 196)*28224 + n % 196] along n
    const im2col = add(add(mul(w, c(196)), mul(div(v, 196), c(28224))), mod(v, 196));
    expect(alignedLaneCoef(im2col, 'v', 4)).toBe(1);
    expect(alignedLaneCoef(mod(v, 14), 'v', 4)).toBeUndefined(); // 14 is not a multiple of 4
    expect(alignedLaneCoef(mod(add(v, c(2)), 196), 'v', 4)).toBeUndefined(); // starts mid-group
    expect(alignedLaneCoef(mul(v, c(2)), 'v', 4)).toBe(2);
    expect(alignedLaneCoef(div(v, 8), 'v', 4)).toBe(0);
  });

  it('gives the lane offsets of a coalesced 2 x 2 pool gradient', () => {
    expect(alignedLaneOffsets(div(v, 2), 'v', 4)).toEqual([0, 0, 1, 1]);
    expect(alignedLaneOffsets(add(mul(div(v, 2), c(4)), mod(v, 2)), 'v', 4)).toEqual([0, 1, 4, 5]);
    expect(alignedLaneOffsets(add(mul(div(v, 2), c(2)), mod(v, 2)), 'v', 4)).toEqual([0, 1, 2, 3]);
    expect(alignedLaneOffsets(div(v, 3), 'v', 4)).toBeUndefined(); // depends on v0 mod 3
  });

  it('agrees with evaluation wherever it claims offsets or a step', () => {
    fc.assert(
      fc.property(expr, fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 50 }), (e, q, ww) => {
        const o = alignedLaneOffsets(e, 'v', 4);
        const step = alignedLaneCoef(e, 'v', 4);
        if (step !== undefined) expect(o).toBeDefined();
        if (o === undefined) return;
        const v0 = 4 * q;
        for (let l = 0; l < 4; l++) {
          const d = at(e, v0 + l, ww) - at(e, v0, ww) + 0; // + 0: -0 and 0 are the same offset
          expect(d).toBe(o[l]! + 0);
          if (step !== undefined) expect(d).toBe(step * l + 0);
        }
      }),
      { numRuns: 4000 },
    );
  });
});
