// The graph IR: a small set of primitive tensor ops, hash-consed so that
// identical computations are one node (CSE for free). Every composite builtin
// of the language lowers to these (compiler/decompose.ts); autodiff, the
// reference interpreter and the later passes only ever see primitives.
//
// Semantics (the reference interpreter is the executable definition):
// - Elementwise ops require equal shapes: broadcasting is explicit (reshape +
//   expand), so no later stage has to handle it.
// - i32 arithmetic wraps (two's complement). `div` on i32 is floor division,
//   `mod` is floored (sign of the divisor) for both dtypes, as in NumPy.
// - `round` rounds half to even; `max`/`min` propagate NaN.
// - `cast` f32->i32 truncates toward zero (NaN -> 0, saturating); ->bool is `!= 0`.
// - `reduce` keeps reduced axes with size 1; `reshape` drops them.
// - `gather`/`scatter_add` clamp indices into range (as JAX does).
// - `rand` is uniform in [0, 1), a pure function of (key, salt, flat index).
// - `dim` is the run-time size of a symbolic dimension (counts for means).

import {
  type DType,
  type Dim,
  type Shape,
  type TensorType,
  broadcastShapes,
  dimEq,
  formatDim,
  formatShape,
  numel,
  shapeEq,
} from './types.js';

export type UnaryFn =
  | 'neg'
  | 'recip'
  | 'sqrt'
  | 'exp'
  | 'log'
  | 'log1p'
  | 'expm1'
  | 'sin'
  | 'cos'
  | 'tanh'
  | 'erf'
  | 'abs'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'not';
export const UNARY_FNS: readonly UnaryFn[] = [
  'neg',
  'recip',
  'sqrt',
  'exp',
  'log',
  'log1p',
  'expm1',
  'sin',
  'cos',
  'tanh',
  'erf',
  'abs',
  'floor',
  'ceil',
  'round',
  'not',
];

export type BinaryFn =
  'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'pow' | 'mod' | 'lt' | 'le' | 'eq' | 'ne' | 'and' | 'or';
export const BINARY_FNS: readonly BinaryFn[] = [
  'add',
  'sub',
  'mul',
  'div',
  'max',
  'min',
  'pow',
  'mod',
  'lt',
  'le',
  'eq',
  'ne',
  'and',
  'or',
];
const COMPARISONS: ReadonlySet<BinaryFn> = new Set(['lt', 'le', 'eq', 'ne']);
const LOGICAL: ReadonlySet<BinaryFn> = new Set(['and', 'or']);

export type ReduceFn = 'sum' | 'max' | 'min' | 'prod';

/** One axis of a slice: elements start, start+step, ... (size of them). */
export interface SliceAxis {
  readonly start: number;
  readonly size: Dim;
  readonly step: number;
}

/** The op-specific part of a node. */
export type OpAttrs =
  | { readonly op: 'input'; readonly name: string }
  | { readonly op: 'param'; readonly name: string }
  | { readonly op: 'const'; readonly value: number }
  | { readonly op: 'iota'; readonly axis: number }
  /** The run-time size of a (symbolic) dimension, as a scalar. */
  | { readonly op: 'dim'; readonly dim: Dim }
  | { readonly op: 'rand'; readonly salt: number }
  | { readonly op: 'unary'; readonly fn: UnaryFn }
  | { readonly op: 'binary'; readonly fn: BinaryFn }
  | { readonly op: 'where' }
  | { readonly op: 'cast' }
  | { readonly op: 'stop_gradient' }
  | { readonly op: 'reduce'; readonly fn: ReduceFn; readonly axes: readonly number[] }
  | { readonly op: 'reshape' }
  | { readonly op: 'permute'; readonly perm: readonly number[] }
  | { readonly op: 'expand' }
  | { readonly op: 'pad'; readonly pads: readonly (readonly [number, number])[]; readonly value: number }
  | { readonly op: 'slice'; readonly axes: readonly SliceAxis[] }
  | { readonly op: 'concat'; readonly axis: number }
  | { readonly op: 'matmul' }
  | { readonly op: 'gather'; readonly axis: number }
  | { readonly op: 'scatter_add'; readonly axis: number }
  | { readonly op: 'assign'; readonly target: string };

export type OpName = OpAttrs['op'];

export type Node = OpAttrs & {
  /** Unique within its builder; creation order, so inputs always have smaller ids. */
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly inputs: readonly Node[];
};

export type NodeOf<K extends OpName> = Extract<Node, { op: K }>;

/** An internal compiler error: a broken IR invariant, never a user mistake. */
export class IRError extends Error {
  override name = 'IRError';

  /** Throws from expression position (`x ?? IRError.throw(...)`). */
  static throw(msg: string): never {
    throw new IRError(msg);
  }
}

function fail(msg: string): never {
  throw new IRError(msg);
}

const isFloat = (t: DType) => t === 'f32';

/**
 * The type of a node from its op, inputs and (for ops whose result type is
 * not derivable: input, param, const, iota, rand, reshape, expand, cast,
 * scatter_add) the requested type. Throws IRError on an invalid node; the
 * builder and the verifier both use it, so they cannot disagree.
 */
export function inferType(attrs: OpAttrs, inputs: readonly Node[], requested: TensorType | undefined): TensorType {
  const arity = (n: number) => {
    if (inputs.length !== n) fail(`${attrs.op} takes ${n} inputs, got ${inputs.length}`);
  };
  const req = (): TensorType => requested ?? fail(`${attrs.op} needs an explicit result type`);
  const x = inputs[0]!;
  switch (attrs.op) {
    case 'input':
    case 'param':
    case 'const':
      arity(0);
      return req();
    case 'dim': {
      arity(0);
      const t = req();
      if (t.shape.length !== 0 || t.dtype === 'bool') fail('dim is an f32 or i32 scalar');
      return t;
    }
    case 'iota': {
      arity(0);
      const t = req();
      if (t.dtype !== 'i32') fail('iota is i32');
      if (attrs.axis < 0 || attrs.axis >= t.shape.length) fail(`iota axis ${attrs.axis} out of range`);
      return t;
    }
    case 'rand': {
      arity(1);
      if (x.dtype !== 'i32' || x.shape.length !== 0) fail('rand key must be an i32 scalar');
      const t = req();
      if (t.dtype !== 'f32') fail('rand is f32');
      return t;
    }
    case 'unary':
      arity(1);
      if (
        attrs.fn === 'not'
          ? x.dtype !== 'bool'
          : attrs.fn === 'neg' || attrs.fn === 'abs'
            ? x.dtype === 'bool'
            : !isFloat(x.dtype)
      )
        fail(`unary ${attrs.fn} is not defined on ${x.dtype}`);
      return { dtype: x.dtype, shape: x.shape };
    case 'binary': {
      arity(2);
      const y = inputs[1]!;
      if (x.dtype !== y.dtype) fail(`binary ${attrs.fn}: dtypes ${x.dtype} and ${y.dtype} differ`);
      if (!shapeEq(x.shape, y.shape))
        fail(`binary ${attrs.fn}: shapes ${formatShape(x.shape)} and ${formatShape(y.shape)} differ`);
      const ok = LOGICAL.has(attrs.fn)
        ? x.dtype === 'bool'
        : attrs.fn === 'eq' || attrs.fn === 'ne' || x.dtype !== 'bool';
      if (!ok) fail(`binary ${attrs.fn} is not defined on ${x.dtype}`);
      return { dtype: COMPARISONS.has(attrs.fn) ? 'bool' : x.dtype, shape: x.shape };
    }
    case 'where': {
      arity(3);
      const [c, a, b] = inputs as [Node, Node, Node];
      if (c.dtype !== 'bool') fail('where condition must be bool');
      if (a.dtype !== b.dtype) fail('where branches differ in dtype');
      if (!shapeEq(c.shape, a.shape) || !shapeEq(a.shape, b.shape)) fail('where operands differ in shape');
      return { dtype: a.dtype, shape: a.shape };
    }
    case 'cast': {
      arity(1);
      const t = req();
      if (!shapeEq(t.shape, x.shape)) fail('cast changes shape');
      return t;
    }
    case 'stop_gradient':
      arity(1);
      return { dtype: x.dtype, shape: x.shape };
    case 'reduce': {
      arity(1);
      checkAxes(attrs.axes, x.shape.length, 'reduce');
      if (x.dtype === 'bool') fail('reduce over bool');
      return { dtype: x.dtype, shape: x.shape.map((d, i) => (attrs.axes.includes(i) ? 1 : d)) };
    }
    case 'reshape': {
      arity(1);
      const t = req();
      if (t.dtype !== x.dtype) fail('reshape changes dtype');
      if (!dimEq(numel(t.shape), numel(x.shape)))
        fail(`reshape ${formatShape(x.shape)} -> ${formatShape(t.shape)} changes the element count`);
      return t;
    }
    case 'permute': {
      arity(1);
      const p = attrs.perm;
      if (p.length !== x.shape.length || [...p].sort((a, b) => a - b).some((v, i) => v !== i))
        fail(`permute [${p.join(', ')}] is not a permutation of rank ${x.shape.length}`);
      return { dtype: x.dtype, shape: p.map((i) => x.shape[i]!) };
    }
    case 'expand': {
      arity(1);
      const t = req();
      if (t.dtype !== x.dtype || t.shape.length !== x.shape.length) fail('expand keeps dtype and rank');
      t.shape.forEach((d, i) => {
        const s = x.shape[i]!;
        if (!dimEq(s, d) && s !== 1) fail(`expand ${formatShape(x.shape)} -> ${formatShape(t.shape)}`);
      });
      return t;
    }
    case 'pad': {
      arity(1);
      if (attrs.pads.length !== x.shape.length) fail('pad needs one [lo, hi] per axis');
      return {
        dtype: x.dtype,
        shape: x.shape.map((d, i) => {
          const [lo, hi] = attrs.pads[i]!;
          if (lo < 0 || hi < 0) fail('pad amounts are non-negative');
          return lo + hi === 0 ? d : addStatic(d, lo + hi);
        }),
      };
    }
    case 'slice': {
      arity(1);
      if (attrs.axes.length !== x.shape.length) fail('slice needs one spec per axis');
      return {
        dtype: x.dtype,
        shape: attrs.axes.map((a, i) => {
          const d = x.shape[i]!;
          if (a.step < 1 || a.start < 0) fail('slice start >= 0 and step >= 1');
          if (typeof a.size === 'number' && typeof d === 'number') {
            if (a.size < 0 || (a.size > 0 && a.start + (a.size - 1) * a.step >= d))
              fail(`slice start ${a.start} size ${a.size} step ${a.step} exceeds dimension ${d}`);
          } else if (!(a.start === 0 && a.step === 1 && dimEq(a.size, d))) {
            fail(`slice of symbolic dimension ${formatDim(d)} must be whole`);
          }
          return a.size;
        }),
      };
    }
    case 'concat': {
      if (inputs.length < 1) fail('concat of nothing');
      const ax = attrs.axis;
      if (ax < 0 || ax >= x.shape.length) fail('concat axis out of range');
      let total: Dim = 0;
      for (const y of inputs) {
        if (y.dtype !== x.dtype || y.shape.length !== x.shape.length) fail('concat operands differ in dtype or rank');
        y.shape.forEach((d, i) => {
          if (i !== ax && !dimEq(d, x.shape[i]!)) fail('concat operands differ off the axis');
        });
        total = addDims(total, y.shape[ax]!);
      }
      return { dtype: x.dtype, shape: x.shape.map((d, i) => (i === ax ? total : d)) };
    }
    case 'matmul': {
      arity(2);
      const y = inputs[1]!;
      const r = x.shape.length;
      if (r < 2 || y.shape.length !== r) fail('matmul operands need equal rank >= 2');
      if (x.dtype !== y.dtype || x.dtype === 'bool') fail('matmul dtypes');
      for (let i = 0; i < r - 2; i++) if (!dimEq(x.shape[i]!, y.shape[i]!)) fail('matmul batch dims differ');
      if (!dimEq(x.shape[r - 1]!, y.shape[r - 2]!)) fail('matmul inner dims differ');
      return { dtype: x.dtype, shape: [...x.shape.slice(0, r - 1), y.shape[r - 1]!] };
    }
    case 'gather': {
      arity(2);
      const idx = inputs[1]!;
      if (idx.dtype !== 'i32') fail('gather indices are i32');
      if (attrs.axis < 0 || attrs.axis >= x.shape.length) fail('gather axis out of range');
      return {
        dtype: x.dtype,
        shape: [...x.shape.slice(0, attrs.axis), ...idx.shape, ...x.shape.slice(attrs.axis + 1)],
      };
    }
    case 'scatter_add': {
      // inputs: updates shaped like gather's output, indices; result: the gather source's type.
      arity(2);
      const idx = inputs[1]!;
      const t = req();
      const ax = attrs.axis;
      if (idx.dtype !== 'i32') fail('scatter_add indices are i32');
      const expect = [...t.shape.slice(0, ax), ...idx.shape, ...t.shape.slice(ax + 1)];
      if (t.dtype !== x.dtype || !shapeEq(expect, x.shape)) fail('scatter_add updates do not match');
      return t;
    }
    case 'assign':
      arity(1);
      return { dtype: x.dtype, shape: x.shape };
  }
}

function checkAxes(axes: readonly number[], rank: number, what: string): void {
  const seen = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= rank || seen.has(a)) fail(`${what}: bad axes [${axes.join(', ')}]`);
    seen.add(a);
  }
}

function addStatic(d: Dim, n: number): Dim {
  if (typeof d === 'number') return d + n;
  return fail(`cannot grow symbolic dimension ${formatDim(d)} by ${n}`);
}

function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  if (typeof a !== 'number' && typeof b !== 'number' && dimEq({ coef: 1, syms: a.syms }, { coef: 1, syms: b.syms }))
    return { coef: a.coef + b.coef, syms: a.syms };
  return fail(`cannot add dimensions ${formatDim(a)} and ${formatDim(b)}`);
}

/** The canonical text of a node's attributes, used for hash-consing and printing. */
export function attrsKey(a: OpAttrs): string {
  switch (a.op) {
    case 'input':
    case 'param':
      return a.name;
    case 'const':
      return Object.is(a.value, -0) ? '-0' : String(a.value);
    case 'iota':
    case 'concat':
    case 'gather':
    case 'scatter_add':
      return `axis=${a.axis}`;
    case 'rand':
      return `salt=${a.salt}`;
    case 'dim':
      return formatDim(a.dim);
    case 'unary':
    case 'binary':
      return a.fn;
    case 'where':
    case 'cast':
    case 'stop_gradient':
    case 'reshape':
    case 'expand':
    case 'matmul':
      return '';
    case 'reduce':
      return `${a.fn} axes=[${a.axes.join(', ')}]`;
    case 'permute':
      return `[${a.perm.join(', ')}]`;
    case 'pad':
      return `[${a.pads.map(([l, h]) => `[${l}, ${h}]`).join(', ')}] value=${a.value}`;
    case 'slice':
      return `[${a.axes.map((s) => `${s.start}:+${formatDim(s.size)}:${s.step}`).join(', ')}]`;
    case 'assign':
      return a.target;
  }
}

/**
 * A node: its op's attributes (in OpAttrs' order), then id, type and
 * inputs, as `{ ...attrs, id, dtype, shape, inputs }` would make it from
 * the builder's attributes, but as one literal per op: a spread over the
 * many shapes of attributes is V8's slow path, and every rewrite sweep
 * makes every node anew. Reads only the attributes, so a node may stand
 * for its own.
 */
function makeNode(a: OpAttrs, id: number, t: TensorType, inputs: readonly Node[]): Node {
  const { dtype, shape } = t;
  switch (a.op) {
    case 'input':
    case 'param':
      return { op: a.op, name: a.name, id, dtype, shape, inputs };
    case 'const':
      return { op: a.op, value: a.value, id, dtype, shape, inputs };
    case 'iota':
    case 'concat':
    case 'gather':
    case 'scatter_add':
      return { op: a.op, axis: a.axis, id, dtype, shape, inputs };
    case 'dim':
      return { op: a.op, dim: a.dim, id, dtype, shape, inputs };
    case 'rand':
      return { op: a.op, salt: a.salt, id, dtype, shape, inputs };
    case 'unary':
      return { op: a.op, fn: a.fn, id, dtype, shape, inputs };
    case 'binary':
      return { op: a.op, fn: a.fn, id, dtype, shape, inputs };
    case 'where':
    case 'cast':
    case 'stop_gradient':
    case 'reshape':
    case 'expand':
    case 'matmul':
      return { op: a.op, id, dtype, shape, inputs };
    case 'reduce':
      return { op: a.op, fn: a.fn, axes: a.axes, id, dtype, shape, inputs };
    case 'permute':
      return { op: a.op, perm: a.perm, id, dtype, shape, inputs };
    case 'pad':
      return { op: a.op, pads: a.pads, value: a.value, id, dtype, shape, inputs };
    case 'slice':
      return { op: a.op, axes: a.axes, id, dtype, shape, inputs };
    case 'assign':
      return { op: a.op, target: a.target, id, dtype, shape, inputs };
  }
}

/** formatShape, once per shape: nodes share their shapes, and every node's key spells its type. */
const shapeTexts = new WeakMap<Shape, string>();

function shapeText(shape: Shape): string {
  let text = shapeTexts.get(shape);
  if (text === undefined) shapeTexts.set(shape, (text = formatShape(shape)));
  return text;
}

/**
 * Creates hash-consed nodes. One builder per compilation: nodes of different
 * builders must not be mixed.
 */
export class IRBuilder {
  private readonly table = new Map<string, Node>();
  private nextId = 0;

  /** Interns a node, checking it with inferType. */
  node(attrs: OpAttrs, inputs: readonly Node[], requested?: TensorType): Node {
    const t = inferType(attrs, inputs, requested);
    const key = `${attrs.op}|${attrsKey(attrs)}|${t.dtype}${shapeText(t.shape)}|${inputs.map((i) => i.id).join(',')}`;
    const hit = this.table.get(key);
    if (hit) return hit;
    const n = makeNode(attrs, this.nextId++, t, inputs);
    this.table.set(key, n);
    return n;
  }

  get size(): number {
    return this.table.size;
  }

  input(name: string, t: TensorType): Node {
    return this.node({ op: 'input', name }, [], t);
  }
  param(name: string, t: TensorType): Node {
    return this.node({ op: 'param', name }, [], t);
  }
  /** A scalar constant; use `full` for a broadcast one. */
  const(value: number, dtype: DType): Node {
    if (dtype === 'i32') value = value | 0;
    else if (dtype === 'bool') value = value ? 1 : 0;
    return this.node({ op: 'const', value }, [], { dtype, shape: [] });
  }
  full(value: number, dtype: DType, shape: Shape): Node {
    return this.broadcastTo(this.const(value, dtype), shape);
  }
  /** The size of `d` as a scalar (a constant when `d` is static). */
  dimSize(d: Dim, dtype: 'f32' | 'i32'): Node {
    if (typeof d === 'number') return this.const(d, dtype);
    return this.node({ op: 'dim', dim: d }, [], { dtype, shape: [] });
  }
  iota(shape: Shape, axis: number): Node {
    return this.node({ op: 'iota', axis }, [], { dtype: 'i32', shape });
  }
  rand(shape: Shape, key: Node, salt: number): Node {
    return this.node({ op: 'rand', salt }, [key], { dtype: 'f32', shape });
  }
  unary(fn: UnaryFn, x: Node): Node {
    return this.node({ op: 'unary', fn }, [x]);
  }
  binary(fn: BinaryFn, a: Node, b: Node): Node {
    return this.node({ op: 'binary', fn }, [a, b]);
  }
  where(c: Node, a: Node, b: Node): Node {
    return this.node({ op: 'where' }, [c, a, b]);
  }
  cast(x: Node, dtype: DType): Node {
    if (x.dtype === dtype) return x;
    return this.node({ op: 'cast' }, [x], { dtype, shape: x.shape });
  }
  stopGradient(x: Node): Node {
    return this.node({ op: 'stop_gradient' }, [x]);
  }
  /** Reduces over axes, keeping them with size 1. No axes: the identity. */
  reduce(fn: ReduceFn, x: Node, axes: readonly number[]): Node {
    if (axes.length === 0) return x;
    return this.node({ op: 'reduce', fn, axes: [...axes].sort((a, b) => a - b) }, [x]);
  }
  reshape(x: Node, shape: Shape): Node {
    if (shapeEq(x.shape, shape)) return x;
    return this.node({ op: 'reshape' }, [x], { dtype: x.dtype, shape });
  }
  permute(x: Node, perm: readonly number[]): Node {
    if (perm.every((p, i) => p === i)) return x;
    return this.node({ op: 'permute', perm }, [x]);
  }
  expand(x: Node, shape: Shape): Node {
    if (shapeEq(x.shape, shape)) return x;
    return this.node({ op: 'expand' }, [x], { dtype: x.dtype, shape });
  }
  pad(x: Node, pads: readonly (readonly [number, number])[], value = 0): Node {
    if (pads.every(([l, h]) => l === 0 && h === 0)) return x;
    return this.node({ op: 'pad', pads, value }, [x]);
  }
  slice(x: Node, axes: readonly SliceAxis[]): Node {
    if (axes.every((a, i) => a.start === 0 && a.step === 1 && dimEq(a.size, x.shape[i]!))) return x;
    return this.node({ op: 'slice', axes }, [x]);
  }
  concat(xs: readonly Node[], axis: number): Node {
    if (xs.length === 1) return xs[0]!;
    return this.node({ op: 'concat', axis }, xs);
  }
  matmul(a: Node, b: Node): Node {
    return this.node({ op: 'matmul' }, [a, b]);
  }
  gather(x: Node, idx: Node, axis: number): Node {
    return this.node({ op: 'gather', axis }, [x, idx]);
  }
  scatterAdd(updates: Node, idx: Node, axis: number, result: TensorType): Node {
    return this.node({ op: 'scatter_add', axis }, [updates, idx], result);
  }
  assign(target: string, value: Node): Node {
    return this.node({ op: 'assign', target }, [value]);
  }

  // ---- conveniences built from the primitives above ----

  /** Broadcasts to `shape` (NumPy rules): leading 1s by reshape, then expand. */
  broadcastTo(x: Node, shape: Shape): Node {
    if (x.shape.length > shape.length) fail(`cannot broadcast ${formatShape(x.shape)} to ${formatShape(shape)}`);
    const lead = shape.length - x.shape.length;
    const r = this.reshape(x, [...Array<Dim>(lead).fill(1), ...x.shape]);
    return this.expand(r, shape);
  }

  /** Sums `x` down to `shape` (the adjoint of broadcastTo). */
  sumTo(x: Node, shape: Shape): Node {
    const lead = x.shape.length - shape.length;
    if (lead < 0) fail(`cannot sum ${formatShape(x.shape)} to ${formatShape(shape)}`);
    const axes: number[] = [];
    x.shape.forEach((d, i) => {
      if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
    });
    return this.reshape(this.reduce('sum', x, axes), shape);
  }

  /** An elementwise binary op with NumPy broadcasting; numbers adopt the other side's dtype. */
  bin(fn: BinaryFn, a: Node | number, b: Node | number): Node {
    const an = typeof a === 'number' ? this.const(a, typeof b === 'number' ? 'f32' : b.dtype) : a;
    const bn = typeof b === 'number' ? this.const(b, an.dtype) : b;
    const shape = broadcastOrFail(an.shape, bn.shape);
    return this.binary(fn, this.broadcastTo(an, shape), this.broadcastTo(bn, shape));
  }

  /** `where` with broadcasting of all three operands. */
  select(c: Node, a: Node | number, b: Node | number): Node {
    const dt = typeof a !== 'number' ? a.dtype : typeof b !== 'number' ? b.dtype : 'f32';
    const an = typeof a === 'number' ? this.const(a, dt) : a;
    const bn = typeof b === 'number' ? this.const(b, dt) : b;
    const shape = broadcastOrFail(broadcastOrFail(c.shape, an.shape), bn.shape);
    return this.where(this.broadcastTo(c, shape), this.broadcastTo(an, shape), this.broadcastTo(bn, shape));
  }
}

function broadcastOrFail(a: Shape, b: Shape): Shape {
  const out = broadcastShapes(a, b);
  if (typeof out === 'string') fail(`shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
  return out;
}

/** A model as IR: named inputs, params and outputs over one builder's nodes. */
export interface Graph {
  readonly builder: IRBuilder;
  readonly inputs: readonly NodeOf<'input'>[];
  readonly params: readonly NodeOf<'param'>[];
  readonly outputs: readonly { readonly name: string; readonly node: Node }[];
}

/** Every node reachable from `roots`, inputs before users (ids are creation order). */
export function topoSort(roots: readonly Node[]): Node[] {
  const visited: Node[] = [];
  const seen: (Node | undefined)[] = []; // by id
  const stack: Node[] = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen[n.id] !== undefined) continue;
    seen[n.id] = n;
    visited.push(n);
    for (const i of n.inputs) if (seen[i.id] === undefined) stack.push(i);
  }
  // Ids are a builder's creation counter, dense: reading the slots in order
  // sorts by id. Other ids (hand-made nodes in tests) take the sort.
  if (seen.length <= 2 * visited.length + 16) {
    const out: Node[] = [];
    for (const n of seen) if (n !== undefined) out.push(n);
    if (out.length === visited.length) return out;
  }
  return visited.sort((a, b) => a.id - b.id);
}
