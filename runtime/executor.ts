// Running one program of an artifact: bind the symbolic dims from the shapes
// of the given inputs (clear errors naming the tensor and both shapes), lay
// out the call's storages, copy the inputs in, zero the storages that are
// accumulated into, call the kernel exports in order with their pointers,
// dims, scalars and [begin, end) (split across the thread pool when a kernel
// has enough work), apply the assigns, and copy the requested outputs out.
//
// Browser-safe: no `node:` imports.

import type { DTypeSpec, KernelSpec, ProgramSpec, TensorSpec } from './manifest.js';
import {
  type CallLayout,
  type ParamLayout,
  type WasmMemory,
  ensureMemory,
  evalDimSpec,
  evalFlops,
  layoutProgram,
} from './layout.js';
import type { ThreadPool } from './threads.js';
import { KilnRuntimeError, formatDimSpec, formatTensorType } from './validate.js';
import { MAX_CHUNKS } from './worker.js';

export type TensorData = Float32Array | Int32Array | Uint8Array;

/** A tensor in or out of the runtime: a plain typed array (row-major) and its shape. */
export interface Tensor {
  readonly data: TensorData;
  readonly shape: readonly number[];
}

type KernelFn = (...args: number[]) => unknown;

/** Kernels with less estimated work than this run on the calling thread alone. */
export const PARALLEL_MIN_FLOPS = 1e5;
/** The least work worth a chunk of its own. */
export const CHUNK_MIN_FLOPS = 2.5e4;
/** Chunks per thread: some slack for dynamic balancing. */
const CHUNKS_PER_THREAD = 4;

export function typedArrayName(dtype: DTypeSpec): string {
  return dtype === 'f32' ? 'Float32Array' : dtype === 'i32' ? 'Int32Array' : 'Uint8Array';
}

function matchesDtype(dtype: DTypeSpec, data: unknown): boolean {
  return dtype === 'f32'
    ? data instanceof Float32Array
    : dtype === 'i32'
      ? data instanceof Int32Array
      : data instanceof Uint8Array;
}

const shown = (dtype: string, shape: readonly number[]) => `${dtype}[${shape.join(', ')}]`;

/**
 * Checks given tensors against declared ones and binds every symbolic dim
 * (as compiler/bind.ts does): single-symbol dims bind, compound dims with
 * one unknown symbol solve by exact division, then every dim must agree.
 */
export function bindDims(
  decls: readonly TensorSpec[],
  given: Readonly<Record<string, Tensor>>,
  what = 'input',
  /** false: bind from the shapes alone (the data is not looked at). */
  withData = true,
): Map<string, number> {
  const dims = new Map<string, number>();
  const from = new Map<string, string>();
  const known = new Set(decls.map((d) => d.name));
  for (const name of Object.keys(given))
    if (!known.has(name))
      throw new KilnRuntimeError(
        `unknown ${what} '${name}' (${what}s: ${decls.map((d) => `${d.name}: ${formatTensorType(d.dtype, d.shape)}`).join(', ') || 'none'})`,
      );
  const got = (d: TensorSpec): Tensor => {
    const t = Object.hasOwn(given, d.name) ? given[d.name] : undefined;
    const want = formatTensorType(d.dtype, d.shape);
    if (!t) throw new KilnRuntimeError(`missing ${what} '${d.name}' (expected ${want})`);
    if (typeof t !== 'object' || !Array.isArray(t.shape))
      throw new KilnRuntimeError(`${what} '${d.name}': expected { data, shape }`);
    const mismatch = (why: string): never => {
      throw new KilnRuntimeError(`${what} '${d.name}': expected ${want}, got ${shown(d.dtype, t.shape)} (${why})`);
    };
    if (withData && !matchesDtype(d.dtype, t.data))
      throw new KilnRuntimeError(
        `${what} '${d.name}': ${d.dtype} data must be a ${typedArrayName(d.dtype)}, got ${describeData(t.data)}`,
      );
    if (t.shape.length !== d.shape.length) mismatch(`rank ${t.shape.length}, expected ${d.shape.length}`);
    t.shape.forEach((n, i) => {
      const e = d.shape[i]!;
      if (!Number.isSafeInteger(n) || n < 0) mismatch(`dimension ${i} is ${n}`);
      if (typeof e === 'number' && n !== e) mismatch(`dimension ${i} is ${n}, expected ${e}`);
    });
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (withData && t.data.length !== numel)
      throw new KilnRuntimeError(
        `${what} '${d.name}': shape [${t.shape.join(', ')}] needs ${numel} elements, but the data holds ${t.data.length}`,
      );
    return t;
  };
  const bind = (s: string, n: number, d: TensorSpec, i: number) => {
    const have = dims.get(s);
    if (have === undefined) {
      dims.set(s, n);
      from.set(s, `${what} '${d.name}'`);
    } else if (have !== n) {
      throw new KilnRuntimeError(`${what} '${d.name}': dimension ${i} is ${n} but ${s} = ${have} from ${from.get(s)}`);
    }
  };
  for (const d of decls) {
    const t = got(d);
    d.shape.forEach((e, i) => {
      if (typeof e !== 'number' && e.coef === 1 && e.syms.length === 1) bind(e.syms[0]!, t.shape[i]!, d, i);
    });
  }
  for (let progress = true; progress;) {
    progress = false;
    for (const d of decls) {
      const t = given[d.name]!;
      d.shape.forEach((e, i) => {
        if (typeof e === 'number') return;
        const unknown = e.syms.filter((s) => !dims.has(s));
        if (unknown.length !== 1 || e.syms.filter((s) => s === unknown[0]).length !== 1) return;
        const k = e.syms.reduce((acc, s) => (dims.has(s) ? acc * dims.get(s)! : acc), e.coef);
        const n = t.shape[i]!;
        if (k !== 0 && n % k === 0) {
          bind(unknown[0]!, n / k, d, i);
          progress = true;
        }
      });
    }
  }
  for (const d of decls) {
    const t = given[d.name]!;
    d.shape.forEach((e, i) => {
      if (typeof e === 'number') return;
      const n = t.shape[i]!;
      const unbound = e.syms.find((s) => !dims.has(s));
      if (unbound !== undefined)
        throw new KilnRuntimeError(
          `${what} '${d.name}': cannot bind ${unbound} from dimension ${i} = ${n} (expected ${formatDimSpec(e)})`,
        );
      const v = evalDimSpec(e, dims);
      if (v !== n)
        throw new KilnRuntimeError(
          `${what} '${d.name}': expected ${formatTensorType(d.dtype, d.shape)}, got ${shown(d.dtype, t.shape)} ` +
            `(dimension ${i} is ${n}, expected ${formatDimSpec(e)} = ${v})`,
        );
    });
  }
  return dims;
}

function describeData(data: unknown): string {
  if (data === null || typeof data !== 'object') return String(data);
  return (data as object).constructor?.name ?? 'an object';
}

/**
 * The checks every backend makes before running a program: the inputs
 * (binding the symbolic dims), the wanted outputs (all by default) and the
 * run-time scalars.
 */
export function checkCall(
  program: ProgramSpec,
  inputs: readonly TensorSpec[],
  given: Readonly<Record<string, Tensor>>,
  scalars: Readonly<Record<string, number>>,
  want: readonly string[] | undefined,
): { dims: Map<string, number>; wanted: readonly string[] } {
  const dims = bindDims(inputs, given);
  const wanted = want ?? program.outputs.map((o) => o.name);
  for (const name of wanted)
    if (!program.outputs.some((o) => o.name === name))
      throw new KilnRuntimeError(
        `unknown output '${name}' (outputs: ${program.outputs.map((o) => o.name).join(', ')})`,
      );
  for (const s of program.scalars)
    if (typeof scalars[s] !== 'number') throw new KilnRuntimeError(`missing run-time scalar '${s}'`);
  return { dims, wanted };
}

/**
 * Chunk boundaries of [0, split) for a kernel of `flops` on `threads` threads; undefined: run it whole.
 * `perThread`: at most one chunk per thread (each chunk repeats a setup, such as packing an operand).
 */
export function chunkBounds(split: number, flops: number, threads: number, perThread = false): number[] | undefined {
  if (threads < 2 || split < 2 || !(flops >= PARALLEL_MIN_FLOPS)) return undefined;
  const perThreadChunks = perThread ? 1 : CHUNKS_PER_THREAD;
  const n = Math.min(split, threads * perThreadChunks, Math.floor(flops / CHUNK_MIN_FLOPS), MAX_CHUNKS);
  if (n < 2) return undefined;
  // Multiples of 4 rows where there is room: whole SIMD micro-tiles per chunk.
  const grain = split >= 16 * n ? 4 : 1;
  const bounds = [0];
  for (let i = 1; i < n; i++) bounds.push(Math.round((i * split) / n / grain) * grain);
  bounds.push(split);
  return bounds.filter((b, i) => i === 0 || b > bounds[i - 1]!);
}

/** A cache key for a call's plan: its bound dims, in name order. */
export function dimsKey(dims: ReadonlyMap<string, number>): string {
  return [...dims.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** What the executor needs from the loaded model. */
export interface ExecContext {
  readonly memory: WasmMemory;
  /** The main thread's instance exports. */
  readonly exports: Readonly<Record<string, unknown>>;
  readonly params: ParamLayout;
  /** Threads to plan for (1: never split). */
  readonly threads: number;
  /** Index of an export in the pool's entry table. */
  readonly entryIndex: ReadonlyMap<string, number>;
  /** The started pool (started on first need). */
  pool(): Promise<ThreadPool>;
}

interface KernelCall {
  readonly spec: KernelSpec;
  readonly fn: KernelFn;
  readonly entry: number;
  /** Pointers and dims; the scalars follow per call. */
  readonly head: readonly number[];
  readonly split: number;
  /** Chunk boundaries when the kernel is split across threads. */
  readonly bounds: readonly number[] | undefined;
}

interface Plan {
  readonly layout: CallLayout;
  readonly calls: readonly KernelCall[];
  readonly parallel: boolean;
}

const PLAN_CACHE = 8;

export class ProgramExecutor {
  private readonly plans = new Map<string, Plan>();
  private readonly outputSpecs: ReadonlyMap<string, TensorSpec>;
  private readonly bufById: ReadonlyMap<number, ProgramSpec['buffers'][number]>;

  constructor(
    readonly program: ProgramSpec,
    /** Every input the caller must give. */
    readonly inputs: readonly TensorSpec[],
    /** Shapes of the program's outputs, by name. */
    outputs: readonly TensorSpec[],
    private readonly ctx: ExecContext,
  ) {
    this.outputSpecs = new Map(outputs.map((o) => [o.name, o]));
    this.bufById = new Map(program.buffers.map((b) => [b.id, b]));
  }

  /** Runs the program; returns the wanted outputs (all by default) as fresh typed arrays. */
  async call(
    given: Readonly<Record<string, Tensor>>,
    scalars: Readonly<Record<string, number>>,
    want?: readonly string[],
  ): Promise<Record<string, Tensor>> {
    const { dims, wanted } = checkCall(this.program, this.inputs, given, scalars, want);

    const plan = this.plan(dims);
    const pool = plan.parallel ? await this.ctx.pool() : undefined;
    const { memory } = this.ctx;
    ensureMemory(memory, plan.layout.end);
    let buf = memory.buffer;

    for (const b of this.program.buffers) {
      if (b.role.kind !== 'input') continue;
      const t = given[b.role.name]!;
      const at = plan.layout.offsets.get(b.id)!;
      // A view from inputViews, still in place: the data is already where the kernels read it.
      if (t.data.buffer === buf && t.data.byteOffset === at && b.dtype !== 'bool') continue;
      writeTyped(buf, at, t.data, b.dtype);
    }
    for (const id of this.program.zeroed) {
      const bytes = plan.layout.storageBytes.get(id) ?? 0;
      new Uint8Array(buf, plan.layout.offsets.get(id)!, bytes).fill(0);
    }

    for (const k of plan.calls) {
      if (k.split === 0) continue;
      const args = k.spec.scalars.length === 0 ? [...k.head] : [...k.head, ...k.spec.scalars.map((s) => scalars[s]!)];
      const scratch = k.spec.scratch ? plan.layout.scratch : { offset: 0, stride: 0 };
      if (pool && k.bounds) {
        const r = pool.dispatch({ entry: k.entry, fn: k.fn, args, bounds: k.bounds, scratch });
        if (r) await r;
      } else if (k.spec.scratch) k.fn(...args, 0, k.split, scratch.offset);
      else k.fn(...args, 0, k.split);
    }

    buf = memory.buffer;
    const moves: { to: number; bytes: Uint8Array }[] = [];
    for (const a of this.program.assigns) {
      const slot = this.ctx.params.slots.get(a.target)!;
      const from = plan.layout.offsets.get(a.buf)!;
      if (from !== slot.offset)
        moves.push({ to: slot.offset, bytes: new Uint8Array(buf, from, slot.numel * 4).slice() });
    }
    for (const m of moves) new Uint8Array(buf, m.to, m.bytes.length).set(m.bytes);

    const out: Record<string, Tensor> = {};
    for (const name of wanted) {
      const o = this.program.outputs.find((x) => x.name === name)!;
      const spec = this.outputSpecs.get(name)!;
      const shape = spec.shape.map((d) => evalDimSpec(d, dims));
      const n = shape.reduce((a, b) => a * b, 1);
      const b = this.bufById.get(o.buf)!;
      out[name] = { data: readTyped(buf, plan.layout.offsets.get(o.buf)!, n, b.dtype), shape };
    }
    return out;
  }

  /**
   * Typed arrays over the memory where a call at these input shapes reads each input (f32 and i32
   * inputs; bool inputs are stored as i32 words and always copied). Filled in place and passed back
   * as the inputs' data, they are not copied. A call that needs more memory grows it, which outdates
   * older views: over the old buffer (shared memory), copied like any array; else detached (empty).
   */
  inputViews(shapes: Readonly<Record<string, readonly number[]>>): Record<string, TensorData> {
    const given = Object.fromEntries(
      Object.entries(shapes).map(([name, shape]) => [name, { data: new Float32Array(0), shape }]),
    );
    const dims = bindDims(this.inputs, given, 'input', false);
    const plan = this.plan(dims);
    ensureMemory(this.ctx.memory, plan.layout.end);
    const buf = this.ctx.memory.buffer;
    const views: Record<string, TensorData> = {};
    for (const b of this.program.buffers) {
      if (b.role.kind !== 'input' || b.dtype === 'bool') continue;
      const n = shapes[b.role.name]!.reduce((a, c) => a * c, 1);
      const at = plan.layout.offsets.get(b.id)!;
      views[b.role.name] = b.dtype === 'f32' ? new Float32Array(buf, at, n) : new Int32Array(buf, at, n);
    }
    return views;
  }

  private plan(dims: ReadonlyMap<string, number>): Plan {
    const key = dimsKey(dims);
    const have = this.plans.get(key);
    if (have) return have;
    const { exports, threads } = this.ctx;
    const fnOf = (name: string): KernelFn => {
      const f = exports[name];
      if (typeof f !== 'function') throw new KilnRuntimeError(`the module has no export '${name}'`);
      return f as KernelFn;
    };
    const dimArgs = (k: KernelSpec) => k.dims.map((d) => dims.get(d)!);
    const scratchBytes = this.program.kernels.map((k) => {
      if (!k.scratch) return 0;
      const bytes = Number(fnOf(`${k.entry}_scratch_bytes`)(...dimArgs(k)));
      if (!Number.isSafeInteger(bytes) || bytes < 0)
        throw new KilnRuntimeError(`${k.entry}_scratch_bytes returned ${bytes}, not a byte count`);
      return bytes;
    });
    const layout = layoutProgram(this.program, dims, this.ctx.params, scratchBytes, threads);
    const calls = this.program.kernels.map((k): KernelCall => {
      const split = evalDimSpec(k.split, dims);
      return {
        spec: k,
        fn: fnOf(k.entry),
        entry: this.ctx.entryIndex.get(k.entry) ?? -1,
        head: [...k.buffers.map((id) => layout.offsets.get(id)!), ...dimArgs(k)],
        split,
        bounds: chunkBounds(split, evalFlops(k.flops, dims), threads, k.chunking === 'per-thread'),
      };
    });
    const plan = { layout, calls, parallel: calls.some((c) => c.bounds !== undefined) };
    if (this.plans.size >= PLAN_CACHE) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(key, plan);
    return plan;
  }
}

/** A fresh (unshared) typed array with `n` elements of `dtype` read from memory. */
export function readTyped(buf: ArrayBufferLike, at: number, n: number, dtype: DTypeSpec): TensorData {
  if (dtype === 'f32') return new Float32Array(buf, at, n).slice();
  const words = new Int32Array(buf, at, n);
  if (dtype === 'i32') return words.slice();
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = words[i] !== 0 ? 1 : 0;
  return out;
}

/** Writes `data` of `dtype` into memory (bool as i32 0/1). */
export function writeTyped(buf: ArrayBufferLike, at: number, data: TensorData, dtype: DTypeSpec): void {
  if (dtype === 'f32') new Float32Array(buf, at, data.length).set(data);
  else if (dtype === 'i32') new Int32Array(buf, at, data.length).set(data);
  else {
    const view = new Int32Array(buf, at, data.length);
    for (let i = 0; i < data.length; i++) view[i] = data[i] !== 0 ? 1 : 0;
  }
}
