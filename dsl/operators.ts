// Operators: the builtins they stand for, and how a builtin's complaint is
// phrased when it was written as an operator (LANGUAGE.md's messages):
// `shape mismatch in '@': f32[B, 784] @ f32[256, 10]: inner dimensions ...`.

import type { Span } from './source.js';
import type { Node } from '../compiler/ir.js';
import { type Shape, formatDim, formatType } from '../compiler/types.js';

/** Operators and the table builtins they stand for. */
export const BINARY_BUILTIN: Readonly<Record<string, string>> = {
  '||': 'or',
  '&&': 'and',
  '==': 'eq',
  '!=': 'ne',
  '<': 'lt',
  '<=': 'le',
  '>': 'gt',
  '>=': 'ge',
  '+': 'add',
  '-': 'sub',
  '*': 'mul',
  '/': 'div',
  '%': 'mod',
  '@': 'matmul',
  '**': 'pow',
};

/** How an operator's complaint is phrased: `shape mismatch in '@': A @ B: ...`. */
export interface OperatorSyntax {
  readonly symbol: string;
  readonly opSpan: Span;
  readonly form: 'binary' | 'unary' | 'ternary' | 'postfix';
}

/**
 * A builtin's complaint about an operator, phrased as LANGUAGE.md does: a
 * type or shape mismatch, the operator with its operand types, the reason.
 */
export function operatorMessage(syntax: OperatorSyntax, operands: readonly Node[], complaint: string): string {
  const t = operands.map((n) => formatType(n));
  const s = syntax.symbol;
  let text: string;
  switch (syntax.form) {
    case 'binary':
      text = `${t[0]} ${s} ${t[1]}`;
      break;
    case 'unary':
      text = `${s}${t[0]}`;
      break;
    case 'ternary':
      text = `${t[0]} ? ${t[1]} : ${t[2]}`;
      break;
    case 'postfix':
      text = `${t[0]}${s}`;
      break;
  }
  const values = syntax.form === 'ternary' ? operands.slice(1) : operands;
  const dtypesDiffer = values.some((n) => n.dtype !== values[0]!.dtype);
  let kind: 'type' | 'shape';
  if (dtypesDiffer) kind = 'type';
  else if (syntax.symbol === '.T') kind = 'shape';
  else if (syntax.symbol === '@') kind = values[0]?.dtype === 'bool' ? 'type' : 'shape';
  else kind = broadcasts(operands.map((n) => n.shape)) ? 'type' : 'shape';
  // The table may already name the operands (matmul does); say it once.
  const reason = complaint.startsWith(`${text}: `) ? complaint.slice(text.length + 2) : complaint;
  return `${kind} mismatch in '${s}': ${text}: ${reason}`;
}

function broadcasts(shapes: readonly Shape[]): boolean {
  const r = Math.max(0, ...shapes.map((s) => s.length));
  for (let i = 1; i <= r; i++) {
    const ds = shapes.map((s) => s[s.length - i] ?? 1).filter((d) => d !== 1);
    const first = ds[0];
    if (first !== undefined && ds.some((d) => formatDim(d) !== formatDim(first))) return false;
  }
  return true;
}
