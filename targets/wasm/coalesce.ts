// Coalescing a generic kernel's two innermost parallel loops when the
// innermost is too short to vectorise: a 2 x 2 max pool's gradient iterates
// [.., h/2, 2, w/2, 2], so its innermost loop has 2 points and the kernel ran
// scalar. One loop over both (w points) gets the vector lanes; the old
// variables are recovered as f / 2 and f % 2, which the vector loads read on
// aligned lanes as a window and a shuffle (affine.ts alignedLaneOffsets), and
// the stores, back to one contiguous index, as one v128 store.

import { dimMul } from '../../compiler/types.js';
import type { IExpr, Kernel, Stage, VExpr } from '../../compiler/kernel/kir.js';
import { type OperandFns, mapBoolOperands, mapIndexOperands, mapOperands } from '../../compiler/kernel/walk.js';

/** The kernel with its innermost parallel loop (2 or 3 points) merged into the one outside it, or `k` itself. */
export function coalesceShortInner(k: Kernel): Kernel {
  const par = k.parallel;
  // The outermost loop stays: it is what a call's [begin, end) ranges over.
  if (par.length < 3) return k;
  const inner = par[par.length - 1]!;
  const outer = par[par.length - 2]!;
  if (typeof inner.extent !== 'number' || inner.extent < 2 || inner.extent > 3) return k;
  const taken = new Set([...par, ...k.stages.flatMap((s) => s.loops)].map((l) => l.name));
  let name = `${outer.name}${inner.name}`;
  while (taken.has(name)) name += '_';
  const f: IExpr = { k: 'var', name };
  const n: IExpr = { k: 'const', v: inner.extent };
  const replaced = new Map<string, IExpr>([
    [outer.name, { k: 'div', a: f, b: n }],
    [inner.name, { k: 'mod', a: f, b: n }],
  ]);
  const values = new Map<VExpr, VExpr>();
  const fns: OperandFns = {
    v: (x) => {
      let y = values.get(x);
      if (y === undefined) {
        y = mapOperands(x, fns);
        values.set(x, y);
      }
      return y;
    },
    i: (e) => (e.k === 'var' ? (replaced.get(e.name) ?? e) : mapIndexOperands(e, fns)),
    b: (c) => mapBoolOperands(c, fns),
  };
  const stages = k.stages.map((s): Stage =>
    s.kind === 'reduce'
      ? { ...s, accs: s.accs.map((a) => ({ ...a, value: fns.v(a.value) })) }
      : { ...s, stores: s.stores.map((st) => ({ ...st, index: fns.i(st.index), value: fns.v(st.value) })) },
  );
  return {
    ...k,
    parallel: [...par.slice(0, -2), { name, extent: dimMul(outer.extent, inner.extent) }],
    stages,
  };
}
