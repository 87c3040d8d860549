// Emission of kernel-IR expressions: VExprs as scalar or f32x4/i32x4 values,
// IExprs as i32 element indices and byte addresses, IBools as i32 0/1.
//
// Placement (builder.ts): a node goes to the outermost level where every
// loop variable, accumulator and written buffer it reads is available, and
// is computed there once. A node is a *vector* when the innermost level has a
// lane variable (four consecutive values of it are the four lanes) and the
// node depends on it (or on a vector accumulator); every other node is a
// scalar, splatted where a vector needs it.
//
// Vector loads and stores are contiguous when the index has coefficient 1 in
// the lane variable (one v128.load/store); other accesses, gathers, and the
// operations SIMD lacks (i32 division, modulo, pow; f32 modulo) go lane by
// lane. A masked load whose mask varies across lanes takes the v128 load
// when all four lanes are valid and the lane-by-lane path otherwise; a
// masked scalar load never reads out of bounds (an `if`, not a `select`).
//
// Semantics are the kernel interpreter's (compiler/kernel/interpret.ts): i32
// wraps, floored division and modulo, x / 0 = 0 on i32, NaN-propagating
// max/min (wasm's f32.min/max), round half to even (f32.nearest), saturating
// f32 -> i32 casts with NaN -> 0, bool as 0/1 (lane masks inside vectors).

import binaryen from 'binaryen';
import type { DType } from '../../compiler/types.js';
import type { BinaryFn, UnaryFn } from '../../compiler/ir.js';
import { vdtype } from '../../compiler/kernel/abi.js';
import {
  type Deps,
  type NodeInfo,
  type Term,
  bvars,
  constCoef,
  isUnitStep,
  laneOffsets,
  polyOf,
} from '../../compiler/kernel/affine.js';
import { type IndexCtx, indexKey, printBool, range } from '../../compiler/kernel/index-expr.js';
import type { IBool, IExpr, StoreCheck, VExpr } from '../../compiler/kernel/kir.js';
import { type FnBuilder, type Ref, type Val, laneBytes } from './builder.js';
import { type Helpers, RAND_SALT_MUL } from './helpers.js';
import type { MathFn, MathLib } from './math.js';

type LoadExpr = Extract<VExpr, { k: 'load' }>;

export interface ExprEnv {
  readonly fb: FnBuilder;
  /** Per kernel slot: the parameter holding its byte offset, and its element dtype. */
  readonly slots: readonly { readonly ptr: number; readonly dtype: DType }[];
  /** Symbolic dim -> its i32 parameter. */
  readonly dims: ReadonlyMap<string, number>;
  /** Run-time scalar -> its parameter and the parameter's dtype (f32 or i32). */
  readonly scalars: ReadonlyMap<string, { readonly param: number; readonly dtype: DType }>;
  readonly helpers: Helpers;
  readonly math: () => MathLib;
  readonly relaxed: boolean;
}

/** What the emitter knows about the stage being emitted. */
export interface StageCtx {
  readonly deps: Deps;
  /** Loop extents, for proving index arithmetic non-negative. */
  readonly ranges: IndexCtx;
  /** The level where the stage starts: loads of buffers the kernel writes are not moved above it. */
  readonly base: number;
}

// binaryen.js builds relaxed_madd only through its C API; the typings omit it.
interface SimdTernaryApi {
  _BinaryenSIMDTernary(module: number, op: binaryen.Operations, a: Ref, b: Ref, c: Ref): Ref;
}

/** Coerces a constant as the interpreter stores values of `dtype`. */
function coerceConst(dtype: DType, v: number): number {
  return dtype === 'i32' ? v | 0 : dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
}

export class ExprEmitter {
  readonly m: binaryen.Module;
  private stageCtx: StageCtx | undefined;
  private readonly splats = new WeakMap<Val, Val>();
  private readonly valIds = new Map<Val, number>();
  /** Memo keys of nodes that read buffers the kernel writes: valid within one stage only. */
  private stageKeys = new Map<VExpr, object>();
  private stageId = 0;

  constructor(readonly env: ExprEnv) {
    this.m = env.fb.m;
  }

  get fb(): FnBuilder {
    return this.env.fb;
  }

  get stage(): StageCtx {
    if (!this.stageCtx) throw new Error('no stage is being emitted');
    return this.stageCtx;
  }

  setStage(s: StageCtx): void {
    this.stageCtx = s;
    this.stageId++;
    this.stageKeys = new Map();
  }

  // ------------------------------------------------------------ placement

  private varLevel(name: string): number {
    const L = this.fb.levels;
    for (let i = L.length - 1; i >= 0; i--) if (L[i]!.vars.has(name)) return i;
    throw new Error(`loop variable '${name}' is not bound`);
  }

  accVal(id: number): Val {
    const L = this.fb.levels;
    for (let i = L.length - 1; i >= 0; i--) {
      const v = L[i]!.accs.get(id);
      if (v) return v;
    }
    throw new Error(`accumulator ${id} is not available`);
  }

  private accLevel(id: number): number {
    const L = this.fb.levels;
    for (let i = L.length - 1; i >= 0; i--) if (L[i]!.accs.has(id)) return i;
    throw new Error(`accumulator ${id} is not available`);
  }

  /** The level index a node with these dependencies is computed at. */
  place(info: NodeInfo): number {
    let idx = 0;
    for (const v of info.vars) idx = Math.max(idx, this.varLevel(v));
    for (const a of info.accs) idx = Math.max(idx, this.accLevel(a));
    if (info.readsWritten) idx = Math.max(idx, this.stage.base);
    if (info.readsStageWritten) idx = this.fb.levels.length - 1;
    return idx;
  }

  get lane(): string | undefined {
    return this.fb.top.lane;
  }

  /** Whether a node with these dependencies is a vector in the current context. */
  isVec(info: NodeInfo): boolean {
    const lane = this.lane;
    if (lane === undefined) return false;
    if (info.vars.has(lane)) return true;
    for (const a of info.accs) if (this.accVal(a).vec) return true;
    return false;
  }

  /** Memoises `make` at level `li` under `key`, computing it into a local there. */
  private at(li: number, key: unknown, dtype: DType, vec: boolean, make: () => Ref): Val {
    const level = this.fb.levels[li]!;
    const hit = level.memo.get(key);
    if (hit) return hit;
    const val = this.fb.bindAt(level, make(), dtype, vec);
    level.memo.set(key, val);
    return val;
  }

  // ------------------------------------------------------------ constants

  konst(v: number, dtype: DType): Val {
    const c = coerceConst(dtype, v);
    const m = this.m;
    return {
      get: () => (dtype === 'f32' ? m.f32.const(c) : m.i32.const(c)),
      vec: false,
      dtype,
      level: this.fb.levels[0]!,
      konst: c,
    };
  }

  /** A v128 with `v` in every lane (bool: a mask). */
  v128(dtype: DType, v: number): Ref {
    const bytes = new Uint8Array(16);
    const dv = new DataView(bytes.buffer);
    for (let l = 0; l < 4; l++) {
      if (dtype === 'f32') dv.setFloat32(4 * l, v, true);
      else dv.setInt32(4 * l, dtype === 'bool' ? (v !== 0 ? -1 : 0) : v | 0, true);
    }
    return this.m.v128.const([...bytes]);
  }

  /** The value as a vector (a splat of a scalar, memoised where the scalar lives). */
  vec(x: Val): Ref {
    if (x.vec) return x.get();
    if (x.konst !== undefined) return this.v128(x.dtype, x.konst);
    let s = this.splats.get(x);
    if (!s) {
      s = this.fb.bindAt(x.level, this.splat(x.dtype, x.get()), x.dtype, true);
      this.splats.set(x, s);
    }
    return s.get();
  }

  splat(dtype: DType, r: Ref): Ref {
    const m = this.m;
    if (dtype === 'f32') return m.f32x4.splat(r);
    if (dtype === 'bool') return m.i32x4.splat(m.i32.sub(m.i32.const(0), r));
    return m.i32x4.splat(r);
  }

  /** Lane l of a vector value as a scalar (bool: 0/1). */
  extract(x: Val, l: number): Ref {
    const m = this.m;
    if (!x.vec) return x.get();
    if (x.dtype === 'f32') return m.f32x4.extract_lane(x.get(), l);
    const r = m.i32x4.extract_lane(x.get(), l);
    return x.dtype === 'bool' ? m.i32.and(r, m.i32.const(1)) : r;
  }

  /** A vector built lane by lane from scalars (bool 0/1 becomes a mask). */
  lanes(dtype: DType, f: (l: number) => Ref): Ref {
    const m = this.m;
    let r = this.v128(dtype, 0);
    for (let l = 0; l < 4; l++) {
      const s = f(l);
      if (dtype === 'f32') r = m.f32x4.replace_lane(r, l, s);
      else r = m.i32x4.replace_lane(r, l, dtype === 'bool' ? m.i32.sub(m.i32.const(0), s) : s);
    }
    return r;
  }

  // ------------------------------------------------------------ values

  v(x: VExpr): Val {
    switch (x.k) {
      case 'const':
        return this.konst(x.v, x.dtype);
      case 'acc': {
        const a = this.accVal(x.id);
        return a;
      }
      case 'scalar': {
        const s = this.env.scalars.get(x.name);
        if (!s) throw new Error(`scalar '${x.name}' is not a parameter`);
        const raw = () => this.fb.get(s.param);
        if (s.dtype === x.dtype) return { get: raw, vec: false, dtype: x.dtype, level: this.fb.levels[0]! };
        return this.at(0, x, x.dtype, false, () => this.castScalar(s.dtype, x.dtype, raw()));
      }
      default: {
        const info = this.stage.deps.v(x);
        const li = this.place(info);
        const vec = this.isVec(info);
        const level = this.fb.levels[li]!;
        // A value read from a buffer the kernel writes may change between stages: memoise per stage.
        let key: unknown = x;
        if (info.readsWritten) {
          key = this.stageKeys.get(x) ?? {};
          this.stageKeys.set(x, key as object);
        }
        const hit = level.memo.get(key);
        if (hit) return hit;
        const ref = vec ? this.vectorNode(x) : this.scalarNode(x);
        const val = this.fb.bindAt(level, ref, vdtype(x), vec);
        level.memo.set(key, val);
        return val;
      }
    }
  }

  private scalarNode(x: VExpr): Ref {
    const m = this.m;
    switch (x.k) {
      case 'load':
        return this.loadScalar(x);
      case 'index':
        return this.index(x.i);
      case 'unary':
        return this.unaryScalar(x.fn, vdtype(x.x), this.v(x.x).get());
      case 'binary': {
        const a = this.v(x.a);
        const b = this.v(x.b);
        return this.binaryScalar(x.fn, vdtype(x.a), a.get, b.get);
      }
      case 'where': {
        const c = this.v(x.c);
        const a = this.v(x.a);
        const b = this.v(x.b);
        return m.select(this.truthy(vdtype(x.c), c.get()), a.get(), b.get());
      }
      case 'cast':
        return this.castScalar(vdtype(x.x), x.dtype, this.v(x.x).get());
      case 'rand': {
        const k = this.randKey(x);
        return m.call(this.env.helpers.name('rand'), [k.get(), this.index(x.i)], binaryen.f32);
      }
      case 'const':
      case 'scalar':
      case 'acc':
        throw new Error(`${x.k} is not a computed node`);
    }
  }

  private vectorNode(x: VExpr): Ref {
    const m = this.m;
    switch (x.k) {
      case 'load':
        return this.loadVector(x);
      case 'index':
        return this.indexVec(x.i);
      case 'unary':
        return this.unaryVector(x.fn, vdtype(x.x), this.v(x.x));
      case 'binary':
        return this.binaryVector(x.fn, vdtype(x.a), this.v(x.a), this.v(x.b));
      case 'where': {
        const c = this.v(x.c);
        const a = this.vec(this.v(x.a));
        const b = this.vec(this.v(x.b));
        if (!c.vec) return m.select(this.truthy(vdtype(x.c), c.get()), a, b);
        return m.v128.bitselect(a, b, this.maskOf(vdtype(x.c), c.get()));
      }
      case 'cast':
        return this.castVector(vdtype(x.x), x.dtype, this.v(x.x));
      case 'rand': {
        const key = this.v(x.key);
        if (key.vec) {
          const k = (l: number) =>
            m.call(
              this.env.helpers.name('randKey'),
              [this.extract(key, l), m.i32.const(Math.imul(x.salt >>> 0, RAND_SALT_MUL))],
              binaryen.i32,
            );
          return this.lanes('f32', (l) =>
            m.call(this.env.helpers.name('rand'), [k(l), this.index(x.i, l)], binaryen.f32),
          );
        }
        const k = this.randKey(x);
        return m.call(this.env.helpers.name('rand4'), [k.get(), this.indexVec(x.i)], binaryen.v128);
      }
      case 'const':
      case 'scalar':
      case 'acc':
        throw new Error(`${x.k} is not a computed node`);
    }
  }

  /** The scalar part of `rand`, computed where its key is. */
  private randKey(x: Extract<VExpr, { k: 'rand' }>): Val {
    const key = this.v(x.key);
    const li = this.fb.levels.indexOf(key.level);
    let id = this.valIds.get(key);
    if (id === undefined) this.valIds.set(key, (id = this.valIds.size + 1));
    return this.at(Math.max(0, li), `randkey:${x.salt}:${id}`, 'i32', false, () =>
      this.m.call(
        this.env.helpers.name('randKey'),
        [key.get(), this.m.i32.const(Math.imul(x.salt >>> 0, RAND_SALT_MUL))],
        binaryen.i32,
      ),
    );
  }

  /** A scalar as a 0/1 condition. */
  private truthy(dtype: DType, r: Ref): Ref {
    const m = this.m;
    if (dtype === 'bool') return r;
    return dtype === 'f32' ? m.f32.ne(r, m.f32.const(0)) : m.i32.ne(r, m.i32.const(0));
  }

  /** A vector as a lane mask. */
  private maskOf(dtype: DType, r: Ref): Ref {
    const m = this.m;
    if (dtype === 'bool') return r;
    return dtype === 'f32' ? m.f32x4.ne(r, this.v128('f32', 0)) : m.i32x4.ne(r, this.v128('i32', 0));
  }

  // ------------------------------------------------------------ scalar ops

  castScalar(from: DType, to: DType, r: Ref): Ref {
    const m = this.m;
    if (from === to) return r;
    switch (to) {
      case 'f32':
        return m.f32.convert_s.i32(r);
      case 'i32':
        return from === 'f32' ? m.i32.trunc_s_sat.f32(r) : r;
      case 'bool':
        return this.truthy(from, r);
    }
  }

  private mathCall(fn: MathFn, args: Ref[], vec: boolean): Ref {
    const lib = this.env.math();
    return this.m.call(vec ? lib.vector(fn) : lib.scalar(fn), args, vec ? binaryen.v128 : binaryen.f32);
  }

  private unaryScalar(fn: UnaryFn, dt: DType, a: Ref): Ref {
    const m = this.m;
    if (fn === 'not') return dt === 'bool' ? m.i32.eqz(a) : m.i32.eqz(this.truthy(dt, a));
    if (dt !== 'f32') {
      if (fn === 'neg') return m.i32.sub(m.i32.const(0), a);
      if (fn === 'abs') {
        const t = this.fb.local(binaryen.i32);
        const g = () => this.fb.get(t);
        return m.block(
          null,
          [this.fb.set(t, a), m.select(m.i32.lt_s(g(), m.i32.const(0)), m.i32.sub(m.i32.const(0), g()), g())],
          binaryen.i32,
        );
      }
      throw new Error(`unary ${fn} on ${dt}`);
    }
    switch (fn) {
      case 'neg':
        return m.f32.neg(a);
      case 'recip':
        return m.f32.div(m.f32.const(1), a);
      case 'sqrt':
        return m.f32.sqrt(a);
      case 'abs':
        return m.f32.abs(a);
      case 'floor':
        return m.f32.floor(a);
      case 'ceil':
        return m.f32.ceil(a);
      case 'round':
        return m.f32.nearest(a);
      case 'exp':
      case 'log':
      case 'log1p':
      case 'expm1':
      case 'sin':
      case 'cos':
      case 'tanh':
      case 'erf':
        return this.mathCall(fn, [a], false);
    }
  }

  private binaryScalar(fn: BinaryFn, dt: DType, a: () => Ref, b: () => Ref): Ref {
    const m = this.m;
    const h = (name: 'idiv' | 'imod' | 'ipow' | 'fmod', t: binaryen.Type) =>
      m.call(this.env.helpers.name(name), [a(), b()], t);
    if (fn === 'and' || fn === 'or') {
      const x = this.truthy(dt, a());
      const y = this.truthy(dt, b());
      return fn === 'and' ? m.i32.and(x, y) : m.i32.or(x, y);
    }
    if (dt === 'f32') {
      switch (fn) {
        case 'add':
          return m.f32.add(a(), b());
        case 'sub':
          return m.f32.sub(a(), b());
        case 'mul':
          return m.f32.mul(a(), b());
        case 'div':
          return m.f32.div(a(), b());
        case 'max':
          return m.f32.max(a(), b());
        case 'min':
          return m.f32.min(a(), b());
        case 'pow':
          return this.mathCall('pow', [a(), b()], false);
        case 'mod':
          return h('fmod', binaryen.f32);
        case 'lt':
          return m.f32.lt(a(), b());
        case 'le':
          return m.f32.le(a(), b());
        case 'eq':
          return m.f32.eq(a(), b());
        case 'ne':
          return m.f32.ne(a(), b());
      }
    }
    switch (fn) {
      case 'add':
        return m.i32.add(a(), b());
      case 'sub':
        return m.i32.sub(a(), b());
      case 'mul':
        return m.i32.mul(a(), b());
      case 'div':
        return h('idiv', binaryen.i32);
      case 'mod':
        return h('imod', binaryen.i32);
      case 'pow':
        return h('ipow', binaryen.i32);
      case 'max':
        return m.select(m.i32.gt_s(a(), b()), a(), b());
      case 'min':
        return m.select(m.i32.lt_s(a(), b()), a(), b());
      case 'lt':
        return m.i32.lt_s(a(), b());
      case 'le':
        return m.i32.le_s(a(), b());
      case 'eq':
        return m.i32.eq(a(), b());
      case 'ne':
        return m.i32.ne(a(), b());
    }
  }

  // ------------------------------------------------------------ vector ops

  private castVector(from: DType, to: DType, x: Val): Ref {
    const m = this.m;
    const r = this.vec(x);
    if (from === to) return r;
    switch (to) {
      case 'f32':
        return from === 'bool' ? m.v128.and(r, this.v128('f32', 1)) : m.f32x4.convert_i32x4_s(r);
      case 'i32':
        return from === 'f32' ? m.i32x4.trunc_sat_f32x4_s(r) : m.v128.and(r, this.v128('i32', 1));
      case 'bool':
        return this.maskOf(from, r);
    }
  }

  /** `op` applied lane by lane to scalars extracted from vector operands. */
  private lanewise(out: DType, xs: readonly Val[], op: (lanes: (() => Ref)[]) => Ref): Ref {
    return this.lanes(out, (l) => op(xs.map((x) => () => this.extract(x, l))));
  }

  private unaryVector(fn: UnaryFn, dt: DType, x: Val): Ref {
    const m = this.m;
    const a = () => this.vec(x);
    if (fn === 'not') return dt === 'bool' ? m.v128.not(a()) : m.v128.not(this.maskOf(dt, a()));
    if (dt !== 'f32') {
      if (fn === 'neg') return m.i32x4.neg(a());
      if (fn === 'abs') return m.i32x4.abs(a());
      throw new Error(`unary ${fn} on ${dt}`);
    }
    switch (fn) {
      case 'neg':
        return m.f32x4.neg(a());
      case 'recip':
        return m.f32x4.div(this.v128('f32', 1), a());
      case 'sqrt':
        return m.f32x4.sqrt(a());
      case 'abs':
        return m.f32x4.abs(a());
      case 'floor':
        return m.f32x4.floor(a());
      case 'ceil':
        return m.f32x4.ceil(a());
      case 'round':
        return m.f32x4.nearest(a());
      case 'exp':
      case 'log':
      case 'log1p':
      case 'expm1':
      case 'sin':
      case 'cos':
      case 'tanh':
      case 'erf':
        return this.mathCall(fn, [a()], true);
    }
  }

  private binaryVector(fn: BinaryFn, dt: DType, x: Val, y: Val): Ref {
    const m = this.m;
    const a = () => this.vec(x);
    const b = () => this.vec(y);
    if (fn === 'and' || fn === 'or') {
      const p = this.maskOf(dt, a());
      const q = this.maskOf(dt, b());
      return fn === 'and' ? m.v128.and(p, q) : m.v128.or(p, q);
    }
    const scalarLanes = (out: DType) => this.lanewise(out, [x, y], ([p, q]) => this.binaryScalar(fn, dt, p!, q!));
    if (dt === 'f32') {
      switch (fn) {
        case 'add':
          return m.f32x4.add(a(), b());
        case 'sub':
          return m.f32x4.sub(a(), b());
        case 'mul':
          return m.f32x4.mul(a(), b());
        case 'div':
          return m.f32x4.div(a(), b());
        case 'max':
          return m.f32x4.max(a(), b());
        case 'min':
          return m.f32x4.min(a(), b());
        case 'pow':
          return this.mathCall('pow', [a(), b()], true);
        case 'mod':
          return scalarLanes('f32');
        case 'lt':
          return m.f32x4.lt(a(), b());
        case 'le':
          return m.f32x4.le(a(), b());
        case 'eq':
          return m.f32x4.eq(a(), b());
        case 'ne':
          return m.f32x4.ne(a(), b());
      }
    }
    if (dt === 'bool') {
      // Lane masks: -1 is true, so compare as b & ~a (a < b) and ~a | b (a <= b).
      switch (fn) {
        case 'eq':
          return m.i32x4.eq(a(), b());
        case 'ne':
          return m.i32x4.ne(a(), b());
        case 'lt':
          return m.v128.andnot(b(), a());
        case 'le':
          return m.v128.or(m.v128.not(a()), b());
        case 'max':
          return m.v128.or(a(), b());
        case 'min':
          return m.v128.and(a(), b());
        default:
          return scalarLanes('bool');
      }
    }
    switch (fn) {
      case 'add':
        return m.i32x4.add(a(), b());
      case 'sub':
        return m.i32x4.sub(a(), b());
      case 'mul':
        return m.i32x4.mul(a(), b());
      case 'div':
      case 'mod':
      case 'pow':
        return scalarLanes('i32');
      case 'max':
        return m.i32x4.max_s(a(), b());
      case 'min':
        return m.i32x4.min_s(a(), b());
      case 'lt':
        return m.i32x4.lt_s(a(), b());
      case 'le':
        return m.i32x4.le_s(a(), b());
      case 'eq':
        return m.i32x4.eq(a(), b());
      case 'ne':
        return m.i32x4.ne(a(), b());
    }
  }

  /** acc + a*b on f32x4: relaxed fused multiply-add when enabled. */
  madd(a: Ref, b: Ref, acc: Ref): Ref {
    const m = this.m;
    if (!this.env.relaxed) return m.f32x4.add(m.f32x4.mul(a, b), acc);
    const api = binaryen as unknown as SimdTernaryApi;
    return api._BinaryenSIMDTernary(m.ptr, binaryen.RelaxedMaddVecF32x4, a, b, acc);
  }

  // ------------------------------------------------------------ loads and stores

  private loadRaw(dtype: DType, ptr: Ref, offset: number): Ref {
    const m = this.m;
    return dtype === 'f32' ? m.f32.load(offset, 4, ptr) : m.i32.load(offset, 4, ptr);
  }

  /** A scalar load (of lane `lane` of the lane variable, when given): masked loads read nothing when invalid. */
  loadScalar(x: LoadExpr, lane?: number): Ref {
    const m = this.m;
    const { ptr, offset } = this.addr(x.buf, x.index, lane);
    let r = this.loadRaw(x.dtype, ptr, offset);
    if (x.dtype === 'bool') r = m.i32.ne(r, m.i32.const(0));
    if (x.valid.k === 'true') return r;
    return m.if(this.cond(x.valid, lane), r, this.konst(x.fill, x.dtype).get());
  }

  /** Each lane's element offset from lane 0's, where constant (affine.ts laneOffsets). */
  private laneOffsets(index: IExpr, lane: string): readonly number[] | undefined {
    return laneOffsets(index, lane, 4, this.fb.top.aligned);
  }

  /**
   * The four lanes of `x` read from a window of at most 8 elements around lane 0's (offsets `o`):
   * one v128 load when contiguous, a splat when all lanes read one element, else two loads (64-bit
   * ones for a window of at most 4 elements) covering exactly the window and one shuffle. Nothing
   * outside the window is read, so the last point of a buffer never reads beyond it.
   */
  private loadWindow(x: LoadExpr, o: readonly number[]): Ref {
    const m = this.m;
    const { ptr, offset } = this.addr(x.buf, x.index);
    const lo = Math.min(...o);
    const hi = Math.max(...o);
    if (lo === 0 && o.every((v, l) => v === l)) return m.v128.load(offset, 4, ptr);
    const p = this.fb.local(binaryen.i32);
    // Byte offsets are unsigned immediates: a window starting below lane 0 moves the pointer instead.
    const base = offset + 4 * lo < 0 ? m.i32.add(ptr, m.i32.const(offset + 4 * lo)) : ptr;
    const at = (first: number) => (offset + 4 * lo < 0 ? 4 * (first - lo) : offset + 4 * first);
    if (hi === lo) return m.v128.load32_splat(at(lo), 4, base);
    const wide = hi - lo >= 4;
    const [a0, b0] = wide ? [lo, hi - 3] : [lo, hi - 1];
    const load = (first: number, get: Ref) =>
      wide ? m.v128.load(at(first), 4, get) : m.v128.load64_zero(at(first), 4, get);
    const a = load(a0, m.local.tee(p, base, binaryen.i32));
    const b = load(b0, this.fb.get(p));
    const lanes = o.map((v) => (v - a0 <= (wide ? 3 : 1) ? v - a0 : 4 + (v - b0)));
    return m.i8x16.shuffle(a, b, laneBytes(lanes));
  }

  private loadVector(x: LoadExpr): Ref {
    const m = this.m;
    const lane = this.lane!;
    const o = this.laneOffsets(x.index, lane);
    const maskVaries = bvars(x.valid).has(lane);
    const byLane = () => this.lanes(x.dtype, (l) => this.loadScalar(x, l));
    if (o === undefined || Math.max(...o) - Math.min(...o) > 7) return byLane();
    const wide = () => {
      const r = this.loadWindow(x, o);
      return x.dtype === 'bool' ? m.i32x4.ne(r, this.v128('i32', 0)) : r;
    };
    if (x.valid.k === 'true') return wide();
    if (!maskVaries) return m.if(this.cond(x.valid), wide(), this.v128(x.dtype, x.fill));
    // All four lanes valid: one load; otherwise lane by lane.
    const all = [0, 1, 2, 3].map((l) => this.cond(x.valid, l)).reduce((p, q) => m.i32.and(p, q));
    return m.if(all, wide(), byLane());
  }

  /** Store statements for `value` at `index` (computed now, so they can run after every value of the point). */
  store(buf: number, index: IExpr, value: Val, check?: StoreCheck): Ref[] {
    const m = this.m;
    const dtype = this.env.slots[buf]?.dtype;
    if (dtype === undefined) throw new Error(`slot ${buf} does not exist`);
    if (check && dtype !== 'f32') throw new Error(`slot ${buf}: only f32 stores are checked for NaN and inf`);
    // A checked store keeps its value in a local: stored, and or-ed into the flag's bad lanes.
    const checked = (r: Ref, vec: boolean, put: (r: Ref) => Ref): Ref[] => {
      if (!check) return [put(r)];
      const t = this.fb.local(vec ? binaryen.v128 : binaryen.f32);
      const acc = this.checkAcc(check);
      const bits = vec ? this.fb.get(t) : m.f32x4.splat(this.fb.get(t));
      const exp = this.v128('i32', 0x7f800000);
      // All exponent bits set: NaN or ±inf, exactly (no float compare a fast-math rewrite could fold).
      const bad = m.i32x4.eq(m.v128.and(bits, exp), this.v128('i32', 0x7f800000));
      return [this.fb.set(t, r), put(this.fb.get(t)), this.fb.set(acc, m.v128.or(this.fb.get(acc), bad))];
    };
    const put = (ptr: Ref, offset: number, r: Ref) =>
      dtype === 'f32' ? m.f32.store(offset, 4, ptr, r) : m.i32.store(offset, 4, ptr, r);
    const conv = (from: DType, r: Ref) => this.castScalar(from, dtype, r);
    if (!value.vec && this.lane === undefined) {
      const { ptr, offset } = this.addr(buf, index);
      return checked(conv(value.dtype, value.get()), false, (r) => put(ptr, offset, r));
    }
    const lane = this.lane!;
    if (isUnitStep(this.laneOffsets(index, lane))) {
      const { ptr, offset } = this.addr(buf, index);
      let r = this.vec(value);
      if (value.dtype !== dtype) r = this.castVectorRef(value.dtype, dtype, r);
      if (dtype === 'bool') r = m.v128.and(r, this.v128('i32', 1));
      return checked(r, true, (x) => m.v128.store(offset, 4, ptr, x));
    }
    const out: Ref[] = [];
    for (let l = 0; l < 4; l++) {
      const { ptr, offset } = this.addr(buf, index, l);
      out.push(...checked(conv(value.dtype, this.extract(value, l)), false, (r) => put(ptr, offset, r)));
    }
    return out;
  }

  /** Bad lanes of each flag word the kernel's checked stores raise (kir.ts StoreCheck): a v128 local, zero at entry. */
  private readonly checks = new Map<string, { readonly check: StoreCheck; readonly acc: number }>();

  private checkAcc(c: StoreCheck): number {
    const key = `${c.flag}:${c.word}`;
    let e = this.checks.get(key);
    if (!e) {
      e = { check: c, acc: this.fb.local(binaryen.v128) };
      this.checks.set(key, e);
    }
    return e.acc;
  }

  /** At the end of the call: raise every flag word whose checked stores saw NaN or ±inf (nothing without checks). */
  raiseFlags(): Ref[] {
    const m = this.m;
    return [...this.checks.values()].map(({ check, acc }) => {
      const s = this.env.slots[check.flag];
      if (!s) throw new Error(`flag slot ${check.flag} does not exist`);
      return m.if(
        m.v128.any_true(this.fb.get(acc)),
        m.i32.store(4 * check.word, 4, this.fb.get(s.ptr), m.i32.const(1)),
      );
    });
  }

  private castVectorRef(from: DType, to: DType, r: Ref): Ref {
    const t = this.fb.local(binaryen.v128);
    const tmp: Val = { get: () => this.fb.get(t), vec: true, dtype: from, level: this.fb.top };
    return this.m.block(null, [this.fb.set(t, r), this.castVector(from, to, tmp)], binaryen.v128);
  }

  // ------------------------------------------------------------ index arithmetic

  /** The tag of lane-specific index values (and of values valid in this stage only). */
  private laneTag(info: NodeInfo, lane: number | undefined): string {
    const lv = this.lane;
    const stage = info.readsWritten ? `#s${this.stageId}` : '';
    return lane !== undefined && lv !== undefined && info.vars.has(lv) ? `@${lane}${stage}` : stage;
  }

  /** An index atom (var, dim, div, mod, value) as i32. */
  private atom(a: IExpr, lane: number | undefined): Ref {
    const m = this.m;
    switch (a.k) {
      case 'var': {
        const li = this.varLevel(a.name);
        const get = this.fb.levels[li]!.vars.get(a.name)!;
        return lane !== undefined && lane !== 0 && a.name === this.lane ? m.i32.add(get(), m.i32.const(lane)) : get();
      }
      case 'dim': {
        const p = this.env.dims.get(a.name);
        if (p === undefined) throw new Error(`dim '${a.name}' is not a parameter`);
        return this.fb.get(p);
      }
      case 'div':
      case 'mod': {
        const info = this.stage.deps.i(a);
        const li = this.place(info);
        return this.at(li, `${indexKey(a)}${this.laneTag(info, lane)}`, 'i32', false, () => {
          const x = this.index(a.a, lane);
          const y = this.index(a.b, lane);
          if (range(a.a, this.stage.ranges).lo >= 0) return a.k === 'div' ? m.i32.div_u(x, y) : m.i32.rem_u(x, y);
          return m.call(this.env.helpers.name(a.k === 'div' ? 'posdiv' : 'posmod'), [x, y], binaryen.i32);
        }).get();
      }
      case 'value': {
        const info = this.stage.deps.i(a);
        const li = this.place(info);
        const tag = this.laneTag(info, lane) || (lane !== undefined && this.isVec(info) ? `@${lane}` : '');
        return this.at(li, `${indexKey(a)}${tag}`, 'i32', false, () => {
          const xv = this.v(a.x);
          if (xv.vec && lane === undefined) throw new Error('a gather index varies across lanes');
          const raw = xv.vec ? this.extract(xv, lane!) : xv.get();
          const v = this.castScalar(xv.dtype, 'i32', raw);
          // clamp into [0, hi): v < 0 -> 0, v >= hi -> max(hi - 1, 0)
          const t = this.fb.local(binaryen.i32);
          const h = this.fb.local(binaryen.i32);
          const g = () => this.fb.get(t);
          const hi = () => this.fb.get(h);
          return m.block(
            null,
            [
              this.fb.set(t, v),
              this.fb.set(h, this.index(a.hi, lane)),
              m.select(
                m.i32.lt_s(g(), m.i32.const(0)),
                m.i32.const(0),
                m.select(
                  m.i32.ge_s(g(), hi()),
                  m.select(m.i32.gt_s(hi(), m.i32.const(0)), m.i32.sub(hi(), m.i32.const(1)), m.i32.const(0)),
                  g(),
                ),
              ),
            ],
            binaryen.i32,
          );
        }).get();
      }
      case 'const':
      case 'add':
      case 'mul':
        throw new Error(`${a.k} is not an index atom`);
    }
  }

  private term(t: Term, scale: number, lane: number | undefined): Ref {
    const m = this.m;
    let r: Ref | undefined;
    for (const a of t.atoms) {
      const x = this.atom(a, lane);
      r = r === undefined ? x : m.i32.mul(r, x);
    }
    const c = t.coef * scale;
    if (r === undefined) return m.i32.const(c | 0);
    return c === 1 ? r : m.i32.mul(r, m.i32.const(c | 0));
  }

  /**
   * base + scale * e with the part invariant in inner loops computed at the
   * outer levels (partial sums memoised there). Returns the innermost sum and
   * the non-negative constant part (a memarg offset when used as an address).
   */
  private linear(
    e: IExpr,
    scale: number,
    lane: number | undefined,
    base?: { key: string; get: () => Ref },
  ): { ref: Ref; offset: number } {
    const m = this.m;
    const p = polyOf(e);
    const lv = this.lane;
    let c = p.c;
    const groups = new Map<number, { items: { t: Term; lane: number | undefined }[]; key: string }>();
    for (const t of p.terms) {
      // c * lane var at lane l is c * var + c * l: a constant shift keeps the term shared by all lanes.
      const a0 = t.atoms[0];
      let laneHere = lane;
      if (lane !== undefined && t.atoms.length === 1 && a0?.k === 'var' && a0.name === lv) {
        c += t.coef * lane;
        laneHere = undefined;
      }
      const info = this.stage.deps.terms([t]);
      const li = this.place(info);
      const g = groups.get(li) ?? { items: [], key: '' };
      g.items.push({ t, lane: laneHere });
      g.key += `+${t.coef}*${t.atoms.map(indexKey).join('*')}${this.laneTag(info, laneHere)}`;
      groups.set(li, g);
    }
    // A memarg offset only when the rest of the address cannot be negative: wasm adds the offset
    // to the unsigned pointer without wrapping, so a negative pointer traps even if the sum is valid.
    const offsetOk =
      base !== undefined && c * scale >= 0 && c * scale < 2 ** 31 && range(e, this.stage.ranges).lo >= p.c;
    const offset = offsetOk ? c * scale : 0;
    const rest = c * scale - offset;
    const order = [...groups.keys()].sort((a, b) => a - b);
    let key = `${base?.key ?? ''}#${scale}#${rest}`;
    let acc: (() => Ref) | undefined = base?.get;
    if (rest !== 0) {
      const prev = acc;
      acc = prev ? () => m.i32.add(prev(), m.i32.const(rest | 0)) : () => m.i32.const(rest | 0);
    }
    let ref: Ref | undefined;
    order.forEach((li, n) => {
      const g = groups.get(li)!;
      key += g.key;
      const prev = acc;
      const sum = (): Ref => {
        let r = prev?.();
        for (const it of g.items) {
          const x = this.term(it.t, scale, it.lane);
          r = r === undefined ? x : m.i32.add(r, x);
        }
        return r!;
      };
      if (n === order.length - 1) ref = sum();
      else acc = this.at(li, `lin:${key}`, 'i32', false, sum).get;
    });
    if (ref === undefined) ref = acc ? acc() : m.i32.const(0);
    return { ref, offset };
  }

  /** An index expression as i32 (lane `lane` of the lane variable, when given). */
  index(e: IExpr, lane?: number): Ref {
    return this.linear(e, 1, lane).ref;
  }

  /** The byte address of element `e` of slot `buf`: pointer expression plus constant offset. */
  addr(buf: number, e: IExpr, lane?: number): { ptr: Ref; offset: number } {
    const s = this.env.slots[buf];
    if (!s) throw new Error(`slot ${buf} does not exist`);
    const { ref, offset } = this.linear(e, 4, lane, { key: `p${buf}`, get: () => this.fb.get(s.ptr) });
    return { ptr: ref, offset };
  }

  /** An index vector: lanes e(var), e(var + 1), ... of the lane variable. */
  indexVec(e: IExpr): Ref {
    const m = this.m;
    const lane = this.lane!;
    const c = constCoef(e, lane);
    if (c === undefined) return this.lanes('i32', (l) => this.index(e, l));
    const steps = new Uint8Array(16);
    const dv = new DataView(steps.buffer);
    for (let l = 0; l < 4; l++) dv.setInt32(4 * l, c * l, true);
    return m.i32x4.add(m.i32x4.splat(this.index(e)), m.v128.const([...steps]));
  }

  /** A condition as i32 0/1, computed where its variables are. */
  cond(c: IBool, lane?: number): Ref {
    const m = this.m;
    if (c.k === 'true') return m.i32.const(1);
    const info = this.stage.deps.b(c);
    const li = this.place(info);
    return this.at(li, `cond:${printBool(c)}${this.laneTag(info, lane)}`, 'i32', false, () =>
      this.condRef(c, lane),
    ).get();
  }

  private condRef(c: IBool, lane: number | undefined): Ref {
    const m = this.m;
    switch (c.k) {
      case 'true':
        return m.i32.const(1);
      case 'le':
        return m.i32.le_s(this.index(c.a, lane), this.index(c.b, lane));
      case 'and':
        return m.i32.and(this.cond(c.a, lane), this.cond(c.b, lane));
    }
  }
}
