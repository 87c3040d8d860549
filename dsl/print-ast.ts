// The typed AST as stable, readable text (`kiln dump --stage ast`): every
// model with its inputs, params (type and initialiser), statements with their
// inferred types and outputs; every train block as the checker understood
// it; fns as declared (they are inlined at each call, so they have no types
// of their own).

import type { Expr, FnDecl, IndexItem, KwArg, ModelDecl, ModelStmt, Program, TrainDecl } from './ast.js';
import type { CheckResult, CheckedModel, CheckedTrain, HyperCall, OptimizerSpec } from './check.js';
import type { InitSpec } from '../compiler/init.js';
import { formatType } from '../compiler/types.js';

// Binding strength, loosest first (LANGUAGE.md, Expressions).
const TERNARY = 1;
const UNARY = 8;
const POW = 9;
const POSTFIX = 10;
const ATOM = 11;

const BINARY_PREC: Readonly<Record<string, number>> = {
  '||': 2,
  '&&': 3,
  '==': 4,
  '!=': 4,
  '<': 4,
  '<=': 4,
  '>': 4,
  '>=': 4,
  '+': 5,
  '-': 5,
  '*': 6,
  '/': 6,
  '%': 6,
  '@': 7,
  '**': POW,
};

function precOf(e: Expr): number {
  switch (e.kind) {
    case 'ternary':
      return TERNARY;
    case 'binary':
      return BINARY_PREC[e.op]!;
    case 'unary':
      return UNARY;
    case 'index':
    case 'transpose':
    case 'call':
      return POSTFIX;
    default:
      return ATOM;
  }
}

/** Source-like text of an expression, with only the parentheses precedence needs. */
export function printExpr(e: Expr, min = 0): string {
  const text = printBare(e);
  return precOf(e) < min ? `(${text})` : text;
}

function printBare(e: Expr): string {
  switch (e.kind) {
    case 'number':
    case 'string':
      // The source text keeps the user's spelling (1e-3, escapes).
      return e.span.file.text.slice(e.span.start, e.span.end);
    case 'bool':
      return String(e.value);
    case 'name':
      return e.name;
    case 'list':
      return `[${e.items.map((x) => printExpr(x)).join(', ')}]`;
    case 'unary':
      return `${e.op}${printExpr(e.operand, UNARY)}`;
    case 'binary': {
      // '**' is right-associative and takes a postfix operand on its left.
      if (e.op === '**') return `${printExpr(e.left, POSTFIX)} ** ${printExpr(e.right, UNARY)}`;
      // The rest are left-associative; long chains nest to the left, so walk that spine in a loop.
      const spine: Extract<Expr, { kind: 'binary' }>[] = [e];
      for (let cur = e.left; cur.kind === 'binary' && cur.op !== '**'; cur = cur.left) {
        if (BINARY_PREC[cur.op]! < BINARY_PREC[spine[spine.length - 1]!.op]!) break;
        spine.push(cur);
      }
      const bottom = spine[spine.length - 1]!;
      let text = printExpr(bottom.left, BINARY_PREC[bottom.op]!);
      for (let k = spine.length - 1; k >= 0; k--) {
        const node = spine[k]!;
        text = `${text} ${node.op} ${printExpr(node.right, BINARY_PREC[node.op]! + 1)}`;
      }
      return text;
    }
    case 'ternary':
      return `${printExpr(e.cond, 2)} ? ${printExpr(e.then, TERNARY)} : ${printExpr(e.else, TERNARY)}`;
    case 'call':
      return `${e.callee.name}(${[...e.args.map((a) => printExpr(a)), ...e.kwargs.map(printKw)].join(', ')})`;
    case 'index':
      return `${printExpr(e.target, POSTFIX)}[${e.indices.map(printIndex).join(', ')}]`;
    case 'transpose':
      return `${printExpr(e.target, POSTFIX)}.T`;
  }
}

function printKw(k: KwArg): string {
  return `${k.name.name} = ${printExpr(k.value)}`;
}

function printIndex(it: IndexItem): string {
  switch (it.kind) {
    case 'ellipsis':
      return '...';
    case 'single':
      return printExpr(it.expr);
    case 'slice': {
      const s = `${it.start ? printExpr(it.start) : ''}:${it.end ? printExpr(it.end) : ''}`;
      return it.step ? `${s}:${printExpr(it.step)}` : s;
    }
  }
}

export function printInit(s: InitSpec): string {
  switch (s.kind) {
    case 'constant':
      return `constant(${s.value})`;
    case 'normal':
      return `normal(std = ${s.std})`;
    case 'uniform':
      return `uniform(${s.lo}, ${s.hi})`;
    case 'zeros':
    case 'ones':
    case 'glorot_uniform':
    case 'glorot_normal':
    case 'he_uniform':
    case 'he_normal':
      return s.kind;
  }
}

function printFn(f: FnDecl): string[] {
  const head = `fn ${f.name.name}(${f.params.map((p) => p.name).join(', ')})`;
  if (f.body.length === 0) return [`${head} = ${printExpr(f.result)}`];
  return [
    `${head} {`,
    ...f.body.map((l) => `  let ${l.name.name} = ${printExpr(l.value)}`),
    `  return ${printExpr(f.result)}`,
    '}',
  ];
}

function printModel(m: ModelDecl, checked: CheckedModel | undefined): string[] {
  const typeOf = (s: ModelStmt) => {
    const t = checked?.statementTypes.get(s);
    return t ? formatType(t) : '?';
  };
  const lines = [`model ${m.name.name} {`];
  if (!checked) lines.push('  // not checked: the model has errors');
  for (const i of m.inputs) {
    const t = checked?.inputs.find((c) => c.name === i.name.name)?.type;
    lines.push(`  input  ${i.name.name}: ${t ? formatType(t) : typeText(i.type)}`);
  }
  for (const s of m.body) {
    if (s.kind !== 'param') continue;
    const p = checked?.params.find((q) => q.name === s.name.name);
    lines.push(
      `  param  ${s.name.name}: ${p ? formatType(p.type) : typeText(s.type)} = ${p ? printInit(p.init) : printExpr(s.init)}`,
    );
  }
  for (const s of m.body)
    if (s.kind === 'let') lines.push(`  let    ${s.name.name}: ${typeOf(s)} = ${printExpr(s.value)}`);
  for (const s of m.body)
    if (s.kind === 'output') lines.push(`  output ${s.name.name}: ${typeOf(s)} = ${printExpr(s.value)}`);
  lines.push('}');
  return lines;
}

function typeText(t: ModelDecl['inputs'][number]['type']): string {
  return `${t.dtype.name}[${t.dims.map((d) => (d.kind === 'int' ? String(d.value) : d.name)).join(', ')}]`;
}

function printCall(c: HyperCall, inner?: OptimizerSpec): string {
  const args = [
    ...(inner ? [printCall(inner, inner.inner)] : []),
    ...Object.entries(c.args).map(([k, v]) => `${k} = ${v}`),
  ];
  return `${c.name}(${args.join(', ')})`;
}

function printTrain(t: TrainDecl, checked: CheckedTrain | undefined): string[] {
  if (!checked) return [`train ${t.model.name} {`, '  // not checked: the train block has errors', '}'];
  const lines = [`train ${checked.model} {`, `  minimize  ${checked.minimize}`];
  lines.push(`  optimizer ${printCall(checked.optimizer, checked.optimizer.inner)}`);
  if (checked.schedule) lines.push(`  schedule  ${printCall(checked.schedule)}`);
  if (checked.clip) lines.push(`  clip      ${checked.clip.kind}(${checked.clip.max})`);
  if (checked.freeze.length > 0) lines.push(`  freeze    ${checked.freeze.join(', ')}`);
  const g = checked.gradient;
  if (g) lines.push(`  gradient  ${g.kind === 'forward' ? `forward(directions = ${g.directions})` : g.kind}`);
  lines.push('}');
  return lines;
}

/** The dump: items in source order, separated by blank lines. */
export function printTypedAst(program: Program, result: CheckResult): string {
  const blocks: string[] = [];
  for (const item of program.items) {
    switch (item.kind) {
      case 'fn':
        blocks.push(['// inlined at every call', ...printFn(item)].join('\n'));
        break;
      case 'model':
        blocks.push(
          printModel(
            item,
            result.models.find((m) => m.decl === item),
          ).join('\n'),
        );
        break;
      case 'train':
        blocks.push(
          printTrain(
            item,
            result.trains.find((t) => t.span === item.span),
          ).join('\n'),
        );
        break;
    }
  }
  return blocks.join('\n\n') + '\n';
}
