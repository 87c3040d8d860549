// A seeded generator of valid `.kiln` programs (source text), NNSmith-style:
// every step picks a builtin and operands whose shapes make it valid, so a
// generated program that fails to check is a generator bug (the campaign
// counts them). Shapes have rank 0..4, dims 1..5 and often a symbolic
// leading batch dim B.
//
// Values stay in numerically safe ranges so a mismatch is a bug, not an
// overflow: every value carries a bound on its magnitude, and an operand
// whose bound is too large for the op (exp, products, sums) is clipped first;
// domain-restricted ops get safe arguments (log(x*x + 1), a / (b*b + 1)).
// Discontinuous ops (floor, comparisons, argmax, mod, casts to i32) only see
// "exact" values, leaves and what is computed exactly from them, because a
// float64 reference and an f32 kernel may round a computed value to
// opposite sides of a step.

import { mulberry32 } from '../runtime/mulberry32.js';
import { OPTIMIZER_NAMES } from '../compiler/optimizers/catalog.js';

export type Dim = number | 'B';
export type DT = 'f32' | 'i32' | 'bool';

interface Val {
  readonly name: string;
  readonly dtype: DT;
  readonly shape: readonly Dim[];
  /** An upper bound on |value| (B counted as MAX_B). */
  readonly bound: number;
  /** Computed without rounding from leaves: safe for discontinuous ops. */
  readonly exact: boolean;
  /** The f32 leaves (params and inputs) the value depends on. */
  readonly deps: ReadonlySet<string>;
}

export interface Generated {
  readonly seed: number;
  readonly source: string;
  /** The builtins (and operators) the program uses. */
  readonly builtins: readonly string[];
  readonly train: boolean;
}

export interface GenerateOptions {
  /** Most op steps (default 10). */
  readonly maxSteps?: number;
  /** Emit a train block (default: half of the programs). */
  readonly train?: boolean;
  /** Relative weights of builtins (coverage steering); missing: 1. */
  readonly weights?: ReadonlyMap<string, number>;
  /**
   * Add outputs `fwdrev_jvp = jvp(loss, w, t)` and `fwdrev_grad = sum(grad(loss, w) * t)`
   * for a param w: forward and reverse mode must agree (default: 30% of the programs).
   */
  readonly fwdrev?: boolean;
}

/** The largest batch size the runners bind B to (bounds count B as this). */
export const MAX_B = 4;

/** The most nested grad/jvp behind a value. */
export const MAX_ORDER = 2;

const size = (d: Dim): number => (d === 'B' ? MAX_B : d);
const numel = (s: readonly Dim[]): number => s.reduce<number>((a, d) => a * size(d), 1);
const fmtShape = (s: readonly Dim[]): string => `[${s.join(', ')}]`;
const fmtNum = (x: number): string => (Number.isInteger(x) ? `${x}.0` : String(x));
const sameShape = (a: readonly Dim[], b: readonly Dim[]) => a.length === b.length && a.every((d, i) => d === b[i]);

class Gen {
  readonly rnd: () => number;
  readonly vals: Val[] = [];
  readonly inputs: string[] = [];
  readonly params: string[] = [];
  readonly fns: string[] = [];
  readonly lines: string[] = [];
  readonly used = new Set<string>();
  readonly leafType = new Map<string, { shape: readonly Dim[] }>();
  /** Nesting depth of grad/jvp behind each value (the derivative graph grows fast with it). */
  readonly order = new Map<string, number>();
  private n = 0;

  constructor(
    seed: number,
    readonly weights: ReadonlyMap<string, number>,
  ) {
    this.rnd = mulberry32(seed);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }
  fresh(prefix: string): string {
    return `${prefix}${this.n++}`;
  }

  randShape(minRank = 1, maxRank = 3): Dim[] {
    const rank = this.int(minRank, maxRank);
    const s: Dim[] = Array.from({ length: rank }, () => this.int(1, 5));
    if (rank > 0 && this.chance(0.6)) s[0] = 'B';
    return s;
  }

  input(dtype: DT, shape: readonly Dim[]): Val {
    const name = this.fresh(dtype === 'f32' ? 'x' : dtype === 'i32' ? 'k' : 'c');
    this.inputs.push(`${name}: ${dtype}${fmtShape(shape)}`);
    const v: Val = {
      name,
      dtype,
      shape,
      bound: 2,
      exact: true,
      deps: new Set(dtype === 'f32' ? [name] : []),
    };
    if (dtype === 'f32') this.leafType.set(name, { shape });
    if (dtype !== 'i32') this.vals.push(v);
    return v;
  }

  param(shape: readonly Dim[], init?: string): Val {
    const name = this.fresh('w');
    const inits: [string, number][] = [
      ['zeros', 0],
      ['ones', 1],
      ['constant(0.5)', 0.5],
      ['uniform(-1.0, 1.0)', 1],
      ['glorot_uniform', 1],
      ['glorot_normal', 2],
      ['he_uniform', 2],
      ['normal(std = 0.5)', 3],
    ];
    const [text, bound] = init ? [init, 1] : this.pick(inits);
    this.params.push(`  param ${name}: f32${fmtShape(shape)} = ${text}`);
    this.leafType.set(name, { shape });
    const v: Val = { name, dtype: 'f32', shape, bound: Math.max(bound, 0.5), exact: false, deps: new Set([name]) };
    this.vals.push(v);
    return v;
  }

  /** A value of dtype `dt` satisfying `ok`, or a new input of a random shape. */
  operand(ok: (v: Val) => boolean = () => true, dt: DT = 'f32'): Val {
    const c = this.vals.filter((v) => v.dtype === dt && ok(v));
    // Prefer recent values so the program is a chain, not a fan of leaves.
    if (c.length > 0 && this.chance(0.9)) return this.chance(0.6) ? c[c.length - 1]! : this.pick(c);
    // A new input of a shape `ok` accepts (tried on a stand-in value first).
    for (let i = 0; i < 20; i++) {
      const shape = this.randShape(0, 4);
      const probe: Val = { name: '_', dtype: dt, shape, bound: 2, exact: true, deps: new Set() };
      if (ok(probe)) return this.input(dt, shape);
    }
    return this.input(dt, [2, 3]);
  }

  /** A same-shaped partner for `a` (a value of that shape, a suffix shape, or a literal). */
  partner(a: Val): { text: string; bound: number; exact: boolean; deps: ReadonlySet<string> } {
    const same = this.vals.filter((v) => v !== a && v.dtype === 'f32' && sameShape(v.shape, a.shape));
    const r = this.rnd();
    if (r < 0.5 && same.length > 0) {
      const v = this.pick(same);
      return { text: v.name, bound: v.bound, exact: v.exact, deps: v.deps };
    }
    if (r < 0.8 && a.shape.length > 0) {
      const cut = this.int(0, a.shape.length);
      const suffix = a.shape.slice(cut);
      const v = this.chance(0.5) && !suffix.includes('B') ? this.param(suffix) : this.input('f32', suffix);
      return { text: v.name, bound: v.bound, exact: v.exact, deps: v.deps };
    }
    const lit = this.pick([0.5, 2, -1.5, 0.25, 3]);
    return { text: fmtNum(lit), bound: Math.abs(lit), exact: true, deps: new Set() };
  }

  /** `v` as an operand whose magnitude is at most `lim` (clipped when its bound is larger). */
  bounded(v: Val, lim: number): { text: string; bound: number } {
    if (v.bound <= lim) return { text: v.name, bound: v.bound };
    this.used.add('clip');
    return { text: `clip(${v.name}, ${fmtNum(-lim)}, ${fmtNum(lim)})`, bound: lim };
  }

  emit(
    covers: readonly string[],
    expr: string,
    dtype: DT,
    shape: readonly Dim[],
    bound: number,
    exact: boolean,
    deps: Iterable<string>,
  ): Val {
    for (const c of covers) this.used.add(c);
    const name = this.fresh('v');
    this.lines.push(`  ${name} = ${expr}`);
    const v: Val = { name, dtype, shape, bound, exact, deps: new Set(deps) };
    const uses = expr.match(/\b[vxw]\d+\b/g) ?? [];
    const below = Math.max(0, ...uses.map((u) => this.order.get(u) ?? 0));
    this.order.set(name, below + (covers.includes('grad') || covers.includes('jvp') ? 1 : 0));
    this.vals.push(v);
    return v;
  }
}

const union = (...xs: ReadonlySet<string>[]): Set<string> => new Set(xs.flatMap((x) => [...x]));

// ---------------------------------------------------------------- ops

type Op = (g: Gen) => void;

const SMOOTH: readonly [string, (b: number) => number][] = [
  ['sin', () => 1],
  ['cos', () => 1],
  ['tanh', () => 1],
  ['sigmoid', () => 1],
  ['erf', () => 1],
  ['relu', (b) => b],
  ['abs', (b) => b],
  ['elu', (b) => b],
  ['gelu', (b) => b],
  ['gelu_tanh', (b) => b],
  ['silu', (b) => b],
  ['softplus', (b) => b + 1],
];

function unary(g: Gen): void {
  const x = g.operand();
  const r = g.rnd();
  if (r < 0.35) {
    const [f, bf] = g.pick(SMOOTH);
    g.emit([f], `${f}(${x.name})`, 'f32', x.shape, bf(x.bound), f === 'abs' || f === 'relu' ? x.exact : false, x.deps);
  } else if (r < 0.45) {
    const b = g.bounded(x, 3);
    const f = g.pick(['exp', 'expm1']);
    g.emit([f], `${f}(${b.text})`, 'f32', x.shape, Math.exp(b.bound), false, x.deps);
  } else if (r < 0.6) {
    const [f, e, bf] = g.pick<[string, string, (b: number) => number]>([
      ['log', `log(${x.name} * ${x.name} + 1.0)`, (b) => Math.log(b * b + 1)],
      ['log1p', `log1p(abs(${x.name}))`, (b) => Math.log1p(b)],
      ['sqrt', `sqrt(${x.name} * ${x.name} + 0.5)`, (b) => Math.sqrt(b * b + 0.5)],
      ['rsqrt', `rsqrt(${x.name} * ${x.name} + 0.5)`, () => 1.5],
    ]);
    const b = g.bounded(x, 100);
    g.emit([f], e.replaceAll(x.name, b.text), 'f32', x.shape, bf(b.bound), false, x.deps);
  } else if (r < 0.7) {
    const a = g.pick([0.01, 0.1, 0.2]);
    g.emit(['leaky_relu'], `leaky_relu(${x.name}, alpha = ${a})`, 'f32', x.shape, x.bound, false, x.deps);
  } else if (r < 0.8) {
    const f = g.pick(['neg', 'stop_gradient', 'dropout', 'rand_like']);
    const e =
      f === 'neg'
        ? `-${x.name}`
        : f === 'dropout'
          ? `dropout(${x.name}, ${g.pick([0.1, 0.5])})`
          : f === 'rand_like'
            ? `${x.name} * rand_like(${x.name})`
            : `stop_gradient(${x.name}) * 0.5 + ${x.name}`;
    g.emit([f], e, 'f32', x.shape, f === 'stop_gradient' ? 1.5 * x.bound : x.bound, f === 'neg' && x.exact, x.deps);
  } else {
    // Steps only on exact values: an f64 and an f32 evaluation agree on which side of a step they are.
    const e = g.operand((v) => v.exact);
    const f = g.pick(['floor', 'ceil', 'round', 'sign']);
    g.emit([f], `${f}(${e.name})`, 'f32', e.shape, e.bound + 1, true, e.deps);
  }
}

function binary(g: Gen): void {
  const a = g.operand();
  const p = g.partner(a);
  const r = g.rnd();
  const deps = union(a.deps, p.deps);
  if (r < 0.45) {
    const op = g.pick(['+', '-', '*']);
    if (op === '*') {
      const x = g.bounded(a, 4);
      const y = p.bound > 4 ? `clip(${p.text}, -4.0, 4.0)` : p.text;
      g.emit(['mul'], `${x.text} * ${y}`, 'f32', a.shape, x.bound * Math.min(p.bound, 4), false, deps);
    } else {
      g.emit([op === '+' ? 'add' : 'sub'], `${a.name} ${op} ${p.text}`, 'f32', a.shape, a.bound + p.bound, false, deps);
    }
  } else if (r < 0.6) {
    const f = g.pick(['maximum', 'minimum']);
    g.emit([f], `${f}(${a.name}, ${p.text})`, 'f32', a.shape, Math.max(a.bound, p.bound), a.exact && p.exact, deps);
  } else if (r < 0.75) {
    const x = g.bounded(a, 10);
    g.emit(['div'], `${x.text} / (${p.text} * ${p.text} + 1.0)`, 'f32', a.shape, x.bound, false, deps);
  } else if (r < 0.88) {
    const base = g.bounded(a, 4);
    const ex = p.bound > 2 ? `clip(${p.text}, -2.0, 2.0)` : p.text;
    const form = g.chance(0.5)
      ? `pow(sqrt(${base.text} * ${base.text} + 1.0), ${ex})`
      : `sqrt(${base.text} * ${base.text} + 1.0) ** ${ex}`;
    g.emit(['pow', 'sqrt'], form, 'f32', a.shape, (base.bound * base.bound + 1) ** 1 + 1, false, deps);
  } else {
    const e = g.operand((v) => v.exact);
    g.emit(['mod'], `${e.name} % 1.5`, 'f32', e.shape, 1.5, false, e.deps);
  }
}

function select(g: Gen): void {
  const e = g.operand((v) => v.exact);
  const x = g.operand((v) => sameShape(v.shape, e.shape));
  const same = sameShape(x.shape, e.shape);
  const y = same ? g.partner(x) : { text: '0.5', bound: 0.5, exact: true, deps: new Set<string>() };
  const xs = same ? x.name : '1.0';
  const cmp = g.pick(['>', '<', '>=', '<=', '==', '!=']);
  const CMP: Readonly<Record<string, string>> = {
    '>': 'gt',
    '<': 'lt',
    '>=': 'ge',
    '<=': 'le',
    '==': 'eq',
    '!=': 'ne',
  };
  const cmpName = CMP[cmp]!;
  let cond = `${e.name} ${cmp} ${fmtNum(g.pick([0, 0.5, -1]))}`;
  const covers = [cmpName];
  if (g.chance(0.3)) {
    const and = g.chance(0.5);
    cond = and ? `(${cond}) && !(${e.name} > 1.0)` : `(${cond}) || (${e.name} < -1.5)`;
    covers.push(...(and ? ['and', 'not', 'gt'] : ['or', 'lt']));
  }
  const bound = Math.max(same ? x.bound : 1, y.bound);
  const deps = union(same ? x.deps : new Set(), y.deps);
  const r = g.rnd();
  if (r < 0.4) g.emit([...covers, 'where'], `where(${cond}, ${xs}, ${y.text})`, 'f32', e.shape, bound, false, deps);
  else if (r < 0.7) g.emit([...covers, 'ternary'], `${cond} ? ${xs} : ${y.text}`, 'f32', e.shape, bound, false, deps);
  else g.emit([...covers, 'cast'], `cast(${cond}, f32) * ${xs}`, 'f32', e.shape, same ? x.bound : 1, false, deps);
}

function integer(g: Gen): void {
  const r = g.rnd();
  if (r < 0.5) {
    const e = g.operand((v) => v.exact && v.bound <= 100);
    const k = `cast(floor(${e.name}), i32)`;
    const e2 = g.chance(0.5) ? `cast(${k} * 2 + ${k} % 3 - maximum(${k}, 1), f32)` : `cast(${k}, f32)`;
    g.emit(['cast', 'floor', 'mod', 'maximum'], e2, 'f32', e.shape, 3 * e.bound + 4, true, new Set());
  } else {
    const e = g.operand((v) => v.exact && v.shape.length > 0);
    const f = g.pick(['argmax', 'argmin']);
    const axis = g.int(0, e.shape.length - 1);
    const shape = e.shape.filter((_, i) => i !== axis);
    g.emit([f, 'cast'], `cast(${f}(${e.name}, axis = ${axis}), f32)`, 'f32', shape, size(e.shape[axis]!), true, []);
  }
}

function reduce(g: Gen): void {
  const x = g.operand((v) => v.shape.length > 0);
  const rank = x.shape.length;
  const f = g.pick(['sum', 'mean', 'max', 'min', 'logsumexp', 'var', 'std', 'prod']);
  let axes: number[];
  const form = g.rnd();
  if (form < 0.25) axes = [...x.shape.keys()];
  else if (form < 0.6) axes = [g.int(0, rank - 1)];
  else axes = [...x.shape.keys()].filter(() => g.chance(0.5));
  if (axes.length === 0) axes = [rank - 1];
  const n = axes.reduce((a, i) => a * size(x.shape[i]!), 1);
  // std's gradient at zero variance is 0/0; prod of many factors is not bounded.
  if (f === 'std' && axes.some((i) => x.shape[i] === 'B' || x.shape[i] === 1)) return;
  if (f === 'prod' && (n > 8 || axes.some((i) => x.shape[i] === 'B'))) return;
  const keep = g.chance(0.3);
  const axisText =
    form < 0.25 && g.chance(0.5)
      ? ''
      : axes.length === 1
        ? `, axis = ${g.chance(0.3) ? axes[0]! - rank : axes[0]}`
        : `, axis = ${fmtShape(axes)}`;
  const shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const arg = f === 'prod' ? g.bounded(x, 1.5) : f === 'var' ? g.bounded(x, 10) : { text: x.name, bound: x.bound };
  const bound =
    f === 'sum'
      ? arg.bound * n
      : f === 'logsumexp'
        ? arg.bound + Math.log(n)
        : f === 'var'
          ? arg.bound * arg.bound
          : f === 'prod'
            ? arg.bound ** n
            : arg.bound;
  g.emit([f], `${f}(${arg.text}${axisText}${keep ? ', keepdims = true' : ''})`, 'f32', shape, bound, false, x.deps);
}

function neural(g: Gen): void {
  const x = g.operand((v) => v.shape.length > 0);
  const rank = x.shape.length;
  const last = x.shape[rank - 1]!;
  const r = g.rnd();
  if (r < 0.4) {
    const f = g.pick(['softmax', 'log_softmax']);
    const axis = g.int(-rank, rank - 1);
    const ax = g.chance(0.4) ? '' : `, axis = ${axis}`;
    const n = size(x.shape[axis < 0 ? rank + axis : axis]!);
    const bound = f === 'softmax' ? 1 : 2 * x.bound + Math.log(n);
    g.emit([f], `${f}(${x.name}${ax})`, 'f32', x.shape, bound, false, x.deps);
  } else if (typeof last === 'number' && last >= 2) {
    const gamma = g.param([last], g.pick(['ones', 'uniform(0.5, 1.5)']));
    if (g.chance(0.5)) {
      const beta = g.param([last], 'zeros');
      const eps = g.chance(0.5) ? '' : ', eps = 1e-3';
      g.emit(
        ['layer_norm'],
        `layer_norm(${x.name}, ${gamma.name}, ${beta.name}${eps})`,
        'f32',
        x.shape,
        Math.sqrt(last) * 1.5 + 1,
        false,
        union(x.deps, gamma.deps, beta.deps),
      );
    } else {
      g.emit(
        ['rms_norm'],
        `rms_norm(${x.name}, ${gamma.name}, eps = 1e-3)`,
        'f32',
        x.shape,
        Math.sqrt(last) * 1.5,
        false,
        union(x.deps, gamma.deps),
      );
    }
  }
}

function linalg(g: Gen): void {
  const x = g.operand((v) => v.shape.length > 0 && typeof v.shape[v.shape.length - 1] === 'number');
  const rank = x.shape.length;
  const k = x.shape[rank - 1] as number;
  const m = g.int(1, 5);
  const a = g.bounded(x, 3);
  const r = g.rnd();
  if (r < 0.5) {
    const w = g.param([k, m], g.pick(['glorot_uniform', 'uniform(-0.5, 0.5)', 'he_uniform']));
    const e = g.chance(0.7) ? `${a.text} @ ${w.name}` : `matmul(${a.text}, ${w.name})`;
    g.emit(['matmul'], e, 'f32', [...x.shape.slice(0, -1), m], a.bound * k * 2, false, union(x.deps, w.deps));
  } else if (r < 0.65 && rank === 1) {
    const w = g.param([k], 'uniform(-1.0, 1.0)');
    g.emit(['dot'], `dot(${a.text}, ${w.name})`, 'f32', [], a.bound * k, false, union(x.deps, w.deps));
  } else if (rank === 2) {
    const w = g.param([k, m], 'uniform(-1.0, 1.0)');
    const [spec, shape] = g.chance(0.5) ? ['ij,jk->ik', [x.shape[0]!, m]] : ['ij,jk->ki', [m, x.shape[0]!]];
    g.emit(
      ['einsum'],
      `einsum("${spec}", ${a.text}, ${w.name})`,
      'f32',
      shape,
      a.bound * k,
      false,
      union(x.deps, w.deps),
    );
  } else if (rank >= 2) {
    const perm = [...x.shape.keys()];
    [perm[rank - 1], perm[rank - 2]] = [perm[rank - 2]!, perm[rank - 1]!];
    g.emit(
      ['transpose_last2'],
      `${x.name}.T`,
      'f32',
      perm.map((i) => x.shape[i]!),
      x.bound,
      x.exact,
      x.deps,
    );
  }
}

function shapeOp(g: Gen): void {
  const x = g.operand((v) => v.shape.length > 0);
  const rank = x.shape.length;
  const r = g.rnd();
  const keep = (covers: string[], e: string, shape: readonly Dim[]) =>
    g.emit(covers, e, 'f32', shape, x.bound, x.exact, x.deps);
  if (r < 0.12) {
    const hasB = x.shape[0] === 'B' && !x.shape.slice(1).includes('B');
    const rest = numel(hasB ? x.shape.slice(1) : x.shape);
    if (x.shape.slice(hasB ? 1 : 0).includes('B')) return;
    const divs = Array.from({ length: rest }, (_, i) => i + 1).filter((d) => rest % d === 0);
    const a = g.pick(divs);
    const target: Dim[] = g.chance(0.5) ? [rest] : [a, rest / a];
    const full = hasB ? ['B' as Dim, ...target] : target;
    const text = hasB && g.chance(0.5) ? fmtShape(['B', -1 as unknown as Dim, ...target.slice(1)]) : fmtShape(full);
    keep(['reshape'], `reshape(${x.name}, ${text})`, full);
  } else if (r < 0.24) {
    const perm = [...x.shape.keys()].sort(() => g.rnd() - 0.5);
    keep(
      ['transpose'],
      `transpose(${x.name}, ${fmtShape(perm)})`,
      perm.map((i) => x.shape[i]!),
    );
  } else if (r < 0.32) {
    if (x.shape.includes('B')) {
      keep(['broadcast_to'], `broadcast_to(${x.name}, ${fmtShape([3, ...x.shape])})`, [3, ...x.shape]);
    } else {
      const lead: Dim = g.inputs.some((d) => /\[B\b/.test(d)) ? 'B' : 3;
      const shape: Dim[] = [lead, ...x.shape.map((d) => (d === 1 && g.chance(0.5) ? 3 : d))];
      keep(['broadcast_to'], `broadcast_to(${x.name}, ${fmtShape(shape)})`, shape);
    }
  } else if (r < 0.44) {
    const axis = g.int(0, rank - 1);
    if (x.shape[axis] === 'B') return;
    const other = g.operand(
      (v) => v !== x && v.shape.length === rank && v.shape.every((d, i) => i === axis || d === x.shape[i]),
    );
    if (
      other.shape.length !== rank ||
      !other.shape.every((d, i) => i === axis || d === x.shape[i]) ||
      other.shape[axis] === 'B'
    )
      return;
    const shape = x.shape.map((d, i) => (i === axis ? (d as number) + (other.shape[axis] as number) : d));
    g.emit(
      ['concat'],
      `concat([${x.name}, ${other.name}], ${axis})`,
      'f32',
      shape,
      Math.max(x.bound, other.bound),
      x.exact && other.exact,
      union(x.deps, other.deps),
    );
  } else if (r < 0.52) {
    const axis = g.int(0, rank);
    const y = g.partner(x);
    const second =
      /^[a-z]/.test(y.text) && !g.vals.some((v) => v.name === y.text && sameShape(v.shape, x.shape))
        ? `tanh(${x.name})`
        : y.text.match(/^[a-z]/)
          ? y.text
          : `${x.name} * ${y.text}`;
    const shape = [...x.shape.slice(0, axis), 2, ...x.shape.slice(axis)];
    g.emit(
      ['stack'],
      `stack([${x.name}, ${second}], ${axis})`,
      'f32',
      shape,
      Math.max(x.bound * 3, y.bound),
      false,
      union(x.deps, y.deps),
    );
  } else if (r < 0.62) {
    const pads = x.shape.map((d) => (d === 'B' ? [0, 0] : [g.int(0, 2), g.int(0, 2)]));
    const shape = x.shape.map((d, i) => (d === 'B' ? d : d + pads[i]![0]! + pads[i]![1]!));
    keep(['pad'], `pad(${x.name}, [${pads.map((p) => fmtShape(p)).join(', ')}])`, shape);
  } else if (r < 0.72) {
    const axis = g.int(0, rank - 1);
    const d = x.shape[axis]!;
    if (d === 'B') return;
    if (g.chance(0.5) && d >= 2) {
      const lo = g.int(0, d - 1);
      const hi = g.int(lo + 1, d);
      const idx = x.shape.map((_, i) => (i === axis ? `${lo}:${hi}` : ':'));
      keep(
        [],
        `${x.name}[${idx.join(', ')}]`,
        x.shape.map((s, i) => (i === axis ? hi - lo : s)),
      );
    } else {
      const i = g.chance(0.5) ? g.int(0, d - 1) : -g.int(1, d);
      const text =
        axis === rank - 1 && g.chance(0.5)
          ? `[..., ${i}]`
          : `[${x.shape.map((_, j) => (j === axis ? String(i) : ':')).join(', ')}]`;
      keep(
        [],
        `${x.name}${text}`,
        x.shape.filter((_, j) => j !== axis),
      );
    }
  } else if (r < 0.82) {
    const axis = g.int(0, rank - 1);
    const d = x.shape[axis]!;
    if (d === 'B' || d < 2) return;
    const idxShape: Dim[] = g.chance(0.5) ? [g.int(1, 4)] : [g.int(1, 3), g.int(1, 3)];
    const k = g.input('i32', idxShape);
    const shape = [...x.shape.slice(0, axis), ...idxShape, ...x.shape.slice(axis + 1)];
    keep(['take'], `take(${x.name}, ${k.name}, ${axis})`, shape);
  } else if (r < 0.9) {
    const shift = g.pick([1, -1, 2, -3]);
    const axis = g.int(0, rank - 1);
    keep(
      ['roll'],
      g.chance(0.3) && axis === 0 ? `roll(${x.name}, ${shift})` : `roll(${x.name}, ${shift}, axis = ${axis})`,
      x.shape,
    );
  } else {
    const n = g.int(2, 5);
    const kShape: Dim[] = g.chance(0.6) ? ['B'] : ['B', g.int(1, 3)];
    const k = g.input('i32', kShape);
    g.emit(['one_hot'], `one_hot(${k.name}, ${n})`, 'f32', [...kShape, n], 1, true, []);
  }
}

function image(g: Gen): void {
  const existing = g.vals.filter(
    (v) =>
      v.dtype === 'f32' &&
      v.shape.length === 4 &&
      v.shape[0] === 'B' &&
      v.shape.slice(1).every((d) => typeof d === 'number' && d >= 2),
  );
  const x =
    existing.length > 0 && g.chance(0.7)
      ? g.pick(existing)
      : g.input('f32', ['B', g.int(1, 3), g.int(3, 7), g.int(3, 7)]);
  const [, c, h, w] = x.shape as [Dim, number, number, number];
  const r = g.rnd();
  if (r < 0.5) {
    const groups = c % 2 === 0 && g.chance(0.3) ? 2 : 1;
    const o = groups * g.int(1, 2);
    const kh = g.int(1, Math.min(3, h));
    const kw = g.int(1, Math.min(3, w));
    const stride = g.pick([1, 1, 2]);
    const padding = g.pick([0, 0, 1]);
    const dilation = kh <= 2 && kw <= 2 && h >= 4 && w >= 4 ? g.pick([1, 2]) : 1;
    const oh = Math.floor((h + 2 * padding - dilation * (kh - 1) - 1) / stride) + 1;
    const ow = Math.floor((w + 2 * padding - dilation * (kw - 1) - 1) / stride) + 1;
    if (oh < 1 || ow < 1) return;
    const wt = g.param([o, c / groups, kh, kw], g.pick(['glorot_uniform', 'he_uniform', 'uniform(-0.5, 0.5)']));
    const a = g.bounded(x, 3);
    const opts = [
      stride !== 1 || g.chance(0.2) ? `stride = ${stride}` : '',
      padding !== 0 ? `padding = ${padding}` : '',
      dilation !== 1 ? `dilation = ${dilation}` : '',
      groups !== 1 ? `groups = ${groups}` : '',
    ].filter((s) => s !== '');
    g.emit(
      ['conv2d'],
      `conv2d(${[a.text, wt.name, ...opts].join(', ')})`,
      'f32',
      ['B', o, oh, ow],
      a.bound * (c / groups) * kh * kw * 2,
      false,
      union(x.deps, wt.deps),
    );
  } else {
    const f = g.pick(['max_pool2d', 'avg_pool2d']);
    const sz = g.int(1, Math.min(3, h, w));
    const stride = g.chance(0.5) ? sz : g.int(1, 2);
    const padding = sz >= 2 && g.chance(0.3) ? 1 : 0;
    const oh = Math.floor((h + 2 * padding - sz) / stride) + 1;
    const ow = Math.floor((w + 2 * padding - sz) / stride) + 1;
    const opts = [stride !== sz ? `stride = ${stride}` : '', padding ? `padding = ${padding}` : ''].filter((s) => s);
    g.emit(
      [f],
      `${f}(${[x.name, String(sz), ...opts].join(', ')})`,
      'f32',
      ['B', c, oh, ow],
      x.bound,
      f === 'max_pool2d' && x.exact,
      x.deps,
    );
  }
}

function loss(g: Gen): void {
  const x = g.operand((v) => v.shape.length > 0);
  const r = g.rnd();
  if (r < 0.6) {
    const p = g.partner(x);
    const f = g.pick(['mse', 'mae', 'huber', 'sigmoid_binary_cross_entropy']);
    const a = g.bounded(x, 10);
    const t = f === 'sigmoid_binary_cross_entropy' ? `sigmoid(${p.text})` : p.text;
    if (f === 'sigmoid_binary_cross_entropy') g.used.add('sigmoid');
    const e = f === 'huber' && g.chance(0.5) ? `huber(${a.text}, ${t}, delta = 0.5)` : `${f}(${a.text}, ${t})`;
    const bound = f === 'mse' ? (a.bound + p.bound) ** 2 : a.bound + p.bound + 1;
    g.emit([f], e, 'f32', x.shape, bound, false, union(x.deps, p.deps));
  } else {
    const last = x.shape[x.shape.length - 1]!;
    if (last === 'B' || last < 2) return;
    const a = g.bounded(x, 10);
    if (g.chance(0.5)) {
      const k = g.input('i32', x.shape.slice(0, -1));
      g.emit(
        ['softmax_cross_entropy'],
        `softmax_cross_entropy(${a.text}, ${k.name})`,
        'f32',
        x.shape.slice(0, -1),
        2 * a.bound + Math.log(last),
        false,
        x.deps,
      );
    } else {
      const same = g.vals.filter((v) => v !== x && v.dtype === 'f32' && sameShape(v.shape, x.shape));
      const p = same.length > 0 ? g.pick(same) : x;
      const probs = p === x ? `tanh(${x.name})` : p.name;
      g.emit(
        ['softmax_cross_entropy', 'softmax'],
        `softmax_cross_entropy(${a.text}, softmax(${probs}))`,
        'f32',
        x.shape.slice(0, -1),
        2 * a.bound + Math.log(last),
        false,
        union(x.deps, p.deps),
      );
    }
  }
}

function differentiate(g: Gen): void {
  // At most second order (Hessian-vector products): a sixth-order program
  // compiled for minutes in the first campaign (README "Fuzzing").
  const v = g.operand((u) => u.deps.size > 0 && (g.order.get(u.name) ?? 0) < MAX_ORDER);
  if ((g.order.get(v.name) ?? 0) >= MAX_ORDER) return;
  if (v.deps.size === 0) return;
  const leaf = g.pick([...v.deps].sort());
  const type = g.leafType.get(leaf);
  if (!type) return;
  const b = g.bounded(v, 3);
  if (g.chance(0.6)) {
    const scalarForm = g.pick([`sum(${b.text} * ${b.text})`, `mean(tanh(${b.text}))`, `sum(sin(${b.text}))`]);
    g.emit(['grad'], `grad(${scalarForm}, ${leaf})`, 'f32', type.shape, 8 * numel(v.shape), false, union(v.deps));
  } else {
    const tangent = g.pick([`tanh(${leaf})`, `${leaf} * 0.5 + 1.0`, `cos(${leaf})`]);
    g.emit(
      ['jvp'],
      `jvp(tanh(${b.text}), ${leaf}, ${tangent})`,
      'f32',
      v.shape,
      2 * numel(type.shape) + 2,
      false,
      union(v.deps),
    );
  }
}

function callFn(g: Gen): void {
  const x = g.operand();
  const p = g.partner(x);
  const name = `f${g.fns.length}`;
  const body = g.pick(['tanh(a) * b + a', 'a * sigmoid(b)', 'maximum(a, b) - minimum(a, b) * 0.5']);
  g.fns.push(`fn ${name}(a, b) = ${body}`);
  const xa = g.bounded(x, 4);
  g.emit(
    ['fn'],
    `${name}(${xa.text}, ${p.bound > 4 ? `clip(${p.text}, -4.0, 4.0)` : p.text})`,
    'f32',
    x.shape,
    4 * 4 + 4,
    false,
    union(x.deps, p.deps),
  );
}

const OPS: readonly [string, Op][] = [
  ['unary', unary],
  ['binary', binary],
  ['select', select],
  ['integer', integer],
  ['reduce', reduce],
  ['neural', neural],
  ['linalg', linalg],
  ['shape', shapeOp],
  ['image', image],
  ['loss', loss],
  ['differentiate', differentiate],
  ['fn', callFn],
];

/** One builtin class by weight (steering: a class's weight scales its chance). */
function pickOp(g: Gen): Op {
  const ws = OPS.map(([name]) => g.weights.get(name) ?? 1);
  let r = g.rnd() * ws.reduce((a, b) => a + b, 0);
  for (let i = 0; i < OPS.length; i++) {
    r -= ws[i]!;
    if (r <= 0) return OPS[i]![1];
  }
  return OPS[OPS.length - 1]![1];
}

function trainBlock(g: Gen): string {
  const opt = g.pick(OPTIMIZER_NAMES);
  const lr = g.pick([1e-3, 1e-2]);
  const lines = [`train m {`, `  minimize loss`, `  optimizer ${opt}(lr = ${lr})`];
  if (g.chance(0.2))
    lines.push(
      `  schedule ${g.pick(['cosine(steps = 100)', 'linear_warmup(warmup = 10)', 'exponential(rate = 0.9, steps = 10)'])}`,
    );
  if (g.chance(0.2)) lines.push(`  clip ${g.pick(['global_norm(1.0)', 'value(0.5)'])}`);
  // A forward-gradient step computes no Hessian: adahessian and sophia check
  // but get no training step (a finding of the first campaign, see README).
  if (g.chance(0.1) && opt !== 'adahessian' && opt !== 'sophia') lines.push('  gradient forward(directions = 2)');
  lines.push('}');
  return lines.join('\n');
}

/** A valid program for `seed`: model `m` with outputs `out*` and a scalar `loss`, maybe a train block. */
export function generate(seed: number, opts: GenerateOptions = {}): Generated {
  const g = new Gen(seed, opts.weights ?? new Map());
  g.input('f32', g.randShape());
  const steps = g.int(1, opts.maxSteps ?? 10);
  for (let i = 0; i < steps; i++) pickOp(g)(g);
  const f32 = g.vals.filter((v) => v.dtype === 'f32' && !g.inputs.some((d) => d.startsWith(`${v.name}:`)));
  const last = g.vals[g.vals.length - 1]!;
  const outs = new Set<Val>([last]);
  for (let i = 0; i < 2; i++) if (f32.length > 0 && g.chance(0.4)) outs.add(g.pick(f32));
  // The loss depends on every param, so training moves them all.
  if (g.params.length === 0) g.param([g.int(1, 3)], 'uniform(-1.0, 1.0)');
  const paramNames = g.params.map((p) => p.split(/\s+/)[2]!.replace(':', ''));
  const lossTerms = [...outs]
    .filter((v) => v.dtype === 'f32')
    .map((v) => `mean(tanh(${g.bounded(v, 20).text}))`)
    .concat(paramNames.map((p) => `mean(${p} * ${p}) * 0.1`));
  const outputLines = [...outs].map((v, i) => `  output out${i} = ${v.name}`);
  const train = opts.train ?? g.chance(0.5);
  const lossExpr = lossTerms.join(' + ');
  let lossLines = [`  output loss = ${lossExpr}`];
  if (opts.fwdrev ?? g.chance(0.3)) {
    const w = g.pick(paramNames);
    const t = g.pick([`cos(${w})`, `${w} * 0.5 + 1.0`, 'ones_like']);
    const tangent = t === 'ones_like' ? `${w} * 0.0 + 1.0` : t;
    lossLines = [
      `  lossv = ${lossExpr}`,
      '  output loss = lossv',
      `  output fwdrev_jvp = jvp(lossv, ${w}, ${tangent})`,
      `  output fwdrev_grad = sum(grad(lossv, ${w}) * (${tangent}))`,
    ];
    g.used.add('jvp');
    g.used.add('grad');
  }
  g.used.add('mean');
  g.used.add('tanh');
  const source = [
    ...g.fns,
    ...(g.fns.length > 0 ? [''] : []),
    `model m(${g.inputs.join(', ')}) {`,
    ...g.params,
    ...g.lines,
    ...outputLines,
    ...lossLines,
    '}',
    ...(train ? ['', trainBlock(g)] : []),
    '',
  ].join('\n');
  return { seed, source, builtins: [...g.used].sort(), train };
}
