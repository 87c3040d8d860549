// Where everything lives in linear memory. From `memory.base` up: the params
// and optimizer state (persistent: they survive calls and are shared by the
// forward and training programs), then one call's storages (inputs, outputs,
// temps; their sizes depend on the bound dims, so they are laid out per
// call shape), then one scratch area per thread. Every region starts on a
// 16-byte boundary (SIMD loads). The programs never run at the same time,
// so their per-call regions overlap.
//
// Browser-safe: no `node:` imports.

import type { DimSpec, KernelSpec, ParamSpec, ProgramSpec } from './manifest.js';
import { KilnRuntimeError } from './validate.js';

/** The part of the WebAssembly JS API the runtime uses (the project is typed without DOM libs). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
/** A compiled module: opaque here, structured-cloneable to workers. */
export type WasmModule = object;
export interface WasmApi {
  readonly Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<{ readonly exports: Record<string, unknown> }>;
  /** What a trap throws (unreachable, an out-of-bounds access, ...). */
  readonly RuntimeError: abstract new (...args: never[]) => Error;
}
export const wasmApi = (): WasmApi => {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) throw new KilnRuntimeError('this JavaScript engine has no WebAssembly');
  return api;
};

export const ALIGN = 16;
export const PAGE_BYTES = 65536;
/** wasm32 addresses. */
export const MAX_MEMORY_BYTES = 2 ** 32;

export const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function evalDimSpec(d: DimSpec, dims: ReadonlyMap<string, number>): number {
  if (typeof d === 'number') return d;
  let v = d.coef;
  for (const s of d.syms) {
    const x = dims.get(s);
    if (x === undefined) throw new KilnRuntimeError(`dimension '${s}' is not bound`);
    v *= x;
  }
  return v;
}

/** A kernel's estimated flops at these dims. */
export function evalFlops(f: KernelSpec['flops'], dims: ReadonlyMap<string, number>): number {
  if (!Array.isArray(f)) return evalDimSpec(f as DimSpec, dims);
  let total = 0;
  for (const t of f as readonly { readonly coef: number; readonly syms: readonly string[] }[])
    total += t.syms.length === 0 ? t.coef : evalDimSpec({ coef: 1, syms: t.syms }, dims) * t.coef;
  return total;
}

export interface ParamSlot {
  readonly name: string;
  readonly spec: ParamSpec;
  readonly shape: readonly number[];
  readonly numel: number;
  /** Byte offset in linear memory. */
  readonly offset: number;
}

export interface ParamLayout {
  readonly slots: ReadonlyMap<string, ParamSlot>;
  /** First byte after the params, aligned. */
  readonly end: number;
}

export function layoutParams(params: readonly ParamSpec[], base: number): ParamLayout {
  const slots = new Map<string, ParamSlot>();
  let at = alignUp(base);
  for (const p of params) {
    const shape = p.shape.map((d) => d as number);
    const numel = shape.reduce((a, b) => a * b, 1);
    slots.set(p.name, { name: p.name, spec: p, shape, numel, offset: at });
    at = alignUp(at + numel * 4);
  }
  return { slots, end: at };
}

export interface CallLayout {
  /** Byte offset of every program buffer (params resolve to their persistent slot). */
  readonly offsets: ReadonlyMap<number, number>;
  /** Byte size of every per-call storage, by storage id. */
  readonly storageBytes: ReadonlyMap<number, number>;
  /** Per-thread scratch areas: thread i's starts at offset + i * stride; stride 0 when no kernel needs one. */
  readonly scratch: { readonly offset: number; readonly stride: number };
  /** First byte after everything: the memory this call needs. */
  readonly end: number;
}

/**
 * Byte size of every per-call storage of a program at the given dims (its
 * inputs, outputs and temps; params live in their slots), by storage id, in
 * layout order. Pure: the size of a call is known before any memory is.
 */
export function callStorageBytes(program: ProgramSpec, dims: ReadonlyMap<string, number>): Map<number, number> {
  const bytes = new Map<number, number>();
  // Storage roots only (buffers are validated: every storage is a root buffer).
  for (const b of program.buffers)
    if (b.storage === b.id && b.role.kind !== 'param') bytes.set(b.id, evalDimSpec(b.size, dims) * 4);
  return bytes;
}

/**
 * Offsets of a program's buffers at the given dims. `scratchBytes[i]` is the
 * scratch kernel i needs per thread (0 for none); `threads` areas are laid out.
 */
export function layoutProgram(
  program: ProgramSpec,
  dims: ReadonlyMap<string, number>,
  params: ParamLayout,
  scratchBytes: readonly number[],
  threads: number,
): CallLayout {
  const offsets = new Map<number, number>();
  const storageBytes = callStorageBytes(program, dims);
  let at = params.end;
  for (const b of program.buffers) {
    if (b.storage !== b.id || b.role.kind !== 'param') continue;
    const slot = params.slots.get(b.role.name);
    if (!slot) throw new KilnRuntimeError(`param '${b.role.name}' has no slot`);
    offsets.set(b.id, slot.offset);
  }
  for (const [id, bytes] of storageBytes) {
    offsets.set(id, at);
    at = alignUp(at + bytes);
  }
  for (const b of program.buffers) if (b.storage !== b.id) offsets.set(b.id, offsets.get(b.storage)!);
  const stride = alignUp(Math.max(0, ...scratchBytes));
  const scratch = { offset: at, stride };
  at += stride * threads;
  if (at > MAX_MEMORY_BYTES)
    throw new KilnRuntimeError(
      `this call needs ${mib(at)} of memory, more than the 4 GiB a wasm32 module can address (use smaller batches)`,
    );
  return { offsets, storageBytes, scratch, end: at };
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Grows the memory to at least `bytes`; a clear error when its maximum is in the way. */
export function ensureMemory(memory: WasmMemory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return;
  const pages = Math.ceil((bytes - have) / PAGE_BYTES);
  try {
    memory.grow(pages);
  } catch {
    throw new KilnRuntimeError(
      `the model needs ${mib(bytes)} of linear memory for these shapes, but the memory cannot grow beyond ${mib(have)} (its maximum, or the engine's limit): use smaller batches`,
    );
  }
}

// ------------------------------------------------------------ the module's memory

export interface MemoryImport {
  readonly module: string;
  readonly name: string;
  /** Pages. */
  readonly min: number;
  readonly max: number | undefined;
  readonly shared: boolean;
  /** Byte offset of the limits flag in the binary (cleared to unshare). */
  readonly flagsAt: number;
}

export interface WasmMemoryInfo {
  /** The imported memory, if the module imports one. */
  readonly memory: MemoryImport | undefined;
  /** Every other import, as `module.name`. */
  readonly otherImports: readonly string[];
  /** First byte after the module's active data segments (0 without any). */
  readonly dataEnd: number;
}

/**
 * Reads the memory import and the extent of the data segments from a wasm
 * binary (only the import and data sections are parsed). Throws
 * KilnRuntimeError on a malformed or truncated binary.
 */
export function readWasmMemory(bin: Uint8Array): WasmMemoryInfo {
  let pos = 0;
  const bad = (why: string): never => {
    throw new KilnRuntimeError(`not a valid WebAssembly module (${why} at byte ${pos})`);
  };
  const byte = () => (pos < bin.length ? bin[pos++]! : bad('unexpected end'));
  const u32 = () => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = byte();
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
    return bad('integer too long');
  };
  const s32 = () => {
    let v = 0;
    let shift = 0;
    let b: number;
    do {
      b = byte();
      v |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    return shift < 32 && b & 0x40 ? v | (-1 << shift) : v;
  };
  const name = () => {
    const n = u32();
    if (pos + n > bin.length) bad('unexpected end');
    const s = new TextDecoder().decode(bin.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const limits = () => {
    const flagsAt = pos;
    const flags = byte();
    const min = u32();
    const max = flags & 1 ? u32() : undefined;
    return { flags, flagsAt, min, max };
  };

  if (bin.length < 8 || bin[0] !== 0 || bin[1] !== 0x61 || bin[2] !== 0x73 || bin[3] !== 0x6d) bad('no wasm header');
  if (bin[4] !== 1 || bin[5] !== 0 || bin[6] !== 0 || bin[7] !== 0) bad('unsupported binary version');
  pos = 8;
  let memory: MemoryImport | undefined;
  const otherImports: string[] = [];
  let dataEnd = 0;
  while (pos < bin.length) {
    const id = byte();
    const size = u32();
    const end = pos + size;
    if (end > bin.length) bad(`section ${id} runs past the end of the file`);
    if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        const mod = name();
        const field = name();
        const kind = byte();
        if (kind === 2) {
          const l = limits();
          memory = {
            module: mod,
            name: field,
            min: l.min,
            max: l.max,
            shared: (l.flags & 2) !== 0,
            flagsAt: l.flagsAt,
          };
          continue;
        }
        otherImports.push(`${mod}.${field}`);
        if (kind === 0) u32();
        else if (kind === 1) {
          byte();
          limits();
        } else if (kind === 3) {
          byte();
          byte();
        } else if (kind === 4) {
          byte();
          u32();
        } else bad(`unknown import kind ${kind}`);
      }
    } else if (id === 11) {
      for (let n = u32(); n > 0; n--) {
        const flag = u32();
        if (flag === 1) {
          pos += u32(); // passive: placed only by memory.init
          continue;
        }
        if (flag === 2) u32();
        else if (flag !== 0) bad(`unknown data segment kind ${flag}`);
        if (byte() !== 0x41) bad('data segment offset is not an i32.const');
        const offset = s32();
        if (byte() !== 0x0b) bad('data segment offset is not a constant');
        const len = u32();
        pos += len;
        dataEnd = Math.max(dataEnd, (offset >>> 0) + len);
      }
    }
    pos = end;
  }
  if (pos !== bin.length) bad('trailing bytes');
  return { memory, otherImports, dataEnd };
}

/** A copy of the binary whose memory import is not shared (to run without SharedArrayBuffer). */
export function withUnsharedMemory(bin: Uint8Array, info: WasmMemoryInfo): Uint8Array {
  if (!info.memory?.shared) return bin;
  const out = bin.slice();
  out[info.memory.flagsAt] = out[info.memory.flagsAt]! & ~2;
  return out;
}
