// AssemblyScript (not TypeScript: tsconfig.json excludes this folder) port of the vector exp and
// tanh of targets/wasm/math.ts, for the evaluation in ../assemblyscript-eval.md. Same algorithm,
// same f32 constants and the same operation order as `expBody` / `tanhBody` on the mul+add path
// (the lanes are bit-identical to kiln_math_exp_f32x4 / kiln_math_tanh_f32x4; time.mjs checks it).
// This file is the library (exports `exp`, `tanh`: v128 -> v128, what Kiln would merge into its
// modules); loops.ts wraps it in timing loops. Built by build.sh.

const LOG2E: f32 = 1.4426950216293335;
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187e-6;
// e^r - 1 = r + r^2 H(r), |r| <= ln2/2 (EXPM1_H)
const H0: f32 = 0.4999999701976776;
const H1: f32 = 0.1666654348373413;
const H2: f32 = 0.04166720062494278;
const H3: f32 = 0.0083665382117033;
const H4: f32 = 0.001388251781463623;
// tanh x = x + x^3 T(x^2), |x| < 0.625 (TANH_T)
const T0: f32 = -0.3333328068256378;
const T1: f32 = 0.13331441581249237;
const T2: f32 = -0.05373971536755562;
const T3: f32 = 0.0206390880048275;
const T4: f32 = -0.005704987328499556;

function k(c: f32): v128 {
  return f32x4.splat(c);
}

/** a * b + c, unfused (the Emitter's `fma` off the relaxed path). */
function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), c);
}

/** 2^n for integral n in [-126, 127]: n + 2^23 + 127 holds n + 127 in its low mantissa bits. */
function pow2(n: v128): v128 {
  return i32x4.shl(f32x4.add(n, k(8388735)), 23);
}

/** e^r - 1 = r + r^2 H(r) on the reduced range. */
function expm1Poly(r: v128): v128 {
  let h = madd(k(H4), r, k(H3));
  h = madd(h, r, k(H2));
  h = madd(h, r, k(H1));
  h = madd(h, r, k(H0));
  return madd(f32x4.mul(r, r), h, r);
}

/** n = round(x log2 e); returns r = x - n ln2 (Cody-Waite, exact first part). */
function reduce(x: v128, n: v128): v128 {
  const r1 = madd(n, k(-LN2_HI), x);
  return madd(n, k(-LN2_LO), r1);
}

export function exp(x: v128): v128 {
  // Variable first, finite constant second: pmin/pmax keep a NaN lane.
  const xc = f32x4.pmin(f32x4.pmax(x, k(-104)), k(89));
  const n = f32x4.nearest(f32x4.mul(xc, k(LOG2E)));
  const y = f32x4.add(k(1), expm1Poly(reduce(xc, n)));
  // Two exact power-of-two scalings (2^n alone overflows for n = 128, is 0 below -126).
  const a = f32x4.trunc(f32x4.mul(n, k(0.5)));
  return f32x4.mul(f32x4.mul(y, pow2(a)), pow2(f32x4.sub(n, a)));
}

export function tanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(ax, ax);
  let t = madd(k(T4), z, k(T3));
  t = madd(t, z, k(T2));
  t = madd(t, z, k(T1));
  t = madd(t, z, k(T0));
  const small = madd(f32x4.mul(ax, z), t, ax);
  // e = expm1(2 min(|x|, 9.5)) without the n = 128 case
  const a = f32x4.pmin(ax, k(9.5));
  const x2 = f32x4.add(a, a);
  const n = f32x4.nearest(f32x4.mul(x2, k(LOG2E)));
  const p = expm1Poly(reduce(x2, n));
  const s = pow2(n);
  const e = madd(s, p, f32x4.sub(s, k(1)));
  const big = f32x4.div(e, f32x4.add(e, k(2)));
  const v = v128.bitselect(small, big, f32x4.lt(ax, k(0.625)));
  return v128.bitselect(x, v, i32x4.splat(<i32>0x80000000)); // copysign(v, x)
}
