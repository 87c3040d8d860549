// The vectorised math library that generated WASM kernels call: each
// function is emitted once per module as an internal binaryen function, in a
// scalar (f32) and a vector (f32x4) version built from the SAME generic code
// (the `Emitter` below abstracts over f32/f32x4), so a kernel's scalar tail
// computes bit-for-bit what its vector body computes. With relaxed SIMD the
// vector version fuses multiply-adds (f32x4.relaxed_madd, where the CPU has
// FMA) while scalar WASM has no fused multiply-add: the scalar version is
// the same either way, and then agrees with the lanes only to within the
// documented error (both are within it). Running the vector code on a splat
// instead would make them bit-equal but cost ~3x per scalar element.
//
// Semantics follow the reference interpreter (Math.* in float64, rounded to
// f32): NaN in -> NaN out, signed zeros and infinities as Math.* gives them.
// Denormal inputs and outputs are handled (wasm never flushes them).
//
// Accuracy: error = ulp distance to Math.f(x) rounded to f32 (x an f32),
// the maximum measured over the range given by sweeping every 7th f32 of it
// (3e8 to 6e8 inputs per function; `node bench/wasm-math.mjs --accuracy`),
// on both the mul+add and the relaxed (fused, x86 FMA3) paths; the same
// bounds are exported as MATH_ACCURACY and asserted by
// tests/targets/wasm-math.test.ts on denser-than-uniform samples. The
// polynomials are minimax fits (relative error, Lawson iteration) made for
// this file unless said otherwise.
//
// - exp: n = round(x log2 e), r = x - n ln2 (Cody-Waite, 2 parts; exact
//   first part), e^r = 1 + r + r^2 H(r) (H degree 4), times 2^n applied as
//   two exact powers of two so the result can overflow to inf / go denormal
//   / underflow to 0 without integer overflow. Max 1 ulp on [-104, 89]
//   (the whole f32 range: x > 88.73 gives inf, x < -103.98 gives 0).
// - expm1: same reduction and polynomial; 2^n (r + r^2 H) + (2^n - 1), which
//   for n = 0 is the polynomial itself (relative accuracy near 0, e.g.
//   expm1(1e-7) is within 1 ulp). Max 2 ulp on [-20, 89] (x < -17.33 gives
//   -1 after rounding).
// - log: x = m 2^e, m in [sqrt(1/2), sqrt(2)) (integer exponent split;
//   denormals prescaled by 2^23), f = m - 1, log(1+f) = f - f^2/2 + f^3 G(f)
//   (G degree 7), + e ln2 in two parts. Max 1 ulp on all positive f32.
//   log(0) = -inf, log(x<0) = NaN, log(inf) = inf.
// - log1p: u = 1 + x rounded, log(u) as above plus the rounding correction
//   (x - (u - 1)) / u. Max 1 ulp on [-1, FLT_MAX]; log1p(-1) = -inf.
// - sin, cos: on |x|; k = round(|x| 2/pi), r = |x| - k pi/2 with pi/2 in five
//   parts, four of 11 bits (so k * part is exact for k < 2^13) and a 24-bit
//   tail: r is accurate to ~1 ulp of itself even next to a multiple of pi/2.
//   sin(r) = r + r^3 S(r^2), cos(r) = 1 - r^2/2 + r^4 C(r^2) (S, C degree 2),
//   quadrant by k mod 4. Max 2 ulp on |x| <= 12800 (k < 2^13), and 1 ulp
//   at the f32 inputs closest to multiples of pi/2 (no cancellation loss).
//   Beyond: to |x| ~ 1e5 (k < 2^16) the absolute error stays below
//   |x| 2^-35 (1e-6 at 1e5); from there the first product rounds too and
//   the error reaches ulp(x)/2, i.e. the result is noise past ~1e7. Results
//   are always in [-1, 1] (r is bounded), NaN only for NaN and +-inf.
// - tanh: odd; |x| < 0.625: x + x^3 T(x^2) (T degree 4), else
//   e / (e + 2) with e = expm1(2|x|) (|x| clamped to 9.5, where tanh = 1 in
//   f32). Max 1 ulp on all f32 (so tanh(1e-6) is within 1 ulp of 1e-6).
// - erf: odd; |x| < 1: x + x Q(x^2) (Q degree 6); else 1 - e^{-x^2} R(x)
//   with R(x) ~ erfc(x) e^{x^2} a degree-8 polynomial in x - 2.5 on [1, 4]
//   (|x| clamped to 4, where erf = 1 in f32). Max 1 ulp on all f32 (vs
//   compiler/interpret.ts erf). erf(-0) = -0 as in C; the interpreter's is +0.
// - pow: Math.pow special cases (pow(x, 0) = 1 even for NaN, pow(+-1, +-inf)
//   = NaN, pow(-8, 1/3) = NaN, pow(-2, 3) = -8, pow(-0, -1) = -inf, ...);
//   |a|^b = 2^(b log2|a|) evaluated in f64 (an f32 log2 times b up to 150
//   would lose ~7 bits): log2 m = 2/ln2 atanh((m-1)/(m+1)) (series to s^15),
//   2^f = Taylor to degree 9, rounded once to f32. Max 1 ulp (correctly
//   rounded except next to ties; 1.7e7 random pairs of several families
//   plus all pairs of special values checked).
//
// Tested (tests/targets/wasm-math.test.ts): bit-pattern sweeps, grids and
// random points over the ranges above, special values (+-0, +-inf, NaN,
// denormals, FLT_MAX, tiny), vector lanes = scalar results bit for bit (on
// the relaxed path: both within the bound), the relaxed path when the engine
// has relaxed SIMD (Node 20: behind --experimental-wasm-relaxed-simd, which
// the test turns on for its own worker).

import binaryen from 'binaryen';

export type MathFn = 'exp' | 'log' | 'log1p' | 'expm1' | 'sin' | 'cos' | 'tanh' | 'erf' | 'pow';

export interface MathLib {
  /** Name of an internal `(f32) -> f32` function (`(f32, f32) -> f32` for pow). */
  scalar(fn: MathFn): string;
  /** Name of an internal `(v128) -> v128` function on f32x4 lanes (two operands for pow). */
  vector(fn: MathFn): string;
}

export const MATH_FNS: readonly MathFn[] = ['exp', 'log', 'log1p', 'expm1', 'sin', 'cos', 'tanh', 'erf', 'pow'];

/**
 * The measured accuracy documented above, for tests (this file's and
 * codegen tests comparing kernels with the interpreter): the maximum ulp
 * error vs Math.* rounded to f32 for inputs in [lo, hi] (pow: a in [lo, hi],
 * any b), on both paths. Outside, results are the exact limits (0, -1, +-1,
 * +-inf) or, for sin/cos, the approximations documented above.
 */
export const MATH_ACCURACY: Readonly<
  Record<MathFn, { readonly lo: number; readonly hi: number; readonly maxUlp: number }>
> = {
  exp: { lo: -104, hi: 89, maxUlp: 1 },
  expm1: { lo: -20, hi: 89, maxUlp: 2 },
  log: { lo: 0, hi: 3.4028234663852886e38, maxUlp: 1 },
  log1p: { lo: -1, hi: 3.4028234663852886e38, maxUlp: 1 },
  sin: { lo: -12800, hi: 12800, maxUlp: 2 },
  cos: { lo: -12800, hi: 12800, maxUlp: 2 },
  tanh: { lo: -3.4028234663852886e38, hi: 3.4028234663852886e38, maxUlp: 1 },
  erf: { lo: -3.4028234663852886e38, hi: 3.4028234663852886e38, maxUlp: 1 },
  pow: { lo: -3.4028234663852886e38, hi: 3.4028234663852886e38, maxUlp: 1 },
};

type Ref = binaryen.ExpressionRef;

/**
 * A value of the function being built: an expression factory (each use needs
 * a fresh binaryen node; values used twice are first stored in a local with
 * `Emitter.let`). Kinds: 'f' f32 / f32x4, 'i' i32 / i32x4, 'm' a condition
 * (i32 0/1 / lane mask), 'd' f64 / one f64x2 half of a vector.
 */
interface Val<K extends string> {
  readonly k: K;
  readonly e: () => Ref;
}
type F = Val<'f'>;
type I = Val<'i'>;
type M = Val<'m'>;
type D = Val<'d'>;
type Kind = 'f' | 'i' | 'm' | 'd';

const mk = <K extends Kind>(k: K, e: () => Ref): Val<K> => ({ k, e });

// binaryen.js builds relaxed_madd only through its C API; the typings omit it.
interface SimdTernaryApi {
  _BinaryenSIMDTernary(module: number, op: binaryen.Operations, a: Ref, b: Ref, c: Ref): Ref;
}

/** Builds one function's body; subclasses emit f32 or f32x4 instructions. */
abstract class Emitter {
  private readonly vars: binaryen.Type[] = [];
  private readonly stmts: Ref[] = [];

  constructor(
    protected readonly m: binaryen.Module,
    private readonly nparams: number,
  ) {}

  protected abstract type(k: Kind): binaryen.Type;

  param<K extends Kind>(k: K, index: number): Val<K> {
    const t = this.type(k);
    return mk(k, () => this.m.local.get(index, t));
  }

  /** Evaluates `v` once into a fresh local; the result may be used many times. */
  let<K extends Kind>(v: Val<K>): Val<K> {
    const t = this.type(v.k);
    const index = this.nparams + this.vars.length;
    this.vars.push(t);
    this.stmts.push(this.m.local.set(index, v.e()));
    return mk(v.k, () => this.m.local.get(index, t));
  }

  finish(name: string, params: binaryen.Type[], result: Val<Kind>): void {
    const rt = this.type(result.k);
    const body = this.m.block(null, [...this.stmts, result.e()], rt);
    this.m.addFunction(name, binaryen.createType(params), rt, this.vars, body);
  }

  // f32 / f32x4
  abstract f(c: number): F;
  abstract add(a: F, b: F): F;
  abstract sub(a: F, b: F): F;
  abstract mul(a: F, b: F): F;
  abstract div(a: F, b: F): F;
  abstract min(a: F, b: F): F;
  abstract max(a: F, b: F): F;
  abstract abs(a: F): F;
  abstract neg(a: F): F;
  abstract nearest(a: F): F;
  abstract trunc(a: F): F;
  /** a * b + c; fused only on the relaxed vector path. */
  abstract fma(a: F, b: F, c: F): F;
  abstract lt(a: F, b: F): M;
  abstract gt(a: F, b: F): M;
  abstract eq(a: F, b: F): M;
  abstract ne(a: F, b: F): M;
  abstract and(a: M, b: M): M;
  abstract not(a: M): M;
  abstract sel(c: M, a: F, b: F): F;
  abstract copysign(mag: F, sign: F): F;
  // i32 / i32x4 (the same registers reinterpreted)
  abstract i(c: number): I;
  abstract iadd(a: I, b: I): I;
  abstract isub(a: I, b: I): I;
  abstract iand(a: I, b: I): I;
  abstract ixor(a: I, b: I): I;
  abstract ishl(a: I, n: number): I;
  abstract ishrS(a: I, n: number): I;
  abstract ieqz(a: I): M;
  abstract bits(a: F): I;
  abstract float(a: I): F;
  abstract cvt(a: I): F;
  // f64 / f64x2 halves (pow)
  abstract split(a: F): D[];
  abstract join(ds: D[]): F;
  abstract d(c: number): D;
  abstract dadd(a: D, b: D): D;
  abstract dsub(a: D, b: D): D;
  abstract dmul(a: D, b: D): D;
  abstract ddiv(a: D, b: D): D;
  abstract dmin(a: D, b: D): D;
  abstract dmax(a: D, b: D): D;
  abstract dnearest(a: D): D;
  /** 2^n for an integral n in [-1022, 1023]. */
  abstract dpow2(n: D): D;

  /** Horner: c[0] + x (c[1] + x (c[2] + ...)). */
  poly(x: F, c: readonly number[]): F {
    let acc = this.f(c[c.length - 1]!);
    for (let j = c.length - 2; j >= 0; j--) acc = this.fma(acc, x, this.f(c[j]!));
    return acc;
  }

  dpoly(x: D, c: readonly number[]): D {
    let acc = this.d(c[c.length - 1]!);
    for (let j = c.length - 2; j >= 0; j--) acc = this.dadd(this.dmul(acc, x), this.d(c[j]!));
    return acc;
  }

  /** 2^n for an integral n in [-126, 127], built in the exponent field. */
  pow2(n: F): F {
    // n + 2^23 + 127 holds n + 127 in its low mantissa bits.
    return this.float(this.ishl(this.bits(this.add(n, this.f(8388735))), 23));
  }
}

class ScalarEmitter extends Emitter {
  protected type(k: Kind): binaryen.Type {
    return k === 'f' ? binaryen.f32 : k === 'd' ? binaryen.f64 : binaryen.i32;
  }
  private get f32() {
    return this.m.f32;
  }
  private get i32() {
    return this.m.i32;
  }
  f(c: number): F {
    return mk('f', () => this.f32.const(c));
  }
  add(a: F, b: F): F {
    return mk('f', () => this.f32.add(a.e(), b.e()));
  }
  sub(a: F, b: F): F {
    return mk('f', () => this.f32.sub(a.e(), b.e()));
  }
  mul(a: F, b: F): F {
    return mk('f', () => this.f32.mul(a.e(), b.e()));
  }
  div(a: F, b: F): F {
    return mk('f', () => this.f32.div(a.e(), b.e()));
  }
  min(a: F, b: F): F {
    return mk('f', () => this.f32.min(a.e(), b.e()));
  }
  max(a: F, b: F): F {
    return mk('f', () => this.f32.max(a.e(), b.e()));
  }
  abs(a: F): F {
    return mk('f', () => this.f32.abs(a.e()));
  }
  neg(a: F): F {
    return mk('f', () => this.f32.neg(a.e()));
  }
  nearest(a: F): F {
    return mk('f', () => this.f32.nearest(a.e()));
  }
  trunc(a: F): F {
    return mk('f', () => this.f32.trunc(a.e()));
  }
  fma(a: F, b: F, c: F): F {
    return this.add(this.mul(a, b), c);
  }
  lt(a: F, b: F): M {
    return mk('m', () => this.f32.lt(a.e(), b.e()));
  }
  gt(a: F, b: F): M {
    return mk('m', () => this.f32.gt(a.e(), b.e()));
  }
  eq(a: F, b: F): M {
    return mk('m', () => this.f32.eq(a.e(), b.e()));
  }
  ne(a: F, b: F): M {
    return mk('m', () => this.f32.ne(a.e(), b.e()));
  }
  and(a: M, b: M): M {
    return mk('m', () => this.i32.and(a.e(), b.e()));
  }
  not(a: M): M {
    return mk('m', () => this.i32.eqz(a.e()));
  }
  sel(c: M, a: F, b: F): F {
    return mk('f', () => this.m.select(c.e(), a.e(), b.e()));
  }
  copysign(mag: F, sign: F): F {
    return mk('f', () => this.f32.copysign(mag.e(), sign.e()));
  }
  i(c: number): I {
    return mk('i', () => this.i32.const(c | 0));
  }
  iadd(a: I, b: I): I {
    return mk('i', () => this.i32.add(a.e(), b.e()));
  }
  isub(a: I, b: I): I {
    return mk('i', () => this.i32.sub(a.e(), b.e()));
  }
  iand(a: I, b: I): I {
    return mk('i', () => this.i32.and(a.e(), b.e()));
  }
  ixor(a: I, b: I): I {
    return mk('i', () => this.i32.xor(a.e(), b.e()));
  }
  ishl(a: I, n: number): I {
    return mk('i', () => this.i32.shl(a.e(), this.i32.const(n)));
  }
  ishrS(a: I, n: number): I {
    return mk('i', () => this.i32.shr_s(a.e(), this.i32.const(n)));
  }
  ieqz(a: I): M {
    return mk('m', () => this.i32.eqz(a.e()));
  }
  bits(a: F): I {
    return mk('i', () => this.i32.reinterpret(a.e()));
  }
  float(a: I): F {
    return mk('f', () => this.f32.reinterpret(a.e()));
  }
  cvt(a: I): F {
    return mk('f', () => this.f32.convert_s.i32(a.e()));
  }
  split(a: F): D[] {
    return [mk('d', () => this.m.f64.promote(a.e()))];
  }
  join(ds: D[]): F {
    const [d] = ds;
    return mk('f', () => this.f32.demote(d!.e()));
  }
  d(c: number): D {
    return mk('d', () => this.m.f64.const(c));
  }
  dadd(a: D, b: D): D {
    return mk('d', () => this.m.f64.add(a.e(), b.e()));
  }
  dsub(a: D, b: D): D {
    return mk('d', () => this.m.f64.sub(a.e(), b.e()));
  }
  dmul(a: D, b: D): D {
    return mk('d', () => this.m.f64.mul(a.e(), b.e()));
  }
  ddiv(a: D, b: D): D {
    return mk('d', () => this.m.f64.div(a.e(), b.e()));
  }
  dmin(a: D, b: D): D {
    return mk('d', () => this.m.f64.min(a.e(), b.e()));
  }
  dmax(a: D, b: D): D {
    return mk('d', () => this.m.f64.max(a.e(), b.e()));
  }
  dnearest(a: D): D {
    return mk('d', () => this.m.f64.nearest(a.e()));
  }
  dpow2(n: D): D {
    // n + 2^52 + 1023 holds n + 1023 in its low mantissa bits.
    const m = this.m;
    return mk('d', () =>
      m.f64.reinterpret(m.i64.shl(m.i64.reinterpret(m.f64.add(n.e(), m.f64.const(4503599627371519))), m.i64.const(52))),
    );
  }
}

function bytesOf(a: Float32Array | Int32Array | Float64Array): number[] {
  return Array.from(new Uint8Array(a.buffer));
}

class VectorEmitter extends Emitter {
  constructor(
    m: binaryen.Module,
    nparams: number,
    private readonly relaxed: boolean,
  ) {
    super(m, nparams);
  }
  protected type(_k: Kind): binaryen.Type {
    return binaryen.v128;
  }
  private get f4() {
    return this.m.f32x4;
  }
  private get i4() {
    return this.m.i32x4;
  }
  private get v() {
    return this.m.v128;
  }
  f(c: number): F {
    return mk('f', () => this.v.const(bytesOf(new Float32Array([c, c, c, c]))));
  }
  add(a: F, b: F): F {
    return mk('f', () => this.f4.add(a.e(), b.e()));
  }
  sub(a: F, b: F): F {
    return mk('f', () => this.f4.sub(a.e(), b.e()));
  }
  mul(a: F, b: F): F {
    return mk('f', () => this.f4.mul(a.e(), b.e()));
  }
  div(a: F, b: F): F {
    return mk('f', () => this.f4.div(a.e(), b.e()));
  }
  // pmin/pmax are one minps/maxps in V8, where min/max take about eight instructions to give
  // IEEE NaN and signed-zero results. Every clamp here has the variable first and a finite
  // constant second, and pmin(a, b) = b < a ? b : a keeps a NaN `a` (the compare is false), so
  // the lanes equal the scalar f32.min/max version's.
  min(a: F, b: F): F {
    return mk('f', () => this.f4.pmin(a.e(), b.e()));
  }
  max(a: F, b: F): F {
    return mk('f', () => this.f4.pmax(a.e(), b.e()));
  }
  abs(a: F): F {
    return mk('f', () => this.f4.abs(a.e()));
  }
  neg(a: F): F {
    return mk('f', () => this.f4.neg(a.e()));
  }
  nearest(a: F): F {
    return mk('f', () => this.f4.nearest(a.e()));
  }
  trunc(a: F): F {
    return mk('f', () => this.f4.trunc(a.e()));
  }
  fma(a: F, b: F, c: F): F {
    if (!this.relaxed) return this.add(this.mul(a, b), c);
    const api = binaryen as unknown as SimdTernaryApi;
    return mk('f', () => api._BinaryenSIMDTernary(this.m.ptr, binaryen.RelaxedMaddVecF32x4, a.e(), b.e(), c.e()));
  }
  lt(a: F, b: F): M {
    return mk('m', () => this.f4.lt(a.e(), b.e()));
  }
  gt(a: F, b: F): M {
    return mk('m', () => this.f4.gt(a.e(), b.e()));
  }
  eq(a: F, b: F): M {
    return mk('m', () => this.f4.eq(a.e(), b.e()));
  }
  ne(a: F, b: F): M {
    return mk('m', () => this.f4.ne(a.e(), b.e()));
  }
  and(a: M, b: M): M {
    return mk('m', () => this.v.and(a.e(), b.e()));
  }
  not(a: M): M {
    return mk('m', () => this.v.not(a.e()));
  }
  sel(c: M, a: F, b: F): F {
    return mk('f', () => this.v.bitselect(a.e(), b.e(), c.e()));
  }
  copysign(mag: F, sign: F): F {
    const signBit = bytesOf(new Int32Array([-0x80000000, -0x80000000, -0x80000000, -0x80000000]));
    return mk('f', () => this.v.bitselect(sign.e(), mag.e(), this.v.const(signBit)));
  }
  i(c: number): I {
    return mk('i', () => this.v.const(bytesOf(new Int32Array([c, c, c, c]))));
  }
  iadd(a: I, b: I): I {
    return mk('i', () => this.i4.add(a.e(), b.e()));
  }
  isub(a: I, b: I): I {
    return mk('i', () => this.i4.sub(a.e(), b.e()));
  }
  iand(a: I, b: I): I {
    return mk('i', () => this.v.and(a.e(), b.e()));
  }
  ixor(a: I, b: I): I {
    return mk('i', () => this.v.xor(a.e(), b.e()));
  }
  ishl(a: I, n: number): I {
    return mk('i', () => this.i4.shl(a.e(), this.m.i32.const(n)));
  }
  ishrS(a: I, n: number): I {
    return mk('i', () => this.i4.shr_s(a.e(), this.m.i32.const(n)));
  }
  ieqz(a: I): M {
    return mk('m', () => this.i4.eq(a.e(), this.v.const(new Array<number>(16).fill(0))));
  }
  bits(a: F): I {
    return mk('i', a.e);
  }
  float(a: I): F {
    return mk('f', a.e);
  }
  cvt(a: I): F {
    return mk('f', () => this.f4.convert_i32x4_s(a.e()));
  }
  split(a: F): D[] {
    // Lanes 0-1, and lanes 2-3 moved down first; the caller passes a local.
    const high = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
    return [
      mk('d', () => this.m.f64x2.promote_low_f32x4(a.e())),
      mk('d', () => this.m.f64x2.promote_low_f32x4(this.m.i8x16.shuffle(a.e(), a.e(), high))),
    ];
  }
  join(ds: D[]): F {
    const [lo, hi] = ds;
    const pick = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
    return mk('f', () =>
      this.m.i8x16.shuffle(this.f4.demote_f64x2_zero(lo!.e()), this.f4.demote_f64x2_zero(hi!.e()), pick),
    );
  }
  d(c: number): D {
    return mk('d', () => this.v.const(bytesOf(new Float64Array([c, c]))));
  }
  dadd(a: D, b: D): D {
    return mk('d', () => this.m.f64x2.add(a.e(), b.e()));
  }
  dsub(a: D, b: D): D {
    return mk('d', () => this.m.f64x2.sub(a.e(), b.e()));
  }
  dmul(a: D, b: D): D {
    return mk('d', () => this.m.f64x2.mul(a.e(), b.e()));
  }
  ddiv(a: D, b: D): D {
    return mk('d', () => this.m.f64x2.div(a.e(), b.e()));
  }
  dmin(a: D, b: D): D {
    return mk('d', () => this.m.f64x2.min(a.e(), b.e()));
  }
  dmax(a: D, b: D): D {
    return mk('d', () => this.m.f64x2.max(a.e(), b.e()));
  }
  dnearest(a: D): D {
    return mk('d', () => this.m.f64x2.nearest(a.e()));
  }
  dpow2(n: D): D {
    return mk('d', () => this.m.i64x2.shl(this.m.f64x2.add(n.e(), this.d(4503599627371519).e()), this.m.i32.const(52)));
  }
}

// ------------------------------------------------------------ constants

const LOG2E = 1.4426950216293335;
const LN2_HI = 0.693145751953125; // 15 significant bits: n * LN2_HI is exact for |n| < 512
const LN2_LO = 1.428606765330187e-6;
/** e^r - 1 = r + r^2 H(r), |r| <= ln2/2: relative error 2^-26.2. */
const EXPM1_H = [0.4999999701976776, 0.1666654348373413, 0.04166720062494278, 0.0083665382117033, 0.001388251781463623];
/** log(1+f) = f - f^2/2 + f^3 G(f), f in [sqrt(1/2)-1, sqrt(2)-1]: relative error 2^-27.4. */
const LOG_G = [
  0.3333333134651184, -0.2500081956386566, 0.20001226663589478, -0.16623356938362122, 0.14201757311820984,
  -0.13160182535648346, 0.1276157647371292, -0.07634496688842773,
];
const LOG_LN2_HI = 0.693359375; // 10 significant bits: e * LOG_LN2_HI is exact
const LOG_LN2_LO = -2.1219444005469057e-4;
const SQRT_HALF_BITS = 0x3f3504f3;
const FLT_MIN = 1.1754943508222875e-38;
const INV_PIO2 = 0.6366197466850281;
/** pi/2 = sum: four 11-bit parts (k * part exact for k <= 2^13) and a 24-bit tail. */
const PIO2 = [1.5703125, 4.837512969970703e-4, 7.549533620476723e-8, 2.5632829192545614e-12, 6.123234262925839e-17];
/** sin r = r + r^3 S(r^2), |r| <= pi/4: relative error 2^-28. */
const SIN_S = [-0.16666655242443085, 0.00833216030150652, -0.00019515199528541416];
/** cos r = 1 - r^2/2 + r^4 C(r^2), |r| <= pi/4: relative error 2^-33. */
const COS_C = [0.04166664555668831, -0.0013887315290048718, 2.4433060389128514e-5];
/** tanh x = x + x^3 T(x^2), |x| < 0.625: relative error 2^-27.8. */
const TANH_T = [
  -0.3333328068256378, 0.13331441581249237, -0.05373971536755562, 0.0206390880048275, -0.005704987328499556,
];
/** erf x = x + x Q(x^2), |x| < 1: relative error 2^-29.6. */
const ERF_Q = [
  0.12837916612625122, -0.3761262595653534, 0.1128358542919159, -0.026853812858462334, 0.005188329145312309,
  -8.010203600861132e-4, 7.853891293052584e-5,
];
/** erfc x = e^{-x^2} R(x - 2.5), 1 <= x <= 4: absolute error of erfc 2^-28.6. */
const ERFC_R = [
  0.21080760657787323, -0.07434218376874924, 0.02491462416946888, -0.008132253773510456, 0.0023025020491331816,
  -6.61117781419307e-4, 5.433241603896022e-4, 2.250649849884212e-4, 1.0684361768653616e-4,
];
/** log2 m = s (2/ln2) sum s^2k/(2k+1), s = (m-1)/(m+1): truncation 2^-44 relative. */
const LOG2_ATANH = [
  2.8853900817779268, 0.9617966939259756, 0.5770780163555853, 0.4121985831111324, 0.3205988979753252,
  0.2623081892525388, 0.22195308321368667, 0.19235933878519512,
];
/** 2^f = sum (f ln2)^k / k!, |f| <= 1/2: truncation 2^-37 relative. */
const EXP2_TAYLOR = [
  1, 0.6931471805599453, 0.24022650695910072, 0.05550410866482158, 0.009618129107628477, 0.0013333558146428443,
  1.540353039338161e-4, 1.5252733804059841e-5, 1.321548679014431e-6, 1.01780860092397e-7,
];

// ------------------------------------------------------------ algorithms

/** n = round(x log2 e) and r = x - n ln2, for |x| <= 104. */
function reduceExp(o: Emitter, x: F): { n: F; r: F } {
  const n = o.let(o.nearest(o.mul(x, o.f(LOG2E))));
  const r1 = o.let(o.fma(n, o.f(-LN2_HI), x)); // exact
  const r = o.let(o.fma(n, o.f(-LN2_LO), r1));
  return { n, r };
}

/** e^r - 1 on the reduced range, with full relative accuracy near 0. */
function expm1Poly(o: Emitter, r: F): F {
  return o.fma(o.mul(r, r), o.poly(r, EXPM1_H), r);
}

function expBody(o: Emitter, x: F): F {
  const xc = o.let(o.min(o.max(x, o.f(-104)), o.f(89))); // keeps n small; NaN passes
  const { n, r } = reduceExp(o, xc);
  const y = o.add(o.f(1), expm1Poly(o, r));
  // Two exact power-of-two scalings: 2^n alone would overflow for n = 128
  // and be 0 for n < -126 (denormal results).
  const a = o.let(o.trunc(o.mul(n, o.f(0.5))));
  return o.mul(o.mul(y, o.pow2(a)), o.pow2(o.sub(n, a)));
}

/** expm1 for x in [-20, 89] (NaN passes), without the -0 fix-up; `to88` when x may exceed 88.37. */
function expm1Core(o: Emitter, x: F, to88: boolean): F {
  const { n, r } = reduceExp(o, x);
  const p = o.let(expm1Poly(o, r));
  if (!to88) {
    const t = o.let(o.pow2(n));
    return o.fma(t, p, o.sub(t, o.f(1)));
  }
  // 2^n overflows for n = 128 (x in [88.38, 89]): use 2^127 and double after.
  const big = o.let(o.gt(n, o.f(127)));
  const t = o.let(o.pow2(o.min(n, o.f(127))));
  const y = o.fma(t, p, o.sub(t, o.f(1)));
  return o.mul(y, o.sel(big, o.f(2), o.f(1)));
}

function expm1Body(o: Emitter, x: F): F {
  const y = expm1Core(o, o.min(o.max(x, o.f(-20)), o.f(89)), true);
  return o.sel(o.eq(x, o.f(0)), x, y); // expm1(-0) = -0
}

/**
 * log(x) for finite positive normal x given as m 2^e (the caller rejects the
 * rest), plus a small correction `c` added before the large terms (log1p).
 */
function logOfNormal(o: Emitter, x: F, eAdjust: F | null, c: F | null): F {
  const ix = o.let(o.bits(x));
  const tmp = o.let(o.isub(ix, o.i(SQRT_HALF_BITS)));
  // m in [sqrt(1/2), sqrt(2)): subtract the exponent of x / sqrt(1/2).
  const m = o.float(o.isub(ix, o.iand(tmp, o.i(0xff800000 | 0))));
  let e = o.cvt(o.ishrS(tmp, 23));
  if (eAdjust) e = o.add(e, eAdjust);
  const ef = o.let(e);
  const f = o.let(o.sub(m, o.f(1))); // exact
  const z = o.let(o.mul(f, f));
  let y = o.mul(o.mul(f, z), o.poly(f, LOG_G));
  y = o.fma(z, o.f(-0.5), y);
  y = o.fma(ef, o.f(LOG_LN2_LO), y);
  if (c) y = o.add(y, c);
  return o.fma(ef, o.f(LOG_LN2_HI), o.add(f, y));
}

/** Result for inputs outside (0, inf): 0 -> -inf, inf -> inf, <0 / NaN -> NaN. */
function logSpecial(o: Emitter, x: F, y: F): F {
  const finite = o.and(o.gt(x, o.f(0)), o.lt(x, o.f(Infinity)));
  const special = o.sel(o.eq(x, o.f(0)), o.f(-Infinity), o.sel(o.lt(x, o.f(0)), o.f(NaN), x));
  return o.sel(finite, y, special);
}

function logBody(o: Emitter, x: F): F {
  const tiny = o.let(o.lt(x, o.f(FLT_MIN)));
  // Denormals: scale into the normal range first.
  const xs = o.let(o.sel(tiny, o.mul(x, o.f(8388608)), x));
  const y = logOfNormal(o, xs, o.sel(tiny, o.f(-23), o.f(0)), null);
  return logSpecial(o, x, y);
}

function log1pBody(o: Emitter, x: F): F {
  const u = o.let(o.add(x, o.f(1))); // 0 or >= 2^-24 when finite
  // log(1+x) = log(u) + log(1 + (1+x-u)/u); x - (u-1) is the rounding error of u
  // (exactly for x <= 1, negligibly off beyond).
  const c = o.div(o.sub(x, o.sub(u, o.f(1))), u);
  const y = logOfNormal(o, u, null, c);
  return o.sel(o.eq(x, o.f(0)), x, logSpecial(o, u, y)); // log1p(-0) = -0
}

/** sin (cos when `cos`) of x: reduction on |x|, quadrant, sign. */
function sinCosBody(o: Emitter, x: F, cos: boolean): F {
  const ax = o.let(o.abs(x));
  const k = o.let(o.nearest(o.mul(ax, o.f(INV_PIO2))));
  let r = ax;
  for (const part of PIO2) r = o.let(o.fma(k, o.f(-part), r)); // products exact for k <= 2^13
  // |r| <= pi/4 + 6e-3 up to 1e5. Far beyond, k can be off by several and r
  // huge (r^3 overflowing to NaN): bounding r keeps the result in [-1, 1].
  r = o.let(o.min(o.max(r, o.f(-1)), o.f(1)));
  const z = o.let(o.mul(r, r));
  const s = o.let(o.fma(o.mul(r, z), o.poly(z, SIN_S), r));
  const c = o.let(o.fma(o.mul(z, z), o.poly(z, COS_C), o.fma(z, o.f(-0.5), o.f(1))));
  // k mod 4 from the low mantissa bits of k + 2^23 (k < 2^23 here).
  let q = o.bits(o.add(k, o.f(8388608)));
  if (cos) q = o.iadd(q, o.i(1)); // cos x = sin(x + pi/2)
  const qv = o.let(q);
  const odd = o.not(o.ieqz(o.iand(qv, o.i(1))));
  let sign = o.ishl(o.iand(qv, o.i(2)), 30);
  if (!cos) sign = o.ixor(sign, o.iand(o.bits(x), o.i(0x80000000 | 0))); // sin is odd
  const v = o.sel(odd, c, s);
  return o.float(o.ixor(o.bits(v), sign));
}

function tanhBody(o: Emitter, x: F): F {
  const ax = o.let(o.abs(x));
  const z = o.let(o.mul(ax, ax));
  const small = o.fma(o.mul(ax, z), o.poly(z, TANH_T), ax);
  const a = o.min(ax, o.f(9.5)); // tanh = 1 in f32 beyond 9.01
  const e = o.let(expm1Core(o, o.add(a, a), false));
  const big = o.div(e, o.add(e, o.f(2)));
  return o.copysign(o.sel(o.lt(ax, o.f(0.625)), small, big), x);
}

function erfBody(o: Emitter, x: F): F {
  const ax = o.let(o.abs(x));
  const small = o.fma(ax, o.poly(o.mul(ax, ax), ERF_Q), ax);
  const a = o.let(o.min(ax, o.f(4))); // erf = 1 in f32 beyond 3.92
  const { n, r } = reduceExp(o, o.let(o.neg(o.mul(a, a))));
  // e^{-a^2} with a^2 in [1, 16]: no overflow handling needed.
  const ex = o.mul(o.add(o.f(1), expm1Poly(o, r)), o.pow2(n));
  const big = o.fma(o.neg(ex), o.poly(o.sub(a, o.f(2.5)), ERFC_R), o.f(1));
  return o.copysign(o.sel(o.lt(ax, o.f(1)), small, big), x);
}

function powBody(o: Emitter, a: F, b: F): F {
  const ax = o.let(o.abs(a));
  const tiny = o.let(o.lt(ax, o.f(FLT_MIN)));
  const xs = o.let(o.sel(tiny, o.mul(ax, o.f(8388608)), ax));
  const ix = o.let(o.bits(xs));
  const tmp = o.let(o.isub(ix, o.i(SQRT_HALF_BITS)));
  const m = o.let(o.float(o.isub(ix, o.iand(tmp, o.i(0xff800000 | 0)))));
  let e = o.add(o.cvt(o.ishrS(tmp, 23)), o.sel(tiny, o.f(-23), o.f(0)));
  // log2 0 = -inf; inf and NaN carry through the exponent (m stays finite).
  e = o.sel(o.eq(ax, o.f(0)), o.f(-Infinity), o.sel(o.lt(ax, o.f(Infinity)), e, ax));
  const ef = o.let(e);
  const bl = o.let(b);
  const ms = o.split(m);
  const es = o.split(ef);
  const bs = o.split(bl);
  const mags = ms.map((md, h) => {
    const mv = o.let(md);
    const s = o.let(o.ddiv(o.dsub(mv, o.d(1)), o.dadd(mv, o.d(1))));
    const log2m = o.dmul(s, o.dpoly(o.let(o.dmul(s, s)), LOG2_ATANH));
    const l = o.dadd(es[h]!, log2m);
    // Clamped so 2^n stays a normal f64; the f32 result is 0 or inf anyway.
    const y = o.let(o.dmin(o.dmax(o.dmul(bs[h]!, l), o.d(-300)), o.d(300)));
    const n = o.let(o.dnearest(y));
    const g = o.dpoly(o.dsub(y, n), EXP2_TAYLOR);
    return o.let(o.dmul(g, o.dpow2(n)));
  });
  const mag = o.let(o.join(mags));
  const isInt = o.let(o.eq(o.trunc(bl), bl)); // inf counts as an (even) integer
  const half = o.let(o.mul(bl, o.f(0.5)));
  const odd = o.and(isInt, o.ne(o.trunc(half), half));
  // Negative base: odd integer powers flip the sign; non-integers give NaN.
  const signed = o.sel(odd, o.copysign(mag, a), mag);
  const negNonInt = o.and(o.lt(a, o.f(0)), o.and(o.gt(a, o.f(-Infinity)), o.not(isInt)));
  const r = o.sel(negNonInt, o.f(NaN), signed);
  return o.sel(o.eq(bl, o.f(0)), o.f(1), r);
}

const UNARY: Record<Exclude<MathFn, 'pow' | 'sin' | 'cos'>, (o: Emitter, x: F) => F> = {
  exp: expBody,
  expm1: expm1Body,
  log: logBody,
  log1p: log1pBody,
  tanh: tanhBody,
  erf: erfBody,
};

function emitBody(o: Emitter, fn: MathFn): F {
  if (fn === 'pow') return powBody(o, o.param('f', 0), o.param('f', 1));
  const x = o.param('f', 0);
  if (fn === 'sin' || fn === 'cos') return sinCosBody(o, x, fn === 'cos');
  return UNARY[fn](o, x);
}

// ------------------------------------------------------------ library

/**
 * Adds the math functions to `module` on demand. Requesting a function twice
 * (or from a second library on the same module) returns the existing one.
 * Enables the SIMD (and, with `relaxedSimd`, relaxed SIMD) features on the
 * module, which the functions need.
 */
export function addMathLibrary(module: binaryen.Module, opts: { relaxedSimd: boolean }): MathLib {
  const relaxed = opts.relaxedSimd;
  let features = module.getFeatures() | binaryen.Features.SIMD128;
  if (relaxed) features |= binaryen.Features.RelaxedSIMD;
  module.setFeatures(features);
  const suffix = relaxed ? '_relaxed' : ''; // vector only: scalar code has no fused form
  const arity = (fn: MathFn) => (fn === 'pow' ? 2 : 1);
  const has = (name: string) => module.getFunction(name) !== 0;

  const vector = (fn: MathFn): string => {
    const name = `kiln_math_${fn}_f32x4${suffix}`;
    if (has(name)) return name;
    const n = arity(fn);
    const o = new VectorEmitter(module, n, relaxed);
    o.finish(name, new Array<binaryen.Type>(n).fill(binaryen.v128), emitBody(o, fn));
    return name;
  };

  const scalar = (fn: MathFn): string => {
    const name = `kiln_math_${fn}_f32`;
    if (has(name)) return name;
    const n = arity(fn);
    const o = new ScalarEmitter(module, n);
    o.finish(name, new Array<binaryen.Type>(n).fill(binaryen.f32), emitBody(o, fn));
    return name;
  };

  return { scalar, vector };
}
