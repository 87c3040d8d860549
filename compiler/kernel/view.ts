// The shape tracker: movement ops (reshape, permute, expand, slice, pad) are
// views, never copies. Given the index of a consumer along each axis of a
// node, viewIndex walks down the chain of movement ops to a materialised
// buffer and returns the buffer's flat row-major offset, plus the validity
// condition and fill value that padding introduces. The div/mod of reshapes
// are simplified away whenever the shapes line up (index-expr.ts).

import { type Dim, type DType, type Shape, dimDiv, dimEq, dimMul } from '../types.js';
import type { Node } from '../ir.js';
import type { IBool, IExpr, Loop } from './kir.js';
import {
  type IndexCtx,
  dimExpr,
  iadd,
  iand,
  ic,
  idiv,
  ile,
  imod,
  imul,
  isFalse,
  isub,
  itrue,
  ivar,
  simplify,
  simplifyBool,
  substBool,
  substIndex,
} from './index-expr.js';

export interface ViewIndex {
  /** The materialised node the load reads. */
  readonly source: Node;
  /** Flat row-major offset into source; meaningful only where `valid` holds. */
  readonly index: IExpr;
  readonly valid: IBool;
  /** The value where `valid` does not hold (a pad value). */
  readonly fill: number;
}

/** Row-major strides of a shape, as index expressions (symbolic dims allowed). */
export function stridesOf(shape: Shape): IExpr[] {
  const out = new Array<IExpr>(shape.length);
  let s = ic(1);
  for (let k = shape.length - 1; k >= 0; k--) {
    out[k] = s;
    s = imul(s, dimExpr(shape[k]!));
  }
  return out;
}

/** sum idx_k * stride_k with row-major strides. */
export function flatIndex(shape: Shape, idx: readonly IExpr[]): IExpr {
  const strides = stridesOf(shape);
  return idx.reduce<IExpr>((acc, e, k) => iadd(acc, imul(e, strides[k]!)), ic(0));
}

/**
 * Coordinates of a flat row-major offset, `(flat / stride_k) % dim_k`. The
 * outermost axis takes no `%` and size-1 axes are 0, which assumes
 * 0 <= flat < numel(shape). With ctx the div/mod are simplified by range.
 */
export function unflatten(shape: Shape, flat: IExpr, ctx?: IndexCtx): IExpr[] {
  const outer = shape.findIndex((d) => d !== 1);
  const strides = stridesOf(shape);
  return shape.map((d, k) => {
    if (d === 1) return ic(0);
    const q = idiv(flat, strides[k]!, ctx);
    return k === outer ? q : imod(q, dimExpr(d), ctx);
  });
}

/**
 * Loops over the axes of `shape` named prefix0, prefix1, ... and the index
 * along each axis. Size-1 axes get no loop: their index is the constant 0.
 */
export function loopsFor(shape: Shape, prefix: string): { loops: Loop[]; idx: IExpr[] } {
  const loops: Loop[] = [];
  const idx = shape.map((d, k) => {
    if (d === 1) return ic(0);
    const name = `${prefix}${k}`;
    loops.push({ name, extent: d });
    return ivar(name);
  });
  return { loops, idx };
}

/**
 * Pairs up axes of two shapes of equal element count into the smallest
 * groups of equal products: a reshape only mixes indices within a group, so
 * [B, 784] -> [B, 28, 28] keeps the batch index untouched.
 */
export function reshapeGroups(from: Shape, to: Shape): { from: number[]; to: number[] }[] {
  const groups: { from: number[]; to: number[] }[] = [];
  let i = 0;
  let j = 0;
  while (i < from.length || j < to.length) {
    const g = { from: [] as number[], to: [] as number[] };
    let pf: Dim = 1;
    let pt: Dim = 1;
    const takeFrom = () => {
      g.from.push(i);
      pf = dimMul(pf, from[i++]!);
    };
    const takeTo = () => {
      g.to.push(j);
      pt = dimMul(pt, to[j++]!);
    };
    if (i < from.length) takeFrom();
    if (j < to.length) takeTo();
    while (!dimEq(pf, pt)) {
      // grow the side whose product divides the other's; else the target side
      if (i < from.length && (j >= to.length || dimDiv(pt, pf) !== undefined)) takeFrom();
      else if (j < to.length) takeTo();
      else break;
    }
    groups.push(g);
  }
  return groups;
}

/**
 * The input index of a reshape from `from` to `to`, given the index along
 * each axis of `to`: per group, flatten then unflatten.
 */
export function reshapeIndex(from: Shape, to: Shape, idx: readonly IExpr[], ctx?: IndexCtx): IExpr[] {
  const out = new Array<IExpr>(from.length);
  for (const g of reshapeGroups(from, to)) {
    const flat = flatIndex(
      g.to.map((k) => to[k]!),
      g.to.map((k) => idx[k]!),
    );
    const coords = unflatten(
      g.from.map((k) => from[k]!),
      flat,
      ctx,
    );
    g.from.forEach((k, n) => (out[k] = coords[n]!));
  }
  return out;
}

function coerce(dtype: DType, v: number): number {
  return dtype === 'i32' ? v | 0 : dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
}

/**
 * The load of `node` at `idx` (one index per axis of node.shape) through
 * movement ops down to the first node for which isSource holds. Undefined
 * when a non-movement op comes first, or when nested pads would need two
 * different fill values (the caller then materialises a pad).
 *
 * A padded axis' shifted index is only meaningful where it is in range, so
 * below a pad it is a fresh variable ranging over the unpadded dim; the
 * simplifier may then assume it in range, and the variable is replaced by
 * its expression at the end.
 */
export function viewIndex(
  node: Node,
  idx: readonly IExpr[],
  isSource: (n: Node) => boolean,
  ctx: IndexCtx,
): ViewIndex | undefined {
  let inner = ctx;
  const fresh: [string, IExpr][] = [];
  let valid: IBool = itrue;
  let fill: number | undefined;
  let cur = node;
  let ix = idx.map((e) => simplify(e, ctx));
  for (;;) {
    if (isSource(cur)) {
      let index = simplify(flatIndex(cur.shape, ix), inner);
      for (const [name, e] of [...fresh].reverse()) {
        const m = new Map([[name, e]]);
        index = substIndex(index, m);
        valid = substBool(valid, m);
      }
      return { source: cur, index: simplify(index, ctx), valid: simplifyBool(valid, ctx), fill: fill ?? 0 };
    }
    const x = cur.inputs[0];
    switch (cur.op) {
      case 'reshape':
        ix = reshapeIndex(x!.shape, cur.shape, ix, inner);
        break;
      case 'permute': {
        const next = new Array<IExpr>(ix.length);
        cur.perm.forEach((p, k) => (next[p] = ix[k]!));
        ix = next;
        break;
      }
      case 'expand':
        ix = ix.map((e, k) => (x!.shape[k] === 1 ? ic(0) : e));
        break;
      case 'slice': {
        const axes = cur.axes;
        ix = ix.map((e, k) => simplify(iadd(ic(axes[k]!.start), imul(e, ic(axes[k]!.step))), inner));
        break;
      }
      case 'pad': {
        let c: IBool = itrue;
        const next: IExpr[] = [];
        for (const [k, e] of ix.entries()) {
          const [lo, hi] = cur.pads[k]!;
          const d = x!.shape[k]!;
          if (lo === 0 && hi === 0) {
            next.push(e);
            continue;
          }
          if (typeof d !== 'number') return undefined; // the IR never pads a symbolic dim
          const ck = simplifyBool(iand(ile(ic(lo), e), ile(e, ic(lo + d - 1))), inner);
          const shifted = isub(e, ic(lo));
          if (ck.k === 'true' || isFalse(ck)) {
            next.push(shifted);
          } else {
            const name = `$pad${fresh.length}`;
            fresh.push([name, shifted]);
            inner = { extents: new Map([...inner.extents, [name, d]]) };
            next.push(ivar(name));
          }
          c = iand(c, ck);
        }
        if (c.k !== 'true') {
          const f = coerce(cur.dtype, cur.value);
          if (fill !== undefined && !Object.is(fill, f)) return undefined;
          fill = f;
          valid = iand(valid, c);
        }
        ix = next;
        break;
      }
      default:
        return undefined;
    }
    cur = x!;
  }
}

export interface ConcatPiece {
  readonly input: Node;
  /** Where this operand supplies the element: offset <= i_axis < offset + size. */
  readonly valid: IBool;
  /** The index into this operand (the concat axis shifted by its offset). */
  readonly idx: readonly IExpr[];
}

/** Per operand of a concat, its validity range along the axis and its shifted index. */
export function concatPieces(node: Node, idx: readonly IExpr[], ctx?: IndexCtx): ConcatPiece[] {
  if (node.op !== 'concat') throw new Error(`concatPieces of ${node.op}`);
  const ax = node.axis;
  const i = idx[ax]!;
  let offset = ic(0);
  return node.inputs.map((input) => {
    const size = dimExpr(input.shape[ax]!);
    const end = iadd(offset, size);
    let valid = iand(ile(offset, i), ile(iadd(i, ic(1)), end));
    let shifted = idx.map((e, k) => (k === ax ? isub(e, offset) : e));
    if (ctx) {
      valid = simplifyBool(valid, ctx);
      shifted = shifted.map((e) => simplify(e, ctx));
    }
    offset = end;
    return { input, valid, idx: shifted };
  });
}
