// The kernel ABI both code generators share (runtime/manifest.ts KernelSpec):
// what a kernel is called in the artifact, the dtype each of its scalars is
// passed as, and the dtype each kernel-IR value has. The wasm parameter list
// (targets/wasm/abi.ts) and the WGSL uniform block (targets/wgsl/layout.ts)
// are built from these, so both runtimes agree on them.

import type { DType } from '../types.js';
import { collect, stageRoots } from './affine.js';
import type { Kernel, VExpr } from './kir.js';

/** The dtype a VExpr produces. */
export function vdtype(x: VExpr): DType {
  switch (x.k) {
    case 'index':
      return 'i32';
    case 'rand':
      return 'f32';
    case 'load':
    case 'const':
    case 'scalar':
    case 'unary':
    case 'binary':
    case 'where':
    case 'cast':
    case 'acc':
      return x.dtype;
  }
}

/** How a scalar argument is passed: i32 for the ones read as i32 or bool (the dropout key `@seed`), else f32. */
export type ScalarDType = 'f32' | 'i32';

/** The dtype each of the kernel's scalars is passed as (Kernel.scalars order), from its first use. */
export function scalarDTypes(k: Kernel): ScalarDType[] {
  const { nodes } = collect(k.stages.flatMap(stageRoots));
  const used = new Map<string, ScalarDType>();
  for (const x of nodes) if (x.k === 'scalar' && !used.has(x.name)) used.set(x.name, x.dtype === 'f32' ? 'f32' : 'i32');
  return k.scalars.map((s) => used.get(s) ?? 'f32');
}

/** The entry name of `<prefix>.<kernel>` (letters, digits and _ only: a wasm export, a WGSL shader key). */
export function exportName(prefix: string, kernel: string): string {
  return `${prefix}_${kernel}`.replace(/[^A-Za-z0-9_]/g, '_');
}
