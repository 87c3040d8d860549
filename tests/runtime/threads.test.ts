// The thread pool and the wasm binary helpers on a small hand-written module
// (no code generator involved): every chunk of every job runs exactly once,
// on the shared memory, across many consecutive jobs; a trap on a worker is
// reported; the memory import can be unshared.

import binaryen from 'binaryen';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkBounds } from '../../runtime/executor.js';
import { type WasmModule, readWasmMemory, wasmApi, withUnsharedMemory } from '../../runtime/layout.js';
import { ThreadPool } from '../../runtime/threads.js';

// k(ptr, v, begin, end): out[i] = v + i for i in [begin, end); traps when v is negative.
const WAT = `(module
  (import "env" "memory" (memory 1 100 shared))
  (data (i32.const 64) "kiln")
  (func (export "k") (param $ptr i32) (param $v f32) (param $b i32) (param $e i32)
    (local $i i32)
    (if (f32.lt (local.get $v) (f32.const 0)) (then unreachable))
    (local.set $i (local.get $b))
    (block $out (loop $l
      (br_if $out (i32.ge_s (local.get $i) (local.get $e)))
      (f32.store (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))
        (f32.add (local.get $v) (f32.convert_i32_s (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))))`;

function binary(): Uint8Array {
  const mod = binaryen.parseText(WAT);
  mod.setFeatures(binaryen.Features.All);
  const bin = mod.emitBinary();
  mod.dispose();
  return bin;
}

describe('wasm binary helpers', () => {
  it('reads the memory import and the end of the data segments', () => {
    const info = readWasmMemory(binary());
    expect(info.memory).toMatchObject({ module: 'env', name: 'memory', min: 1, max: 100, shared: true });
    expect(info.dataEnd).toBe(68);
    expect(info.otherImports).toEqual([]);
  });

  it('unshares the memory import, and the engine accepts the result', async () => {
    const bin = binary();
    const un = withUnsharedMemory(bin, readWasmMemory(bin));
    expect(readWasmMemory(un).memory?.shared).toBe(false);
    const WA = wasmApi();
    const module = await WA.compile(un);
    const memory = new WA.Memory({ initial: 1, maximum: 100 });
    const { exports } = await WA.instantiate(module, { env: { memory } });
    (exports['k'] as (...a: number[]) => void)(128, 1, 0, 4);
    expect(Array.from(new Float32Array(memory.buffer, 128, 4))).toEqual([1, 2, 3, 4]);
  });

  it('rejects truncated binaries', () => {
    const bin = binary();
    expect(() => readWasmMemory(bin.slice(0, bin.length - 3))).toThrow(/not a valid WebAssembly module/);
    expect(() => readWasmMemory(new Uint8Array([1, 2, 3]))).toThrow(/no wasm header/);
  });
});

describe('ThreadPool', () => {
  const pools: ThreadPool[] = [];
  afterAll(() => pools.forEach((p) => p.dispose()));

  async function setup(workers: number) {
    const WA = wasmApi();
    const module: WasmModule = await WA.compile(binary());
    const memory = new WA.Memory({ initial: 1, maximum: 100, shared: true });
    const { exports } = await WA.instantiate(module, { env: { memory } });
    const pool = await ThreadPool.start({ module, memory, entries: ['k'], workers });
    pools.push(pool);
    return { memory, fn: exports['k'] as (...a: number[]) => unknown, pool };
  }

  it('runs every chunk of many consecutive jobs exactly once', async () => {
    const { memory, fn, pool } = await setup(3);
    expect(pool.threads).toBe(4);
    const n = 5000;
    for (let rep = 0; rep < 300; rep++) {
      const out = new Float32Array(memory.buffer, 1024, n);
      out.fill(-1);
      const chunks = 1 + (rep % 17);
      const bounds = Array.from({ length: chunks + 1 }, (_, i) => Math.round((i * n) / chunks));
      const r = pool.dispatch({ entry: 0, fn, args: [1024, rep], bounds, scratch: { offset: 0, stride: 0 } });
      if (r) await r;
      for (let i = 0; i < n; i++) if (out[i] !== rep + i) throw new Error(`job ${rep}: element ${i} is ${out[i]}`);
    }
  });

  it('reports a trap on a worker thread and keeps working', async () => {
    const { memory, fn, pool } = await setup(1);
    // The main thread always runs with |v| and lingers a moment, so the worker gets to claim a
    // chunk; the worker runs the module's export with v itself, which traps when v < 0.
    const job = (v: number) => ({
      entry: 0,
      fn: (...a: number[]) => {
        const until = performance.now() + 2;
        while (performance.now() < until);
        return fn(a[0]!, Math.abs(v), a[2]!, a[3]!);
      },
      args: [0, v],
      bounds: [0, 1, 2],
      scratch: { offset: 0, stride: 0 },
    });
    let err: unknown;
    for (let i = 0; i < 200 && err === undefined; i++) {
      try {
        const r = pool.dispatch(job(-5));
        if (r) await r;
      } catch (e) {
        err = e;
      }
    }
    expect(String(err)).toMatch(/unreachable|kernel failed/);
    const r = pool.dispatch(job(2));
    if (r) await r;
    expect(Array.from(new Float32Array(memory.buffer, 0, 2))).toEqual([2, 3]);
  });
});

describe('chunkBounds', () => {
  it('splits only kernels with enough work, into ordered non-empty chunks', () => {
    expect(chunkBounds(100, 1e4, 4)).toBeUndefined();
    expect(chunkBounds(1, 1e9, 4)).toBeUndefined();
    expect(chunkBounds(100, 1e9, 1)).toBeUndefined();
    const b = chunkBounds(1000, 1e9, 4)!;
    expect(b[0]).toBe(0);
    expect(b[b.length - 1]).toBe(1000);
    expect(b.length - 1).toBe(16);
    for (let i = 1; i < b.length; i++) expect(b[i]!).toBeGreaterThan(b[i - 1]!);
    expect(chunkBounds(3, 1e9, 8)).toEqual([0, 1, 2, 3]);
  });
});
