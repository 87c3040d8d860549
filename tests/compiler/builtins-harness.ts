// Test harness for the decomposition table: calls builtins the way the
// checker does (positional/keyword arguments matched to ParamSpecs, defaults
// filled, 'ints' normalised, numeric literals for tensor params made scalar
// constants of the other tensors' dtype), then validates and lowers.

import { mulberry32 } from '../../runtime/mulberry32.js';
import type { BuiltinDef, LowerContext, StaticValue } from '../../compiler/builtin.js';
import { BUILTINS } from '../../compiler/decompose.js';
import { type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import { IRBuilder, type Node } from '../../compiler/ir.js';
import { type DType, type Shape, type TensorType, sym } from '../../compiler/types.js';

export const B = sym('B');

export function makeCtx(b: IRBuilder, training = false): LowerContext {
  let salt = 0;
  let key: Node | undefined;
  return {
    b,
    training,
    rngKey: () => (key ??= b.input('@seed', { dtype: 'i32', shape: [] })),
    nextSalt: () => salt++,
  };
}

export function def(name: string): BuiltinDef {
  const d = BUILTINS.get(name);
  if (!d) throw new Error(`no builtin '${name}'`);
  return d;
}

export type Arg = TensorType | readonly TensorType[] | StaticValue;

interface Matched<T extends TensorType> {
  tensors: Map<string, T>;
  lists: Map<string, readonly T[]>;
  statics: Map<string, StaticValue>;
}

function isTensor(v: unknown): v is TensorType {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v;
}

/** Matches arguments to `d`'s params as the checker would. `literal` makes a scalar tensor from a number. */
function match<T extends TensorType>(
  d: BuiltinDef,
  pos: readonly Arg[],
  kw: Readonly<Record<string, Arg>>,
  literal: (v: number, dtype: DType) => T,
): Matched<T> {
  const m: Matched<T> = { tensors: new Map(), lists: new Map(), statics: new Map() };
  const given = new Map<string, Arg>();
  d.params.forEach((p, i) => {
    if (i < pos.length) given.set(p.name, pos[i]!);
    if (p.name in kw) given.set(p.name, kw[p.name]!);
  });
  // Literals adopt the dtype of the other tensors (a where's condition does not count).
  const tensors = [...given.values()].filter(isTensor);
  const dtype: DType = (tensors.find((x) => x.dtype !== 'bool') ?? tensors[0])?.dtype ?? 'f32';
  for (const p of d.params) {
    const v = given.get(p.name);
    if (p.kind === 'tensor') {
      if (v === undefined) continue;
      m.tensors.set(p.name, typeof v === 'number' ? literal(v, dtype) : (v as T));
    } else if (p.kind === 'tensors') {
      m.lists.set(p.name, v as readonly T[]);
    } else {
      const s = v === undefined ? p.default : (v as StaticValue);
      if (s === undefined || s === null) continue;
      m.statics.set(p.name, p.kind === 'ints' && typeof s === 'number' ? [s] : s);
    }
  }
  return m;
}

/** The validation message of a call on types (undefined when valid). */
export function check(name: string, pos: readonly Arg[], kw: Readonly<Record<string, Arg>> = {}): string | undefined {
  const d = def(name);
  return d.validate(match<TensorType>(d, pos, kw, (_v, dtype) => ({ dtype, shape: [] })));
}

/** Validates (throwing the message) and lowers a call on nodes. */
export function call(
  ctx: LowerContext,
  name: string,
  pos: readonly (Node | readonly Node[] | StaticValue)[],
  kw: Readonly<Record<string, Node | readonly Node[] | StaticValue>> = {},
): Node {
  const d = def(name);
  const a = match<Node>(d, pos, kw, (v, dtype) => ctx.b.const(v, dtype));
  const err = d.validate(a);
  if (err !== undefined) throw new Error(`${name}: ${err}`);
  return d.lower(ctx, a);
}

export function t(dtype: DType, shape: Shape): TensorType {
  return { dtype, shape };
}

/** A JS-side n-d array for expectations. */
export interface Arr {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

export function arr(shape: readonly number[], data: readonly number[] | ((i: number) => number)): Arr {
  const n = shape.reduce((a, d) => a * d, 1);
  return { shape, data: typeof data === 'function' ? Array.from({ length: n }, (_, i) => data(i)) : [...data] };
}

export function stridesOf(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function at(a: Arr, idx: readonly number[]): number {
  const s = stridesOf(a.shape);
  return a.data[idx.reduce((f, v, i) => f + v * s[i]!, 0)]!;
}

/** Coordinates; the first four are typed as present because callers destructure exactly their rank. */
export type Coords = number[] & { 0: number; 1: number; 2: number; 3: number };

/** Every index of `shape`, row-major. */
export function* indices(shape: readonly number[]): Generator<Coords> {
  const n = shape.reduce((a, d) => a * d, 1);
  for (let f = 0; f < n; f++) {
    const c: number[] = [];
    let r = f;
    for (let i = shape.length - 1; i >= 0; i--) {
      c[i] = r % shape[i]!;
      r = Math.floor(r / shape[i]!);
    }
    yield c as Coords;
  }
}

/** Deterministic pseudo-random values in [lo, hi). */
export function rand(n: number, seed: number, lo = -1, hi = 1): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * next());
}

/** A graph under construction: a builder, a context and the values of its inputs. */
export class Graph {
  readonly b = new IRBuilder();
  readonly ctx: LowerContext;
  readonly inputs = new Map<string, RefTensor>();

  constructor(training = false) {
    this.ctx = makeCtx(this.b, training);
  }

  /** An input holding `a` (its declared shape may be symbolic: `declared`). */
  input(name: string, a: Arr, dtype: DType = 'f32', declared?: Shape): Node {
    this.inputs.set(name, tensor(dtype, a.shape, a.data));
    return this.b.input(name, { dtype, shape: declared ?? a.shape });
  }

  call(
    name: string,
    pos: readonly (Node | readonly Node[] | StaticValue)[],
    kw: Readonly<Record<string, Node | readonly Node[] | StaticValue>> = {},
  ): Node {
    return call(this.ctx, name, pos, kw);
  }

  eval(...nodes: Node[]): RefTensor[] {
    return evaluate(nodes, { inputs: this.inputs, params: new Map() });
  }

  /** Evaluates one node to its shape and plain values (-0 as 0). */
  run(node: Node): { shape: number[]; data: number[] } {
    const [r] = this.eval(node);
    return { shape: [...r!.shape], data: [...r!.data].map((v) => (v === 0 ? 0 : v)) };
  }
}
