// The generic kernel template: the parallel loops (the outermost over the
// call's [begin, end), the others full), then the stages in order at every
// point. Vectorisation follows the plan of simd.ts: either the innermost
// parallel loop runs four points at a time (then a scalar tail), or a
// stage's innermost loop does (reductions with four independent vector
// accumulators per accumulator, a horizontal reduction, then a scalar tail).

import binaryen from 'binaryen';
import type { DType, Dim } from '../../compiler/types.js';
import type { ReduceFn } from '../../compiler/ir.js';
import { Deps, writtenSlots } from '../../compiler/kernel/affine.js';
import { ctxOf } from '../../compiler/kernel/index-expr.js';
import type { Accumulator, Kernel, Loop, Stage } from '../../compiler/kernel/kir.js';
import { type Ref, type Val, scalarType } from './builder.js';
import type { ExprEmitter } from './expr.js';
import type { VectorPlan } from './simd.js';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** A loop extent as i32. */
export function extentRef(em: ExprEmitter, d: Dim): Ref {
  const m = em.m;
  if (typeof d === 'number') return m.i32.const(d);
  let r = m.i32.const(d.coef);
  let first = d.coef === 1;
  for (const s of d.syms) {
    const p = em.env.dims.get(s);
    if (p === undefined) throw new Error(`dim '${s}' is not a parameter`);
    r = first ? em.fb.get(p) : m.i32.mul(r, em.fb.get(p));
    first = false;
  }
  return r;
}

/** The identity of a reduction (the interpreter's reduceImpl). */
export function identity(fn: ReduceFn, dtype: DType): number {
  switch (fn) {
    case 'sum':
      return 0;
    case 'prod':
      return 1;
    case 'max':
      return dtype === 'f32' ? -Infinity : dtype === 'i32' ? I32_MIN : 0;
    case 'min':
      return dtype === 'f32' ? Infinity : dtype === 'i32' ? I32_MAX : 1;
  }
}

/** acc (fn) v on scalars or vectors. */
export function fold(em: ExprEmitter, fn: ReduceFn, dtype: DType, vec: boolean, acc: () => Ref, v: () => Ref): Ref {
  const m = em.m;
  if (vec) {
    if (dtype === 'f32') {
      switch (fn) {
        case 'sum':
          return m.f32x4.add(acc(), v());
        case 'prod':
          return m.f32x4.mul(acc(), v());
        case 'max':
          return m.f32x4.max(acc(), v());
        case 'min':
          return m.f32x4.min(acc(), v());
      }
    }
    switch (fn) {
      case 'sum':
        return m.i32x4.add(acc(), v());
      case 'prod':
        return m.i32x4.mul(acc(), v());
      case 'max':
        return m.i32x4.max_s(acc(), v());
      case 'min':
        return m.i32x4.min_s(acc(), v());
    }
  }
  if (dtype === 'f32') {
    switch (fn) {
      case 'sum':
        return m.f32.add(acc(), v());
      case 'prod':
        return m.f32.mul(acc(), v());
      case 'max':
        return m.f32.max(acc(), v());
      case 'min':
        return m.f32.min(acc(), v());
    }
  }
  switch (fn) {
    case 'sum':
      return m.i32.add(acc(), v());
    case 'prod':
      return m.i32.mul(acc(), v());
    case 'max':
      return m.select(m.i32.gt_s(acc(), v()), acc(), v());
    case 'min':
      return m.select(m.i32.lt_s(acc(), v()), acc(), v());
  }
}

/** Emits kernels' stages and loops through one ExprEmitter. */
export class StageEmitter {
  readonly m: binaryen.Module;
  private readonly written: ReadonlySet<number>;

  constructor(
    readonly em: ExprEmitter,
    readonly k: Kernel,
  ) {
    this.m = em.m;
    this.written = writtenSlots(k);
  }

  /** Sets the emitter up for stage `si`, starting at the current level. */
  enterStage(si: number): Stage {
    const s = this.k.stages[si]!;
    this.em.setStage({
      deps: new Deps(this.written, s.kind === 'map' ? writtenSlots(this.k, [s]) : new Set()),
      ranges: ctxOf(s.loops, ctxOf(this.k.parallel)),
      base: this.em.fb.levels.length - 1,
    });
    return s;
  }

  /**
   * A counted loop over `l` from `from` (default 0) to `to` (default its
   * extent) in steps of `step`, with `body` emitted in a new level binding it.
   */
  loop(
    l: Loop,
    body: () => void,
    opts: {
      from?: () => Ref;
      to?: () => Ref;
      idx?: number;
      step?: number;
      lane?: boolean;
      /** The lanes' first value is always a multiple of 4 (the loop starts at 0, steps by 4). */
      aligned?: boolean;
      mayBeEmpty?: boolean;
    } = {},
  ): number {
    const fb = this.em.fb;
    const idx = opts.idx ?? fb.local(binaryen.i32);
    if (opts.idx === undefined) fb.emit(fb.set(idx, opts.from ? opts.from() : this.m.i32.const(0)));
    const to = opts.to ?? (() => extentRef(this.em, l.extent));
    const level = fb.open(opts.lane ? { lane: l.name, aligned: opts.aligned ?? false } : {});
    level.vars.set(l.name, () => fb.get(idx));
    body();
    const stmts = fb.close();
    // A full loop over an extent (>= 1: dims are >= 1) in steps of 1 runs at least once.
    const empty =
      opts.mayBeEmpty ??
      (opts.to !== undefined || (opts.step ?? 1) > 1 || (typeof l.extent === 'number' && l.extent < 1));
    fb.emit(fb.loop(idx, opts.step ?? 1, to, stmts, empty));
    return idx;
  }

  /**
   * Consecutive loops over `l` in decreasing steps (16 or 4 lanes, then the
   * scalar tail), each continuing where the previous stopped; with a static
   * extent, loops that cannot run are left out.
   */
  stepped(
    l: Loop,
    parts: readonly { readonly step: number; readonly lane: boolean; readonly body: () => void }[],
    range?: { from: () => Ref; to: () => Ref },
  ): void {
    const fb = this.em.fb;
    const idx = fb.local(binaryen.i32);
    fb.emit(fb.set(idx, range ? range.from() : this.m.i32.const(0)));
    const extent = !range && typeof l.extent === 'number' ? l.extent : undefined;
    let done = 0;
    for (const p of parts) {
      let mayBeEmpty = true;
      if (extent !== undefined) {
        const n = Math.floor((extent - done) / p.step) * p.step;
        if (n === 0) continue;
        done += n;
        mayBeEmpty = false;
      }
      // From 0 (no range) the vector parts, in steps that are multiples of 4 before any scalar part,
      // start their lanes at multiples of 4.
      const aligned = p.lane && !range && p.step % 4 === 0;
      this.loop(l, p.body, { idx, step: p.step, lane: p.lane, aligned, mayBeEmpty, ...(range && { to: range.to }) });
    }
  }

  /** The whole generic kernel body: parallel loops, then every stage per point. */
  emitGeneric(plan: VectorPlan, begin: number, end: number): void {
    const fb = this.em.fb;
    const par = this.k.parallel;
    const stages = () => this.emitStages(plan);
    if (par.length === 0) {
      fb.open();
      stages();
      const body = fb.close();
      fb.emit(this.m.if(this.m.i32.lt_s(fb.get(begin), fb.get(end)), fb.block(body)));
      return;
    }
    const nest = (i: number): void => {
      const l = par[i]!;
      const from = i === 0 ? () => fb.get(begin) : undefined;
      const to = i === 0 ? () => fb.get(end) : undefined;
      if (i < par.length - 1) {
        this.loop(l, () => nest(i + 1), { ...(from && { from }), ...(to && { to }) });
        return;
      }
      if (!plan.parallel) {
        this.loop(l, stages, { ...(from && { from }), ...(to && { to }) });
        return;
      }
      // Four points at a time, then the scalar tail from where the vector loop stopped.
      this.stepped(
        l,
        [
          { step: 4, lane: true, body: stages },
          { step: 1, lane: false, body: stages },
        ],
        from && to && { from, to },
      );
    };
    nest(0);
  }

  /** Every stage at the current point. */
  emitStages(plan: VectorPlan): void {
    this.k.stages.forEach((_, si) => {
      const s = this.enterStage(si);
      const inner = !plan.parallel && plan.inner[si] === true && s.loops.length > 0;
      if (s.kind === 'reduce') this.emitReduce(s, inner);
      else this.emitMap(s, inner);
    });
  }

  /** Nested loops over `loops` (all but the innermost when `skipLast`), calling `body` innermost. */
  private nestLoops(loops: readonly Loop[], body: () => void): void {
    const go = (i: number): void => {
      if (i === loops.length) return body();
      this.loop(loops[i]!, () => go(i + 1));
    };
    go(0);
  }

  private emitReduce(s: Extract<Stage, { kind: 'reduce' }>, inner: boolean): void {
    const em = this.em;
    const fb = em.fb;
    const m = this.m;
    const base = fb.top;
    const laneVec = em.lane !== undefined;
    const mkAcc = (a: Accumulator, vec: boolean) => {
      const i = fb.local(vec ? binaryen.v128 : scalarType(a.dtype));
      const id = identity(a.fn, a.dtype);
      fb.emit(fb.set(i, vec ? em.v128(a.dtype, id) : em.konst(id, a.dtype).get()));
      return i;
    };
    const update = (a: Accumulator, acc: number, vec: boolean) => {
      // All values of the point first: the accumulators of one stage never see each other.
      const x = a.value;
      if (vec && a.fn === 'sum' && a.dtype === 'f32' && x.k === 'binary' && x.fn === 'mul' && em.env.relaxed) {
        const p = em.v(x.a);
        const q = em.v(x.b);
        return () => fb.set(acc, em.madd(em.vec(p), em.vec(q), fb.get(acc)));
      }
      const v = em.v(x);
      return () =>
        fb.set(
          acc,
          fold(
            em,
            a.fn,
            a.dtype,
            vec,
            () => fb.get(acc),
            () => (vec ? em.vec(v) : v.get()),
          ),
        );
    };
    const step = (accs: readonly Accumulator[], locals: readonly number[], vec: boolean) => {
      const sets = accs.map((a, i) => update(a, locals[i]!, vec));
      for (const set of sets) fb.emit(set());
    };

    if (!inner) {
      const locals = s.accs.map((a) => mkAcc(a, laneVec));
      this.nestLoops(s.loops, () => step(s.accs, locals, laneVec));
      s.accs.forEach((a, i) => {
        const l = locals[i]!;
        base.accs.set(a.id, { get: () => fb.get(l), vec: laneVec, dtype: a.dtype, level: base });
      });
      return;
    }

    // Vector accumulators: four per accumulator (independent chains hide the add latency).
    const G = 4;
    const vaccs = Array.from({ length: G }, () => s.accs.map((a) => mkAcc(a, true)));
    const saccs = s.accs.map((a) => mkAcc(a, false));
    const v = s.loops[s.loops.length - 1]!;
    this.nestLoops(s.loops.slice(0, -1), () => {
      const unrolled = () => {
        const base = fb.top.vars.get(v.name)!;
        for (let g = 0; g < G; g++) {
          const sub = fb.open({ share: true, lane: v.name, aligned: fb.top.aligned });
          sub.vars.set(v.name, () => m.i32.add(base(), m.i32.const(4 * g)));
          step(s.accs, vaccs[g]!, true);
          fb.close();
        }
      };
      this.stepped(v, [
        { step: 4 * G, lane: true, body: unrolled },
        { step: 4, lane: true, body: () => step(s.accs, vaccs[0]!, true) },
        { step: 1, lane: false, body: () => step(s.accs, saccs, false) },
      ]);
    });
    s.accs.forEach((a, i) => {
      const [v0, v1, v2, v3] = vaccs.map((l) => l[i]!) as [number, number, number, number];
      const vf = (x: number, y: number) =>
        fold(
          em,
          a.fn,
          a.dtype,
          true,
          () => fb.get(x),
          () => fb.get(y),
        );
      fb.emit(fb.set(v0, vf(v0, v1)));
      fb.emit(fb.set(v2, vf(v2, v3)));
      fb.emit(fb.set(v0, vf(v0, v2)));
      const lane = (l: number) => () =>
        a.dtype === 'f32' ? m.f32x4.extract_lane(fb.get(v0), l) : m.i32x4.extract_lane(fb.get(v0), l);
      const sf = (x: () => Ref, y: () => Ref) => fold(em, a.fn, a.dtype, false, x, y);
      const h = fb.local(scalarType(a.dtype));
      fb.emit(
        fb.set(
          h,
          sf(
            () => sf(lane(0), lane(1)),
            () => sf(lane(2), lane(3)),
          ),
        ),
      );
      const sacc = saccs[i]!;
      fb.emit(
        fb.set(
          sacc,
          sf(
            () => fb.get(h),
            () => fb.get(sacc),
          ),
        ),
      );
      base.accs.set(a.id, { get: () => fb.get(sacc), vec: false, dtype: a.dtype, level: base });
    });
  }

  /** A map stage: every store's value (and address) at a point, then the stores. */
  emitMap(s: Extract<Stage, { kind: 'map' }>, inner: boolean): void {
    const em = this.em;
    const fb = em.fb;
    const point = () => {
      const vals: Val[] = s.stores.map((st) => em.v(st.value));
      const stmts = s.stores.flatMap((st, i) => em.store(st.buf, st.index, vals[i]!, st.check));
      for (const x of stmts) fb.emit(x);
    };
    if (!inner) {
      this.nestLoops(s.loops, point);
      return;
    }
    const v = s.loops[s.loops.length - 1]!;
    this.nestLoops(s.loops.slice(0, -1), () =>
      this.stepped(v, [
        { step: 4, lane: true, body: point },
        { step: 1, lane: false, body: point },
      ]),
    );
  }
}
