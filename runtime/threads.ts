// The thread pool: workers (worker_threads in Node, Web Workers in browsers)
// that instantiate the model's module over the same shared memory and run
// chunks of a kernel's [0, split) range next to the main thread.
//
// One job at a time. The main thread writes the job (entry, arguments, chunk
// boundaries) into a shared control block, bumps the generation and wakes the
// workers, claims chunks itself, then waits until every chunk is done
// (Atomics.wait where the thread may block: Node's main thread and workers;
// Atomics.waitAsync, or polling, on a browser's main thread). The protocol
// is in runtime/worker.ts.
//
// Browser-safe: Node modules are imported dynamically, only in Node.

import type { WasmMemory, WasmModule } from './layout.js';
import { KilnRuntimeError } from './validate.js';
import {
  CLAIM_CLOSED,
  ARGS_BYTE,
  BROWSER_WORKER_SOURCE,
  CONTROL_BYTES,
  CTRL,
  ERROR_BYTE,
  MAX_ARGS,
  MAX_CHUNKS,
  NODE_WORKER_SOURCE,
  SPIN_MS,
  type WorkerInit,
} from './worker.js';

type KernelFn = (...args: number[]) => unknown;

interface WorkerHandle {
  post(msg: WorkerInit): void;
  onMessage(f: (msg: unknown) => void): void;
  onError(f: (message: string) => void): void;
  terminate(): void;
}

interface BrowserWorker {
  postMessage(msg: unknown): void;
  terminate(): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message?: string }) => void) | null;
}

type WaitAsync = (
  a: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function canBlock(): boolean {
  if (isNode()) return true;
  return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
}

/** Whether workers can share memory here (browsers need cross-origin isolation). */
export function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  if (isNode()) return true;
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
}

/** The number of cores, as the default thread count. */
export async function availableCores(): Promise<number> {
  if (isNode()) {
    const os = await import('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n >= 1 ? n : 1;
}

async function spawn(): Promise<WorkerHandle> {
  if (isNode()) {
    const { Worker } = await import('node:worker_threads');
    const w = new Worker(NODE_WORKER_SOURCE, { eval: true });
    // An undisposed model must not keep the process alive.
    w.unref();
    return {
      post: (m) => w.postMessage(m),
      onMessage: (f) => void w.on('message', f),
      onError: (f) => {
        w.on('error', (e: Error) => f(e.message));
        w.on('exit', (code: number) => f(`worker exited with code ${code}`));
      },
      terminate: () => void w.terminate(),
    };
  }
  const g = globalThis as unknown as {
    Worker?: new (url: string) => BrowserWorker;
    Blob: new (parts: string[], opts: { type: string }) => Blob;
    URL: { createObjectURL(b: Blob): string; revokeObjectURL(u: string): void };
  };
  if (!g.Worker) throw new KilnRuntimeError('this environment has no Web Workers; use { threads: 1 }');
  const url = g.URL.createObjectURL(new g.Blob([BROWSER_WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new g.Worker(url);
  g.URL.revokeObjectURL(url);
  return {
    post: (m) => w.postMessage(m),
    onMessage: (f) => (w.onmessage = (e) => f(e.data)),
    onError: (f) => (w.onerror = (e) => f(e.message ?? 'worker failed')),
    terminate: () => w.terminate(),
  };
}

export interface PoolOptions {
  readonly module: WasmModule;
  /** Must be shared. */
  readonly memory: WasmMemory;
  /** Export names the jobs refer to by index. */
  readonly entries: readonly string[];
  /** Worker threads besides the main thread. */
  readonly workers: number;
}

export interface Job {
  /** Index into PoolOptions.entries. */
  readonly entry: number;
  /** The main thread's function for the same export. */
  readonly fn: KernelFn;
  /** ABI arguments before [begin, end). */
  readonly args: readonly number[];
  /** Chunk boundaries: chunk i is [bounds[i], bounds[i + 1]). */
  readonly bounds: readonly number[];
  /** Per-thread scratch areas; stride 0 when the kernel takes none. */
  readonly scratch: { readonly offset: number; readonly stride: number };
}

export class ThreadPool {
  private readonly I: Int32Array;
  private readonly F: Float64Array;
  private gen = 0;
  private disposed = false;
  private readonly blocking = canBlock();

  private constructor(
    private readonly control: SharedArrayBuffer,
    private readonly handles: readonly WorkerHandle[],
  ) {
    this.I = new Int32Array(control);
    this.F = new Float64Array(control, ARGS_BYTE, MAX_ARGS);
  }

  /** Participating threads, the main thread included. */
  get threads(): number {
    return this.handles.length + 1;
  }

  /** Starts the workers; resolves when every one has instantiated the module. */
  static async start(opts: PoolOptions): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const handles: WorkerHandle[] = [];
    try {
      for (let i = 0; i < opts.workers; i++) handles.push(await spawn());
      await Promise.all(
        handles.map(
          (h, i) =>
            new Promise<void>((resolve, reject) => {
              h.onMessage((m) => {
                const msg = m as { type?: string; message?: string };
                if (msg.type === 'ready') resolve();
                else if (msg.type === 'error') reject(new KilnRuntimeError(`worker ${i + 1}: ${msg.message}`));
              });
              h.onError((message) => reject(new KilnRuntimeError(`worker ${i + 1}: ${message}`)));
              h.post({
                module: opts.module,
                memory: opts.memory,
                control,
                entries: opts.entries,
                tid: i + 1,
                gen: 0,
              });
            }),
        ),
      );
    } catch (e) {
      for (const h of handles) h.terminate();
      throw e;
    }
    return new ThreadPool(control, handles);
  }

  /** Runs a job on all threads; synchronous where the main thread may block, else a Promise. */
  dispatch(job: Job): void | Promise<void> {
    if (this.disposed) throw new KilnRuntimeError('the thread pool has been disposed');
    const { I, F } = this;
    const n = job.bounds.length - 1;
    if (n < 1 || n > MAX_CHUNKS) throw new Error(`bad chunk count ${n}`);
    if (job.args.length > MAX_ARGS) throw new Error(`kernel takes ${job.args.length} arguments, over ${MAX_ARGS}`);
    // Close the previous job's claims first: a worker that has just finished its last chunk may
    // still be in its claim loop, and must not pair that job's claim counter with this job's
    // chunk count (it would run a chunk of this job before it is published, and count it twice).
    Atomics.store(I, CTRL.CLAIM, (Atomics.load(I, CTRL.CLAIM) & ~0xffff) | CLAIM_CLOSED);
    I[CTRL.ENTRY] = job.entry;
    I[CTRL.NARGS] = job.args.length;
    F.set(job.args);
    for (let i = 0; i <= n; i++) I[CTRL.BOUNDS + i] = job.bounds[i]!;
    I[CTRL.SCRATCH_BASE] = job.scratch.offset;
    I[CTRL.SCRATCH_STRIDE] = job.scratch.stride;
    Atomics.store(I, CTRL.NCHUNKS, n);
    Atomics.store(I, CTRL.DONE, 0);
    this.gen = (this.gen % 0x7ffffffe) + 1;
    const tag = this.gen & 0x7fff;
    Atomics.store(I, CTRL.CLAIM, tag << 16);
    Atomics.store(I, CTRL.GEN, this.gen);
    Atomics.notify(I, CTRL.GEN);

    // The main thread works too (thread 0's scratch area).
    const call = [...job.args, 0, 0];
    if (job.scratch.stride !== 0) call.push(job.scratch.offset);
    let mainError: unknown;
    for (;;) {
      const v = Atomics.load(I, CTRL.CLAIM);
      const c = v & 0xffff;
      if (c >= n) break;
      if (Atomics.compareExchange(I, CTRL.CLAIM, v, v + 1) !== v) continue;
      call[job.args.length] = job.bounds[c]!;
      call[job.args.length + 1] = job.bounds[c + 1]!;
      try {
        job.fn(...call);
      } catch (e) {
        mainError ??= e;
      }
      Atomics.add(I, CTRL.DONE, 1);
    }
    const finish = () => {
      if (mainError !== undefined) throw mainError;
      this.checkError();
    };
    if (this.blocking) {
      // Poll first: the workers' chunks usually end within SPIN_MS, sooner than a wake-up would come.
      const until = performance.now() + SPIN_MS;
      let polling = true;
      for (let d = Atomics.load(I, CTRL.DONE), s = 1; d < n; d = Atomics.load(I, CTRL.DONE), s++) {
        if (polling) polling = (s & 255) !== 0 || performance.now() <= until;
        else Atomics.wait(I, CTRL.DONE, d);
      }
      return finish();
    }
    return this.waitAsync(n).then(finish);
  }

  private async waitAsync(n: number): Promise<void> {
    const { I } = this;
    const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
    for (let d = Atomics.load(I, CTRL.DONE); d < n; d = Atomics.load(I, CTRL.DONE)) {
      if (waitAsync) {
        const r = waitAsync(I, CTRL.DONE, d);
        if (r.async) await r.value;
      } else await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  private checkError(): void {
    const { I } = this;
    if (Atomics.load(I, CTRL.ERROR) === 0) return;
    const len = Atomics.load(I, CTRL.ERROR_LEN);
    const msg = new TextDecoder().decode(new Uint8Array(this.control, ERROR_BYTE, len).slice());
    Atomics.store(I, CTRL.ERROR_LEN, 0);
    Atomics.store(I, CTRL.ERROR, 0);
    throw new Error(`a kernel failed on a worker thread: ${msg}`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.I, CTRL.STOP, 1);
    Atomics.store(this.I, CTRL.GEN, (this.gen % 0x7ffffffe) + 1);
    Atomics.notify(this.I, CTRL.GEN);
    for (const h of this.handles) h.terminate();
  }
}
