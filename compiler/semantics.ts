// The scalar semantics of every IR op, shared by the reference interpreter
// and the kernel-IR interpreter so the two cannot drift apart: i32 wraps,
// max/min propagate NaN, div and mod are floored, casts saturate, round is
// half-to-even, erf is accurate to ~1e-16, and `rand` is a documented
// counter-based hash that code generators reproduce bit for bit.

import type { DType } from './types.js';
import { type BinaryFn, IRError, type ReduceFn, type UnaryFn } from './ir.js';

export const I32_MIN = -2147483648;
export const I32_MAX = 2147483647;

export function coerce(dtype: DType, v: number): number {
  return dtype === 'i32' ? v | 0 : dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
}

// ---------------------------------------------------------------- elementwise

export function unaryImpl(fn: UnaryFn, dtype: DType): (x: number) => number {
  if (dtype === 'i32') {
    // Only neg and abs are defined on i32; both wrap (-(-2^31) = -2^31).
    if (fn === 'neg') return (x) => -x | 0;
    if (fn === 'abs') return (x) => Math.abs(x) | 0;
    throw new IRError(`unary ${fn} on i32`);
  }
  switch (fn) {
    case 'neg':
      return (x) => -x;
    case 'recip':
      return (x) => 1 / x;
    case 'sqrt':
      return Math.sqrt;
    case 'exp':
      return Math.exp;
    case 'log':
      return Math.log;
    case 'log1p':
      return Math.log1p;
    case 'expm1':
      return Math.expm1;
    case 'sin':
      return Math.sin;
    case 'cos':
      return Math.cos;
    case 'tanh':
      return Math.tanh;
    case 'erf':
      return erf;
    case 'abs':
      return Math.abs;
    case 'floor':
      return Math.floor;
    case 'ceil':
      return Math.ceil;
    case 'round':
      return roundHalfEven;
    case 'not':
      return (x) => (x !== 0 ? 0 : 1);
  }
}

/** Rounds to the nearest integer, ties to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for |x| < 2^52; 0 beyond (already integral)
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

const b2n = (b: boolean) => (b ? 1 : 0);

export function binaryImpl(fn: BinaryFn, dtype: DType): (a: number, b: number) => number {
  const i32 = dtype === 'i32';
  switch (fn) {
    case 'add':
      return i32 ? (a, b) => (a + b) | 0 : (a, b) => a + b;
    case 'sub':
      return i32 ? (a, b) => (a - b) | 0 : (a, b) => a - b;
    case 'mul':
      return i32 ? Math.imul : (a, b) => a * b;
    case 'div':
      // i32: floor division; x / 0 is defined as 0 (no trap). Exact: for
      // |a|, |b| < 2^31 the float64 quotient never rounds across an integer.
      return i32 ? (a, b) => (b === 0 ? 0 : Math.floor(a / b) | 0) : (a, b) => a / b;
    case 'max':
      return Math.max; // propagates NaN
    case 'min':
      return Math.min;
    case 'pow':
      return i32 ? ipow : Math.pow; // JS pow: 1 ** NaN is NaN (C's pow gives 1)
    case 'mod':
      return i32 ? (a, b) => (b === 0 ? 0 : (a - b * Math.floor(a / b)) | 0) : fmod;
    case 'lt':
      return (a, b) => b2n(a < b);
    case 'le':
      return (a, b) => b2n(a <= b);
    case 'eq':
      return (a, b) => b2n(a === b);
    case 'ne':
      return (a, b) => b2n(a !== b);
    case 'and':
      return (a, b) => b2n(a !== 0 && b !== 0);
    case 'or':
      return (a, b) => b2n(a !== 0 || b !== 0);
  }
}

/**
 * Floored modulo, result with the sign of the divisor: mathematically
 * a - b*floor(a/b). Computed as NumPy does, from the exact remainder `%`
 * (truncated) plus b when the signs differ, so it is exact except that the
 * final `+ b` may round (mod(-1e-20, 1) = 1). mod(x, 0) is NaN.
 */
export function fmod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

/** i32 a**b with wrapping; negative exponents give 0 except for bases 1 and -1. */
export function ipow(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 === 0 ? 1 : -1) : 0;
  let result = 1;
  let base = a | 0;
  for (let e = b; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result = Math.imul(result, base);
    base = Math.imul(base, base);
  }
  return result;
}

export function castValue(v: number, to: DType): number {
  switch (to) {
    case 'f32':
      return v; // from i32/bool: exact in float64
    case 'i32':
      // Truncate toward zero, saturating; NaN -> 0. (From bool/i32: unchanged.)
      if (Number.isNaN(v)) return 0;
      return v >= I32_MAX ? I32_MAX : v <= I32_MIN ? I32_MIN : Math.trunc(v) | 0;
    case 'bool':
      return v !== 0 ? 1 : 0; // NaN -> true
  }
}

export function reduceImpl(fn: ReduceFn, i32: boolean): [number, (acc: number, v: number) => number] {
  switch (fn) {
    case 'sum':
      return [0, i32 ? (a, v) => (a + v) | 0 : (a, v) => a + v];
    case 'prod':
      return [1, i32 ? Math.imul : (a, v) => a * v];
    // Empty max/min: -inf/+inf on f32, the extreme i32 values on i32.
    case 'max':
      return [i32 ? I32_MIN : -Infinity, Math.max];
    case 'min':
      return [i32 ? I32_MAX : Infinity, Math.min];
  }
}

// ---------------------------------------------------------------- erf

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/**
 * The error function to about 1e-16 absolute error.
 * |x| < 2.5: erf(x) = 2/sqrt(pi) e^{-x^2} sum_{n>=0} 2^n x^{2n+1} / (1*3*...*(2n+1))
 *   (all terms positive, so no cancellation; <= ~40 terms).
 * 2.5 <= |x| < 6: erf = 1 - erfc, erfc(x) = e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
 *   (continued fraction evaluated backward from a fixed depth).
 * |x| >= 6: erfc(x) < 2.2e-17, below half an ulp of 1, so erf = +-1.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    const x2 = 2 * ax * ax;
    let term = ax;
    let sum = ax;
    for (let k = 1; term > sum * 1e-17; k++) {
      term *= x2 / (2 * k + 1);
      sum += term;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-ax * ax) * sum;
  } else if (ax < 6) {
    let f = ax;
    for (let k = 80; k >= 1; k--) f = ax + k / 2 / f;
    r = 1 - (ONE_OVER_SQRT_PI * Math.exp(-ax * ax)) / f;
  } else {
    r = 1;
  }
  return x < 0 ? -r : r;
}

// ---------------------------------------------------------------- rand

/** murmur3's 32-bit finaliser: a bijection on u32 with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * `rand`: uniform in [0, 1) as a pure function of (key, salt, flat index).
 * Backends must reproduce exactly this, using only 32-bit integer ops
 * (all arithmetic mod 2^32, `^` xor, `>>>` logical shift, `*` wrapping
 * multiply = Math.imul):
 *
 *   k = fmix32(u32(key) ^ (u32(salt) * 0x9E3779B9))
 *   h = fmix32(u32(index) ^ k)
 *   h = fmix32(h + (k ^ 0x6A09E667))
 *   value = (h >>> 8) / 2^24               (exact in f32; in [0, 1 - 2^-24])
 *
 * where fmix32(h) = { h ^= h >>> 16; h *= 0x85EBCA6B; h ^= h >>> 13;
 * h *= 0xC2B2AE35; h ^= h >>> 16 } (murmur3's finaliser), `index` is the
 * row-major flat index of the element, `key` the i32 key tensor's value and
 * `salt` the node's salt attribute (an integer).
 */
export function randUniform(key: number, salt: number, index: number): number {
  const k = fmix32((key >>> 0) ^ Math.imul(salt >>> 0, 0x9e3779b9));
  let h = fmix32((index >>> 0) ^ k);
  h = fmix32((h + (k ^ 0x6a09e667)) >>> 0);
  return (h >>> 8) / 16777216;
}
