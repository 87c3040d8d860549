// Kernel IR -> one WebAssembly SIMD module (through binaryen) holding every
// kernel of the given programs as an export (ABI: abi.ts and
// runtime/manifest.ts). The module imports its memory as `env.memory`
// (shared when built for threads); kernels keep all state in locals (or in
// the caller's scratch area), so calls on disjoint ranges may run
// concurrently. Matmul kernels whose operands it recognises get the
// register-blocked template (matmul.ts); every other kernel the generic one
// (kernel.ts), vectorised as simd.ts decides.

import binaryen from 'binaryen';
import { exportName } from '../../compiler/kernel/abi.js';
import type { Kernel, KernelProgram } from '../../compiler/kernel/kir.js';
import { planMatmul } from '../../compiler/kernel/matmul-plan.js';
import type { Dim } from '../../compiler/types.js';
import { kernelAbi } from './abi.js';
import { FnBuilder } from './builder.js';
import { coalesceShortInner } from './coalesce.js';
import { ExprEmitter } from './expr.js';
import { Helpers } from './helpers.js';
import { StageEmitter } from './kernel.js';
import { type MathLib, addMathLibrary } from './math.js';
import { emitMatmul, scratchBytes, splitsColumns } from './matmul.js';
import { optimize } from './optimize.js';
import { planVectors } from './simd.js';

export interface WasmBuildOptions {
  /** Use relaxed SIMD (f32x4.relaxed_madd); the engine must support it (features.ts probes). */
  readonly relaxedSimd: boolean;
  /** Import a shared memory (threads). */
  readonly sharedMemory: boolean;
  /** Maximum memory pages the import declares (required for shared memory; default 65536). */
  readonly maxPages?: number;
}

export interface WasmModule {
  readonly binary: Uint8Array;
  /** `${prefix}.${kernel.name}` -> export name. */
  readonly entries: Map<string, string>;
  /** `${prefix}.${kernel.name}` -> export of its `_scratch_bytes(dims...)` function, for kernels that take a scratch pointer. */
  readonly scratch: Map<string, string>;
  /**
   * `${prefix}.${kernel.name}` -> what a call's [begin, end) ranges over, for kernels where it is not the
   * outermost parallel loop (matmuls splitting their columns; each call repeats the packing of A, so one
   * range per thread).
   */
  readonly splits: Map<string, Dim>;
  /** `${prefix}.${kernel.name}` of kernels whose every call repeats a setup (a matmul's packing): one range per thread. */
  readonly perThread: Set<string>;
  /** First byte after the module's active data segments (0 without any): the runtime's memory starts above. */
  readonly dataEnd: number;
  /** The module as WAT (for golden tests and dumps). */
  readonly text: () => string;
}

const FEATURES =
  binaryen.Features.MVP |
  binaryen.Features.SIMD128 |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.BulkMemory |
  binaryen.Features.SignExt |
  binaryen.Features.MutableGlobals;

export function buildWasmModule(
  programs: readonly { readonly prefix: string; readonly program: KernelProgram }[],
  opts: WasmBuildOptions,
): WasmModule {
  const m = new binaryen.Module();
  try {
    const features =
      FEATURES |
      (opts.relaxedSimd ? binaryen.Features.RelaxedSIMD : 0) |
      (opts.sharedMemory ? binaryen.Features.Atomics : 0);
    m.setFeatures(features);
    const max = opts.sharedMemory ? (opts.maxPages ?? 65536) : (opts.maxPages ?? -1);
    m.setMemory(0, max, null, [], opts.sharedMemory, false, 'memory');
    m.addMemoryImport('memory', 'env', 'memory', opts.sharedMemory);

    const helpers = new Helpers(m);
    let math: MathLib | undefined;
    const getMath = () => (math ??= addMathLibrary(m, { relaxedSimd: opts.relaxedSimd }));
    const entries = new Map<string, string>();
    const scratch = new Map<string, string>();
    const splits = new Map<string, Dim>();
    const perThread = new Set<string>();
    const used = new Set<string>();
    for (const { prefix, program } of programs) {
      for (const k of program.kernels) {
        let name = exportName(prefix, k.name);
        for (let n = 2; used.has(name); n++) name = `${exportName(prefix, k.name)}_${n}`;
        used.add(name);
        const key = `${prefix}.${k.name}`;
        const e = emitKernel(m, program, k, name, { helpers, math: getMath, relaxed: opts.relaxedSimd });
        entries.set(key, name);
        if (e.scratch) scratch.set(key, e.scratch);
        if (e.split !== undefined) splits.set(key, e.split);
        if (e.perThread) perThread.add(key);
      }
    }
    m.setFeatures(features | m.getFeatures());
    if (!m.validate()) throw new Error('wasm codegen produced an invalid module (see the validation errors above)');
    const ops = programs.reduce((t, { program }) => t + program.kernels.reduce((u, k) => u + k.ops.length, 0), 0);
    optimize(m, ops > LARGE_MODULE_OPS ? 2 : 3);
    if (!m.validate()) throw new Error('the optimised module is invalid');
    const binary = m.emitBinary();
    const finalFeatures = m.getFeatures();
    return {
      binary,
      entries,
      scratch,
      splits,
      perThread,
      dataEnd: dataEnd(m),
      text: () => {
        const r = binaryen.readBinary(binary);
        try {
          r.setFeatures(finalFeatures);
          return r.emitText();
        } finally {
          r.dispose();
        }
      },
    };
  } finally {
    m.dispose();
  }
}

/**
 * Kernel ops (all programs together) above which a module is optimised at -O2
 * rather than -O3. -O3 inlines the math library into every kernel and then
 * optimises the inlined code, which costs about 12 times -O2's time (a model
 * of 200 params of shape [8]: 15.6 s against 1.3 s); beyond this size
 * compile time wins over the calls' cost. The largest example has 621 ops.
 */
export const LARGE_MODULE_OPS = 1500;

interface EmitCtx {
  readonly helpers: Helpers;
  readonly math: () => MathLib;
  readonly relaxed: boolean;
}

/**
 * Adds kernel `k` as export `name`; returns the export of its scratch-size function, if it takes scratch,
 * and what its [begin, end) ranges over when that is not the outermost parallel loop.
 */
function emitKernel(
  m: binaryen.Module,
  p: KernelProgram,
  k: Kernel,
  name: string,
  ctx: EmitCtx,
): { scratch?: string; split?: Dim; perThread?: boolean } {
  const mm = planMatmul(k);
  const abi = kernelAbi(k, mm !== undefined);
  const fb = new FnBuilder(m, abi.params);
  const slots = k.buffers.map((b, i) => {
    const buf = p.buffers.find((x) => x.id === b.id);
    if (!buf) throw new Error(`kernel ${k.name}: slot ${i} binds buffer b${b.id}, which does not exist`);
    return { ptr: i, dtype: buf.dtype };
  });
  const em = new ExprEmitter({
    fb,
    slots,
    dims: abi.dims,
    scalars: abi.scalars,
    helpers: ctx.helpers,
    math: ctx.math,
    relaxed: ctx.relaxed,
  });
  if (mm) emitMatmul(new StageEmitter(em, k), mm, abi);
  else {
    // An innermost loop too short for lanes: coalesced with the one outside it where that vectorises.
    const merged = coalesceShortInner(k);
    const mergedPlan = merged !== k ? planVectors(merged) : undefined;
    const [kernel, plan] = mergedPlan?.parallel ? [merged, mergedPlan] : [k, planVectors(k)];
    new StageEmitter(em, kernel).emitGeneric(plan, abi.begin, abi.end);
  }
  for (const r of em.raiseFlags()) fb.emit(r);
  const body = fb.finish();
  m.addFunction(name, binaryen.createType([...abi.params]), binaryen.none, [...fb.vars], body);
  m.addFunctionExport(name, name);
  if (!mm) return {};
  // <name>_scratch_bytes(dims...): the work area one call needs.
  const sname = `${name}_scratch_bytes`;
  const dimParams = k.dims.map(() => binaryen.i32);
  const sb = new FnBuilder(m, dimParams);
  const sdims = new Map(k.dims.map((d, i) => [d, i]));
  const sem = new ExprEmitter({ ...em.env, fb: sb, dims: sdims, scalars: new Map(), slots: [] });
  const sizeBody = scratchBytes(sem, mm);
  m.addFunction(sname, binaryen.createType(dimParams), binaryen.i32, [...sb.vars], sizeBody);
  m.addFunctionExport(sname, sname);
  // Without batch axes every call packs a whole operand: one range per thread.
  return { scratch: sname, perThread: mm.batch.length === 0, ...(splitsColumns(mm) && { split: mm.n.extent }) };
}

/** binaryen.js's data segment queries (its typings still describe an older API). */
interface DataSegmentQueries {
  getNumDataSegments(): number;
  getDataSegmentByIndex(index: number): number;
  getDataSegmentInfo(segment: number): { readonly offset: number | null; readonly data: ArrayBuffer };
}

function dataEnd(m: binaryen.Module): number {
  const q = m as unknown as DataSegmentQueries;
  let end = 0;
  for (let i = 0; i < q.getNumDataSegments(); i++) {
    const { offset, data } = q.getDataSegmentInfo(q.getDataSegmentByIndex(i));
    if (offset !== null) end = Math.max(end, offset + data.byteLength); // passive segments have none
  }
  return end;
}
