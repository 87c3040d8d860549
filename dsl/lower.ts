// The lowerer: evaluates a model's body into an IRBuilder, checking as it
// goes. Checking *is* lowering: every expression is lowered as it is checked,
// so the type of an expression is exactly the type of the IR node it
// produces, and the table of builtins (compiler/decompose.ts) is the single
// place that says what a call means (and what is wrong with one). fn calls
// are inlined at every call; `grad` and `shape(x)[i]` are handled here.
//
// Errors do not stop the lowerer: a failing expression evaluates to poison
// (values.ts), which makes everything computed from it silently poison too,
// so the independent errors of a model are all reported, each once.

import type { Expr, KwArg, LetStmt, ModelStmt, OutputStmt } from './ast.js';
import { literalNumber } from './ast-queries.js';
import { type FnInfo, SPECIAL_FORMS } from './fns.js';
import type { ModelPlan } from './model-plan.js';
import { BINARY_BUILTIN, type OperatorSyntax, operatorMessage } from './operators.js';
import { type Focus, type Frame, Reporter, errorText } from './reporter.js';
import { type Span, closest, diag, joinSpans, spanText } from './source.js';
import { type ReportError, type Value, POISON, foldConstants, materialize, tensorValue, weakTarget } from './values.js';
import { gradients } from '../compiler/autodiff.js';
import { jvps } from '../compiler/forward.js';
import type { BuiltinDef, LowerContext, ParamSpec, StaticValue } from '../compiler/builtin.js';
import { BUILTINS, type IndexSpec, lowerIndex, validateIndex } from '../compiler/decompose.js';
import { type Graph, type Node, type NodeOf, IRBuilder } from '../compiler/ir.js';
import {
  type DType,
  type Dim,
  type TensorType,
  dimMul,
  formatDim,
  formatType,
  isDType,
  shapeEq,
  sym,
} from '../compiler/types.js';

/** Inlined fn calls per model before we give up (a chain of fns each calling the next twice is exponential). */
const MAX_INLINED_CALLS = 20000;
/** Nesting of inlined fn calls. */
const MAX_INLINE_DEPTH = 200;

interface Scope {
  /** A bound value, or undefined when the name is not bound here. */
  get(name: string): Value | undefined;
  /** The names visible here, most recently declared first (for "did you mean"). */
  readonly names: readonly string[];
}

class MapScope implements Scope {
  readonly values = new Map<string, Value>();
  constructor(readonly names: readonly string[]) {}
  get(name: string): Value | undefined {
    return this.values.get(name);
  }
}

interface GivenExpr {
  readonly expr: Expr;
}
interface GivenValue {
  readonly value: Value;
  readonly span: Span;
}
type Given = GivenExpr | GivenValue;

const POISON_NUM = Symbol('poison');

export class Lowerer {
  readonly b = new IRBuilder();
  private readonly frames: Frame[] = [];
  readonly reporter = new Reporter(this.frames);
  private salt = 0;
  seed: Node | undefined;
  private inlined = 0;
  private gaveUp = false;
  private readonly ctx: LowerContext;
  /** `error` for the weak-value rules (values.ts). */
  private readonly report: ReportError = (span, message, focus) => this.error(span, message, focus);

  constructor(
    private readonly fns: ReadonlyMap<string, FnInfo>,
    private readonly plan: ModelPlan,
    readonly training: boolean,
  ) {
    this.ctx = {
      b: this.b,
      training,
      rngKey: (): Node => {
        this.seed ??= this.b.input('@seed', { dtype: 'i32', shape: [] });
        return this.seed;
      },
      nextSalt: (): number => this.salt++,
    };
  }

  private error(span: Span, message: string, focus?: Focus, independent = false): Value {
    this.reporter.error(span, message, focus, independent);
    return POISON;
  }

  /** A value as a node of the given dtype (weak numbers adopt it); reports and returns undefined on error. */
  private materialize(v: Value, dtype: DType | undefined): Node | undefined {
    return materialize(this.b, v, dtype, this.report);
  }

  // ---- expressions ----

  evalExpr(e: Expr, scope: Scope): Value {
    switch (e.kind) {
      case 'number':
        return { kind: 'weak', value: e.value, isInt: e.isInt, span: e.span };
      case 'bool':
        return { kind: 'bool', value: e.value, span: e.span };
      case 'string':
        return this.error(e.span, 'a string can only be an argument (the equation of einsum)');
      case 'list':
        return this.error(
          e.span,
          'a list can only be an argument: a shape, axes, or the tensors of concat/stack (e.g. concat([a, b], 0))',
        );
      case 'name':
        return this.lookup(e.name, e.span, scope);
      case 'unary':
        return this.evalUnary(e, scope);
      case 'binary':
        return this.evalBinary(e, scope);
      case 'ternary':
        return this.evalTernary(e, scope);
      case 'call':
        return this.evalCall(e, scope);
      case 'index':
        return this.evalIndex(e, scope);
      case 'transpose': {
        const x = this.evalExpr(e.target, scope);
        const dotT: Span = { file: e.span.file, start: Math.max(e.span.start, e.span.end - 2), end: e.span.end };
        return this.apply('transpose_last2', new Map([['x', { value: x, span: e.target.span }]]), scope, e.span, {
          symbol: '.T',
          opSpan: dotT,
          form: 'postfix',
        });
      }
    }
  }

  private lookup(name: string, span: Span, scope: Scope): Value {
    const v = scope.get(name);
    if (v !== undefined) return v;
    const focus = { label: `name '${name}'`, span };
    if (isDType(name))
      return this.error(
        span,
        `dtype ${name} can only be used where a dtype is expected, as in cast(x, ${name})`,
        focus,
        true,
      );
    if (this.plan.symDims.includes(name))
      return this.error(
        span,
        `symbolic dimension ${name} is only known at run time; use it in shapes, as in reshape(x, [${name}, -1])`,
        focus,
        true,
      );
    if (this.fns.has(name) || BUILTINS.has(name) || SPECIAL_FORMS.includes(name))
      return this.error(span, `'${name}' is a function; call it, as in ${name}(...)`, focus, true);
    const hint = closest(name, [...scope.names, ...this.fns.keys(), ...BUILTINS.keys()]);
    return this.error(span, `unknown name '${name}'${hint ? `; did you mean '${hint}'?` : ''}`, focus, true);
  }

  private evalUnary(e: Extract<Expr, { kind: 'unary' }>, scope: Scope): Value {
    const x = this.evalExpr(e.operand, scope);
    if (e.op === '-' && x.kind === 'weak') return { kind: 'weak', value: -x.value, isInt: x.isInt, span: e.span };
    if (e.op === '!' && x.kind === 'bool') return { kind: 'bool', value: !x.value, span: e.span };
    return this.apply(
      e.op === '-' ? 'neg' : 'not',
      new Map([['x', { value: x, span: e.operand.span }]]),
      scope,
      e.span,
      {
        symbol: e.op,
        opSpan: e.opSpan,
        form: 'unary',
      },
    );
  }

  /**
   * Binary operators. Long chains (`a + b + c + ...`) nest to the left, so
   * the left spine is walked in a loop rather than by recursion.
   */
  private evalBinary(e: Extract<Expr, { kind: 'binary' }>, scope: Scope): Value {
    const spine: Extract<Expr, { kind: 'binary' }>[] = [];
    let cur: Expr = e;
    while (cur.kind === 'binary') {
      spine.push(cur);
      cur = cur.left;
    }
    let acc = this.evalExpr(cur, scope);
    for (let k = spine.length - 1; k >= 0; k--) {
      const node = spine[k]!;
      acc = this.combine(node, acc, this.evalExpr(node.right, scope), scope);
    }
    return acc;
  }

  private combine(e: Extract<Expr, { kind: 'binary' }>, a: Value, b: Value, scope: Scope): Value {
    const folded = foldConstants(e, a, b, this.report);
    if (folded !== undefined) return folded;
    const name = BINARY_BUILTIN[e.op]!;
    return this.apply(
      name,
      new Map<string, Given>([
        ['a', { value: a, span: e.left.span }],
        ['b', { value: b, span: e.right.span }],
      ]),
      scope,
      e.span,
      { symbol: e.op, opSpan: e.opSpan, form: 'binary' },
    );
  }

  private evalTernary(e: Extract<Expr, { kind: 'ternary' }>, scope: Scope): Value {
    const c = this.evalExpr(e.cond, scope);
    const a = this.evalExpr(e.then, scope);
    const b = this.evalExpr(e.else, scope);
    const syntax: OperatorSyntax = { symbol: '?:', opSpan: e.span, form: 'ternary' };
    if ((c.kind === 'tensor' && c.node.dtype !== 'bool') || c.kind === 'weak') {
      const t = c.kind === 'tensor' ? formatType(c.node) : `the number ${spanText(c.span)}`;
      return this.error(e.cond.span, `the condition of '?:' must be bool, got ${t} (compare it, as in x > 0)`, {
        label: 'condition',
        span: e.cond.span,
      });
    }
    return this.apply(
      'ternary',
      new Map<string, Given>([
        ['c', { value: c, span: e.cond.span }],
        ['a', { value: a, span: e.then.span }],
        ['b', { value: b, span: e.else.span }],
      ]),
      scope,
      e.span,
      syntax,
    );
  }

  // ---- calls ----

  private evalCall(e: Extract<Expr, { kind: 'call' }>, scope: Scope): Value {
    const name = e.callee.name;
    if (name === 'grad') return this.evalGrad(e, scope);
    if (name === 'jvp') return this.evalJvp(e, scope);
    if (name === 'shape') {
      for (const a of e.args) this.evalExpr(a, scope);
      return this.error(e.span, 'shape(x) must be indexed: shape(x)[i] is the size of axis i', {
        label: 'call to shape',
        span: e.span,
      });
    }
    const fn = this.fns.get(name);
    if (fn) return this.inline(fn, e, scope);
    const def = BUILTINS.get(name);
    if (def) {
      const given = this.matchArgs(def, e, scope);
      return given ? this.apply(name, given, scope, e.span) : POISON;
    }
    const focus = { label: `call to ${name}`, span: e.callee.span };
    if (scope.get(name) !== undefined)
      return this.error(e.callee.span, `'${name}' is a value, not a function`, focus, true);
    const hint = closest(name, [...this.fns.keys(), ...BUILTINS.keys(), ...SPECIAL_FORMS]);
    return this.error(
      e.callee.span,
      `unknown function '${name}'${hint ? `; did you mean '${hint}'?` : ''}`,
      focus,
      true,
    );
  }

  /**
   * Matches positional then keyword arguments to a builtin's parameters.
   * Reports every mismatch; on failure still evaluates the tensor arguments
   * it could place, so errors inside them are reported too.
   */
  private matchArgs(def: BuiltinDef, e: Extract<Expr, { kind: 'call' }>, scope: Scope): Map<string, Given> | undefined {
    const given = new Map<string, Given>();
    let ok = true;
    const positional = def.params.filter((p) => !p.keywordOnly);
    e.args.forEach((a, i) => {
      const p = positional[i];
      if (p) given.set(p.name, { expr: a });
      else if (i === positional.length) {
        ok = false;
        this.error(
          a.span,
          `${def.name} takes ${positional.length === 1 ? '1 positional argument' : `${positional.length} positional arguments`}, got ${e.args.length}`,
          { label: `call to ${def.name}`, span: e.span },
        );
      }
    });
    for (const kw of e.kwargs) {
      const p = def.params.find((q) => q.name === kw.name.name);
      if (!p) {
        ok = false;
        const hint = closest(
          kw.name.name,
          def.params.map((q) => q.name),
        );
        this.error(
          kw.name.span,
          `unknown argument '${kw.name.name}' for ${def.name}${hint ? `; did you mean '${hint}'?` : ''}`,
          { label: `argument '${kw.name.name}'`, span: kw.name.span },
        );
      } else if (given.has(p.name)) {
        ok = false;
        this.error(kw.name.span, `argument '${p.name}' of ${def.name} is given twice`, {
          label: `argument '${p.name}'`,
          span: kw.name.span,
        });
      } else given.set(p.name, { expr: kw.value });
    }
    for (const p of def.params) {
      if (p.default === undefined && !given.has(p.name)) {
        ok = false;
        this.error(e.span, `missing argument '${p.name}' for ${def.name}`, {
          label: `call to ${def.name}`,
          span: e.span,
        });
      }
    }
    if (ok) return given;
    for (const p of def.params) {
      const g = given.get(p.name);
      if (g && 'expr' in g && p.kind === 'tensor') this.evalExpr(g.expr, scope);
    }
    return undefined;
  }

  /**
   * Converts matched arguments by kind, gives weak numbers their dtype,
   * validates with the table's message and lowers. `syntax` is set when the
   * call is an operator, to phrase the complaint as LANGUAGE.md does.
   */
  apply(name: string, given: ReadonlyMap<string, Given>, scope: Scope, span: Span, syntax?: OperatorSyntax): Value {
    const def = BUILTINS.get(name);
    if (!def) return this.error(span, `internal error: no builtin '${name}'`);
    const tensorValues = new Map<string, { value: Value; span: Span }>();
    const listValues = new Map<string, { value: Value; span: Span }[]>();
    const statics = new Map<string, StaticValue>();
    let ok = true;
    for (const p of def.params) {
      const g = given.get(p.name);
      if (g === undefined) {
        if (p.default === undefined || p.default === null) continue;
        if (p.kind === 'tensor' && typeof p.default === 'number')
          tensorValues.set(p.name, {
            value: { kind: 'weak', value: p.default, isInt: Number.isInteger(p.default), span },
            span,
          });
        else statics.set(p.name, p.default);
        continue;
      }
      if ('value' in g) {
        tensorValues.set(p.name, g);
        continue;
      }
      const r = this.convertArg(def, p, g.expr, scope);
      if (r === undefined) ok = false;
      else if (r.kind === 'tensor') tensorValues.set(p.name, { value: r.value, span: g.expr.span });
      else if (r.kind === 'list') listValues.set(p.name, r.values);
      else statics.set(p.name, r.value);
    }
    const all = [...tensorValues.values(), ...[...listValues.values()].flat()];
    if (!ok || all.some((v) => v.value.kind === 'error')) return POISON;

    const target = weakTarget(all.map((v) => v.value));
    const tensors = new Map<string, Node>();
    const lists = new Map<string, Node[]>();
    for (const [k, v] of tensorValues) {
      const n = this.materialize(v.value, target);
      if (n === undefined) ok = false;
      else tensors.set(k, n);
    }
    for (const [k, vs] of listValues) {
      const ns: Node[] = [];
      for (const v of vs) {
        const n = this.materialize(v.value, target);
        if (n === undefined) ok = false;
        else ns.push(n);
      }
      lists.set(k, ns);
    }
    if (!ok) return POISON;

    const args = { tensors, lists, statics };
    let complaint: string | undefined;
    try {
      complaint = def.validate(args);
    } catch (err) {
      return this.internal(span, name, err);
    }
    if (complaint !== undefined) {
      if (syntax) {
        const operands = [...tensors.values()];
        return this.error(span, operatorMessage(syntax, operands, complaint), {
          label: `'${syntax.symbol}'`,
          span: syntax.opSpan,
        });
      }
      return this.error(span, `${name}: ${complaint}`, { label: `call to ${name}`, span });
    }
    try {
      return tensorValue(def.lower(this.ctx, args));
    } catch (err) {
      return this.internal(span, name, err);
    }
  }

  private internal(span: Span, what: string, err: unknown): Value {
    return this.error(span, `internal error while lowering ${what}: ${errorText(err)}`, {
      label: `call to ${what}`,
      span,
    });
  }

  private convertArg(
    def: BuiltinDef,
    p: ParamSpec,
    e: Expr,
    scope: Scope,
  ):
    | { kind: 'tensor'; value: Value }
    | { kind: 'list'; values: { value: Value; span: Span }[] }
    | { kind: 'static'; value: StaticValue }
    | undefined {
    const focus = { label: `argument '${p.name}' of ${def.name}`, span: e.span };
    const fail = (msg: string): undefined => {
      this.error(e.span, msg, focus);
      return undefined;
    };
    switch (p.kind) {
      case 'tensor':
        if (e.kind === 'list') return fail(`${p.name} of ${def.name} must be a tensor, not a list`);
        if (e.kind === 'string') return fail(`${p.name} of ${def.name} must be a tensor, not a string`);
        return { kind: 'tensor', value: this.evalExpr(e, scope) };
      case 'tensors':
        if (e.kind !== 'list') {
          this.evalExpr(e, scope);
          return fail(`${p.name} of ${def.name} must be a list of tensors, as in [a, b]`);
        }
        return { kind: 'list', values: e.items.map((x) => ({ value: this.evalExpr(x, scope), span: x.span })) };
      case 'int': {
        const v = this.staticNumber(e, scope);
        if (v === POISON_NUM) return undefined;
        if (v === undefined || !Number.isInteger(v))
          return fail(`${p.name} must be a constant integer${v === undefined ? '' : `, got ${v}`}`);
        return { kind: 'static', value: v };
      }
      case 'ints': {
        const items = e.kind === 'list' ? e.items : [e];
        const out: number[] = [];
        for (const x of items) {
          const v = this.staticNumber(x, scope);
          if (v === POISON_NUM) return undefined;
          if (v === undefined || !Number.isInteger(v))
            return fail(
              e.kind === 'list'
                ? `the items of ${p.name} must be constant integers`
                : `${p.name} must be a constant integer`,
            );
          out.push(v);
        }
        return { kind: 'static', value: out };
      }
      case 'pairs': {
        const bad = () => fail(`${p.name} must be a list of [lo, hi] pairs of constant integers`);
        if (e.kind !== 'list') return bad();
        const out: (readonly [number, number])[] = [];
        for (const x of e.items) {
          if (x.kind !== 'list' || x.items.length !== 2) return bad();
          const lo = this.staticNumber(x.items[0]!, scope);
          const hi = this.staticNumber(x.items[1]!, scope);
          if (lo === POISON_NUM || hi === POISON_NUM) return undefined;
          if (lo === undefined || hi === undefined || !Number.isInteger(lo) || !Number.isInteger(hi)) return bad();
          out.push([lo, hi]);
        }
        return { kind: 'static', value: out };
      }
      case 'shape': {
        const s = this.shapeArg(e, scope, p.name);
        return s === undefined ? undefined : { kind: 'static', value: s };
      }
      case 'number': {
        const v = this.staticNumber(e, scope);
        if (v === POISON_NUM) return undefined;
        if (v === undefined) return fail(`${p.name} must be a constant number`);
        return { kind: 'static', value: v };
      }
      case 'bool': {
        if (e.kind === 'bool') return { kind: 'static', value: e.value };
        const v = this.evalExpr(e, scope);
        if (v.kind === 'error') return undefined;
        if (v.kind !== 'bool') return fail(`${p.name} must be true or false`);
        return { kind: 'static', value: v.value };
      }
      case 'dtype': {
        if (e.kind !== 'name') return fail(`${p.name} must be a dtype: f32, i32 or bool`);
        if (!isDType(e.name)) return fail(`unknown dtype '${e.name}'; expected f32, i32 or bool`);
        return { kind: 'static', value: e.name };
      }
      case 'string':
        if (e.kind !== 'string') return fail(`${p.name} of ${def.name} must be a string literal`);
        return { kind: 'static', value: e.value };
    }
  }

  /** A static number from a constant expression; POISON_NUM when an error was reported inside it. */
  private staticNumber(e: Expr, scope: Scope): number | undefined | typeof POISON_NUM {
    const lit = literalNumber(e);
    if (lit !== undefined) return lit;
    if (e.kind === 'list' || e.kind === 'string') return undefined;
    const v = this.evalExpr(e, scope);
    if (v.kind === 'error') return POISON_NUM;
    return v.kind === 'weak' ? v.value : undefined;
  }

  /** A 'shape' argument: a list of dims, or shape(x). */
  private shapeArg(e: Expr, scope: Scope, what: string): Dim[] | undefined {
    if (e.kind === 'call' && e.callee.name === 'shape' && !this.fns.has('shape')) {
      const x = this.shapeOperand(e, scope);
      return x === undefined ? undefined : [...x.shape];
    }
    if (e.kind !== 'list') {
      this.error(e.span, `${what} must be a list of dimensions, as in [B, -1]`);
      return undefined;
    }
    const out: Dim[] = [];
    let ok = true;
    for (const item of e.items) {
      const d = this.dimOf(item, scope);
      if (d === undefined) ok = false;
      else out.push(d);
    }
    return ok ? out : undefined;
  }

  /** One dimension of a shape list: an integer, -1, a symbolic dim, shape(x)[i], or a product of those. */
  private dimOf(e: Expr, scope: Scope): Dim | undefined {
    const lit = literalNumber(e);
    if (lit !== undefined) {
      if (!Number.isInteger(lit)) {
        this.error(e.span, `a dimension must be an integer, got ${spanText(e.span)}`);
        return undefined;
      }
      return lit;
    }
    if (e.kind === 'name' && scope.get(e.name) === undefined && this.plan.symDims.includes(e.name)) return sym(e.name);
    if (e.kind === 'binary' && e.op === '*') {
      const a = this.dimOf(e.left, scope);
      const b = this.dimOf(e.right, scope);
      return a === undefined || b === undefined ? undefined : dimMul(a, b);
    }
    if (e.kind === 'index' && e.target.kind === 'call' && e.target.callee.name === 'shape') {
      return this.shapeIndex(e, e.target, scope);
    }
    const v = this.evalExpr(e, scope);
    if (v.kind === 'error') return undefined;
    if (v.kind === 'weak' && v.isInt) return v.value;
    this.error(e.span, 'a dimension must be a constant integer, a symbolic dimension like B, or shape(x)[i]');
    return undefined;
  }

  private shapeOperand(call: Extract<Expr, { kind: 'call' }>, scope: Scope): TensorType | undefined {
    const first = call.args[0];
    if (call.args.length !== 1 || call.kwargs.length > 0 || first === undefined) {
      this.error(call.span, 'shape takes one argument: shape(x)');
      return undefined;
    }
    const v = this.evalExpr(first, scope);
    if (v.kind === 'error') return undefined;
    if (v.kind === 'tensor') return v.node;
    return { dtype: v.kind === 'bool' ? 'bool' : v.isInt ? 'i32' : 'f32', shape: [] };
  }

  /** `shape(x)[i]` as a dimension (symbolic allowed). */
  private shapeIndex(
    e: Extract<Expr, { kind: 'index' }>,
    call: Extract<Expr, { kind: 'call' }>,
    scope: Scope,
  ): Dim | undefined {
    const x = this.shapeOperand(call, scope);
    if (x === undefined) return undefined;
    const item = e.indices[0];
    if (e.indices.length !== 1 || item?.kind !== 'single') {
      this.error(e.span, 'shape(x) takes one constant index: shape(x)[i]');
      return undefined;
    }
    const i = this.staticNumber(item.expr, scope);
    if (i === POISON_NUM) return undefined;
    if (i === undefined || !Number.isInteger(i)) {
      this.error(item.span, 'the index of shape(x)[i] must be a constant integer');
      return undefined;
    }
    const r = x.shape.length;
    const ax = i < 0 ? i + r : i;
    const d = x.shape[ax];
    if (ax < 0 || d === undefined) {
      this.error(item.span, `axis ${i} is out of range for ${formatType(x)}`);
      return undefined;
    }
    return d;
  }

  // ---- special forms ----

  /**
   * The second argument of grad and jvp: the name of an f32 param or input
   * (its node), or undefined after reporting why not.
   */
  private differentiable(form: 'grad' | 'jvp', wExpr: Expr, scope: Scope, focus: Focus): Node | undefined {
    if (wExpr.kind !== 'name') {
      this.error(wExpr.span, `the second argument of ${form} must be the name of a param or input`, focus);
      return undefined;
    }
    const w = this.evalExpr(wExpr, scope);
    if (w.kind === 'error') return undefined;
    if (w.kind !== 'tensor' || (w.node.op !== 'param' && w.node.op !== 'input') || w.node.name.startsWith('@')) {
      this.error(
        wExpr.span,
        `${form} is taken with respect to a param or input of the model; '${wExpr.name}' is not one`,
        focus,
      );
      return undefined;
    }
    if (w.node.dtype !== 'f32') {
      const what = form === 'grad' ? 'have gradients' : 'have tangents';
      this.error(
        wExpr.span,
        `${form} with respect to '${wExpr.name}' (${formatType(w.node)}): only f32 params and inputs ${what}`,
        focus,
      );
      return undefined;
    }
    return w.node;
  }

  private evalGrad(e: Extract<Expr, { kind: 'call' }>, scope: Scope): Value {
    const focus = { label: 'call to grad', span: e.span };
    const [yExpr, wExpr] = e.args;
    if (e.args.length !== 2 || e.kwargs.length > 0 || yExpr === undefined || wExpr === undefined) {
      for (const a of e.args) this.evalExpr(a, scope);
      return this.error(e.span, 'grad takes two arguments: grad(scalar_expr, name)', focus);
    }
    const y = this.evalExpr(yExpr, scope);
    const w = this.differentiable('grad', wExpr, scope, focus);
    if (y.kind === 'error' || w === undefined) return POISON;
    const yn = this.materialize(y, 'f32');
    if (yn === undefined) return POISON;
    if (yn.dtype !== 'f32' || yn.shape.length !== 0) {
      const fix =
        yn.shape.length !== 0
          ? `reduce it first, as in grad(mean(...), ${spanText(wExpr.span)})`
          : 'only f32 values have gradients';
      return this.error(yExpr.span, `grad needs a scalar f32 value, got ${formatType(yn)}; ${fix}`, focus);
    }
    try {
      return tensorValue(gradients(this.b, yn, [w])[0]!);
    } catch (err) {
      return this.internal(e.span, 'grad', err);
    }
  }

  /** jvp(expr, name, tangent): the directional derivative of expr along tangent (forward mode). */
  private evalJvp(e: Extract<Expr, { kind: 'call' }>, scope: Scope): Value {
    const focus = { label: 'call to jvp', span: e.span };
    const [yExpr, wExpr, vExpr] = e.args;
    if (e.args.length !== 3 || e.kwargs.length > 0 || !yExpr || !wExpr || !vExpr) {
      for (const a of e.args) this.evalExpr(a, scope);
      return this.error(e.span, 'jvp takes three arguments: jvp(expr, name, tangent)', focus);
    }
    const y = this.evalExpr(yExpr, scope);
    const w = this.differentiable('jvp', wExpr, scope, focus);
    const v = this.evalExpr(vExpr, scope);
    if (y.kind === 'error' || v.kind === 'error' || w === undefined) return POISON;
    const yn = this.materialize(y, 'f32');
    const vn = this.materialize(v, 'f32');
    if (yn === undefined || vn === undefined) return POISON;
    if (yn.dtype !== 'f32')
      return this.error(
        yExpr.span,
        `jvp needs an f32 value, got ${formatType(yn)}: only f32 values have tangents`,
        focus,
      );
    const name = w.op === 'param' || w.op === 'input' ? w.name : '';
    // A scalar literal tangent (jvp(f, x, 1.0)) stands for that value everywhere.
    const broadcastable = vn.dtype === 'f32' && vn.shape.length === 0 && v.kind === 'weak';
    if (!broadcastable && (vn.dtype !== 'f32' || !shapeEq(vn.shape, w.shape)))
      return this.error(
        vExpr.span,
        `the tangent of jvp must have the type of '${name}', ${formatType(w)}; got ${formatType(vn)}`,
        focus,
      );
    try {
      return tensorValue(jvps(this.b, [yn], [w], [broadcastable ? this.b.broadcastTo(vn, w.shape) : vn])[0]!);
    } catch (err) {
      return this.internal(e.span, 'jvp', err);
    }
  }

  private evalIndex(e: Extract<Expr, { kind: 'index' }>, scope: Scope): Value {
    if (e.target.kind === 'call' && e.target.callee.name === 'shape' && !this.fns.has('shape')) {
      const d = this.shapeIndex(e, e.target, scope);
      if (d === undefined) return POISON;
      if (typeof d !== 'number')
        return this.error(
          e.span,
          `shape(x)[i] is the symbolic dimension ${formatDim(d)} here, which has no value at compile time; ` +
            'it can only be used in shapes, as in reshape(x, [shape(x)[0], -1])',
          { label: 'shape(x)[i]', span: e.span },
        );
      return { kind: 'weak', value: d, isInt: true, span: e.span };
    }
    const x = this.evalExpr(e.target, scope);
    const specs: IndexSpec[] = [];
    let ok = true;
    const indexFocus = { label: 'index', span: e.span };
    const staticInt = (ex: Expr, what: string): number | undefined => {
      const v = this.staticNumber(ex, scope);
      if (v === POISON_NUM) {
        ok = false;
        return undefined;
      }
      if (v === undefined || !Number.isInteger(v)) {
        ok = false;
        this.error(ex.span, `${what} must be a constant integer`, indexFocus);
        return undefined;
      }
      return v;
    };
    for (const it of e.indices) {
      switch (it.kind) {
        case 'ellipsis':
          specs.push({ kind: 'ellipsis' });
          break;
        case 'slice': {
          const start = it.start && staticInt(it.start, 'a slice bound');
          const end = it.end && staticInt(it.end, 'a slice bound');
          const step = it.step && staticInt(it.step, 'a slice step');
          specs.push({
            kind: 'slice',
            ...(start !== undefined && { start }),
            ...(end !== undefined && { end }),
            ...(step !== undefined && { step }),
          });
          break;
        }
        case 'single': {
          const v = this.evalExpr(it.expr, scope);
          if (v.kind === 'error') ok = false;
          else if (v.kind === 'weak') {
            if (!v.isInt) {
              ok = false;
              this.error(it.span, `an index must be an integer, got ${spanText(v.span)}`, indexFocus);
            } else specs.push({ kind: 'int', value: v.value });
          } else if (v.kind === 'bool') {
            ok = false;
            this.error(it.span, 'an index must be an integer or an i32 tensor, got a bool', indexFocus);
          } else specs.push({ kind: 'tensor', index: v.node });
          break;
        }
      }
    }
    if (!ok || x.kind === 'error') return POISON;
    const xn = this.materialize(x, undefined);
    if (xn === undefined) return POISON;
    let complaint: string | undefined;
    try {
      complaint = validateIndex(xn, specs);
    } catch (err) {
      return this.internal(e.span, 'an index', err);
    }
    if (complaint !== undefined) return this.error(e.span, complaint, indexFocus);
    try {
      return tensorValue(lowerIndex(this.ctx, xn, specs));
    } catch (err) {
      return this.internal(e.span, 'an index', err);
    }
  }

  // ---- fn inlining ----

  private inline(fn: FnInfo, e: Extract<Expr, { kind: 'call' }>, scope: Scope): Value {
    const d = fn.decl;
    const focus = { label: `call to ${d.name.name}`, span: e.span };
    const bound = new Map<string, Expr>();
    let ok = true;
    e.args.forEach((a, i) => {
      const p = d.params[i];
      if (p) bound.set(p.name, a);
      else if (i === d.params.length) {
        ok = false;
        this.error(
          a.span,
          `fn ${d.name.name} takes ${d.params.length} argument${d.params.length === 1 ? '' : 's'}, got ${e.args.length + e.kwargs.length}`,
          focus,
        );
      }
    });
    for (const kw of e.kwargs) {
      const p = d.params.find((q) => q.name === kw.name.name);
      if (!p) {
        ok = false;
        const hint = closest(
          kw.name.name,
          d.params.map((q) => q.name),
        );
        this.error(
          kw.name.span,
          `unknown argument '${kw.name.name}' for fn ${d.name.name}${hint ? `; did you mean '${hint}'?` : ''}`,
          focus,
        );
      } else if (bound.has(p.name)) {
        ok = false;
        this.error(kw.name.span, `argument '${p.name}' of fn ${d.name.name} is given twice`, focus);
      } else bound.set(p.name, kw.value);
    }
    for (const p of d.params) {
      if (!bound.has(p.name)) {
        ok = false;
        this.error(e.span, `missing argument '${p.name}' for fn ${d.name.name}`, focus);
      }
    }
    const args = new Map<string, Value>();
    for (const [k, a] of bound) args.set(k, this.evalExpr(a, scope));
    if (!ok || fn.bad) return POISON;
    if (this.gaveUp) return POISON;
    if (++this.inlined > MAX_INLINED_CALLS || this.frames.length >= MAX_INLINE_DEPTH) {
      // Reported once: every later call would hit the same wall.
      this.gaveUp = true;
      const outer = this.frames[0];
      const why =
        this.frames.length >= MAX_INLINE_DEPTH
          ? `fn calls nest more than ${MAX_INLINE_DEPTH} deep`
          : `more than ${MAX_INLINED_CALLS} fn calls`;
      // No note per nested call here: the chain is the problem, and it is long.
      this.reporter.diagnostics.push(
        diag(
          outer?.call ?? e.span,
          `inlining fn ${outer?.fn ?? d.name.name} takes ${why} (fns are inlined at every call)`,
        ),
      );
      return POISON;
    }

    const all = [e.args, e.kwargs.map((k: KwArg) => k.value)].flat();
    const first = all[0];
    const site = first ? all.slice(1).reduce((s, a) => joinSpans(s, a.span), first.span) : e.span;
    this.frames.push({ fn: d.name.name, call: e.span, site: this.frames.length === 0 ? site : e.span });
    try {
      const names = [...d.body.map((l) => l.name.name).reverse(), ...d.params.map((p) => p.name).reverse()];
      const fnScope = new MapScope(names);
      for (const p of d.params) {
        const v = args.get(p.name);
        if (v !== undefined && !fnScope.values.has(p.name)) fnScope.values.set(p.name, v);
      }
      for (const i of fn.order) {
        const l = d.body[i]!;
        const v = this.evalExpr(l.value, fnScope);
        if (!fnScope.values.has(l.name.name)) fnScope.values.set(l.name.name, v);
      }
      return this.evalExpr(d.result, fnScope);
    } finally {
      this.frames.pop();
    }
  }

  // ---- models ----

  /** Lowers the model body; returns the graph pieces and the statement types. */
  lowerModel(): {
    inputs: NodeOf<'input'>[];
    params: NodeOf<'param'>[];
    outputs: { name: string; node: Node; stmt: OutputStmt }[];
    types: Map<ModelStmt, TensorType>;
    /** The value of every `let` statement that lowered, by name. */
    lets: Map<string, Node>;
  } {
    const plan = this.plan;
    const scope = new MapScope(plan.names);
    const inputs: NodeOf<'input'>[] = [];
    const params: NodeOf<'param'>[] = [];
    const types = new Map<ModelStmt, TensorType>();
    for (const n of plan.clashing) scope.values.set(n, POISON);
    for (const i of plan.inputs) {
      if (scope.values.has(i.name)) continue;
      if (i.type === undefined) {
        scope.values.set(i.name, POISON);
        continue;
      }
      const n = this.b.input(i.name, i.type) as NodeOf<'input'>;
      inputs.push(n);
      scope.values.set(i.name, tensorValue(n));
    }
    for (const p of plan.params) {
      const name = p.stmt.name.name;
      if (scope.values.has(name)) continue;
      if (p.type === undefined) {
        scope.values.set(name, POISON);
        continue;
      }
      const n = this.b.param(name, p.type) as NodeOf<'param'>;
      params.push(n);
      types.set(p.stmt, p.type);
      scope.values.set(name, tensorValue(n));
    }
    const outputs: { name: string; node: Node; stmt: OutputStmt }[] = [];
    const lets = new Map<string, Node>();
    const record = (s: LetStmt | OutputStmt, v: Value): Node | undefined => {
      const n = v.kind === 'error' ? undefined : this.materialize(v, undefined);
      if (n) types.set(s, { dtype: n.dtype, shape: n.shape });
      return n;
    };
    for (const s of plan.order) {
      if (plan.poisoned.has(s)) {
        scope.values.set(s.name.name, POISON);
        continue;
      }
      const v = this.evalExpr(s.value, scope);
      scope.values.set(s.name.name, v);
      const n = record(s, v);
      if (s.kind === 'output' && n) outputs.push({ name: s.name.name, node: n, stmt: s });
      else if (s.kind === 'let' && n) lets.set(s.name.name, n);
    }
    for (const s of plan.extra) this.evalExpr(s.value, scope);
    // Outputs in declaration order, whatever the evaluation order was.
    const pos = new Map(plan.decl.body.map((s, i) => [s, i]));
    outputs.sort((x, y) => pos.get(x.stmt)! - pos.get(y.stmt)!);
    if (this.seed) inputs.push(this.seed as NodeOf<'input'>);
    return { inputs, params, outputs, types, lets };
  }
}

export function graphOf(l: Lowerer, r: ReturnType<Lowerer['lowerModel']>): Graph {
  return {
    builder: l.b,
    inputs: r.inputs,
    params: r.params,
    outputs: r.outputs.map((o) => ({ name: o.name, node: o.node })),
  };
}
