// Algebraic simplification and canonicalisation. Every rule is exact under
// the reference interpreter's semantics, with these documented exceptions:
// - the sign of zero is ignored (x + 0 -> x turns +0 into -0 for x = -0;
//   a sum over size-1 axes likewise);
// - x - x -> 0 assumes x is finite (inf - inf is NaN);
// - exp(log x) -> x assumes x > 0 (or NaN); log(exp x) -> x assumes exp x
//   does not overflow; both may change the last bit.
// Canonical operand order changes which operand of max/min wins a tie, which
// matters to their gradients: run these passes after differentiation.

import { type Dim, dimEq, numel } from '../types.js';
import type { BinaryFn, IRBuilder, Node, NodeOf, ReduceFn, SliceAxis } from '../ir.js';
import { constValue, isBinary, isConstOf, isUnary } from './match.js';
import type { Rule } from './rewrite.js';

const rule = (name: string, apply: (n: Node, b: IRBuilder) => Node | undefined): Rule => ({ name, apply });

const operands = (n: NodeOf<'binary'>): [Node, Node] => [n.inputs[0]!, n.inputs[1]!];

/** For a binary node with one operand the constant `v`: the other operand (either side). */
function besideConst(n: NodeOf<'binary'>, v: number): Node | undefined {
  const [x, y] = operands(n);
  if (isConstOf(y, v)) return x;
  if (isConstOf(x, v)) return y;
  return undefined;
}

const COMMUTATIVE: ReadonlySet<BinaryFn> = new Set(['add', 'mul', 'max', 'min', 'eq', 'ne', 'and', 'or']);

/** Smaller id first, so that hash-consing merges `a + b` and `b + a`. */
const canonicalOrder = rule('canonical-order', (n, b) => {
  if (n.op !== 'binary' || !COMMUTATIVE.has(n.fn)) return undefined;
  const [x, y] = operands(n);
  return x.id > y.id ? b.binary(n.fn, y, x) : undefined;
});

// ---------------------------------------------------------------- arithmetic identities

const addZero = rule('add-zero', (n) => {
  if (isBinary(n, 'add')) return besideConst(n, 0);
  if (isBinary(n, 'sub') && isConstOf(n.inputs[1]!, 0)) return n.inputs[0];
  return undefined;
});

/** Assumes x finite (inf - inf and NaN - NaN are NaN); exact on i32. */
const subSelf = rule('sub-self', (n, b) =>
  isBinary(n, 'sub') && n.inputs[0] === n.inputs[1] ? b.full(0, n.dtype, n.shape) : undefined,
);

const mulOne = rule('mul-one', (n) => {
  if (isBinary(n, 'mul')) return besideConst(n, 1);
  if (isBinary(n, 'div') && isConstOf(n.inputs[1]!, 1)) return n.inputs[0];
  return undefined;
});

const mulNegOne = rule('mul-neg-one', (n, b) => {
  if (!isBinary(n, 'mul')) return undefined;
  const x = besideConst(n, -1);
  return x && b.unary('neg', x);
});

/** x * 0 -> 0 only on i32: on f32 it is wrong for inf and NaN. */
const mulZeroInt = rule('mul-zero-int', (n, b) =>
  isBinary(n, 'mul') && n.dtype === 'i32' && besideConst(n, 0) ? b.full(0, 'i32', n.shape) : undefined,
);

/** x / 2^k -> x * 2^-k: both round the same real number, so exact (|k| <= 126 keeps 2^-k an f32). */
const divPow2 = rule('div-pow2', (n, b) => {
  if (!isBinary(n, 'div') || n.dtype !== 'f32') return undefined;
  const c = constValue(n.inputs[1]!);
  if (c === undefined || c === 0 || c === 1) return undefined;
  const k = Math.log2(Math.abs(c));
  if (!Number.isInteger(k) || Math.abs(k) > 126) return undefined;
  return b.binary('mul', n.inputs[0]!, b.full(1 / c, 'f32', n.shape));
});

/** pow(x, 0) = 1 (even for NaN, as in JS), pow(x, 1) = x, pow(x, 2) = x * x (bit-exact in V8). */
const powSmall = rule('pow-small', (n, b) => {
  if (!isBinary(n, 'pow')) return undefined;
  const [x, y] = operands(n);
  switch (constValue(y)) {
    case 0:
      return b.full(1, n.dtype, n.shape);
    case 1:
      return x;
    case 2:
      return b.binary('mul', x, x);
    default:
      return undefined;
  }
});

/** x + (-y) -> x - y, x - (-y) -> x + y: IEEE defines them as the same operation. */
const addNeg = rule('add-neg', (n, b) => {
  if (isBinary(n, 'add')) {
    const [x, y] = operands(n);
    if (isUnary(y, 'neg')) return b.binary('sub', x, y.inputs[0]!);
    if (isUnary(x, 'neg')) return b.binary('sub', y, x.inputs[0]!);
  }
  if (isBinary(n, 'sub')) {
    const [x, y] = operands(n);
    if (isUnary(y, 'neg')) return b.binary('add', x, y.inputs[0]!);
  }
  return undefined;
});

// ---------------------------------------------------------------- unary chains

/** The only input of a unary/view node. */
const arg = (n: Node): Node => n.inputs[0]!;

const involution = rule('double-negation', (n) => {
  const x = arg(n);
  if ((isUnary(n, 'neg') && isUnary(x, 'neg')) || (isUnary(n, 'not') && isUnary(x, 'not'))) return arg(x);
  return undefined;
});

/** exp(log x) -> x assumes x > 0; log(exp x) -> x assumes no overflow. */
const expLog = rule('exp-log', (n) => {
  const x = arg(n);
  if ((isUnary(n, 'exp') && isUnary(x, 'log')) || (isUnary(n, 'log') && isUnary(x, 'exp'))) return arg(x);
  return undefined;
});

const absChain = rule('abs-chain', (n, b) => {
  if (!isUnary(n, 'abs')) return undefined;
  const x = n.inputs[0]!;
  if (isUnary(x, 'abs')) return x;
  if (isUnary(x, 'neg')) return b.unary('abs', x.inputs[0]!);
  return undefined;
});

const ROUNDING = new Set(['floor', 'ceil', 'round']);

/** Rounding an integral value is the identity. */
const roundRounded = rule('round-rounded', (n) => {
  const x = n.inputs[0];
  return n.op === 'unary' && ROUNDING.has(n.fn) && x?.op === 'unary' && ROUNDING.has(x.fn) ? x : undefined;
});

// ---------------------------------------------------------------- comparisons and logic

const idempotent = rule('idempotent', (n) =>
  n.op === 'binary' && ['max', 'min', 'and', 'or'].includes(n.fn) && n.inputs[0] === n.inputs[1]
    ? n.inputs[0]
    : undefined,
);

/** x < x is false for every value; x == x, x <= x and x != x only hold off NaN, so only for integers. */
const compareSelf = rule('compare-self', (n, b) => {
  if (n.op !== 'binary' || n.inputs[0] !== n.inputs[1]) return undefined;
  const integral = n.inputs[0]!.dtype !== 'f32';
  switch (n.fn) {
    case 'lt':
      return b.full(0, 'bool', n.shape);
    case 'ne':
      return integral ? b.full(0, 'bool', n.shape) : undefined;
    case 'le':
    case 'eq':
      return integral ? b.full(1, 'bool', n.shape) : undefined;
    default:
      return undefined;
  }
});

const logicConst = rule('logic-const', (n, b) => {
  if (isBinary(n, 'and')) return besideConst(n, 1) ?? (besideConst(n, 0) && b.full(0, 'bool', n.shape));
  if (isBinary(n, 'or')) return besideConst(n, 0) ?? (besideConst(n, 1) && b.full(1, 'bool', n.shape));
  return undefined;
});

/** a < b and b < a: never both true. */
function strictlyOpposite(c: Node, d: Node): boolean {
  return isBinary(c, 'lt') && isBinary(d, 'lt') && c.inputs[0] === d.inputs[1] && c.inputs[1] === d.inputs[0];
}

const whereSimplify = rule('where', (n, b) => {
  if (n.op !== 'where') return undefined;
  const [c, x, y] = n.inputs as [Node, Node, Node];
  const cv = constValue(c);
  if (cv !== undefined) return cv !== 0 ? x : y;
  if (x === y) return x;
  // With c = a < b and d = b < a (relu's derivatives nest these):
  // where(c, where(d, p, q), r) -> where(c, q, r); where(c, r, where(d, q, r)) -> where(d, q, r).
  if (x.op === 'where' && strictlyOpposite(c, x.inputs[0]!)) return b.where(c, x.inputs[2]!, y);
  if (y.op === 'where' && strictlyOpposite(c, y.inputs[0]!) && y.inputs[2] === x) return y;
  if (isUnary(c, 'not')) return b.where(c.inputs[0]!, y, x);
  if (n.dtype === 'bool' && isConstOf(x, 1) && isConstOf(y, 0)) return c;
  if (n.dtype === 'bool' && isConstOf(x, 0) && isConstOf(y, 1)) return b.unary('not', c);
  return undefined;
});

/**
 * cast(cast(x, m), t) -> cast(x, t) when the middle type loses nothing that
 * matters: from bool (values 0/1) always; i32 -> f32 -> bool (a nonzero
 * integer never rounds to 0). Not i32 -> f32 -> i32: f32 rounds above 2^24.
 */
const castCast = rule('cast-cast', (n, b) => {
  const inner = arg(n);
  if (n.op !== 'cast' || inner.op !== 'cast') return undefined;
  const x = arg(inner);
  const mid = inner.dtype;
  const ok = x.dtype === 'bool' || (x.dtype === 'i32' && mid === 'f32' && n.dtype === 'bool');
  return ok ? b.cast(x, n.dtype) : undefined;
});

// ---------------------------------------------------------------- views

const reshapeReshape = rule('reshape-reshape', (n, b) =>
  n.op === 'reshape' && arg(n).op === 'reshape' ? b.reshape(arg(arg(n)), n.shape) : undefined,
);

const permutePermute = rule('permute-permute', (n, b) => {
  const inner = arg(n);
  if (n.op !== 'permute' || inner.op !== 'permute') return undefined;
  return b.permute(
    inner.inputs[0]!,
    n.perm.map((q) => inner.perm[q]!),
  );
});

/** A permute that keeps the order of all axes longer than 1 moves no data: a reshape. */
const permuteUnitAxes = rule('permute-unit-axes', (n, b) => {
  if (n.op !== 'permute') return undefined;
  const x = n.inputs[0]!;
  const moved = n.perm.filter((p) => x.shape[p] !== 1);
  return moved.every((p, i) => i === 0 || moved[i - 1]! < p) ? b.reshape(x, n.shape) : undefined;
});

const expandExpand = rule('expand-expand', (n, b) =>
  n.op === 'expand' && arg(n).op === 'expand' ? b.expand(arg(arg(n)), n.shape) : undefined,
);

/** Outer element k is inner element start2 + k*step2, which is x's start1 + (start2 + k*step2)*step1. */
const sliceSlice = rule('slice-slice', (n, b) => {
  const inner = arg(n);
  if (n.op !== 'slice' || inner.op !== 'slice') return undefined;
  const axes = n.axes.map((o, i): SliceAxis => ({
    start: inner.axes[i]!.start + o.start * inner.axes[i]!.step,
    size: o.size,
    step: inner.axes[i]!.step * o.step,
  }));
  return b.slice(inner.inputs[0]!, axes);
});

const padPad = rule('pad-pad', (n, b) => {
  const inner = arg(n);
  if (n.op !== 'pad' || inner.op !== 'pad') return undefined;
  if (!Object.is(inner.value, n.value)) return undefined;
  return b.pad(
    inner.inputs[0]!,
    n.pads.map(([lo, hi], i): [number, number] => [lo + inner.pads[i]![0], hi + inner.pads[i]![1]]),
    n.value,
  );
});

// ---------------------------------------------------------------- reductions

/** Reducing a size-1 axis is the identity (reduce keeps the axis). */
const reduceUnitAxes = rule('reduce-unit-axes', (n, b) => {
  if (n.op !== 'reduce') return undefined;
  const x = n.inputs[0]!;
  const rest = n.axes.filter((a) => x.shape[a] !== 1);
  return rest.length < n.axes.length ? b.reduce(n.fn, x, rest) : undefined;
});

/** Order-insensitive reductions: max/min always, sum/prod on wrapping i32. Not f32 sums (rounding order). */
const exactlyAssociative = (fn: ReduceFn, dtype: string) => fn === 'max' || fn === 'min' || dtype === 'i32';

const reduceReduce = rule('reduce-reduce', (n, b) => {
  const inner = arg(n);
  if (n.op !== 'reduce' || inner.op !== 'reduce') return undefined;
  if (inner.fn !== n.fn || !exactlyAssociative(n.fn, n.dtype)) return undefined;
  return b.reduce(n.fn, inner.inputs[0]!, [...new Set([...inner.axes, ...n.axes])]);
});

/** max/min over an axis an expand broadcast (statically non-empty) sees one value: skip the broadcast there. */
const reduceOfExpand = rule('reduce-of-expand', (n, b) => {
  const e = arg(n);
  if (n.op !== 'reduce' || (n.fn !== 'max' && n.fn !== 'min') || e.op !== 'expand') return undefined;
  const y = e.inputs[0]!;
  const broadcast = n.axes.filter((a) => {
    const d = e.shape[a]!;
    return y.shape[a] === 1 && typeof d === 'number' && d > 1;
  });
  if (broadcast.length === 0) return undefined;
  const shape = e.shape.map((d, i): Dim => (broadcast.includes(i) ? 1 : d));
  return b.reduce(
    n.fn,
    b.expand(y, shape),
    n.axes.filter((a) => !broadcast.includes(a)),
  );
});

/**
 * reduce(reshape(x), axes) -> reshape(reduce(x, axes')) when every reduced
 * axis is also an axis of x (same size, same product of the dims before it):
 * the reshape only splits or merges unreduced axes, so the same elements meet
 * in the same order.
 */
const reduceThroughReshape = rule('reduce-through-reshape', (n, b) => {
  const r = arg(n);
  if (n.op !== 'reduce' || r.op !== 'reshape') return undefined;
  const x = arg(r);
  const axes = new Set<number>();
  for (const a of n.axes) {
    const before = numel(r.shape.slice(0, a));
    const j = x.shape.findIndex((d, i) => dimEq(d, r.shape[a]!) && dimEq(numel(x.shape.slice(0, i)), before));
    if (j < 0) return undefined;
    axes.add(j);
  }
  return b.reshape(b.reduce(n.fn, x, [...axes]), n.shape);
});

export const SIMPLIFY_RULES: readonly Rule[] = [
  canonicalOrder,
  addZero,
  subSelf,
  mulOne,
  mulNegOne,
  mulZeroInt,
  divPow2,
  powSmall,
  addNeg,
  involution,
  expLog,
  absChain,
  roundRounded,
  idempotent,
  compareSelf,
  logicConst,
  whereSimplify,
  castCast,
  reshapeReshape,
  permutePermute,
  permuteUnitAxes,
  expandExpand,
  sliceSlice,
  padPad,
  reduceUnitAxes,
  reduceReduce,
  reduceOfExpand,
  reduceThroughReshape,
];
