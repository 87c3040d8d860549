// What the compiler asks of a code generator (a target): turn the kernel
// programs of a compilation (compile.ts) into one code file, and say for
// each kernel what the runtime needs to call it (its entry, and a scratch
// area, a split or the GPU bindings and dispatch), in the terms of the
// artifact manifest (runtime/manifest.ts). targets/wasm and targets/wgsl
// implement it, targets/index.ts loads them on demand. The fusion planner's
// limits per target live here, so planning kernels never loads a back end.

import type { DimSpec, KernelSpec, Manifest } from '../runtime/manifest.js';
import type { PlanOptions } from './fusion/plan.js';
import type { Kernel, KernelProgram } from './kernel/kir.js';
import type { Dim } from './types.js';

export const TARGET_NAMES = ['wasm', 'webgpu'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export function isTargetName(s: string): s is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(s);
}

/** Per-target limits of the fusion planner. */
export const TARGET_LIMITS: Readonly<Record<TargetName, PlanOptions>> = {
  wasm: {},
  // WebGPU guarantees 8 storage buffers per shader stage.
  webgpu: { maxBuffers: 8 },
};

/**
 * The programs of an artifact, the prefix of their kernels' entries: the
 * forward pass, the training step (and a curvature rule's step without a
 * refresh, compiler/train-step.ts TrainStep.plain), and the lens entries
 * (compiler/lens.ts).
 */
export const PROGRAM_NAMES = ['fwd', 'step', 'step_plain', 'jvp', 'vjp'] as const;
export type ProgramName = (typeof PROGRAM_NAMES)[number];

export interface NamedProgram {
  readonly prefix: ProgramName;
  readonly program: KernelProgram;
}

export interface Target {
  readonly name: TargetName;
  /** The code of every kernel of `programs`, as one file. */
  generate(programs: readonly NamedProgram[]): TargetCode;
}

/** What a target's code generator gives the manifest. */
export interface TargetCode {
  readonly file: string;
  readonly bytes: Uint8Array;
  /** manifest.memory.base */
  readonly base: number;
  readonly features: Manifest['features'];
  /** The target-specific fields of a kernel's spec (its entry, and scratch or gpu; a split of its own). */
  kernel(prefix: ProgramName, k: Kernel): TargetKernelFields;
  /** The code as text, for `kiln dump --stage wasm|wgsl`. */
  listing(): string;
}

/** What a target says about each kernel; `split` defaults to the outermost parallel loop's extent. */
export type TargetKernelFields = Pick<KernelSpec, 'entry' | 'scratch' | 'gpu' | 'chunking'> & {
  readonly split?: DimSpec;
};

/** A dimension as the manifest writes it. */
export function dimSpec(d: Dim): DimSpec {
  return typeof d === 'number' ? d : { coef: d.coef, syms: [...d.syms] };
}
