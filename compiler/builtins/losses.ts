// Losses. mse, mae, huber and sigmoid_binary_cross_entropy are elementwise
// (the broadcast shape of their arguments); softmax_cross_entropy reduces the
// last (class) axis. Reducing over the batch is left to the user (`mean`).

import { type DType, type TensorType, dimEq, formatShape, formatType } from '../types.js';
import type { BuiltinDef } from '../builtin.js';
import type { IRBuilder, Node } from '../ir.js';
import {
  type ArgsOf,
  type Check,
  P,
  arg,
  broadcastTypes,
  define,
  dropAxes,
  expectDtype,
  getNumber,
  logSoftmaxAxis,
  logsumexpAxes,
  softplusOf,
} from './common.js';
import { oneHotMask } from './shape.js';

const F32: readonly DType[] = ['f32'];

function checkPair(a: ArgsOf<TensorType>, x: string, y: string): Check {
  const tx = arg(a, x);
  const ty = arg(a, y);
  const e = expectDtype(tx, F32, x) ?? expectDtype(ty, F32, y);
  if (e !== undefined) return e;
  const s = broadcastTypes([tx, ty]);
  return typeof s === 'string' ? s : undefined;
}

function elementwiseLoss(
  name: string,
  lower: (b: IRBuilder, p: Node, t: Node, a: ArgsOf<Node>) => Node,
  extra: BuiltinDef['params'] = [],
  check?: (a: ArgsOf<TensorType>) => Check,
): BuiltinDef {
  return define(
    name,
    [P.tensor('pred'), P.tensor('target'), ...extra],
    (a) => checkPair(a, 'pred', 'target') ?? check?.(a),
    (ctx, a) => lower(ctx.b, arg(a, 'pred'), arg(a, 'target'), a),
  );
}

/** 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta), as optax.huber_loss. */
function huber(b: IRBuilder, p: Node, t: Node, a: ArgsOf<Node>): Node {
  const delta = getNumber(a, 'delta') ?? 1;
  const d = b.bin('sub', p, t);
  const ad = b.unary('abs', d);
  const quad = b.bin('mul', b.binary('mul', d, d), 0.5);
  const lin = b.bin('mul', b.bin('sub', ad, 0.5 * delta), delta);
  return b.where(b.bin('le', ad, delta), quad, lin);
}

/** Cross entropy with logits: softplus(x) - x t, stable for any x. */
function sigmoidBce(b: IRBuilder, x: Node, t: Node): Node {
  return b.bin('sub', softplusOf(b, x), b.bin('mul', x, t));
}

function checkSoftmaxCe(a: ArgsOf<TensorType>): Check {
  const x = arg(a, 'logits');
  const y = arg(a, 'labels');
  const e = expectDtype(x, F32, 'logits');
  if (e !== undefined) return e;
  if (x.shape.length === 0) return `logits must have a class axis, got ${formatType(x)}`;
  const rows = x.shape.slice(0, -1);
  const same = (s: TensorType['shape'], r: TensorType['shape']) =>
    s.length === r.length && s.every((d, i) => dimEq(d, r[i]!));
  if (y.dtype === 'i32' && same(y.shape, rows)) return undefined;
  if (y.dtype === 'f32' && same(y.shape, x.shape)) return undefined;
  return `labels must be i32 class ids of shape ${formatShape(rows)} or f32 probabilities of shape ${formatShape(x.shape)} for logits ${formatType(x)}, got ${formatType(y)}`;
}

/**
 * -sum(labels * log_softmax(logits)) over the class axis; for class ids,
 * logsumexp(x) - x[label] (a label outside [0, n) picks nothing: loss = logsumexp).
 */
function softmaxCe(b: IRBuilder, x: Node, y: Node): Node {
  const last = x.shape.length - 1;
  if (y.dtype === 'i32') {
    const picked = b.where(oneHotMask(b, y, x.shape[last]!), x, b.full(0, 'f32', x.shape));
    return b.bin('sub', logsumexpAxes(b, x, [last], false), dropAxes(b, b.reduce('sum', picked, [last]), [last]));
  }
  const s = b.reduce('sum', b.bin('mul', y, logSoftmaxAxis(b, x, last)), [last]);
  return b.unary('neg', dropAxes(b, s, [last]));
}

export const LOSSES: readonly BuiltinDef[] = [
  elementwiseLoss('mse', (b, p, t) => {
    const d = b.bin('sub', p, t);
    return b.binary('mul', d, d);
  }),
  elementwiseLoss('mae', (b, p, t) => b.unary('abs', b.bin('sub', p, t))),
  elementwiseLoss('huber', huber, [P.number('delta', 1)], (a) => {
    const d = getNumber(a, 'delta');
    return d !== undefined && d > 0 ? undefined : `delta must be positive, got ${d}`;
  }),
  define(
    'sigmoid_binary_cross_entropy',
    [P.tensor('logits'), P.tensor('targets')],
    (a) => checkPair(a, 'logits', 'targets'),
    (ctx, a) => sigmoidBce(ctx.b, arg(a, 'logits'), arg(a, 'targets')),
  ),
  define('softmax_cross_entropy', [P.tensor('logits'), P.tensor('labels')], checkSoftmaxCe, (ctx, a) =>
    softmaxCe(ctx.b, arg(a, 'logits'), arg(a, 'labels')),
  ),
];
