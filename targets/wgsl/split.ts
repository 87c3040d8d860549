// Splitting a kernel's dispatch along its outermost parallel loop p0, so a
// buffer larger than the device's maxStorageBufferBindingSize can be bound a
// piece at a time (runtime/webgpu/backend.ts). A binding is *strided* in p0
// when every access to it (loads, also inside gather indices and masks, and
// stores) has the index p0*S + rest with the same stride S (a constant times
// symbolic dims, S > 0) and rest provably in [0, S): for p0 in [a, b) it then
// touches exactly the elements [a*S, b*S). Other bindings are bound whole in
// every piece. The shader of a kernel with any strided binding takes, after
// its dims and scalars in the uniform block: the number of p0 values of this
// piece (its grid covers those only), the first p0 of the piece (added to
// the local p0: iota and random counters see the global p0), and one base
// element per strided binding (subtracted from every index into it: the
// element at which the runtime's bound range starts).

import { linearIn, type Poly, collect, stageRoots } from '../../compiler/kernel/affine.js';
import {
  type IndexCtx,
  ctxOf,
  iadd,
  ic,
  ile,
  imul,
  isub,
  dimExpr,
  simplifyBool,
} from '../../compiler/kernel/index-expr.js';
import type { IExpr, Kernel } from '../../compiler/kernel/kir.js';
import { type Dim, dimEq } from '../../compiler/types.js';

/** The synthetic dim standing for the number of p0 values of one dispatch (codegen only; `u.pn` in the shader). */
export const CHUNK_DIM = '#p0n';

export interface SplitInfo {
  /** The name of p0 (the outermost parallel loop). */
  readonly p0: string;
  /** Its extent. */
  readonly extent: Dim;
  /** Per binding: its stride in p0 (elements), or undefined when it is bound whole. */
  readonly strides: readonly (Dim | undefined)[];
}

function polyExpr(p: Poly): IExpr {
  let e: IExpr = ic(p.c);
  for (const t of p.terms)
    e = iadd(
      e,
      t.atoms.reduce<IExpr>((acc, a) => imul(acc, a), ic(t.coef)),
    );
  return e;
}

/** A polynomial over dims only with one term (or a constant) as a Dim, else undefined. */
function polyDim(p: Poly): Dim | undefined {
  if (p.terms.length === 0) return p.c;
  if (p.terms.length > 1 || p.c !== 0) return undefined;
  const t = p.terms[0]!;
  if (!t.atoms.every((a) => a.k === 'dim')) return undefined;
  const syms = t.atoms.map((a) => (a as Extract<IExpr, { k: 'dim' }>).name).sort();
  return { coef: t.coef, syms };
}

const positive = (d: Dim): boolean => (typeof d === 'number' ? d > 0 : d.coef > 0);

/**
 * How each binding of `k` (slotBinding: kernel slot -> binding index) depends
 * on p0, or undefined when no binding is strided (the kernel is never split).
 */
export function splitInfo(k: Kernel, slotBinding: readonly number[], bindings: number): SplitInfo | undefined {
  const p0 = k.parallel[0];
  if (!p0 || p0.extent === 1) return undefined;
  // Each access under its own stage's loops: stages may reuse a loop name with another extent.
  const base = ctxOf(k.parallel);
  const accesses: { slot: number; index: IExpr; ctx: IndexCtx }[] = [];
  for (const s of k.stages) {
    const ctx = ctxOf(s.loops, base);
    for (const x of collect(stageRoots(s)).loads) accesses.push({ slot: x.buf, index: x.index, ctx });
    if (s.kind === 'map') for (const st of s.stores) accesses.push({ slot: st.buf, index: st.index, ctx });
  }
  // undefined: not seen yet; null: bound whole.
  const strides: (Dim | null | undefined)[] = Array.from({ length: bindings }, () => undefined);
  for (const a of accesses) {
    const bi = slotBinding[a.slot]!;
    if (strides[bi] === null) continue;
    const stride = strideOf(a.index, p0.name, a.ctx);
    const had = strides[bi];
    strides[bi] = stride === undefined || (had !== undefined && !dimEq(had, stride)) ? null : stride;
  }
  const out = strides.map((s) => s ?? undefined);
  if (out.every((s) => s === undefined)) return undefined;
  return { p0: p0.name, extent: p0.extent, strides: out };
}

/** S when `index` = p0*S + rest with 0 <= rest < S provably, else undefined. */
function strideOf(index: IExpr, p0: string, ctx: IndexCtx): Dim | undefined {
  const lin = linearIn(index, p0);
  if (!lin) return undefined;
  const s = polyDim(lin.coef);
  if (s === undefined || !positive(s)) return undefined;
  const rest = polyExpr(lin.rest);
  const proved = (a: IExpr, b: IExpr) => simplifyBool(ile(a, b), ctx).k === 'true';
  if (!proved(ic(0), rest) || !proved(rest, isub(dimExpr(s), ic(1)))) return undefined;
  return s;
}
