// An ONNX graph under construction: nodes in topological order, constants as
// initializers (deduplicated), fresh value names that no Kiln name can take
// (`%12`), and the run-time sizes of symbolic dimensions, read off the shapes
// of the graph inputs that define them (Shape with start/end: opset >= 15).

import type { Node } from '../../compiler/ir.js';
import { type Dim, type DType, type Shape, formatDim } from '../../compiler/types.js';
import {
  ATTR_TYPE,
  type AttributeProto,
  type NodeProto,
  ONNX_DTYPE,
  type OnnxDType,
  type TensorProto,
} from './schema.js';

export function onnxDType(t: DType): OnnxDType {
  switch (t) {
    case 'f32':
      return ONNX_DTYPE.FLOAT;
    case 'i32':
      return ONNX_DTYPE.INT32;
    case 'bool':
      return ONNX_DTYPE.BOOL;
  }
}

/** Little-endian raw bytes of `values` as `type` (i32 wraps, bool is != 0). */
export function rawData(type: OnnxDType, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  const width = type === ONNX_DTYPE.BOOL ? 1 : type === ONNX_DTYPE.INT64 ? 8 : 4;
  const view = new DataView(new ArrayBuffer(n * width));
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (type === ONNX_DTYPE.FLOAT) view.setFloat32(i * 4, v, true);
    else if (type === ONNX_DTYPE.INT32) view.setInt32(i * 4, v | 0, true);
    else if (type === ONNX_DTYPE.UINT32) view.setUint32(i * 4, v >>> 0, true);
    else if (type === ONNX_DTYPE.INT64) view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true);
    else view.setUint8(i, v !== 0 ? 1 : 0);
  }
  return new Uint8Array(view.buffer);
}

export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: ATTR_TYPE.INT, i }),
  ints: (name: string, ints: readonly number[]): AttributeProto => ({ name, type: ATTR_TYPE.INTS, ints }),
  float: (name: string, f: number): AttributeProto => ({ name, type: ATTR_TYPE.FLOAT, f }),
  string: (name: string, s: string): AttributeProto => ({
    name,
    type: ATTR_TYPE.STRING,
    s: new TextEncoder().encode(s),
  }),
};

/** Where a symbol's size is found at run time: axis `axis` of graph input `input`. */
export interface DimSource {
  readonly input: string;
  readonly axis: number;
}

/**
 * Thrown for what ONNX (or this exporter) cannot express; `node` is the IR
 * node whose lowering failed, when one did (export.ts attaches it).
 */
export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
  constructor(
    message: string,
    readonly node?: Node,
  ) {
    super(message);
  }
}

export class OnnxBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private next = 0;
  private readonly constants = new Map<string, string>();
  private readonly dims = new Map<string, string>();

  constructor(private readonly symbols: ReadonlyMap<string, DimSource>) {}

  private fresh(): string {
    return `%${this.next++}`;
  }

  /** Appends one node; returns the name of its (only) output. */
  op(opType: string, inputs: readonly string[], attribute: readonly AttributeProto[] = []): string {
    const out = this.fresh();
    this.nodes.push({ input: inputs, output: [out], name: `${opType}${out}`, opType, attribute });
    return out;
  }

  /** A constant as an initializer, once per distinct value. */
  constant(type: OnnxDType, dims: readonly number[], values: ArrayLike<number>): string {
    const key = `${type}|${dims.join(',')}|${Array.from(values).join(',')}`;
    const hit = this.constants.get(key);
    if (hit !== undefined) return hit;
    const name = `%c${this.constants.size}`;
    this.initializers.push({ name, dims, dataType: type, rawData: rawData(type, values) });
    this.constants.set(key, name);
    return name;
  }

  /** A scalar constant of a Kiln dtype. */
  scalar(value: number, t: DType): string {
    return this.constant(onnxDType(t), [], [value]);
  }

  /** A 1-D int64 constant (shapes, axes, starts and ends). */
  ints(values: readonly number[]): string {
    return this.constant(ONNX_DTYPE.INT64, [values.length], values);
  }

  /** The run-time size of `d` as an int64 tensor of shape [1]. */
  dimSize(d: Dim): string {
    if (typeof d === 'number') return this.ints([d]);
    const key = formatDim(d);
    const hit = this.dims.get(key);
    if (hit !== undefined) return hit;
    let acc: string | undefined;
    for (const s of d.syms) {
      const v = this.symbol(s);
      acc = acc === undefined ? v : this.op('Mul', [acc, v]);
    }
    if (d.coef !== 1) acc = this.op('Mul', [acc!, this.ints([d.coef])]);
    this.dims.set(key, acc!);
    return acc!;
  }

  /** The run-time size of `d` as a scalar of dtype `t`. */
  dimScalar(d: Dim, t: 'f32' | 'i32'): string {
    if (typeof d === 'number') return this.scalar(d, t);
    const scalar = this.op('Reshape', [this.dimSize(d), this.ints([])]);
    return this.op('Cast', [scalar], [attr.int('to', onnxDType(t))]);
  }

  private symbol(name: string): string {
    const key = `sym ${name}`;
    const hit = this.dims.get(key);
    if (hit !== undefined) return hit;
    const src = this.symbols.get(name);
    if (!src)
      throw new OnnxExportError(
        `symbolic dimension '${name}' is not the whole size of an input axis, so its run-time size cannot be read`,
      );
    const v = this.op('Shape', [src.input], [attr.int('start', src.axis), attr.int('end', src.axis + 1)]);
    this.dims.set(key, v);
    return v;
  }

  /** `shape` as a 1-D int64 tensor: a constant when static, else assembled at run time. */
  shape(shape: Shape): string {
    if (shape.every((d): d is number => typeof d === 'number')) return this.ints(shape);
    const key = `shape [${shape.map(formatDim).join(',')}]`;
    const hit = this.dims.get(key);
    if (hit !== undefined) return hit;
    // Runs of static sizes become one constant between the run-time ones.
    const parts: string[] = [];
    let run: number[] = [];
    for (const d of shape) {
      if (typeof d === 'number') run.push(d);
      else {
        if (run.length > 0) parts.push(this.ints(run));
        run = [];
        parts.push(this.dimSize(d));
      }
    }
    if (run.length > 0) parts.push(this.ints(run));
    const v = parts.length === 1 ? parts[0]! : this.op('Concat', parts, [attr.int('axis', 0)]);
    this.dims.set(key, v);
    return v;
  }
}
