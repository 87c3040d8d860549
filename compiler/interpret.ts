// The float64 reference interpreter: the executable definition of the IR's
// semantics (see the header of compiler/ir.ts) and the oracle every backend
// is tested against. Deliberately simple: every op walks flat indices and
// unravels them into coordinates; no views, no fusion, no cleverness.
//
// All dtypes are stored as float64: f32 values widened (no rounding to f32
// anywhere, so backends are compared with a tolerance), i32 as exact
// integers in [-2^31, 2^31), bool as 0/1.

import { type DType, evalDim, evalShape, formatShape } from '../dsl/types.js';
import { bindDims, InputError, type TensorDecl } from './bind.js';
import { type BinaryFn, type Node, type NodeOf, type UnaryFn, IRError, topoSort } from './ir.js';

export interface RefTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Row-major. */
  readonly data: Float64Array;
}

export interface EvalEnv {
  readonly inputs: ReadonlyMap<string, RefTensor>;
  readonly params: ReadonlyMap<string, RefTensor>;
  /** Symbolic dimension sizes; bound from the input/param tensors when absent. */
  readonly dims?: ReadonlyMap<string, number>;
}

/** A RefTensor from plain numbers (coerced to the dtype: i32 wraps, bool is != 0). */
export function tensor(dtype: DType, shape: readonly number[], data: ArrayLike<number>): RefTensor {
  const n = shape.reduce((a, d) => a * d, 1);
  if (data.length !== n) throw new Error(`tensor ${dtype}${formatShape(shape)} needs ${n} values, got ${data.length}`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = coerce(dtype, data[i]!);
  return { dtype, shape: [...shape], data: out };
}

/** A scalar RefTensor. */
export function scalar(value: number, dtype: DType = 'f32'): RefTensor {
  return tensor(dtype, [], [value]);
}

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

function coerce(dtype: DType, v: number): number {
  return dtype === 'i32' ? v | 0 : dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
}

/**
 * Evaluates `roots` (each reachable node once, in id order, which is
 * topological). Missing inputs/params or tensors of the wrong dtype/shape
 * throw InputError; entries of `env` the graph does not use are ignored, so
 * one env can serve several root sets.
 */
export function evaluate(roots: readonly Node[], env: EvalEnv): RefTensor[] {
  const order = topoSort(roots);
  const leaves = order.filter((n): n is NodeOf<'input'> | NodeOf<'param'> => n.op === 'input' || n.op === 'param');
  const source = (n: NodeOf<'input'> | NodeOf<'param'>) => (n.op === 'input' ? env.inputs : env.params).get(n.name);
  const decls: TensorDecl[] = leaves.map((n) => ({ name: n.name, kind: n.op, type: n }));
  const dims =
    env.dims ?? bindDims(decls, new Map(leaves.flatMap((n) => (source(n) ? [[n.name, source(n)!] as const] : []))));

  const values = new Map<number, RefTensor>();
  for (const n of order) {
    const shape = evalShape(n.shape, dims);
    let data: Float64Array;
    if (n.op === 'input' || n.op === 'param') {
      const t = source(n);
      const what = `${n.op} '${n.name}'`;
      if (!t) throw new InputError(`missing ${what} (expected ${n.dtype}${formatShape(n.shape)})`);
      if (t.dtype !== n.dtype || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
        throw new InputError(
          `${what}: expected ${n.dtype}${formatShape(shape)}, got ${t.dtype}${formatShape(t.shape)}`,
        );
      if (t.data.length !== size(shape))
        throw new InputError(`${what}: shape ${formatShape(shape)} needs ${size(shape)} values, got ${t.data.length}`);
      data = t.data.slice(); // results never alias the caller's arrays
    } else {
      data =
        n.op === 'dim'
          ? Float64Array.of(evalDim(n.dim, dims))
          : compute(
              n,
              shape,
              n.inputs.map((i) => values.get(i.id)!),
            );
    }
    values.set(n.id, { dtype: n.dtype, shape, data });
  }
  return roots.map((r) => values.get(r.id)!);
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Coordinates of flat index `f` in `shape` (row-major), written into `out`. */
function unravel(f: number, shape: readonly number[], out: number[]): number[] {
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    out[i] = f % d;
    f = Math.floor(f / d);
  }
  return out;
}

function ravel(coords: readonly number[], strides: readonly number[]): number {
  let f = 0;
  for (let i = 0; i < coords.length; i++) f += coords[i]! * strides[i]!;
  return f;
}

/** Fills a new array of `shape`'s size with fn(coords, flat). */
function generate(shape: readonly number[], fn: (c: readonly number[], f: number) => number): Float64Array {
  const n = size(shape);
  const out = new Float64Array(n);
  const c = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < n; f++) out[f] = fn(unravel(f, shape, c), f);
  return out;
}

const clamp = (i: number, d: number) => Math.min(Math.max(i, 0), d - 1);

function compute(n: Node, shape: readonly number[], ins: readonly RefTensor[]): Float64Array {
  const x = ins[0]!;
  const count = size(shape);
  switch (n.op) {
    case 'input':
    case 'param':
      throw new IRError('leaves are bound by evaluate');
    case 'dim':
      throw new IRError('dims are bound by evaluate');
    case 'const':
      return new Float64Array(count).fill(coerce(n.dtype, n.value));
    case 'iota':
      return generate(shape, (c) => c[n.axis]!);
    case 'rand': {
      const key = x.data[0]!;
      return generate(shape, (_c, f) => randUniform(key, n.salt, f));
    }
    case 'unary': {
      const fn = unaryImpl(n.fn, x.dtype);
      return x.data.map(fn);
    }
    case 'binary': {
      const fn = binaryImpl(n.fn, x.dtype);
      const y = ins[1]!.data;
      return x.data.map((a, i) => fn(a, y[i]!));
    }
    case 'where': {
      const [c, a, b] = ins as [RefTensor, RefTensor, RefTensor];
      return c.data.map((v, i) => (v !== 0 ? a.data[i]! : b.data[i]!));
    }
    case 'cast':
      return x.data.map((v) => castValue(v, n.dtype));
    case 'stop_gradient':
    case 'assign':
    case 'reshape':
      return x.data.slice();
    case 'reduce': {
      const i32 = n.dtype === 'i32';
      const [init, step] = reduceImpl(n.fn, i32);
      const out = new Float64Array(count).fill(init);
      const os = stridesOf(shape);
      const c = new Array<number>(x.shape.length).fill(0);
      for (let f = 0; f < x.data.length; f++) {
        unravel(f, x.shape, c);
        for (const a of n.axes) c[a] = 0;
        const o = ravel(c, os);
        out[o] = step(out[o]!, x.data[f]!);
      }
      return out;
    }
    case 'permute': {
      const xs = stridesOf(x.shape);
      return generate(shape, (c) => x.data[c.reduce((acc, v, i) => acc + v * xs[n.perm[i]!]!, 0)]!);
    }
    case 'expand': {
      const xs = stridesOf(x.shape);
      return generate(shape, (c) => x.data[c.reduce((acc, v, i) => acc + (x.shape[i] === 1 ? 0 : v * xs[i]!), 0)]!);
    }
    case 'pad': {
      const out = new Float64Array(count).fill(coerce(n.dtype, n.value));
      const os = stridesOf(shape);
      const c = new Array<number>(x.shape.length).fill(0);
      for (let f = 0; f < x.data.length; f++) {
        unravel(f, x.shape, c);
        out[
          ravel(
            c.map((v, i) => v + n.pads[i]![0]),
            os,
          )
        ] = x.data[f]!;
      }
      return out;
    }
    case 'slice': {
      const xs = stridesOf(x.shape);
      return generate(shape, (c) => {
        let f = 0;
        c.forEach((v, i) => (f += (n.axes[i]!.start + v * n.axes[i]!.step) * xs[i]!));
        return x.data[f]!;
      });
    }
    case 'concat': {
      const ax = n.axis;
      const strides = ins.map((t) => stridesOf(t.shape));
      const c2: number[] = [];
      return generate(shape, (c) => {
        let k = c[ax]!;
        for (const [j, t] of ins.entries()) {
          const d = t.shape[ax]!;
          if (k < d) {
            c.forEach((v, i) => (c2[i] = i === ax ? k : v));
            return t.data[ravel(c2, strides[j]!)]!;
          }
          k -= d;
        }
        throw new IRError('concat index out of range');
      });
    }
    case 'matmul': {
      const y = ins[1]!;
      const r = shape.length;
      const m = x.shape[r - 2]!;
      const k = x.shape[r - 1]!;
      const p = y.shape[r - 1]!;
      const i32 = n.dtype === 'i32';
      return generate(shape, (_c, f) => {
        const batch = Math.floor(f / (m * p));
        const i = Math.floor(f / p) % m;
        const j = f % p;
        const xo = batch * m * k + i * k;
        const yo = batch * k * p + j;
        let acc = 0;
        for (let t = 0; t < k; t++) {
          const a = x.data[xo + t]!;
          const b = y.data[yo + t * p]!;
          acc = i32 ? (acc + Math.imul(a, b)) | 0 : acc + a * b;
        }
        return acc;
      });
    }
    case 'gather': {
      const idx = ins[1]!;
      const ax = n.axis;
      const ir = idx.shape.length;
      const xs = stridesOf(x.shape);
      const is = stridesOf(idx.shape);
      const d = x.shape[ax]!;
      return generate(shape, (c) => {
        if (d === 0) return 0; // nothing to gather from: define as 0
        const j = clamp(idx.data[ravel(c.slice(ax, ax + ir), is)]!, d);
        const src = [...c.slice(0, ax), j, ...c.slice(ax + ir)];
        return x.data[ravel(src, xs)]!;
      });
    }
    case 'scatter_add': {
      const idx = ins[1]!;
      const ax = n.axis;
      const ir = idx.shape.length;
      const os = stridesOf(shape);
      const is = stridesOf(idx.shape);
      const d = shape[ax]!;
      const out = new Float64Array(count);
      const c = new Array<number>(x.shape.length).fill(0);
      if (d === 0) return out; // nowhere to add: updates are dropped
      for (let f = 0; f < x.data.length; f++) {
        unravel(f, x.shape, c);
        const j = clamp(idx.data[ravel(c.slice(ax, ax + ir), is)]!, d);
        const o = ravel([...c.slice(0, ax), j, ...c.slice(ax + ir)], os);
        out[o] = n.dtype === 'i32' ? (out[o]! + x.data[f]!) | 0 : out[o]! + x.data[f]!;
      }
      return out;
    }
  }
}

// ---------------------------------------------------------------- elementwise

function unaryImpl(fn: UnaryFn, dtype: DType): (x: number) => number {
  if (dtype === 'i32') {
    // Only neg and abs are defined on i32; both wrap (-(-2^31) = -2^31).
    if (fn === 'neg') return (x) => -x | 0;
    if (fn === 'abs') return (x) => Math.abs(x) | 0;
    throw new IRError(`unary ${fn} on i32`);
  }
  switch (fn) {
    case 'neg':
      return (x) => -x;
    case 'recip':
      return (x) => 1 / x;
    case 'sqrt':
      return Math.sqrt;
    case 'exp':
      return Math.exp;
    case 'log':
      return Math.log;
    case 'log1p':
      return Math.log1p;
    case 'expm1':
      return Math.expm1;
    case 'sin':
      return Math.sin;
    case 'cos':
      return Math.cos;
    case 'tanh':
      return Math.tanh;
    case 'erf':
      return erf;
    case 'abs':
      return Math.abs;
    case 'floor':
      return Math.floor;
    case 'ceil':
      return Math.ceil;
    case 'round':
      return roundHalfEven;
    case 'not':
      return (x) => (x !== 0 ? 0 : 1);
  }
}

/** Rounds to the nearest integer, ties to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for |x| < 2^52; 0 beyond (already integral)
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

const b2n = (b: boolean) => (b ? 1 : 0);

function binaryImpl(fn: BinaryFn, dtype: DType): (a: number, b: number) => number {
  const i32 = dtype === 'i32';
  switch (fn) {
    case 'add':
      return i32 ? (a, b) => (a + b) | 0 : (a, b) => a + b;
    case 'sub':
      return i32 ? (a, b) => (a - b) | 0 : (a, b) => a - b;
    case 'mul':
      return i32 ? Math.imul : (a, b) => a * b;
    case 'div':
      // i32: floor division; x / 0 is defined as 0 (no trap). Exact: for
      // |a|, |b| < 2^31 the float64 quotient never rounds across an integer.
      return i32 ? (a, b) => (b === 0 ? 0 : Math.floor(a / b) | 0) : (a, b) => a / b;
    case 'max':
      return Math.max; // propagates NaN
    case 'min':
      return Math.min;
    case 'pow':
      return i32 ? ipow : Math.pow; // JS pow: 1 ** NaN is NaN (C's pow gives 1)
    case 'mod':
      return i32 ? (a, b) => (b === 0 ? 0 : (a - b * Math.floor(a / b)) | 0) : fmod;
    case 'lt':
      return (a, b) => b2n(a < b);
    case 'le':
      return (a, b) => b2n(a <= b);
    case 'eq':
      return (a, b) => b2n(a === b);
    case 'ne':
      return (a, b) => b2n(a !== b);
    case 'and':
      return (a, b) => b2n(a !== 0 && b !== 0);
    case 'or':
      return (a, b) => b2n(a !== 0 || b !== 0);
  }
}

/**
 * Floored modulo, result with the sign of the divisor: mathematically
 * a - b*floor(a/b). Computed as NumPy does, from the exact remainder `%`
 * (truncated) plus b when the signs differ, so it is exact except that the
 * final `+ b` may round (mod(-1e-20, 1) = 1). mod(x, 0) is NaN.
 */
export function fmod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

/** i32 a**b with wrapping; negative exponents give 0 except for bases 1 and -1. */
export function ipow(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 === 0 ? 1 : -1) : 0;
  let result = 1;
  let base = a | 0;
  for (let e = b; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result = Math.imul(result, base);
    base = Math.imul(base, base);
  }
  return result;
}

function castValue(v: number, to: DType): number {
  switch (to) {
    case 'f32':
      return v; // from i32/bool: exact in float64
    case 'i32':
      // Truncate toward zero, saturating; NaN -> 0. (From bool/i32: unchanged.)
      if (Number.isNaN(v)) return 0;
      return v >= I32_MAX ? I32_MAX : v <= I32_MIN ? I32_MIN : Math.trunc(v) | 0;
    case 'bool':
      return v !== 0 ? 1 : 0; // NaN -> true
  }
}

function reduceImpl(fn: NodeOf<'reduce'>['fn'], i32: boolean): [number, (acc: number, v: number) => number] {
  switch (fn) {
    case 'sum':
      return [0, i32 ? (a, v) => (a + v) | 0 : (a, v) => a + v];
    case 'prod':
      return [1, i32 ? Math.imul : (a, v) => a * v];
    // Empty max/min: -inf/+inf on f32, the extreme i32 values on i32.
    case 'max':
      return [i32 ? I32_MIN : -Infinity, Math.max];
    case 'min':
      return [i32 ? I32_MAX : Infinity, Math.min];
  }
}

// ---------------------------------------------------------------- erf

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/**
 * The error function to about 1e-16 absolute error.
 * |x| < 2.5: erf(x) = 2/sqrt(pi) e^{-x^2} sum_{n>=0} 2^n x^{2n+1} / (1*3*...*(2n+1))
 *   (all terms positive, so no cancellation; <= ~40 terms).
 * 2.5 <= |x| < 6: erf = 1 - erfc, erfc(x) = e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
 *   (continued fraction evaluated backward from a fixed depth).
 * |x| >= 6: erfc(x) < 2.2e-17, below half an ulp of 1, so erf = +-1.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    const x2 = 2 * ax * ax;
    let term = ax;
    let sum = ax;
    for (let k = 1; term > sum * 1e-17; k++) {
      term *= x2 / (2 * k + 1);
      sum += term;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-ax * ax) * sum;
  } else if (ax < 6) {
    let f = ax;
    for (let k = 80; k >= 1; k--) f = ax + k / 2 / f;
    r = 1 - (ONE_OVER_SQRT_PI * Math.exp(-ax * ax)) / f;
  } else {
    r = 1;
  }
  return x < 0 ? -r : r;
}

// ---------------------------------------------------------------- rand

/** murmur3's 32-bit finaliser: a bijection on u32 with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * `rand`: uniform in [0, 1) as a pure function of (key, salt, flat index).
 * Backends must reproduce exactly this, using only 32-bit integer ops
 * (all arithmetic mod 2^32, `^` xor, `>>>` logical shift, `*` wrapping
 * multiply = Math.imul):
 *
 *   k = fmix32(u32(key) ^ (u32(salt) * 0x9E3779B9))
 *   h = fmix32(u32(index) ^ k)
 *   h = fmix32(h + (k ^ 0x6A09E667))
 *   value = (h >>> 8) / 2^24               (exact in f32; in [0, 1 - 2^-24])
 *
 * where fmix32(h) = { h ^= h >>> 16; h *= 0x85EBCA6B; h ^= h >>> 13;
 * h *= 0xC2B2AE35; h ^= h >>> 16 } (murmur3's finaliser), `index` is the
 * row-major flat index of the element, `key` the i32 key tensor's value and
 * `salt` the node's salt attribute (an integer).
 */
export function randUniform(key: number, salt: number, index: number): number {
  const k = fmix32((key >>> 0) ^ Math.imul(salt >>> 0, 0x9e3779b9));
  let h = fmix32((index >>> 0) ^ k);
  h = fmix32((h + (k ^ 0x6a09e667)) >>> 0);
  return (h >>> 8) / 16777216;
}
