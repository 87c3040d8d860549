// The artifact contract between `kiln compile` and the runtime: a versioned
// JSON manifest beside the code (`model.wasm`) and the initial parameters
// (`params.safetensors`). The runtime never imports the compiler, so this
// file is the whole interface; `validateManifest` checks every field before
// anything is used.
//
// Kernel ABI (wasm target). Each kernel is one exported function
//   kernel(ptr_0, ..., ptr_{n-1}: i32, dim_0, ..., dim_{d-1}: i32,
//          scalar_0, ..., scalar_{s-1}: f32 (i32 for i32 scalars),
//          begin: i32, end: i32 [, scratch: i32])
// where ptr_i is the byte offset in linear memory of the kernel's i-th buffer
// (KernelSpec.buffers order), dims are the kernel's symbolic dimension sizes
// (KernelSpec.dims order), scalars its run-time scalars (KernelSpec.scalars
// order), and [begin, end) the range of the OUTERMOST parallel loop this
// call computes (KernelSpec.split; [0, 1) when the kernel has no parallel
// loop). Calls over disjoint ranges may run concurrently on threads sharing
// the memory. Buffers are little-endian, row-major, 4 bytes per element
// (f32, i32, and bool stored as i32 0/1), 16-byte aligned. A kernel with
// `scratch: true` takes a trailing byte offset of a private, 16-byte aligned
// work area of `${entry}_scratch_bytes(dim_0, ..., dim_{d-1})` bytes (an
// export returning i32): every concurrent call gets its own. Kernels run in
// order; a storage listed in ProgramSpec.zeroed is filled with zeros before
// each call of the program (the others hold garbage until written).
//
// Memory: the module imports `env.memory` (shared when the code was built
// for threads; the runtime may clear the shared flag to run single-threaded
// where SharedArrayBuffer is unavailable). Bytes below `memory.base` belong
// to the code; the runtime places params and optimizer state (persistent,
// shared by all programs) from there, then each call's storages.

/**
 * What an artifact can hold (`kiln compile --entries`): `run` the forward
 * pass (Manifest.forward), `step` the training step (train), `jvp` and `vjp`
 * the model's derivatives (LensSpec).
 */
export const ENTRY_NAMES = ['run', 'step', 'jvp', 'vjp'] as const;
export type EntryName = (typeof ENTRY_NAMES)[number];

/** A dimension: a number, or a monomial over symbolic names (`{coef: 2, syms: ['B']}` is 2*B). */
export type DimSpec = number | { readonly coef: number; readonly syms: readonly string[] };

export type DTypeSpec = 'f32' | 'i32' | 'bool';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: DTypeSpec;
  readonly shape: readonly DimSpec[];
}

export interface ParamSpec extends TensorSpec {
  /** `param`: a model parameter; `state`: optimizer state `<param>.<state>`. */
  readonly role: 'param' | 'state';
}

export interface BufferSpec {
  readonly id: number;
  readonly dtype: DTypeSpec;
  /** Element count. */
  readonly size: DimSpec;
  readonly role:
    | { readonly kind: 'input'; readonly name: string }
    | { readonly kind: 'param'; readonly name: string }
    | { readonly kind: 'output'; readonly name: string }
    | { readonly kind: 'temp' };
  /** Temps sharing a storage never live at the same time (the memory plan). */
  readonly storage: number;
}

export interface KernelSpec {
  readonly name: string;
  /** The wasm export (or WGSL entry point) that runs it. */
  readonly entry: string;
  readonly kind: 'elementwise' | 'reduce' | 'rowwise' | 'matmul' | 'scatter';
  /** Program buffer ids, in ABI order. */
  readonly buffers: readonly number[];
  readonly dims: readonly string[];
  readonly scalars: readonly string[];
  /**
   * What a call's [begin, end) ranges over: the extent of the outermost parallel loop (1 when there is
   * none), or for a wasm matmul that splits its columns, the columns.
   */
  readonly split: DimSpec;
  /** 'per-thread': split into one range per thread only (each call repeats a setup, such as packing an operand). */
  readonly chunking?: 'per-thread';
  /** Estimated floating-point operations per call over the whole range, for scheduling threads. */
  readonly flops: DimSpec | readonly { readonly coef: number; readonly syms: readonly string[] }[];
  /** Takes a trailing scratch pointer; `${entry}_scratch_bytes(dims...)` says how many bytes. */
  readonly scratch?: boolean;
  /** webgpu target: how to bind and dispatch the kernel's shader (required there, absent for wasm). */
  readonly gpu?: GpuKernelSpec;
}

/**
 * Kernel ABI (webgpu target). Each kernel is the entry point `main` of its
 * own WGSL module (`shaders[entry]` of the code file). Binding i of
 * @group(0) is program buffer `bindings[i].buf` (a storage buffer: read-only
 * when `access` is 'read'; f32 or i32 elements, bool as i32 0/1). When the
 * kernel reads dims or scalars, binding `uniform.binding` is a uniform
 * buffer of `uniform.bytes` bytes: the kernel's dims (i32, KernelSpec.dims
 * order), then its scalars (`scalarTypes`, KernelSpec.scalars order), 4 bytes
 * each. The runtime dispatches W = prod ceil(extent / per) workgroups over
 * `grid` as (min(W, 65535), ceil(W / 65535), 1); the shader ignores
 * workgroups past W. Kernels run in order, each seeing its predecessors'
 * writes; storages in ProgramSpec.zeroed are cleared before each call.
 *
 * Split dispatches. With `split`, the kernel may run as several dispatches,
 * each covering a range [a, a + n) of its outermost parallel loop p0 (extent
 * `split.extent`): the i32 uniform fields at byte `split.at` are n, a, then
 * for each binding whose `split.strides[i]` is not null (in binding order)
 * its base element. Such a binding touches only the elements [a * stride,
 * (a + n) * stride) of its buffer; the runtime may bind it from byte offset
 * 4 * base (a multiple of minStorageBufferOffsetAlignment) with any size
 * covering them, and the shader indexes it relative to `base`. A binding
 * the shader declares array<vec4<...>> needs 4 * base a multiple of 16
 * (true of every offset alignment WebGPU allows). A null
 * stride: the binding is bound whole in every dispatch. Every piece but
 * the last covers a multiple of `step` values of p0. Grid entries with
 * `p0: true` count p0's extent once: for n values their extent is
 * extent / split.extent * n. A single dispatch: n = split.extent, a = 0,
 * every base 0.
 */
export interface GpuKernelSpec {
  readonly bindings: readonly { readonly buf: number; readonly access: 'read' | 'readwrite' }[];
  readonly uniform?: { readonly binding: number; readonly bytes: number };
  readonly scalarTypes: readonly ('f32' | 'i32')[];
  readonly grid: readonly { readonly extent: DimSpec; readonly per: number; readonly p0?: true }[];
  readonly split?: GpuSplitSpec;
}

/** How a webgpu kernel's dispatch may be split along p0 (GpuKernelSpec). */
export interface GpuSplitSpec {
  readonly extent: DimSpec;
  /** Byte offset in the uniform of the i32 fields: p0 count, first p0, base element per strided binding. */
  readonly at: number;
  /** Per binding: elements it advances per step of p0, or null when it is bound whole. */
  readonly strides: readonly (DimSpec | null)[];
  /** Pieces must start at multiples of this many p0 values (default 1; 4 where a shader takes 4 p0 values at once). */
  readonly step?: number;
}

/** The code file of a webgpu artifact (`shaders.json`): WGSL source by kernel entry. */
export interface ShaderFile {
  readonly format: 'kiln-wgsl';
  readonly version: 1;
  readonly shaders: Readonly<Record<string, string>>;
}

export interface ProgramSpec {
  readonly buffers: readonly BufferSpec[];
  readonly kernels: readonly KernelSpec[];
  readonly outputs: readonly { readonly name: string; readonly buf: number }[];
  /** After the last kernel, param `target` holds buffer `buf` (updated in place: usually its own buffer). */
  readonly assigns: readonly { readonly target: string; readonly buf: number }[];
  /** Run-time scalars the program reads (`@lr`, `@seed`, ...). */
  readonly scalars: readonly string[];
  /** Storages (ids) to fill with zeros before each call: their first access reads them (an accumulation). */
  readonly zeroed: readonly number[];
}

export interface OptimizerSpec {
  readonly name: string;
  readonly hyper: Readonly<Record<string, number | boolean>>;
  readonly inner?: OptimizerSpec;
}

export interface TrainSpec {
  readonly program: ProgramSpec;
  /**
   * An optimizer that refreshes a curvature estimate every k steps (adahessian,
   * sophia): `program` refreshes it, `plain.program` keeps the stored one (and
   * costs a first-order step). Step t (1 for the first) runs `program` when
   * (t − 1) % k == 0, k the current value of the optimizer's hyperparameter
   * `plain.every` (`update_interval`; lookahead: the wrapped optimizer's),
   * else `plain.program`. Both take the same inputs, params and state.
   */
  readonly plain?: { readonly program: ProgramSpec; readonly every: string };
  /** The output holding the loss. */
  readonly loss: string;
  /** As runtime/optimizers/host-scalars.ts `hostScalars` takes it (`inner`: the optimizer a lookahead wraps). */
  readonly optimizer: OptimizerSpec;
  readonly schedule?: { readonly name: string; readonly args: Readonly<Record<string, number | boolean>> };
  readonly clip?: { readonly kind: 'global_norm' | 'value'; readonly max: number };
  /** Annealed gradient noise, σ_t² = eta / t^gamma. */
  readonly gradNoise?: { readonly eta: number; readonly gamma: number };
  /** Trainable params (the others are frozen or state). */
  readonly trainable: readonly string[];
}

/**
 * A lens entry (`jvp` or `vjp`, runtime/lens-interface.ts): a program with
 * inputs and outputs of its own, named after the manifest's.
 * - jvp: inputs = the manifest's inputs, then `tangent.<name>` for every f32
 *   input and every f32 param (role 'param'); outputs = the manifest's
 *   outputs, then `jvp.<output>` for every f32 output.
 * - vjp: inputs = the manifest's inputs, then `cotangent.<output>` for every
 *   f32 output; outputs = `vjp.<param>` for every f32 param, then
 *   `vjp.<input>` for every f32 input.
 * A tangent or cotangent has the type of the tensor it goes with, a `vjp.`
 * output the type of its param or input.
 */
export interface LensSpec {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly program: ProgramSpec;
}

export interface Manifest {
  readonly format: 'kiln-artifact';
  readonly version: 1;
  readonly model: string;
  readonly target: 'wasm' | 'webgpu';
  /**
   * File names relative to the artifact directory; `codeXxh32`, the code file's xxHash32
   * (runtime/checksum.ts), which the runtime checks before compiling it: a damaged module can
   * still validate and then loop forever or compute wrongly. Artifacts of earlier Kiln versions
   * have none and load as before.
   */
  readonly files: { readonly code: string; readonly params: string; readonly codeXxh32?: string };
  /** Linear memory (wasm): the runtime's first usable byte (16-aligned; the code's own data lies below); 0 for webgpu. */
  readonly memory: { readonly base: number };
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly params: readonly ParamSpec[];
  /** The forward pass (entry `run`); absent when the artifact was compiled without it. */
  readonly forward?: ProgramSpec;
  readonly train?: TrainSpec;
  /** The forward derivative (entry `jvp`). */
  readonly jvp?: LensSpec;
  /** The reverse derivative (entry `vjp`). */
  readonly vjp?: LensSpec;
  /** Wasm features the code needs; the runtime probes for them (empty for webgpu). */
  readonly features: readonly ('simd' | 'relaxed-simd' | 'threads')[];
  /**
   * The values the model gives its id and label inputs (compiler/id-ranges.ts):
   * `kiln` checks data for an artifact against them before running, as it
   * does for a source. The runtime itself does not (its kernels clamp).
   */
  readonly ids?: Readonly<Record<string, IdRangeSpec>>;
}

/** An input's valid values: [lo, hi), or [lo, hi] with hiIncluded; `why` names the use that needs them. */
export interface IdRangeSpec {
  readonly lo: number;
  readonly hi: number;
  readonly hiIncluded: boolean;
  readonly why: string;
}
