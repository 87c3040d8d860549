// The float64 reference interpreter: the executable definition of the IR's
// semantics (see the header of compiler/ir.ts) and the oracle every backend
// is tested against. Deliberately simple: every op walks flat indices and
// unravels them into coordinates; no views, no fusion, no cleverness.
//
// All dtypes are stored as float64: f32 values widened (no rounding to f32
// anywhere, so backends are compared with a tolerance), i32 as exact
// integers in [-2^31, 2^31), bool as 0/1.

import { type DType, evalDim, evalShape, formatShape } from './types.js';
import { bindDims, InputError, type TensorDecl } from './bind.js';
import { type Node, type NodeOf, IRError, topoSort } from './ir.js';
import { binaryImpl, castValue, coerce, randUniform, reduceImpl, unaryImpl } from './semantics.js';

// The scalar helpers used to live here; code that imported them from the interpreter still can.
export { erf, fmix32, fmod, ipow, randUniform, roundHalfEven } from './semantics.js';

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
