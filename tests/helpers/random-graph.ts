// Random IR graphs for differential tests (NNSmith-style): every step picks
// an op and operands whose shapes make it valid, so every generated graph
// type-checks by construction. Ops: unary (f32, i32, bool), binary with NumPy
// broadcasting, where on comparisons, casts, reductions (keepdims, then
// sometimes reshaped away), reshape to random factorisations, permute,
// expand, strided slice, pad, concat, batched matmul, gather (i32 indices,
// some out of range), iota, rand, constants, dim (the run-time size of B),
// stop_gradient; shapes of rank 0..4 with dims 1..6 and sometimes a symbolic
// leading dim B (bound in `dims`). Inputs/params are created on demand
// (x0.., w0..). Outputs (1-3):
// the last f32 value and the loose ends (values nothing uses, flattened and
// concatenated when several), so every step is live.
//
//   fc.assert(fc.property(arbGraph(), ({ graph, inputs, params, dims }) => ...));
//
// Values stay finite: domain-restricted ops get safe arguments
// (log(x*x + 1), a / (c*c + 1), pow(sqrt(a*a + 1), clamp(c))), and values
// whose bound grows past a limit are clamped with max/min before they are
// multiplied or summed.
//
// Steps also build the patterns the optimiser rewrites (x*1, a+b and b+a,
// neg(neg x), reshape chains, reductions of constants, ...) so a rewrite
// test sees its rules fire.
//
// "Fuzzy" values: exp(log x) -> x and log(exp x) -> x change the last bit,
// which is harmless for continuous ops but flips discontinuous ones at ties.
// Values downstream of those patterns are marked fuzzy and never reach
// floor/ceil/round, comparisons, max/min (other than clamping to a
// constant), abs, mod, casts to integers, or gather indices. Everything else
// the optimiser does is exact on these graphs (constants are dyadic, so a
// folded sum c*n equals the sequential sum).

import fc from 'fast-check';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import {
  type BinaryFn,
  type Graph,
  IRBuilder,
  type Node,
  type NodeOf,
  type ReduceFn,
  topoSort,
} from '../../compiler/ir.js';
import { printGraph } from '../../compiler/print.js';
import {
  type DType,
  type Dim,
  type Shape,
  broadcastShapes,
  dimEq,
  dimMul,
  evalDim,
  evalShape,
  numel,
  shapeEq,
  sym,
} from '../../compiler/types.js';
import { rng } from './finite-diff.js';

export interface ArbGraphOptions {
  /** Most op steps per graph (default 20). */
  readonly maxSteps?: number;
  /** Give some leaves a leading symbolic dim `B` (default true). */
  readonly symbolic?: boolean;
}

export interface RandomGraph {
  readonly graph: Graph;
  readonly inputs: Map<string, RefTensor>;
  readonly params: Map<string, RefTensor>;
  /** Sizes of the symbolic dims, for `evaluate`'s env (a graph may use B where no leaf does). */
  readonly dims: Map<string, number>;
}

export interface RandomGraphSeed {
  readonly seed: number;
  readonly steps: number;
  readonly dataSeed: number;
}

/** The fast-check arbitrary; shrinking reduces the step count (a shorter graph is a prefix). */
export function arbGraph(opts: ArbGraphOptions = {}): fc.Arbitrary<RandomGraph> {
  return fc
    .record({
      seed: fc.integer(),
      steps: fc.integer({ min: 1, max: opts.maxSteps ?? 20 }),
      dataSeed: fc.integer(),
    })
    .map((s) => generateGraph(s, opts));
}

/** Builds the graph a seed describes (deterministic). */
export function generateGraph(s: RandomGraphSeed, opts: ArbGraphOptions = {}): RandomGraph {
  const gen = new Gen(rng(s.seed), rng(s.dataSeed), opts.symbolic ?? true);
  gen.leaf('input', 'f32');
  if (gen.chance(0.5)) gen.leaf(gen.chance(0.5) ? 'param' : 'input', 'f32');
  for (let i = 0; i < s.steps; i++) gen.step();
  const graph = gen.finish();
  const result: RandomGraph = { graph, inputs: gen.inputTensors, params: gen.paramTensors, dims: gen.dims };
  // fast-check prints counterexamples with this.
  Object.defineProperty(result, fc.toStringMethod, {
    value: () => `seed ${JSON.stringify(s)}\n${printGraph(graph)}`,
    enumerable: false,
  });
  return result;
}

// ---------------------------------------------------------------- tensor comparison

/**
 * Why `a` and `b` differ, or undefined when they agree: same dtype and
 * shape, and every pair of elements equal, both NaN, or (f32) within
 * `tol * max(1, |x|, |y|)` (relative, absolute below magnitude 1).
 */
export function mismatch(a: RefTensor, b: RefTensor, tol = 1e-9): string | undefined {
  if (a.dtype !== b.dtype) return `dtype ${a.dtype} vs ${b.dtype}`;
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
    return `shape [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (a.dtype === 'f32' && Math.abs(x - y) <= tol * Math.max(1, Math.abs(x), Math.abs(y))) continue;
    return `element ${i}: ${x} vs ${y}`;
  }
  return undefined;
}

/** True when the tensors agree (see `mismatch`); NaN equals NaN. */
export function evalClose(a: RefTensor, b: RefTensor, tol = 1e-9): boolean {
  return mismatch(a, b, tol) === undefined;
}

// ---------------------------------------------------------------- the generator

/** A value in the pool: its node, a bound on |value| (f32/i32), and whether it is fuzzy. */
interface Val {
  readonly node: Node;
  readonly bound: number;
  readonly fuzzy: boolean;
}

const MAX_NUMEL = 384;
const MAX_RANK = 4;
const I32_BOUND = 2 ** 31;
/** Dyadic, so sums and products of them are exact. */
const CONSTS = [0, 1, -1, 2, -2, 0.5, -0.5, 0.25, 1.5, 3];
const INT_CONSTS = [0, 1, -1, 2, 3, -2];

type Step = () => Val | undefined;

class Gen {
  readonly b = new IRBuilder();
  readonly pool: Val[] = [];
  readonly inputs: NodeOf<'input'>[] = [];
  readonly params: NodeOf<'param'>[] = [];
  readonly inputTensors = new Map<string, RefTensor>();
  readonly paramTensors = new Map<string, RefTensor>();
  readonly dims = new Map<string, number>();
  private readonly steps: readonly [number, Step][];

  constructor(
    private readonly next: () => number,
    private readonly data: () => number,
    private readonly symbolic: boolean,
  ) {
    this.dims.set('B', 2 + this.int(2));
    this.steps = [
      [14, () => this.unary()],
      [16, () => this.binary()],
      [6, () => this.where()],
      [5, () => this.cast()],
      [8, () => this.reduce()],
      [6, () => this.reshape()],
      [4, () => this.permute()],
      [4, () => this.expand()],
      [4, () => this.slice()],
      [3, () => this.pad()],
      [3, () => this.concat()],
      [4, () => this.matmul()],
      [3, () => this.gather()],
      [2, () => this.iota()],
      [2, () => this.constant()],
      [1, () => this.rand()],
      [18, () => this.pattern()],
      [
        3,
        () =>
          this.leaf(this.chance(0.5) ? 'param' : 'input', this.chance(0.8) ? 'f32' : this.chance(0.5) ? 'i32' : 'bool'),
      ],
    ];
  }

  // ---- randomness

  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
  /** A pool value satisfying `ok`, biased towards recent ones (deeper graphs). */
  val(ok: (v: Val) => boolean = () => true): Val | undefined {
    const c = this.pool.filter(ok);
    if (c.length === 0) return undefined;
    const r = this.next();
    return r < 0.5 ? c[c.length - 1]! : r < 0.75 ? c[c.length - 1 - this.int(Math.min(4, c.length))]! : this.pick(c);
  }

  // ---- shapes

  numel(shape: Shape): number {
    return evalShape(shape, this.dims).reduce((a, d) => a * d, 1);
  }
  fits(shape: Shape): boolean {
    return shape.length <= MAX_RANK && this.numel(shape) <= MAX_NUMEL;
  }
  randomShape(): Dim[] {
    const rank = this.pick([0, 1, 1, 2, 2, 2, 3, 3, 4]);
    const shape: Dim[] = Array.from({ length: rank }, () => 1 + this.int(6));
    if (rank > 0 && this.symbolic && this.chance(0.35)) shape[0] = sym('B');
    while (!this.fits(shape)) shape.pop();
    return shape;
  }
  broadcastable(a: Shape, c: Shape): Shape | undefined {
    const s = broadcastShapes(a, c);
    return typeof s !== 'string' && this.fits(s) ? s : undefined;
  }

  // ---- values

  add(node: Node, bound: number, fuzzy: boolean): Val {
    const v = {
      node,
      bound: node.dtype === 'bool' ? 1 : node.dtype === 'i32' ? Math.min(bound, I32_BOUND) : bound,
      fuzzy,
    };
    this.pool.push(v);
    return v;
  }
  constFor(dtype: DType): number {
    return dtype === 'f32' ? this.pick(CONSTS) : dtype === 'i32' ? this.pick(INT_CONSTS) : this.int(2);
  }
  /** A scalar constant Val (not added to the pool). */
  konst(dtype: DType): Val {
    const c = this.constFor(dtype);
    return { node: this.b.const(c, dtype), bound: Math.abs(c), fuzzy: false };
  }
  /** Clamps to [-to, to] with max/min when the bound exceeds `limit` (f32 only; clamping is continuous, fine for fuzzy). */
  tame(v: Val, limit: number, to = 8): Val {
    if (v.node.dtype !== 'f32' || v.bound <= limit) return v;
    const c = this.b.bin('min', this.b.bin('max', v.node, -to), to);
    return { node: c, bound: to, fuzzy: v.fuzzy };
  }
  clamp(v: Val, lo: number, hi: number): Node {
    return this.b.bin('min', this.b.bin('max', v.node, lo), hi);
  }
  /** x*x + 1 >= 1: a safe argument for log, sqrt, recip and division. */
  square1(v: Val): { node: Node; bound: number } {
    const t = this.tame(v, 1e3);
    return { node: this.b.bin('add', this.b.binary('mul', t.node, t.node), 1), bound: t.bound * t.bound + 1 };
  }

  leaf(kind: 'input' | 'param', dtype: DType, shape: Shape = this.randomShape()): Val | undefined {
    const list = kind === 'input' ? this.inputs : this.params;
    if (list.length >= 4) return undefined;
    const name = `${kind === 'input' ? 'x' : 'w'}${list.length}`;
    const type = { dtype, shape };
    const concrete = evalShape(shape, this.dims);
    const n = concrete.reduce((a, d) => a * d, 1);
    const values = Array.from({ length: n }, () =>
      dtype === 'f32'
        ? 4 * this.data() - 2
        : dtype === 'i32'
          ? Math.floor(this.data() * 10) - 3
          : this.data() < 0.5
            ? 1
            : 0,
    );
    const t = tensor(dtype, concrete, values);
    if (kind === 'input') {
      const node = this.b.input(name, type) as NodeOf<'input'>;
      this.inputs.push(node);
      this.inputTensors.set(name, t);
      return this.add(node, dtype === 'f32' ? 2 : 6, false);
    }
    const node = this.b.param(name, type) as NodeOf<'param'>;
    this.params.push(node);
    this.paramTensors.set(name, t);
    return this.add(node, dtype === 'f32' ? 2 : 6, false);
  }

  step(): void {
    const total = this.steps.reduce((a, [w]) => a + w, 0);
    for (let attempt = 0; attempt < 8; attempt++) {
      let r = this.int(total);
      for (const [w, f] of this.steps) {
        if (r < w) {
          if (f() !== undefined) return;
          break;
        }
        r -= w;
      }
    }
  }

  /**
   * Outputs: the last f32 value, then every loose end (a value nothing
   * uses), so every step stays live. Several loose ends are flattened and
   * concatenated (as f32) into one output per kind of element count (static,
   * or a multiple of B): no value is lost or drowned by a larger one.
   */
  finish(): Graph {
    const b = this.b;
    const f32 = this.pool.filter((v) => v.node.dtype === 'f32');
    const first = f32[f32.length - 1]!.node;
    const inner = new Set(topoSort([first, ...this.pool.flatMap((v) => v.node.inputs)]).map((n) => n.id));
    const groups = new Map<string, Node[]>();
    for (const n of new Map(this.pool.map((v) => [v.node.id, v.node])).values()) {
      if (inner.has(n.id) || n.op === 'input' || n.op === 'param') continue;
      const count = numel(n.shape);
      const key = typeof count === 'number' ? '' : count.syms.join('*');
      groups.set(key, [...(groups.get(key) ?? []), n]);
    }
    const outs = [first];
    for (const group of groups.values()) {
      const flat = group.map((n) => b.reshape(b.cast(n, 'f32'), [numel(n.shape)]));
      outs.push(group.length === 1 ? group[0]! : b.concat(flat, 0));
    }
    return {
      builder: b,
      inputs: this.inputs,
      params: this.params,
      outputs: outs.map((node, i) => ({ name: `out${i}`, node })),
    };
  }

  // ---- steps (each returns the new pool value, or undefined when it does not apply)

  unary(): Val | undefined {
    const v = this.val();
    if (!v) return undefined;
    const b = this.b;
    const x = v.node;
    if (x.dtype === 'bool') return this.add(b.unary('not', x), 1, v.fuzzy);
    if (x.dtype === 'i32') return this.add(b.unary(this.pick(['neg', 'abs'] as const), x), v.bound, v.fuzzy);
    const fn = this.pick([
      'neg',
      'abs',
      'sin',
      'cos',
      'tanh',
      'erf',
      'floor',
      'ceil',
      'round',
      'exp',
      'expm1',
      'log',
      'log1p',
      'sqrt',
      'recip',
    ] as const);
    switch (fn) {
      case 'neg':
        return this.add(b.unary(fn, x), v.bound, v.fuzzy);
      case 'abs':
      case 'floor':
      case 'ceil':
      case 'round':
        return v.fuzzy ? undefined : this.add(b.unary(fn, x), v.bound + 1, false);
      case 'sin':
      case 'cos':
      case 'tanh':
      case 'erf':
        return this.add(b.unary(fn, x), 1, v.fuzzy);
      case 'exp':
      case 'expm1':
        return this.add(b.unary(fn, this.clamp(v, -4, 4)), Math.exp(4), v.fuzzy);
      case 'log':
      case 'sqrt': {
        const s = this.square1(v);
        return this.add(b.unary(fn, s.node), fn === 'log' ? Math.log(s.bound) : Math.sqrt(s.bound), v.fuzzy);
      }
      case 'log1p': {
        // x*x >= 0 (abs of a fuzzy value is excluded: its gradient flips at 0).
        const t = this.tame(v, 1e3);
        return this.add(b.unary(fn, b.binary('mul', t.node, t.node)), Math.log1p(t.bound ** 2), v.fuzzy);
      }
      case 'recip':
        return this.add(b.unary(fn, this.square1(v).node), 1, v.fuzzy);
    }
  }

  /** A second operand for `a`: a pool value broadcasting with it, or a scalar constant. */
  partner(a: Val, ok: (v: Val) => boolean = () => true): Val | undefined {
    if (this.chance(0.25)) return this.konst(a.node.dtype);
    return this.val((v) => v.node.dtype === a.node.dtype && ok(v) && !!this.broadcastable(a.node.shape, v.node.shape));
  }

  binary(): Val | undefined {
    const a = this.val();
    if (!a) return undefined;
    const dt = a.node.dtype;
    const fns: readonly BinaryFn[] =
      dt === 'bool'
        ? ['and', 'or', 'eq', 'ne']
        : ['add', 'sub', 'mul', 'div', 'max', 'min', 'pow', 'mod', 'lt', 'le', 'eq', 'ne'];
    const fn = this.pick(fns);
    const discontinuous = ['max', 'min', 'mod', 'lt', 'le', 'eq', 'ne'].includes(fn);
    const c = this.partner(a, (v) => !(discontinuous && v.fuzzy));
    if (!c || (discontinuous && a.fuzzy)) return undefined;
    const fuzzy = a.fuzzy || c.fuzzy;
    const b = this.b;
    if (dt !== 'f32') {
      const bound =
        fn === 'add' || fn === 'sub'
          ? a.bound + c.bound
          : fn === 'mul' || fn === 'pow'
            ? I32_BOUND
            : Math.max(a.bound, c.bound);
      return this.add(b.bin(fn, a.node, c.node), bound, fuzzy);
    }
    switch (fn) {
      case 'add':
      case 'sub':
        return this.add(b.bin(fn, a.node, c.node), a.bound + c.bound, fuzzy);
      case 'mul': {
        const [x, y] = [this.tame(a, 1e3), this.tame(c, 1e3)];
        return this.add(b.bin(fn, x.node, y.node), x.bound * y.bound, fuzzy);
      }
      case 'div':
        return this.add(b.bin(fn, a.node, this.square1(c).node), a.bound, fuzzy);
      case 'max':
      case 'min':
        return this.add(b.bin(fn, a.node, c.node), Math.max(a.bound, c.bound), false);
      case 'pow': {
        const base = this.tame(a, 30);
        // |base| + 1 without abs (see unary log1p): sqrt(base^2 + 1) >= 1.
        const x = b.unary('sqrt', this.square1(base).node);
        return this.add(b.bin(fn, x, this.clamp(c, -2, 2)), (base.bound + 1) ** 2, fuzzy);
      }
      case 'mod': {
        const s = this.square1(c);
        return this.add(b.bin(fn, a.node, s.node), s.bound, false);
      }
      default:
        return this.add(b.bin(fn, a.node, c.node), 1, false);
    }
  }

  /** A bool condition broadcasting with `shape`: a pool bool, or a comparison of a crisp value with a constant. */
  condition(shape: Shape): Val | undefined {
    if (this.chance(0.5)) {
      const c = this.val((v) => v.node.dtype === 'bool' && !!this.broadcastable(shape, v.node.shape));
      if (c) return c;
    }
    const p = this.val((v) => v.node.dtype !== 'bool' && !v.fuzzy && !!this.broadcastable(shape, v.node.shape));
    if (!p) return undefined;
    const k = this.konst(p.node.dtype);
    return { node: this.b.bin(this.pick(['lt', 'le', 'eq', 'ne'] as const), p.node, k.node), bound: 1, fuzzy: false };
  }

  where(): Val | undefined {
    const a = this.val();
    if (!a) return undefined;
    const c = this.partner(a);
    if (!c) return undefined;
    const shape = this.broadcastable(a.node.shape, c.node.shape);
    const cond = shape && this.condition(shape);
    if (!shape || !cond || !this.broadcastable(shape, cond.node.shape)) return undefined;
    return this.add(this.b.select(cond.node, a.node, c.node), Math.max(a.bound, c.bound), a.fuzzy || c.fuzzy);
  }

  cast(): Val | undefined {
    const v = this.val();
    if (!v) return undefined;
    const from = v.node.dtype;
    const to = this.pick((['f32', 'i32', 'bool'] as const).filter((t) => t !== from));
    if (from === 'f32' && v.fuzzy) return undefined;
    return this.add(this.b.cast(v.node, to), from === 'bool' ? 1 : v.bound, v.fuzzy);
  }

  /** A random non-empty subset of the axes of a rank-r shape, sorted. */
  axesOf(rank: number): number[] {
    const axes = this.shuffle([...Array(rank).keys()]).slice(0, 1 + this.int(rank));
    return axes.sort((x, y) => x - y);
  }

  reduce(): Val | undefined {
    let v = this.val((x) => x.node.dtype !== 'bool' && x.node.shape.length > 0);
    if (!v) return undefined;
    const fn = this.pick(['sum', 'max', 'min', 'prod'] as const satisfies readonly ReduceFn[]);
    if ((fn === 'max' || fn === 'min') && v.fuzzy) return undefined;
    const axes = this.axesOf(v.node.shape.length);
    const n = axes.reduce((acc, a) => acc * evalDim(v!.node.shape[a]!, this.dims), 1);
    let bound = v.bound;
    if (v.node.dtype === 'f32') {
      if (fn === 'sum') {
        v = this.tame(v, 1e3);
        bound = v.bound * n;
      } else if (fn === 'prod') {
        if (v.bound ** n > 1e4) v = { node: this.b.unary('tanh', v.node), bound: 1, fuzzy: v.fuzzy };
        bound = v.bound ** n;
      }
    } else if (fn !== 'max' && fn !== 'min') bound = I32_BOUND;
    const r = this.b.reduce(fn, v.node, axes);
    const out = this.chance(0.5)
      ? this.b.reshape(
          r,
          r.shape.filter((_d, i) => !axes.includes(i)),
        )
      : r;
    return this.add(out, bound, v.fuzzy);
  }

  /** A random shape with the same element count: the static part factorised, the symbols kept in one dim. */
  refactor(shape: Shape): Dim[] {
    let stat = 1;
    const syms: string[] = [];
    for (const d of shape) {
      if (typeof d === 'number') stat *= d;
      else {
        stat *= d.coef;
        syms.push(...d.syms);
      }
    }
    const primes: number[] = [];
    for (let p = 2, r = stat; r > 1;) {
      if (r % p === 0) {
        primes.push(p);
        r /= p;
      } else p++;
    }
    const rank = Math.max(syms.length > 0 ? 1 : 0, this.int(MAX_RANK + 1));
    if (rank === 0) return primes.length === 0 ? [] : [stat];
    const dims: Dim[] = Array<Dim>(rank).fill(1);
    for (const p of primes) {
      const i = this.int(rank);
      dims[i] = dimMul(dims[i]!, p);
    }
    if (syms.length > 0) {
      const i = this.int(rank);
      dims[i] = dimMul(dims[i]!, { coef: 1, syms: [...syms].sort() });
    }
    return dims;
  }

  reshape(v = this.val()): Val | undefined {
    if (!v) return undefined;
    const shape = this.refactor(v.node.shape);
    return this.add(this.b.reshape(v.node, shape), v.bound, v.fuzzy);
  }

  permutation(rank: number): number[] {
    return this.shuffle([...Array(rank).keys()]);
  }

  permute(v = this.val((x) => x.node.shape.length >= 2)): Val | undefined {
    if (!v) return undefined;
    return this.add(this.b.permute(v.node, this.permutation(v.node.shape.length)), v.bound, v.fuzzy);
  }

  /** A larger shape `shape` expands to: size-1 axes grown, or leading axes added. */
  grown(shape: Shape): Dim[] | undefined {
    const ones = shape.flatMap((d, i) => (d === 1 ? [i] : []));
    let out: Dim[];
    if (ones.length > 0 && this.chance(0.6)) {
      out = shape.map((d, i) => (ones.includes(i) && this.chance(0.7) ? 2 + this.int(3) : d));
    } else {
      const lead = 1 + this.int(Math.max(1, MAX_RANK - shape.length));
      out = [...Array.from({ length: lead }, (): Dim => 2 + this.int(2)), ...shape];
    }
    return this.fits(out) && !shapeEq(out, shape) ? out : undefined;
  }

  expand(): Val | undefined {
    const v = this.val();
    const to = v && this.grown(v.node.shape);
    if (!v || !to) return undefined;
    return this.add(this.b.broadcastTo(v.node, to), v.bound, v.fuzzy);
  }

  sliceAxes(shape: Shape): { start: number; size: Dim; step: number }[] {
    return shape.map((d) => {
      if (typeof d !== 'number' || this.chance(0.3)) return { start: 0, size: d, step: 1 };
      // Mostly small starts and long runs, so slices of slices still have room.
      const step = 1 + this.int(3);
      const start = this.int(this.chance(0.7) ? Math.min(d, 2) : d);
      const most = Math.floor((d - 1 - start) / step) + 1;
      return { start, size: Math.max(1, most - this.int(2)), step };
    });
  }

  slice(v = this.val((x) => x.node.shape.length > 0)): Val | undefined {
    if (!v) return undefined;
    return this.add(this.b.slice(v.node, this.sliceAxes(v.node.shape)), v.bound, v.fuzzy);
  }

  pads(shape: Shape): [number, number][] {
    return shape.map((d): [number, number] => (typeof d === 'number' ? [this.int(3), this.int(3)] : [0, 0]));
  }

  pad(): Val | undefined {
    const v = this.val((x) => x.node.shape.length > 0);
    if (!v) return undefined;
    const pads = this.pads(v.node.shape);
    const value = this.constFor(v.node.dtype);
    const out = this.b.pad(v.node, pads, value);
    return this.fits(out.shape) ? this.add(out, Math.max(v.bound, Math.abs(value)), v.fuzzy) : undefined;
  }

  concat(): Val | undefined {
    const v = this.val((x) => x.node.shape.length > 0);
    if (!v) return undefined;
    const s = v.node.shape;
    const axis = this.int(s.length);
    const ok = (x: Val) =>
      x.node.dtype === v.node.dtype &&
      x.node.shape.length === s.length &&
      x.node.shape.every((d, i) =>
        i === axis ? typeof d === 'number' && typeof s[axis] === 'number' : dimEq(d, s[i]!),
      );
    const parts = [v];
    for (let k = 1 + this.int(2); k > 0; k--) {
      // Symbolic axes concatenate only with themselves (B + B = 2*B).
      const p = typeof s[axis] === 'number' ? this.val(ok) : v;
      if (p) parts.push(p);
    }
    const out = this.b.concat(
      this.shuffle(parts).map((p) => p.node),
      axis,
    );
    if (!this.fits(out.shape)) return undefined;
    return this.add(
      out,
      Math.max(...parts.map((p) => p.bound)),
      parts.some((p) => p.fuzzy),
    );
  }

  matmul(): Val | undefined {
    const v0 = this.val((x) => x.node.dtype !== 'bool' && x.node.shape.length >= 2);
    if (!v0) return undefined;
    const v = this.tame(v0, 30, 4);
    const s = v.node.shape;
    const r = s.length;
    const ok = (x: Val) =>
      x.node.dtype === v.node.dtype &&
      x.node.shape.length === r &&
      x.node.shape.every((d, i) => i >= r - 1 || dimEq(d, i === r - 2 ? s[r - 1]! : s[i]!));
    let w = this.chance(0.7) ? this.val(ok) : undefined;
    if (!w && this.chance(0.6)) {
      const shape = [...s.slice(0, r - 1), 1 + this.int(4)];
      shape[r - 2] = s[r - 1]!;
      w = this.leaf(v.node.dtype === 'f32' && this.chance(0.7) ? 'param' : 'input', v.node.dtype, shape);
    }
    w ??= { node: this.b.permute(v.node, [...Array(r - 2).keys(), r - 1, r - 2]), bound: v.bound, fuzzy: v.fuzzy };
    const x = this.tame(w, 30, 4);
    const out = this.b.matmul(v.node, x.node);
    if (!this.fits(out.shape)) return undefined;
    const k = evalDim(s[r - 1]!, this.dims);
    return this.add(out, v.bound * x.bound * k, v.fuzzy || x.fuzzy);
  }

  gather(): Val | undefined {
    const x = this.val((v) => v.node.shape.length > 0);
    if (!x) return undefined;
    const axis = this.int(x.node.shape.length);
    const room = MAX_RANK - (x.node.shape.length - 1);
    const idxOk = (v: Val) => v.node.shape.length <= Math.min(2, room) && !v.fuzzy;
    let idx: Node | undefined;
    switch (this.int(4)) {
      case 0:
        idx = this.val((v) => v.node.dtype === 'i32' && idxOk(v))?.node;
        break;
      case 1: {
        const f = this.val((v) => v.node.dtype === 'f32' && idxOk(v));
        idx = f && this.b.cast(f.node, 'i32');
        break;
      }
      case 2:
        idx = this.b.iota([1 + this.int(4)], 0);
        break;
      default: {
        const d = evalDim(x.node.shape[axis]!, this.dims);
        const shape = Array.from({ length: this.int(Math.min(3, room + 1)) }, () => 1 + this.int(3));
        const leaf = this.leaf('input', 'i32', shape);
        if (leaf) {
          // Indices in [-1, d]: some out of range, which gather clamps.
          const t = this.inputTensors.get((leaf.node as NodeOf<'input'>).name)!;
          t.data.forEach((_v, i) => (t.data[i] = Math.floor(this.data() * (d + 2)) - 1));
          idx = leaf.node;
        }
      }
    }
    if (!idx) return undefined;
    const out = this.b.gather(x.node, idx, axis);
    return this.fits(out.shape) ? this.add(out, x.bound, x.fuzzy) : undefined;
  }

  iota(): Val | undefined {
    const v = this.val((x) => x.node.shape.length > 0);
    const shape = v ? v.node.shape : [1 + this.int(5)];
    const axis = this.int(shape.length);
    return this.add(this.b.iota(shape, axis), this.numel(shape), false);
  }

  /** A broadcast constant, or (with symbolic dims) the run-time size of B broadcast. */
  constant(): Val | undefined {
    const v = this.val();
    const shape = v ? v.node.shape : [];
    if (this.symbolic && this.chance(0.25)) {
      const size = this.b.dimSize(sym('B'), this.pick(['f32', 'i32'] as const));
      return this.add(this.b.broadcastTo(size, shape), this.dims.get('B')!, false);
    }
    const dtype = this.pick(['f32', 'f32', 'i32', 'bool'] as const);
    const c = this.constFor(dtype);
    return this.add(this.b.full(c, dtype, shape), Math.abs(c), false);
  }

  rand(): Val | undefined {
    const v = this.val();
    const key = this.b.const(this.int(1000), 'i32');
    return this.add(this.b.rand(v ? v.node.shape : [3], key, this.int(7)), 1, false);
  }

  // ---- patterns the optimiser rewrites

  pattern(): Val | undefined {
    const v = this.val();
    if (!v) return undefined;
    const b = this.b;
    const x = v.node;
    const dt = x.dtype;
    const same = (node: Node, bound = v.bound, fuzzy = v.fuzzy) => this.add(node, bound, fuzzy);
    const numeric = dt !== 'bool';
    switch (this.int(22)) {
      case 0:
        return numeric ? same(this.chance(0.5) ? b.bin('mul', x, 1) : b.bin('mul', 1, x)) : undefined;
      case 1:
        return numeric ? same(this.pick([b.bin('add', x, 0), b.bin('add', 0, x), b.bin('sub', x, 0)])) : undefined;
      case 2:
        return numeric ? same(b.bin('div', x, this.pick(dt === 'f32' ? [1, 4, 0.5, -2] : [1]))) : undefined;
      case 3:
        return numeric ? same(b.bin('mul', x, -1)) : same(b.unary('not', b.unary('not', x)));
      case 4:
        return numeric ? same(b.unary('neg', b.unary('neg', x))) : undefined;
      case 5:
        return numeric ? same(b.bin('sub', x, x), 0) : undefined;
      case 6: {
        if (dt !== 'f32') return undefined;
        const s = this.square1(v);
        return same(b.unary('exp', b.unary('log', s.node)), s.bound, true);
      }
      case 7:
        return dt === 'f32' ? same(b.unary('log', b.unary('exp', this.clamp(v, -4, 4))), 4, true) : undefined;
      case 8: {
        if (!numeric) return undefined;
        const t = this.tame(v, 1e3);
        const e = this.pick([0, 1, 2]);
        return same(b.bin('pow', t.node, e), e === 0 ? 1 : t.bound ** e, t.fuzzy);
      }
      case 9: {
        // a op b next to b op a: equal after canonical ordering and CSE.
        const w = this.partner(v, (u) => !u.fuzzy);
        if (!numeric || !w || v.fuzzy) return undefined;
        const t = [this.tame(v, 1e3), this.tame(w, 1e3)] as const;
        const fn = this.pick(['add', 'mul', 'max', 'min'] as const);
        const d = b.bin('sub', b.bin(fn, t[0].node, t[1].node), b.bin(fn, t[1].node, t[0].node));
        return same(
          b.bin('add', d, b.bin(fn, t[1].node, t[0].node)),
          t[0].bound * t[1].bound + t[0].bound + t[1].bound,
          false,
        );
      }
      case 10: {
        const w = this.partner(v);
        if (!w) return undefined;
        const c = b.const(this.int(2), 'bool');
        return same(b.select(c, x, w.node), Math.max(v.bound, w.bound), v.fuzzy || w.fuzzy);
      }
      case 11: {
        const c = this.condition(x.shape);
        if (!c || !this.broadcastable(x.shape, c.node.shape)) return undefined;
        const w = this.partner(v);
        const all = w && this.broadcastable(x.shape, w.node.shape);
        if (this.chance(0.5) || !w || !all || !this.broadcastable(all, c.node.shape))
          return same(b.select(c.node, x, x));
        const nc = b.unary('not', c.node);
        return same(b.select(nc, x, w.node), Math.max(v.bound, w.bound), v.fuzzy || w.fuzzy);
      }
      case 12:
        if (dt === 'bool')
          return same(
            b.cast(b.cast(x, this.pick(['i32', 'f32'] as const)), this.pick(['f32', 'i32', 'bool'] as const)),
            1,
          );
        if (dt === 'i32') return same(b.cast(b.cast(x, 'f32'), 'bool'), 1);
        return undefined;
      case 13: {
        const r1 = this.reshape(v);
        return r1 && this.reshape(r1);
      }
      case 14: {
        const p1 = this.permute(v);
        return p1 && this.permute(p1);
      }
      case 15: {
        const s1 = this.grown(x.shape);
        const e1 = s1 && b.broadcastTo(x, s1);
        const s2 = e1 && this.grown(e1.shape);
        return s2 && e1 ? same(b.broadcastTo(e1, s2)) : undefined;
      }
      case 16: {
        // A reduction over size-1 axes only.
        if (!numeric || x.shape.length >= MAX_RANK) return undefined;
        const r = b.reshape(x, [...x.shape, 1]);
        const fn = this.pick(['sum', 'max', 'min', 'prod'] as const);
        if (v.fuzzy && (fn === 'max' || fn === 'min')) return undefined;
        return same(b.reshape(b.reduce(fn, r, [x.shape.length]), x.shape));
      }
      case 17: {
        // A reduction of a broadcast constant, and constant arithmetic.
        if (dt !== 'f32' || x.shape.length === 0) return undefined;
        const c = this.pick([0.5, 2, -1, 1, 0.25]);
        const fn = this.pick(['sum', 'max', 'min', 'prod'] as const);
        const axes = this.axesOf(x.shape.length);
        const r = b.reduce(fn, b.full(c, 'f32', x.shape), axes);
        const k = b.bin('mul', b.bin('add', this.pick(CONSTS), this.pick(CONSTS)), r);
        const t = this.tame(v, 1e3);
        const big = Math.abs(c) ** this.numel(x.shape) * 8 + this.numel(x.shape);
        return big > 1e6 ? undefined : same(b.bin('add', t.node, k), t.bound + big);
      }
      case 18:
        return same(b.stopGradient(x));
      case 19: {
        const s1 = x.shape.length > 0 ? this.slice(v) : undefined;
        return s1 && this.slice(s1);
      }
      case 20: {
        if (x.shape.length === 0) return undefined;
        const value = dt === 'bool' ? 1 : 2;
        const p = b.pad(b.pad(x, this.pads(x.shape), value), this.pads(x.shape), value);
        return this.fits(p.shape) ? same(p, Math.max(v.bound, 2)) : undefined;
      }
      default: {
        // Crisp-only identities: abs(neg), rounding twice, x < x, max(x, x), reductions twice.
        if (v.fuzzy) return undefined;
        if (dt === 'bool') return same(this.pick([b.binary('and', x, x), b.bin('and', x, 1), b.bin('or', x, 0)]), 1);
        const choices = [
          () => same(b.unary('abs', b.unary('neg', x))),
          () => same(b.binary('max', x, x)),
          () => same(b.cast(b.binary(this.pick(['lt', 'le', 'eq', 'ne'] as const), x, x), dt), 1),
          () => {
            if (x.shape.length < 2) return undefined;
            const fn = this.pick(['max', 'min'] as const);
            return same(b.reduce(fn, b.reduce(fn, x, [0]), [x.shape.length - 1]));
          },
          () => {
            if (x.shape.length === 0) return undefined;
            const e = b.broadcastTo(b.reshape(x, [1, ...x.shape]), [3, ...x.shape]);
            return e.shape.length <= MAX_RANK ? same(b.reshape(b.reduce('max', e, [0]), x.shape)) : undefined;
          },
        ];
        if (dt === 'f32') choices.push(() => same(b.unary('floor', b.unary('round', x)), v.bound + 1));
        return this.pick(choices)();
      }
    }
  }
}
