// The dispatch grid (codegen.ts ABI): W = product over entries of
// ceil(extent / per) workgroups, dispatched as (x, y, 1) with
// x = min(W, 65535); the shader linearises workgroup_id.x + workgroup_id.y *
// num_workgroups.x and returns at once when that is >= W. Flat indices are
// split into loop variables row-major (the last loop varies fastest).

import type { Loop } from '../../compiler/kernel/kir.js';
import { type Dim, dimMul, sym } from '../../compiler/types.js';
import { type Emitter, varName } from './emit.js';
import type { Layout } from './layout.js';
import { CHUNK_DIM } from './split.js';

export interface GridEntry {
  readonly extent: Dim;
  readonly per: number;
}

/** The parameters of `main`. */
export const MAIN_PARAMS =
  '@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32';

/** The linear workgroup index as i32. */
export const WORKGROUP_INDEX = 'i32(wid.x + wid.y * nwg.x)';

/** The number of points of `loops`. */
export function pointCount(loops: readonly Loop[]): Dim {
  return loops.reduce<Dim>((acc, l) => dimMul(acc, l.extent), 1);
}

/** `ceil(extent / per)` as i32 WGSL. */
export function groupsOf(em: Emitter, g: GridEntry): string {
  const e = em.extent(g.extent);
  if (typeof g.extent === 'number') return String(Math.ceil(g.extent / g.per));
  return g.per === 1 ? e : `((${e} + ${g.per - 1}) / ${g.per})`;
}

/**
 * `loops` as one dispatch covers them: when the dispatch may be split along
 * p0 (split.ts), p0 ranges over the piece's count (`u.pn`) only.
 */
export function gridLoops(loops: readonly Loop[], layout: Layout): Loop[] {
  const p0 = layout.split?.p0;
  return loops.map((l) => (l.name === p0 ? { name: l.name, extent: sym(CHUNK_DIM) } : l));
}

/**
 * Lets at the innermost level splitting `flat` (a non-negative i32 below the
 * loops' point count) into the loops' variables; returns the names to bind.
 * Pass gridLoops(...): p0 of a split dispatch is offset to its global value.
 */
export function unflatten(em: Emitter, flat: string, loops: readonly Loop[]): Record<string, string> {
  const names: Record<string, string> = {};
  let rest = flat;
  for (let i = loops.length - 1; i >= 0; i--) {
    const l = loops[i]!;
    const n = varName(l.name);
    names[`v:${l.name}`] = n;
    // p0 of a split dispatch: the piece's first p0 added (the global p0).
    const first = l.name === em.layout.split?.p0 ? ' + u.po' : '';
    if (i === 0) {
      em.emit(`let ${n} = ${rest}${first};`);
      break;
    }
    if (l.extent === 1) {
      em.emit(`let ${n} = 0;`);
      continue;
    }
    const ext = em.extent(l.extent);
    em.emit(first ? `let ${n} = (${rest} % ${ext})${first};` : `let ${n} = ${rest} % ${ext};`);
    const q = em.fresh('q');
    em.emit(`let ${q} = ${rest} / ${ext};`);
    rest = q;
  }
  return names;
}
