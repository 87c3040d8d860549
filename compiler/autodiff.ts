// Symbolic reverse-mode autodiff: an IR -> IR transform. The driver walks
// the nodes between `wrt` and `y` in reverse topological order, sums fan-in,
// and applies ONE rule per primitive. Rules never see broadcasting (IR
// elementwise ops need equal shapes; broadcasting is an explicit `expand`,
// whose rule sums back). Rules emit ordinary IR with the same builder, using
// only primitives that have rules themselves, so gradients of gradients
// work (Hessian-vector products, gradient penalties).
//
// Only f32 values carry gradients: i32/bool nodes are skipped, `cast` from
// an integer gives the integer nothing, `stop_gradient` blocks.

import { type Dim, type Shape, dimEq, formatType, numel, shapeEq } from './types.js';
import { type BinaryFn, type IRBuilder, type Node, type NodeOf, type UnaryFn, IRError, topoSort } from './ir.js';

/** One gradient per input of a node (undefined: none). */
type Grads = (Node | undefined)[];

// ---- small builders used by the rules
const zeros = (b: IRBuilder, shape: Shape) => b.full(0, 'f32', shape);
const mul = (b: IRBuilder, x: Node, y: Node) => b.binary('mul', x, y);
const div = (b: IRBuilder, x: Node, y: Node) => b.binary('div', x, y);
const neg = (b: IRBuilder, x: Node) => b.unary('neg', x);
/** where(c, g, 0) and where(c, 0, g): route g by a mask. */
const keep = (b: IRBuilder, c: Node, g: Node) => b.where(c, g, zeros(b, g.shape));
const drop = (b: IRBuilder, c: Node, g: Node) => b.where(c, zeros(b, g.shape), g);
/** x = y = 0: where pow's derivative in x, y x^(y-1), is 0 * 0^-1 (forward.ts guards the same). */
export const zeroToZero = (b: IRBuilder, x: Node, y: Node) => b.binary('and', b.bin('eq', x, 0), b.bin('eq', y, 0));
const swapLast = (b: IRBuilder, x: Node) => {
  const r = x.shape.length;
  return b.permute(x, [...Array(r - 2).keys(), r - 1, r - 2]);
};

/**
 * x of the unary node; y is the node's own value (reused where the derivative is a function of it);
 * g times the derivative. A unary derivative is a scale, so forward mode (forward.ts) applies the
 * same table to a tangent.
 */
export const UNARY: { [F in UnaryFn]: (b: IRBuilder, x: Node, y: Node, g: Node) => Node | undefined } = {
  neg: (b, _x, _y, g) => neg(b, g),
  recip: (b, _x, y, g) => neg(b, mul(b, g, mul(b, y, y))),
  sqrt: (b, _x, y, g) => div(b, b.bin('mul', g, 0.5), y),
  exp: (b, _x, y, g) => mul(b, g, y),
  log: (b, x, _y, g) => div(b, g, x),
  log1p: (b, x, _y, g) => div(b, g, b.bin('add', x, 1)),
  expm1: (b, _x, y, g) => mul(b, g, b.bin('add', y, 1)),
  sin: (b, x, _y, g) => mul(b, g, b.unary('cos', x)),
  cos: (b, x, _y, g) => neg(b, mul(b, g, b.unary('sin', x))),
  tanh: (b, _x, y, g) => mul(b, g, b.bin('sub', 1, mul(b, y, y))),
  erf: (b, x, _y, g) => mul(b, g, b.bin('mul', 2 / Math.sqrt(Math.PI), b.unary('exp', neg(b, mul(b, x, x))))),
  // sign(x), 0 at 0
  abs: (b, x, _y, g) => b.where(b.bin('lt', 0, x), g, keep(b, b.bin('lt', x, 0), neg(b, g))),
  floor: () => undefined,
  ceil: () => undefined,
  round: () => undefined,
  not: () => undefined,
};

const BINARY: { [F in BinaryFn]: (b: IRBuilder, x: Node, y: Node, out: Node, g: Node) => Grads } = {
  add: (_b, _x, _y, _o, g) => [g, g],
  sub: (b, _x, _y, _o, g) => [g, neg(b, g)],
  mul: (b, x, y, _o, g) => [mul(b, g, y), mul(b, g, x)],
  div: (b, _x, y, o, g) => [div(b, g, y), neg(b, mul(b, div(b, g, y), o))],
  // Ties go to the first argument: max routes where(x >= y) to x, min where(x <= y).
  max: (b, x, y, _o, g) => [keep(b, b.binary('le', y, x), g), drop(b, b.binary('le', y, x), g)],
  min: (b, x, y, _o, g) => [keep(b, b.binary('le', x, y), g), drop(b, b.binary('le', x, y), g)],
  // d/dx = y x^(y-1), with the power's exponent made 1 where x = y = 0 (so 0 * 0^-1 is 0, not NaN;
  // only there, or its derivative in y at y = 0 would be x^0 and not x^-1: a fuzz finding);
  // d/dy = x^y log x where x > 0, else 0 (log of a safe x, so grad-of-grad has no 0/0 either).
  pow: (b, x, y, o, g) => {
    const pos = b.bin('lt', 0, x);
    const logx = b.unary('log', b.where(pos, x, b.full(1, 'f32', x.shape)));
    const y1 = b.bin('sub', b.where(zeroToZero(b, x, y), b.full(1, 'f32', y.shape), y), 1);
    return [mul(b, g, mul(b, y, b.binary('pow', x, y1))), keep(b, pos, mul(b, g, mul(b, o, logx)))];
  },
  mod: (b, x, y, _o, g) => [g, neg(b, mul(b, g, b.unary('floor', div(b, x, y))))],
  lt: () => [undefined, undefined],
  le: () => [undefined, undefined],
  eq: () => [undefined, undefined],
  ne: () => [undefined, undefined],
  and: () => [undefined, undefined],
  or: () => [undefined, undefined],
};

/** The rule of each primitive: one gradient per input (undefined: none). */
function rule(b: IRBuilder, n: Node, g: Node): Grads {
  const x = n.inputs[0]!;
  switch (n.op) {
    case 'input':
    case 'param':
    case 'const':
    case 'iota':
    case 'dim':
      return [];
    case 'rand': // the key is an integer
    case 'stop_gradient':
      return [undefined];
    case 'unary':
      return [UNARY[n.fn](b, x, n, g)];
    case 'binary':
      return BINARY[n.fn](b, x, n.inputs[1]!, n, g);
    case 'where':
      return [undefined, keep(b, x, g), drop(b, x, g)];
    case 'cast': // f32 -> f32 never exists (the builder elides it); from an integer: nothing
      return [x.dtype === 'f32' ? g : undefined];
    case 'reduce':
      return [reduceGrad(b, n, g)];
    case 'reshape':
      return [b.reshape(g, x.shape)];
    case 'permute':
      return [b.permute(g, invert(n.perm))];
    case 'expand':
      return [b.reshape(b.reduce('sum', g, broadcastAxes(x.shape, n.shape)), x.shape)];
    case 'pad':
      return [
        b.slice(
          g,
          n.pads.map(([lo], i) => ({ start: lo, size: x.shape[i]!, step: 1 })),
        ),
      ];
    case 'slice':
      return [n.axes.reduce((acc, a, i) => unslice(b, acc, i, a.start, a.step, x.shape[i]!), g)];
    case 'concat':
      return concatGrad(b, n, g);
    case 'matmul':
      return [b.matmul(g, swapLast(b, n.inputs[1]!)), b.matmul(swapLast(b, x), g)];
    case 'gather':
      return [b.scatterAdd(g, n.inputs[1]!, n.axis, x), undefined];
    case 'scatter_add':
      return [b.gather(g, n.inputs[1]!, n.axis), undefined];
    case 'assign':
      return [g];
  }
}

/** The axes an expand from `from` to `to` broadcasts (size 1 to more). */
function broadcastAxes(from: Shape, to: Shape): number[] {
  return from.flatMap((d, i) => (d === 1 && !dimEq(to[i]!, 1) ? [i] : []));
}

export function invert(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * The adjoint of slicing one axis (n elements from `start` by `step`) out of
 * a dimension `d`: g's elements go to start, start+step, ..., zeros elsewhere.
 * Strided: reshape [.., n, ..] -> [.., n, 1, ..], pad the new axis to `step`,
 * reshape to [.., n*step, ..] (element k lands at k*step), trim to what
 * fits, then pad `start` before and the rest after.
 */
function unslice(b: IRBuilder, g: Node, axis: number, start: number, step: number, d: Dim): Node {
  const n = g.shape[axis]!;
  if (typeof n !== 'number' || typeof d !== 'number') return g; // symbolic axes are only ever sliced whole
  const along = <T>(base: readonly T[], here: T[]): T[] => [...base.slice(0, axis), ...here, ...base.slice(axis + 1)];
  const pads = (lo: number, hi: number) => g.shape.map((_, i): [number, number] => (i === axis ? [lo, hi] : [0, 0]));
  let s = g;
  let len = n;
  if (step > 1) {
    s = b.reshape(s, along(g.shape, [n, 1]));
    s = b.pad(
      s,
      along(pads(0, 0), [
        [0, 0],
        [0, step - 1],
      ]),
    );
    s = b.reshape(s, along(g.shape, [n * step]));
    len = Math.min(n * step, d - start);
    s = b.slice(
      s,
      s.shape.map((dim, i) => ({ start: 0, size: i === axis ? len : dim, step: 1 })),
    );
  }
  const lo = Math.min(start, d - len); // an empty slice may start past the end
  return b.pad(s, pads(lo, d - lo - len));
}

/**
 * Concat's adjoint: a slice of g per operand. Symbolic sizes along the axis
 * are monomials over the same symbols (c_i * S): view the axis as
 * [sum c_i, S] and slice blocks of the static first factor.
 */
function concatGrad(b: IRBuilder, n: NodeOf<'concat'>, g: Node): Grads {
  const ax = n.axis;
  const sizes = n.inputs.map((x) => x.shape[ax]!);
  const at = (dims: Dim[]) => [...g.shape.slice(0, ax), ...dims, ...g.shape.slice(ax + 1)];
  const whole = (shape: Shape) => shape.map((d) => ({ start: 0, size: d, step: 1 }));
  if (sizes.every((s) => typeof s === 'number')) {
    let off = 0;
    return n.inputs.map((x) => {
      const axes = whole(g.shape).map((a, i) => (i === ax ? { start: off, size: x.shape[ax]!, step: 1 } : a));
      off += x.shape[ax] as number;
      return b.slice(g, axes);
    });
  }
  const unit = sizes.find((s) => typeof s !== 'number')!;
  const base: Dim = { coef: 1, syms: typeof unit === 'number' ? [] : unit.syms };
  const coefs = sizes.map((s) => {
    if (typeof s === 'number' || !dimEq({ coef: 1, syms: s.syms }, base))
      throw new IRError(`concat gradient: axis sizes do not share symbols`);
    return s.coef;
  });
  const total = coefs.reduce((a, c) => a + c, 0);
  const blocks = b.reshape(g, at([total, base]));
  let off = 0;
  return n.inputs.map((x, k) => {
    const c = coefs[k]!;
    const axes = whole(blocks.shape).map((a, i) => (i === ax ? { start: off, size: c, step: 1 } : a));
    off += c;
    return b.reshape(b.slice(blocks, axes), x.shape);
  });
}

/**
 * sum: expand g back. max/min: g goes to the FIRST extremal element (row-major
 * over the reduced axes). prod: g * (product of the other elements), exact
 * when x has zeros: with nz = where(x == 0, 1, x) and z = the number of
 * zeros in the group, d/dx_i = prod(nz) / nz_i if z - [x_i == 0] == 0, else 0.
 * (Second derivatives at exact zeros are not right: z is piecewise constant.)
 */
function reduceGrad(b: IRBuilder, n: NodeOf<'reduce'>, g: Node): Node {
  const x = n.inputs[0]!;
  const ge = b.expand(g, x.shape);
  switch (n.fn) {
    case 'sum':
      return ge;
    case 'max':
    case 'min':
      return keep(b, firstOf(b, b.binary('eq', x, b.expand(n, x.shape)), n.axes), ge);
    case 'prod': {
      const isZero = b.binary('eq', x, zeros(b, x.shape));
      const nz = b.where(isZero, b.full(1, 'f32', x.shape), x);
      const count = b.expand(b.reduce('sum', b.cast(isZero, 'f32'), n.axes), x.shape);
      const others = div(b, b.expand(b.reduce('prod', nz, n.axes), x.shape), nz);
      return keep(b, b.binary('eq', count, b.cast(isZero, 'f32')), mul(b, ge, others));
    }
  }
}

/**
 * Keeps only the first true element of a bool mask within each group of the
 * reduced `axes`: permute them last, flatten them to one axis, take the
 * minimum iota over the true positions, compare, undo.
 */
export function firstOf(b: IRBuilder, mask: Node, axes: readonly number[]): Node {
  const kept = mask.shape.flatMap((_d, i) => (axes.includes(i) ? [] : [i]));
  const perm = [...kept, ...axes];
  const permuted = b.permute(mask, perm);
  const keptShape = kept.map((i) => mask.shape[i]!);
  const flat: Shape = [...keptShape, numel(axes.map((i) => mask.shape[i]!))];
  const m = b.reshape(permuted, flat);
  const idx = b.iota(flat, flat.length - 1);
  const first = b.reduce('min', b.where(m, idx, b.full(2147483647, 'i32', flat)), [flat.length - 1]);
  const firstMask = b.binary('eq', idx, b.expand(first, flat));
  return b.permute(b.reshape(firstMask, permuted.shape), invert(perm));
}

/**
 * d y / d w for each w in `wrt` (same type as w; zeros when w does not
 * influence y). `y` must be an f32 scalar, every w f32. The gradient nodes
 * are built with `b`, which must be the builder of y and wrt.
 */
export function gradients(b: IRBuilder, y: Node, wrt: readonly Node[]): Node[] {
  if (y.dtype !== 'f32' || y.shape.length !== 0) throw new IRError(`gradients of ${formatType(y)}: need an f32 scalar`);
  for (const w of wrt) if (w.dtype !== 'f32') throw new IRError(`gradient with respect to ${formatType(w)}: not f32`);
  const order = topoSort([y]);
  // Nodes that depend on some w: only these need (and receive) gradients.
  const wanted = new Set(wrt.map((w) => w.id));
  const live = new Set<number>();
  for (const n of order) if (wanted.has(n.id) || n.inputs.some((i) => live.has(i.id))) live.add(n.id);

  const grads = new Map<number, Node>([[y.id, b.const(1, 'f32')]]);
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    const g = grads.get(n.id);
    if (!g || n.dtype !== 'f32' || !n.inputs.some((i) => live.has(i.id))) continue;
    const gs = rule(b, n, g);
    n.inputs.forEach((inp, i) => {
      const gi = gs[i];
      if (!gi || inp.dtype !== 'f32' || !live.has(inp.id)) return;
      if (gi.dtype !== 'f32' || !shapeEq(gi.shape, inp.shape))
        throw new IRError(`gradient rule for ${n.op}: ${formatType(gi)} for an input of type ${formatType(inp)}`);
      const prev = grads.get(inp.id);
      grads.set(inp.id, prev ? b.binary('add', prev, gi) : gi);
    });
  }
  return wrt.map((w) => grads.get(w.id) ?? zeros(b, w.shape));
}
