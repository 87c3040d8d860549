// Stage bodies shared by the templates: nested loops, folding a reduce
// stage's accumulators at one point, and a map stage's stores at one point
// (every value and index evaluated before any store, as kir.ts defines).

import type { Accumulator, Loop, Stage, StoreCheck } from '../../compiler/kernel/kir.js';
import type { ReduceFn } from '../../compiler/ir.js';
import { I32_MAX, I32_MIN } from '../../compiler/semantics.js';
import { type Emitter, type Ty, castCode, varName } from './emit.js';

type MapStage = Extract<Stage, { kind: 'map' }>;
type ReduceStage = Extract<Stage, { kind: 'reduce' }>;

export function indent(lines: readonly string[], by = '  '): string[] {
  return lines.flatMap((l) => l.split('\n')).map((l) => (l.length > 0 ? by + l : l));
}

/** `header {` body `}` as lines. */
export function block(header: string, body: readonly string[]): string[] {
  return [header.length > 0 ? `${header} {` : '{', ...indent(body), '}'];
}

/** Nested `for` loops over `loops` (the last innermost), `body` emitted inside. */
export function emitLoops(em: Emitter, loops: readonly Loop[], body: () => void): void {
  const [l, ...rest] = loops;
  if (!l) {
    body();
    return;
  }
  const n = varName(l.name);
  const ext = em.extent(l.extent);
  const stmts = em.scoped({ [`v:${l.name}`]: n }, () => emitLoops(em, rest, body));
  em.emit(...block(`for (var ${n} = 0; ${n} < ${ext}; ${n}++)`, stmts));
}

/** Accumulators live as f32, or i32 for i32 and bool. */
export const accTy = (a: Accumulator): Ty => (a.dtype === 'f32' ? 'f32' : 'i32');

/** The identity of `a` as WGSL (compiler/semantics.ts reduceImpl). */
export function identity(em: Emitter, a: Accumulator): string {
  const f32 = accTy(a) === 'f32';
  const v: Record<ReduceFn, number> = {
    sum: 0,
    prod: 1,
    max: f32 ? -Infinity : I32_MIN,
    min: f32 ? Infinity : I32_MAX,
  };
  return em.literal(v[a.fn], accTy(a)).code;
}

/** `acc` combined with `v` (both of accTy(a)). */
export function combine(em: Emitter, a: Accumulator, acc: string, v: string): string {
  const f32 = accTy(a) === 'f32';
  switch (a.fn) {
    case 'sum':
      return `${acc} + ${v}`;
    case 'prod':
      return `${acc} * ${v}`;
    case 'max':
    case 'min':
      if (!f32) return `${a.fn}(${acc}, ${v})`;
      em.lib.add(a.fn);
      return `kiln_${a.fn}(${acc}, ${v})`;
  }
}

/** At the innermost level: folds each accumulator's value at this point into its partial `partials[i]`. */
export function emitFold(em: Emitter, s: ReduceStage, partials: readonly string[]): void {
  const vals = s.accs.map((a) => castCode(em.v(a.value), accTy(a), em.lib).code);
  s.accs.forEach((a, i) => em.emit(`${partials[i]} = ${combine(em, a, partials[i]!, vals[i]!)};`));
}

/** At the innermost level: the stores of one point, all values and indices first. */
export function emitStores(em: Emitter, s: MapStage): void {
  const items = s.stores.map((st) => {
    const bi = em.layout.slotBinding[st.buf]!;
    const idx = em.i(st.index);
    const val = castCode(em.v(st.value), em.layout.bindings[bi]!.elem, em.lib).code;
    return { bi, idx, val, check: st.check };
  });
  if (items.length === 1 && !items[0]!.check) {
    const [x] = items;
    em.emit(`${em.ref(x!.bi, x!.idx)} = ${x!.val};`);
    return;
  }
  const bound = items.map((x) => ({ bi: x.bi, idx: em.bind(x.idx), val: em.bind(x.val), check: x.check }));
  for (const x of bound) em.emit(`${em.ref(x.bi, x.idx)} = ${x.val};`, ...raiseFlag(em, x.check, x.val));
}

/**
 * A checked store's flag (kir.ts StoreCheck): set when the stored f32 `val`
 * (a bound name) is NaN or ±inf, tested on the exponent bits, which no
 * fast-math assumption about floats may fold away (as it may `v - v != v - v`).
 */
export function raiseFlag(em: Emitter, check: StoreCheck | undefined, val: string): string[] {
  if (!check) return [];
  const flag = em.ref(em.layout.slotBinding[check.flag]!, `${check.word}`);
  return block(`if ((bitcast<u32>(${val}) & 0x7f800000u) == 0x7f800000u)`, [`${flag} = 1i;`]);
}

/** Declares `partials` (one per accumulator, at their identities) at the innermost level. */
export function declarePartials(em: Emitter, s: ReduceStage, prefix: string): string[] {
  return s.accs.map((a) => {
    const n = `${prefix}${a.id}`;
    em.emit(`var ${n}: ${accTy(a)} = ${identity(em, a)};`);
    return n;
  });
}

/** How later stages read accumulator `a` held in WGSL variable `n`. */
export function accRef(a: Accumulator, n: string): string {
  return a.dtype === 'bool' ? `(${n} != 0i)` : n;
}
