// Binding symbolic dimensions (B, T, ...) from the shapes of the tensors a
// caller supplies, with user-facing messages that name the tensor and show
// both the declared and the given shape.

import { type DType, type Dim, type TensorType, evalDim, formatDim, formatShape } from './types.js';

/** A user mistake in the tensors given to a model (missing, wrong dtype or shape). */
export class InputError extends Error {
  override name = 'InputError';
}

export interface TensorDecl {
  readonly name: string;
  readonly kind: 'input' | 'param';
  readonly type: TensorType;
}

export interface GivenTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

const shown = (dtype: DType, shape: readonly number[]) => `${dtype}${formatShape(shape)}`;

/**
 * Binds every symbol that appears alone (coefficient 1) in a declared dim to
 * the size given there, then checks everything: dtypes, ranks, static dims,
 * the same symbol agreeing across tensors, and compound dims (`2*B`, `B*T`)
 * against the bound values. A compound dim with exactly one unbound symbol
 * (occurring once) binds it by exact division. Throws InputError.
 */
export function bindDims(decls: readonly TensorDecl[], given: ReadonlyMap<string, GivenTensor>): Map<string, number> {
  const dims = new Map<string, number>();
  const from = new Map<string, string>(); // symbol -> "input 'x'" that bound it
  const what = (d: TensorDecl) => `${d.kind} '${d.name}'`;

  const got = (d: TensorDecl): GivenTensor => {
    const t = given.get(d.name);
    if (!t) throw new InputError(`missing ${what(d)} (expected ${d.type.dtype}${formatShape(d.type.shape)})`);
    const mismatch = (why: string): never => {
      throw new InputError(
        `${what(d)}: expected ${d.type.dtype}${formatShape(d.type.shape)}, got ${shown(t.dtype, t.shape)} (${why})`,
      );
    };
    if (t.dtype !== d.type.dtype) mismatch(`dtype ${t.dtype}, expected ${d.type.dtype}`);
    if (t.shape.length !== d.type.shape.length) mismatch(`rank ${t.shape.length}, expected ${d.type.shape.length}`);
    t.shape.forEach((n, i) => {
      const e = d.type.shape[i]!;
      if (!Number.isInteger(n) || n < 0) mismatch(`dimension ${i} is ${n}`);
      if (typeof e === 'number' && n !== e) mismatch(`dimension ${i} is ${n}, expected ${e}`);
    });
    return t;
  };

  const bind = (s: string, n: number, d: TensorDecl, i: number) => {
    const have = dims.get(s);
    if (have === undefined) {
      dims.set(s, n);
      from.set(s, what(d));
    } else if (have !== n) {
      throw new InputError(`${what(d)}: dimension ${i} is ${n} but ${s} = ${have} from ${from.get(s)}`);
    }
  };

  // Pass 1: static dims, dtypes, ranks; single-symbol dims bind.
  for (const d of decls) {
    const t = got(d);
    d.type.shape.forEach((e, i) => {
      if (typeof e !== 'number' && e.coef === 1 && e.syms.length === 1) bind(e.syms[0]!, t.shape[i]!, d, i);
    });
  }

  // Pass 2: compound dims with one unknown symbol solve for it (repeat while progress).
  for (let progress = true; progress;) {
    progress = false;
    for (const d of decls) {
      const t = given.get(d.name)!;
      d.type.shape.forEach((e, i) => {
        if (typeof e === 'number') return;
        const unknown = e.syms.filter((s) => !dims.has(s));
        if (unknown.length !== 1) return;
        const known = e.syms.reduce((acc, s) => (dims.has(s) ? acc * dims.get(s)! : acc), e.coef);
        const n = t.shape[i]!;
        if (known !== 0 && n % known === 0) {
          bind(unknown[0]!, n / known, d, i);
          progress = true;
        }
      });
    }
  }

  // Pass 3: every symbolic dim must now evaluate to the given size.
  for (const d of decls) {
    const t = given.get(d.name)!;
    d.type.shape.forEach((e: Dim, i) => {
      if (typeof e === 'number') return;
      const unbound = e.syms.find((s) => !dims.has(s));
      const n = t.shape[i]!;
      if (unbound !== undefined)
        throw new InputError(
          `${what(d)}: cannot bind ${unbound} from dimension ${i} = ${n} (expected ${formatDim(e)})`,
        );
      const v = evalDim(e, dims);
      if (v !== n)
        throw new InputError(
          `${what(d)}: expected ${d.type.dtype}${formatShape(d.type.shape)}, got ${shown(t.dtype, t.shape)} ` +
            `(dimension ${i} is ${n}, expected ${formatDim(e)} = ${v})`,
        );
    });
  }
  return dims;
}
