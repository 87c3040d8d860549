// Kernel IR expressions -> WGSL expressions and `let` statements.
//
// Code is built in *levels* (the function body, a stage's block, each loop
// body); a level binds loop variables and accumulators to WGSL names. Every
// node is placed at the outermost level where everything it reads is bound
// (loop-invariant code is hoisted), never above its stage's block (a later
// stage may read what an earlier one stored), and a load of a buffer its own
// stage stores stays at the point. A node is bound to a `let` when it is
// shared, hoisted, or deep; otherwise it is inlined into its parent.
// Everything is i32/f32/bool in WGSL (bool buffers hold i32 0/1); the scalar
// semantics are compiler/semantics.ts's, through the helpers of math.ts.
// Conditions combine with the non-short-circuit `&` and `|`: `&&` is control
// flow, and a loop full of it can take SwiftShader's compiler minutes.

import { vdtype } from '../../compiler/kernel/abi.js';
import { Deps, type NodeInfo, stageRoots, writtenSlots } from '../../compiler/kernel/affine.js';
import { type IndexCtx, ctxOf, indexKey, range } from '../../compiler/kernel/index-expr.js';
import type { IBool, IExpr, Kernel, Stage, VExpr } from '../../compiler/kernel/kir.js';
import { sharedValues } from '../../compiler/kernel/walk.js';
import type { BinaryFn, UnaryFn } from '../../compiler/ir.js';
import type { DType, Dim } from '../../compiler/types.js';
import type { Layout } from './layout.js';
import { constIndex, constValue, f32Literal, i32Literal, indexLiteral } from './literal.js';
import type { Helper } from './math.js';

export type Ty = DType;

export interface Val {
  readonly code: string;
  readonly ty: Ty;
  /** Nesting depth of the inlined expression (0 for a name or literal). */
  readonly depth: number;
}

interface Level {
  /** 'v:<loop variable>' or 'a:<accumulator id>' -> WGSL expression. */
  readonly names: Map<string, string>;
  readonly stmts: string[];
  readonly vmemo: Map<VExpr, Val>;
  readonly imemo: Map<string, string>;
  /** A stage's block: nothing is hoisted above it. */
  readonly floor: boolean;
}

/** Inlined expressions deeper than this are bound to a `let` (WGSL parsers limit nesting). */
const MAX_DEPTH = 10;

/** WGSL name of an IR loop variable: the planner's names (p0, r1_0, ...) as they are, anything else prefixed. */
export function varName(name: string): string {
  return /^[pkrm]\d+(_\d+)*$/.test(name) ? name : `v_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

export const name = (ty: Ty): string => (ty === 'bool' ? 'bool' : ty);

/** Conversion of a value to another dtype with the semantics of compiler/semantics.ts castValue. */
export function castCode(x: Val, to: Ty, lib: Set<Helper>): Val {
  if (x.ty === to) return x;
  const d = x.depth + 1;
  switch (`${x.ty}>${to}`) {
    case 'f32>i32':
      lib.add('f2i');
      return { code: `kiln_f2i(${x.code})`, ty: to, depth: d };
    case 'f32>bool':
      return { code: `((bitcast<u32>(${x.code}) << 1u) != 0u)`, ty: to, depth: d };
    case 'i32>f32':
      return { code: `f32(${x.code})`, ty: to, depth: d };
    case 'i32>bool':
      return { code: `(${x.code} != 0i)`, ty: to, depth: d };
    case 'bool>f32':
      return { code: `select(0.0, 1.0, ${x.code})`, ty: to, depth: d };
    default:
      return { code: `select(0i, 1i, ${x.code})`, ty: to, depth: d };
  }
}

const F32_UNARY: Partial<Record<UnaryFn, Helper>> = {
  sqrt: 'sqrt',
  floor: 'floor',
  ceil: 'ceil',
  exp: 'exp',
  log: 'log',
  log1p: 'log1p',
  expm1: 'expm1',
  sin: 'sin',
  cos: 'cos',
  tanh: 'tanh',
  erf: 'erf',
};

const COMPARE: Partial<Record<BinaryFn, string>> = { lt: '<', le: '<=', eq: '==', ne: '!=' };
const ARITH: Partial<Record<BinaryFn, string>> = { add: '+', sub: '-', mul: '*' };

export class Emitter {
  readonly lib = new Set<Helper>();
  /** The vector template's hook: a load served by a lane of a vec4 load (vector.ts), else undefined. */
  lanes: ((x: Extract<VExpr, { k: 'load' }>) => Val | undefined) | undefined;
  private readonly levels: Level[] = [];
  private deps: Deps;
  private shared = new Set<VExpr>();
  private readonly kernelWrites: ReadonlySet<number>;
  private counter = 0;

  /** The parallel loops' extents, for range analysis outside a stage. */
  private readonly parallelCtx: IndexCtx;
  /**
   * Loop extents for range analysis (which index divisions have non-negative
   * operands, which bounds tests are decided): the parallel loops and the
   * current stage's (stages may reuse a loop name with another extent).
   */
  private ctx: IndexCtx;

  constructor(
    readonly kernel: Kernel,
    readonly layout: Layout,
  ) {
    this.kernelWrites = writtenSlots(kernel);
    this.deps = new Deps(this.kernelWrites, new Set());
    this.parallelCtx = ctxOf(kernel.parallel);
    this.ctx = this.parallelCtx;
  }

  fresh(prefix = 't'): string {
    return `${prefix}${this.counter++}`;
  }

  // ---------------------------------------------------------------- levels

  /** Opens a level binding `names` ('v:<var>' / 'a:<id>' -> WGSL); a floor starts a stage's block. */
  open(names: Readonly<Record<string, string>> = {}, floor = false): void {
    this.levels.push({ names: new Map(Object.entries(names)), stmts: [], vmemo: new Map(), imemo: new Map(), floor });
  }

  /** Closes the innermost level, returning its statements. */
  close(): string[] {
    const l = this.levels.pop();
    if (!l) throw new Error('no level to close');
    return l.stmts;
  }

  /** Binds more names ('v:<var>' / 'a:<id>' -> WGSL) at the innermost level. */
  name(names: Readonly<Record<string, string>>): void {
    for (const [k, v] of Object.entries(names)) this.top().names.set(k, v);
  }

  /** Appends a statement to the innermost level. */
  emit(...stmts: string[]): void {
    this.top().stmts.push(...stmts);
  }

  /** Runs `body` in a new level binding `names` and returns that level's statements. */
  scoped(names: Readonly<Record<string, string>>, body: () => void, floor = false): string[] {
    this.open(names, floor);
    body();
    return this.close();
  }

  /** Makes `s` the stage whose expressions are emitted next (its own stores decide what may not be hoisted). */
  enterStage(s: Stage): void {
    this.ctx = ctxOf(s.loops, this.parallelCtx);
    this.deps = new Deps(this.kernelWrites, writtenSlots(this.kernel, [s]));
    this.shared = sharedValues(stageRoots(s));
  }

  private top(): Level {
    const l = this.levels[this.levels.length - 1];
    if (!l) throw new Error('no open level');
    return l;
  }

  private lookup(key: string): { level: number; code: string } {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const code = this.levels[i]!.names.get(key);
      if (code !== undefined) return { level: i, code };
    }
    throw new Error(
      `kernel ${this.kernel.name}: ${key.startsWith('v:') ? 'loop variable' : 'accumulator'} '${key.slice(2)}' is not in scope`,
    );
  }

  /** The outermost level a node with dependencies `info` may be computed at. */
  private place(info: NodeInfo): number {
    const topIndex = this.levels.length - 1;
    if (info.readsStageWritten) return topIndex;
    let at = 0;
    for (let i = topIndex; i >= 0; i--)
      if (this.levels[i]!.floor) {
        at = i;
        break;
      }
    for (const v of info.vars) at = Math.max(at, this.lookup(`v:${v}`).level);
    for (const a of info.accs) at = Math.max(at, this.lookup(`a:${a}`).level);
    return at;
  }

  /** Binds `code` to a new `let` at level `at` (default: innermost). */
  bind(code: string, at = this.levels.length - 1): string {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(code)) return code;
    const n = this.fresh();
    this.levels[at]!.stmts.push(`let ${n} = ${code};`);
    return n;
  }

  // ---------------------------------------------------------------- uniform

  dim(name: string): string {
    const f = this.layout.uniform?.fields.find((x) => x.kind === 'dim' && x.source === name);
    if (!f) throw new Error(`kernel ${this.kernel.name} uses dim '${name}' it does not declare`);
    return `u.${f.name}`;
  }

  /** A loop extent or other Dim as an i32 expression. */
  extent(d: Dim): string {
    if (typeof d === 'number') return indexLiteral(d);
    const parts = d.syms.map((s) => this.dim(s));
    if (d.coef !== 1) parts.push(indexLiteral(d.coef));
    return parts.length === 1 ? parts[0]! : `(${parts.join(' * ')})`;
  }

  // ---------------------------------------------------------------- index expressions

  /** An index expression as i32 WGSL, for use at level `at` (default: innermost). */
  i(e: IExpr, at = this.levels.length - 1): string {
    const c = constIndex(e);
    if (c !== undefined) return indexLiteral(c);
    switch (e.k) {
      case 'var':
        return this.lookup(`v:${e.name}`).code;
      case 'dim':
        return this.dim(e.name);
      default:
        break;
    }
    const level = this.place(this.deps.i(e));
    const key = indexKey(e);
    const memo = this.levels[level]!.imemo;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const code = this.iNode(e, level);
    if (level < at) {
      const n = this.bind(code, level);
      memo.set(key, n);
      return n;
    }
    return code;
  }

  private iNode(e: IExpr, at: number): string {
    switch (e.k) {
      case 'add': {
        const b = e.b;
        if (b.k === 'const' && b.v < 0) return `(${this.i(e.a, at)} - ${indexLiteral(-b.v)})`;
        if (b.k === 'mul' && b.b.k === 'const' && b.b.v < 0) {
          const mag = b.b.v === -1 ? this.i(b.a, at) : `${this.i(b.a, at)} * ${indexLiteral(-b.b.v)}`;
          return `(${this.i(e.a, at)} - ${mag})`;
        }
        return `(${this.i(e.a, at)} + ${this.i(b, at)})`;
      }
      case 'mul':
        return `(${this.i(e.a, at)} * ${this.i(e.b, at)})`;
      case 'div':
      case 'mod': {
        const a = this.i(e.a, at);
        const b = this.i(e.b, at);
        if (range(e.a, this.ctx).lo >= 0) return `(${a} ${e.k === 'div' ? '/' : '%'} ${b})`;
        const h = e.k === 'div' ? 'floordiv' : 'floormod';
        this.lib.add(h);
        return `kiln_${h}(${a}, ${b})`;
      }
      case 'value': {
        const x = castCode(this.v(e.x, at), 'i32', this.lib).code;
        const hi = constIndex(e.hi);
        const top = hi !== undefined ? indexLiteral(Math.max(hi - 1, 0)) : `max(${this.i(e.hi, at)} - 1, 0)`;
        return `clamp(${x}, 0, ${top})`;
      }
      case 'const':
      case 'var':
      case 'dim':
        return this.i(e, at);
    }
  }

  /** A condition as WGSL bool: undefined when always true, 'false' when never. */
  b(c: IBool, at = this.levels.length - 1): string | undefined {
    switch (c.k) {
      case 'true':
        return undefined;
      case 'le': {
        // Decided by the loops' ranges (a padded load's bound on an axis it never crosses): no test.
        if (range(c.a, this.ctx).hi <= range(c.b, this.ctx).lo) return undefined;
        if (range(c.a, this.ctx).lo > range(c.b, this.ctx).hi) return 'false';
        return `(${this.i(c.a, at)} <= ${this.i(c.b, at)})`;
      }
      case 'and': {
        const a = this.b(c.a, at);
        const b = this.b(c.b, at);
        if (a === 'false' || b === 'false') return 'false';
        return a === undefined ? b : b === undefined ? a : `(${a} & ${b})`;
      }
    }
  }

  // ---------------------------------------------------------------- values

  /** A value expression as WGSL, for use at level `at` (default: innermost). */
  v(x: VExpr, at = this.levels.length - 1): Val {
    const c = constValue(x);
    if (c !== undefined) return this.literal(c, vdtype(x));
    if (x.k === 'scalar') return this.scalar(x.name, x.dtype);
    if (x.k === 'acc') return { code: this.lookup(`a:${x.id}`).code, ty: x.dtype, depth: 0 };
    if (x.k === 'load' && this.lanes) {
      const lane = this.lanes(x);
      if (lane) return lane;
    }
    const level = this.place(this.deps.v(x));
    const memo = this.levels[level]!.vmemo;
    const hit = memo.get(x);
    if (hit) return hit;
    if (x.k === 'load' && x.valid.k !== 'true') {
      const cond = this.b(x.valid, level);
      if (cond === 'false') return this.literal(x.fill, x.dtype);
      if (cond !== undefined) {
        const r = this.maskedLoad(x, cond, level);
        memo.set(x, r);
        return r;
      }
    }
    const r = this.node(x, level);
    if (this.shared.has(x) || level < at || r.depth > MAX_DEPTH) {
      const bound = { code: this.bind(r.code, level), ty: r.ty, depth: 0 };
      memo.set(x, bound);
      return bound;
    }
    return r;
  }

  literal(v: number, ty: Ty): Val {
    switch (ty) {
      case 'bool':
        return { code: v !== 0 ? 'true' : 'false', ty, depth: 0 };
      case 'i32': {
        const code = i32Literal(v);
        return { code: code.startsWith('-') ? `(${code})` : code, ty, depth: 0 };
      }
      case 'f32': {
        const l = f32Literal(v);
        if (l.special) this.lib.add('f32');
        return { code: l.code.startsWith('-') ? `(${l.code})` : l.code, ty, depth: 0 };
      }
    }
  }

  private scalar(n: string, dtype: DType): Val {
    const f = this.layout.uniform?.fields.find((x) => x.kind === 'scalar' && x.source === n);
    if (!f) throw new Error(`kernel ${this.kernel.name} uses scalar '${n}' it does not declare`);
    const raw: Val = { code: `u.${f.name}`, ty: f.type, depth: 0 };
    if (dtype === f.type) return raw;
    // An f32 field read as i32 follows `coerce` (wrapping truncation), not the saturating cast.
    if (f.type === 'f32' && dtype === 'i32') return { code: `i32(trunc(u.${f.name}))`, ty: 'i32', depth: 1 };
    return castCode(raw, dtype, this.lib);
  }

  /** `var t = fill; if (valid) { t = buf[index]; }` at level `at`. */
  private maskedLoad(x: Extract<VExpr, { k: 'load' }>, cond: string, at: number): Val {
    const fill = this.literal(x.fill, x.dtype);
    const load = this.plainLoad(x, at);
    const n = this.fresh();
    this.levels[at]!.stmts.push(`var ${n} = ${fill.code};`, `if ${cond} {`, `  ${n} = ${load.code};`, '}');
    return { code: n, ty: x.dtype, depth: 0 };
  }

  private plainLoad(x: Extract<VExpr, { k: 'load' }>, at: number): Val {
    const bi = this.layout.slotBinding[x.buf];
    if (bi === undefined) throw new Error(`kernel ${this.kernel.name}: slot ${x.buf} does not exist`);
    const ref = this.ref(bi, this.i(x.index, at));
    return x.dtype === 'bool' ? { code: `(${ref} != 0i)`, ty: 'bool', depth: 1 } : { code: ref, ty: x.dtype, depth: 0 };
  }

  /**
   * Element `idx` (a global element index) of binding `bi`: relative to the
   * binding's base element when the dispatch may be split (split.ts).
   */
  ref(bi: number, idx: string): string {
    const b = this.layout.bindings[bi]!;
    return b.base ? `${b.name}[${idx} - u.${b.base}]` : `${b.name}[${idx}]`;
  }

  /**
   * The vec4 holding element `idx` (a global element index, a multiple of 4) of binding `bi`, declared
   * array<vec4<...>> (vector.ts); relative to the binding's base element (a multiple of 4) when split.
   */
  vecRef(bi: number, idx: string): string {
    const b = this.layout.bindings[bi]!;
    return b.base ? `${b.name}[(${idx} - u.${b.base}) / 4]` : `${b.name}[${idx} / 4]`;
  }

  /** A call of helper `h`. */
  private call(h: Helper, args: readonly Val[], ty: Ty): Val {
    this.lib.add(h);
    return { code: `kiln_${h}(${args.map((a) => a.code).join(', ')})`, ty, depth: depthOf(args) };
  }

  private node(x: VExpr, at: number): Val {
    switch (x.k) {
      case 'load':
        return this.plainLoad(x, at);
      case 'index':
        return { code: this.i(x.i, at), ty: 'i32', depth: 1 };
      case 'unary':
        return castCode(this.unary(x.fn, this.v(x.x, at)), x.dtype, this.lib);
      case 'binary':
        return castCode(this.binary(x.fn, this.v(x.a, at), this.v(x.b, at)), x.dtype, this.lib);
      case 'where': {
        const c = constValue(x.c);
        if (c !== undefined) return this.v(c !== 0 ? x.a : x.b, at);
        const cond = castCode(this.v(x.c, at), 'bool', this.lib);
        const a = castCode(this.v(x.a, at), x.dtype, this.lib);
        const b = castCode(this.v(x.b, at), x.dtype, this.lib);
        return { code: `select(${b.code}, ${a.code}, ${cond.code})`, ty: x.dtype, depth: depthOf([cond, a, b]) };
      }
      case 'cast':
        return castCode(this.v(x.x, at), x.dtype, this.lib);
      case 'rand': {
        const key = this.v(x.key, at);
        const k =
          key.ty === 'i32' ? `bitcast<u32>(${key.code})` : `bitcast<u32>(${castCode(key, 'i32', this.lib).code})`;
        const salt = (Math.imul(x.salt >>> 0, 0x9e3779b9) >>> 0).toString(16);
        this.lib.add('rand');
        return {
          code: `kiln_rand(${k}, 0x${salt}u, bitcast<u32>(${this.i(x.i, at)}))`,
          ty: 'f32',
          depth: key.depth + 1,
        };
      }
      case 'const':
      case 'scalar':
      case 'acc':
        return this.v(x, at);
    }
  }

  private unary(fn: UnaryFn, a: Val): Val {
    const d = a.depth + 1;
    if (fn === 'not') {
      if (a.ty === 'bool') return { code: `(!${a.code})`, ty: 'bool', depth: d };
      if (a.ty === 'i32') return { code: `(${a.code} == 0i)`, ty: 'bool', depth: d };
      return { code: `((bitcast<u32>(${a.code}) << 1u) == 0u)`, ty: 'bool', depth: d };
    }
    if (a.ty !== 'f32') {
      const x = castCode(a, 'i32', this.lib);
      if (fn === 'neg') return { code: `(-${x.code})`, ty: 'i32', depth: d };
      if (fn === 'abs') return { code: `abs(${x.code})`, ty: 'i32', depth: d };
      throw new Error(`kernel ${this.kernel.name}: unary ${fn} on ${a.ty}`);
    }
    switch (fn) {
      case 'neg':
        return { code: `(-${a.code})`, ty: 'f32', depth: d };
      case 'recip':
        return { code: `(1.0 / ${a.code})`, ty: 'f32', depth: d };
      case 'abs':
      case 'round': // WGSL's round is half-to-even, as semantics.ts roundHalfEven
        return { code: `${fn}(${a.code})`, ty: 'f32', depth: d };
      default:
        return this.call(F32_UNARY[fn]!, [a], 'f32');
    }
  }

  private binary(fn: BinaryFn, a: Val, b: Val): Val {
    const d = depthOf([a, b]);
    if (fn === 'and' || fn === 'or') {
      const x = castCode(a, 'bool', this.lib);
      const y = castCode(b, 'bool', this.lib);
      return { code: `(${x.code} ${fn === 'and' ? '&' : '|'} ${y.code})`, ty: 'bool', depth: d };
    }
    if (a.ty === 'bool' && b.ty === 'bool' && (fn === 'eq' || fn === 'ne'))
      return { code: `(${a.code} ${COMPARE[fn]} ${b.code})`, ty: 'bool', depth: d };
    if (a.ty === 'f32') {
      const y = castCode(b, 'f32', this.lib);
      const op = ARITH[fn];
      if (op) return { code: `(${a.code} ${op} ${y.code})`, ty: 'f32', depth: d };
      switch (fn) {
        case 'div':
          return { code: `(${a.code} / ${y.code})`, ty: 'f32', depth: d };
        case 'max':
        case 'min':
        case 'pow':
        case 'lt':
        case 'le':
        case 'eq':
        case 'ne':
          return this.call(fn, [a, y], COMPARE[fn] ? 'bool' : 'f32');
        case 'mod':
          return this.call('fmod', [a, y], 'f32');
        default:
          throw new Error(`binary ${fn} on f32`);
      }
    }
    // i32 (bool operands of arithmetic as 0/1 i32)
    const x = castCode(a, 'i32', this.lib);
    const y = castCode(b, 'i32', this.lib);
    const op = ARITH[fn] ?? COMPARE[fn];
    if (op) return { code: `(${x.code} ${op} ${y.code})`, ty: COMPARE[fn] ? 'bool' : 'i32', depth: d };
    switch (fn) {
      case 'div':
        return this.call('idiv', [x, y], 'i32');
      case 'mod':
        return this.call('imod', [x, y], 'i32');
      case 'pow':
        return this.call('ipow', [x, y], 'i32');
      case 'max':
      case 'min':
        return { code: `${fn}(${x.code}, ${y.code})`, ty: 'i32', depth: d };
      default:
        throw new Error(`binary ${fn} on i32`);
    }
  }
}

function depthOf(xs: readonly Val[]): number {
  return 1 + Math.max(0, ...xs.map((x) => x.depth));
}
