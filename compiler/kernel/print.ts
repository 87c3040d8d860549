// Readable, stable text of kernels: `printKernel` (pseudo-code, for golden
// tests and `kiln dump --stage kernels`) and `kernelTable` (one row per
// kernel with FLOP and byte counts).
//
// In pseudo-code, buffers are `b<program id>` (the header names them),
// accumulators `acc<id>`, and VExpr subtrees referenced more than once in a
// stage (by object identity: the way codegen binds them once) are printed
// once as `let v<n> = ...` at the top of that stage's body.
//
// FLOPs: per stage, every distinct arithmetic VExpr node (unary, binary,
// where, rand; a transcendental counts 1 like an add) plus one fold per
// accumulator, times the stage's iteration count (parallel extents x stage
// extents). Loads, constants, scalars, indices, accumulator reads and casts
// count 0; index arithmetic is not counted. Bytes: see kernelBytes in
// compiler/memory.ts (4 bytes per element, each buffer counted once).

import { type Dim, dimMul, formatDim } from '../types.js';
import type { ReduceFn } from '../ir.js';
import { type Poly, bufferName, kernelBytes, poly, polyAdd, polyScale, showPoly, table } from '../memory.js';
import { printBool, printIndex } from './index-expr.js';
import type { IBool, IExpr, Kernel, KernelProgram, Loop, Stage, VExpr } from './kir.js';
import { type OperandFns, childValues, forEachValue, indexValues, mapBoolOperands, mapIndexOperands } from './walk.js';

// ------------------------------------------------------------ traversal

/** The value expressions a stage evaluates per point, in print order (a store's gathered index values first). */
function stageRoots(s: Stage): VExpr[] {
  switch (s.kind) {
    case 'reduce':
      return s.accs.map((a) => a.value);
    case 'map':
      return s.stores.flatMap((st) => [...indexValues(st.index), st.value]);
  }
}

/** Nodes worth a `let` when shared: everything but leaves that print as a short name or number. */
const bindable = (x: VExpr) => x.k !== 'const' && x.k !== 'scalar' && x.k !== 'acc';

// ------------------------------------------------------------ value text

const P_OR = 1;
const P_AND = 2;
const P_CMP = 3;
const P_ADD = 4;
const P_MUL = 5;
const P_PREFIX = 6;
const P_ATOM = 7;

const INFIX: Partial<Record<string, [string, number]>> = {
  or: ['||', P_OR],
  and: ['&&', P_AND],
  lt: ['<', P_CMP],
  le: ['<=', P_CMP],
  eq: ['==', P_CMP],
  ne: ['!=', P_CMP],
  add: ['+', P_ADD],
  sub: ['-', P_ADD],
  mul: ['*', P_MUL],
  div: ['/', P_MUL],
  mod: ['%', P_MUL],
};
const ASSOCIATIVE = new Set(['or', 'and', 'add', 'mul']);

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}

function constText(x: Extract<VExpr, { k: 'const' }>): string {
  switch (x.dtype) {
    case 'f32': {
      // A decimal point marks f32 constants (1.0 vs the i32 1); exponent forms already read as floats.
      const s = Object.is(x.v, -0) ? '-0' : formatNumber(x.v);
      return /^-?\d+$/.test(s) ? `${s}.0` : s;
    }
    case 'i32':
      return String(x.v);
    case 'bool':
      return x.v !== 0 ? 'true' : 'false';
  }
}

/** Prints values of one stage: `lets` maps shared nodes to their names. */
class ValuePrinter {
  constructor(
    private readonly k: Kernel,
    private readonly lets: ReadonlyMap<VExpr, string>,
  ) {}

  buf(slot: number): string {
    const b = this.k.buffers[slot];
    return b ? `b${b.id}` : `slot${slot}?`;
  }

  /** The node's own text (ignoring its let), with its precedence. */
  body(x: VExpr): [string, number] {
    switch (x.k) {
      case 'load': {
        const ref = `${this.buf(x.buf)}[${this.index(x.index)}]`;
        if (x.valid.k === 'true') return [ref, P_ATOM];
        return [`(${this.bool(x.valid)} ? ${ref} : ${formatNumber(x.fill)})`, P_ATOM];
      }
      case 'const': {
        const s = constText(x);
        return [s, s.startsWith('-') ? P_PREFIX : P_ATOM];
      }
      case 'scalar':
        return [x.name.startsWith('@') ? x.name : `@${x.name}`, P_ATOM];
      case 'index':
        return [`index(${this.index(x.i)})`, P_ATOM];
      case 'acc':
        return [`acc${x.id}`, P_ATOM];
      case 'unary':
        if (x.fn === 'neg') return [`-${this.v(x.x, P_PREFIX)}`, P_PREFIX];
        if (x.fn === 'not') return [`!${this.v(x.x, P_PREFIX)}`, P_PREFIX];
        return [`${x.fn}(${this.v(x.x, 0)})`, P_ATOM];
      case 'binary': {
        const op = INFIX[x.fn];
        if (!op) return [`${x.fn}(${this.v(x.a, 0)}, ${this.v(x.b, 0)})`, P_ATOM];
        const [sym, p] = op;
        // Left-associative: the right operand needs parentheses at equal precedence unless the op associates.
        const right = this.v(x.b, ASSOCIATIVE.has(x.fn) ? p : p + 1);
        return [`${this.v(x.a, p)} ${sym} ${right}`, p];
      }
      case 'where':
        return [`where(${this.v(x.c, 0)}, ${this.v(x.a, 0)}, ${this.v(x.b, 0)})`, P_ATOM];
      case 'cast':
        return [`${x.dtype}(${this.v(x.x, 0)})`, P_ATOM];
      case 'rand':
        return [`rand(${this.v(x.key, 0)}, ${x.salt}, ${this.index(x.i)})`, P_ATOM];
    }
  }

  /** The text of `x` in a context needing precedence `min`. */
  v(x: VExpr, min: number): string {
    const name = this.lets.get(x);
    if (name !== undefined) return name;
    const [s, p] = this.body(x);
    return p < min ? `(${s})` : s;
  }

  /** Index text; data-dependent parts are printed with this printer (so they use the lets). */
  index(e: IExpr): string {
    return printIndex(this.opaque(e));
  }

  bool(c: IBool): string {
    return printBool(this.opaqueFns.b(c));
  }

  /** `e` with each `value` node replaced by a variable whose name is its text (printIndex prints names verbatim). */
  private opaque(e: IExpr): IExpr {
    if (e.k === 'value') return { k: 'var', name: `clamp(${this.v(e.x, 0)}, ${printIndex(e.hi)})` };
    return mapIndexOperands(e, this.opaqueFns);
  }

  private readonly opaqueFns: OperandFns = {
    v: (x) => x,
    i: (e) => this.opaque(e),
    b: (c) => mapBoolOperands(c, this.opaqueFns),
  };
}

// ------------------------------------------------------------ kernels

const loopsText = (loops: readonly Loop[]) => loops.map((l) => `${l.name} in 0..${formatDim(l.extent)}`).join(', ');

function accText(fn: ReduceFn, acc: string, v: string): string {
  switch (fn) {
    case 'sum':
      return `${acc} += ${v}`;
    case 'prod':
      return `${acc} *= ${v}`;
    case 'max':
    case 'min':
      return `${acc} = ${fn}(${acc}, ${v})`;
  }
}

/** Pseudo-code of one kernel of `p`. */
export function printKernel(k: Kernel, p: KernelProgram): string {
  const byId = new Map(p.buffers.map((b) => [b.id, b]));
  const lines: string[] = [`kernel ${k.name} ${k.kind}`];
  if (k.ops.length > 0) lines.push(`  ops: ${k.ops.join(', ')}`);
  const bufs = k.buffers.map((s) => {
    const b = byId.get(s.id);
    const role = b ? (b.role.kind === 'temp' ? 'temp' : `${b.role.kind} ${b.role.name}`) : 'undeclared';
    return `b${s.id} ${role} (${s.access})`;
  });
  lines.push(`  buffers: ${bufs.join(', ') || 'none'}`);
  const args = [
    ...(k.dims.length > 0 ? [`dims: ${k.dims.join(', ')}`] : []),
    ...(k.scalars.length > 0 ? [`scalars: ${k.scalars.join(', ')}`] : []),
  ];
  if (args.length > 0) lines.push(`  ${args.join('; ')}`);

  const depth = k.parallel.length > 0 ? 2 : 1;
  if (k.parallel.length > 0) lines.push(`  for ${loopsText(k.parallel)}:`);
  let letCount = 0;
  for (const s of k.stages) {
    // Shared nodes of this stage, children before parents (post-order), named in that order.
    const shared = new Set<VExpr>();
    forEachValue(stageRoots(s), (x, again) => {
      if (again && bindable(x)) shared.add(x);
    });
    const order: VExpr[] = [];
    const placed = new Set<VExpr>();
    const below = (x: VExpr): void => {
      for (const c of childValues(x))
        if (shared.has(c)) post(c);
        else below(c);
    };
    const post = (x: VExpr): void => {
      if (placed.has(x)) return;
      placed.add(x);
      below(x);
      order.push(x);
    };
    for (const r of stageRoots(s))
      if (shared.has(r)) post(r);
      else below(r);
    const lets = new Map<VExpr, string>();
    const pr = new ValuePrinter(k, lets);
    const body: string[] = [];
    for (const x of order) {
      const text = pr.body(x)[0];
      lets.set(x, `v${letCount++}`);
      body.push(`let ${lets.get(x)!} = ${text}`);
    }
    let head: string;
    switch (s.kind) {
      case 'reduce':
        head = 'reduce';
        for (const a of s.accs)
          body.push(accText(a.fn, `acc${a.id}${a.dtype === 'f32' ? '' : `:${a.dtype}`}`, pr.v(a.value, 0)));
        break;
      case 'map':
        head = 'map';
        for (const st of s.stores) {
          const check = st.check ? `  check ${pr.buf(st.check.flag)}[${st.check.word}]` : '';
          body.push(`${pr.buf(st.buf)}[${pr.index(st.index)}] = ${pr.v(st.value, 0)}${check}`);
        }
        break;
    }
    if (s.loops.length > 0) head += ` ${loopsText(s.loops)}`;
    const pad = '  '.repeat(depth);
    if (body.length === 1) lines.push(`${pad}${head}: ${body[0]!}`);
    else lines.push(`${pad}${head}:`, ...body.map((l) => `${pad}  ${l}`));
  }
  return lines.join('\n') + '\n';
}

/** Every kernel of the program, separated by blank lines. */
export function printKernels(p: KernelProgram): string {
  return p.kernels.map((k) => printKernel(k, p)).join('\n');
}

// ------------------------------------------------------------ table

/** Iterations of a stage: parallel extents times the stage's own. */
function iterations(k: Kernel, s: Stage): Dim {
  return [...k.parallel, ...s.loops].reduce<Dim>((acc, l) => dimMul(acc, l.extent), 1);
}

/** FLOPs of one run of the kernel (see the header for what counts). */
export function kernelFlops(k: Kernel): Poly {
  return polyAdd(
    ...k.stages.map((s) => {
      let n = s.kind === 'reduce' ? s.accs.length : 0;
      forEachValue(stageRoots(s), (x, again) => {
        if (!again && (x.k === 'unary' || x.k === 'binary' || x.k === 'where' || x.k === 'rand')) n++;
      });
      return polyScale(poly(n), iterations(k, s));
    }),
  );
}

const OPS_WIDTH = 36;

/** The fused ops, cut to about OPS_WIDTH characters with a count of the rest. */
function opsText(ops: readonly string[]): string {
  const all = ops.join(', ');
  if (all.length <= OPS_WIDTH) return all || '-';
  const shown: string[] = [];
  let len = 0;
  for (const op of ops) {
    if (len + op.length + 2 > OPS_WIDTH - 6 && shown.length > 0) break;
    shown.push(op);
    len += op.length + 2;
  }
  return `${shown.join(', ')} (+${ops.length - shown.length})`;
}

/** One row per kernel: name, kind, fused ops, input/output buffers, FLOPs, bytes read/written; then totals. */
export function kernelTable(p: KernelProgram, dims?: ReadonlyMap<string, number>): string {
  const byId = new Map(p.buffers.map((b) => [b.id, b]));
  const name = (id: number) => {
    const b = byId.get(id);
    return b ? bufferName(b) : `b${id}?`;
  };
  const names = (k: Kernel, pick: (a: Kernel['buffers'][number]['access']) => boolean) =>
    [...new Set(k.buffers.filter((b) => pick(b.access)).map((b) => name(b.id)))].join(', ') || '-';
  let flops: Poly = [];
  let read: Poly = [];
  let written: Poly = [];
  const rows = p.kernels.map((k) => {
    const f = kernelFlops(k);
    const bytes = kernelBytes(k, p);
    flops = polyAdd(flops, f);
    read = polyAdd(read, bytes.read);
    written = polyAdd(written, bytes.written);
    return [
      k.name,
      k.kind,
      opsText(k.ops),
      names(k, (a) => a !== 'write'),
      names(k, (a) => a !== 'read'),
      showPoly(f, dims),
      showPoly(bytes.read, dims),
      showPoly(bytes.written, dims),
    ];
  });
  const lines = table(['kernel', 'kind', 'ops', 'inputs', 'outputs', 'flops', 'read', 'written'], rows);
  const n = p.kernels.length;
  lines.push(
    `${n} kernel${n === 1 ? '' : 's'}: ${showPoly(flops, dims)} flops, ` +
      `${showPoly(read, dims)} bytes read, ${showPoly(written, dims)} bytes written`,
  );
  return lines.join('\n') + '\n';
}
