// Reductions: `name(x, axis = null, keepdims = false)`, where a null axis
// means all axes and `axis` may be an int or a list (negative counts from the
// end). argmax/argmin take one axis, or none (index into the flattened x, as
// NumPy), and return the first of equal values.

import { type DType, type TensorType, numel } from '../types.js';
import type { BuiltinDef } from '../builtin.js';
import type { IRBuilder, Node, ReduceFn } from '../ir.js';
import {
  type ArgsOf,
  type Check,
  P,
  arg,
  define,
  dropAxes,
  expectDtype,
  getBool,
  getInts,
  getNumber,
  logsumexpAxes,
  meanAxes,
  normAxesOf,
  normAxisOf,
  reduceAxes,
  unwrap,
  varAxes,
} from './common.js';

const F32: readonly DType[] = ['f32'];
const NUM: readonly DType[] = ['f32', 'i32'];

/** The normalised axes of a reduction (all of them when `axis` is null). */
function axesOf(a: ArgsOf<TensorType>): number[] | string {
  const x = arg(a, 'x');
  const given = getInts(a, 'axis');
  if (given === undefined) return x.shape.map((_, i) => i);
  return normAxesOf(given, x);
}

function reduction(
  name: string,
  dtypes: readonly DType[],
  lower: (b: IRBuilder, x: Node, axes: readonly number[], keepdims: boolean) => Node,
): BuiltinDef {
  return define(
    name,
    [P.tensor('x'), P.ints('axis', null), P.keepdims],
    (a) => {
      const e = expectDtype(arg(a, 'x'), dtypes);
      if (e !== undefined) return e;
      const axes = axesOf(a);
      return typeof axes === 'string' ? axes : undefined;
    },
    (ctx, a) => lower(ctx.b, arg(a, 'x'), unwrap(axesOf(a)), getBool(a, 'keepdims') ?? false),
  );
}

const prim = (fn: ReduceFn) => (b: IRBuilder, x: Node, axes: readonly number[], keepdims: boolean) =>
  reduceAxes(b, fn, x, axes, keepdims);

/**
 * The first index of the extreme value along `axis` (kept with size 1):
 * where(x == extreme, iota, big) reduced by min. NaN counts as extreme, so
 * the first NaN wins, as in NumPy.
 */
export function argExtreme(b: IRBuilder, fn: 'max' | 'min', x: Node, axis: number): Node {
  const m = b.reduce(fn, x, [axis]);
  let hit = b.bin('eq', x, m);
  if (x.dtype === 'f32') hit = b.binary('or', hit, b.binary('ne', x, x));
  const big = b.full(2147483647, 'i32', x.shape);
  return b.reduce('min', b.where(hit, b.iota(x.shape, axis), big), [axis]);
}

function checkArg(a: ArgsOf<TensorType>): Check {
  const x = arg(a, 'x');
  const e = expectDtype(x, NUM);
  if (e !== undefined) return e;
  const ax = getNumber(a, 'axis');
  if (ax === undefined) return undefined;
  const n = normAxisOf(ax, x);
  return typeof n === 'string' ? n : undefined;
}

function argDef(name: string, fn: 'max' | 'min'): BuiltinDef {
  return define(name, [P.tensor('x'), P.int('axis', null), P.keepdims], checkArg, (ctx, a) => {
    const b = ctx.b;
    const x = arg(a, 'x');
    const keepdims = getBool(a, 'keepdims') ?? false;
    const ax = getNumber(a, 'axis');
    if (ax === undefined) {
      const r = argExtreme(b, fn, b.reshape(x, [numel(x.shape)]), 0);
      return b.reshape(r, keepdims ? x.shape.map(() => 1) : []);
    }
    const axis = unwrap(normAxisOf(ax, x));
    const r = argExtreme(b, fn, x, axis);
    return keepdims ? r : dropAxes(b, r, [axis]);
  });
}

export const REDUCTIONS: readonly BuiltinDef[] = [
  reduction('sum', NUM, prim('sum')),
  reduction('prod', NUM, prim('prod')),
  reduction('max', NUM, prim('max')),
  reduction('min', NUM, prim('min')),
  reduction('mean', F32, meanAxes),
  reduction('var', F32, varAxes),
  reduction('std', F32, (b, x, axes, k) => b.unary('sqrt', varAxes(b, x, axes, k))),
  reduction('logsumexp', F32, logsumexpAxes),
  argDef('argmax', 'max'),
  argDef('argmin', 'min'),
];
