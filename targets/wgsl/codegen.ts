// Kernel IR -> one WGSL compute shader module per kernel (entry point
// `main`), computing exactly what compiler/kernel/interpret.ts computes (in
// f32). The ABI below is what runtime/webgpu binds and dispatches.
//
// Templates, chosen per kernel:
// - 'matmul' (matmul.ts): kernels planMatmul recognises, tiled through
//   workgroup memory with a register block per invocation;
// - 'reduce' / 'rowwise' (workgroup.ts): one workgroup per program, the
//   stage loops split across its invocations, reductions combined in
//   workgroup memory; for reductions too long for one invocation;
// - 'generic' (generic.ts): one invocation per program, stages in order;
//   everything else, and the fallback when a template does not fit the limits.

import type { Kernel } from '../../compiler/kernel/kir.js';
import { planMatmul } from '../../compiler/kernel/matmul-plan.js';
import type { Dim } from '../../dsl/types.js';
import { buildGeneric } from './generic.js';
import { MAIN_PARAMS } from './grid.js';
import { type Layout, layoutOf } from './layout.js';
import { buildMatmul } from './matmul.js';
import { helperSource } from './math.js';
import { indent } from './stages.js';
import type { Built, Limits } from './template.js';
import { buildWorkgroup, workgroupWorthIt } from './workgroup.js';

export interface WgslOptions {
  /** Invocations per workgroup at most (default 256). */
  readonly maxInvocations: number;
  /** Bytes of workgroup memory at most (default 16384). */
  readonly maxWorkgroupStorage: number;
}

export const DEFAULT_WGSL_OPTIONS: WgslOptions = { maxInvocations: 256, maxWorkgroupStorage: 16384 };

export interface WgslKernel {
  /** A complete WGSL module; entry point `main`. */
  readonly code: string;
  /**
   * Binding i of @group(0) is program buffer `bindings[i].buf`: `var<storage, read>` when access is 'read',
   * `var<storage, read_write>` otherwise; element type array<f32> for f32 buffers, array<i32> for i32 and bool
   * (0/1). A program buffer bound by several kernel slots is bound once, access = union.
   */
  readonly bindings: readonly { readonly buf: number; readonly access: 'read' | 'readwrite' }[];
  /**
   * When the kernel reads any dims or scalars: the binding (= bindings.length) of a `var<uniform>` struct
   * holding Kernel.dims (i32) then Kernel.scalars (f32, or i32 where scalarDTypes says i32), 4 bytes each
   * in that order, padded to a multiple of 16 bytes (`bytes`).
   */
  readonly uniform?: { readonly binding: number; readonly bytes: number };
  /**
   * Workgroups to dispatch: the product over entries of ceil(extent / per). The runtime dispatches (x, y, 1)
   * with x = min(W, 65535), y = ceil(W / x); the shader returns at once when its linear workgroup index is >= W.
   */
  readonly grid: readonly { readonly extent: Dim; readonly per: number }[];
  /** Which template built it: 'generic' | 'reduce' | 'rowwise' | 'matmul'. */
  readonly template: string;
  /** Invocations per workgroup. */
  readonly workgroupSize: number;
}

function chooseTemplate(k: Kernel, layout: Layout, limits: Limits): Built {
  const mm = planMatmul(k);
  const viaMatmul = mm && buildMatmul(k, mm, layout, limits);
  if (viaMatmul) return viaMatmul;
  if (workgroupWorthIt(k)) {
    const wg = buildWorkgroup(k, layout, limits);
    if (wg) return wg;
  }
  return buildGeneric(k, layout, limits);
}

function declarations(layout: Layout): string[] {
  const out = layout.bindings.map(
    (b, i) =>
      `@group(0) @binding(${i}) var<storage, ${b.access === 'read' ? 'read' : 'read_write'}> ${b.name}: array<${b.elem}>;`,
  );
  const u = layout.uniform;
  if (u) {
    const pad = u.bytes / 4 - u.fields.length;
    out.push(
      '',
      'struct Args {',
      ...u.fields.map((f) => `  ${f.name}: ${f.type}, // ${f.kind} ${f.source}`),
      ...Array.from({ length: pad }, (_, i) => `  pad${i}: i32,`),
      '}',
      `@group(0) @binding(${u.binding}) var<uniform> u: Args;`,
    );
  }
  return out;
}

/** `_ = &x;` for each binding the code never names: a pipeline with layout 'auto' then still has every binding. */
function keepBindings(layout: Layout, text: string): string[] {
  const names = [...layout.bindings.map((b) => b.name), ...(layout.uniform ? ['u'] : [])];
  return names.filter((n) => !new RegExp(`\\b${n}\\b`).test(text)).map((n) => `_ = &${n};`);
}

export function generateWgsl(k: Kernel, opts: Partial<WgslOptions> = {}): WgslKernel {
  const limits = { ...DEFAULT_WGSL_OPTIONS, ...opts };
  if (!(limits.maxInvocations >= 1)) throw new Error(`maxInvocations must be at least 1, got ${limits.maxInvocations}`);
  const layout = layoutOf(k);
  const built = chooseTemplate(k, layout, limits);
  const own = [...built.decls, ...built.body].join('\n');
  const body = [...keepBindings(layout, own), ...built.body];
  const helpers = helperSource(built.lib);
  const code = [
    ...declarations(layout),
    ...(built.decls.length > 0 ? ['', ...built.decls] : []),
    '',
    `@compute @workgroup_size(${built.workgroupSize})`,
    `fn main(${MAIN_PARAMS}) {`,
    ...indent(body),
    '}',
    ...(helpers.length > 0 ? ['', helpers] : []),
    '',
  ].join('\n');
  return {
    code,
    bindings: layout.bindings.map((b) => ({ buf: b.buf, access: b.access })),
    ...(layout.uniform && { uniform: { binding: layout.uniform.binding, bytes: layout.uniform.bytes } }),
    grid: built.grid,
    template: built.template,
    workgroupSize: built.workgroupSize,
  };
}
