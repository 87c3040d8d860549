// The memory plan: which program buffers share device storage.
//
// Liveness is over the kernel order: a temp lives from the first kernel that
// touches it to the last (to the end of the program when it is an output or
// the source of an assign). Temps whose lifetimes do not overlap share a
// storage when their element byte size and element count are equal (greedy
// in order of first use, lowest storage id first: deterministic). Inputs,
// params and outputs always have storages of their own: the caller owns
// them and outputs must survive the program.
//
// Storage ids are buffer ids (the first buffer placed in the storage), so
// `applyMemoryPlan` can rewrite a program in place of its temps and the
// kernel interpreter runs the result unchanged: a wrong plan then shows up
// as different results in the differential tests.
//
// Temps start zeroed. A temp whose first access reads it (a read or
// readwrite slot: an accumulation into zeros) gets a fresh storage, never a
// reused one. A kernel with write-only access to a temp is assumed to write
// every element that is read later.

import { formatSum } from './symbolic/format.js';
import { sumTerms } from './symbolic/poly.js';
import { type DType, type Dim, type SymDim, dimEq, dimMul, evalDim } from './types.js';
import type { Kernel, KernelProgram, ProgramBuffer } from './kernel/kir.js';

// ------------------------------------------------------------ polynomials

/**
 * A view of compiler/symbolic for byte and FLOP counts: a sum of monomials
 * over symbolic dims (`10*B + 10` is not a Dim). Normalised: like terms
 * merged, no zero terms, sorted by degree (highest first) then by symbols;
 * the constant term last. Terms keep the Dim spelling (`syms`), so a term
 * with symbols is a SymDim.
 */
export type Poly = readonly PolyTerm[];
export interface PolyTerm {
  readonly coef: number;
  /** Sorted symbol names; empty for the constant term. */
  readonly syms: readonly string[];
}

export function poly(d: Dim): Poly {
  return normalise([typeof d === 'number' ? { coef: d, syms: [] } : d]);
}

/** Like terms merged (compiler/symbolic), then in this view's order: by degree, then by symbols. */
function normalise(terms: readonly PolyTerm[]): Poly {
  return sumTerms(terms, (t) => t.syms.join('*')).sort(
    (a, b) => b.syms.length - a.syms.length || a.syms.join('*').localeCompare(b.syms.join('*')),
  );
}

export function polyAdd(...ps: readonly Poly[]): Poly {
  return normalise(ps.flat());
}

/** p * d. */
export function polyScale(p: Poly, d: Dim): Poly {
  return normalise(
    p.map((t) => {
      const m = dimMul(t.syms.length === 0 ? t.coef : (t as SymDim), d);
      return typeof m === 'number' ? { coef: m, syms: [] } : m;
    }),
  );
}

export function evalPoly(p: Poly, dims: ReadonlyMap<string, number>): number {
  return p.reduce((acc, t) => acc + (t.syms.length === 0 ? t.coef : evalDim(t as SymDim, dims)), 0);
}

export function formatPoly(p: Poly): string {
  return formatSum(p.map((t) => ({ coef: t.coef, names: t.syms })));
}

/** A number when `dims` is given, else the formula. */
export function showPoly(p: Poly, dims?: ReadonlyMap<string, number>): string {
  return dims ? String(evalPoly(p, dims)) : formatPoly(p);
}

// ------------------------------------------------------------ bytes

/**
 * Bytes per element on the devices: 4 for every dtype (bool is stored as a
 * 32-bit word: WGSL has no 8-bit storage, and the WASM backend follows suit).
 */
export function elementBytes(_dtype: DType): number {
  return 4;
}

export function bufferBytes(b: ProgramBuffer): Dim {
  return dimMul(b.size, elementBytes(b.dtype));
}

/**
 * Compulsory traffic of a kernel: every buffer it reads (writes) counted once
 * at its full size (an upper bound for slices and gathers, a lower bound for
 * a matmul without cache reuse). A readwrite slot counts both ways.
 */
export function kernelBytes(k: Kernel, p: KernelProgram): { read: Poly; written: Poly } {
  const byId = new Map(p.buffers.map((b) => [b.id, b]));
  const reads = new Set<number>();
  const writes = new Set<number>();
  for (const b of k.buffers) {
    if (b.access !== 'write') reads.add(b.id);
    if (b.access !== 'read') writes.add(b.id);
  }
  const sum = (ids: Set<number>) =>
    polyAdd(
      ...[...ids].map((id) => {
        const b = byId.get(id);
        if (!b) throw new Error(`kernel ${k.name} uses buffer b${id}, which the program does not declare`);
        return poly(bufferBytes(b));
      }),
    );
  return { read: sum(reads), written: sum(writes) };
}

// ------------------------------------------------------------ the plan

export interface Storage {
  /** The id of the first buffer placed here. */
  readonly id: number;
  readonly bytes: Dim;
  /** Buffer ids sharing this storage, in placement order. */
  readonly buffers: readonly number[];
}

export interface MemoryPlan {
  /** Every program buffer id -> its storage id. */
  readonly storageOf: ReadonlyMap<number, number>;
  readonly storages: readonly Storage[];
  /** Temps' lifetimes as [first, last] kernel indices (absent: never touched). */
  readonly lifetimes: ReadonlyMap<number, readonly [number, number]>;
  /** Buffer id -> its name: the role name, or `t<id>` for temps. */
  readonly names: ReadonlyMap<number, string>;
  /** Buffer id -> its role kind. */
  readonly roles: ReadonlyMap<number, ProgramBuffer['role']['kind']>;
  /** Bytes of all storages: the device memory the program needs (every storage lives as long as the program). */
  readonly peak: Poly;
  /** Bytes of all buffers: what the program would need without reuse. */
  readonly unshared: Poly;
  peakBytes(dims: ReadonlyMap<string, number>): number;
  readonly perKernel: readonly { readonly kernel: string; readonly bytesRead: Poly; readonly bytesWritten: Poly }[];
}

export function planMemory(p: KernelProgram): MemoryPlan {
  const byId = new Map<number, ProgramBuffer>();
  for (const b of p.buffers) {
    if (byId.has(b.id)) throw new Error(`buffer b${b.id} is declared twice`);
    byId.set(b.id, b);
  }
  const end = p.kernels.length; // "after the last kernel": outputs and assign sources live until then

  const lifetimes = new Map<number, [number, number]>();
  const firstReads = new Set<number>();
  p.kernels.forEach((k, ki) => {
    const access = new Map<number, { read: boolean; write: boolean }>();
    for (const s of k.buffers) {
      const a = access.get(s.id) ?? { read: false, write: false };
      access.set(s.id, { read: a.read || s.access !== 'write', write: a.write || s.access !== 'read' });
    }
    for (const [id, a] of access) {
      if (!byId.has(id)) throw new Error(`kernel ${k.name} uses buffer b${id}, which the program does not declare`);
      const life = lifetimes.get(id);
      if (life) life[1] = ki;
      else {
        lifetimes.set(id, [ki, ki]);
        if (a.read) firstReads.add(id);
      }
    }
  });
  for (const id of [...p.outputs.map((o) => o.buf), ...p.assigns.map((a) => a.buf)]) {
    const life = lifetimes.get(id);
    if (life) life[1] = end;
    else lifetimes.set(id, [end, end]);
  }

  const storages: { id: number; bytes: Dim; elements: Dim; elementBytes: number; buffers: number[]; last: number }[] =
    [];
  const storageOf = new Map<number, number>();
  const place = (b: ProgramBuffer, last: number) => {
    storages.push({
      id: b.id,
      bytes: bufferBytes(b),
      elements: b.size,
      elementBytes: elementBytes(b.dtype),
      buffers: [b.id],
      last,
    });
    storageOf.set(b.id, b.id);
  };

  const temps = p.buffers.filter((b) => b.role.kind === 'temp');
  for (const b of p.buffers) if (b.role.kind !== 'temp') place(b, Infinity);
  // Untouched temps last, in id order: they can share with anything.
  const order = [...temps].sort((a, b) => {
    const la = lifetimes.get(a.id)?.[0] ?? Infinity;
    const lb = lifetimes.get(b.id)?.[0] ?? Infinity;
    return la - lb || a.id - b.id;
  });
  const tempStorages: typeof storages = [];
  for (const b of order) {
    const life = lifetimes.get(b.id);
    // An untouched temp (declared, never used) fits any storage of its size and extends no lifetime.
    const [first, last] = life ?? [Infinity, -Infinity];
    const reuse = firstReads.has(b.id)
      ? undefined
      : tempStorages.find(
          (s) => s.last < first && s.elementBytes === elementBytes(b.dtype) && dimEq(s.elements, b.size),
        );
    if (reuse) {
      reuse.buffers.push(b.id);
      reuse.last = Math.max(reuse.last, last);
      storageOf.set(b.id, reuse.id);
    } else {
      place(b, last);
      tempStorages.push(storages[storages.length - 1]!);
      tempStorages.sort((x, y) => x.id - y.id); // candidates are tried lowest id first
    }
  }
  storages.sort((a, b) => a.id - b.id);

  const peak = polyAdd(...storages.map((s) => poly(s.bytes)));
  return {
    storageOf,
    storages: storages.map((s) => ({ id: s.id, bytes: s.bytes, buffers: s.buffers })),
    lifetimes,
    names: new Map(p.buffers.map((b) => [b.id, bufferName(b)])),
    roles: new Map(p.buffers.map((b) => [b.id, b.role.kind])),
    peak,
    unshared: polyAdd(...p.buffers.map((b) => poly(bufferBytes(b)))),
    peakBytes: (dims) => evalPoly(peak, dims),
    perKernel: p.kernels.map((k) => {
      const { read, written } = kernelBytes(k, p);
      return { kernel: k.name, bytesRead: read, bytesWritten: written };
    }),
  };
}

/** The program with every buffer id replaced by its storage id (one ProgramBuffer per storage). */
export function applyMemoryPlan(p: KernelProgram, plan: MemoryPlan): KernelProgram {
  const to = (id: number): number => {
    const s = plan.storageOf.get(id);
    if (s === undefined) throw new Error(`buffer b${id} has no storage in the plan`);
    return s;
  };
  return {
    ...p,
    buffers: p.buffers.filter((b) => to(b.id) === b.id),
    kernels: p.kernels.map((k) => ({ ...k, buffers: k.buffers.map((b) => ({ ...b, id: to(b.id) })) })),
    outputs: p.outputs.map((o) => ({ ...o, buf: to(o.buf) })),
    assigns: p.assigns.map((a) => ({ ...a, buf: to(a.buf) })),
  };
}

/** Buffer names for tables: the role name, temps as `t<id>`. */
export function bufferName(b: ProgramBuffer): string {
  return b.role.kind === 'temp' ? `t${b.id}` : b.role.name;
}

export function formatMemoryPlan(plan: MemoryPlan, dims?: ReadonlyMap<string, number>): string {
  const show = (d: Dim) => showPoly(poly(d), dims);
  const label = (id: number): string => {
    const name = plan.names.get(id) ?? `b${id}`;
    const role = plan.roles.get(id) ?? 'temp';
    if (role !== 'temp') return `${name} (${role})`;
    const life = plan.lifetimes.get(id);
    return `${name}${life ? ` [${life[0]}..${life[1]}]` : ''}`;
  };
  const rows = plan.storages.map((s) => [`s${s.id}`, show(s.bytes), s.buffers.map(label).join(', ')]);
  const lines = [
    `memory plan: ${plan.storages.length} storages for ${plan.storageOf.size} buffers, ` +
      `${showPoly(plan.peak, dims)} bytes (without reuse ${showPoly(plan.unshared, dims)})`,
    ...table(['storage', 'bytes', 'buffers (temps: [first..last] kernel)'], rows),
    ...table(
      ['kernel', 'read', 'written'],
      plan.perKernel.map((k) => [k.kernel, showPoly(k.bytesRead, dims), showPoly(k.bytesWritten, dims)]),
    ),
  ];
  return lines.join('\n') + '\n';
}

/** Left-aligned columns separated by two spaces, indented by two. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    ('  ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).trimEnd();
  return [line(header), ...rows.map(line)];
}
