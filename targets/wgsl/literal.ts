// WGSL literals, and constant folding of value expressions whose leaves are
// all constants. Folding is not an optimisation only: WGSL evaluates
// constant subexpressions at shader creation and rejects any that overflow
// i32 or give NaN or infinity in f32, while Kiln's semantics define them.

import type { IExpr, VExpr } from '../../compiler/kernel/kir.js';
import { vdtype } from '../../compiler/kernel/abi.js';
import { binaryImpl, castValue, coerce, unaryImpl } from '../../compiler/semantics.js';
import type { DType } from '../../compiler/types.js';

const F32_MAX = 3.4028234663852886e38;

/** The shortest decimal that rounds to the f32 `v` (finite), with a '.' or exponent so it parses as a float. */
function shortestF32(v: number): string {
  let s = String(v);
  for (let p = 1; p <= 9; p++) {
    const t = Number(v.toPrecision(p));
    // WGSL rejects a literal beyond the largest f32 even when it would round to it.
    if (Math.fround(t) === v && Math.abs(t) <= F32_MAX) {
      s = String(t);
      break;
    }
  }
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** An f32 value as WGSL: a literal, or a `kiln_f32(bits)` call for NaN and infinities (not const-expressions). */
export function f32Literal(x: number): { code: string; special: boolean } {
  const v = Math.fround(x);
  if (Number.isNaN(v)) return { code: 'kiln_f32(0x7fc00000u)', special: true };
  if (v === Infinity) return { code: 'kiln_f32(0x7f800000u)', special: true };
  if (v === -Infinity) return { code: 'kiln_f32(0xff800000u)', special: true };
  if (Object.is(v, -0)) return { code: '-0.0', special: false };
  return { code: shortestF32(v), special: false };
}

/** An i32 value as a typed WGSL literal (the most negative through a conversion: `-2147483648i` does not parse). */
export function i32Literal(x: number): string {
  const v = x | 0;
  if (v === -2147483648) return 'i32(-2147483648)';
  return `${v}i`;
}

/** An index constant (abstract integer, so it adopts i32 from its context). */
export function indexLiteral(v: number): string {
  if (!Number.isSafeInteger(v) || v > 2147483647 || v < -2147483648)
    throw new Error(`index constant ${v} does not fit in i32`);
  return v < 0 ? `(${v})` : String(v);
}

const memo = new WeakMap<VExpr, number | null>();

/** The value of `x` when it is built from constants only (as the interpreter computes it, rounded to f32 at every f32 step); else undefined. */
export function constValue(x: VExpr): number | undefined {
  const hit = memo.get(x);
  if (hit !== undefined) return hit ?? undefined;
  const v = fold(x);
  memo.set(x, v ?? null);
  return v;
}

const round = (d: DType, v: number): number => (d === 'f32' ? Math.fround(v) : coerce(d, v));

function fold(x: VExpr): number | undefined {
  switch (x.k) {
    case 'const':
      return round(x.dtype, x.v);
    case 'unary': {
      const a = constValue(x.x);
      return a === undefined ? undefined : round(x.dtype, unaryImpl(x.fn, vdtype(x.x))(a));
    }
    case 'binary': {
      const a = constValue(x.a);
      const b = a === undefined ? undefined : constValue(x.b);
      return a === undefined || b === undefined ? undefined : round(x.dtype, binaryImpl(x.fn, vdtype(x.a))(a, b));
    }
    case 'where': {
      const c = constValue(x.c);
      if (c === undefined) return undefined;
      return constValue(c !== 0 ? x.a : x.b);
    }
    case 'cast': {
      const a = constValue(x.x);
      return a === undefined ? undefined : round(x.dtype, castValue(a, x.dtype));
    }
    case 'index':
      return constIndex(x.i);
    case 'load':
    case 'scalar':
    case 'rand':
    case 'acc':
      return undefined;
  }
}

/** The value of an index expression without variables, dims or gathers. */
export function constIndex(e: IExpr): number | undefined {
  switch (e.k) {
    case 'const':
      return e.v;
    case 'var':
    case 'dim':
    case 'value':
      return undefined;
    default: {
      const a = constIndex(e.a);
      const b = a === undefined ? undefined : constIndex(e.b);
      if (a === undefined || b === undefined) return undefined;
      if (e.k === 'add') return a + b;
      if (e.k === 'mul') return a * b;
      const q = Math.floor(a / b);
      return e.k === 'div' ? q : a - b * q;
    }
  }
}
