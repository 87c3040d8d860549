// What the code generators need to know about index and value expressions: an
// IExpr as a polynomial (sum of coefficient x atoms), its coefficient in one
// loop variable, and the dependencies of every node (the loop variables,
// accumulators and written buffers it reads), which decide where a value is
// placed and whether it varies across vector lanes.

import { gcd } from '../symbolic/monomial.js';
import { type Term as SymTerm, productTerms, sumTerms } from '../symbolic/poly.js';
import { type BoolFold, type IndexFold, foldBool, foldIndex, indexKey } from './index-expr.js';
import type { IBool, IExpr, Kernel, Stage, VExpr } from './kir.js';
import { forEachValue } from './walk.js';

/** coef * product(atoms); atoms are var, dim, div, mod and value nodes (with repetition). */
export type Term = SymTerm<IExpr>;

/**
 * The view of compiler/symbolic the code generators read: terms as a plain
 * list in order of first appearance (atoms in the order the expression
 * multiplies them), the constant apart.
 */
export interface Poly {
  readonly terms: readonly Term[];
  readonly c: number;
}

const polyCache = new WeakMap<IExpr, Poly>();

function termKey(atoms: readonly IExpr[]): string {
  return atoms.map(indexKey).sort().join(' ');
}

function normalize(terms: Iterable<Term>, c: number): Poly {
  return { terms: sumTerms(terms, (t) => termKey(t.atoms)), c };
}

/** e as a polynomial (expanding products of sums, so any IExpr shape works). */
export function polyOf(e: IExpr): Poly {
  const hit = polyCache.get(e);
  if (hit) return hit;
  let p: Poly;
  switch (e.k) {
    case 'const':
      p = { terms: [], c: e.v };
      break;
    case 'var':
    case 'dim':
    case 'div':
    case 'mod':
    case 'value':
      p = { terms: [{ coef: 1, atoms: [e] }], c: 0 };
      break;
    case 'add': {
      const a = polyOf(e.a);
      const b = polyOf(e.b);
      p = normalize([...a.terms, ...b.terms], a.c + b.c);
      break;
    }
    case 'mul': {
      const a = polyOf(e.a);
      const b = polyOf(e.b);
      p = normalize(productTerms(a.terms, a.c, b.terms, b.c), a.c * b.c);
      break;
    }
  }
  polyCache.set(e, p);
  return p;
}

const VARS: IndexFold<void, Set<string>> = {
  leaf: (e, out) => {
    if (e.k === 'var') out.add(e.name);
  },
  op: () => undefined,
  value: (e, rec, out) => {
    for (const v of vexprVars(e.x)) out.add(v);
    rec(e.hi);
  },
};

/** The loop variables an IExpr mentions (also inside div, mod and gather values). */
export function ivars(e: IExpr): ReadonlySet<string> {
  const out = new Set<string>();
  const walk = (x: IExpr): void => foldIndex(x, VARS, walk, out);
  walk(e);
  return out;
}

const vvarCache = new WeakMap<VExpr, ReadonlySet<string>>();

function vexprVars(x: VExpr): ReadonlySet<string> {
  const hit = vvarCache.get(x);
  if (hit) return hit;
  const out = new Set<string>();
  const add = (s: ReadonlySet<string>) => s.forEach((v) => out.add(v));
  switch (x.k) {
    case 'const':
    case 'scalar':
    case 'acc':
      break;
    case 'load':
      add(ivars(x.index));
      add(bvars(x.valid));
      break;
    case 'index':
      add(ivars(x.i));
      break;
    case 'unary':
    case 'cast':
      add(vexprVars(x.x));
      break;
    case 'binary':
      add(vexprVars(x.a));
      add(vexprVars(x.b));
      break;
    case 'where':
      add(vexprVars(x.c));
      add(vexprVars(x.a));
      add(vexprVars(x.b));
      break;
    case 'rand':
      add(vexprVars(x.key));
      add(ivars(x.i));
      break;
  }
  vvarCache.set(x, out);
  return out;
}

const BVARS: BoolFold<ReadonlySet<string>, undefined> = {
  true: () => new Set(),
  le: (c) => new Set([...ivars(c.a), ...ivars(c.b)]),
  and: (c, rec) => new Set([...rec(c.a), ...rec(c.b)]),
};

export function bvars(c: IBool): ReadonlySet<string> {
  return foldBool(c, BVARS, bvars, undefined);
}

/** e = coef * v + rest with coef and rest free of v, or undefined (v inside div/mod/value or nonlinear). */
export function linearIn(e: IExpr, v: string): { coef: Poly; rest: Poly } | undefined {
  const p = polyOf(e);
  const coef: Term[] = [];
  const rest: Term[] = [];
  for (const t of p.terms) {
    let hits = 0;
    const others: IExpr[] = [];
    for (const a of t.atoms) {
      if (a.k === 'var' && a.name === v) hits++;
      else if (a.k !== 'var' && a.k !== 'dim' && ivars(a).has(v)) return undefined;
      else others.push(a);
    }
    if (hits > 1) return undefined;
    (hits === 1 ? coef : rest).push({ coef: t.coef, atoms: others });
  }
  const cc = coef.filter((t) => t.atoms.length === 0).reduce((a, t) => a + t.coef, 0);
  return {
    coef: { terms: coef.filter((t) => t.atoms.length > 0), c: cc },
    rest: { terms: rest, c: p.c },
  };
}

/** The constant coefficient of v in e (0 when e does not mention v), or undefined when it is not a constant. */
export function constCoef(e: IExpr, v: string): number | undefined {
  if (!ivars(e).has(v)) return 0;
  const l = linearIn(e, v);
  if (!l || l.coef.terms.length > 0) return undefined;
  return l.coef.c;
}

/**
 * Each of `width` lanes' element offset from lane 0's in `e` along `v`: c * l for a constant
 * coefficient c, and where the lanes are `aligned` (v's first value a multiple of `width`) also
 * through floor div/mod by constants (alignedLaneOffsets); undefined where the analysis cannot
 * show them constant.
 */
export function laneOffsets(e: IExpr, v: string, width: number, aligned: boolean): readonly number[] | undefined {
  const c = constCoef(e, v);
  if (c !== undefined) return Array.from({ length: width }, (_, l) => c * l);
  return aligned ? alignedLaneOffsets(e, v, width) : undefined;
}

/** Whether lane offsets step by one element: one contiguous vector access. */
export const isUnitStep = (o: readonly number[] | undefined): boolean => o !== undefined && o.every((x, l) => x === l);

/**
 * The offsets e(v0 + l) - e(v0) for the lanes l < width, the same for every v0 that is a multiple of
 * `width` and every value of the other variables, or undefined when the analysis cannot show that:
 * `(n / 196) * 28224 + n % 196` gives [0, 1, 2, 3] (a convolution's im2col read, one vector load,
 * as 196 is a multiple of 4), `f / 2` gives [0, 0, 1, 1] and `(f / 2) * 4 + f % 2` gives [0, 1, 4, 5] (a 2 x 2 pool's gradient
 * with its two innermost loops coalesced), which a few loads and a shuffle read.
 */
export function alignedLaneOffsets(e: IExpr, v: string, width: number): readonly number[] | undefined {
  return laneShape(e, v, width)?.o;
}

/** The offsets o as above, and g: e(v0) is always a multiple of g (0: e(v0) is always 0). */
function laneShape(e: IExpr, v: string, width: number): { o: readonly number[]; g: number } | undefined {
  const zeros = () => new Array<number>(width).fill(0);
  if (!ivars(e).has(v)) return { o: zeros(), g: e.k === 'const' ? Math.abs(e.v) : 1 };
  switch (e.k) {
    case 'var':
      return { o: Array.from({ length: width }, (_, l) => l), g: width };
    case 'add': {
      const a = laneShape(e.a, v, width);
      const b = laneShape(e.b, v, width);
      return a && b && { o: a.o.map((x, l) => x + b.o[l]!), g: gcd(a.g, b.g) };
    }
    case 'mul': {
      const [x, k] = e.a.k === 'const' ? [e.b, e.a.v] : e.b.k === 'const' ? [e.a, e.b.v] : [undefined, 0];
      const s = x && laneShape(x, v, width);
      return s && { o: s.o.map((y) => y * k + 0), g: s.g * Math.abs(k) };
    }
    case 'div':
    case 'mod': {
      if (e.b.k !== 'const' || e.b.v <= 0) return undefined;
      const d = e.b.v;
      const a = laneShape(e.a, v, width);
      if (!a) return undefined;
      // a(v0) mod d is one of the multiples of r below d: each lane's quotient step must be the same
      // for all of them.
      const r = gcd(a.g, d) || d;
      if (d / r > 4096) return undefined;
      const steps: number[] = [];
      for (const off of a.o) {
        let q: number | undefined;
        for (let rho = 0; rho < d; rho += r) {
          const qq = Math.floor((rho + off) / d);
          if (q === undefined) q = qq;
          else if (q !== qq) return undefined;
        }
        steps.push(q!);
      }
      return e.k === 'div' ? { o: steps, g: 1 } : { o: a.o.map((off, l) => off - d * steps[l]!), g: r };
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- dependencies

/** What a node depends on: where it may be computed and whether it varies across vector lanes. */
export interface NodeInfo {
  readonly vars: ReadonlySet<string>;
  readonly accs: ReadonlySet<number>;
  /** Loads a buffer the kernel writes: not movable above the start of its stage. */
  readonly readsWritten: boolean;
  /** Loads a buffer its own stage writes: computed at the point itself. */
  readonly readsStageWritten: boolean;
}

const EMPTY: NodeInfo = { vars: new Set(), accs: new Set(), readsWritten: false, readsStageWritten: false };

function merge(xs: readonly NodeInfo[]): NodeInfo {
  if (xs.length === 0) return EMPTY;
  if (xs.length === 1) return xs[0]!;
  const vars = new Set<string>();
  const accs = new Set<number>();
  let w = false;
  let sw = false;
  for (const x of xs) {
    x.vars.forEach((v) => vars.add(v));
    x.accs.forEach((a) => accs.add(a));
    w ||= x.readsWritten;
    sw ||= x.readsStageWritten;
  }
  return { vars, accs, readsWritten: w, readsStageWritten: sw };
}

const DEPS_I: IndexFold<NodeInfo, Deps> = {
  leaf: (e) => (e.k === 'var' ? { ...EMPTY, vars: new Set([e.name]) } : EMPTY),
  op: (_k, a, b) => merge([a, b]),
  value: (e, rec, deps) => merge([deps.v(e.x), rec(e.hi)]),
};

const DEPS_B: BoolFold<NodeInfo, Deps> = {
  true: () => EMPTY,
  le: (c, deps) => merge([deps.i(c.a), deps.i(c.b)]),
  and: (c, rec) => merge([rec(c.a), rec(c.b)]),
};

/** Dependencies of the nodes of one stage (slots written by the kernel and by the stage decide the flags). */
export class Deps {
  private readonly vmemo = new WeakMap<VExpr, NodeInfo>();
  private readonly imemo = new WeakMap<IExpr, NodeInfo>();

  constructor(
    private readonly kernelWrites: ReadonlySet<number>,
    private readonly stageWrites: ReadonlySet<number>,
  ) {}

  v(x: VExpr): NodeInfo {
    const hit = this.vmemo.get(x);
    if (hit) return hit;
    let r: NodeInfo;
    switch (x.k) {
      case 'const':
      case 'scalar':
        r = EMPTY;
        break;
      case 'acc':
        r = { ...EMPTY, accs: new Set([x.id]) };
        break;
      case 'load': {
        const own = {
          ...EMPTY,
          readsWritten: this.kernelWrites.has(x.buf),
          readsStageWritten: this.stageWrites.has(x.buf),
        };
        r = merge([own, this.i(x.index), this.b(x.valid)]);
        break;
      }
      case 'index':
        r = this.i(x.i);
        break;
      case 'unary':
      case 'cast':
        r = this.v(x.x);
        break;
      case 'binary':
        r = merge([this.v(x.a), this.v(x.b)]);
        break;
      case 'where':
        r = merge([this.v(x.c), this.v(x.a), this.v(x.b)]);
        break;
      case 'rand':
        r = merge([this.v(x.key), this.i(x.i)]);
        break;
    }
    this.vmemo.set(x, r);
    return r;
  }

  i(e: IExpr): NodeInfo {
    const hit = this.imemo.get(e);
    if (hit) return hit;
    const r = foldIndex(e, DEPS_I, (x) => this.i(x), this);
    this.imemo.set(e, r);
    return r;
  }

  b(c: IBool): NodeInfo {
    return foldBool(c, DEPS_B, (x) => this.b(x), this);
  }

  /** The dependencies of a polynomial's terms. */
  terms(ts: readonly Term[]): NodeInfo {
    return merge(ts.flatMap((t) => t.atoms.map((a) => this.i(a))));
  }
}

// ---------------------------------------------------------------- nodes and written slots

type LoadExpr = Extract<VExpr, { k: 'load' }>;

/** Every load and value node reachable from `roots` (also inside gather indices and masks), in pre-order. */
export function collect(roots: readonly VExpr[]): { loads: LoadExpr[]; nodes: VExpr[] } {
  const loads: LoadExpr[] = [];
  const nodes: VExpr[] = [];
  forEachValue(roots, (x, again) => {
    if (again) return;
    nodes.push(x);
    if (x.k === 'load') loads.push(x);
  });
  return { loads, nodes };
}

/** The value roots of a stage: accumulator values, or store values and (as index nodes) store indices. */
export function stageRoots(s: Stage): VExpr[] {
  return s.kind === 'reduce'
    ? s.accs.map((a) => a.value)
    : s.stores.flatMap((st) => [st.value, { k: 'index', i: st.index } as const]);
}

/** Slots whose buffer some stage stores to (any slot bound to a stored program buffer). */
export function writtenSlots(k: Kernel, stages: readonly Stage[] = k.stages): Set<number> {
  const ids = new Set<number>();
  for (const s of stages) if (s.kind === 'map') for (const st of s.stores) ids.add(k.buffers[st.buf]?.id ?? -1);
  const out = new Set<number>();
  k.buffers.forEach((b, i) => ids.has(b.id) && out.add(i));
  return out;
}

/** True when no program buffer is bound to two slots (the alias analyses work on slots). */
export function distinctSlots(k: Kernel): boolean {
  return new Set(k.buffers.map((b) => b.id)).size === k.buffers.length;
}

/**
 * Reordering the points of `stages` is safe: every load of a buffer they
 * store is unmasked and at exactly an index a store of that buffer uses.
 */
export function aliasSafe(stages: readonly Stage[]): boolean {
  const stored = new Map<number, Set<string>>();
  for (const s of stages)
    if (s.kind === 'map')
      for (const st of s.stores) {
        const keys = stored.get(st.buf) ?? new Set();
        keys.add(indexKey(st.index));
        stored.set(st.buf, keys);
      }
  for (const x of collect(stages.flatMap(stageRoots)).loads) {
    const keys = stored.get(x.buf);
    if (keys && (x.valid.k !== 'true' || !keys.has(indexKey(x.index)))) return false;
  }
  return true;
}
