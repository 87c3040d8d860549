// One Kiln IR node -> ONNX nodes (opset 18), with the IR's semantics (the
// header of compiler/ir.ts) where ONNX's differ: i32 `div` and `mod` are
// floored and total (x / 0 = x mod 0 = 0), f32 `mod` takes the divisor's
// sign, f32 -> i32 casts saturate (NaN -> 0), gather/scatter_add clamp
// their indices, and `rand` is the IR's counter-based hash, bit for bit, in
// uint32 arithmetic (opset 18 has the bitwise ops it needs).

import type { BinaryFn, Node, NodeOf, ReduceFn, UnaryFn } from '../../compiler/ir.js';
import { type Dim, type Shape, dimEq, numel } from '../../compiler/types.js';
import { type OnnxBuilder, attr, onnxDType } from './builder.js';
import { ONNX_DTYPE } from './schema.js';

/** The ONNX value of node `n`, whose inputs have the ONNX values `ins`. */
export function lowerNode(b: OnnxBuilder, n: Node, ins: readonly string[]): string {
  const x = ins[0]!;
  switch (n.op) {
    case 'input':
    case 'param':
      return n.name;
    case 'const':
      return b.scalar(n.value, n.dtype);
    case 'iota':
      return iota(b, n);
    case 'dim':
      return b.dimScalar(n.dim, n.dtype === 'i32' ? 'i32' : 'f32');
    case 'rand':
      return rand(b, n, x);
    case 'unary':
      return unary(b, n.fn, x);
    case 'binary':
      return n.inputs[0]!.dtype === 'i32' ? binaryI32(b, n.fn, x, ins[1]!) : binary(b, n.fn, x, ins[1]!);
    case 'where':
      return b.op('Where', ins);
    case 'cast':
      return cast(b, n, x);
    case 'stop_gradient':
    case 'assign':
      return x; // the identity in a forward graph
    case 'reduce':
      return b.op(REDUCE_OPS[n.fn], [x, b.ints(n.axes)], [attr.int('keepdims', 1)]);
    case 'reshape':
      return reshape(b, x, n.shape);
    case 'permute':
      return b.op('Transpose', [x], [attr.ints('perm', n.perm)]);
    case 'expand':
      return b.op('Expand', [x, b.shape(n.shape)]);
    case 'pad': {
      const pads = [...n.pads.map(([lo]) => lo), ...n.pads.map(([, hi]) => hi)];
      return b.op('Pad', [x, b.ints(pads), b.scalar(n.value, n.dtype)]);
    }
    case 'slice':
      return slice(b, n, x);
    case 'concat':
      return b.op('Concat', ins, [attr.int('axis', n.axis)]);
    case 'matmul':
      return b.op('MatMul', ins);
    case 'gather': {
      const src = n.inputs[0]!;
      return b.op('Gather', [x, clampIndex(b, ins[1]!, src.shape[n.axis]!)], [attr.int('axis', n.axis)]);
    }
    case 'scatter_add':
      return scatterAdd(b, n, x, ins[1]!);
  }
}

const REDUCE_OPS: Readonly<Record<ReduceFn, string>> = {
  sum: 'ReduceSum',
  max: 'ReduceMax',
  min: 'ReduceMin',
  prod: 'ReduceProd',
};

const UNARY_OPS: Readonly<Record<Exclude<UnaryFn, 'log1p' | 'expm1'>, string>> = {
  neg: 'Neg',
  recip: 'Reciprocal',
  sqrt: 'Sqrt',
  exp: 'Exp',
  log: 'Log',
  sin: 'Sin',
  cos: 'Cos',
  tanh: 'Tanh',
  erf: 'Erf',
  abs: 'Abs',
  floor: 'Floor',
  ceil: 'Ceil',
  round: 'Round', // half to even, as the IR's
  not: 'Not',
};

function unary(b: OnnxBuilder, fn: UnaryFn, x: string): string {
  if (fn === 'log1p') return b.op('Log', [b.op('Add', [x, b.scalar(1, 'f32')])]);
  if (fn === 'expm1') return b.op('Sub', [b.op('Exp', [x]), b.scalar(1, 'f32')]);
  return b.op(UNARY_OPS[fn], [x]);
}

const SIMPLE_BINARY: Readonly<Record<Exclude<BinaryFn, 'ne' | 'mod'>, string>> = {
  add: 'Add',
  sub: 'Sub',
  mul: 'Mul',
  div: 'Div',
  max: 'Max',
  min: 'Min',
  pow: 'Pow',
  lt: 'Less',
  le: 'LessOrEqual',
  eq: 'Equal',
  and: 'And',
  or: 'Or',
};

/** f32 and bool operands. */
function binary(b: OnnxBuilder, fn: BinaryFn, x: string, y: string): string {
  if (fn === 'ne') return b.op('Not', [b.op('Equal', [x, y])]);
  if (fn === 'mod') {
    // C fmod has the dividend's sign; add the divisor where the signs differ.
    const zero = b.scalar(0, 'f32');
    const r = b.op('Mod', [x, y], [attr.int('fmod', 1)]);
    const signsDiffer = b.op('Xor', [b.op('Less', [r, zero]), b.op('Less', [y, zero])]);
    const fix = b.op('And', [b.op('Not', [b.op('Equal', [r, zero])]), signsDiffer]);
    return b.op('Where', [fix, b.op('Add', [r, y]), r]);
  }
  return b.op(SIMPLE_BINARY[fn], [x, y]);
}

/** i32 operands: ONNX's Div truncates and traps on 0 and INT_MIN / -1, so guard and floor. */
function binaryI32(b: OnnxBuilder, fn: BinaryFn, x: string, y: string): string {
  if (fn !== 'div' && fn !== 'mod') return binary(b, fn, x, y);
  const zero = b.scalar(0, 'i32');
  const isZero = b.op('Equal', [y, zero]);
  const isMinusOne = b.op('Equal', [y, b.scalar(-1, 'i32')]);
  // x mod 0 = x mod -1 = 0, which x mod 1 gives; x div -1 = -x (wrapping).
  const safe = b.op('Where', [b.op('Or', [isZero, isMinusOne]), b.scalar(1, 'i32'), y]);
  const m = b.op('Mod', [x, safe], [attr.int('fmod', 0)]); // floored for integers
  if (fn === 'mod') return m;
  const q = b.op('Div', [b.op('Sub', [x, m]), safe]); // exact, so truncation is floor
  return b.op('Where', [isZero, zero, b.op('Where', [isMinusOne, b.op('Neg', [x]), q])]);
}

function cast(b: OnnxBuilder, n: NodeOf<'cast'>, x: string): string {
  const to = attr.int('to', onnxDType(n.dtype));
  if (!(n.dtype === 'i32' && n.inputs[0]!.dtype === 'f32')) return b.op('Cast', [x], [to]);
  // Truncate toward zero, saturating; NaN -> 0 (ONNX leaves these undefined).
  const noNaN = b.op('Where', [b.op('IsNaN', [x]), b.scalar(0, 'f32'), x]);
  const clipped = b.op('Clip', [noNaN, b.scalar(-2147483648, 'f32'), b.scalar(2147483520, 'f32')]);
  const big = b.op('GreaterOrEqual', [x, b.scalar(2147483648, 'f32')]);
  return b.op('Where', [big, b.scalar(2147483647, 'i32'), b.op('Cast', [clipped], [to])]);
}

function reshape(b: OnnxBuilder, x: string, shape: Shape): string {
  const symbolic = shape.filter((d) => typeof d !== 'number').length;
  // One run-time size among non-zero static ones: ONNX infers it from -1.
  if (symbolic === 1 && !shape.includes(0))
    return b.op('Reshape', [x, b.ints(shape.map((d) => (typeof d === 'number' ? d : -1)))]);
  return b.op('Reshape', [x, b.shape(shape)], [attr.int('allowzero', 1)]);
}

function iota(b: OnnxBuilder, n: NodeOf<'iota'>): string {
  const d = n.shape[n.axis]!;
  const steps = b.op('Range', [b.scalar(0, 'i32'), b.dimScalar(d, 'i32'), b.scalar(1, 'i32')]);
  const axes = n.shape.map((_, i) => i).filter((i) => i !== n.axis);
  const column = axes.length === 0 ? steps : b.op('Unsqueeze', [steps, b.ints(axes)]);
  return n.shape.every((s, i) => i === n.axis || s === 1) ? column : b.op('Expand', [column, b.shape(n.shape)]);
}

function slice(b: OnnxBuilder, n: NodeOf<'slice'>, x: string): string {
  const src = n.inputs[0]!.shape;
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const steps: number[] = [];
  n.axes.forEach((a, i) => {
    if (a.start === 0 && a.step === 1 && dimEq(a.size, src[i]!)) return; // whole (symbolic ones always are)
    const size = a.size as number;
    axes.push(i);
    starts.push(a.start);
    ends.push(size === 0 ? a.start : a.start + (size - 1) * a.step + 1);
    steps.push(a.step);
  });
  if (axes.length === 0) return x;
  return b.op('Slice', [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)]);
}

/** Indices clamped into [0, d - 1], as the IR's gather and scatter_add do. */
function clampIndex(b: OnnxBuilder, idx: string, d: Dim): string {
  const hi =
    typeof d === 'number'
      ? b.scalar(Math.max(d - 1, 0), 'i32')
      : b.op('Sub', [b.dimScalar(d, 'i32'), b.scalar(1, 'i32')]);
  return b.op('Clip', [idx, b.scalar(0, 'i32'), hi]);
}

/**
 * scatter_add along `axis` of index tensor `idx` (any rank): the updates'
 * index axes flattened to one, the indices broadcast to the updates' shape,
 * and ScatterElements(reduction = add) into zeros of the result's shape.
 */
function scatterAdd(b: OnnxBuilder, n: NodeOf<'scatter_add'>, updates: string, idx: string): string {
  const ax = n.axis;
  const index = n.inputs[1]!;
  const out = n.shape;
  const count = numel(index.shape);
  const flatShape: Dim[] = [...out.slice(0, ax), count, ...out.slice(ax + 1)];
  const flatUpdates = reshape(b, updates, flatShape);
  const flatIdx = reshape(b, clampIndex(b, idx, out[ax]!), [count]);
  const rest = flatShape.map((_, i) => i).filter((i) => i !== ax);
  const column = rest.length === 0 ? flatIdx : b.op('Unsqueeze', [flatIdx, b.ints(rest)]);
  const fullIdx = b.op('Expand', [column, b.shape(flatShape)]);
  const zeros = b.op('ConstantOfShape', [b.shape(out)], []);
  const typedZeros = n.dtype === 'f32' ? zeros : b.op('Cast', [zeros], [attr.int('to', onnxDType(n.dtype))]);
  return b.op(
    'ScatterElements',
    [typedZeros, fullIdx, flatUpdates],
    [attr.int('axis', ax), attr.string('reduction', 'add')],
  );
}

/**
 * `rand`: uniform in [0, 1) from (key, salt, flat index), exactly as
 * compiler/semantics.ts's randUniform, in uint32 (Mul and Add wrap mod 2^32).
 */
function rand(b: OnnxBuilder, n: NodeOf<'rand'>, key: string): string {
  const u32 = (v: number) => b.constant(ONNX_DTYPE.UINT32, [], [v >>> 0]);
  const toU32 = attr.int('to', ONNX_DTYPE.UINT32);
  const xor = (p: string, q: string) => b.op('BitwiseXor', [p, q]);
  const shr = (p: string, k: number) => b.op('BitShift', [p, u32(k)], [attr.string('direction', 'RIGHT')]);
  const fmix = (h0: string) => {
    let h = xor(h0, shr(h0, 16));
    h = b.op('Mul', [h, u32(0x85ebca6b)]);
    h = xor(h, shr(h, 13));
    h = b.op('Mul', [h, u32(0xc2b2ae35)]);
    return xor(h, shr(h, 16));
  };
  const k = fmix(xor(b.op('Cast', [key], [toU32]), u32(Math.imul(n.salt >>> 0, 0x9e3779b9))));
  const count = b.op('Reshape', [b.dimSize(numel(n.shape)), b.ints([])]);
  const flat = b.op('Range', [b.constant(ONNX_DTYPE.INT64, [], [0]), count, b.constant(ONNX_DTYPE.INT64, [], [1])]);
  const index = b.op('Cast', [b.op('Reshape', [flat, b.shape(n.shape)], [attr.int('allowzero', 1)])], [toU32]);
  const h = fmix(b.op('Add', [fmix(xor(index, k)), xor(k, u32(0x6a09e667))]));
  const top24 = b.op('Cast', [shr(h, 8)], [attr.int('to', ONNX_DTYPE.FLOAT)]);
  return b.op('Mul', [top24, b.scalar(2 ** -24, 'f32')]);
}
