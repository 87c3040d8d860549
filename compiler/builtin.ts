// The contract between the checker and the decomposition table: how a
// builtin's arguments are declared, validated (with user-facing messages) and
// lowered to primitive IR. The checker turns call syntax into `Args`; the
// table (compiler/decompose.ts) says what each builtin means.

import type { DType, Dim, TensorType } from './types.js';
import type { IRBuilder, Node } from './ir.js';

/** What kind of value a builtin parameter takes. */
export type ParamKind =
  /** a tensor expression (literals become weakly typed scalar constants) */
  | 'tensor'
  /** a list of tensors, written `[a, b]` (concat, stack) */
  | 'tensors'
  /** a static integer (negative allowed); e.g. axis, n */
  | 'int'
  /** a static integer or a list of them, normalised to a list; e.g. axis of reductions, stride */
  | 'ints'
  /** a static list of [lo, hi] pairs */
  | 'pairs'
  /** a static shape: integers (one may be -1) and the model's symbolic dimension names */
  | 'shape'
  /** a static number */
  | 'number'
  | 'bool'
  | 'dtype'
  | 'string';

export type StaticValue =
  number | readonly number[] | readonly (readonly [number, number])[] | readonly Dim[] | boolean | DType | string;

export interface ParamSpec {
  readonly name: string;
  readonly kind: ParamKind;
  /** Absent: required. `null`: optional with no value (e.g. `axis` of `sum` means all axes). */
  readonly default?: StaticValue | null;
  /** Only as keyword (e.g. `keepdims`). */
  readonly keywordOnly?: boolean;
}

/** Arguments after the checker matched them against the ParamSpecs. */
export interface Args {
  /** Tensor arguments by parameter name (for 'tensors', name -> list in `lists`). */
  readonly tensors: ReadonlyMap<string, Node>;
  readonly lists: ReadonlyMap<string, readonly Node[]>;
  /** Static arguments by parameter name; absent when given as null default. */
  readonly statics: ReadonlyMap<string, StaticValue>;
}

/** The types of the tensor arguments, for validation before lowering. */
export interface ArgTypes {
  readonly tensors: ReadonlyMap<string, TensorType>;
  readonly lists: ReadonlyMap<string, readonly TensorType[]>;
  readonly statics: ReadonlyMap<string, StaticValue>;
}

export interface LowerContext {
  readonly b: IRBuilder;
  /** True when lowering a training step (dropout active). */
  readonly training: boolean;
  /** An i32 scalar node seeding randomness in training steps (dropout). */
  rngKey(): Node;
  /** A fresh salt per random call site, so two dropouts draw different masks. */
  nextSalt(): number;
}

export interface BuiltinDef {
  readonly name: string;
  readonly params: readonly ParamSpec[];
  /** A user-facing complaint about the argument types/values, or undefined when fine. */
  validate(a: ArgTypes): string | undefined;
  lower(ctx: LowerContext, a: Args): Node;
}
