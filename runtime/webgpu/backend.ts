// The webgpu backend: every kernel's WGSL compiled once into a compute
// pipeline (asynchronously, checked for errors before first use), params and
// optimizer state resident in GPU buffers for the model's life, and each
// call of a program encoded as one command buffer: clear the accumulated
// storages, one compute pass with every dispatch in order (WebGPU makes each
// dispatch see its predecessors' writes), the assigns as buffer copies, and
// copies of only the requested outputs into one mappable staging buffer.
// Kernel ABI: runtime/manifest.ts GpuKernelSpec.
//
// Browser-safe: Dawn is loaded dynamically, only in Node (./device.ts).

import type { Backend, ProgramName } from '../backend.js';
import { type Tensor, type TensorData, checkCall, dimsKey, readTyped } from '../executor.js';
import { evalDimSpec } from '../layout.js';
import type { BufferSpec, KernelSpec, Manifest, ProgramSpec, TensorSpec } from '../manifest.js';
import { manifestPrograms } from '../programs.js';
import { ArtifactError, KilnRuntimeError, validateShaderFile } from '../validate.js';
import { type GpuLease, leaseGpuDevice } from './device.js';
import { COMPUTE, COPY_DST, COPY_SRC, MAP_MODE_READ, MAP_READ, MAX_GROUPS_PER_DIM, STORAGE, UNIFORM } from './flags.js';

const PLAN_CACHE = 8;

/**
 * Options of the webgpu backend. A testing knob: `maxBindingBytes` plans
 * every dispatch as if the device bound at most that many bytes per storage
 * binding (at most the device's maxStorageBufferBindingSize), so tests force
 * split dispatches (manifest.ts GpuSplitSpec) without huge buffers.
 */
export interface WebGpuOptions {
  readonly maxBindingBytes?: number;
}

/**
 * Process-wide testing knobs: the WebGpuOptions of backends created without
 * their own (loadModel passes none), and a hook told, per planned program,
 * how many dispatches each kernel became.
 */
export const webgpuTesting: {
  maxBindingBytes?: number;
  onPlan?: (pieces: readonly { readonly kernel: string; readonly dispatches: number }[]) => void;
  /** In place of PIPELINE_CACHE_SIZE. */
  pipelineCacheSize?: number;
} = {};

const alignTo = (n: number, a: number) => Math.ceil(n / a) * a;
/** Bytes of a GPU buffer holding `elements` 4-byte values (never empty: bindings must not be). */
const bufferBytes = (elements: number) => Math.max(16, alignTo(elements * 4, 16));

export async function createWebGpuBackend(
  manifest: Manifest,
  code: Uint8Array,
  params: ReadonlyMap<string, TensorData>,
  codeSource: string,
  opts: WebGpuOptions = {},
): Promise<Backend> {
  const shaders = validateShaderFile(code, manifest, codeSource).shaders;
  const lease = await leaseGpuDevice();
  const { device } = lease.handle;
  try {
    const deviceMax = device.limits.maxStorageBufferBindingSize;
    const knob = opts.maxBindingBytes ?? webgpuTesting.maxBindingBytes;
    if (knob !== undefined && !(Number.isInteger(knob) && knob >= 4 && knob <= deviceMax))
      throw new KilnRuntimeError(
        `maxBindingBytes must be an integer in [4, ${deviceMax}] (this device's maxStorageBufferBindingSize), got ${knob}`,
      );
    const limit =
      knob === undefined
        ? { bytes: deviceMax, name: 'maxStorageBufferBindingSize' }
        : { bytes: knob, name: 'maxBindingBytes' };
    const kernels = manifestPrograms(manifest).flatMap((p) => p.spec.kernels);
    const pipelines = new Map<string, Promise<Pipeline>>();
    for (const k of kernels)
      if (!pipelines.has(k.entry)) pipelines.set(k.entry, cachedPipeline(device, k, shaders[k.entry]!, codeSource));
    // Settle all before reporting the first failure: no compilation is left unobserved.
    const settled = await Promise.allSettled(pipelines.values());
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const entries = [...pipelines.keys()];
    const compiled = new Map(
      settled.map((r, i) => [entries[i]!, (r as PromiseFulfilledResult<Pipeline>).value] as const),
    );
    const backend = new WebGpuBackend(manifest, lease, compiled, limit);
    backend.writeParams(params);
    return backend;
  } catch (e) {
    lease.release();
    throw e;
  }
}

/**
 * Compiled pipelines by device, shader and binding layout: models of one process share them. Each
 * device's cache keeps the PIPELINE_CACHE_SIZE most recently used (a model holds its own, so dropping
 * one from here only stops sharing it): a service loading model after model on one device (the
 * fuzzer's webgpu campaign: 1.35 GB by 500 programs on SwiftShader) would otherwise keep them all.
 */
const PIPELINES = new WeakMap<GPUDevice, Map<string, Promise<Pipeline>>>();
export const PIPELINE_CACHE_SIZE = 256;

/** How many pipelines `device`'s cache holds (for tests). */
export function cachedPipelines(device: GPUDevice): number {
  return PIPELINES.get(device)?.size ?? 0;
}

function cachedPipeline(device: GPUDevice, k: KernelSpec, wgsl: string, source: string): Promise<Pipeline> {
  let cache = PIPELINES.get(device);
  if (!cache) PIPELINES.set(device, (cache = new Map()));
  const gpu = k.gpu!;
  const key = `${gpu.bindings.map((b) => b.access).join(',')}|${gpu.uniform ? 'u' : ''}|${wgsl}`;
  let p = cache.get(key);
  if (p)
    cache.delete(key); // re-inserted below: a Map iterates oldest first
  else {
    p = compileKernel(device, k, wgsl, source);
    const mine = p;
    p.catch(() => {
      if (cache.get(key) === mine) cache.delete(key);
    });
  }
  cache.set(key, p);
  for (const old of cache.keys()) {
    if (cache.size <= (webgpuTesting.pipelineCacheSize ?? PIPELINE_CACHE_SIZE)) break;
    cache.delete(old);
  }
  return p;
}

interface Pipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/** Compiles one kernel's shader with an explicit layout from its spec; any error or warning rejects the artifact. */
async function compileKernel(device: GPUDevice, k: KernelSpec, wgsl: string, source: string): Promise<Pipeline> {
  const gpu = k.gpu!;
  // Scopes are a per-device stack: push and pop around synchronous calls only
  // (compilations run concurrently).
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: wgsl, label: k.entry });
  const layout = device.createBindGroupLayout({
    label: k.entry,
    entries: [
      ...gpu.bindings.map((b, i): GPUBindGroupLayoutEntry => ({
        binding: i,
        visibility: COMPUTE,
        buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
      })),
      ...(gpu.uniform
        ? [{ binding: gpu.uniform.binding, visibility: COMPUTE, buffer: { type: 'uniform' as const } }]
        : []),
    ],
  });
  const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
  const scope = device.popErrorScope();
  const info = await module.getCompilationInfo();
  const problems = info.messages.filter((m) => m.type === 'error' || m.type === 'warning');
  if (problems.length > 0) {
    await scope;
    const first = problems[0]!;
    throw new ArtifactError(
      `${source}: the shader of kernel '${k.entry}' does not compile cleanly: ${first.type} at ${first.lineNum}:${first.linePos}: ${first.message}` +
        (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''),
    );
  }
  const err = await scope;
  if (err) throw new ArtifactError(`${source}: kernel '${k.entry}' cannot run on this device: ${err.message}`);
  try {
    const pipeline = await device.createComputePipelineAsync({
      label: k.entry,
      layout: pipelineLayout,
      compute: { module, entryPoint: 'main' },
    });
    return { pipeline, layout };
  } catch (e) {
    throw new ArtifactError(`${source}: kernel '${k.entry}' cannot run on this device: ${(e as Error).message}`);
  }
}

interface Dispatch {
  readonly pipeline: GPUComputePipeline;
  readonly group: GPUBindGroup;
  readonly x: number;
  readonly y: number;
  /**
   * The uniform buffer and what goes in it (dims fixed by the plan; scalars per call; for a splittable kernel the
   * piece's fields at spec.gpu.split.at: p0 count, first p0, base elements).
   */
  readonly uniform?: { readonly buffer: GPUBuffer; readonly spec: KernelSpec; readonly split?: Int32Array };
}

/** One dispatch of a kernel: p0 in [first, first + count), each binding's byte range and base element. */
interface Piece {
  readonly first: number;
  readonly count: number;
  readonly ranges: readonly { readonly offset: number; readonly size: number }[];
  readonly bases: readonly number[];
}

function describeBuffer(b: BufferSpec): string {
  return b.role.kind === 'temp' ? `a temporary buffer (${b.id})` : `${b.role.kind} '${b.role.name}'`;
}

interface GpuPlan {
  readonly dims: ReadonlyMap<string, number>;
  /** Program buffer id -> the GPU buffer holding it. */
  readonly bufOf: ReadonlyMap<number, GPUBuffer>;
  /** Buffers this plan created (storages, uniforms, staging), destroyed on eviction. */
  readonly owned: readonly GPUBuffer[];
  readonly dispatches: readonly Dispatch[];
  readonly zeroed: readonly GPUBuffer[];
}

class GpuProgram {
  private readonly plans = new Map<string, GpuPlan>();
  private readonly outputSpecs: ReadonlyMap<string, TensorSpec>;

  constructor(
    readonly program: ProgramSpec,
    private readonly inputs: readonly TensorSpec[],
    outputs: readonly TensorSpec[],
    private readonly owner: WebGpuBackend,
  ) {
    this.outputSpecs = new Map(outputs.map((o) => [o.name, o]));
  }

  async call(
    given: Readonly<Record<string, Tensor>>,
    scalars: Readonly<Record<string, number>>,
    want?: readonly string[],
  ): Promise<Record<string, Tensor>> {
    const { dims, wanted } = checkCall(this.program, this.inputs, given, scalars, want);
    const device = this.owner.gpu;
    const plan = this.plan(dims);

    for (const b of this.program.buffers) {
      if (b.role.kind !== 'input') continue;
      const t = given[b.role.name]!;
      const data = b.dtype === 'bool' ? Int32Array.from(t.data, (v) => (v !== 0 ? 1 : 0)) : t.data;
      if (data.length > 0) device.queue.writeBuffer(plan.bufOf.get(b.id)!, 0, data);
    }
    for (const d of plan.dispatches)
      if (d.uniform) writeUniform(device, d.uniform.buffer, d.uniform.spec, dims, scalars, d.uniform.split);

    const enc = device.createCommandEncoder();
    for (const z of plan.zeroed) enc.clearBuffer(z);
    const pass = enc.beginComputePass();
    for (const d of plan.dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.group);
      pass.dispatchWorkgroups(d.x, d.y);
    }
    pass.end();
    this.encodeAssigns(enc, plan);

    // The wanted outputs, copied into one staging buffer.
    const reads: { name: string; buf: number; at: number; n: number; dtype: TensorSpec['dtype']; shape: number[] }[] =
      [];
    let bytes = 0;
    for (const name of wanted) {
      const o = this.program.outputs.find((x) => x.name === name)!;
      const shape = this.outputSpecs.get(name)!.shape.map((d) => evalDimSpec(d, dims));
      const n = shape.reduce((a, b) => a * b, 1);
      const b = this.program.buffers.find((x) => x.id === o.buf)!;
      reads.push({ name, buf: o.buf, at: bytes, n, dtype: b.dtype, shape });
      bytes = alignTo(bytes + n * 4, 16);
    }
    const staging = this.owner.staging(bytes);
    for (const r of reads) if (r.n > 0) enc.copyBufferToBuffer(plan.bufOf.get(r.buf)!, 0, staging, r.at, r.n * 4);
    const host = await this.owner.submit(enc, bytes);
    const out: Record<string, Tensor> = {};
    for (const r of reads) out[r.name] = { data: readTyped(host, r.at, r.n, r.dtype), shape: r.shape };
    return out;
  }

  /** After the last kernel, each assigned param holds its buffer: copies where they differ (through temps when sources are themselves targets). */
  private encodeAssigns(enc: GPUCommandEncoder, plan: GpuPlan): void {
    const moves = this.program.assigns
      .map((a) => ({
        from: plan.bufOf.get(a.buf)!,
        to: this.owner.paramBuffer(a.target),
        size: this.owner.paramBytes(a.target),
      }))
      .filter((m) => m.from !== m.to);
    const targets = new Set(moves.map((m) => m.to));
    if (moves.some((m) => targets.has(m.from))) {
      const temps = moves.map((m) => {
        const t = this.owner.gpu.createBuffer({ size: m.size, usage: COPY_SRC | COPY_DST });
        enc.copyBufferToBuffer(m.from, 0, t, 0, m.size);
        return t;
      });
      moves.forEach((m, i) => enc.copyBufferToBuffer(temps[i]!, 0, m.to, 0, m.size));
      this.owner.afterSubmit(() => temps.forEach((t) => t.destroy()));
    } else for (const m of moves) enc.copyBufferToBuffer(m.from, 0, m.to, 0, m.size);
  }

  private plan(dims: ReadonlyMap<string, number>): GpuPlan {
    const key = dimsKey(dims);
    const have = this.plans.get(key);
    if (have) return have;
    const device = this.owner.gpu;
    const owned: GPUBuffer[] = [];
    // One GPU buffer per storage, as large as its largest buffer.
    const storageElems = new Map<number, number>();
    const byId = new Map(this.program.buffers.map((b) => [b.id, b]));
    const maxBuffer = device.limits.maxBufferSize;
    for (const b of this.program.buffers) {
      if (b.role.kind === 'param') continue;
      const n = evalDimSpec(b.size, dims);
      if (bufferBytes(n) > maxBuffer)
        throw new KilnRuntimeError(
          `${describeBuffer(b)} needs ${n * 4} bytes, more than this WebGPU device allocates in one buffer ` +
            `(maxBufferSize ${maxBuffer}): use a smaller batch`,
        );
      storageElems.set(b.storage, Math.max(storageElems.get(b.storage) ?? 0, n));
    }
    const storages = new Map<number, GPUBuffer>();
    for (const [id, n] of storageElems) {
      const buf = device.createBuffer({
        label: `storage ${id}`,
        size: bufferBytes(n),
        usage: STORAGE | COPY_SRC | COPY_DST,
      });
      owned.push(buf);
      storages.set(id, buf);
    }
    const bufOf = new Map<number, GPUBuffer>();
    for (const b of this.program.buffers)
      bufOf.set(b.id, b.role.kind === 'param' ? this.owner.paramBuffer(b.role.name) : storages.get(b.storage)!);

    const dispatches: Dispatch[] = [];
    const counts: { kernel: string; dispatches: number }[] = [];
    for (const k of this.program.kernels) {
      const gpu = k.gpu!;
      const split = gpu.split;
      const extent = split ? evalDimSpec(split.extent, dims) : 1;
      const p = this.owner.pipeline(k.entry);
      const pieces = this.pieces(k, dims, byId);
      counts.push({ kernel: k.name, dispatches: 0 });
      for (const piece of pieces) {
        const groups = gpu.grid.reduce((w, g) => {
          const e = evalDimSpec(g.extent, dims);
          return w * Math.ceil((g.p0 ? (e / extent) * piece.count : e) / g.per);
        }, 1);
        if (groups === 0) continue;
        const x = Math.min(groups, MAX_GROUPS_PER_DIM);
        const y = Math.ceil(groups / x);
        if (y > MAX_GROUPS_PER_DIM)
          throw new KilnRuntimeError(`kernel '${k.name}' needs ${groups} workgroups, more than WebGPU can dispatch`);
        let uniform: Dispatch['uniform'];
        const entries: GPUBindGroupEntry[] = gpu.bindings.map((b, i) => ({
          binding: i,
          resource: { buffer: bufOf.get(b.buf)!, offset: piece.ranges[i]!.offset, size: piece.ranges[i]!.size },
        }));
        if (gpu.uniform) {
          const buffer = device.createBuffer({
            label: `${k.entry} args`,
            size: gpu.uniform.bytes,
            usage: UNIFORM | COPY_DST,
          });
          owned.push(buffer);
          entries.push({ binding: gpu.uniform.binding, resource: { buffer } });
          const fields = split && Int32Array.from([piece.count, piece.first, ...piece.bases]);
          uniform = { buffer, spec: k, ...(fields && { split: fields }) };
        }
        const group = device.createBindGroup({ label: k.entry, layout: p.layout, entries });
        dispatches.push({ pipeline: p.pipeline, group, x, y, ...(uniform && { uniform }) });
        counts[counts.length - 1]!.dispatches++;
      }
    }
    webgpuTesting.onPlan?.(counts);
    const zeroed = this.program.zeroed.map((id) => storages.get(id)).filter((b): b is GPUBuffer => b !== undefined);
    const plan: GpuPlan = { dims, bufOf, owned, dispatches, zeroed };
    if (this.plans.size >= PLAN_CACHE) {
      const [oldKey, old] = this.plans.entries().next().value!;
      this.plans.delete(oldKey);
      this.owner.afterSubmit(() => old.owned.forEach((b) => b.destroy()));
    }
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * The dispatches of kernel `k` at these dims: one covering all of p0 when every binding fits the binding limit;
   * else pieces of p0 whose strided bindings' ranges fit (offsets aligned down to
   * minStorageBufferOffsetAlignment, the rest of the misalignment in the base element), or a KilnRuntimeError
   * naming the kernel and the buffer that cannot be bound.
   */
  private pieces(k: KernelSpec, dims: ReadonlyMap<string, number>, byId: ReadonlyMap<number, BufferSpec>): Piece[] {
    const gpu = k.gpu!;
    const limit = this.owner.bindingLimit;
    const align = this.owner.gpu.limits.minStorageBufferOffsetAlignment;
    const bufs = gpu.bindings.map((b) => byId.get(b.buf)!);
    const elems = bufs.map((b) => evalDimSpec(b.size, dims));
    const whole = elems.map((n) => Math.max(4, n * 4));
    const split = gpu.split;
    const extent = split ? evalDimSpec(split.extent, dims) : 1;
    const strides = gpu.bindings.map((_, i) => {
      const s = split?.strides[i];
      return s === undefined || s === null ? undefined : evalDimSpec(s, dims);
    });
    const stridedCount = strides.filter((s) => s !== undefined).length;
    const too = (i: number) => `kernel '${k.name}' binds ${describeBuffer(bufs[i]!)} (${whole[i]} bytes)`;
    const limitText = `${limit.name} ${limit.bytes}`;
    if (whole.every((b) => b <= limit.bytes))
      return [
        {
          first: 0,
          count: extent,
          ranges: whole.map((size) => ({ offset: 0, size })),
          bases: Array.from({ length: stridedCount }, () => 0),
        },
      ];
    whole.forEach((b, i) => {
      if (b > limit.bytes && strides[i] === undefined)
        throw new KilnRuntimeError(
          `${too(i)} whole, more than this WebGPU device binds (${limitText}), and cannot split it: ` +
            (split
              ? "its elements do not advance with the kernel's outermost parallel loop (a reduction over them, or a gather)"
              : 'the kernel has no parallel loop to split along') +
            ': use a smaller batch',
        );
    });
    const out: Piece[] = [];
    for (let first = 0; first < extent;) {
      let end = extent;
      const starts = strides.map((s) => (s === undefined ? 0 : Math.floor((first * s * 4) / align) * align));
      strides.forEach((s, i) => {
        if (s === undefined) return;
        const fit = Math.floor((starts[i]! + limit.bytes) / (4 * s));
        if (fit <= first)
          throw new KilnRuntimeError(
            `${too(i)}, more than this WebGPU device binds (${limitText}), and cannot split it finely enough: ` +
              `one step of its outermost parallel loop takes ${s * 4} bytes of it (from byte ${first * s * 4}, ` +
              `bound from ${starts[i]}): use a smaller batch`,
          );
        end = Math.min(end, fit);
      });
      const step = split?.step ?? 1;
      if (end < extent) end -= end % step;
      if (end <= first)
        throw new KilnRuntimeError(
          `kernel '${k.name}' cannot be split finely enough to bind its buffers within ${limitText}: ` +
            `its pieces take ${step} steps of its outermost parallel loop at least: use a smaller batch`,
        );
      const ranges = strides.map((s, i) =>
        s === undefined
          ? { offset: 0, size: whole[i]! }
          : { offset: starts[i]!, size: Math.max(4, Math.min(end * s, elems[i]!) * 4 - starts[i]!) },
      );
      const bases = strides.flatMap((s, i) => (s === undefined ? [] : [starts[i]! / 4]));
      out.push({ first, count: end - first, ranges, bases });
      first = end;
    }
    return out;
  }

  destroy(): void {
    for (const p of this.plans.values()) for (const b of p.owned) b.destroy();
    this.plans.clear();
  }
}

/** The uniform block: dims (i32) then scalars (f32 or i32), 4 bytes each; then a split kernel's piece fields. */
function writeUniform(
  device: GPUDevice,
  buffer: GPUBuffer,
  k: KernelSpec,
  dims: ReadonlyMap<string, number>,
  scalars: Readonly<Record<string, number>>,
  split?: Int32Array,
): void {
  const bytes = new ArrayBuffer(k.gpu!.uniform!.bytes);
  const i32 = new Int32Array(bytes);
  const f32 = new Float32Array(bytes);
  k.dims.forEach((d, i) => (i32[i] = dims.get(d)!));
  k.scalars.forEach((s, j) => {
    const at = k.dims.length + j;
    if (k.gpu!.scalarTypes[j] === 'i32') i32[at] = scalars[s]! | 0;
    else f32[at] = scalars[s]!;
  });
  if (split) i32.set(split, k.gpu!.split!.at / 4);
  device.queue.writeBuffer(buffer, 0, bytes);
}

class WebGpuBackend implements Backend {
  readonly threads = 1;
  readonly workersStarted = 0;
  readonly gpu: GPUDevice;
  private readonly adapter: string;
  private readonly programs: ReadonlyMap<ProgramName, GpuProgram>;
  private readonly params = new Map<string, { buffer: GPUBuffer; bytes: number; dtype: TensorSpec['dtype'] }>();
  private stagingBuf: GPUBuffer | undefined;
  private pending: (() => void)[] = [];
  private lost: string | undefined;
  private destroyed = false;

  constructor(
    manifest: Manifest,
    private readonly lease: GpuLease,
    private readonly pipelines: ReadonlyMap<string, Pipeline>,
    /** Bytes a storage binding may have: the device's limit, or the maxBindingBytes testing knob. */
    readonly bindingLimit: { readonly bytes: number; readonly name: string },
  ) {
    const device = lease.handle.device;
    this.adapter = lease.handle.adapterInfo;
    this.gpu = device;
    void device.lost.then((info) => {
      if (!this.destroyed) this.lost = `${info.reason}: ${info.message}`;
    });
    for (const p of manifest.params) {
      const n = p.shape.reduce<number>((a, d) => a * (d as number), 1);
      if (bufferBytes(n) > device.limits.maxBufferSize)
        throw new KilnRuntimeError(
          `${p.role} '${p.name}' needs ${n * 4} bytes, more than this WebGPU device allocates in one buffer ` +
            `(maxBufferSize ${device.limits.maxBufferSize})`,
        );
      const buffer = device.createBuffer({ label: p.name, size: bufferBytes(n), usage: STORAGE | COPY_SRC | COPY_DST });
      this.params.set(p.name, { buffer, bytes: n * 4, dtype: p.dtype });
    }
    this.programs = new Map(
      manifestPrograms(manifest).map((p) => [p.name, new GpuProgram(p.spec, p.inputs, p.outputs, this)]),
    );
  }

  get device(): string {
    return `webgpu (${this.adapter})`;
  }

  async call(
    program: ProgramName,
    given: Readonly<Record<string, Tensor>>,
    scalars: Readonly<Record<string, number>>,
    want?: readonly string[],
  ): Promise<Record<string, Tensor>> {
    this.checkDevice();
    const p = this.programs.get(program);
    if (!p) throw new KilnRuntimeError(`the artifact has no ${program} program`);
    return p.call(given, scalars, want);
  }

  async readParams(names: readonly string[]): Promise<Map<string, TensorData>> {
    this.checkDevice();
    const enc = this.gpu.createCommandEncoder();
    const at = new Map<string, number>();
    let bytes = 0;
    for (const n of names) {
      at.set(n, bytes);
      bytes = alignTo(bytes + this.params.get(n)!.bytes, 16);
    }
    const staging = this.staging(bytes);
    for (const n of names) {
      const p = this.params.get(n)!;
      if (p.bytes > 0) enc.copyBufferToBuffer(p.buffer, 0, staging, at.get(n)!, p.bytes);
    }
    const host = await this.submit(enc, bytes);
    return new Map(
      names.map((n) => [n, readTyped(host, at.get(n)!, this.params.get(n)!.bytes / 4, this.params.get(n)!.dtype)]),
    );
  }

  writeParams(values: ReadonlyMap<string, TensorData>): void {
    this.checkDevice();
    for (const [n, data] of values) {
      const p = this.params.get(n)!;
      const words = p.dtype === 'bool' ? Int32Array.from(data, (v) => (v !== 0 ? 1 : 0)) : data;
      if (words.length > 0) this.gpu.queue.writeBuffer(p.buffer, 0, words);
    }
  }

  dispose(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.programs.values()) p.destroy();
    for (const p of this.params.values()) p.buffer.destroy();
    this.stagingBuf?.destroy();
    this.lease.release();
  }

  // ---- for GpuProgram

  pipeline(entry: string): Pipeline {
    return this.pipelines.get(entry)!;
  }
  paramBuffer(name: string): GPUBuffer {
    return this.params.get(name)!.buffer;
  }
  paramBytes(name: string): number {
    return Math.max(4, this.params.get(name)!.bytes);
  }
  /** Runs `f` once the next submission has finished (freeing buffers it may still use). */
  afterSubmit(f: () => void): void {
    this.pending.push(f);
  }

  /** The shared staging buffer, grown to at least `bytes`. */
  staging(bytes: number): GPUBuffer {
    if (!this.stagingBuf || this.stagingBuf.size < bytes) {
      this.stagingBuf?.destroy();
      this.stagingBuf = this.gpu.createBuffer({
        label: 'staging',
        size: Math.max(256, alignTo(bytes, 256) * 2),
        usage: MAP_READ | COPY_DST,
      });
    }
    return this.stagingBuf;
  }

  /** Submits `enc` and returns a copy of the first `bytes` of the staging buffer once the GPU is done. */
  async submit(enc: GPUCommandEncoder, bytes: number): Promise<ArrayBuffer> {
    const device = this.gpu;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    device.queue.submit([enc.finish()]);
    const [validation, oom] = [device.popErrorScope(), device.popErrorScope()];
    let host = new ArrayBuffer(0);
    try {
      if (bytes > 0) {
        const staging = this.stagingBuf!;
        await staging.mapAsync(MAP_MODE_READ, 0, bytes);
        host = staging.getMappedRange(0, bytes).slice(0);
        staging.unmap();
      } else await device.queue.onSubmittedWorkDone();
    } catch (e) {
      this.checkDevice();
      throw new KilnRuntimeError(`reading results back from the GPU failed: ${(e as Error).message}`);
    } finally {
      const done = this.pending;
      this.pending = [];
      done.forEach((f) => f());
    }
    const err = (await validation) ?? (await oom);
    if (err) throw new KilnRuntimeError(`the GPU rejected the work: ${err.message}`);
    this.checkDevice();
    return host;
  }

  private checkDevice(): void {
    if (this.lost !== undefined) throw new KilnRuntimeError(`the WebGPU device was lost (${this.lost})`);
  }
}
