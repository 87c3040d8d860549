// What an expression evaluates to while it is checked, and the typing of
// literals (LANGUAGE.md: weak typing, as in JAX):
// - A number literal is a weak scalar. It adopts the dtype of the tensors it
//   meets: `x * 2` is f32 when x is, `i + 1` is i32 when i is. A fractional
//   literal meeting an i32 tensor is an error ("cannot mix i32 with float
//   literal 0.5"); a number meeting only bool tensors is an error too.
// - Arithmetic and comparisons between weak scalars are folded in float64
//   with Python's rules (`/` is true division, `%` is floored) and stay weak,
//   so `1 / 2` is 0.5. A statement bound to a weak scalar stays weak
//   (`n = 10` then `x * n` is f32), like a Python constant under jax.jit.
// - A weak scalar that meets no tensor (an output `c = 2`, `where(c, 1, 0)`)
//   becomes i32 when written as an integer and f32 otherwise, as JAX does.
// - `true`/`false` are bool scalars.

import type { Expr } from './ast.js';
import type { Focus } from './reporter.js';
import { type Span, spanText } from './source.js';
import type { IRBuilder, Node } from '../compiler/ir.js';
import type { DType } from '../compiler/types.js';

export type Value =
  | { readonly kind: 'tensor'; readonly node: Node }
  /** A number not yet given a dtype (a literal, or folded from literals). */
  | { readonly kind: 'weak'; readonly value: number; readonly isInt: boolean; readonly span: Span }
  | { readonly kind: 'bool'; readonly value: boolean; readonly span: Span }
  /** Poison: an error was reported; everything computed from it is poison, silently. */
  | { readonly kind: 'error' };

export const POISON: Value = { kind: 'error' };
export const tensorValue = (node: Node): Value => ({ kind: 'tensor', node });

/** Reports an error where the lowerer is (inside inlined fns: at the outermost call). */
export type ReportError = (span: Span, message: string, focus?: Focus) => void;

/** A value as a node of the given dtype (weak numbers adopt it); reports and returns undefined on error. */
export function materialize(b: IRBuilder, v: Value, dtype: DType | undefined, error: ReportError): Node | undefined {
  switch (v.kind) {
    case 'tensor':
      return v.node;
    case 'error':
      return undefined;
    case 'bool':
      return b.const(v.value ? 1 : 0, 'bool');
    case 'weak': {
      const target = dtype ?? (v.isInt ? 'i32' : 'f32');
      const text = spanText(v.span);
      const focus = { label: `literal ${text}`, span: v.span };
      if (target === 'bool') {
        error(v.span, `cannot mix bool with number literal ${text} (use true/false, or cast)`, focus);
        return undefined;
      }
      if (target === 'i32') {
        if (!v.isInt) {
          error(v.span, `cannot mix i32 with float literal ${text}`, focus);
          return undefined;
        }
        if (v.value < -2147483648 || v.value > 2147483647) {
          error(v.span, `integer literal ${text} is out of the i32 range`, focus);
          return undefined;
        }
      }
      return b.const(v.value, target);
    }
  }
}

/** The dtype weak numbers of one call adopt: that of its first non-bool tensor, else by the literals. */
export function weakTarget(values: readonly Value[]): DType | undefined {
  for (const v of values) if (v.kind === 'tensor' && v.node.dtype !== 'bool') return v.node.dtype;
  const weak = values.filter((v) => v.kind === 'weak');
  if (weak.length === 0) return undefined;
  return weak.every((v) => v.kind === 'weak' && v.isInt) ? 'i32' : 'f32';
}

/**
 * A binary operator on two constants, folded: weak numbers with Python's
 * scalar rules, bools by logic and equality. Undefined when not foldable
 * (a tensor operand, or `@` on numbers): the operator's builtin applies.
 */
export function foldConstants(
  e: Extract<Expr, { kind: 'binary' }>,
  a: Value,
  b: Value,
  error: ReportError,
): Value | undefined {
  if (a.kind === 'weak' && b.kind === 'weak') return foldWeak(e, a.value, b.value, a.isInt && b.isInt, error);
  if (a.kind === 'bool' && b.kind === 'bool') {
    const v =
      e.op === '&&'
        ? a.value && b.value
        : e.op === '||'
          ? a.value || b.value
          : e.op === '=='
            ? a.value === b.value
            : e.op === '!='
              ? a.value !== b.value
              : undefined;
    if (v !== undefined) return { kind: 'bool', value: v, span: e.span };
  }
  return undefined;
}

/** Arithmetic on two weak numbers, with Python's scalar rules; undefined when not foldable. */
function foldWeak(
  e: Extract<Expr, { kind: 'binary' }>,
  x: number,
  y: number,
  ints: boolean,
  error: ReportError,
): Value | undefined {
  const weak = (value: number, isInt: boolean): Value => ({ kind: 'weak', value, isInt, span: e.span });
  const bool = (value: boolean): Value => ({ kind: 'bool', value, span: e.span });
  const divisionByZero = (): Value => {
    error(e.span, 'division by zero in a constant expression');
    return POISON;
  };
  switch (e.op) {
    case '+':
      return weak(x + y, ints);
    case '-':
      return weak(x - y, ints);
    case '*':
      return weak(x * y, ints);
    case '/':
      if (ints && y === 0) return divisionByZero();
      return weak(x / y, false);
    case '%':
      if (ints && y === 0) return divisionByZero();
      return weak(x - Math.floor(x / y) * y, ints);
    case '**':
      return weak(x ** y, ints && y >= 0);
    case '<':
      return bool(x < y);
    case '<=':
      return bool(x <= y);
    case '>':
      return bool(x > y);
    case '>=':
      return bool(x >= y);
    case '==':
      return bool(x === y);
    case '!=':
      return bool(x !== y);
    case '@':
    case '&&':
    case '||':
      return undefined;
  }
}
