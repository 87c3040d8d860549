// The wasm target (compiler/target.ts): every kernel of the programs as an
// export of one module (prefixes `fwd` and `step`), the runtime's memory
// starting above the module's data.

import type { Kernel } from '../../compiler/kernel/kir.js';
import { type NamedProgram, type Target, type TargetCode, dimSpec } from '../../compiler/target.js';
import { alignUp } from '../../runtime/layout.js';
import { buildWasmModule } from './codegen.js';

/** Linear memory limit of the modules (pages of 64 KiB): 2 GiB (a shared memory needs a limit, reserved up front). */
export const MAX_PAGES = 32768;
export const CODE_FILE = 'model.wasm';

export interface WasmTargetOptions {
  /** Use relaxed SIMD (fused multiply-add); the code then needs an engine that has it. */
  readonly relaxedSimd: boolean;
  /** Import a shared memory so the runtime can run kernels on worker threads. */
  readonly threads: boolean;
  /**
   * Declare the memory's maximum, MAX_PAGES (default true). Without threads a
   * module needs none: `kiln dump --stage wasm` shows the module without it.
   */
  readonly memoryMaximum?: boolean;
}

export function wasmTarget(opts: WasmTargetOptions): Target {
  return { name: 'wasm', generate: (programs) => wasmCode(programs, opts) };
}

function wasmCode(programs: readonly NamedProgram[], opts: WasmTargetOptions): TargetCode {
  const mod = buildWasmModule(programs, {
    relaxedSimd: opts.relaxedSimd,
    sharedMemory: opts.threads,
    ...((opts.memoryMaximum ?? true) && { maxPages: MAX_PAGES }),
  });
  const entry = (prefix: string, k: Kernel): string => {
    const e = mod.entries.get(`${prefix}.${k.name}`);
    if (e === undefined) throw new Error(`the code generator exported no entry for ${prefix}.${k.name}`);
    return e;
  };
  // Kernels that take a scratch pointer; the runtime calls `<entry>_scratch_bytes(dims...)`.
  const scratch = new Set<string>();
  for (const [key, fn] of mod.scratch) {
    const e = mod.entries.get(key);
    if (e === undefined || fn !== `${e}_scratch_bytes`)
      throw new Error(`the code generator's scratch export '${fn}' for ${key} does not follow the ABI`);
    scratch.add(e);
  }
  return {
    file: CODE_FILE,
    bytes: mod.binary,
    base: alignUp(Math.max(16, mod.dataEnd)),
    features: [
      'simd',
      ...(opts.relaxedSimd ? (['relaxed-simd'] as const) : []),
      ...(opts.threads ? (['threads'] as const) : []),
    ],
    kernel: (prefix, k) => {
      const e = entry(prefix, k);
      const key = `${prefix}.${k.name}`;
      const split = mod.splits.get(key);
      return {
        entry: e,
        ...(scratch.has(e) && { scratch: true }),
        ...(split !== undefined && { split: dimSpec(split) }),
        ...((split !== undefined || mod.perThread.has(key)) && { chunking: 'per-thread' as const }),
      };
    },
    listing: mod.text,
  };
}
