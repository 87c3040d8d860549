// A model's plan: everything about it that needs no lowering. Its names
// (each defined once, none clashing with a symbolic dimension), the types of
// its inputs and params, their initialisers, and the order its statements
// are evaluated in (dependency order; statements in a cycle are reported and
// bound to poison).

import type { Ident, LetStmt, ModelDecl, OutputStmt, ParamStmt, TypeExpr } from './ast.js';
import { cycleMessage, statementOrder } from './dependencies.js';
import { resolveInit } from './param-init.js';
import { type Diagnostic, type Note, type Span, closest, diag, spanText } from './source.js';
import type { InitSpec } from '../compiler/init.js';
import { type Dim, type TensorType, DTYPES, isDType, sym } from '../compiler/types.js';

export interface PlannedInput {
  readonly name: string;
  readonly type: TensorType | undefined;
  readonly span: Span;
}

export interface PlannedParam {
  readonly stmt: ParamStmt;
  readonly type: TensorType | undefined;
  readonly init: InitSpec | undefined;
}

export interface ModelPlan {
  readonly decl: ModelDecl;
  readonly inputs: readonly PlannedInput[];
  readonly params: readonly PlannedParam[];
  /** let/output statements that define a name first, in evaluation order. */
  readonly order: readonly (LetStmt | OutputStmt)[];
  /** Statements in a dependency cycle (already reported): bound to poison. */
  readonly poisoned: ReadonlySet<LetStmt | OutputStmt>;
  /** Duplicate definitions (already reported): evaluated for their own errors, not bound. */
  readonly extra: readonly (LetStmt | OutputStmt)[];
  readonly symDims: readonly string[];
  /** Names rejected for clashing with a symbolic dimension (reported): poison, so uses stay quiet. */
  readonly clashing: ReadonlySet<string>;
  /** Every name the body declares, most recent first. */
  readonly names: readonly string[];
}

type Report = (span: Span, message: string, notes?: readonly Note[]) => void;
type DefinitionKind = 'input' | 'param' | 'let' | 'output';

/** Plans model `m`, reporting every problem into `out`. */
export function planModel(m: ModelDecl, out: Diagnostic[]): ModelPlan {
  const error: Report = (span, message, notes = []) => out.push(diag(span, message, notes));
  const symDims: string[] = [];
  for (const i of m.inputs)
    for (const d of i.type.dims) if (d.kind === 'sym' && !symDims.includes(d.name)) symDims.push(d.name);
  const defined = new Map<string, { span: Span; kind: DefinitionKind }>();
  const clashing = new Set<string>();
  const define = (id: Ident, kind: DefinitionKind): boolean => {
    if (symDims.includes(id.name)) {
      error(id.span, `'${id.name}' is a symbolic dimension of the inputs; choose another name for this ${kind}`);
      clashing.add(id.name);
      return false;
    }
    const prev = defined.get(id.name);
    if (!prev) {
      defined.set(id.name, { span: id.span, kind });
      return true;
    }
    const reassigned = (kind === 'let' || kind === 'output') && (prev.kind === 'let' || prev.kind === 'output');
    error(
      id.span,
      reassigned
        ? `'${id.name}' is assigned twice; names are single-assignment`
        : `duplicate name '${id.name}': already defined as ${prev.kind === 'input' ? 'an input' : `a ${prev.kind}`}`,
      [{ message: 'first defined', span: prev.span }],
    );
    return false;
  };

  const inputs: PlannedInput[] = [];
  for (const i of m.inputs) {
    const type = resolveType(i.type, undefined, error);
    if (define(i.name, 'input')) inputs.push({ name: i.name.name, type, span: i.span });
  }
  const params: PlannedParam[] = [];
  const stmts: (LetStmt | OutputStmt)[] = [];
  const extra: (LetStmt | OutputStmt)[] = [];
  for (const s of m.body) {
    if (s.kind === 'param') {
      const type = resolveType(s.type, s.name.name, error);
      const init = resolveInit(s, type, error);
      if (define(s.name, 'param')) params.push({ stmt: s, type, init });
    } else if (define(s.name, s.kind)) stmts.push(s);
    else extra.push(s);
  }
  if (!m.body.some((s) => s.kind === 'output'))
    error(m.name.span, `model ${m.name.name} has no output; add one, as in output loss = mean(...)`);

  const { order, cycles } = statementOrder(stmts);
  const poisoned = new Set<LetStmt | OutputStmt>();
  for (const c of cycles) {
    const cs = c.map((i) => stmts[i]!);
    error(cs[0]!.name.span, cycleMessage(cs.map((s) => s.name.name)));
    for (const s of cs) poisoned.add(s);
  }
  return {
    decl: m,
    inputs,
    params,
    order: order.map((i) => stmts[i]!),
    poisoned,
    extra,
    symDims,
    clashing,
    names: [...defined.keys()].reverse(),
  };
}

/** A written type, or undefined after reporting; `param` names the param whose type it is (no symbolic dims). */
function resolveType(t: TypeExpr, param: string | undefined, error: Report): TensorType | undefined {
  const dt = t.dtype.name;
  let ok = true;
  if (!isDType(dt)) {
    ok = false;
    const hint = closest(dt, DTYPES);
    error(
      t.dtype.span,
      `unknown dtype '${dt}'; expected f32, i32 or bool${hint && hint !== dt ? ` (did you mean '${hint}'?)` : ''}`,
    );
  }
  const shape: Dim[] = [];
  for (const d of t.dims) {
    if (d.kind === 'int') {
      if (!Number.isSafeInteger(d.value)) {
        ok = false;
        error(d.span, `dimension ${spanText(d.span)} is too large`);
      }
      shape.push(d.value);
    } else if (param !== undefined) {
      ok = false;
      error(d.span, `param '${param}' has a symbolic dimension ${d.name}; params must have static shapes`);
    } else shape.push(sym(d.name));
  }
  return ok && isDType(dt) ? { dtype: dt, shape } : undefined;
}
