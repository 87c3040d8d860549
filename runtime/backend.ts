// What a `Model` needs from the machine that runs its kernels: wasm linear
// memory with a thread pool (runtime/wasm-backend.ts) or a WebGPU device
// (runtime/webgpu/backend.ts). The Model itself owns everything the two
// share: the manifest, optimizer scalars, step counting and argument checks.

import type { Tensor, TensorData } from './executor.js';
import type { ProgramName } from './programs.js';

export type { ProgramName };

export interface Backend {
  /** Threads the wasm kernels may use (1 for webgpu). */
  readonly threads: number;
  /** Worker threads running (wasm; 0 until a kernel worth splitting runs). */
  readonly workersStarted: number;
  /** A line describing where kernels run, e.g. `webgpu (google swiftshader)`. */
  readonly device: string;
  /** Runs a program; returns the wanted outputs (all by default) as fresh typed arrays. */
  call(
    program: ProgramName,
    given: Readonly<Record<string, Tensor>>,
    scalars: Readonly<Record<string, number>>,
    want?: readonly string[],
  ): Promise<Record<string, Tensor>>;
  /** Views of the memory a call of `program` at these input shapes reads (executor.ts inputViews); undefined: no such memory (webgpu). */
  inputViews?(program: ProgramName, shapes: Readonly<Record<string, readonly number[]>>): Record<string, TensorData>;
  /** Copies of the named params and state tensors (flat, in the manifest's dtype). */
  readParams(names: readonly string[]): Promise<Map<string, TensorData>>;
  /** Overwrites params and state tensors (already checked against the manifest). */
  writeParams(values: ReadonlyMap<string, TensorData>): void;
  dispose(): void;
}
