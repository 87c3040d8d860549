// Symbolic forward-mode autodiff (Jacobian-vector products): an IR -> IR
// transform beside the reverse one (autodiff.ts). The driver walks the nodes
// between the seeded values and the wanted outputs in topological order and
// applies ONE tangent rule per primitive: the rule gets each input's tangent
// (undefined: zero) and returns the node's tangent (undefined: zero). Like
// the reverse rules, rules never see broadcasting and emit only primitives
// that have both a tangent and a gradient rule, so jvp and grad nest either
// way (forward-over-reverse Hessian-vector products; grad through a jvp).
//
// Unary functions share the reverse rules' table (a derivative that scales
// its argument's tangent is the same expression as one that scales a
// gradient). Only f32 values carry tangents. Derivatives agree with the reverse rules
// everywhere, including at the kinks: max/min route to the first argument on
// ties, abs has derivative 0 at 0, a max/min reduction follows the first
// extremal element, floor/ceil/round/comparisons have none.

import { type Shape, formatType, shapeEq } from './types.js';
import { type BinaryFn, type IRBuilder, type Node, type NodeOf, IRError, topoSort } from './ir.js';
import { UNARY, firstOf, zeroToZero } from './autodiff.js';

/** A tangent, or undefined for zero. */
type Tangent = Node | undefined;

const zeros = (b: IRBuilder, shape: Shape) => b.full(0, 'f32', shape);
const mul = (b: IRBuilder, x: Node, y: Node) => b.binary('mul', x, y);
const div = (b: IRBuilder, x: Node, y: Node) => b.binary('div', x, y);
const neg = (b: IRBuilder, x: Node) => b.unary('neg', x);
const or0 = (b: IRBuilder, t: Tangent, like: Node) => t ?? zeros(b, like.shape);
/** a + b where either may be zero. */
const plus = (b: IRBuilder, x: Tangent, y: Tangent): Tangent => (x && y ? b.binary('add', x, y) : (x ?? y));
/** where(c, t, 0). */
const keep = (b: IRBuilder, c: Node, t: Node) => b.where(c, t, zeros(b, t.shape));

/** x, y the operands, o the node's value, tx/ty their tangents (at least one defined). */
const BINARY: { [F in BinaryFn]: (b: IRBuilder, x: Node, y: Node, o: Node, tx: Tangent, ty: Tangent) => Tangent } = {
  add: (b, _x, _y, _o, tx, ty) => plus(b, tx, ty),
  sub: (b, _x, _y, _o, tx, ty) => plus(b, tx, ty && neg(b, ty)),
  mul: (b, x, y, _o, tx, ty) => plus(b, tx && mul(b, tx, y), ty && mul(b, x, ty)),
  // (tx - o ty) / y
  div: (b, _x, y, o, tx, ty) => div(b, ty ? b.binary('sub', or0(b, tx, o), mul(b, o, ty)) : tx!, y),
  max: (b, x, y, o, tx, ty) => b.where(b.binary('le', y, x), or0(b, tx, o), or0(b, ty, o)),
  min: (b, x, y, o, tx, ty) => b.where(b.binary('le', x, y), or0(b, tx, o), or0(b, ty, o)),
  // As the reverse rule: y x^(y-1) with the exponent made 1 where x = y = 0, and x^y log x only where x > 0.
  pow: (b, x, y, o, tx, ty) => {
    const dx =
      tx &&
      mul(
        b,
        tx,
        mul(b, y, b.binary('pow', x, b.bin('sub', b.where(zeroToZero(b, x, y), b.full(1, 'f32', y.shape), y), 1))),
      );
    if (!ty) return dx;
    const pos = b.bin('lt', 0, x);
    const logx = b.unary('log', b.where(pos, x, b.full(1, 'f32', x.shape)));
    return plus(b, dx, keep(b, pos, mul(b, ty, mul(b, o, logx))));
  },
  mod: (b, x, y, _o, tx, ty) => plus(b, tx, ty && neg(b, mul(b, ty, b.unary('floor', div(b, x, y))))),
  lt: () => undefined,
  le: () => undefined,
  eq: () => undefined,
  ne: () => undefined,
  and: () => undefined,
  or: () => undefined,
};

/** The tangent of node `n` from its inputs' tangents `ts` (at least one defined). */
function rule(b: IRBuilder, n: Node, ts: readonly Tangent[]): Tangent {
  const x = n.inputs[0]!;
  const t = ts[0];
  switch (n.op) {
    case 'input':
    case 'param':
    case 'const':
    case 'iota':
    case 'dim':
    case 'rand': // the key is an integer
    case 'stop_gradient':
      return undefined;
    case 'unary':
      return t && UNARY[n.fn](b, x, n, t);
    case 'binary':
      return BINARY[n.fn](b, x, n.inputs[1]!, n, t, ts[1]);
    case 'where':
      return ts[1] || ts[2] ? b.where(x, or0(b, ts[1], n), or0(b, ts[2], n)) : undefined;
    case 'cast': // f32 -> f32 never exists (the builder elides it); from an integer: nothing
      return x.dtype === 'f32' ? t : undefined;
    case 'reduce':
      return t && reduceTangent(b, n, t);
    case 'reshape':
      return t && b.reshape(t, n.shape);
    case 'permute':
      return t && b.permute(t, n.perm);
    case 'expand':
      return t && b.expand(t, n.shape);
    case 'pad': // the padding value is a constant
      return t && b.pad(t, n.pads, 0);
    case 'slice':
      return t && b.slice(t, n.axes);
    case 'concat':
      return b.concat(
        n.inputs.map((inp, i) => or0(b, ts[i], inp)),
        n.axis,
      );
    case 'matmul':
      return plus(b, t && b.matmul(t, n.inputs[1]!), ts[1] && b.matmul(x, ts[1]));
    case 'gather':
      return t && b.gather(t, n.inputs[1]!, n.axis);
    case 'scatter_add':
      return t && b.scatterAdd(t, n.inputs[1]!, n.axis, { dtype: 'f32', shape: n.shape });
    case 'assign':
      return t;
  }
}

/**
 * sum: the sum of the tangent. max/min: the tangent of the first extremal
 * element. prod: sum of t_i * (product of the others), exact with zeros, as
 * the reverse rule computes it.
 */
function reduceTangent(b: IRBuilder, n: NodeOf<'reduce'>, t: Node): Node {
  const x = n.inputs[0]!;
  switch (n.fn) {
    case 'sum':
      return b.reduce('sum', t, n.axes);
    case 'max':
    case 'min':
      return b.reduce('sum', keep(b, firstOf(b, b.binary('eq', x, b.expand(n, x.shape)), n.axes), t), n.axes);
    case 'prod': {
      const isZero = b.binary('eq', x, zeros(b, x.shape));
      const nz = b.where(isZero, b.full(1, 'f32', x.shape), x);
      const count = b.expand(b.reduce('sum', b.cast(isZero, 'f32'), n.axes), x.shape);
      const others = div(b, b.expand(b.reduce('prod', nz, n.axes), x.shape), nz);
      return b.reduce('sum', keep(b, b.binary('eq', count, b.cast(isZero, 'f32')), mul(b, t, others)), n.axes);
    }
  }
}

/**
 * The directional derivatives of `ys` along `tangents` of `wrt` (one tangent
 * per w, of w's type): d/ds y(w + s v) at s = 0, one node per y, of y's type
 * (zeros where y does not depend on any w). Every y and w must be f32. The
 * nodes are built with `b`, the builder of ys, wrt and tangents.
 */
export function jvps(b: IRBuilder, ys: readonly Node[], wrt: readonly Node[], tangents: readonly Node[]): Node[] {
  if (wrt.length !== tangents.length) throw new IRError(`jvp: ${wrt.length} values but ${tangents.length} tangents`);
  for (const y of ys) if (y.dtype !== 'f32') throw new IRError(`jvp of ${formatType(y)}: not f32`);
  const seeds = new Map<number, Node>();
  wrt.forEach((w, i) => {
    const v = tangents[i]!;
    if (w.dtype !== 'f32') throw new IRError(`jvp with respect to ${formatType(w)}: not f32`);
    if (v.dtype !== 'f32' || !shapeEq(v.shape, w.shape))
      throw new IRError(`jvp: tangent ${formatType(v)} for a value of type ${formatType(w)}`);
    const prev = seeds.get(w.id);
    seeds.set(w.id, prev ? b.binary('add', prev, v) : v);
  });
  const tangent = new Map<number, Node>(seeds);
  for (const n of topoSort(ys)) {
    if (seeds.has(n.id) || n.dtype !== 'f32') continue;
    const ts = n.inputs.map((i) => tangent.get(i.id));
    if (ts.every((t) => t === undefined)) continue;
    const t = rule(b, n, ts);
    if (!t) continue;
    if (t.dtype !== 'f32' || !shapeEq(t.shape, n.shape))
      throw new IRError(`tangent rule for ${n.op}: ${formatType(t)} for a value of type ${formatType(n)}`);
    tangent.set(n.id, t);
  }
  return ys.map((y) => tangent.get(y.id) ?? zeros(b, y.shape));
}
