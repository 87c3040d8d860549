// The generic template: one invocation per program (one point of the
// parallel space), running the kernel's stages in order exactly as the
// kernel interpreter does. Correct for every kernel; the other templates
// are faster for the shapes they recognise.

import type { Kernel } from '../../compiler/kernel/kir.js';
import { Emitter } from './emit.js';
import { WORKGROUP_INDEX, gridLoops, pointCount, unflatten } from './grid.js';
import type { Layout } from './layout.js';
import { accRef, block, declarePartials, emitFold, emitLoops, emitStores } from './stages.js';
import type { Built, Limits } from './template.js';

/** Emits every stage of `k` sequentially at the current (program) level; the parallel variables must be bound. */
export function emitSequential(em: Emitter, k: Kernel, stages: readonly number[]): void {
  for (const si of stages) {
    const s = k.stages[si]!;
    em.enterStage(s);
    if (s.kind === 'reduce') {
      const partials = declarePartials(em, s, 'a');
      const stmts = em.scoped({}, () => emitLoops(em, s.loops, () => emitFold(em, s, partials)), true);
      em.emit(...block('', stmts));
      s.accs.forEach((a, i) => em.name({ [`a:${a.id}`]: accRef(a, partials[i]!) }));
    } else {
      const stmts = em.scoped({}, () => emitLoops(em, s.loops, () => emitStores(em, s)), true);
      em.emit(...block('', stmts));
    }
  }
}

export function buildGeneric(k: Kernel, layout: Layout, limits: Limits): Built {
  const em = new Emitter(k, layout);
  const all = pointCount(k.parallel);
  const size = Math.max(1, Math.min(limits.maxInvocations, 256, typeof all === 'number' ? all : Infinity));
  const loops = gridLoops(k.parallel, layout);
  const points = pointCount(loops);
  em.open();
  em.emit(`let prog = ${WORKGROUP_INDEX} * ${size} + i32(lid);`);
  em.emit(...block(`if (prog >= ${em.extent(points)})`, ['return;']));
  const names = unflatten(em, 'prog', loops);
  em.open(names);
  emitSequential(
    em,
    k,
    k.stages.map((_, i) => i),
  );
  const program = em.close();
  const head = em.close();
  return {
    template: 'generic',
    workgroupSize: size,
    grid: [{ extent: points, per: size }],
    decls: [],
    body: [...head, ...program],
    lib: em.lib,
  };
}
