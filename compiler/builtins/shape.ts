// Shape builtins (reshape, transpose, broadcast_to, concat, stack, pad, take,
// roll, one_hot) and indexing `x[...]`. Symbolic dimensions flow through where the
// result is a monomial (reshape merges/splits them; -1 divides them); slicing
// or padding a symbolic axis must leave it whole.

import {
  type Dim,
  type Shape,
  type TensorType,
  dimDiv,
  dimEq,
  formatDim,
  formatShape,
  formatType,
  numel,
} from '../types.js';
import type { BuiltinDef, LowerContext } from '../builtin.js';
import type { IRBuilder, Node, SliceAxis } from '../ir.js';
import {
  type ArgsOf,
  type Check,
  P,
  arg,
  countOf,
  define,
  expectDtype,
  getInts,
  getNumber,
  getPairs,
  getShape,
  insertAxis,
  isInt,
  listArg,
  normAxisOf,
  unwrap,
} from './common.js';

// ---- reshape ----

/** The target shape with -1 resolved, or why it cannot be. */
export function reshapeTarget(x: TensorType, shape: readonly Dim[]): Shape | string {
  const into = `cannot reshape ${formatType(x)} into ${formatShape(shape)}`;
  const holes = shape.filter((d) => d === -1).length;
  if (holes > 1) return `${into}: only one -1 is allowed`;
  const bad = shape.find((d) => typeof d === 'number' && d !== -1 && !(isInt(d) && d >= 0));
  if (bad !== undefined) return `${into}: bad dimension ${formatDim(bad)}`;
  const known = numel(shape.filter((d) => d !== -1));
  const total = numel(x.shape);
  if (holes === 0) {
    if (!dimEq(known, total)) return `${into}: ${formatDim(total)} elements cannot become ${formatDim(known)} elements`;
    return shape;
  }
  const rest = known === 0 ? undefined : dimDiv(total, known);
  if (rest === undefined) return `${into}: ${formatDim(total)} elements are not a multiple of ${formatDim(known)}`;
  return shape.map((d) => (d === -1 ? rest : d));
}

function reshapeOf(a: ArgsOf<TensorType>): Shape | string {
  const shape = getShape(a, 'shape');
  if (shape === undefined) return 'shape must be a list of dimensions';
  return reshapeTarget(arg(a, 'x'), shape);
}

// ---- transpose ----

function permOf(a: ArgsOf<TensorType>): number[] | string {
  const x = arg(a, 'x');
  const r = x.shape.length;
  const given = getInts(a, 'perm');
  if (given === undefined) return x.shape.map((_, i) => r - 1 - i);
  const bad = `[${given.join(', ')}] is not a permutation of the ${r} axes of ${formatType(x)}`;
  if (given.length !== r) return bad;
  const perm: number[] = [];
  for (const p of given) {
    const ax = normAxisOf(p, x);
    if (typeof ax === 'string' || perm.includes(ax)) return bad;
    perm.push(ax);
  }
  return perm;
}

// ---- broadcast_to ----

function checkBroadcastTo(a: ArgsOf<TensorType>): Check {
  const x = arg(a, 'x');
  const shape = getShape(a, 'shape');
  if (shape === undefined) return 'shape must be a list of dimensions';
  const bad = `cannot broadcast ${formatType(x)} to ${formatShape(shape)}`;
  if (shape.some((d) => typeof d === 'number' && !(isInt(d) && d >= 0))) return bad;
  const lead = shape.length - x.shape.length;
  if (lead < 0) return `${bad}: the target has fewer axes`;
  for (let i = 0; i < x.shape.length; i++) {
    const d = x.shape[i]!;
    const t = shape[lead + i]!;
    if (d !== 1 && !dimEq(d, t)) return `${bad}: dimension ${formatDim(d)} cannot stretch to ${formatDim(t)}`;
  }
  return undefined;
}

// ---- concat / stack ----

function addDim(a: Dim, b: Dim): Dim | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  if (typeof a === 'number' || typeof b === 'number') return undefined;
  const same = a.syms.length === b.syms.length && a.syms.every((s, i) => s === b.syms[i]);
  return same ? { coef: a.coef + b.coef, syms: a.syms } : undefined;
}

/** The normalised concat axis, or why the operands do not concatenate. */
function concatAxis(xs: readonly TensorType[], axis: number): number | string {
  const first = xs[0];
  if (first === undefined) return 'needs at least one tensor';
  if (first.shape.length === 0) return `cannot concatenate scalars (${formatType(first)}); use stack`;
  const ax = normAxisOf(axis, first);
  if (typeof ax === 'string') return ax;
  let total: Dim = 0;
  for (const t of xs) {
    if (t.dtype !== first.dtype) return `dtypes differ: ${formatType(first)} and ${formatType(t)} (use cast)`;
    const off = t.shape.length === first.shape.length && t.shape.every((d, i) => i === ax || dimEq(d, first.shape[i]!));
    if (!off) return `shapes ${formatType(first)} and ${formatType(t)} differ off axis ${axis}`;
    const sum = addDim(total, t.shape[ax]!);
    if (sum === undefined)
      return `cannot add sizes ${formatDim(total)} and ${formatDim(t.shape[ax]!)} along axis ${axis} (symbolic and static)`;
    total = sum;
  }
  return ax;
}

function stackAxis(xs: readonly TensorType[], axis: number): number | string {
  const first = xs[0];
  if (first === undefined) return 'needs at least one tensor';
  for (const t of xs)
    if (
      t.dtype !== first.dtype ||
      t.shape.length !== first.shape.length ||
      !t.shape.every((d, i) => dimEq(d, first.shape[i]!))
    )
      return `all tensors must have the same type: ${formatType(first)} and ${formatType(t)} differ`;
  return normAxisOf(axis, first, first.shape.length + 1);
}

// ---- pad ----

function checkPad(a: ArgsOf<TensorType>): Check {
  const x = arg(a, 'x');
  const pads = getPairs(a, 'pads');
  if (pads === undefined) return 'pads must be a list of [lo, hi] pairs';
  if (pads.length !== x.shape.length) return `needs one [lo, hi] pair per axis of ${formatType(x)}, got ${pads.length}`;
  for (let i = 0; i < pads.length; i++) {
    const [lo, hi] = pads[i]!;
    if (!isInt(lo) || !isInt(hi) || lo < 0 || hi < 0)
      return `pad amounts must be non-negative integers, got [${lo}, ${hi}] for axis ${i}`;
    const d = x.shape[i]!;
    if (typeof d !== 'number' && lo + hi > 0) return `cannot pad symbolic axis ${formatDim(d)} of ${formatType(x)}`;
  }
  const v = getNumber(a, 'value') ?? 0;
  if (x.dtype === 'i32' && !isInt(v)) return `value ${v} is not an i32`;
  if (x.dtype === 'bool' && v !== 0 && v !== 1) return `value ${v} is not a bool (0 or 1)`;
  return undefined;
}

// ---- take / one_hot ----

/** gather with NumPy's negative indices (counting from the end); out-of-range ones clamp. */
export function takeAxis(b: IRBuilder, x: Node, idx: Node, axis: number): Node {
  const n = countOf(b, [x.shape[axis]!], 'i32');
  const fixed = b.select(b.bin('lt', idx, 0), b.bin('add', idx, n), idx);
  return b.gather(x, fixed, axis);
}

function checkTake(a: ArgsOf<TensorType>): Check {
  const x = arg(a, 'x');
  const e = expectDtype(arg(a, 'idx'), ['i32'], 'idx');
  if (e !== undefined) return e;
  if (x.shape.length === 0) return `cannot index a scalar ${formatType(x)}`;
  const ax = normAxisOf(getNumber(a, 'axis') ?? 0, x);
  return typeof ax === 'string' ? ax : undefined;
}

/**
 * NumPy's roll along one axis: out[i] = x[(i - shift) mod n]. A gather with
 * computed indices rather than two slices, so it works on a symbolic axis
 * (the batch: `roll(x, 1)` pairs each example with its neighbour).
 */
export function roll(b: IRBuilder, x: Node, shift: number, axis: number): Node {
  const d = x.shape[axis]!;
  if (typeof d === 'number' && shift % d === 0) return x;
  const n = countOf(b, [d], 'i32');
  const idx = b.bin('mod', b.bin('sub', b.iota([d], 0), b.const(shift, 'i32')), n);
  return b.gather(x, idx, axis);
}

function checkRoll(a: ArgsOf<TensorType>): Check {
  const x = arg(a, 'x');
  if (x.shape.length === 0) return `cannot roll a scalar ${formatType(x)}`;
  const ax = normAxisOf(getNumber(a, 'axis') ?? 0, x);
  return typeof ax === 'string' ? ax : undefined;
}

/** f32 one-hot rows: iota == y[..., None]; labels out of [0, n) give all-zero rows. */
export function oneHotMask(b: IRBuilder, y: Node, n: Dim): Node {
  const shape = [...y.shape, n];
  const r = y.shape.length;
  return b.bin('eq', b.iota(shape, r), b.expand(insertAxis(b, y, r), shape));
}

function checkOneHot(a: ArgsOf<TensorType>): Check {
  const e = expectDtype(arg(a, 'y'), ['i32']);
  if (e !== undefined) return e;
  const n = getNumber(a, 'n');
  if (n === undefined || !isInt(n) || n < 1) return `n must be a positive integer, got ${n}`;
  return undefined;
}

// ---- indexing ----

/** One item of `x[...]`. T is a tensor's type when validating, its node when lowering. */
export type IndexSpec<T extends TensorType = Node> =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'slice'; readonly start?: number; readonly end?: number; readonly step?: number }
  | { readonly kind: 'ellipsis' }
  | { readonly kind: 'tensor'; readonly index: T };

interface IndexPlan {
  readonly slices: SliceAxis[];
  /** Axes indexed by an int: sliced to size 1, then dropped. */
  readonly drop: number[];
  /** The axis indexed by a tensor (take), if any. */
  readonly tensorAxis: number | undefined;
}

function planIndex(x: TensorType, items: readonly IndexSpec<TensorType>[]): IndexPlan | string {
  const r = x.shape.length;
  const ells = items.filter((it) => it.kind === 'ellipsis').length;
  if (ells > 1) return `only one '...' is allowed in an index`;
  const given = items.length - ells;
  if (given > r) return `too many indices for ${formatType(x)}: ${given} given`;
  if (items.filter((it) => it.kind === 'tensor').length > 1) return 'only one tensor index is supported';
  const full: IndexSpec<TensorType> = { kind: 'slice' };
  const expanded: IndexSpec<TensorType>[] = [];
  for (const it of items) {
    if (it.kind === 'ellipsis') for (let i = 0; i < r - given; i++) expanded.push(full);
    else expanded.push(it);
  }
  while (expanded.length < r) expanded.push(full);

  const slices: SliceAxis[] = [];
  const drop: number[] = [];
  let tensorAxis: number | undefined;
  for (let i = 0; i < r; i++) {
    const it = expanded[i]!;
    const d = x.shape[i]!;
    const whole: SliceAxis = { start: 0, size: d, step: 1 };
    if (it.kind === 'tensor') {
      const e = expectDtype(it.index, ['i32'], 'tensor index');
      if (e !== undefined) return e;
      tensorAxis = i;
      slices.push(whole);
    } else if (it.kind === 'int') {
      if (!isInt(it.value)) return `index ${it.value} is not an integer`;
      if (typeof d !== 'number')
        return `cannot index symbolic axis ${formatDim(d)} of ${formatType(x)} with a constant (only whole slices)`;
      if (it.value < -d || it.value >= d) return `index ${it.value} is out of range for axis ${i} of ${formatType(x)}`;
      slices.push({ start: it.value < 0 ? it.value + d : it.value, size: 1, step: 1 });
      drop.push(i);
    } else if (it.kind === 'slice') {
      const step = it.step ?? 1;
      if (!isInt(step) || step <= 0) return `slice step must be a positive integer, got ${step}`;
      if ((it.start !== undefined && !isInt(it.start)) || (it.end !== undefined && !isInt(it.end)))
        return 'slice bounds must be integers';
      if (typeof d !== 'number') {
        if ((it.start ?? 0) !== 0 || it.end !== undefined || step !== 1)
          return `slices of symbolic axis ${formatDim(d)} of ${formatType(x)} must be whole (':')`;
        slices.push(whole);
        continue;
      }
      // NumPy: negative bounds count from the end, then clamp into [0, d].
      const clampBound = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      const start = clampBound(it.start ?? 0);
      const end = clampBound(it.end ?? d);
      const size = Math.max(0, Math.ceil((end - start) / step));
      slices.push({ start: size === 0 ? 0 : start, size, step });
    }
  }
  return { slices, drop, tensorAxis };
}

/** Why `x[items]` is invalid, or undefined when fine. */
export function validateIndex(x: TensorType, items: readonly IndexSpec<TensorType>[]): string | undefined {
  const p = planIndex(x, items);
  return typeof p === 'string' ? p : undefined;
}

/**
 * Lowers `x[items]` (NumPy basic indexing plus one i32 tensor index, which
 * is `take` on its axis: the index's dimensions replace that axis).
 */
export function lowerIndex(ctx: LowerContext, x: Node, items: readonly IndexSpec[]): Node {
  const b = ctx.b;
  const plan = unwrap(planIndex(x, items));
  let y = b.slice(x, plan.slices);
  y = b.reshape(
    y,
    y.shape.filter((_, i) => !plan.drop.includes(i)),
  );
  const t = plan.tensorAxis;
  if (t === undefined) return y;
  const idx = items.find((it) => it.kind === 'tensor');
  if (idx?.kind !== 'tensor') return y;
  return takeAxis(b, y, idx.index, t - plan.drop.filter((d) => d < t).length);
}

export const SHAPE: readonly BuiltinDef[] = [
  define(
    'reshape',
    [P.tensor('x'), P.shape('shape')],
    (a) => {
      const s = reshapeOf(a);
      return typeof s === 'string' ? s : undefined;
    },
    (ctx, a) => ctx.b.reshape(arg(a, 'x'), unwrap(reshapeOf(a))),
  ),
  define(
    'transpose',
    [P.tensor('x'), P.ints('perm', null)],
    (a) => {
      const p = permOf(a);
      return typeof p === 'string' ? p : undefined;
    },
    (ctx, a) => ctx.b.permute(arg(a, 'x'), unwrap(permOf(a))),
  ),
  define(
    'transpose_last2',
    [P.tensor('x')],
    (a) => {
      const x = arg(a, 'x');
      return x.shape.length < 2 ? `.T needs at least 2 axes, got ${formatType(x)}` : undefined;
    },
    (ctx, a) => {
      const x = arg(a, 'x');
      const r = x.shape.length;
      return ctx.b.permute(x, [...x.shape.slice(0, r - 2).map((_, i) => i), r - 1, r - 2]);
    },
  ),
  define('broadcast_to', [P.tensor('x'), P.shape('shape')], checkBroadcastTo, (ctx, a) =>
    ctx.b.broadcastTo(arg(a, 'x'), getShape(a, 'shape') ?? []),
  ),
  define(
    'concat',
    [P.tensors('xs'), P.int('axis', 0)],
    (a) => {
      const ax = concatAxis(listArg(a, 'xs'), getNumber(a, 'axis') ?? 0);
      return typeof ax === 'string' ? ax : undefined;
    },
    (ctx, a) => {
      const xs = listArg(a, 'xs');
      return ctx.b.concat(xs, unwrap(concatAxis(xs, getNumber(a, 'axis') ?? 0)));
    },
  ),
  define(
    'stack',
    [P.tensors('xs'), P.int('axis', 0)],
    (a) => {
      const ax = stackAxis(listArg(a, 'xs'), getNumber(a, 'axis') ?? 0);
      return typeof ax === 'string' ? ax : undefined;
    },
    (ctx, a) => {
      const xs = listArg(a, 'xs');
      const ax = unwrap(stackAxis(xs, getNumber(a, 'axis') ?? 0));
      return ctx.b.concat(
        xs.map((x) => insertAxis(ctx.b, x, ax)),
        ax,
      );
    },
  ),
  define('pad', [P.tensor('x'), P.pairs('pads'), P.number('value', 0)], checkPad, (ctx, a) =>
    ctx.b.pad(arg(a, 'x'), getPairs(a, 'pads') ?? [], getNumber(a, 'value') ?? 0),
  ),
  define('take', [P.tensor('x'), P.tensor('idx'), P.int('axis', 0)], checkTake, (ctx, a) => {
    const x = arg(a, 'x');
    return takeAxis(ctx.b, x, arg(a, 'idx'), unwrap(normAxisOf(getNumber(a, 'axis') ?? 0, x)));
  }),
  define('roll', [P.tensor('x'), P.int('shift'), P.int('axis', 0)], checkRoll, (ctx, a) => {
    const x = arg(a, 'x');
    return roll(ctx.b, x, getNumber(a, 'shift') ?? 0, unwrap(normAxisOf(getNumber(a, 'axis') ?? 0, x)));
  }),
  define('one_hot', [P.tensor('y'), P.int('n')], checkOneHot, (ctx, a) =>
    ctx.b.cast(oneHotMask(ctx.b, arg(a, 'y'), getNumber(a, 'n') ?? 1), 'f32'),
  ),
];
