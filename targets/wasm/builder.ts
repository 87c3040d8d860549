// The function builder the kernel emitters share: locals, and a stack of
// *levels* (the function body, each loop body, and sub-levels that re-bind
// variables) into which computed values are placed.
//
// Every non-trivial value is computed once into a fresh local (binaryen's
// optimizer sinks single-use locals back into their use) at the outermost
// level where everything it depends on is bound: that is both CSE (a shared
// VExpr is memoised per level) and loop-invariant code motion (a level's
// statements run before the loop nested in it, which is appended only when
// it closes). A level's memo dies with it, so no value is used outside the
// loop iteration that computed it.

import binaryen from 'binaryen';
import type { DType } from '../../compiler/types.js';

export type Ref = binaryen.ExpressionRef;

/** A computed value: scalar (f32, or i32 for i32 and bool 0/1) or vector (f32x4, i32x4; bool as lane masks). */
export interface Val {
  /** A fresh expression reading the value (binaryen nodes cannot be used twice). */
  readonly get: () => Ref;
  readonly vec: boolean;
  readonly dtype: DType;
  /** The level whose statements compute it. */
  readonly level: Level;
  /** Set when the value is a compile-time constant (scalar only). */
  readonly konst?: number;
}

export class Level {
  /** Loop variables bound here: a fresh i32 expression of the variable's value. */
  readonly vars = new Map<string, () => Ref>();
  /** Accumulator values bound here. */
  readonly accs = new Map<number, Val>();
  /** Values computed here, by VExpr object or by a string key (index arithmetic). */
  readonly memo = new Map<unknown, Val>();

  constructor(
    readonly stmts: Ref[],
    /** The vector lane variable from here inward (undefined: scalar code). */
    readonly lane: string | undefined,
    /** The lane variable's value in lane 0 is a multiple of 4 (affine.ts laneOffsets). */
    readonly aligned = false,
  ) {}
}

export function scalarType(dtype: DType): binaryen.Type {
  return dtype === 'f32' ? binaryen.f32 : binaryen.i32;
}

export class FnBuilder {
  private readonly localTypes: binaryen.Type[] = [];
  readonly levels: Level[] = [new Level([], undefined)];
  private labels = 0;

  constructor(
    readonly m: binaryen.Module,
    readonly params: readonly binaryen.Type[],
  ) {}

  get top(): Level {
    return this.levels[this.levels.length - 1]!;
  }

  get vars(): readonly binaryen.Type[] {
    return this.localTypes;
  }

  local(type: binaryen.Type): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  typeOf(i: number): binaryen.Type {
    const t = i < this.params.length ? this.params[i] : this.localTypes[i - this.params.length];
    if (t === undefined) throw new Error(`local ${i} does not exist`);
    return t;
  }

  get(i: number): Ref {
    return this.m.local.get(i, this.typeOf(i));
  }

  set(i: number, v: Ref): Ref {
    return this.m.local.set(i, v);
  }

  /** Computes `v` into a fresh local at `level`. */
  bindAt(level: Level, v: Ref, dtype: DType, vec: boolean): Val {
    const i = this.local(vec ? binaryen.v128 : scalarType(dtype));
    level.stmts.push(this.set(i, v));
    return { get: () => this.get(i), vec, dtype, level };
  }

  /** A new innermost level: its own statements, or (share) those of the current one (a re-binding scope). */
  open(opts: { share?: boolean; lane?: string | null; aligned?: boolean } = {}): Level {
    const lane = opts.lane === null ? undefined : (opts.lane ?? this.top.lane);
    const aligned = opts.aligned ?? (opts.lane === undefined && this.top.aligned);
    const l = new Level(opts.share ? this.top.stmts : [], lane, aligned);
    this.levels.push(l);
    return l;
  }

  close(): Ref[] {
    if (this.levels.length <= 1) throw new Error('closing the function level');
    return this.levels.pop()!.stmts;
  }

  emit(stmt: Ref): void {
    this.top.stmts.push(stmt);
  }

  block(stmts: readonly Ref[]): Ref {
    if (stmts.length === 1) return stmts[0]!;
    return this.m.block(null, [...stmts], binaryen.none);
  }

  /**
   * `for (; i + step <= to; i += step) body` as a bottom-tested loop (the
   * caller sets i first). `mayBeEmpty` adds the entry test.
   */
  loop(i: number, step: number, to: () => Ref, body: readonly Ref[], mayBeEmpty: boolean): Ref {
    const m = this.m;
    const id = this.labels++;
    const brk = `b${id}`;
    const top = `l${id}`;
    // i + step <= to (i < to for step 1)
    const fits = () =>
      step === 1 ? m.i32.lt_s(this.get(i), to()) : m.i32.le_s(m.i32.add(this.get(i), m.i32.const(step)), to());
    const inner = m.loop(
      top,
      this.block([...body, this.set(i, m.i32.add(this.get(i), m.i32.const(step))), m.br(top, fits())]),
    );
    if (!mayBeEmpty) return inner;
    return m.block(brk, [m.br(brk, m.i32.eqz(fits())), inner]);
  }

  /** `for (; i < to; i += step) body` (the caller sets i first), with the entry test. */
  loopLt(i: number, step: number, to: () => Ref, body: readonly Ref[]): Ref {
    const m = this.m;
    const id = this.labels++;
    const brk = `b${id}`;
    const top = `l${id}`;
    const inner = m.loop(
      top,
      this.block([
        ...body,
        this.set(i, m.i32.add(this.get(i), m.i32.const(step))),
        m.br(top, m.i32.lt_s(this.get(i), to())),
      ]),
    );
    return m.block(brk, [m.br(brk, m.i32.ge_s(this.get(i), to())), inner]);
  }

  /** The function body (the function level's statements). */
  finish(): Ref {
    if (this.levels.length !== 1) throw new Error(`${this.levels.length - 1} levels still open`);
    return this.m.block(null, [...this.levels[0]!.stmts], binaryen.none);
  }
}

/** The i8x16.shuffle mask that picks 32-bit lanes: 0-3 of the first operand, 4-7 of the second. */
export function laneBytes(lanes: readonly number[]): number[] {
  return lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
}
