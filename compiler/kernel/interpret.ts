// The kernel-IR interpreter: executes a KernelProgram in float64 exactly as
// the code generators will (one program per parallel point, stages in
// order), so fusion, views and the memory plan are tested against the
// reference interpreter before any codegen exists.
//
// Scalar semantics are those of compiler/interpret.ts, op for op (i32 wraps,
// NaN-propagating max/min, floored div/mod, saturating casts, the reduction
// identities). Every load and store is bounds-checked and every name a kernel
// uses (loop variable, dim, scalar, accumulator, slot) is checked against
// what the kernel declares: those checks are how planner bugs surface.
//
// Kernels are compiled to closures over a variable frame once per run (a
// tree walk with map lookups is ~20x slower, and the differential tests run
// real models). Shared VExpr subtrees are evaluated once per iteration point
// (an epoch-stamped cache), as codegen binds them once.

import { type DType, type Dim, evalDim, formatShape } from '../types.js';
import type { RefTensor } from '../interpret.js';
import { binaryImpl, castValue, coerce, randUniform, reduceImpl as reduceIdentity, unaryImpl } from '../semantics.js';
import type { ReduceFn } from '../ir.js';
import { vdtype } from './abi.js';
import type { IBool, IExpr, Kernel, KernelProgram, VExpr } from './kir.js';
import { stageRoots } from './affine.js';
import { sharedValues } from './walk.js';

export interface KernelEnv {
  readonly dims: ReadonlyMap<string, number>;
  readonly scalars: ReadonlyMap<string, number>;
  /** Buffer names for error messages (program buffer id -> name). */
  readonly names?: ReadonlyMap<number, string>;
}

export interface ProgramEnv {
  readonly inputs: ReadonlyMap<string, RefTensor>;
  /** Updated in place (entries replaced) for the program's `assigns`. */
  readonly params: Map<string, RefTensor>;
  /** Symbolic dimension sizes; those missing are derived from input/param buffer sizes where possible. */
  readonly dims?: ReadonlyMap<string, number>;
  /** Runtime scalars; a missing one falls back to a rank-0 input tensor of that name. */
  readonly scalars?: ReadonlyMap<string, number>;
}

// ------------------------------------------------------- scalar semantics
/** [identity, fold] of a reduction (compiler/semantics.ts), by dtype. */
export function reduceImpl(fn: ReduceFn, dtype: DType): [number, (acc: number, v: number) => number] {
  return reduceIdentity(fn, dtype === 'i32');
}

// ------------------------------------------------------------ compilation

type Num = () => number;

/** Names in scope while compiling one stage: loop variables (frame slots) and visible accumulators. */
interface Scope {
  readonly vars: ReadonlyMap<string, number>;
  readonly accs: ReadonlyMap<number, number>;
  /** VExprs referenced more than once in this stage: evaluated once per point. */
  readonly shared: ReadonlySet<VExpr>;
  readonly memo: Map<VExpr, Num>;
  readonly where: string;
}

interface Slot {
  readonly id: number;
  readonly data: Float64Array;
  readonly label: string;
  readonly canRead: boolean;
  readonly canWrite: boolean;
}

/** Compiles and runs one kernel; `buffers` is indexed by program buffer id. */
export function runKernel(k: Kernel, buffers: readonly Float64Array[], env: KernelEnv): void {
  const fail = (msg: string): never => {
    throw new Error(`kernel ${k.name}: ${msg}`);
  };
  const slots: Slot[] = k.buffers.map((b, i) => {
    const data = buffers[b.id] ?? fail(`slot ${i} binds buffer b${b.id}, which does not exist`);
    const name = env.names?.get(b.id);
    return {
      id: b.id,
      data,
      label: `slot ${i} (b${b.id}${name !== undefined ? ` ${name}` : ''})`,
      canRead: b.access !== 'write',
      canWrite: b.access !== 'read',
    };
  });
  const slot = (i: number): Slot => slots[i] ?? fail(`slot ${i} does not exist (${slots.length} slots)`);
  const declaredDims = new Set(k.dims);
  const dimValue = (name: string): number => {
    if (!declaredDims.has(name)) fail(`uses dim '${name}' it does not declare`);
    return env.dims.get(name) ?? fail(`dim '${name}' is not bound`);
  };
  const extent = (d: Dim): number => {
    if (typeof d !== 'number') for (const s of d.syms) dimValue(s);
    const n = evalDim(d, env.dims);
    if (!Number.isInteger(n) || n < 0) fail(`loop extent ${n} is not a size`);
    return n;
  };
  const declaredScalars = new Set(k.scalars);

  // The frame: loop variable values, accumulator values, and the per-point cache.
  const vars: number[] = [];
  const accVals: number[] = [];
  const cacheVal: number[] = [];
  const cacheEpoch: number[] = [];
  let epoch = 0;

  const compileI = (e: IExpr, sc: Scope): Num => {
    switch (e.k) {
      case 'const': {
        const v = e.v;
        return () => v;
      }
      case 'var': {
        const s = sc.vars.get(e.name) ?? fail(`${sc.where}: loop variable '${e.name}' is not in scope`);
        return () => vars[s]!;
      }
      case 'dim': {
        const v = dimValue(e.name);
        return () => v;
      }
      case 'add': {
        const a = compileI(e.a, sc);
        const b = compileI(e.b, sc);
        return () => a() + b();
      }
      case 'mul': {
        const a = compileI(e.a, sc);
        const b = compileI(e.b, sc);
        return () => a() * b();
      }
      case 'div':
      case 'mod': {
        const a = compileI(e.a, sc);
        const b = compileI(e.b, sc);
        const div = e.k === 'div';
        return () => {
          const d = b();
          if (!(d > 0)) fail(`${sc.where}: index ${div ? 'division' : 'modulo'} by ${d}`);
          const n = a();
          const q = Math.floor(n / d);
          return div ? q : n - d * q;
        };
      }
      case 'value': {
        const x = compileV(e.x, sc);
        const hi = compileI(e.hi, sc);
        return () => {
          const v = castValue(x(), 'i32');
          const h = hi();
          return v < 0 ? 0 : v >= h ? Math.max(h - 1, 0) : v;
        };
      }
    }
  };

  const compileB = (c: IBool, sc: Scope): (() => boolean) | undefined => {
    switch (c.k) {
      case 'true':
        return undefined; // always valid: no test at all
      case 'le': {
        const a = compileI(c.a, sc);
        const b = compileI(c.b, sc);
        return () => a() <= b();
      }
      case 'and': {
        const a = compileB(c.a, sc);
        const b = compileB(c.b, sc);
        if (!a) return b;
        if (!b) return a;
        return () => a() && b();
      }
    }
  };

  const compileV = (x: VExpr, sc: Scope): Num => {
    const hit = sc.memo.get(x);
    if (hit) return hit;
    let f = compileVNode(x, sc);
    if (sc.shared.has(x) && x.k !== 'const' && x.k !== 'scalar' && x.k !== 'acc') {
      const inner = f;
      const c = cacheVal.length;
      cacheVal.push(0);
      cacheEpoch.push(-1);
      f = () => {
        if (cacheEpoch[c] === epoch) return cacheVal[c]!;
        const v = inner();
        cacheVal[c] = v;
        cacheEpoch[c] = epoch;
        return v;
      };
    }
    sc.memo.set(x, f);
    return f;
  };

  const compileVNode = (x: VExpr, sc: Scope): Num => {
    switch (x.k) {
      case 'load': {
        const s = slot(x.buf);
        if (!s.canRead) fail(`${sc.where}: loads from write-only ${s.label}`);
        const index = compileI(x.index, sc);
        const valid = compileB(x.valid, sc);
        const { data } = s;
        const n = data.length;
        const fill = x.fill;
        const read = (): number => {
          const i = index();
          if (!(i >= 0 && i < n && Number.isInteger(i)))
            fail(`${sc.where}: load from ${s.label} at index ${i} out of bounds [0, ${n})`);
          return data[i]!;
        };
        return valid ? () => (valid() ? read() : fill) : read;
      }
      case 'const': {
        const v = coerce(x.dtype, x.v);
        return () => v;
      }
      case 'scalar': {
        if (!declaredScalars.has(x.name)) fail(`uses scalar '${x.name}' it does not declare`);
        const v = coerce(x.dtype, env.scalars.get(x.name) ?? fail(`scalar '${x.name}' is not bound`));
        return () => v;
      }
      case 'index': {
        const i = compileI(x.i, sc);
        return () => i() | 0;
      }
      case 'unary': {
        const fn = unaryImpl(x.fn, vdtype(x.x));
        const a = compileV(x.x, sc);
        return () => fn(a());
      }
      case 'binary': {
        const fn = binaryImpl(x.fn, vdtype(x.a));
        const a = compileV(x.a, sc);
        const b = compileV(x.b, sc);
        return () => fn(a(), b());
      }
      case 'where': {
        const c = compileV(x.c, sc);
        const a = compileV(x.a, sc);
        const b = compileV(x.b, sc);
        return () => (c() !== 0 ? a() : b());
      }
      case 'cast': {
        const a = compileV(x.x, sc);
        const to = x.dtype;
        return () => castValue(a(), to);
      }
      case 'rand': {
        const key = compileV(x.key, sc);
        const i = compileI(x.i, sc);
        const salt = x.salt;
        return () => randUniform(key(), salt, i());
      }
      case 'acc': {
        const s = sc.accs.get(x.id) ?? fail(`${sc.where}: accumulator ${x.id} is not computed by an earlier stage`);
        return () => accVals[s]!;
      }
    }
  };

  // Frame slots: parallel variables first, then each stage's own loop variables.
  const parallelVars = new Map<string, number>();
  for (const l of k.parallel) {
    if (parallelVars.has(l.name)) fail(`parallel loop variable '${l.name}' is declared twice`);
    parallelVars.set(l.name, vars.length);
    vars.push(0);
  }
  const parallelSlots = [...parallelVars.values()];
  const parallelExtents = k.parallel.map((l) => extent(l.extent));

  const visibleAccs = new Map<number, number>();
  const stages: (() => void)[] = k.stages.map((st, si) => {
    const where = `stage ${si} (${st.kind})`;
    const stageVars = new Map(parallelVars);
    const loopSlots: number[] = [];
    for (const l of st.loops) {
      if (stageVars.has(l.name)) fail(`${where}: loop variable '${l.name}' is already in scope`);
      stageVars.set(l.name, vars.length);
      loopSlots.push(vars.length);
      vars.push(0);
    }
    const extents = st.loops.map((l) => extent(l.extent));
    const sc: Scope = {
      vars: stageVars,
      accs: new Map(visibleAccs),
      shared: sharedValues(stageRoots(st)),
      memo: new Map(),
      where,
    };
    switch (st.kind) {
      case 'reduce': {
        const accs = st.accs.map((a) => {
          if (visibleAccs.has(a.id) || st.accs.filter((b) => b.id === a.id).length > 1)
            fail(`${where}: accumulator ${a.id} is defined twice`);
          const [init, step] = reduceImpl(a.fn, a.dtype);
          return { init, step, value: compileV(a.value, sc), out: accVals.push(0) - 1 };
        });
        for (const [i, a] of st.accs.entries()) visibleAccs.set(a.id, accs[i]!.out);
        const cur = accs.map((a) => a.init);
        const vals = accs.map(() => 0);
        const body = () => {
          epoch++;
          // All values first: the accumulators of one stage never see each other.
          for (let i = 0; i < accs.length; i++) vals[i] = accs[i]!.value();
          for (let i = 0; i < accs.length; i++) cur[i] = accs[i]!.step(cur[i]!, vals[i]!);
        };
        return () => {
          for (let i = 0; i < accs.length; i++) cur[i] = accs[i]!.init;
          forEachPoint(vars, loopSlots, extents, body);
          for (let i = 0; i < accs.length; i++) accVals[accs[i]!.out] = cur[i]!;
        };
      }
      case 'map': {
        const stores = st.stores.map((s) => {
          const sl = slot(s.buf);
          if (!sl.canWrite) fail(`${where}: stores to read-only ${sl.label}`);
          const check = s.check && slot(s.check.flag);
          if (check && !check.canWrite) fail(`${where}: raises a flag in read-only ${check.label}`);
          if (check && !(s.check!.word >= 0 && s.check!.word < check.data.length))
            fail(`${where}: flag word ${s.check!.word} out of bounds [0, ${check.data.length})`);
          const flag = check && { data: check.data, word: s.check!.word };
          return { slot: sl, index: compileI(s.index, sc), value: compileV(s.value, sc), flag };
        });
        const idx = stores.map(() => 0);
        const vals = stores.map(() => 0);
        const body = () => {
          epoch++;
          // Evaluate every store of the point before writing any: stores of one point never see each other.
          for (let i = 0; i < stores.length; i++) {
            vals[i] = stores[i]!.value();
            idx[i] = stores[i]!.index();
          }
          for (let i = 0; i < stores.length; i++) {
            const { data, label } = stores[i]!.slot;
            const j = idx[i]!;
            if (!(j >= 0 && j < data.length && Number.isInteger(j)))
              fail(`${where}: store to ${label} at index ${j} out of bounds [0, ${data.length})`);
            data[j] = vals[i]!;
            // The non-finite check (kir.ts StoreCheck) looks at the value as stored.
            const flag = stores[i]!.flag;
            if (flag && !Number.isFinite(data[j]!)) flag.data[flag.word] = 1;
          }
        };
        return () => forEachPoint(vars, loopSlots, extents, body);
      }
    }
  });

  forEachPoint(vars, parallelSlots, parallelExtents, () => {
    for (const s of stages) s();
  });
}

/** Runs `body` for every point of the loops (row-major: the last loop varies fastest). */
function forEachPoint(vars: number[], slots: readonly number[], extents: readonly number[], body: () => void): void {
  const n = slots.length;
  for (const e of extents) if (e === 0) return;
  for (const s of slots) vars[s] = 0;
  for (;;) {
    body();
    let d = n - 1;
    for (; d >= 0; d--) {
      const s = slots[d]!;
      if (++vars[s]! < extents[d]!) break;
      vars[s] = 0;
    }
    if (d < 0) return;
  }
}

// ---------------------------------------------------------------- programs

/**
 * Binds the symbols of input/param buffer sizes from the given tensors'
 * element counts: a size with exactly one unbound symbol (occurring once)
 * binds it by exact division, repeated until nothing changes.
 */
function deriveDims(p: KernelProgram, env: ProgramEnv): Map<string, number> {
  const dims = new Map(env.dims ?? []);
  const known: { size: Dim; n: number; what: string }[] = [];
  for (const b of p.buffers) {
    const role = b.role;
    if (typeof b.size === 'number' || (role.kind !== 'input' && role.kind !== 'param')) continue;
    const t = (role.kind === 'input' ? env.inputs : env.params).get(role.name);
    if (t) known.push({ size: b.size, n: t.data.length, what: `${role.kind} '${role.name}'` });
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const { size, n, what } of known) {
      if (typeof size === 'number') continue;
      const unbound = size.syms.filter((s) => !dims.has(s));
      if (unbound.length !== 1) continue;
      const s = unbound[0]!;
      const rest = size.syms.reduce((acc, x) => (x === s ? acc : acc * dims.get(x)!), size.coef);
      const v = n / rest;
      if (!Number.isInteger(v) || v < 0)
        throw new Error(`${what}: ${n} elements do not give an integer size for dim '${s}'`);
      dims.set(s, v);
      changed = true;
    }
  }
  return dims;
}

/** Runs a whole program: binds input/param buffers, runs the kernels in order, applies assigns, returns the outputs. */
export function runProgram(p: KernelProgram, env: ProgramEnv): Map<string, RefTensor> {
  for (const b of p.buffers)
    if (b.role.kind === 'input' || b.role.kind === 'param') {
      const { kind, name } = b.role;
      if (!(kind === 'input' ? env.inputs : env.params).has(name)) throw new Error(`missing ${kind} '${name}'`);
    }
  const dims = deriveDims(p, env);
  const scalars = new Map(env.scalars ?? []);
  for (const s of p.scalars) {
    if (scalars.has(s)) continue;
    const t = env.inputs.get(s);
    if (!t || t.data.length !== 1) throw new Error(`missing scalar '${s}'`);
    scalars.set(s, t.data[0]!);
  }

  const buffers: Float64Array[] = [];
  const names = new Map<number, string>();
  for (const b of p.buffers) {
    if (buffers[b.id]) throw new Error(`buffer b${b.id} is declared twice`);
    const n = evalDim(b.size, dims);
    if (!Number.isInteger(n) || n < 0) throw new Error(`buffer b${b.id}: size ${n} is not a size`);
    const role = b.role;
    switch (role.kind) {
      case 'input':
      case 'param': {
        names.set(b.id, role.name);
        const t = (role.kind === 'input' ? env.inputs : env.params).get(role.name);
        if (!t) throw new Error(`missing ${role.kind} '${role.name}'`);
        if (t.dtype !== b.dtype || t.data.length !== n)
          throw new Error(
            `${role.kind} '${role.name}': expected ${b.dtype} with ${n} elements, got ${t.dtype}${formatShape(t.shape)}`,
          );
        buffers[b.id] = t.data.slice(); // never alias the caller's arrays
        break;
      }
      case 'output':
        names.set(b.id, role.name);
        buffers[b.id] = new Float64Array(n);
        break;
      case 'temp':
        buffers[b.id] = new Float64Array(n); // temps start zeroed (the memory plan relies on it)
        break;
    }
  }

  for (const k of p.kernels) runKernel(k, buffers, { dims, scalars, names });

  const read = (buf: number, what: string, shape: readonly number[]): Float64Array => {
    const data = buffers[buf];
    if (!data) throw new Error(`${what}: buffer b${buf} does not exist`);
    const n = shape.reduce((a, d) => a * d, 1);
    if (data.length !== n) throw new Error(`${what}: buffer b${buf} has ${data.length} elements, shape needs ${n}`);
    return data.slice();
  };
  const updates = p.assigns.map((a) => {
    const old = env.params.get(a.target);
    if (!old) throw new Error(`assign to unknown param '${a.target}'`);
    return {
      name: a.target,
      t: { dtype: old.dtype, shape: old.shape, data: read(a.buf, `assign '${a.target}'`, old.shape) },
    };
  });
  const out = new Map<string, RefTensor>();
  for (const o of p.outputs) {
    const shape = o.shape.map((d) => evalDim(d, dims));
    out.set(o.name, { dtype: o.dtype, shape, data: read(o.buf, `output '${o.name}'`, shape) });
  }
  for (const u of updates) env.params.set(u.name, u.t);
  return out;
}
