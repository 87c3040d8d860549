// The worker side of the thread pool (runtime/threads.ts), as source text:
// a worker is started from a string (`eval` in Node, a Blob URL in browsers)
// so that it runs the same in Node, in browsers, from dist/ and from the
// TypeScript sources under a test runner, with no file to locate.
//
// A worker instantiates the model's module over the SAME shared memory, then
// loops: wait for a new generation in the control block, claim chunks of the
// current kernel's range with a compare-and-swap that also checks the
// generation (so a late worker never runs a chunk of the next job with the
// previous job's arguments), run them, count them done, and wake the main
// thread after the last one.
//
// Browser-safe: no `node:` imports.

import type { WasmMemory, WasmModule } from './layout.js';

/** Int32 slots of the control block (a SharedArrayBuffer). */
export const CTRL = {
  /** Incremented for every job (and to stop); workers wait on it. */
  GEN: 0,
  /** (generation tag << 16) | next chunk to claim. */
  CLAIM: 1,
  /** Chunks finished in this job; the main thread waits on it. */
  DONE: 2,
  NCHUNKS: 3,
  /** Index into the entry table sent at start-up. */
  ENTRY: 4,
  NARGS: 5,
  /** Set when a kernel threw on a worker; the message is in the error bytes. */
  ERROR: 6,
  STOP: 7,
  SCRATCH_BASE: 8,
  /** Bytes of scratch per thread; 0 when the kernel takes none. */
  SCRATCH_STRIDE: 9,
  ERROR_LEN: 10,
  /** NCHUNKS + 1 chunk boundaries start here. */
  BOUNDS: 16,
} as const;

/** Fits the 16-bit chunk field of CLAIM with room to spare. */
export const MAX_CHUNKS = 1024;
/** A claim counter past every chunk (> MAX_CHUNKS): the job takes no more claims. */
export const CLAIM_CLOSED = 0xffff;
export const MAX_ARGS = 512;
export const ARGS_BYTE = Math.ceil(((CTRL.BOUNDS + MAX_CHUNKS + 1) * 4) / 8) * 8;
export const ERROR_BYTE = ARGS_BYTE + MAX_ARGS * 8;
export const ERROR_BYTES = 1024;
export const CONTROL_BYTES = ERROR_BYTE + ERROR_BYTES;
/**
 * How long a thread polls before it sleeps (ms): a worker for the next job, the main thread for the
 * workers' last chunks. Consecutive kernels, and a training loop's steps, arrive well within it,
 * while a sleeping thread takes 20-40 µs to wake (Atomics.wait/notify), as long as a small kernel.
 */
export const SPIN_MS = 2;

/** Start-up message: what a worker needs to run kernels. */
export interface WorkerInit {
  readonly module: WasmModule;
  readonly memory: WasmMemory;
  readonly control: SharedArrayBuffer;
  /** Export names, indexed by CTRL.ENTRY. */
  readonly entries: readonly string[];
  /** Thread id (1, 2, ...; the main thread is 0): selects the scratch area. */
  readonly tid: number;
  /** GEN at start-up. */
  readonly gen: number;
}

const BODY = `
const C = ${JSON.stringify(CTRL)};
const ARGS_BYTE = ${ARGS_BYTE}, MAX_ARGS = ${MAX_ARGS}, ERROR_BYTE = ${ERROR_BYTE}, ERROR_BYTES = ${ERROR_BYTES}, SPIN_MS = ${SPIN_MS};
onInit((init) => {
  let fns;
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    fns = init.entries.map((e) => instance.exports[e]);
  } catch (e) {
    post({ type: 'error', message: String((e && e.message) || e) });
    return;
  }
  const I = new Int32Array(init.control);
  const F = new Float64Array(init.control, ARGS_BYTE, MAX_ARGS);
  const E = new Uint8Array(init.control, ERROR_BYTE, ERROR_BYTES);
  const tid = init.tid;
  let seen = init.gen;
  post({ type: 'ready' });
  for (;;) {
    const until = performance.now() + SPIN_MS;
    for (let s = 1; Atomics.load(I, C.GEN) === seen; s++)
      if ((s & 1023) === 0 && performance.now() > until) {
        Atomics.wait(I, C.GEN, seen);
        break;
      }
    const gen = Atomics.load(I, C.GEN);
    if (gen === seen) continue;
    seen = gen;
    if (Atomics.load(I, C.STOP) !== 0) break;
    const tag = gen & 0x7fff;
    for (;;) {
      const v = Atomics.load(I, C.CLAIM);
      if (v >>> 16 !== tag) break;
      const c = v & 0xffff;
      const n = Atomics.load(I, C.NCHUNKS);
      if (c >= n) break;
      if (Atomics.compareExchange(I, C.CLAIM, v, v + 1) !== v) continue;
      // The job cannot change while a claimed chunk is unfinished: read it now.
      const nargs = I[C.NARGS];
      const stride = I[C.SCRATCH_STRIDE];
      const args = new Array(nargs + (stride !== 0 ? 3 : 2));
      for (let i = 0; i < nargs; i++) args[i] = F[i];
      args[nargs] = I[C.BOUNDS + c];
      args[nargs + 1] = I[C.BOUNDS + c + 1];
      if (stride !== 0) args[nargs + 2] = I[C.SCRATCH_BASE] + tid * stride;
      try {
        fns[I[C.ENTRY]](...args);
      } catch (e) {
        if (Atomics.compareExchange(I, C.ERROR, 0, 1) === 0) {
          const bytes = new TextEncoder().encode(String((e && e.message) || e)).slice(0, ERROR_BYTES);
          E.set(bytes);
          Atomics.store(I, C.ERROR_LEN, bytes.length);
        }
      }
      if (Atomics.add(I, C.DONE, 1) + 1 === n) Atomics.notify(I, C.DONE);
    }
  }
});
`;

/** Worker source for Node's worker_threads (`new Worker(src, { eval: true })`, a CommonJS script). */
export const NODE_WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const onInit = (f) => parentPort.once('message', f);
const post = (m) => parentPort.postMessage(m);
${BODY}`;

/** Worker source for Web Workers (a classic script from a Blob URL). */
export const BROWSER_WORKER_SOURCE = `'use strict';
const onInit = (f) => { self.onmessage = (e) => { self.onmessage = null; f(e.data); }; };
const post = (m) => self.postMessage(m);
${BODY}`;
