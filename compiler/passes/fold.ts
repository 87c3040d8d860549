// Constant folding. A "constant" is a broadcast scalar `const` (see
// constValue); folded results are broadcast constants again (`b.full`), so a
// folded tensor never materialises. Elementwise ops and casts are folded by
// evaluating the op on scalars with the reference interpreter, so folding
// has exactly its semantics (i32 wrapping, floor division, NaN rules).

import type { DType } from '../types.js';
import { evaluate, ipow } from '../interpret.js';
import { IRBuilder, type Node, type NodeOf } from '../ir.js';
import { attrsOf, constValue, dimsAt, staticProduct } from './match.js';
import type { Rule } from './rewrite.js';

const NO_TENSORS = { inputs: new Map(), params: new Map(), dims: new Map() } as const;

/** The value of the op of `n` applied to scalar constants `values`. */
function evalScalar(n: Node, values: readonly number[]): number {
  const s = new IRBuilder();
  const args = n.inputs.map((x, i) => s.const(values[i]!, x.dtype));
  const node = s.node(attrsOf(n), args, { dtype: n.dtype, shape: [] });
  return evaluate([node], NO_TENSORS)[0]!.data[0]!;
}

/** unary, binary, where and cast with all operands constant. */
const foldElementwise: Rule = {
  name: 'fold-elementwise',
  apply(n, b) {
    if (n.op !== 'unary' && n.op !== 'binary' && n.op !== 'where' && n.op !== 'cast') return undefined;
    const values = n.inputs.map(constValue);
    if (values.some((v) => v === undefined)) return undefined;
    return b.full(evalScalar(n, values as number[]), n.dtype, n.shape);
  },
};

/**
 * A reduce of a constant c over static axes of n elements: sum = c*n,
 * prod = c^n, max = min = c; n = 0 gives the empty reduction's value. For
 * f32 these are the exact values, which may differ in the last bit from a
 * sequential sum or product (and sum gives +0 for c = -0, as 0 + -0 does).
 */
const foldReduce: Rule = {
  name: 'fold-reduce',
  apply(n, b) {
    if (n.op !== 'reduce') return undefined;
    const c = constValue(n.inputs[0]!);
    const count = staticProduct(dimsAt(n.inputs[0]!.shape, n.axes));
    if (c === undefined || count === undefined) return undefined;
    return b.full(reduceConst(n.fn, c, count, n.dtype), n.dtype, n.shape);
  },
};

function reduceConst(fn: NodeOf<'reduce'>['fn'], c: number, count: number, dtype: DType): number {
  const i32 = dtype === 'i32';
  switch (fn) {
    // Empty: the initial value (not c * 0, which is NaN for an infinite c).
    case 'sum':
      return count === 0 ? 0 : i32 ? Math.imul(c, count) | 0 : c * count + 0;
    case 'prod':
      return count === 0 ? 1 : i32 ? ipow(c, count) : Math.pow(c, count);
    case 'max':
      return count > 0 ? c : i32 ? -2147483648 : -Infinity;
    case 'min':
      return count > 0 ? c : i32 ? 2147483647 : Infinity;
  }
}

/**
 * Views and data movement of a constant are the constant in the new shape.
 * Already canonical broadcasts (`b.full`'s own reshape/expand) rebuild to
 * themselves, so the rule does not fire on them.
 */
const foldView: Rule = {
  name: 'fold-view',
  apply(n, b) {
    switch (n.op) {
      case 'reshape':
      case 'expand':
      case 'permute':
      case 'slice':
      case 'stop_gradient': {
        const c = constValue(n.inputs[0]!);
        return c === undefined ? undefined : b.full(c, n.dtype, n.shape);
      }
      case 'pad': {
        // Only when the padding is the constant itself (same bits: -0 is not 0 here).
        const c = constValue(n.inputs[0]!);
        const v = n.dtype === 'i32' ? n.value | 0 : n.dtype === 'bool' ? (n.value ? 1 : 0) : n.value;
        return c !== undefined && Object.is(c, v) ? b.full(c, n.dtype, n.shape) : undefined;
      }
      case 'concat': {
        const cs = n.inputs.map(constValue);
        const c = cs[0];
        return c !== undefined && cs.every((v) => v !== undefined && Object.is(v, c))
          ? b.full(c, n.dtype, n.shape)
          : undefined;
      }
      case 'gather': {
        // The interpreter gathers 0 from an empty axis: fold only a static, non-empty one.
        const x = n.inputs[0]!;
        const c = constValue(x);
        const d = x.shape[n.axis]!;
        return c !== undefined && typeof d === 'number' && d > 0 ? b.full(c, n.dtype, n.shape) : undefined;
      }
      default:
        return undefined;
    }
  },
};

export const FOLD_RULES: readonly Rule[] = [foldElementwise, foldReduce, foldView];

/** `stop_gradient(x) -> x`: valid only once all differentiation is done. */
export const STRIP_STOP_GRADIENT_RULES: readonly Rule[] = [
  {
    name: 'strip-stop-gradient',
    apply: (n) => (n.op === 'stop_gradient' ? n.inputs[0] : undefined),
  },
];
