// The kernel IR: backend-neutral loop nests that both code generators (WASM
// SIMD and WGSL) consume, and that the kernel interpreter executes so the
// whole middle end is tested before any codegen exists.
//
// A kernel runs one *program* per point of its parallel iteration space (the
// `parallel` loop variables). The program is a sequence of stages over the
// kernel's own inner loops:
// - a `reduce` stage loops over its axes and folds one or more accumulators;
//   their final values are visible to later stages as `acc` expressions;
// - a `map` stage loops over its axes (often none) and stores values; at
//   each point it evaluates ALL its stores' values before performing any
//   store, so in-place updates that read each other's old values (Adam's θ
//   and moments) are correct in one stage.
// So an elementwise kernel is parallel axes + one map stage without axes; a
// reduction is a reduce stage + a map stage storing the epilogue; a fused
// softmax or layer norm is reduce, reduce, map over the same row; a matmul
// is parallel [batch.., m, n] + a reduce over k of a product of two loads.
//
// Buffers are flat, row-major, and addressed by integer index expressions
// (IExpr) over loop variables and symbolic dimensions (kernel arguments), so
// reshape/permute/expand/slice/pad never copy: they only change the index
// arithmetic of a load (compiler/kernel/view.ts).

import type { DType, Dim } from '../types.js';
import type { BinaryFn, ReduceFn, UnaryFn } from '../ir.js';

/** An integer index expression. Loop variables range over [0, extent). */
export type IExpr =
  | { readonly k: 'const'; readonly v: number }
  /** A loop variable of the kernel (parallel or stage axis). */
  | { readonly k: 'var'; readonly name: string }
  /** A symbolic dimension, bound at run time (always >= 1). */
  | { readonly k: 'dim'; readonly name: string }
  | { readonly k: 'add'; readonly a: IExpr; readonly b: IExpr }
  | { readonly k: 'mul'; readonly a: IExpr; readonly b: IExpr }
  /** Floor division; the divisor is positive. */
  | { readonly k: 'div'; readonly a: IExpr; readonly b: IExpr }
  /** Floored modulo; the divisor is positive. */
  | { readonly k: 'mod'; readonly a: IExpr; readonly b: IExpr }
  /** A data-dependent index (gather): the i32 value, clamped into [0, hi). */
  | { readonly k: 'value'; readonly x: VExpr; readonly hi: IExpr };

/** A condition on indices (validity of a padded or concatenated load). */
export type IBool =
  | { readonly k: 'true' }
  /** a <= b */
  | { readonly k: 'le'; readonly a: IExpr; readonly b: IExpr }
  | { readonly k: 'and'; readonly a: IBool; readonly b: IBool };

/** A value expression, computed per element. Shared subtrees are shared objects: codegen binds them once. */
export type VExpr =
  /** buffer[index] when `valid` holds, else `fill` (padding). */
  | {
      readonly k: 'load';
      readonly buf: number;
      readonly index: IExpr;
      readonly valid: IBool;
      readonly fill: number;
      readonly dtype: DType;
    }
  | { readonly k: 'const'; readonly v: number; readonly dtype: DType }
  /** A runtime scalar argument (learning rate, bias correction): never baked into the kernel. */
  | { readonly k: 'scalar'; readonly name: string; readonly dtype: DType }
  /** An index as an i32 value (iota). */
  | { readonly k: 'index'; readonly i: IExpr }
  | { readonly k: 'unary'; readonly fn: UnaryFn; readonly x: VExpr; readonly dtype: DType }
  | { readonly k: 'binary'; readonly fn: BinaryFn; readonly a: VExpr; readonly b: VExpr; readonly dtype: DType }
  | { readonly k: 'where'; readonly c: VExpr; readonly a: VExpr; readonly b: VExpr; readonly dtype: DType }
  | { readonly k: 'cast'; readonly x: VExpr; readonly dtype: DType }
  /** The IR's counter-based uniform random number (compiler/interpret.ts randUniform). */
  | { readonly k: 'rand'; readonly key: VExpr; readonly salt: number; readonly i: IExpr }
  /** The final value of an accumulator of an earlier reduce stage of this program. */
  | { readonly k: 'acc'; readonly id: number; readonly dtype: DType };

export interface Loop {
  readonly name: string;
  readonly extent: Dim;
}

export interface Accumulator {
  readonly id: number;
  readonly fn: ReduceFn;
  readonly dtype: DType;
  readonly value: VExpr;
}

export interface Store {
  readonly buf: number;
  readonly index: IExpr;
  readonly value: VExpr;
  /**
   * The non-finite check of a param's in-place update (the training step's
   * flag): when a stored value is NaN or ±inf, i32 word `word` of the buffer
   * in slot `flag` becomes 1. Kernels only ever write 1 there (so threads and
   * invocations race benignly); the runtime zeroes the buffer before a step.
   */
  readonly check?: StoreCheck;
}

export interface StoreCheck {
  readonly flag: number;
  readonly word: number;
}

export type Stage =
  | { readonly kind: 'reduce'; readonly loops: readonly Loop[]; readonly accs: readonly Accumulator[] }
  | { readonly kind: 'map'; readonly loops: readonly Loop[]; readonly stores: readonly Store[] };

/** A buffer parameter of a kernel: slot i of the kernel refers to buffers[i]. */
export interface KernelBuffer {
  /** The program-level buffer this slot binds to. */
  readonly id: number;
  readonly access: 'read' | 'write' | 'readwrite';
}

/** How the fusion planner built the kernel; a hint for codegen templates. */
export type KernelKind = 'elementwise' | 'reduce' | 'rowwise' | 'matmul' | 'scatter';

export interface Kernel {
  readonly name: string;
  readonly kind: KernelKind;
  readonly buffers: readonly KernelBuffer[];
  /** Symbolic dimensions the kernel's index arithmetic uses (kernel arguments). */
  readonly dims: readonly string[];
  /** Runtime scalars the kernel reads. */
  readonly scalars: readonly string[];
  readonly parallel: readonly Loop[];
  readonly stages: readonly Stage[];
  /** The IR ops fused into this kernel, for `kiln dump --stage kernels`. */
  readonly ops: readonly string[];
  /** Which ops were fused together here: `producer>consumer` inlined, `a+b` kernels merged (the fuzzer's coverage). */
  readonly fused?: readonly string[];
}

/** A program-level buffer: a model input/param/state, or an intermediate. */
export interface ProgramBuffer {
  readonly id: number;
  readonly dtype: DType;
  /** Element count. */
  readonly size: Dim;
  readonly role:
    | { readonly kind: 'input'; readonly name: string }
    | { readonly kind: 'param'; readonly name: string }
    | { readonly kind: 'output'; readonly name: string }
    | { readonly kind: 'temp' };
}

/** A whole compiled graph: buffers and the kernels to run, in order. */
export interface KernelProgram {
  readonly buffers: readonly ProgramBuffer[];
  readonly kernels: readonly Kernel[];
  /** Graph outputs: which buffer holds each, and its shape. */
  readonly outputs: readonly {
    readonly name: string;
    readonly buf: number;
    readonly shape: readonly Dim[];
    readonly dtype: DType;
  }[];
  /** In-place updates: after the last kernel, param `target` holds buffer `buf` (often the same buffer). */
  readonly assigns: readonly { readonly target: string; readonly buf: number }[];
  readonly scalars: readonly string[];
}
