// The untyped syntax tree produced by the parser. Every node carries the span
// of source text it came from, so later stages can point at it.

import type { Span } from './source.js';

export interface Ident {
  readonly name: string;
  readonly span: Span;
}

export type BinaryOp = '||' | '&&' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%' | '@' | '**';

export type Expr =
  /** `isInt`: written without '.', 'e' or 'E' (so it may index or size things). */
  | { readonly kind: 'number'; readonly value: number; readonly isInt: boolean; readonly span: Span }
  | { readonly kind: 'bool'; readonly value: boolean; readonly span: Span }
  | { readonly kind: 'string'; readonly value: string; readonly span: Span }
  | { readonly kind: 'name'; readonly name: string; readonly span: Span }
  | { readonly kind: 'list'; readonly items: readonly Expr[]; readonly span: Span }
  | {
      readonly kind: 'unary';
      readonly op: '-' | '!';
      readonly operand: Expr;
      readonly span: Span;
      readonly opSpan: Span;
    }
  | {
      readonly kind: 'binary';
      readonly op: BinaryOp;
      readonly left: Expr;
      readonly right: Expr;
      readonly span: Span;
      readonly opSpan: Span;
    }
  | { readonly kind: 'ternary'; readonly cond: Expr; readonly then: Expr; readonly else: Expr; readonly span: Span }
  | {
      readonly kind: 'call';
      readonly callee: Ident;
      readonly args: readonly Expr[];
      readonly kwargs: readonly KwArg[];
      readonly span: Span;
    }
  | { readonly kind: 'index'; readonly target: Expr; readonly indices: readonly IndexItem[]; readonly span: Span }
  | { readonly kind: 'transpose'; readonly target: Expr; readonly span: Span };

export interface KwArg {
  readonly name: Ident;
  readonly value: Expr;
}

export type IndexItem =
  | { readonly kind: 'single'; readonly expr: Expr; readonly span: Span }
  | {
      readonly kind: 'slice';
      readonly start?: Expr;
      readonly end?: Expr;
      readonly step?: Expr;
      readonly span: Span;
    }
  | { readonly kind: 'ellipsis'; readonly span: Span };

export type DimExpr =
  | { readonly kind: 'int'; readonly value: number; readonly span: Span }
  | { readonly kind: 'sym'; readonly name: string; readonly span: Span };

export interface TypeExpr {
  readonly dtype: Ident;
  readonly dims: readonly DimExpr[];
  readonly span: Span;
}

/** `let name = expr` or `name = expr` inside a fn or model body. */
export interface LetStmt {
  readonly kind: 'let';
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface ParamStmt {
  readonly kind: 'param';
  readonly name: Ident;
  readonly type: TypeExpr;
  /** A bare name (`zeros`) or a call (`normal(std = 0.02)`). */
  readonly init: Expr;
  readonly span: Span;
}

export interface OutputStmt {
  readonly kind: 'output';
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export type ModelStmt = LetStmt | ParamStmt | OutputStmt;

export interface FnDecl {
  readonly kind: 'fn';
  readonly name: Ident;
  readonly params: readonly Ident[];
  /** `let` statements of a block body (empty for `fn f(x) = expr`). */
  readonly body: readonly LetStmt[];
  readonly result: Expr;
  readonly span: Span;
}

export interface InputDecl {
  readonly name: Ident;
  readonly type: TypeExpr;
  readonly span: Span;
}

export interface ModelDecl {
  readonly kind: 'model';
  readonly name: Ident;
  readonly inputs: readonly InputDecl[];
  readonly body: readonly ModelStmt[];
  readonly span: Span;
}

export type TrainStmt =
  | { readonly kind: 'minimize'; readonly target: Ident; readonly span: Span }
  | { readonly kind: 'optimizer'; readonly call: Expr; readonly span: Span }
  | { readonly kind: 'schedule'; readonly call: Expr; readonly span: Span }
  | { readonly kind: 'clip'; readonly call: Expr; readonly span: Span }
  | { readonly kind: 'freeze'; readonly names: readonly Ident[]; readonly span: Span }
  /** `gradient backprop` or `gradient forward(directions = k)`, checked by check-train.ts. */
  | { readonly kind: 'gradient'; readonly estimator: Expr; readonly span: Span };

export interface TrainDecl {
  readonly kind: 'train';
  readonly model: Ident;
  readonly body: readonly TrainStmt[];
  readonly span: Span;
}

export type Item = FnDecl | ModelDecl | TrainDecl;

export interface Program {
  readonly items: readonly Item[];
}
