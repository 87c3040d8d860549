// The checker: name resolution, fn inlining, type checking and lowering of
// the untyped AST to primitive IR. Checking *is* lowering: every expression
// is lowered into an IRBuilder as it is checked, so the type of an
// expression is exactly the type of the IR node it produces, and the table
// of builtins (compiler/decompose.ts) is the single place that says what a
// call means.
//
// Errors do not stop the checker: a failing expression evaluates to a poison
// value that makes everything computed from it silently poison too, so the
// independent errors of a file are all reported, each once.
//
// Literal typing (LANGUAGE.md: weak typing, as in JAX):
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
//
// Statement order inside models and fn blocks is free: statements are
// lowered in dependency order (source order among independent ones, so
// lowering is deterministic); a cycle is an error naming it.

import type {
  Expr,
  FnDecl,
  Ident,
  IndexItem,
  KwArg,
  LetStmt,
  ModelDecl,
  ModelStmt,
  OutputStmt,
  ParamStmt,
  Program,
  TrainDecl,
  TypeExpr,
} from './ast.js';
import {
  type Diagnostic,
  type Note,
  type SourceFile,
  type Span,
  KilnError,
  diag,
  didYouMean,
  formatDiagnostic,
} from './source.js';
import {
  type DType,
  type Dim,
  type Shape,
  type TensorType,
  DTYPES,
  dimMul,
  formatDim,
  formatType,
  isDType,
  sym,
} from '../compiler/types.js';
import type { BuiltinDef, LowerContext, ParamSpec, StaticValue } from '../compiler/builtin.js';
import { BUILTINS, type IndexSpec, lowerIndex, validateIndex } from '../compiler/decompose.js';
import { gradients } from '../compiler/autodiff.js';
import { type InitSpec, initParam } from '../compiler/init.js';
import type {
  HyperCallContract,
  ModelContract,
  ModelParam,
  ModelTensor,
  OptimizerCallContract,
  TrainContract,
} from '../compiler/model.js';
import { type Graph, type Node, type NodeOf, IRBuilder } from '../compiler/ir.js';
import { verifyGraph } from '../compiler/verify.js';
import {
  type ArgKind,
  LOOKAHEAD_ARG_KINDS,
  OPTIMIZER_NAMES,
  SCHEDULE_NAMES,
  optimizerArgKinds,
  validateOptimizer,
} from '../compiler/optimizers/catalog.js';

// ---------------------------------------------------------------------------
// Public results

/** The compiler's model contract (compiler/model.ts), with the source positions the CLI's messages use. */
export interface CheckedTensor extends ModelTensor {
  readonly span: Span;
}

export interface CheckedParam extends CheckedTensor, ModelParam {}

export interface CheckedModel extends ModelContract {
  readonly span: Span;
  readonly decl: ModelDecl;
  readonly inputs: readonly CheckedTensor[];
  readonly params: readonly CheckedParam[];
  readonly outputs: readonly CheckedTensor[];
  /** The type of every statement of the body (params, lets and outputs). */
  readonly statementTypes: ReadonlyMap<ModelStmt, TensorType>;
}

export interface HyperCall extends HyperCallContract {
  readonly span: Span;
}

export interface OptimizerSpec extends HyperCall, OptimizerCallContract {
  readonly inner?: HyperCall;
}

export interface ClipSpec {
  readonly kind: 'global_norm' | 'value';
  readonly max: number;
  readonly span: Span;
}

export interface CheckedTrain extends TrainContract {
  readonly span: Span;
  readonly optimizer: OptimizerSpec;
  readonly schedule?: HyperCall;
  readonly clip?: ClipSpec;
  readonly freeze: string[];
}

export interface CheckResult {
  /** The models that checked without errors, in source order. */
  readonly models: CheckedModel[];
  /** The train blocks that checked without errors, in source order. */
  readonly trains: CheckedTrain[];
  /** Sorted by position. */
  readonly diagnostics: Diagnostic[];
}

// ---------------------------------------------------------------------------
// Tables

const INITIALISERS: ReadonlyMap<string, readonly { name: string; default?: number }[]> = new Map([
  ['zeros', []],
  ['ones', []],
  ['constant', [{ name: 'value' }]],
  ['normal', [{ name: 'std', default: 1 }]],
  ['uniform', [{ name: 'lo' }, { name: 'hi' }]],
  ['glorot_uniform', []],
  ['glorot_normal', []],
  ['he_uniform', []],
  ['he_normal', []],
]);

/** Calls the checker handles itself instead of the builtin table. */
const SPECIAL_FORMS: readonly string[] = ['grad', 'shape'];

/** Operators and the table builtins they stand for. */
const BINARY_BUILTIN: Readonly<Record<string, string>> = {
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

/** Inlined fn calls per model before we give up (a chain of fns each calling the next twice is exponential). */
const MAX_INLINED_CALLS = 20000;
/** Nesting of inlined fn calls. */
const MAX_INLINE_DEPTH = 200;

/**
 * "Did you mean" with two refinements: no suggestion for one-letter names
 * (every one-letter name is one edit from any other), and a unique-enough
 * prefix counts (`glorot` -> `glorot_uniform`).
 */
function closest(name: string, candidates: Iterable<string>): string | undefined {
  if (name.length <= 1) return undefined;
  const list = [...candidates];
  return didYouMean(name, list) ?? (name.length >= 3 ? list.find((c) => c.startsWith(name)) : undefined);
}

/** Names from other libraries for Kiln's hyperparameters, for suggestions. */
const HYPER_ALIASES: Readonly<Record<string, string>> = {
  beta1: 'b1',
  beta2: 'b2',
  beta3: 'b3',
  learning_rate: 'lr',
  epsilon: 'eps',
  wd: 'weight_decay',
  decay: 'weight_decay',
};

// ---------------------------------------------------------------------------
// Values

/** What an expression evaluates to while checking. */
type Value =
  | { readonly kind: 'tensor'; readonly node: Node }
  /** A number not yet given a dtype (a literal, or folded from literals). */
  | { readonly kind: 'weak'; readonly value: number; readonly isInt: boolean; readonly span: Span }
  | { readonly kind: 'bool'; readonly value: boolean; readonly span: Span }
  /** Poison: an error was reported; everything computed from it is poison, silently. */
  | { readonly kind: 'error' };

const POISON: Value = { kind: 'error' };
const tensorValue = (node: Node): Value => ({ kind: 'tensor', node });

function spanText(s: Span): string {
  return s.file.text.slice(s.start, s.end);
}

function joinSpans(a: Span, b: Span): Span {
  return { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

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
function namesIn(e: Expr): string[] {
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
function callsIn(e: Expr): { name: string; span: Span }[] {
  const out: { name: string; span: Span }[] = [];
  const stack = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.kind === 'call') out.push({ name: x.callee.name, span: x.span });
    stack.push(...exprChildren(x));
  }
  return out.reverse();
}

/**
 * Dependency order of named statements. Returns the evaluation order (each
 * statement after the ones it mentions; otherwise source order) and the
 * cycles found, each as a list of statement indices in dependency order.
 */
function dependencyOrder(deps: readonly (readonly number[])[]): { order: number[]; cycles: number[][] } {
  const n = deps.length;
  const state = new Array<0 | 1 | 2>(n).fill(0); // 0 new, 1 on the stack, 2 done
  const order: number[] = [];
  const cycles: number[][] = [];
  for (let root = 0; root < n; root++) {
    if (state[root] !== 0) continue;
    const stack: { node: number; next: number }[] = [{ node: root, next: 0 }];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const ds = deps[top.node]!;
      if (top.next < ds.length) {
        const d = ds[top.next++]!;
        if (state[d] === 0) {
          state[d] = 1;
          stack.push({ node: d, next: 0 });
        } else if (state[d] === 1) {
          const from = stack.findIndex((f) => f.node === d);
          cycles.push(stack.slice(from).map((f) => f.node));
        }
      } else {
        state[top.node] = 2;
        order.push(top.node);
        stack.pop();
      }
    }
  }
  return { order, cycles };
}

function cycleMessage(names: readonly string[]): string {
  if (names.length === 1) return `'${names[0]}' depends on itself`;
  return `cycle between statements: ${[...names, names[0]!].join(' -> ')}`;
}

/** A literal number: `2`, `-0.5`, `1e-3` (unary minus allowed). */
function literalNumber(e: Expr): number | undefined {
  if (e.kind === 'number') return e.value;
  if (e.kind === 'unary' && e.op === '-') {
    const v = literalNumber(e.operand);
    return v === undefined ? undefined : -v;
  }
  return undefined;
}

function literalStatic(e: Expr): number | boolean | undefined {
  return e.kind === 'bool' ? e.value : literalNumber(e);
}

// ---------------------------------------------------------------------------
// Diagnostics sink with fn-inlining context

/** One inlined fn call being evaluated. */
interface Frame {
  readonly fn: string;
  /** The call expression (inside the caller). */
  readonly call: Span;
  /**
   * Where the caret goes when this is the outermost call: its arguments,
   * whose types made the body fail (LANGUAGE.md's example underlines them).
   */
  readonly site: Span;
}

/** What the innermost note points at: "the '@' is at ...". */
interface Focus {
  readonly label: string;
  readonly span: Span;
}

class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly frames: readonly Frame[]) {}

  /**
   * Reports an error at `span`, or, inside inlined fns, at the outermost call
   * site with a note per call. `independent`: the error does not depend on
   * the arguments (an unknown name), so it is reported once, not at every call.
   */
  error(span: Span, message: string, focus?: Focus, independent = false): void {
    if (this.frames.length === 0) {
      this.diagnostics.push(diag(span, message));
      return;
    }
    const f = focus ?? { label: 'error', span };
    const notes: Note[] = this.frames.map((fr, i) => {
      const head = `in fn ${fr.fn}${i === 0 ? ', called here' : ''}`;
      const next = this.frames[i + 1];
      return next
        ? { message: `${head}; it calls ${next.fn}`, span: next.call }
        : { message: `${head}; the ${f.label} is`, span: f.span };
    });
    const site = this.frames[0]!.site;
    const key = [
      independent ? -1 : site.start,
      message,
      ...notes.map((n) => `${n.message}@${n.span?.start ?? -1}`),
    ].join('\n');
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.diagnostics.push(diag(site, message, notes));
  }
}

// ---------------------------------------------------------------------------
// Scopes

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

// ---------------------------------------------------------------------------
// Per-program facts shared by every model

interface FnInfo {
  readonly decl: FnDecl;
  /** Evaluation order of the body's lets (indices into decl.body); first definitions only. */
  readonly order: readonly number[];
  /** Recursive, or with a cycle among its lets: reported once; calls are poison. */
  bad: boolean;
}

interface ProgramInfo {
  readonly fns: ReadonlyMap<string, FnInfo>;
}

// ---------------------------------------------------------------------------
// Model plans: everything about a model that does not need lowering

interface PlannedInput {
  readonly name: string;
  readonly type: TensorType | undefined;
  readonly span: Span;
}

interface PlannedParam {
  readonly stmt: ParamStmt;
  readonly type: TensorType | undefined;
  readonly init: InitSpec | undefined;
}

interface ModelPlan {
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

// ---------------------------------------------------------------------------
// The lowerer: evaluates model bodies into an IRBuilder

interface GivenExpr {
  readonly expr: Expr;
}
interface GivenValue {
  readonly value: Value;
  readonly span: Span;
}
type Given = GivenExpr | GivenValue;

/** How an operator's complaint is phrased: `shape mismatch in '@': A @ B: ...`. */
interface OperatorSyntax {
  readonly symbol: string;
  readonly opSpan: Span;
  readonly form: 'binary' | 'unary' | 'ternary' | 'postfix';
}

class Lowerer {
  readonly b = new IRBuilder();
  private readonly frames: Frame[] = [];
  readonly reporter = new Reporter(this.frames);
  private salt = 0;
  seed: Node | undefined;
  private inlined = 0;
  private gaveUp = false;
  private readonly ctx: LowerContext;

  constructor(
    private readonly program: ProgramInfo,
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

  // ---- weak values ----

  /** A value as a node of the given dtype (weak numbers adopt it); reports and returns undefined on error. */
  private materialize(v: Value, dtype: DType | undefined): Node | undefined {
    switch (v.kind) {
      case 'tensor':
        return v.node;
      case 'error':
        return undefined;
      case 'bool':
        return this.b.const(v.value ? 1 : 0, 'bool');
      case 'weak': {
        const target = dtype ?? (v.isInt ? 'i32' : 'f32');
        const text = spanText(v.span);
        const focus = { label: `literal ${text}`, span: v.span };
        if (target === 'bool') {
          this.error(v.span, `cannot mix bool with number literal ${text} (use true/false, or cast)`, focus);
          return undefined;
        }
        if (target === 'i32') {
          if (!v.isInt) {
            this.error(v.span, `cannot mix i32 with float literal ${text}`, focus);
            return undefined;
          }
          if (v.value < -2147483648 || v.value > 2147483647) {
            this.error(v.span, `integer literal ${text} is out of the i32 range`, focus);
            return undefined;
          }
        }
        return this.b.const(v.value, target);
      }
    }
  }

  /** The dtype weak numbers of one call adopt: that of its first non-bool tensor, else by the literals. */
  private static weakTarget(values: readonly Value[]): DType | undefined {
    for (const v of values) if (v.kind === 'tensor' && v.node.dtype !== 'bool') return v.node.dtype;
    const weak = values.filter((v) => v.kind === 'weak');
    if (weak.length === 0) return undefined;
    return weak.every((v) => v.kind === 'weak' && v.isInt) ? 'i32' : 'f32';
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
    if (this.program.fns.has(name) || BUILTINS.has(name) || SPECIAL_FORMS.includes(name))
      return this.error(span, `'${name}' is a function; call it, as in ${name}(...)`, focus, true);
    const hint = closest(name, [...scope.names, ...this.program.fns.keys(), ...BUILTINS.keys()]);
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
    if (a.kind === 'weak' && b.kind === 'weak') {
      const folded = this.fold(e, a.value, b.value, a.isInt && b.isInt);
      if (folded !== undefined) return folded;
    }
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

  /** Arithmetic on two weak numbers, with Python's scalar rules; undefined when not foldable. */
  private fold(e: Extract<Expr, { kind: 'binary' }>, x: number, y: number, ints: boolean): Value | undefined {
    const weak = (value: number, isInt: boolean): Value => ({ kind: 'weak', value, isInt, span: e.span });
    const bool = (value: boolean): Value => ({ kind: 'bool', value, span: e.span });
    switch (e.op) {
      case '+':
        return weak(x + y, ints);
      case '-':
        return weak(x - y, ints);
      case '*':
        return weak(x * y, ints);
      case '/':
        if (ints && y === 0) return this.error(e.span, 'division by zero in a constant expression');
        return weak(x / y, false);
      case '%':
        if (ints && y === 0) return this.error(e.span, 'division by zero in a constant expression');
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
    if (name === 'shape') {
      for (const a of e.args) this.evalExpr(a, scope);
      return this.error(e.span, 'shape(x) must be indexed: shape(x)[i] is the size of axis i', {
        label: 'call to shape',
        span: e.span,
      });
    }
    const fn = this.program.fns.get(name);
    if (fn) return this.inline(fn, e, scope);
    const def = BUILTINS.get(name);
    if (def) {
      const given = this.matchArgs(def, e, scope);
      return given ? this.apply(name, given, scope, e.span) : POISON;
    }
    const focus = { label: `call to ${name}`, span: e.callee.span };
    if (scope.get(name) !== undefined)
      return this.error(e.callee.span, `'${name}' is a value, not a function`, focus, true);
    const hint = closest(name, [...this.program.fns.keys(), ...BUILTINS.keys(), ...SPECIAL_FORMS]);
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

    const target = Lowerer.weakTarget(all.map((v) => v.value));
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
    if (e.kind === 'call' && e.callee.name === 'shape' && !this.program.fns.has('shape')) {
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

  private evalGrad(e: Extract<Expr, { kind: 'call' }>, scope: Scope): Value {
    const focus = { label: 'call to grad', span: e.span };
    const [yExpr, wExpr] = e.args;
    if (e.args.length !== 2 || e.kwargs.length > 0 || yExpr === undefined || wExpr === undefined) {
      for (const a of e.args) this.evalExpr(a, scope);
      return this.error(e.span, 'grad takes two arguments: grad(scalar_expr, name)', focus);
    }
    const y = this.evalExpr(yExpr, scope);
    if (wExpr.kind !== 'name')
      return this.error(wExpr.span, 'the second argument of grad must be the name of a param or input', focus);
    const w = this.evalExpr(wExpr, scope);
    if (y.kind === 'error' || w.kind === 'error') return POISON;
    if (w.kind !== 'tensor' || (w.node.op !== 'param' && w.node.op !== 'input') || w.node.name.startsWith('@'))
      return this.error(
        wExpr.span,
        `grad is taken with respect to a param or input of the model; '${wExpr.name}' is not one`,
        focus,
      );
    if (w.node.dtype !== 'f32')
      return this.error(
        wExpr.span,
        `grad with respect to '${wExpr.name}' (${formatType(w.node)}): only f32 params and inputs have gradients`,
        focus,
      );
    const yn = this.materialize(y, 'f32');
    if (yn === undefined) return POISON;
    if (yn.dtype !== 'f32' || yn.shape.length !== 0) {
      const fix =
        yn.shape.length !== 0
          ? `reduce it first, as in grad(mean(...), ${wExpr.name})`
          : 'only f32 values have gradients';
      return this.error(yExpr.span, `grad needs a scalar f32 value, got ${formatType(yn)}; ${fix}`, focus);
    }
    try {
      return tensorValue(gradients(this.b, yn, [w.node])[0]!);
    } catch (err) {
      return this.internal(e.span, 'grad', err);
    }
  }

  private evalIndex(e: Extract<Expr, { kind: 'index' }>, scope: Scope): Value {
    if (e.target.kind === 'call' && e.target.callee.name === 'shape' && !this.program.fns.has('shape')) {
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
    }
    for (const s of plan.extra) this.evalExpr(s.value, scope);
    // Outputs in declaration order, whatever the evaluation order was.
    const pos = new Map(plan.decl.body.map((s, i) => [s, i]));
    outputs.sort((x, y) => pos.get(x.stmt)! - pos.get(y.stmt)!);
    if (this.seed) inputs.push(this.seed as NodeOf<'input'>);
    return { inputs, params, outputs, types };
  }
}

const POISON_NUM = Symbol('poison');

function operatorMessage(syntax: OperatorSyntax, operands: readonly Node[], complaint: string): string {
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

// ---------------------------------------------------------------------------
// The program checker

class Checker {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    private readonly program: Program,
    private readonly file: SourceFile,
  ) {}

  private error(span: Span, message: string, notes: readonly Note[] = []): void {
    this.diagnostics.push(diag(span, message, notes));
  }

  run(): CheckResult {
    let fns: Map<string, FnInfo>;
    try {
      fns = this.checkFns();
    } catch (err) {
      this.unexpected({ file: this.file, start: 0, end: 0 }, 'the fns', err);
      fns = new Map();
    }
    const info: ProgramInfo = { fns };
    const models: CheckedModel[] = [];
    const modelFacts = new Map<string, ModelFacts>();
    for (const item of this.program.items) {
      if (item.kind !== 'model') continue;
      const before = this.diagnostics.length;
      let facts: ModelFacts | undefined;
      try {
        facts = this.checkModel(item, info, modelFacts.has(item.name.name));
      } catch (err) {
        this.unexpected(item.span, `model ${item.name.name}`, err);
      }
      if (!facts) continue;
      if (!modelFacts.has(item.name.name)) modelFacts.set(item.name.name, facts);
      if (this.diagnostics.length === before && facts.model) models.push(facts.model);
    }
    const trains: CheckedTrain[] = [];
    const trained = new Map<string, Span>();
    for (const item of this.program.items) {
      if (item.kind !== 'train') continue;
      const before = this.diagnostics.length;
      let t: CheckedTrain | undefined;
      try {
        t = this.checkTrain(item, modelFacts, trained);
      } catch (err) {
        this.unexpected(item.span, `train ${item.model.name}`, err);
      }
      if (t && this.diagnostics.length === before) trains.push(t);
    }
    this.diagnostics.sort((a, b) => a.span.start - b.span.start);
    return { models, trains, diagnostics: this.diagnostics };
  }

  private unexpected(span: Span, what: string, err: unknown): void {
    // Deep recursion is the input's doing (a very long chain of '**' or unary
    // minus), not a bug: say so plainly.
    if (err instanceof RangeError) this.error(span, `${what}: an expression is nested too deeply to check`);
    else this.error(span, `internal error while checking ${what}: ${errorText(err)}`);
  }

  // ---- fns ----

  private checkFns(): Map<string, FnInfo> {
    const fns = new Map<string, FnInfo>();
    const decls = this.program.items.filter((i): i is FnDecl => i.kind === 'fn');
    for (const d of decls) {
      const name = d.name.name;
      const prev = fns.get(name);
      if (prev) {
        this.error(d.name.span, `duplicate fn '${name}'`, [{ message: 'first defined', span: prev.decl.name.span }]);
        continue;
      }
      if (BUILTINS.has(name) || SPECIAL_FORMS.includes(name)) {
        this.error(d.name.span, `fn '${name}' has the name of a builtin; choose another name`);
        continue;
      }
      let bad = false;
      const seen = new Map<string, Span>();
      for (const p of d.params) {
        const first = seen.get(p.name);
        if (first) {
          bad = true;
          this.error(p.span, `duplicate name '${p.name}' in fn ${name}`, [{ message: 'first defined', span: first }]);
        } else seen.set(p.name, p.span);
      }
      const firstLets: number[] = [];
      d.body.forEach((l, i) => {
        const first = seen.get(l.name.name);
        if (first) {
          bad = true;
          const param = d.params.some((p) => p.name === l.name.name);
          this.error(
            l.name.span,
            param
              ? `duplicate name '${l.name.name}': it is a parameter of fn ${name}`
              : `'${l.name.name}' is assigned twice; names are single-assignment`,
            [{ message: 'first defined', span: first }],
          );
        } else {
          seen.set(l.name.name, l.name.span);
          firstLets.push(i);
        }
      });
      const index = new Map(firstLets.map((i, k) => [d.body[i]!.name.name, k]));
      const deps = firstLets.map((i) =>
        [...new Set(namesIn(d.body[i]!.value))].flatMap((n) => (index.has(n) ? [index.get(n)!] : [])),
      );
      const { order, cycles } = dependencyOrder(deps);
      for (const c of cycles) {
        bad = true;
        const stmts = c.map((k) => d.body[firstLets[k]!]!);
        this.error(stmts[0]!.span, cycleMessage(stmts.map((s) => s.name.name)));
      }
      fns.set(name, { decl: d, order: order.map((k) => firstLets[k]!), bad });
    }
    // Recursion, direct or mutual: fns are inlined, so it can never end.
    const names = [...fns.keys()];
    const index = new Map(names.map((n, i) => [n, i]));
    const callSites = names.map((n) => {
      const d = fns.get(n)!.decl;
      return [...d.body.map((l) => l.value), d.result].flatMap(callsIn).filter((c) => index.has(c.name));
    });
    const deps = callSites.map((cs) => [...new Set(cs.map((c) => index.get(c.name)!))]);
    const { cycles } = dependencyOrder(deps);
    for (const c of cycles) {
      const chain = c.map((i) => names[i]!);
      const last = chain[chain.length - 1]!;
      const site = callSites[index.get(last)!]!.find((s) => s.name === chain[0])!;
      for (const n of chain) fns.get(n)!.bad = true;
      this.error(
        site.span,
        chain.length === 1
          ? `recursive call to fn ${last}: fns are inlined at every call, so they cannot call themselves`
          : `recursive call: ${[...chain, chain[0]].join(' -> ')}; fns are inlined at every call, so they cannot recurse`,
      );
    }
    return fns;
  }

  // ---- models ----

  private resolveType(t: TypeExpr, param: string | undefined): TensorType | undefined {
    const dt = t.dtype.name;
    let ok = true;
    if (!isDType(dt)) {
      ok = false;
      const hint = closest(dt, DTYPES);
      this.error(
        t.dtype.span,
        `unknown dtype '${dt}'; expected f32, i32 or bool${hint && hint !== dt ? ` (did you mean '${hint}'?)` : ''}`,
      );
    }
    const shape: Dim[] = [];
    for (const d of t.dims) {
      if (d.kind === 'int') {
        if (!Number.isSafeInteger(d.value)) {
          ok = false;
          this.error(d.span, `dimension ${spanText(d.span)} is too large`);
        }
        shape.push(d.value);
      } else if (param !== undefined) {
        ok = false;
        this.error(d.span, `param '${param}' has a symbolic dimension ${d.name}; params must have static shapes`);
      } else shape.push(sym(d.name));
    }
    return ok && isDType(dt) ? { dtype: dt, shape } : undefined;
  }

  private resolveInit(p: ParamStmt, type: TensorType | undefined): InitSpec | undefined {
    const e = p.init;
    const fail = (span: Span, msg: string): undefined => {
      this.error(span, msg);
      return undefined;
    };
    let name: Ident;
    let args: readonly Expr[] = [];
    let kwargs: readonly KwArg[] = [];
    if (e.kind === 'name') name = { name: e.name, span: e.span };
    else if (e.kind === 'call') {
      name = e.callee;
      args = e.args;
      kwargs = e.kwargs;
    } else
      return fail(
        e.span,
        'expected an initialiser: zeros, ones, constant(v), normal(std = 1.0), uniform(lo, hi), glorot_uniform, glorot_normal, he_uniform or he_normal',
      );
    const specs = INITIALISERS.get(name.name);
    if (!specs) {
      const hint = closest(name.name, INITIALISERS.keys());
      return fail(name.span, `unknown initialiser '${name.name}'${hint ? `; did you mean '${hint}'?` : ''}`);
    }
    const values = new Map<string, number>();
    let ok = true;
    args.forEach((a, i) => {
      const s = specs[i];
      if (!s) {
        if (i === specs.length) {
          ok = false;
          this.error(
            a.span,
            `${name.name} takes ${specs.length} argument${specs.length === 1 ? '' : 's'}, got ${args.length}`,
          );
        }
        return;
      }
      const v = literalNumber(a);
      if (v === undefined) {
        ok = false;
        this.error(a.span, `the ${s.name} of ${name.name} must be a number literal`);
      } else values.set(s.name, v);
    });
    for (const kw of kwargs) {
      const s = specs.find((x) => x.name === kw.name.name);
      if (!s) {
        ok = false;
        const hint = closest(
          kw.name.name,
          specs.map((x) => x.name),
        );
        this.error(
          kw.name.span,
          `unknown argument '${kw.name.name}' for ${name.name}${hint ? `; did you mean '${hint}'?` : ''}`,
        );
        continue;
      }
      if (values.has(s.name)) {
        ok = false;
        this.error(kw.name.span, `argument '${s.name}' of ${name.name} is given twice`);
        continue;
      }
      const v = literalNumber(kw.value);
      if (v === undefined) {
        ok = false;
        this.error(kw.value.span, `the ${s.name} of ${name.name} must be a number literal`);
      } else values.set(s.name, v);
    }
    for (const s of specs) {
      if (!values.has(s.name)) {
        if (s.default !== undefined) values.set(s.name, s.default);
        else {
          ok = false;
          const form = `${name.name}(${specs.map((x) => x.name).join(', ')})`;
          this.error(e.span, `missing argument '${s.name}' for ${name.name}: write ${form}`);
        }
      }
    }
    if (!ok) return undefined;
    const v = (k: string) => values.get(k)!;
    let spec: InitSpec;
    switch (name.name) {
      case 'constant':
        spec = { kind: 'constant', value: v('value') };
        break;
      case 'normal':
        spec = { kind: 'normal', std: v('std') };
        break;
      case 'uniform':
        spec = { kind: 'uniform', lo: v('lo'), hi: v('hi') };
        break;
      case 'zeros':
      case 'ones':
      case 'glorot_uniform':
      case 'glorot_normal':
      case 'he_uniform':
      case 'he_normal':
        spec = { kind: name.name };
        break;
      default:
        return fail(name.span, `unknown initialiser '${name.name}'`);
    }
    if (type) {
      // The initialiser module owns the rules (dtype fit, argument ranges); an empty tensor runs them cheaply.
      try {
        initParam(spec, [0], type.dtype, 0, p.name.name);
      } catch (err) {
        return fail(e.span, err instanceof Error ? err.message : String(err));
      }
    }
    return spec;
  }

  private checkModel(m: ModelDecl, info: ProgramInfo, duplicate: boolean): ModelFacts {
    const name = m.name.name;
    if (duplicate) this.error(m.name.span, `duplicate model '${name}'`);
    const symDims: string[] = [];
    for (const i of m.inputs)
      for (const d of i.type.dims) if (d.kind === 'sym' && !symDims.includes(d.name)) symDims.push(d.name);
    const defined = new Map<string, { span: Span; kind: 'input' | 'param' | 'let' | 'output' }>();
    const clashing = new Set<string>();
    const define = (id: Ident, kind: 'input' | 'param' | 'let' | 'output'): boolean => {
      if (symDims.includes(id.name)) {
        this.error(id.span, `'${id.name}' is a symbolic dimension of the inputs; choose another name for this ${kind}`);
        clashing.add(id.name);
        return false;
      }
      const prev = defined.get(id.name);
      if (!prev) {
        defined.set(id.name, { span: id.span, kind });
        return true;
      }
      const reassigned = (kind === 'let' || kind === 'output') && (prev.kind === 'let' || prev.kind === 'output');
      this.error(
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
      const type = this.resolveType(i.type, undefined);
      if (define(i.name, 'input')) inputs.push({ name: i.name.name, type, span: i.span });
    }
    const params: PlannedParam[] = [];
    const stmts: (LetStmt | OutputStmt)[] = [];
    const extra: (LetStmt | OutputStmt)[] = [];
    for (const s of m.body) {
      if (s.kind === 'param') {
        const type = this.resolveType(s.type, s.name.name);
        const init = this.resolveInit(s, type);
        if (define(s.name, 'param')) params.push({ stmt: s, type, init });
      } else if (define(s.name, s.kind)) stmts.push(s);
      else extra.push(s);
    }
    if (!m.body.some((s) => s.kind === 'output'))
      this.error(m.name.span, `model ${name} has no output; add one, as in output loss = mean(...)`);

    const index = new Map(stmts.map((s, i) => [s.name.name, i]));
    const deps = stmts.map((s) => [...new Set(namesIn(s.value))].flatMap((n) => (index.has(n) ? [index.get(n)!] : [])));
    const { order, cycles } = dependencyOrder(deps);
    const poisoned = new Set<LetStmt | OutputStmt>();
    for (const c of cycles) {
      const cs = c.map((i) => stmts[i]!);
      this.error(cs[0]!.name.span, cycleMessage(cs.map((s) => s.name.name)));
      for (const s of cs) poisoned.add(s);
    }
    const plan: ModelPlan = {
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

    // Check = lower, in both modes (a builtin may lower differently when
    // training), verifying the graphs: a broken one is our bug, but it must
    // surface as a diagnostic, never as a crash later.
    const lowerChecked = (training: boolean) => {
      const l = new Lowerer(info, plan, training);
      const r = l.lowerModel();
      const ds = [...l.reporter.diagnostics];
      if (ds.length === 0) {
        try {
          verifyGraph(graphOf(l, r), training ? 'check (training)' : 'check');
        } catch (err) {
          ds.push(diag(m.name.span, `internal error while lowering model ${name}: ${errorText(err)}`));
        }
      }
      return { l, r, ds };
    };
    const evalPass = lowerChecked(false);
    const trainPass = lowerChecked(true);
    const lowered = evalPass.r;
    const shown = new Set(evalPass.ds.map(formatDiagnostic));
    this.diagnostics.push(...evalPass.ds, ...trainPass.ds.filter((d) => !shown.has(formatDiagnostic(d))));
    const outputTypes = new Map<string, TensorType | undefined>();
    for (const s of m.body)
      if (s.kind === 'output' && !outputTypes.has(s.name.name)) outputTypes.set(s.name.name, lowered.types.get(s));
    const facts: ModelFacts = {
      decl: m,
      outputs: outputTypes,
      params: params.map((p) => p.stmt.name.name),
      statements: new Set(stmts.map((s) => s.name.name)),
      model: undefined,
    };
    if (params.some((p) => p.type === undefined || p.init === undefined) || inputs.some((i) => i.type === undefined))
      return facts;
    const checkedInputs = inputs.map((i) => ({ name: i.name, type: i.type!, span: i.span }));
    const checkedParams = params.map((p) => ({
      name: p.stmt.name.name,
      type: p.type!,
      init: p.init!,
      span: p.stmt.span,
    }));
    const checkedOutputs = lowered.outputs.map((o) => ({
      name: o.name,
      type: { dtype: o.node.dtype, shape: o.node.shape },
      span: o.stmt.span,
    }));
    const usesRandomness = trainPass.l.seed !== undefined;
    facts.model = {
      name,
      span: m.span,
      decl: m,
      inputs: checkedInputs,
      params: checkedParams,
      outputs: checkedOutputs,
      symbolicDims: symDims,
      statementTypes: lowered.types,
      usesRandomness,
      lower(opts: { readonly training: boolean }): Graph {
        const l = new Lowerer(info, plan, opts.training);
        const r = l.lowerModel();
        if (l.reporter.diagnostics.length > 0) throw new KilnError(l.reporter.diagnostics);
        return graphOf(l, r);
      },
    };
    return facts;
  }

  // ---- train blocks ----

  private checkTrain(
    t: TrainDecl,
    models: ReadonlyMap<string, ModelFacts>,
    trained: Map<string, Span>,
  ): CheckedTrain | undefined {
    const name = t.model.name;
    const facts = models.get(name);
    if (!facts) {
      const hint = closest(name, models.keys());
      this.error(t.model.span, `unknown model '${name}'${hint ? `; did you mean '${hint}'?` : ''}`);
    } else {
      const prev = trained.get(name);
      if (prev) this.error(t.model.span, `model ${name} already has a train block`, [{ message: 'first', span: prev }]);
      else trained.set(name, t.model.span);
    }
    const seen = new Map<string, Span>();
    let minimize: string | undefined;
    let optimizer: OptimizerSpec | undefined;
    let schedule: HyperCall | undefined;
    let clip: ClipSpec | undefined;
    const freeze: string[] = [];
    let ok = true;
    for (const s of t.body) {
      if (s.kind !== 'freeze') {
        const prev = seen.get(s.kind);
        if (prev) {
          ok = false;
          this.error(s.span, `a train block takes one ${s.kind} statement`, [{ message: 'first', span: prev }]);
          continue;
        }
        seen.set(s.kind, s.span);
      }
      switch (s.kind) {
        case 'minimize': {
          const target = s.target.name;
          if (!facts) break;
          if (!facts.outputs.has(target)) {
            ok = false;
            const hint = closest(target, facts.outputs.keys());
            const what = facts.params.includes(target)
              ? `'${target}' is a param`
              : facts.statements.has(target)
                ? `'${target}' is not an output`
                : `unknown output '${target}'`;
            this.error(
              s.target.span,
              `minimize needs a scalar f32 output of model ${name}; ${what}${hint ? `; did you mean '${hint}'?` : ''}`,
            );
            break;
          }
          const type = facts.outputs.get(target);
          if (type && (type.dtype !== 'f32' || type.shape.length !== 0)) {
            ok = false;
            const fix =
              type.dtype !== 'f32' ? 'only f32 values have gradients' : `reduce it, as in output ${target} = mean(...)`;
            this.error(
              s.target.span,
              `minimize needs a scalar f32 output; '${target}' is ${formatType(type)} (${fix})`,
            );
            break;
          }
          minimize = target;
          break;
        }
        case 'optimizer':
          optimizer = this.validatedOptimizer(s.call);
          if (!optimizer) ok = false;
          break;
        case 'schedule': {
          schedule = this.hyperCall(s.call, 'schedule', SCHEDULE_NAMES, undefined);
          if (!schedule) ok = false;
          break;
        }
        case 'clip':
          clip = this.clipSpec(s.call);
          if (!clip) ok = false;
          break;
        case 'freeze':
          for (const id of s.names) {
            if (freeze.includes(id.name)) {
              ok = false;
              this.error(id.span, `'${id.name}' is frozen twice`);
            } else if (facts && !facts.params.includes(id.name)) {
              ok = false;
              const hint = closest(id.name, facts.params);
              this.error(
                id.span,
                `unknown param '${id.name}' in freeze (model ${name})${hint ? `; did you mean '${hint}'?` : ''}`,
              );
            } else freeze.push(id.name);
          }
          break;
      }
    }
    if (!seen.has('minimize')) {
      ok = false;
      this.error(t.model.span, `train ${name} needs a minimize statement, as in minimize loss`);
    }
    if (!seen.has('optimizer')) {
      ok = false;
      this.error(t.model.span, `train ${name} needs an optimizer statement, as in optimizer adam(lr = 1e-3)`);
    }
    if (!ok || !facts || minimize === undefined || optimizer === undefined) return undefined;
    return {
      model: name,
      span: t.span,
      minimize,
      optimizer,
      ...(schedule && { schedule }),
      ...(clip && { clip }),
      freeze,
    };
  }

  /** `name` or `name(k = v, ...)` with literal values; `allowed` names the keys (undefined: any). */
  private hyperCall(
    e: Expr,
    what: string,
    names: readonly string[],
    allowed: ((name: string) => Readonly<Record<string, ArgKind>> | undefined) | undefined,
  ): HyperCall | undefined {
    let callee: Ident;
    let kwargs: readonly KwArg[] = [];
    if (e.kind === 'name') callee = { name: e.name, span: e.span };
    else if (e.kind === 'call') {
      callee = e.callee;
      kwargs = e.kwargs;
      if (e.args.length > 0) {
        const first = e.args[0]!;
        this.error(first.span, `${what} arguments are given by name, as in ${callee.name}(lr = 1e-3)`);
        return undefined;
      }
    } else {
      this.error(e.span, `expected a ${what} such as ${names[0]}(...)`);
      return undefined;
    }
    if (!names.includes(callee.name)) {
      const hint = closest(callee.name, names);
      this.error(
        callee.span,
        `unknown ${what} '${callee.name}'${hint ? `; did you mean '${hint}'?` : `; expected one of ${names.join(', ')}`}`,
      );
      return undefined;
    }
    const table = allowed?.(callee.name);
    const args: Record<string, number | boolean> = {};
    let ok = true;
    for (const kw of kwargs) {
      const k = kw.name.name;
      const kind = table?.[k];
      if (table && kind === undefined) {
        ok = false;
        const alias = HYPER_ALIASES[k];
        const hint = alias !== undefined && alias in table ? alias : closest(k, Object.keys(table));
        this.error(
          kw.name.span,
          `unknown argument '${k}' for ${callee.name}${hint ? `; did you mean '${hint}'?` : ''}`,
        );
        continue;
      }
      if (Object.hasOwn(args, k)) {
        ok = false;
        this.error(kw.name.span, `argument '${k}' of ${callee.name} is given twice`);
        continue;
      }
      const v = literalStatic(kw.value);
      if (v === undefined) {
        ok = false;
        this.error(kw.value.span, `${k} must be a number or true/false literal`);
        continue;
      }
      if (kind === 'bool' && typeof v !== 'boolean') {
        ok = false;
        this.error(kw.value.span, `${k} of ${callee.name} must be true or false`);
        continue;
      }
      if ((kind === 'number' || kind === 'required') && typeof v !== 'number') {
        ok = false;
        this.error(kw.value.span, `${k} of ${callee.name} must be a number`);
        continue;
      }
      args[k] = v;
    }
    if (table)
      for (const [k, kind] of Object.entries(table))
        if (kind === 'required' && !Object.hasOwn(args, k)) {
          ok = false;
          this.error(e.span, `${callee.name} needs ${k}, as in ${callee.name}(${k} = 0.01)`);
        }
    return ok ? { name: callee.name, args, span: e.span } : undefined;
  }

  /** The optimizer line, with its hyperparameters' ranges and combinations checked (optimizers.md). */
  private validatedOptimizer(e: Expr): OptimizerSpec | undefined {
    const spec = this.optimizerSpec(e, true);
    if (!spec) return undefined;
    const issues = validateOptimizer(spec);
    for (const issue of issues) {
      const call = issue.inner && e.kind === 'call' ? e.args[0]! : e;
      const kw = call.kind === 'call' ? call.kwargs.find((k) => k.name.name === issue.arg) : undefined;
      this.error(kw ? kw.value.span : call.span, issue.message);
    }
    return issues.length > 0 ? undefined : spec;
  }

  private optimizerSpec(e: Expr, outer: boolean): OptimizerSpec | undefined {
    const names = OPTIMIZER_NAMES;
    if (outer && e.kind === 'call' && e.callee.name === 'lookahead') {
      const [inner, ...rest] = e.args;
      if (!inner || rest.length > 0) {
        this.error(e.span, 'lookahead wraps one optimizer: lookahead(adam(lr = 1e-3), k = 5, alpha = 0.5)');
        return undefined;
      }
      const innerSpec = this.optimizerSpec(inner, false);
      const self = this.hyperCall({ ...e, args: [] }, 'optimizer', ['lookahead'], () => LOOKAHEAD_ARG_KINDS);
      if (!innerSpec || !self) return undefined;
      return { ...self, span: e.span, inner: innerSpec };
    }
    if (!outer && e.kind === 'call' && e.callee.name === 'lookahead') {
      this.error(e.span, 'lookahead cannot wrap another lookahead');
      return undefined;
    }
    return this.hyperCall(e, 'optimizer', outer ? [...names, 'lookahead'] : names, optimizerArgKinds);
  }

  private clipSpec(e: Expr): ClipSpec | undefined {
    const form = 'clip global_norm(max) or clip value(max)';
    if (e.kind !== 'call' || (e.callee.name !== 'global_norm' && e.callee.name !== 'value')) {
      const n = e.kind === 'call' ? e.callee.name : e.kind === 'name' ? e.name : undefined;
      const hint = n === undefined ? undefined : closest(n, ['global_norm', 'value']);
      this.error(e.span, `expected ${form}${hint ? `; did you mean '${hint}'?` : ''}`);
      return undefined;
    }
    const kind = e.callee.name;
    const given = [...e.args, ...e.kwargs.filter((k) => k.name.name === 'max').map((k) => k.value)];
    const badKw = e.kwargs.find((k) => k.name.name !== 'max');
    if (badKw) {
      this.error(badKw.name.span, `unknown argument '${badKw.name.name}' for ${kind}; it takes max`);
      return undefined;
    }
    if (given.length !== 1) {
      this.error(e.span, `${kind} takes one argument: ${kind}(max)`);
      return undefined;
    }
    const v = literalNumber(given[0]!);
    if (v === undefined || !(v > 0) || !Number.isFinite(v)) {
      this.error(given[0]!.span, `the max of ${kind} must be a positive number literal`);
      return undefined;
    }
    return { kind, max: v, span: e.span };
  }
}

function graphOf(l: Lowerer, r: ReturnType<Lowerer['lowerModel']>): Graph {
  return {
    builder: l.b,
    inputs: r.inputs,
    params: r.params,
    outputs: r.outputs.map((o) => ({ name: o.name, node: o.node })),
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface ModelFacts {
  readonly decl: ModelDecl;
  /** Output names with their types (undefined when the output had an error). */
  readonly outputs: ReadonlyMap<string, TensorType | undefined>;
  readonly params: readonly string[];
  readonly statements: ReadonlySet<string>;
  model: CheckedModel | undefined;
}

/**
 * Checks a parsed program: resolves names, inlines fns, infers every type,
 * and prepares each error-free model for lowering. Never throws: unexpected
 * failures become diagnostics at the item.
 */
export function checkProgram(program: Program, file: SourceFile): CheckResult {
  return new Checker(program, file).run();
}
