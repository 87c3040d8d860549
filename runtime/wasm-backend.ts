// The wasm backend: the module instantiated over a linear memory the runtime
// owns, params and optimizer state resident in it from `memory.base`, the
// programs run by ProgramExecutor, and a worker-thread pool (started on
// first need) splitting large kernels over a shared memory.
//
// Browser-safe: Node modules are imported dynamically, only in Node.

import type { Backend, ProgramName } from './backend.js';
import { type Tensor, type TensorData, ProgramExecutor, readTyped, writeTyped } from './executor.js';
import {
  type ParamLayout,
  PAGE_BYTES,
  layoutParams,
  mib,
  readWasmMemory,
  withUnsharedMemory,
  type WasmMemoryInfo,
  type WasmMemory,
  type WasmModule,
  wasmApi,
} from './layout.js';
import type { Manifest } from './manifest.js';
import { manifestPrograms } from './programs.js';
import { ThreadPool, availableCores, sharedMemoryAvailable } from './threads.js';
import { ArtifactError, KilnRuntimeError } from './validate.js';

export interface WasmBackendOptions {
  /** Threads, the calling one included (default: the available cores). */
  readonly threads?: number;
}

/** Instantiates the artifact's module; `params` are validated against the manifest already. */
export async function createWasmBackend(
  manifest: Manifest,
  code: Uint8Array,
  params: ReadonlyMap<string, TensorData>,
  opts: WasmBackendOptions,
  codeSource: string,
): Promise<Backend> {
  let info: WasmMemoryInfo;
  try {
    info = readWasmMemory(code);
  } catch (e) {
    throw new ArtifactError(`${codeSource}: ${(e as Error).message}`);
  }
  const mem = info.memory;
  if (!mem || mem.module !== 'env' || mem.name !== 'memory')
    throw new ArtifactError(`${codeSource}: the module must import its memory as env.memory`);
  if (info.otherImports.length > 0)
    throw new ArtifactError(`${codeSource}: unexpected imports ${info.otherImports.join(', ')} (only env.memory)`);
  if (info.dataEnd > manifest.memory.base)
    throw new ArtifactError(
      `${codeSource}: its data reaches byte ${info.dataEnd}, past memory.base ${manifest.memory.base} of the manifest`,
    );

  const requested = opts.threads ?? (await availableCores());
  if (!Number.isSafeInteger(requested) || requested < 1)
    throw new KilnRuntimeError(`threads must be a positive integer, got ${requested}`);
  const threaded = requested > 1 && mem.shared && sharedMemoryAvailable();
  const threads = threaded ? requested : 1;

  let module: WasmModule;
  try {
    module = await wasmApi().compile(threaded ? code : withUnsharedMemory(code, info));
  } catch (e) {
    const hint = manifest.features.includes('relaxed-simd')
      ? ' (it needs relaxed SIMD: recompile without --relaxed-simd for this engine)'
      : '';
    throw new ArtifactError(
      `${codeSource}: not a valid WebAssembly module for this engine: ${(e as Error).message}${hint}`,
    );
  }

  const layout = layoutParams(manifest.params, manifest.memory.base);
  const initial = Math.max(mem.min, Math.ceil(layout.end / PAGE_BYTES));
  if (mem.max !== undefined && initial > mem.max)
    throw new ArtifactError(
      `${codeSource}: the params need ${mib(layout.end)} of memory, more than the module's limit of ${mib(mem.max * PAGE_BYTES)}`,
    );
  const WA = wasmApi();
  const memory = new WA.Memory({
    initial,
    ...(mem.max !== undefined && { maximum: mem.max }),
    ...(threaded && { shared: true }),
  });
  let instance: { readonly exports: Record<string, unknown> };
  try {
    instance = await WA.instantiate(module, { env: { memory } });
  } catch (e) {
    // A start function that traps, a data segment out of bounds: the module is not one Kiln wrote.
    throw new ArtifactError(`${codeSource}: cannot instantiate the module (${(e as Error).message})`);
  }
  const exports = instance.exports;
  checkExports(manifest, exports, codeSource);

  const backend = new WasmBackend(manifest, module, memory, exports, layout, threads, codeSource);
  backend.writeParams(params);
  return backend;
}

function checkExports(manifest: Manifest, exports: Record<string, unknown>, source: string): void {
  for (const { path: where, spec: p } of manifestPrograms(manifest))
    p.kernels.forEach((k, i) => {
      const f = exports[k.entry];
      const want = k.buffers.length + k.dims.length + k.scalars.length + 2 + (k.scratch ? 1 : 0);
      if (typeof f !== 'function')
        throw new ArtifactError(`${source}: no exported function '${k.entry}' for ${where}.kernels[${i}]`);
      if (f.length !== want)
        throw new ArtifactError(
          `${source}: export '${k.entry}' takes ${f.length} parameters, but ${where}.kernels[${i}] passes ${want}`,
        );
      if (k.scratch) {
        const s = exports[`${k.entry}_scratch_bytes`];
        if (typeof s !== 'function' || s.length !== k.dims.length)
          throw new ArtifactError(
            `${source}: ${where}.kernels[${i}] needs scratch, but there is no export '${k.entry}_scratch_bytes' taking ${k.dims.length} dims`,
          );
      }
    });
}

class WasmBackend implements Backend {
  private readonly programs: ReadonlyMap<ProgramName, ProgramExecutor>;
  private poolStart: Promise<ThreadPool> | undefined;
  private poolReady = false;
  readonly device: string;

  constructor(
    manifest: Manifest,
    private readonly module: WasmModule,
    private readonly memory: WasmMemory,
    exports: Record<string, unknown>,
    private readonly params: ParamLayout,
    readonly threads: number,
    private readonly codeSource: string,
  ) {
    const programs = manifestPrograms(manifest);
    const entries = [...new Set(programs.flatMap((p) => p.spec.kernels.map((k) => k.entry)))];
    const ctx = {
      memory,
      exports,
      params,
      threads,
      entryIndex: new Map(entries.map((e, i) => [e, i])),
      pool: () => this.pool(entries),
    };
    this.programs = new Map(programs.map((p) => [p.name, new ProgramExecutor(p.spec, p.inputs, p.outputs, ctx)]));
    this.device = `wasm (${threads} thread${threads === 1 ? '' : 's'})`;
  }

  get workersStarted(): number {
    return this.poolReady ? this.threads - 1 : 0;
  }

  async call(
    program: ProgramName,
    given: Readonly<Record<string, Tensor>>,
    scalars: Readonly<Record<string, number>>,
    want?: readonly string[],
  ): Promise<Record<string, Tensor>> {
    const p = this.programs.get(program);
    if (!p) throw new KilnRuntimeError(`the artifact has no ${program} program`);
    try {
      return await p.call(given, scalars, want);
    } catch (e) {
      // Kiln's kernels never trap (their memory is planned, their ids clamped): a trap means a module
      // that is not the one compiled for this manifest, e.g. a damaged model.wasm (it has no checksum).
      if (e instanceof wasmApi().RuntimeError)
        throw new ArtifactError(
          `${this.codeSource}: the ${program} program trapped (${e.message}); the module is damaged or was not compiled with this manifest`,
        );
      throw e;
    }
  }

  inputViews(program: ProgramName, shapes: Readonly<Record<string, readonly number[]>>): Record<string, TensorData> {
    const p = this.programs.get(program);
    if (!p) throw new KilnRuntimeError(`the artifact has no ${program} program`);
    return p.inputViews(shapes);
  }

  readParams(names: readonly string[]): Promise<Map<string, TensorData>> {
    const buf = this.memory.buffer;
    const out = new Map<string, TensorData>();
    for (const n of names) {
      const slot = this.params.slots.get(n)!;
      out.set(n, readTyped(buf, slot.offset, slot.numel, slot.spec.dtype));
    }
    return Promise.resolve(out);
  }

  writeParams(values: ReadonlyMap<string, TensorData>): void {
    const buf = this.memory.buffer;
    for (const [n, data] of values) {
      const slot = this.params.slots.get(n)!;
      writeTyped(buf, slot.offset, data, slot.spec.dtype);
    }
  }

  dispose(): void {
    void this.poolStart?.then(
      (p) => p.dispose(),
      () => undefined,
    );
  }

  private pool(entries: readonly string[]): Promise<ThreadPool> {
    this.poolStart ??= ThreadPool.start({
      module: this.module,
      memory: this.memory,
      entries,
      workers: this.threads - 1,
    }).then(
      (p) => {
        this.poolReady = true;
        return p;
      },
      (e: unknown) => {
        throw new KilnRuntimeError(
          `cannot start ${this.threads - 1} worker threads (${(e as Error).message}); load the model with { threads: 1 }`,
        );
      },
    );
    return this.poolStart;
  }
}
