// Questions the checker asks of the untyped AST before evaluating anything:
// an expression's subexpressions, the names and fn calls it mentions, and
// the number or bool it is when written as a literal.

import type { Expr, IndexItem } from './ast.js';
import type { Span } from './source.js';

function exprChildren(e: Expr): Expr[] {
  switch (e.kind) {
    case 'number':
    case 'bool':
    case 'string':
    case 'name':
      return [];
    case 'list':
      return [...e.items];
    case 'unary':
      return [e.operand];
    case 'binary':
      return [e.left, e.right];
    case 'ternary':
      return [e.cond, e.then, e.else];
    case 'call':
      return [...e.args, ...e.kwargs.map((k) => k.value)];
    case 'index':
      return [e.target, ...e.indices.flatMap(indexChildren)];
    case 'transpose':
      return [e.target];
  }
}

function indexChildren(it: IndexItem): Expr[] {
  switch (it.kind) {
    case 'single':
      return [it.expr];
    case 'slice':
      return [it.start, it.end, it.step].filter((x): x is Expr => x !== undefined);
    case 'ellipsis':
      return [];
  }
}

/** Every name an expression mentions (iteratively: expressions may be long chains). */
export function namesIn(e: Expr): string[] {
  const out: string[] = [];
  const stack = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.kind === 'name') out.push(x.name);
    else stack.push(...exprChildren(x));
  }
  return out;
}

/** Every user-fn call in an expression: callee name and call span. */
export function callsIn(e: Expr): { name: string; span: Span }[] {
  const out: { name: string; span: Span }[] = [];
  const stack = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.kind === 'call') out.push({ name: x.callee.name, span: x.span });
    stack.push(...exprChildren(x));
  }
  return out.reverse();
}

/** A literal number: `2`, `-0.5`, `1e-3` (unary minus allowed). */
export function literalNumber(e: Expr): number | undefined {
  if (e.kind === 'number') return e.value;
  if (e.kind === 'unary' && e.op === '-') {
    const v = literalNumber(e.operand);
    return v === undefined ? undefined : -v;
  }
  return undefined;
}

/** A literal number or `true`/`false`. */
export function literalStatic(e: Expr): number | boolean | undefined {
  return e.kind === 'bool' ? e.value : literalNumber(e);
}
