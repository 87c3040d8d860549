// Linear algebra: matmul / `@` (NumPy matmul: batched over leading dims with
// broadcasting, 1-D operands promoted then squeezed), dot (NumPy dot), and
// einsum over one or two operands, lowered to permute/reshape/expand around
// one batched matmul (or a broadcast multiply when nothing is contracted).

import {
  type DType,
  type Dim,
  type Shape,
  type TensorType,
  broadcastShapes,
  dimEq,
  dimMul,
  formatDim,
  formatShape,
  formatType,
  numel,
} from '../types.js';
import type { BuiltinDef } from '../builtin.js';
import { type IRBuilder, type Node, IRError } from '../ir.js';
import {
  type ArgsOf,
  type Check,
  P,
  arg,
  define,
  dropAxes,
  expectDtype,
  getString,
  sameDtype,
  unwrap,
} from './common.js';

const NUM: readonly DType[] = ['f32', 'i32'];

function checkNumeric(ts: readonly TensorType[]): Check {
  for (const t of ts) {
    const e = expectDtype(t, NUM);
    if (e !== undefined) return e;
  }
  return sameDtype(ts);
}

// ---- matmul ----

interface MatmulPlan {
  /** Operand shapes as rank >= 2 (a 1-D a is [1, k], a 1-D b is [k, 1]), batch dims broadcast. */
  readonly a: Shape;
  readonly b: Shape;
  readonly out: Shape;
}

export function matmulPlan(
  ta: TensorType,
  tb: TensorType,
  what = `${formatType(ta)} @ ${formatType(tb)}`,
): MatmulPlan | string {
  const e = checkNumeric([ta, tb]);
  if (e !== undefined) return `${what}: ${e}`;
  if (ta.shape.length === 0 || tb.shape.length === 0) return `${what}: matmul needs operands with at least 1 axis`;
  const a = ta.shape.length === 1 ? [1, ...ta.shape] : ta.shape;
  const b = tb.shape.length === 1 ? [...tb.shape, 1] : tb.shape;
  const k1 = a.at(-1)!;
  const k2 = b.at(-2)!;
  if (!dimEq(k1, k2)) return `${what}: inner dimensions ${formatDim(k1)} and ${formatDim(k2)} differ`;
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  if (typeof batch === 'string')
    return `${what}: batch dimensions ${formatShape(a.slice(0, -2))} and ${formatShape(b.slice(0, -2))} do not broadcast`;
  const m = a.at(-2)!;
  const n = b.at(-1)!;
  return {
    a: [...batch, m, k1],
    b: [...batch, k1, n],
    out: [...batch, ...(ta.shape.length === 1 ? [] : [m]), ...(tb.shape.length === 1 ? [] : [n])],
  };
}

export function matmulOf(bld: IRBuilder, a: Node, b: Node): Node {
  const p = unwrap(matmulPlan(a, b));
  if (a.shape.length >= 3 && b.shape.length <= 2) {
    // A batch of rows times one matrix (x[B, T, D] @ w[D, E]): the batch axes fold into the rows, one
    // [B*T, D] @ [D, E] matmul, so w's gradient is one matmul over B*T rather than B products summed
    // afterwards, and the kernel is one large matmul instead of B small ones.
    const rows = a.shape.slice(0, -1).reduce(dimMul);
    const bm = bld.reshape(b, b.shape.length === 1 ? [...b.shape, 1] : b.shape);
    return bld.reshape(bld.matmul(bld.reshape(a, [rows, a.shape.at(-1)!]), bm), p.out);
  }
  const am = bld.broadcastTo(bld.reshape(a, a.shape.length === 1 ? [1, ...a.shape] : a.shape), p.a);
  const bm = bld.broadcastTo(bld.reshape(b, b.shape.length === 1 ? [...b.shape, 1] : b.shape), p.b);
  return bld.reshape(bld.matmul(am, bm), p.out);
}

// ---- einsum ----

/** A parsed einsum: labels per operand (ellipsis dims become '.0', '.1', ... from the right) and output. */
export interface EinsumPlan {
  readonly terms: readonly (readonly string[])[];
  readonly out: readonly string[];
  readonly sizes: ReadonlyMap<string, Dim>;
}

const ELL = '...';

function parseTerm(s: string): string[] | string {
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    if (s.startsWith(ELL, i)) {
      if (out.includes(ELL)) return `'...' appears twice in '${s}'`;
      out.push(ELL);
      i += 3;
    } else if (/[A-Za-z]/.test(s[i]!)) {
      out.push(s[i]!);
      i++;
    } else return `invalid character '${s[i]}' in einsum term '${s}'`;
  }
  return out;
}

function ellLabels(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `.${n - 1 - i}`);
}

export function einsumPlan(spec: string, ts: readonly TensorType[]): EinsumPlan | string {
  const e = checkNumeric(ts);
  if (e !== undefined) return e;
  const clean = spec.replace(/\s+/g, '');
  const sides = clean.split('->');
  if (sides.length > 2) return `'->' appears more than once in "${spec}"`;
  const ins = sides[0]!.split(',');
  if (ins.length !== ts.length)
    return `"${spec}" has ${ins.length} operand term(s) but ${ts.length} tensor(s) were given (einsum takes 1 or 2)`;
  const terms: string[][] = [];
  const sizes = new Map<string, Dim>();
  const origin = new Map<string, TensorType>();
  let ellRank = 0;
  for (let k = 0; k < ins.length; k++) {
    const parsed = parseTerm(ins[k]!);
    if (typeof parsed === 'string') return parsed;
    const t = ts[k]!;
    const letters = parsed.filter((l) => l !== ELL).length;
    const hasEll = parsed.includes(ELL);
    const r = t.shape.length;
    if (hasEll ? letters > r : letters !== r)
      return `term '${ins[k]}' has ${letters} ${letters === 1 ? 'index' : 'indices'} but operand ${k + 1} is ${formatType(t)}`;
    const labels = parsed.flatMap((l) => (l === ELL ? ellLabels(r - letters) : [l]));
    if (hasEll) ellRank = Math.max(ellRank, r - letters);
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!;
      if (labels.indexOf(l) !== i)
        return `index '${l}' repeats in term '${ins[k]}' (diagonals/traces are not supported)`;
      const d = t.shape[i]!;
      const prev = sizes.get(l);
      const ell = l.startsWith('.');
      if (prev === undefined || (ell && dimEq(prev, 1))) {
        sizes.set(l, d);
        origin.set(l, t);
      } else if (!dimEq(prev, d) && !(ell && dimEq(d, 1))) {
        const name = ell ? `'...' dimension` : `index '${l}'`;
        return `${name} has sizes ${formatDim(prev)} and ${formatDim(d)} (${formatType(origin.get(l)!)} and ${formatType(t)})`;
      }
    }
    terms.push(labels);
  }
  let out: string[];
  if (sides.length === 2) {
    const parsed = parseTerm(sides[1]!);
    if (typeof parsed === 'string') return parsed;
    out = parsed.flatMap((l) => (l === ELL ? ellLabels(ellRank) : [l]));
    for (let i = 0; i < out.length; i++) {
      const l = out[i]!;
      if (out.indexOf(l) !== i) return `output index '${l}' repeats`;
      if (!sizes.has(l)) return `output index '${l}' does not appear in the inputs`;
    }
  } else {
    // NumPy's implicit output: ellipsis dims, then indices seen once, alphabetically.
    const all = terms.flat();
    const once = [...new Set(all)].filter((l) => !l.startsWith('.') && all.indexOf(l) === all.lastIndexOf(l));
    out = [...ellLabels(ellRank), ...once.sort()];
  }
  return { terms, out, sizes };
}

/** Contracts one or two labelled operands into the `out` labels. */
export function contract(
  b: IRBuilder,
  xs: readonly Node[],
  terms: readonly (readonly string[])[],
  out: readonly string[],
  sizes: ReadonlyMap<string, Dim>,
): Node {
  const size = (l: string) => sizes.get(l) ?? 1;
  const usedElsewhere = (l: string, k: number) => out.includes(l) || terms.some((t, j) => j !== k && t.includes(l));
  // Sum away indices only one operand has and the output lacks; expand shared ones to their full size.
  const ops = xs.map((x, k) => {
    const labels = terms[k]!;
    const axes = labels.flatMap((l, i) => (usedElsewhere(l, k) ? [] : [i]));
    const summed = dropAxes(b, b.reduce('sum', x, axes), axes);
    const kept = labels.filter((_, i) => !axes.includes(i));
    return { node: b.expand(summed, kept.map(size)), labels: kept };
  });
  const arrange = (o: { node: Node; labels: readonly string[] }, order: readonly string[]) =>
    b.permute(
      o.node,
      order.map((l) => o.labels.indexOf(l)),
    );
  const [A, B] = ops;
  if (A === undefined) throw new IRError('einsum of nothing');
  if (B === undefined) return arrange(A, out);

  const batch = A.labels.filter((l) => B.labels.includes(l) && out.includes(l));
  const inner = A.labels.filter((l) => B.labels.includes(l) && !out.includes(l));
  const aKeep = A.labels.filter((l) => !B.labels.includes(l));
  const bKeep = B.labels.filter((l) => !A.labels.includes(l));
  const dims = (ls: readonly string[]) => ls.map(size);
  const a = arrange(A, [...batch, ...aKeep, ...inner]);
  const bb = arrange(B, [...batch, ...inner, ...bKeep]);
  let r: Node;
  if (inner.length === 0) {
    // Nothing contracted: an outer product over the kept indices.
    const ones = (n: number) => Array<Dim>(n).fill(1);
    const ar = b.reshape(a, [...dims(batch), ...dims(aKeep), ...ones(bKeep.length)]);
    const br = b.reshape(bb, [...dims(batch), ...ones(aKeep.length), ...dims(bKeep)]);
    r = b.bin('mul', ar, br);
  } else {
    const m = numel(dims(aKeep));
    const k = numel(dims(inner));
    const n = numel(dims(bKeep));
    const mm = b.matmul(b.reshape(a, [...dims(batch), m, k]), b.reshape(bb, [...dims(batch), k, n]));
    r = b.reshape(mm, [...dims(batch), ...dims(aKeep), ...dims(bKeep)]);
  }
  return arrange({ node: r, labels: [...batch, ...aKeep, ...bKeep] }, out);
}

function einsumOperands<T extends TensorType>(a: ArgsOf<T>): T[] {
  const b = a.tensors.get('b');
  return b === undefined ? [arg(a, 'a')] : [arg(a, 'a'), b];
}

// ---- dot ----

/** NumPy dot beyond matmul's cases: a[..., k] . b[..., k, n] over a's last and b's second-to-last axis. */
function dotLabels(ra: number, rb: number): { terms: string[][]; out: string[] } {
  const la = [...Array.from({ length: ra - 1 }, (_, i) => `a${i}`), 'k'];
  const lb = [...Array.from({ length: rb - 2 }, (_, i) => `b${i}`), 'k', 'n'];
  return { terms: [la, lb], out: [...la.slice(0, -1), ...lb.slice(0, -2), 'n'] };
}

function checkDot(ta: TensorType, tb: TensorType): Check {
  const what = `dot(${formatType(ta)}, ${formatType(tb)})`;
  const e = checkNumeric([ta, tb]);
  if (e !== undefined) return `${what}: ${e}`;
  if (ta.shape.length === 0 || tb.shape.length === 0) {
    const s = broadcastShapes(ta.shape, tb.shape);
    return typeof s === 'string' ? `${what}: ${s}` : undefined;
  }
  if (tb.shape.length <= 2) {
    const p = matmulPlan(ta, tb, what);
    return typeof p === 'string' ? p : undefined;
  }
  const k1 = ta.shape.at(-1)!;
  const k2 = tb.shape.at(-2)!;
  return dimEq(k1, k2) ? undefined : `${what}: inner dimensions ${formatDim(k1)} and ${formatDim(k2)} differ`;
}

function dotOf(b: IRBuilder, x: Node, y: Node): Node {
  if (x.shape.length === 0 || y.shape.length === 0) return b.bin('mul', x, y);
  if (y.shape.length <= 2) return matmulOf(b, x, y);
  const { terms, out } = dotLabels(x.shape.length, y.shape.length);
  const sizes = new Map<string, Dim>();
  terms[0]!.forEach((l, i) => sizes.set(l, x.shape[i]!));
  terms[1]!.forEach((l, i) => sizes.set(l, y.shape[i]!));
  return contract(b, [x, y], terms, out, sizes);
}

export const LINALG: readonly BuiltinDef[] = [
  define(
    'matmul',
    [P.tensor('a'), P.tensor('b')],
    (a) => {
      const p = matmulPlan(arg(a, 'a'), arg(a, 'b'));
      return typeof p === 'string' ? p : undefined;
    },
    (ctx, a) => matmulOf(ctx.b, arg(a, 'a'), arg(a, 'b')),
  ),
  define(
    'dot',
    [P.tensor('a'), P.tensor('b')],
    (a) => checkDot(arg(a, 'a'), arg(a, 'b')),
    (ctx, a) => dotOf(ctx.b, arg(a, 'a'), arg(a, 'b')),
  ),
  define(
    'einsum',
    [P.string('spec'), P.tensor('a'), { name: 'b', kind: 'tensor', default: null }],
    (a) => {
      const p = einsumPlan(getString(a, 'spec') ?? '', einsumOperands(a));
      return typeof p === 'string' ? p : undefined;
    },
    (ctx, a) => {
      const xs = einsumOperands(a);
      const p = unwrap(einsumPlan(getString(a, 'spec') ?? '', xs));
      return contract(ctx.b, xs, p.terms, p.out, p.sizes);
    },
  ),
];
