// A test-only executor for modules of targets/wasm/codegen.ts: lays every
// program buffer out at 16-byte aligned offsets of a WebAssembly.Memory
// (temps zeroed, as the kernel interpreter's are), copies inputs and params
// in as f32/i32, calls each kernel over its whole range [0, split), or over
// random consecutive sub-ranges (to check that a kernel computes exactly its
// [begin, end)), and reads outputs and assigned params back.

import type { RefTensor } from '../../compiler/interpret.js';
import type { KernelProgram } from '../../compiler/kernel/kir.js';
import { evalDim } from '../../compiler/types.js';
import type { WasmModule } from '../../targets/wasm/codegen.js';

/** The slice of the WebAssembly JS API the executor uses (the project's lib has no DOM types). */
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type Fn = (...args: number[]) => number;

export interface WasmEnv {
  readonly inputs: ReadonlyMap<string, RefTensor>;
  readonly params: ReadonlyMap<string, RefTensor>;
  readonly dims: ReadonlyMap<string, number>;
  readonly scalars?: ReadonlyMap<string, number>;
}

export interface WasmRunOptions {
  /** Calls per kernel over consecutive sub-ranges, cut where `rng` says (default: one call over the whole range). */
  readonly pieces?: { readonly rng: () => number; readonly max: number };
  /** Import a shared memory (the module must have been built with sharedMemory). */
  readonly shared?: boolean;
  /** The memory's maximum pages (at most what the module declares; default 65536). */
  readonly maxPages?: number;
}

export interface WasmRunResult {
  readonly outputs: Map<string, RefTensor>;
  /** The params after the program's assigns. */
  readonly params: Map<string, RefTensor>;
  /** How many kernel calls were made. */
  readonly calls: number;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;

/** Cuts [0, n) into 2 to `max` consecutive non-empty ranges at random points (fewer when points coincide). */
function cuts(n: number, opts: WasmRunOptions['pieces']): [number, number][] {
  if (!opts || n <= 1) return [[0, n]];
  const points = new Set<number>();
  const k = 2 + Math.floor(opts.rng() * (opts.max - 1));
  for (let i = 1; i < k; i++) points.add(1 + Math.floor(opts.rng() * (n - 1)));
  const xs = [0, ...[...points].sort((a, b) => a - b), n];
  return xs.slice(1).map((e, i) => [xs[i]!, e]);
}

export function runWasmProgram(
  mod: WasmModule,
  prefix: string,
  p: KernelProgram,
  env: WasmEnv,
  opts: WasmRunOptions = {},
): WasmRunResult {
  const dims = env.dims;
  const sizes = new Map(p.buffers.map((b) => [b.id, evalDim(b.size, dims)]));
  const offsets = new Map<number, number>();
  let top = 0;
  for (const b of p.buffers) {
    offsets.set(b.id, top);
    top = align16(top + 4 * sizes.get(b.id)!);
  }

  // Instantiate against a memory big enough for the buffers, then size the scratch area.
  const compile = (pages: number) => {
    const memory = new WA.Memory({
      initial: pages,
      maximum: opts.maxPages ?? 65536,
      ...(opts.shared && { shared: true }),
    });
    const instance = new WA.Instance(new WA.Module(mod.binary), { env: { memory } });
    return { memory, exports: instance.exports };
  };
  const fn = (exports: Record<string, unknown>, name: string): Fn => {
    const f = exports[name];
    if (typeof f !== 'function') throw new Error(`the module exports no function ${name}`);
    return f as Fn;
  };
  const kernelDims = (k: KernelProgram['kernels'][number]) =>
    k.dims.map((d) => {
      const v = dims.get(d);
      if (v === undefined) throw new Error(`dim '${d}' is not bound`);
      return v;
    });
  const sizing = compile(1).exports;
  let scratchBytes = 0;
  for (const k of p.kernels) {
    const s = mod.scratch.get(`${prefix}.${k.name}`);
    if (s) scratchBytes = Math.max(scratchBytes, fn(sizing, s)(...kernelDims(k)));
  }
  const scratch = top;
  top = align16(top + scratchBytes);
  const { memory, exports } = compile(Math.ceil(top / 65536) + 1);

  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  const view = (id: number, dtype: string) => {
    const at = offsets.get(id)! / 4;
    const n = sizes.get(id)!;
    return dtype === 'f32' ? f32.subarray(at, at + n) : i32.subarray(at, at + n);
  };
  for (const b of p.buffers) {
    if (b.role.kind !== 'input' && b.role.kind !== 'param') continue;
    const t = (b.role.kind === 'input' ? env.inputs : env.params).get(b.role.name);
    if (!t) throw new Error(`missing ${b.role.kind} '${b.role.name}'`);
    if (t.data.length !== sizes.get(b.id))
      throw new Error(`${b.role.name}: ${t.data.length} elements, expected ${sizes.get(b.id)}`);
    view(b.id, b.dtype).set(t.data);
  }

  let calls = 0;
  for (const k of p.kernels) {
    const key = `${prefix}.${k.name}`;
    const entry = mod.entries.get(key);
    if (!entry) throw new Error(`no export for ${key}`);
    const f = fn(exports, entry);
    const head = [
      ...k.buffers.map((b) => offsets.get(b.id)!),
      ...kernelDims(k),
      ...k.scalars.map((s) => {
        const v = env.scalars?.get(s) ?? env.inputs.get(s)?.data[0];
        if (v === undefined) throw new Error(`scalar '${s}' is not bound`);
        return v;
      }),
    ];
    // [begin, end) ranges over the outermost parallel loop, or what the module says (matmul columns)
    const range = mod.splits.get(key) ?? k.parallel[0]?.extent;
    const split = range !== undefined ? evalDim(range, dims) : 1;
    const tail = mod.scratch.has(key) ? [scratch] : [];
    for (const [b, e] of cuts(split, opts.pieces)) {
      f(...head, b, e, ...tail);
      calls++;
    }
  }

  const read = (buf: number, dtype: string, shape: readonly number[]): RefTensor => {
    const b = p.buffers.find((x) => x.id === buf);
    if (!b) throw new Error(`buffer b${buf} does not exist`);
    return { dtype: b.dtype, shape: [...shape], data: Float64Array.from(view(buf, dtype)) };
  };
  const outputs = new Map<string, RefTensor>();
  for (const o of p.outputs)
    outputs.set(
      o.name,
      read(
        o.buf,
        o.dtype,
        o.shape.map((d) => evalDim(d, dims)),
      ),
    );
  const params = new Map(env.params);
  for (const a of p.assigns) {
    const old = env.params.get(a.target);
    if (!old) throw new Error(`assign to unknown param '${a.target}'`);
    params.set(a.target, read(a.buf, old.dtype, old.shape));
  }
  return { outputs, params, calls };
}
