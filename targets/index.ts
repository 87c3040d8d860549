// targets/: the code generators behind compiler/target.ts, and the artifact.
//   wasm/      kernel IR -> one WebAssembly SIMD module, through binaryen
//   wgsl/      kernel IR -> one WGSL compute shader per kernel, for WebGPU
//   artifact.ts  a compilation and its code packed as manifest, code and params
// Neither back end imports the other: what they share (export names, scalar
// and value dtypes) is compiler/kernel/abi.ts. This loader imports a back end
// (and binaryen) only when code is generated, so checking a model or dumping
// its kernels never loads one.

import type { Target } from '../compiler/target.js';
import type { WasmTargetOptions } from './wasm/target.js';

/** Which code generator, with its options. */
export type TargetRequest = ({ readonly name: 'wasm' } & WasmTargetOptions) | { readonly name: 'webgpu' };

export async function loadTarget(req: TargetRequest): Promise<Target> {
  switch (req.name) {
    case 'wasm': {
      const { wasmTarget } = await import('./wasm/target.js');
      return wasmTarget(req);
    }
    case 'webgpu': {
      const { wgslTarget } = await import('./wgsl/target.js');
      return wgslTarget;
    }
  }
}
