// Shared pieces of the decomposition table: reading static arguments,
// user-facing validation messages, and small lowering helpers (reductions
// with keepdims, runtime element counts) used by several builtin families.

import {
  type DType,
  type Dim,
  type Shape,
  type SymDim,
  type TensorType,
  DTYPES,
  broadcastShapes,
  dimEq,
  formatType,
  numel,
} from '../types.js';
import type { BuiltinDef, LowerContext, ParamSpec, StaticValue } from '../builtin.js';
import { type IRBuilder, type Node, type ReduceFn, IRError } from '../ir.js';

/** A validation result: a user-facing complaint, or undefined when fine. */
export type Check = string | undefined;

/** Arguments as the checker passes them: types to validate, nodes to lower. */
export interface ArgsOf<T extends TensorType> {
  readonly tensors: ReadonlyMap<string, T>;
  readonly lists: ReadonlyMap<string, readonly T[]>;
  readonly statics: ReadonlyMap<string, StaticValue>;
}

/**
 * Builds a table entry. `validate` sees only types, so it also runs on the
 * nodes at lowering time: a call the checker let through unvalidated becomes
 * an internal error with the user-facing message instead of a broken graph.
 */
export function define(
  name: string,
  params: readonly ParamSpec[],
  validate: (a: ArgsOf<TensorType>) => Check,
  lower: (ctx: LowerContext, a: ArgsOf<Node>) => Node,
): BuiltinDef {
  return {
    name,
    params,
    validate,
    lower(ctx, a) {
      const err = validate(a);
      if (err !== undefined) throw new IRError(`${name}: ${err}`);
      return lower(ctx, a);
    },
  };
}

// ---- parameter specs ----

export const P = {
  tensor: (name: string): ParamSpec => ({ name, kind: 'tensor' }),
  tensors: (name: string): ParamSpec => ({ name, kind: 'tensors' }),
  int: (name: string, def?: number | null): ParamSpec =>
    def === undefined ? { name, kind: 'int' } : { name, kind: 'int', default: def },
  ints: (name: string, def?: number | readonly number[] | null): ParamSpec =>
    def === undefined ? { name, kind: 'ints' } : { name, kind: 'ints', default: def },
  number: (name: string, def?: number): ParamSpec =>
    def === undefined ? { name, kind: 'number' } : { name, kind: 'number', default: def },
  shape: (name: string): ParamSpec => ({ name, kind: 'shape' }),
  pairs: (name: string): ParamSpec => ({ name, kind: 'pairs' }),
  dtype: (name: string): ParamSpec => ({ name, kind: 'dtype' }),
  string: (name: string): ParamSpec => ({ name, kind: 'string' }),
  keepdims: { name: 'keepdims', kind: 'bool', default: false, keywordOnly: true } satisfies ParamSpec,
};

// ---- reading arguments ----

/** A required tensor argument; its absence is a broken checker contract. */
export function arg<T extends TensorType>(a: ArgsOf<T>, name: string): T {
  const t = a.tensors.get(name);
  if (t === undefined) throw new IRError(`missing tensor argument '${name}'`);
  return t;
}

export function listArg<T extends TensorType>(a: ArgsOf<T>, name: string): readonly T[] {
  const t = a.lists.get(name);
  if (t === undefined) throw new IRError(`missing tensor list argument '${name}'`);
  return t;
}

type Statics = { readonly statics: ReadonlyMap<string, StaticValue> };

export function getNumber(a: Statics, name: string): number | undefined {
  const v = a.statics.get(name);
  return typeof v === 'number' ? v : undefined;
}

export function getBool(a: Statics, name: string): boolean | undefined {
  const v = a.statics.get(name);
  return typeof v === 'boolean' ? v : undefined;
}

export function getString(a: Statics, name: string): string | undefined {
  const v = a.statics.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function getDType(a: Statics, name: string): DType | undefined {
  const v = a.statics.get(name);
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v) ? (v as DType) : undefined;
}

function listOf(v: StaticValue | undefined): readonly unknown[] | undefined {
  return typeof v === 'object' ? (v as readonly unknown[]) : undefined;
}

/** An 'ints' argument (a lone int counts as a list of one). */
export function getInts(a: Statics, name: string): readonly number[] | undefined {
  const v = a.statics.get(name);
  if (typeof v === 'number') return [v];
  const l = listOf(v);
  return l?.every((x) => typeof x === 'number') ? (l as readonly number[]) : undefined;
}

export function getPairs(a: Statics, name: string): readonly (readonly [number, number])[] | undefined {
  const l = listOf(a.statics.get(name));
  const ok = l?.every(
    (p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'number' && typeof p[1] === 'number',
  );
  return ok ? (l as readonly (readonly [number, number])[]) : undefined;
}

function isSymDim(x: unknown): x is SymDim {
  return typeof x === 'object' && x !== null && 'coef' in x && 'syms' in x;
}

export function getShape(a: Statics, name: string): readonly Dim[] | undefined {
  const l = listOf(a.statics.get(name));
  return l?.every((x) => typeof x === 'number' || isSymDim(x)) ? (l as readonly Dim[]) : undefined;
}

// ---- validation messages ----

/** "expects f32, got i32[3]", optionally prefixed by the argument's name. */
export function expectDtype(t: TensorType, allowed: readonly DType[], what?: string): Check {
  if (allowed.includes(t.dtype)) return undefined;
  return `${what === undefined ? '' : `${what}: `}expects ${allowed.join(' or ')}, got ${formatType(t)}`;
}

export function sameDtype(ts: readonly TensorType[]): Check {
  const first = ts[0];
  if (first === undefined) return undefined;
  const other = ts.find((t) => t.dtype !== first.dtype);
  return other ? `dtypes differ: ${formatType(first)} and ${formatType(other)} (use cast)` : undefined;
}

function listText(items: readonly string[]): string {
  return items.length <= 2 ? items.join(' and ') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The NumPy broadcast of several shapes, or a message naming all the types. */
export function broadcastTypes(ts: readonly TensorType[]): Shape | string {
  let shape: Shape = [];
  for (const t of ts) {
    const r = broadcastShapes(shape, t.shape);
    if (typeof r === 'string') return `shapes ${listText(ts.map(formatType))} do not broadcast`;
    shape = r;
  }
  return shape;
}

/** Checks that `t` broadcasts to exactly `shape` (a scale/shift of x, say). */
export function broadcastsTo(t: TensorType, shape: Shape): boolean {
  const r = broadcastShapes(t.shape, shape);
  return typeof r !== 'string' && r.length === shape.length && r.every((d, i) => dimEq(d, shape[i]!));
}

export function isInt(n: number): boolean {
  return Number.isInteger(n);
}

/** Normalises one possibly negative axis of a rank-`rank` tensor, or explains why not. */
export function normAxisOf(axis: number, t: TensorType, rank = t.shape.length): number | string {
  if (!isInt(axis)) return `axis ${axis} is not an integer`;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) return `axis ${axis} is out of range for ${formatType(t)}`;
  return a;
}

/** Normalises a list of axes (distinct), or explains why not. */
export function normAxesOf(axes: readonly number[], t: TensorType): number[] | string {
  const out: number[] = [];
  for (const ax of axes) {
    const a = normAxisOf(ax, t);
    if (typeof a === 'string') return a;
    if (out.includes(a)) return `axis ${ax} is repeated in [${axes.join(', ')}]`;
    out.push(a);
  }
  return out.sort((x, y) => x - y);
}

/** An internal failure where validation should already have refused. */
export function unwrap<T>(v: T | string): T {
  if (typeof v === 'string') throw new IRError(v);
  return v;
}

// ---- lowering helpers ----

/** Reduces over `axes`; without keepdims the reduced axes are dropped. */
export function reduceAxes(b: IRBuilder, fn: ReduceFn, x: Node, axes: readonly number[], keepdims: boolean): Node {
  const r = b.reduce(fn, x, axes);
  return keepdims ? r : dropAxes(b, r, axes);
}

/** Drops size-1 `axes` by reshape. */
export function dropAxes(b: IRBuilder, x: Node, axes: readonly number[]): Node {
  return b.reshape(
    x,
    x.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** Inserts a size-1 axis at `axis`. */
export function insertAxis(b: IRBuilder, x: Node, axis: number): Node {
  return b.reshape(x, [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)]);
}

/**
 * The number of elements of `dims` as a scalar of `dtype`; symbolic sizes
 * are read at run time (the IR's `dim` op).
 */
export function countOf(b: IRBuilder, dims: Shape, dtype: DType): Node {
  const n = numel(dims);
  if (dtype === 'bool') throw new Error('a count is numeric');
  return b.dimSize(n, dtype);
}

/** Mean over `axes` (a symbolic count is taken at run time). */
export function meanAxes(b: IRBuilder, x: Node, axes: readonly number[], keepdims: boolean): Node {
  const s = reduceAxes(b, 'sum', x, axes, keepdims);
  return b.bin(
    'div',
    s,
    countOf(
      b,
      axes.map((i) => x.shape[i]!),
      x.dtype,
    ),
  );
}

/** Population variance over `axes` (two-pass: mean first, for stability). */
export function varAxes(b: IRBuilder, x: Node, axes: readonly number[], keepdims: boolean): Node {
  const d = b.bin('sub', x, meanAxes(b, x, axes, true));
  return meanAxes(b, b.bin('mul', d, d), axes, keepdims);
}

/**
 * log(sum(exp(x))) over `axes`, shifted by the (gradient-stopped) max; a
 * non-finite max is replaced by 0 so an all -inf row gives -inf, not NaN.
 */
export function logsumexpAxes(b: IRBuilder, x: Node, axes: readonly number[], keepdims: boolean): Node {
  const m = b.stopGradient(b.reduce('max', x, axes));
  const finite = b.bin('le', b.unary('abs', m), F32_MAX);
  const shift = b.select(finite, m, 0);
  const s = b.reduce('sum', b.unary('exp', b.bin('sub', x, shift)), axes);
  const r = b.bin('add', b.unary('log', s), shift);
  return keepdims ? r : dropAxes(b, r, axes);
}

/** The largest finite f32. */
export const F32_MAX = 3.4028234663852886e38;

/** x - logsumexp(x) along `axis`. */
export function logSoftmaxAxis(b: IRBuilder, x: Node, axis: number): Node {
  return b.bin('sub', x, logsumexpAxes(b, x, [axis], true));
}

/** Numerically stable sigmoid: exp(-|x|) never overflows, and one branch condition keeps gradients exact. */
export function sigmoidOf(b: IRBuilder, x: Node): Node {
  const pos = ge(b, x, 0);
  const z = b.unary('exp', b.where(pos, b.unary('neg', x), x));
  const s = b.unary('recip', b.bin('add', z, 1));
  return b.where(pos, s, b.binary('mul', z, s));
}

/** softplus(x) = max(x, 0) + log1p(exp(-|x|)), both parts under one branch condition (exact gradient at 0). */
export function softplusOf(b: IRBuilder, x: Node): Node {
  const pos = ge(b, x, 0);
  const lin = b.where(pos, x, b.full(0, x.dtype, x.shape));
  const negAbs = b.where(pos, b.unary('neg', x), x);
  return b.binary('add', lin, b.unary('log1p', b.unary('exp', negAbs)));
}

/** a >= b and a > b with broadcasting (the IR has only lt/le). */
export function ge(b: IRBuilder, x: Node | number, y: Node | number): Node {
  return b.bin('le', y, x);
}
export function gt(b: IRBuilder, x: Node | number, y: Node | number): Node {
  return b.bin('lt', y, x);
}
