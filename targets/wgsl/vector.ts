// The 'vector' template: pure elementwise kernels whose innermost parallel
// extent is a multiple of 4 (vector-plan.ts decides which), each invocation
// taking 4 consecutive points of that loop. A binding the plan marks vec4 is
// read and written as array<vec4<f32>> (or vec4<i32>): one vec4 load or store
// serves the 4 points. Every other access (a masked or broadcast load, a
// strided index) stays scalar, once per point. The values themselves are
// computed per point with the generic template's scalar code (the same
// helpers: NaN and infinity behave identically), all before any store, as
// kir.ts defines a map stage.

import { collect, stageRoots } from '../../compiler/kernel/affine.js';
import type { Kernel, Stage, VExpr } from '../../compiler/kernel/kir.js';
import { Emitter, castCode } from './emit.js';
import { WORKGROUP_INDEX, gridLoops, pointCount, unflatten } from './grid.js';
import type { Layout } from './layout.js';
import { block, raiseFlag } from './stages.js';
import type { Built, Limits } from './template.js';
import { LANES } from './vector-plan.js';

type Load = Extract<VExpr, { k: 'load' }>;

export function buildVector(k: Kernel, layout: Layout, limits: Limits): Built | undefined {
  const plan = layout.vector;
  const s = k.stages[0] as Extract<Stage, { kind: 'map' }>;
  if (!plan) return undefined;
  const em = new Emitter(k, layout);
  const all = pointCount(k.parallel);
  const size = Math.max(1, Math.min(limits.maxInvocations, 256, typeof all === 'number' ? all / LANES : Infinity));
  const loops = gridLoops(k.parallel, layout);
  const points = pointCount(loops);
  em.open();
  // e0: the first of this invocation's 4 points (flat, within the dispatch); the 4 differ in the innermost variable only.
  em.emit(`let e0 = (${WORKGROUP_INDEX} * ${size} + i32(lid)) * ${LANES};`);
  em.emit(...block(`if (e0 >= ${em.extent(points)})`, ['return;']));
  const names = unflatten(em, 'e0', loops);
  const first = names[`v:${plan.inner}`]!;
  em.open(names);
  em.enterStage(s);
  const isVec = (slot: number) => plan.vec[layout.slotBinding[slot]!] === true;
  const stmts = em.scoped(
    {},
    () => {
      // The vec4 loads, at the first point (before any store: a map stage reads the old values).
      const vecs = new Map<Load, string>();
      for (const x of collect(stageRoots(s)).loads)
        if (isVec(x.buf) && !vecs.has(x)) {
          const n = em.fresh('v');
          em.emit(`let ${n} = ${em.vecRef(layout.slotBinding[x.buf]!, em.i(x.index))};`);
          vecs.set(x, n);
        }
      const values: { val: string; idx?: string }[][] = [];
      for (let lane = 0; lane < LANES; lane++) {
        em.open({ [`v:${plan.inner}`]: lane === 0 ? first : `(${first} + ${lane})` });
        em.lanes = (x) => {
          const n = vecs.get(x);
          if (n === undefined) return undefined;
          const c = `${n}.${'xyzw'[lane]}`;
          return x.dtype === 'bool'
            ? { code: `(${c} != 0i)`, ty: 'bool', depth: 1 }
            : { code: c, ty: x.dtype, depth: 0 };
        };
        values.push(
          s.stores.map((st) => {
            const elem = layout.bindings[layout.slotBinding[st.buf]!]!.elem;
            const val = em.bind(castCode(em.v(st.value), elem, em.lib).code);
            return isVec(st.buf) ? { val } : { val, idx: em.bind(em.i(st.index)) };
          }),
        );
        em.lanes = undefined;
        em.emit(...em.close());
      }
      s.stores.forEach((st, j) => {
        const bi = layout.slotBinding[st.buf]!;
        if (isVec(st.buf)) {
          const v = values.map((lane) => lane[j]!.val).join(', ');
          em.emit(`${em.vecRef(bi, em.i(st.index))} = vec4<${layout.bindings[bi]!.elem}>(${v});`);
        } else for (const lane of values) em.emit(`${em.ref(bi, lane[j]!.idx!)} = ${lane[j]!.val};`);
        for (const lane of values) em.emit(...raiseFlag(em, st.check, lane[j]!.val));
      });
    },
    true,
  );
  em.emit(...block('', stmts));
  const program = em.close();
  const head = em.close();
  return {
    template: 'vector',
    workgroupSize: size,
    grid: [{ extent: points, per: size * LANES }],
    decls: [],
    body: [...head, ...program],
    lib: em.lib,
  };
}
