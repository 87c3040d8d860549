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
// - 'vector' (vector.ts): pure elementwise kernels whose innermost extent is
//   a multiple of 4, 4 points per invocation through vec4 loads and stores;
// - 'generic' (generic.ts): one invocation per program, stages in order;
//   everything else, and the fallback when a template does not fit the limits.

import type { Kernel } from '../../compiler/kernel/kir.js';
import { planMatmul } from '../../compiler/kernel/matmul-plan.js';
import { type Dim, dimMul } from '../../compiler/types.js';
import { buildGeneric } from './generic.js';
import { MAIN_PARAMS } from './grid.js';
import { type Layout, layoutOf } from './layout.js';
import { buildMatmul } from './matmul.js';
import { helperSource } from './math.js';
import { indent } from './stages.js';
import { CHUNK_DIM } from './split.js';
import type { Built, Limits } from './template.js';
import { buildVector } from './vector.js';
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
   * (0/1), or array<vec4<f32>> / array<vec4<i32>> where the vector template reads and writes it 4 elements at a
   * time (the same bytes: a binding offset must then be a multiple of 16). A program buffer bound by several
   * kernel slots is bound once, access = union.
   */
  readonly bindings: readonly { readonly buf: number; readonly access: 'read' | 'readwrite' }[];
  /**
   * When the kernel reads any dims or scalars or may be split: the binding (= bindings.length) of a
   * `var<uniform>` struct holding Kernel.dims (i32) then Kernel.scalars (f32, or i32 where scalarDTypes says
   * i32), then the split fields (below), 4 bytes each in that order, padded to a multiple of 16 bytes (`bytes`).
   */
  readonly uniform?: { readonly binding: number; readonly bytes: number };
  /**
   * Workgroups to dispatch: the product over entries of ceil(extent / per). The runtime dispatches (x, y, 1)
   * with x = min(W, 65535), y = ceil(W / x); the shader returns at once when its linear workgroup index is >= W.
   * An entry with `p0` counts p0's extent once (split.extent divides it): a dispatch covering n values of p0
   * uses extent / split.extent * n.
   */
  readonly grid: readonly { readonly extent: Dim; readonly per: number; readonly p0?: true }[];
  /**
   * When the dispatch may be split along p0, the outermost parallel loop (split.ts): its extent; `at`, the byte
   * offset in the uniform of the i32 fields [count of p0 values covered, first p0, then the base element of each
   * strided binding in binding order]; and per binding its stride in p0 in elements (undefined: bound whole).
   * A dispatch covering p0 in [a, a + n) touches elements [a * stride, (a + n) * stride) of a strided binding;
   * the runtime may bind any range containing them, starting at element `base`. Unsplit: n = extent, a = 0,
   * every base 0.
   */
  readonly split?: {
    readonly extent: Dim;
    readonly at: number;
    readonly strides: readonly (Dim | undefined)[];
    /** Pieces start at multiples of this many p0 values (4 when the vector template takes 4 p0 values at once). */
    readonly step: number;
  };
  /** Which template built it: 'generic' | 'vector' | 'reduce' | 'rowwise' | 'matmul'. */
  readonly template: string;
  /** Invocations per workgroup. */
  readonly workgroupSize: number;
}

function chooseTemplate(k: Kernel, layout: Layout, limits: Limits): Built {
  const mm = planMatmul(k);
  const viaMatmul = mm && buildMatmul(k, mm, layout, limits);
  if (viaMatmul) return viaMatmul;
  if (layout.vector) {
    const vec = buildVector(k, layout, limits);
    if (vec) return vec;
  }
  if (workgroupWorthIt(k)) {
    const wg = buildWorkgroup(k, layout, limits);
    if (wg) return wg;
  }
  return buildGeneric(k, layout, limits);
}

function declarations(layout: Layout): string[] {
  const out = layout.bindings.map(
    (b, i) =>
      `@group(0) @binding(${i}) var<storage, ${b.access === 'read' ? 'read' : 'read_write'}> ${b.name}: array<${b.vec4 ? `vec4<${b.elem}>` : b.elem}>;`,
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
    grid: built.grid.map((g) => {
      if (typeof g.extent === 'number' || !g.extent.syms.includes(CHUNK_DIM) || !layout.split) return g;
      const syms = g.extent.syms.filter((x) => x !== CHUNK_DIM);
      const rest = syms.length > 0 ? { coef: g.extent.coef, syms } : g.extent.coef;
      return { extent: dimMul(rest, layout.split.extent), per: g.per, p0: true as const };
    }),
    ...(layout.split && {
      split: {
        extent: layout.split.extent,
        at: layout.split.at,
        strides: layout.split.strides,
        step: layout.split.step,
      },
    }),
    template: built.template,
    workgroupSize: built.workgroupSize,
  };
}
