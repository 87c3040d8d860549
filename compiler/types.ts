// Tensor types shared by the front end and the compiler: dtypes, symbolic
// dimensions and shapes, with NumPy broadcasting. A symbolic dim is a
// monomial of compiler/symbolic/ over dim names; its arithmetic lives there.

import { formatMono } from './symbolic/format.js';
import { divideMono, mulMono } from './symbolic/monomial.js';
import { type Atoms, type Term, evalMono } from './symbolic/poly.js';

export type DType = 'f32' | 'i32' | 'bool';
export const DTYPES: readonly DType[] = ['f32', 'i32', 'bool'];

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

/**
 * A dimension: a static size, or a monomial `coef * s1 * s2 * ...` over
 * symbolic names bound at run time (`B`, `2*B`, `B*T`). Monomials are closed
 * under the products that reshape needs; sums of different symbols are not
 * representable and are reported as errors where they would arise.
 */
export type Dim = number | SymDim;
export interface SymDim {
  readonly coef: number;
  /** Sorted symbol names, with repetition for powers. Never empty. */
  readonly syms: readonly string[];
}
export type Shape = readonly Dim[];

export interface TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
}

export function sym(name: string): SymDim {
  return { coef: 1, syms: [name] };
}

export function isStatic(d: Dim): d is number {
  return typeof d === 'number';
}

export function dimEq(a: Dim, b: Dim): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  return a.coef === b.coef && a.syms.length === b.syms.length && a.syms.every((s, i) => s === b.syms[i]);
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}

/** Dim names as atoms of compiler/symbolic: keyed by themselves, in string order. */
export const DIM_ATOMS: Atoms<string> = { key: (s) => s, cmp: (a, b) => (a < b ? -1 : a > b ? 1 : 0) };

/** A dim as a monomial over dim names (a static size has no names). */
export function dimMono(d: Dim): Term<string> {
  return typeof d === 'number' ? { coef: d, atoms: [] } : { coef: d.coef, atoms: d.syms };
}

/** The dim of a monomial: a number when it has no names. */
function monoDim(m: Term<string>): Dim {
  return m.atoms.length === 0 ? m.coef : { coef: m.coef, syms: m.atoms };
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const m = mulMono(dimMono(a), dimMono(b), DIM_ATOMS);
  return m.coef === 0 ? 0 : monoDim(m);
}

/** `a / b` when it is exact (same symbols cancel); undefined otherwise. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const q = divideMono(dimMono(a), dimMono(b), DIM_ATOMS.key);
  return q && monoDim(q);
}

export function numel(shape: Shape): Dim {
  return shape.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

export function formatDim(d: Dim): string {
  return typeof d === 'number' ? String(d) : formatMono(d.coef, d.syms);
}

export function formatShape(shape: Shape): string {
  return `[${shape.map(formatDim).join(', ')}]`;
}

export function formatType(t: TensorType): string {
  return `${t.dtype}${formatShape(t.shape)}`;
}

/** Evaluates a dimension with symbols bound to sizes; throws on an unbound symbol. */
export function evalDim(d: Dim, env: ReadonlyMap<string, number>): number {
  if (typeof d === 'number') return d;
  return evalMono(d.coef, d.syms, (s) => {
    const x = env.get(s);
    if (x === undefined) throw new Error(`symbolic dimension '${s}' is not bound`);
    return x;
  });
}

export function evalShape(shape: Shape, env: ReadonlyMap<string, number>): number[] {
  return shape.map((d) => evalDim(d, env));
}

/** NumPy broadcasting of two shapes; returns an error string when they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape): Shape | string {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else return `dimensions ${formatDim(da)} and ${formatDim(db)} (axis ${i - n}) do not broadcast`;
  }
  return out;
}

/** Normalises a possibly negative axis; undefined when out of range. */
export function normAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return Number.isInteger(a) && a >= 0 && a < rank ? a : undefined;
}
