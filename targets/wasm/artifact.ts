// The wasm target's part of an artifact (targets/artifact.ts): every kernel
// of the programs as an export of one module (prefixes `fwd` and `step`),
// the runtime's memory starting above the module's data.

import type { Kernel } from '../../compiler/kernel/kir.js';
import { alignUp, readWasmMemory } from '../../runtime/layout.js';
import { type NamedProgram, type TargetCode, dimSpec } from '../artifact.js';
import { buildWasmModule } from './codegen.js';

/** Linear memory limit of the modules (pages of 64 KiB): 2 GiB (a shared memory needs a limit, reserved up front). */
export const MAX_PAGES = 32768;
export const CODE_FILE = 'model.wasm';

export function wasmCode(
  programs: readonly NamedProgram[],
  opts: { readonly relaxedSimd: boolean; readonly threads: boolean },
): TargetCode {
  const mod = buildWasmModule(programs, {
    relaxedSimd: opts.relaxedSimd,
    sharedMemory: opts.threads,
    maxPages: MAX_PAGES,
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
    base: alignUp(Math.max(16, readWasmMemory(mod.binary).dataEnd)),
    features: [
      'simd',
      ...(opts.relaxedSimd ? (['relaxed-simd'] as const) : []),
      ...(opts.threads ? (['threads'] as const) : []),
    ],
    kernel: (prefix, k) => {
      const e = entry(prefix, k);
      const split = mod.splits.get(`${prefix}.${k.name}`);
      return {
        entry: e,
        ...(scratch.has(e) && { scratch: true }),
        ...(split !== undefined && { split: dimSpec(split), chunking: 'per-thread' as const }),
      };
    },
  };
}
