// Elementwise builtins: math functions, activations, and the operator
// builtins the checker maps syntax to (`a + b` is `add(a, b)`, `c ? a : b` is
// `ternary(c, a, b)`). All broadcast with NumPy rules; dtypes must match.

import type { DType, TensorType } from '../types.js';
import type { BuiltinDef } from '../builtin.js';
import type { BinaryFn, IRBuilder, Node, UnaryFn } from '../ir.js';
import {
  type ArgsOf,
  type Check,
  P,
  arg,
  broadcastTypes,
  define,
  expectDtype,
  ge,
  getDType,
  getNumber,
  gt,
  sameDtype,
  sigmoidOf,
  softplusOf,
} from './common.js';

const F32: readonly DType[] = ['f32'];
const NUM: readonly DType[] = ['f32', 'i32'];
const BOOL: readonly DType[] = ['bool'];
const ANY: readonly DType[] = ['f32', 'i32', 'bool'];

/** A one-argument builtin `name(x, ...extra)` over the given dtypes. */
function unary(
  name: string,
  dtypes: readonly DType[],
  lower: (b: IRBuilder, x: Node, a: ArgsOf<Node>) => Node,
  extra: BuiltinDef['params'] = [],
  check?: (a: ArgsOf<TensorType>) => Check,
): BuiltinDef {
  return define(
    name,
    [P.tensor('x'), ...extra],
    (a) => expectDtype(arg(a, 'x'), dtypes) ?? check?.(a),
    (ctx, a) => lower(ctx.b, arg(a, 'x'), a),
  );
}

const prim = (fn: UnaryFn) => (b: IRBuilder, x: Node) => b.unary(fn, x);

/** Checks dtypes and broadcasting of the named tensor arguments. */
function checkOperands(a: ArgsOf<TensorType>, names: readonly string[], dtypes: readonly DType[]): Check {
  const ts = names.map((n) => arg(a, n));
  for (const t of ts) {
    const e = expectDtype(t, dtypes);
    if (e !== undefined) return e;
  }
  const d = sameDtype(ts);
  if (d !== undefined) return d;
  const s = broadcastTypes(ts);
  return typeof s === 'string' ? s : undefined;
}

/** A broadcasting binary builtin `name(a, b)`. */
function binary(name: string, dtypes: readonly DType[], lower: (b: IRBuilder, x: Node, y: Node) => Node): BuiltinDef {
  return define(
    name,
    [P.tensor('a'), P.tensor('b')],
    (a) => checkOperands(a, ['a', 'b'], dtypes),
    (ctx, a) => lower(ctx.b, arg(a, 'a'), arg(a, 'b')),
  );
}

const prim2 = (fn: BinaryFn) => (b: IRBuilder, x: Node, y: Node) => b.bin(fn, x, y);

function zerosLike(b: IRBuilder, x: Node): Node {
  return b.full(0, x.dtype, x.shape);
}

/**
 * relu as PyTorch's clamp_min(x, 0): x < 0 ? 0 : x, so NaN and -0 pass
 * through. The inner where gives x's gradient as PyTorch does (0 at 0 and
 * at NaN); once stop_gradient is stripped it folds away (where(c, x, x)),
 * leaving one compare and one select. (f32x4.max would propagate NaN too,
 * but V8 lowers it to about eight x64 instructions; a select is two.)
 */
function relu(b: IRBuilder, x: Node): Node {
  const at0 = b.where(gt(b, x, 0), x, b.stopGradient(x));
  return b.where(b.bin('lt', x, 0), zerosLike(b, x), at0);
}

/** sign with sign(0) = 0 and NaN kept (the x * 0 branch also has a zero gradient). */
function sign(b: IRBuilder, x: Node): Node {
  const one = b.full(1, x.dtype, x.shape);
  const minus = b.full(-1, x.dtype, x.shape);
  return b.where(gt(b, x, 0), one, b.where(b.bin('lt', x, 0), minus, b.bin('mul', x, 0)));
}

function gelu(b: IRBuilder, x: Node): Node {
  const phi = b.bin('add', b.unary('erf', b.bin('mul', x, Math.SQRT1_2)), 1);
  return b.bin('mul', b.bin('mul', x, 0.5), phi);
}

/** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as jax.nn.gelu(approximate=True). */
function geluTanh(b: IRBuilder, x: Node): Node {
  const x3 = b.binary('mul', b.binary('mul', x, x), x);
  const inner = b.bin('mul', b.binary('add', x, b.bin('mul', x3, 0.044715)), Math.sqrt(2 / Math.PI));
  return b.bin('mul', b.bin('mul', x, 0.5), b.bin('add', b.unary('tanh', inner), 1));
}

/** where(x >= 0, x, alpha x), as jax.nn.leaky_relu. */
function leakyRelu(b: IRBuilder, x: Node, a: ArgsOf<Node>): Node {
  const alpha = getNumber(a, 'alpha') ?? 0.01;
  return b.where(ge(b, x, 0), x, b.bin('mul', x, alpha));
}

/** where(x > 0, x, alpha expm1(x)); expm1 sees only x <= 0 so the unused branch cannot overflow (NaN gradients). */
function elu(b: IRBuilder, x: Node, a: ArgsOf<Node>): Node {
  const alpha = getNumber(a, 'alpha') ?? 1;
  const pos = gt(b, x, 0);
  const safe = b.where(pos, zerosLike(b, x), x);
  return b.where(pos, x, b.bin('mul', b.unary('expm1', safe), alpha));
}

/**
 * clip as torch.clamp: std::min(std::max(x, lo), hi) by selects, so a NaN x
 * passes and hi wins when lo > hi, and NaN if lo or hi is NaN (that test
 * folds away for constant bounds). x's gradient is 1 on [lo, hi] and at NaN.
 */
function clip(b: IRBuilder, x: Node, lo: Node, hi: Node): Node {
  const t = b.select(b.bin('lt', x, lo), lo, x);
  const r = b.select(gt(b, t, hi), hi, t);
  const nanBound = b.bin('or', b.bin('ne', lo, lo), b.bin('ne', hi, hi));
  return b.select(nanBound, b.bin('add', lo, hi), r);
}

function checkWhere(a: ArgsOf<TensorType>): Check {
  const c = arg(a, 'c');
  const e = expectDtype(c, BOOL, 'condition');
  if (e !== undefined) return e;
  const d = sameDtype([arg(a, 'a'), arg(a, 'b')]);
  if (d !== undefined) return d;
  const s = broadcastTypes([c, arg(a, 'a'), arg(a, 'b')]);
  return typeof s === 'string' ? s : undefined;
}

function whereDef(name: string): BuiltinDef {
  return define(name, [P.tensor('c'), P.tensor('a'), P.tensor('b')], checkWhere, (ctx, a) =>
    ctx.b.select(arg(a, 'c'), arg(a, 'a'), arg(a, 'b')),
  );
}

export const ELEMENTWISE: readonly BuiltinDef[] = [
  unary('exp', F32, prim('exp')),
  unary('log', F32, prim('log')),
  unary('log1p', F32, prim('log1p')),
  unary('expm1', F32, prim('expm1')),
  unary('sqrt', F32, prim('sqrt')),
  unary('rsqrt', F32, (b, x) => b.unary('recip', b.unary('sqrt', x))),
  unary('abs', NUM, prim('abs')),
  unary('sign', NUM, sign),
  unary('floor', F32, prim('floor')),
  unary('ceil', F32, prim('ceil')),
  unary('round', F32, prim('round')),
  unary('sin', F32, prim('sin')),
  unary('cos', F32, prim('cos')),
  unary('tanh', F32, prim('tanh')),
  unary('erf', F32, prim('erf')),
  unary('sigmoid', F32, sigmoidOf),
  unary('relu', F32, relu),
  unary('leaky_relu', F32, leakyRelu, [P.number('alpha', 0.01)]),
  unary('elu', F32, elu, [P.number('alpha', 1)]),
  unary('gelu', F32, gelu),
  unary('gelu_tanh', F32, geluTanh),
  unary('silu', F32, (b, x) => b.binary('mul', x, sigmoidOf(b, x))),
  unary('softplus', F32, softplusOf),
  unary('stop_gradient', ANY, (b, x) => b.stopGradient(x)),
  unary('neg', NUM, prim('neg')),
  unary('not', BOOL, prim('not')),
  unary(
    'cast',
    ANY,
    (b, x, a) => b.cast(x, getDType(a, 'dtype') ?? x.dtype),
    [P.dtype('dtype')],
    (a) => (getDType(a, 'dtype') === undefined ? `unknown dtype (expects one of f32, i32, bool)` : undefined),
  ),
  binary('maximum', NUM, prim2('max')),
  binary('minimum', NUM, prim2('min')),
  binary('pow', NUM, prim2('pow')),
  binary('add', NUM, prim2('add')),
  binary('sub', NUM, prim2('sub')),
  binary('mul', NUM, prim2('mul')),
  binary('div', NUM, prim2('div')),
  binary('mod', NUM, prim2('mod')),
  binary('lt', NUM, prim2('lt')),
  binary('le', NUM, prim2('le')),
  binary('gt', NUM, gt),
  binary('ge', NUM, ge),
  binary('eq', ANY, prim2('eq')),
  binary('ne', ANY, prim2('ne')),
  binary('and', BOOL, prim2('and')),
  binary('or', BOOL, prim2('or')),
  define(
    'clip',
    [P.tensor('x'), P.tensor('lo'), P.tensor('hi')],
    (a) => checkOperands(a, ['x', 'lo', 'hi'], NUM),
    (ctx, a) => clip(ctx.b, arg(a, 'x'), arg(a, 'lo'), arg(a, 'hi')),
  ),
  whereDef('where'),
  whereDef('ternary'),
];
