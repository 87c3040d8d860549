// Neural-network builtins: softmax, log_softmax, layer_norm, rms_norm,
// dropout, rand_like (uniform draws), conv2d (NCHW input, OIHW weights, as PyTorch) and 2-D pooling.
// Convolution is im2col: one strided slice of the padded input per kernel tap,
// stacked, then one (grouped) matmul. Pooling reduces over the window taps in
// row-major order, so a max's gradient goes to the first maximal element of
// the window (what reduce max's gradient does); windows that tile the input
// (stride = size, no padding) are a reshape of it, other windows a stack of taps.

import { type DType, type Shape, type TensorType, dimMul, formatType } from '../types.js';
import type { BuiltinDef } from '../builtin.js';
import type { IRBuilder, Node, SliceAxis } from '../ir.js';
import {
  type ArgsOf,
  type Check,
  P,
  arg,
  broadcastsTo,
  define,
  expectDtype,
  ge,
  getInts,
  getNumber,
  insertAxis,
  isInt,
  logSoftmaxAxis,
  meanAxes,
  normAxisOf,
  unwrap,
} from './common.js';

const F32: readonly DType[] = ['f32'];

// ---- softmax family ----

function checkAxisF32(a: ArgsOf<TensorType>): Check {
  const x = arg(a, 'x');
  const e = expectDtype(x, F32);
  if (e !== undefined) return e;
  const ax = normAxisOf(getNumber(a, 'axis') ?? -1, x);
  return typeof ax === 'string' ? ax : undefined;
}

/** exp(x - max) / sum(exp(x - max)), the shift gradient-stopped (it cancels). */
export function softmaxAxis(b: IRBuilder, x: Node, axis: number): Node {
  const m = b.stopGradient(b.reduce('max', x, [axis]));
  const e = b.unary('exp', b.bin('sub', x, m));
  return b.bin('div', e, b.reduce('sum', e, [axis]));
}

// ---- normalisation ----

function checkNorm(a: ArgsOf<TensorType>, affine: readonly string[]): Check {
  const x = arg(a, 'x');
  const e = expectDtype(x, F32, 'x');
  if (e !== undefined) return e;
  if (x.shape.length === 0) return `x must have at least one axis, got ${formatType(x)}`;
  for (const name of affine) {
    const t = arg(a, name);
    const d = expectDtype(t, F32, name);
    if (d !== undefined) return d;
    if (!broadcastsTo(t, x.shape)) return `${name} ${formatType(t)} does not broadcast to x ${formatType(x)}`;
  }
  return undefined;
}

function layerNorm(b: IRBuilder, x: Node, gamma: Node, beta: Node, eps: number): Node {
  const last = x.shape.length - 1;
  const d = b.bin('sub', x, meanAxes(b, x, [last], true));
  const v = meanAxes(b, b.binary('mul', d, d), [last], true);
  const inv = b.unary('recip', b.unary('sqrt', b.bin('add', v, eps)));
  return b.bin('add', b.bin('mul', b.bin('mul', d, inv), gamma), beta);
}

function rmsNorm(b: IRBuilder, x: Node, gamma: Node, eps: number): Node {
  const ms = meanAxes(b, b.binary('mul', x, x), [x.shape.length - 1], true);
  const inv = b.unary('recip', b.unary('sqrt', b.bin('add', ms, eps)));
  return b.bin('mul', b.bin('mul', x, inv), gamma);
}

// ---- conv2d / pooling ----

type Pair = readonly [number, number];

/** An 'ints' argument of one or two values (a single value is used for both H and W). */
function pairOf(a: ArgsOf<TensorType>, name: string, min: number, def?: Pair): Pair | string {
  const v = getInts(a, name);
  if (v === undefined) {
    if (def !== undefined) return def;
    return `${name} must be an int or a list of 2 ints`;
  }
  const p: Pair | undefined = v.length === 1 ? [v[0]!, v[0]!] : v.length === 2 ? [v[0]!, v[1]!] : undefined;
  if (p === undefined) return `${name} must be an int or a list of 2 ints, got [${v.join(', ')}]`;
  if (!p.every((n) => isInt(n) && n >= min))
    return `${name} must be ${min === 0 ? 'non-negative' : 'positive'} integers, got [${v.join(', ')}]`;
  return p;
}

interface Window {
  readonly size: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  /** Output height and width. */
  readonly out: Pair;
}

/** Output sizes of a window sliding over the last two axes of `x`, or why it cannot. */
function slide(
  x: TensorType,
  size: Pair,
  stride: Pair,
  padding: Pair,
  dilation: Pair,
  kernel: string,
): Window | string {
  const h = x.shape.at(-2)!;
  const w = x.shape.at(-1)!;
  if (typeof h !== 'number' || typeof w !== 'number') return `height and width must be static, got ${formatType(x)}`;
  const eh = dilation[0] * (size[0] - 1) + 1;
  const ew = dilation[1] * (size[1] - 1) + 1;
  const ph = h + 2 * padding[0];
  const pw = w + 2 * padding[1];
  if (eh > ph || ew > pw) {
    const dil = dilation[0] === 1 && dilation[1] === 1 ? '' : ` (dilation ${dilation[0]}x${dilation[1]})`;
    return `${kernel} ${size[0]}x${size[1]}${dil} is larger than the padded input ${ph}x${pw} (${formatType(x)}, padding ${padding[0]}x${padding[1]})`;
  }
  const out: Pair = [Math.floor((ph - eh) / stride[0]) + 1, Math.floor((pw - ew) / stride[1]) + 1];
  return { size, stride, padding, dilation, out };
}

/** The window taps of padded x, row-major, stacked on a new axis before H: [..., kh*kw, Ho, Wo]. */
function taps(b: IRBuilder, x: Node, win: Window, padValue: number): Node {
  const r = x.shape.length;
  const pads = x.shape.map((_, i): [number, number] =>
    i === r - 2 ? [win.padding[0], win.padding[0]] : i === r - 1 ? [win.padding[1], win.padding[1]] : [0, 0],
  );
  const xp = b.pad(x, pads, padValue);
  const lead: SliceAxis[] = x.shape.slice(0, r - 2).map((d) => ({ start: 0, size: d, step: 1 }));
  const parts: Node[] = [];
  for (let i = 0; i < win.size[0]; i++)
    for (let j = 0; j < win.size[1]; j++) {
      const s = b.slice(xp, [
        ...lead,
        { start: i * win.dilation[0], size: win.out[0], step: win.stride[0] },
        { start: j * win.dilation[1], size: win.out[1], step: win.stride[1] },
      ]);
      parts.push(insertAxis(b, s, r - 2));
    }
  return b.concat(parts, r - 2);
}

/** Windows that tile the input (stride = size, no padding): pooling is then a reshape, not a stack of taps. */
function tiles(win: Window): boolean {
  return (
    win.stride[0] === win.size[0] &&
    win.stride[1] === win.size[1] &&
    win.padding[0] === 0 &&
    win.padding[1] === 0 &&
    win.dilation[0] === 1 &&
    win.dilation[1] === 1
  );
}

/**
 * x [..., H, W] as [..., Ho, kh, Wo, kw] for tiling windows (rows and
 * columns past the last whole window dropped): every op a view, so the
 * reduce reads x in place and the gradient is a plain broadcast.
 */
function windowTiles(b: IRBuilder, x: Node, win: Window): Node {
  const r = x.shape.length;
  const [kh, kw] = win.size;
  const [ho, wo] = win.out;
  const lead = x.shape.slice(0, r - 2);
  const whole = x.shape[r - 2] === ho * kh && x.shape[r - 1] === wo * kw;
  const cut = whole
    ? x
    : b.slice(x, [
        ...lead.map((d): SliceAxis => ({ start: 0, size: d, step: 1 })),
        { start: 0, size: ho * kh, step: 1 },
        { start: 0, size: wo * kw, step: 1 },
      ]);
  return b.reshape(cut, [...lead, ho, kh, wo, kw]);
}

interface ConvPlan {
  readonly win: Window;
  readonly groups: number;
}

function convPlan(a: ArgsOf<TensorType>): ConvPlan | string {
  const x = arg(a, 'x');
  const w = arg(a, 'w');
  const ex = expectDtype(x, F32, 'x') ?? expectDtype(w, F32, 'w');
  if (ex !== undefined) return ex;
  if (x.shape.length !== 4) return `x must be NCHW (rank 4), got ${formatType(x)}`;
  if (w.shape.length !== 4) return `w must be OIHW (rank 4), got ${formatType(w)}`;
  const [, c, ,] = x.shape;
  if (typeof c !== 'number') return `x's channel dimension must be static, got ${formatType(x)}`;
  const [o, i, kh, kw] = w.shape;
  if (typeof o !== 'number' || typeof i !== 'number' || typeof kh !== 'number' || typeof kw !== 'number')
    return `w's dimensions must be static, got ${formatType(w)}`;
  const groups = getNumber(a, 'groups') ?? 1;
  if (!isInt(groups) || groups < 1) return `groups must be a positive integer, got ${groups}`;
  if (c % groups !== 0 || o % groups !== 0)
    return `groups ${groups} must divide both the input channels (${c}) and the output channels (${o})`;
  if (i * groups !== c)
    return `x ${formatType(x)} has ${c} channels but w ${formatType(w)} expects ${i * groups} (${i} per group, groups ${groups})`;
  const stride = pairOf(a, 'stride', 1, [1, 1]);
  if (typeof stride === 'string') return stride;
  const padding = pairOf(a, 'padding', 0, [0, 0]);
  if (typeof padding === 'string') return padding;
  const dilation = pairOf(a, 'dilation', 1, [1, 1]);
  if (typeof dilation === 'string') return dilation;
  const win = slide(x, [kh, kw], stride, padding, dilation, 'kernel');
  return typeof win === 'string' ? win : { win, groups };
}

function conv2d(b: IRBuilder, x: Node, w: Node, plan: ConvPlan): Node {
  const [n, c] = x.shape as [Shape[number], number];
  const [o, ci] = w.shape as [number, number];
  const g = plan.groups;
  const [ho, wo] = plan.win.out;
  const t = plan.win.size[0] * plan.win.size[1];
  const k = ci * t;
  // cols[N, C, T, Ho, Wo] -> [g, Cg*T, N*Ho*Wo]; the weights' OIHW order is the same (ci, tap) order.
  const cols = b.reshape(taps(b, x, plan.win, 0), [n, g, (c / g) * t, ho * wo]);
  const colsT = b.reshape(b.permute(cols, [1, 2, 0, 3]), [g, k, dimMul(n, ho * wo)]);
  const wm = b.reshape(w, [g, o / g, k]);
  const y = b.reshape(b.matmul(wm, colsT), [g, o / g, n, ho * wo]);
  return b.reshape(b.permute(y, [2, 0, 1, 3]), [n, o, ho, wo]);
}

function poolPlan(a: ArgsOf<TensorType>): Window | string {
  const x = arg(a, 'x');
  const e = expectDtype(x, F32);
  if (e !== undefined) return e;
  if (x.shape.length !== 4 && x.shape.length !== 3)
    return `x must be NCHW (rank 4) or CHW (rank 3), got ${formatType(x)}`;
  const size = pairOf(a, 'size', 1);
  if (typeof size === 'string') return size;
  const stride = pairOf(a, 'stride', 1, size);
  if (typeof stride === 'string') return stride;
  const padding = pairOf(a, 'padding', 0, [0, 0]);
  if (typeof padding === 'string') return padding;
  if (2 * padding[0] > size[0] || 2 * padding[1] > size[1])
    return `padding ${padding[0]}x${padding[1]} must be at most half the window ${size[0]}x${size[1]}`;
  return slide(x, size, stride, padding, [1, 1], 'window');
}

function pool(kind: 'max' | 'avg'): BuiltinDef {
  return define(
    `${kind}_pool2d`,
    [P.tensor('x'), P.ints('size'), P.ints('stride', null), P.ints('padding', 0)],
    (a) => {
      const p = poolPlan(a);
      return typeof p === 'string' ? p : undefined;
    },
    (ctx, a) => {
      const b = ctx.b;
      const x = arg(a, 'x');
      const win = unwrap(poolPlan(a));
      const axis = x.shape.length - 2;
      const fn = kind === 'max' ? 'max' : 'sum';
      const r = tiles(win)
        ? b.reshape(b.reduce(fn, windowTiles(b, x, win), [axis + 1, axis + 3]), [...x.shape.slice(0, axis), ...win.out])
        : b.reshape(b.reduce(fn, taps(b, x, win, kind === 'max' ? -Infinity : 0), [axis]), [
            ...x.shape.slice(0, axis),
            ...win.out,
          ]);
      // avg: count_include_pad (PyTorch's default): padded zeros count in the divisor.
      return kind === 'max' ? r : b.bin('div', r, win.size[0] * win.size[1]);
    },
  );
}

export const NEURAL: readonly BuiltinDef[] = [
  define('softmax', [P.tensor('x'), P.int('axis', -1)], checkAxisF32, (ctx, a) => {
    const x = arg(a, 'x');
    return softmaxAxis(ctx.b, x, unwrap(normAxisOf(getNumber(a, 'axis') ?? -1, x)));
  }),
  define('log_softmax', [P.tensor('x'), P.int('axis', -1)], checkAxisF32, (ctx, a) => {
    const x = arg(a, 'x');
    return logSoftmaxAxis(ctx.b, x, unwrap(normAxisOf(getNumber(a, 'axis') ?? -1, x)));
  }),
  define(
    'layer_norm',
    [P.tensor('x'), P.tensor('gamma'), P.tensor('beta'), P.number('eps', 1e-5)],
    (a) => checkNorm(a, ['gamma', 'beta']),
    (ctx, a) => layerNorm(ctx.b, arg(a, 'x'), arg(a, 'gamma'), arg(a, 'beta'), getNumber(a, 'eps') ?? 1e-5),
  ),
  define(
    'rms_norm',
    [P.tensor('x'), P.tensor('gamma'), P.number('eps', 1e-6)],
    (a) => checkNorm(a, ['gamma']),
    (ctx, a) => rmsNorm(ctx.b, arg(a, 'x'), arg(a, 'gamma'), getNumber(a, 'eps') ?? 1e-6),
  ),
  define(
    'dropout',
    [P.tensor('x'), P.number('p')],
    (a) => {
      const e = expectDtype(arg(a, 'x'), F32);
      if (e !== undefined) return e;
      const p = getNumber(a, 'p');
      return p !== undefined && p >= 0 && p < 1 ? undefined : `p must be in [0, 1), got ${p}`;
    },
    (ctx, a) => {
      const b = ctx.b;
      const x = arg(a, 'x');
      const p = getNumber(a, 'p') ?? 0;
      if (!ctx.training || p === 0) return x;
      const keep = ge(b, b.rand(x.shape, ctx.rngKey(), ctx.nextSalt()), p);
      return b.where(keep, b.bin('div', x, 1 - p), b.full(0, 'f32', x.shape));
    },
  ),
  define(
    'rand_like',
    [P.tensor('x')],
    () => undefined,
    (ctx, a) => {
      // Training steps draw from the step's key, so every step and call site differs;
      // elsewhere (run, grad, the lenses) the key is 0, so a forward pass is reproducible.
      const key = ctx.training ? ctx.rngKey() : ctx.b.const(0, 'i32');
      return ctx.b.rand(arg(a, 'x').shape, key, ctx.nextSalt());
    },
  ),
  define(
    'conv2d',
    [
      P.tensor('x'),
      P.tensor('w'),
      P.ints('stride', 1),
      P.ints('padding', 0),
      P.ints('dilation', 1),
      P.int('groups', 1),
    ],
    (a) => {
      const p = convPlan(a);
      return typeof p === 'string' ? p : undefined;
    },
    (ctx, a) => conv2d(ctx.b, arg(a, 'x'), arg(a, 'w'), unwrap(convPlan(a))),
  ),
  pool('max'),
  pool('avg'),
];
