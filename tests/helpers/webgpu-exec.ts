// A test-only executor for the shaders of targets/wgsl/codegen.ts, mirroring
// tests/helpers/wasm-exec.ts: one GPUBuffer per program buffer (temps and
// outputs zeroed, inputs and params uploaded as f32 / i32, bool as i32 0/1),
// each kernel's dims and scalars in its uniform block, every dispatch of
// every program of a batch in one command encoder (optionally each splittable
// kernel as several dispatches over pieces of p0, as the runtime splits past
// the binding limit), then outputs and assigned params read back. Pipelines
// are cached by shader text; a shader with any compilation error or warning
// fails the run.

import type { RefTensor } from '../../compiler/interpret.js';
import type { Kernel, KernelProgram } from '../../compiler/kernel/kir.js';
import { evalDim } from '../../compiler/types.js';
import { type WgslKernel, type WgslOptions, generateWgsl } from '../../targets/wgsl/codegen.js';
import { layoutOf } from '../../targets/wgsl/layout.js';
import {
  COMPUTE,
  COPY_DST,
  COPY_SRC,
  MAP_MODE_READ,
  MAP_READ,
  MAX_GROUPS_PER_DIM as MAX_GROUPS,
  STORAGE,
  UNIFORM,
} from '../../runtime/webgpu/flags.js';

export interface GpuEnv {
  readonly inputs: ReadonlyMap<string, RefTensor>;
  readonly params: ReadonlyMap<string, RefTensor>;
  readonly dims: ReadonlyMap<string, number>;
  readonly scalars?: ReadonlyMap<string, number>;
  /**
   * Run every kernel that may be split (WgslKernel.split) as this many dispatches over pieces of p0 (at multiples
   * of its step), strided bindings bound from aligned offsets: what runtime/webgpu does past the binding limit.
   */
  readonly pieces?: number;
}

export interface GpuRunResult {
  readonly outputs: Map<string, RefTensor>;
  /** The params after the program's assigns. */
  readonly params: Map<string, RefTensor>;
  /** The generated kernels, in program order. */
  readonly kernels: readonly WgslKernel[];
}

interface Pipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/** Compiled pipelines by shader text, and generated shaders by kernel, for one device. */
export class GpuCache {
  private readonly pipelines = new Map<string, Promise<Pipeline>>();
  private readonly shaders = new WeakMap<Kernel, WgslKernel>();

  constructor(
    readonly device: GPUDevice,
    readonly options: Partial<WgslOptions> = {},
  ) {}

  shader(k: Kernel): WgslKernel {
    let s = this.shaders.get(k);
    if (!s) {
      s = generateWgsl(k, this.options);
      this.shaders.set(k, s);
    }
    return s;
  }

  pipeline(k: Kernel, s: WgslKernel): Promise<Pipeline> {
    let p = this.pipelines.get(s.code);
    if (!p) {
      p = compile(this.device, k, s);
      this.pipelines.set(s.code, p);
    }
    return p;
  }
}

/** Compiles `s` with an explicit layout (as runtime/webgpu does), failing on any error or warning. */
async function compile(device: GPUDevice, k: Kernel, s: WgslKernel): Promise<Pipeline> {
  const module = device.createShaderModule({ code: s.code, label: k.name });
  const info = await module.getCompilationInfo();
  const bad = info.messages.filter((m) => m.type === 'error' || m.type === 'warning');
  if (bad.length > 0) {
    const lines = s.code.split('\n');
    const msgs = bad.map(
      (m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}\n  > ${lines[m.lineNum - 1] ?? ''}`,
    );
    throw new Error(`kernel ${k.name} (${s.template}): the shader does not compile cleanly:\n${msgs.join('\n')}`);
  }
  const layout = device.createBindGroupLayout({
    entries: [
      ...s.bindings.map((b, i): GPUBindGroupLayoutEntry => ({
        binding: i,
        visibility: COMPUTE,
        buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
      })),
      ...(s.uniform ? [{ binding: s.uniform.binding, visibility: COMPUTE, buffer: { type: 'uniform' as const } }] : []),
    ],
  });
  device.pushErrorScope('validation');
  const pipeline = await device.createComputePipelineAsync({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main' },
  });
  const err = await device.popErrorScope();
  if (err) throw new Error(`kernel ${k.name}: ${err.message}`);
  return { pipeline, layout };
}

/** Workgroups of a dispatch as (x, y), per the grid ABI; `count`: the p0 values a piece of a split dispatch covers. */
export function dispatchSize(s: WgslKernel, dims: ReadonlyMap<string, number>, count?: number): [number, number] {
  const p0 = s.split ? evalDim(s.split.extent, dims) : 1;
  const w = s.grid.reduce((acc, g) => {
    const e = evalDim(g.extent, dims);
    return acc * Math.ceil((g.p0 && count !== undefined ? (e / p0) * count : e) / g.per);
  }, 1);
  if (w === 0) return [0, 0];
  const x = Math.min(w, MAX_GROUPS);
  return [x, Math.ceil(w / x)];
}

const bytesOf = (n: number) => Math.max(16, Math.ceil((4 * n) / 16) * 16);

export interface GpuJob {
  readonly program: KernelProgram;
  readonly env: GpuEnv;
}

/** One dispatch of a kernel: p0 in [first, first + count), strided bindings bound from `offsets` (bytes). */
interface Piece {
  readonly first: number;
  readonly count: number;
  readonly offsets: readonly number[];
}

/** The pieces of `s` at `dims`: one covering all of p0 unless env.pieces asks for more. */
function piecesOf(s: WgslKernel, env: GpuEnv, align: number): Piece[] {
  const split = s.split;
  const extent = split ? evalDim(split.extent, env.dims) : 1;
  const none = s.bindings.map(() => 0);
  if (!split || !env.pieces || env.pieces <= 1) return [{ first: 0, count: extent, offsets: none }];
  const cuts = [0];
  for (let j = 1; j < env.pieces; j++) {
    const c = Math.floor((extent * j) / env.pieces);
    cuts.push(c - (c % split.step));
  }
  cuts.push(extent);
  const out: Piece[] = [];
  for (let j = 0; j + 1 < cuts.length; j++) {
    const [first, end] = [cuts[j]!, cuts[j + 1]!];
    if (end <= first) continue;
    const offsets = split.strides.map((d) =>
      d === undefined ? 0 : Math.floor((first * evalDim(d, env.dims) * 4) / align) * align,
    );
    out.push({ first, count: end - first, offsets });
  }
  return out;
}

/** The uniform block of kernel `k`: dims (i32) then scalars (f32 or i32), then the split fields of `piece`. */
function uniformBytes(k: Kernel, s: WgslKernel, env: GpuEnv, piece: Piece): ArrayBuffer {
  const bytes = new ArrayBuffer(s.uniform!.bytes);
  const i32 = new Int32Array(bytes);
  const f32 = new Float32Array(bytes);
  k.dims.forEach((d, i) => {
    const v = env.dims.get(d);
    if (v === undefined) throw new Error(`dim '${d}' is not bound`);
    i32[i] = v;
  });
  const fields = layoutOf(k).uniform!.fields;
  k.scalars.forEach((name, j) => {
    const v = env.scalars?.get(name) ?? env.inputs.get(name)?.data[0];
    if (v === undefined) throw new Error(`scalar '${name}' is not bound`);
    const at = k.dims.length + j;
    if (fields[at]!.type === 'i32') i32[at] = v | 0;
    else f32[at] = v;
  });
  // The piece of p0 and each strided binding's base element (targets/wgsl/split.ts).
  if (s.split) {
    const bases = piece.offsets.filter((_, i) => s.split!.strides[i] !== undefined).map((o) => o / 4);
    i32.set([piece.count, piece.first, ...bases], s.split.at / 4);
  }
  return bytes;
}

/** Runs every job's program (all dispatches in one command buffer) and reads the results back. */
export async function runWebGpuPrograms(cache: GpuCache, jobs: readonly GpuJob[]): Promise<GpuRunResult[]> {
  const device = cache.device;
  const owned: GPUBuffer[] = [];
  const buffer = (size: number, usage: number) => {
    const b = device.createBuffer({ size, usage });
    owned.push(b);
    return b;
  };
  device.pushErrorScope('validation');
  try {
    const encoder = device.createCommandEncoder();
    const readers: (() => Promise<GpuRunResult>)[] = [];
    for (const { program: p, env } of jobs) {
      const sizes = new Map(p.buffers.map((b) => [b.id, evalDim(b.size, env.dims)]));
      const bufs = new Map<number, GPUBuffer>();
      for (const b of p.buffers) {
        const gb = buffer(bytesOf(sizes.get(b.id)!), STORAGE | COPY_SRC | COPY_DST);
        bufs.set(b.id, gb);
        if (b.role.kind !== 'input' && b.role.kind !== 'param') continue;
        const t = (b.role.kind === 'input' ? env.inputs : env.params).get(b.role.name);
        if (!t) throw new Error(`missing ${b.role.kind} '${b.role.name}'`);
        if (t.data.length !== sizes.get(b.id))
          throw new Error(`${b.role.name}: ${t.data.length} elements, expected ${sizes.get(b.id)}`);
        const data = b.dtype === 'f32' ? Float32Array.from(t.data) : Int32Array.from(t.data);
        device.queue.writeBuffer(gb, 0, data);
      }
      const shaders = p.kernels.map((k) => cache.shader(k));
      const pipelines = await Promise.all(p.kernels.map((k, i) => cache.pipeline(k, shaders[i]!)));
      const pass = encoder.beginComputePass();
      p.kernels.forEach((k, i) => {
        const s = shaders[i]!;
        for (const piece of piecesOf(s, env, device.limits.minStorageBufferOffsetAlignment)) {
          const [x, y] = dispatchSize(s, env.dims, piece.count);
          if (x === 0) continue;
          const entries: GPUBindGroupEntry[] = s.bindings.map((b, j) => {
            const gb = bufs.get(b.buf)!;
            const offset = piece.offsets[j]!;
            return { binding: j, resource: { buffer: gb, offset, size: gb.size - offset } };
          });
          if (s.uniform) {
            const ub = buffer(s.uniform.bytes, UNIFORM | COPY_DST);
            device.queue.writeBuffer(ub, 0, uniformBytes(k, s, env, piece));
            entries.push({ binding: s.uniform.binding, resource: { buffer: ub } });
          }
          pass.setPipeline(pipelines[i]!.pipeline);
          pass.setBindGroup(0, device.createBindGroup({ layout: pipelines[i]!.layout, entries }));
          pass.dispatchWorkgroups(x, y);
        }
      });
      pass.end();
      const staged = new Map<number, GPUBuffer>();
      const stage = (buf: number) => {
        if (staged.has(buf)) return;
        const size = bytesOf(sizes.get(buf)!);
        const sb = buffer(size, MAP_READ | COPY_DST);
        encoder.copyBufferToBuffer(bufs.get(buf)!, 0, sb, 0, size);
        staged.set(buf, sb);
      };
      p.outputs.forEach((o) => stage(o.buf));
      p.assigns.forEach((a) => stage(a.buf));
      readers.push(async () => {
        const read = async (buf: number): Promise<Float64Array> => {
          const sb = staged.get(buf)!;
          await sb.mapAsync(MAP_MODE_READ);
          const n = sizes.get(buf)!;
          const dtype = p.buffers.find((b) => b.id === buf)!.dtype;
          const range = sb.getMappedRange();
          const out = Float64Array.from(dtype === 'f32' ? new Float32Array(range, 0, n) : new Int32Array(range, 0, n));
          sb.unmap();
          return out;
        };
        const values = new Map<number, Float64Array>();
        for (const buf of staged.keys()) values.set(buf, await read(buf));
        const outputs = new Map<string, RefTensor>();
        for (const o of p.outputs)
          outputs.set(o.name, {
            dtype: o.dtype,
            shape: o.shape.map((d) => evalDim(d, env.dims)),
            data: values.get(o.buf)!.slice(),
          });
        const params = new Map(env.params);
        for (const a of p.assigns) {
          const old = env.params.get(a.target);
          if (!old) throw new Error(`assign to unknown param '${a.target}'`);
          params.set(a.target, { dtype: old.dtype, shape: old.shape, data: values.get(a.buf)!.slice() });
        }
        return { outputs, params, kernels: shaders };
      });
    }
    device.queue.submit([encoder.finish()]);
    const results: GpuRunResult[] = [];
    for (const r of readers) results.push(await r());
    const err = await device.popErrorScope();
    if (err) throw new Error(`WebGPU validation error: ${err.message}`);
    return results;
  } catch (e) {
    await device.popErrorScope().catch(() => null);
    throw e;
  } finally {
    for (const b of owned) b.destroy();
  }
}

export async function runWebGpuProgram(cache: GpuCache, program: KernelProgram, env: GpuEnv): Promise<GpuRunResult> {
  const [r] = await runWebGpuPrograms(cache, [{ program, env }]);
  return r!;
}
