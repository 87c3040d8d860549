// Small matchers shared by the rewrite rules: broadcast constants, op tests,
// and the attribute part of a node (to rebuild it over new inputs).

import type { Dim, Shape } from '../types.js';
import type { BinaryFn, Node, NodeOf, OpAttrs, UnaryFn } from '../ir.js';

/** The op-specific attributes of a node, without id, type and inputs. */
export function attrsOf(n: Node): OpAttrs {
  const { id: _id, dtype: _dtype, shape: _shape, inputs: _inputs, ...attrs } = n;
  return attrs as OpAttrs;
}

/**
 * The value of a broadcast constant: a scalar `const` seen through any chain
 * of reshape/expand (the form `IRBuilder.full` builds). Undefined otherwise;
 * iota and rand are not constants.
 */
export function constValue(n: Node): number | undefined {
  let m = n;
  while (m.op === 'reshape' || m.op === 'expand') m = m.inputs[0]!;
  return m.op === 'const' ? m.value : undefined;
}

/** A broadcast constant equal to `v` (0 matches -0: rules using it ignore the sign of zero). */
export function isConstOf(n: Node, v: number): boolean {
  return constValue(n) === v;
}

// Narrowed to the specific fn, so a failed test does not exclude the whole op.
export function isUnary<F extends UnaryFn>(n: Node, fn: F): n is NodeOf<'unary'> & { readonly fn: F } {
  return n.op === 'unary' && n.fn === fn;
}

export function isBinary<F extends BinaryFn>(n: Node, fn: F): n is NodeOf<'binary'> & { readonly fn: F } {
  return n.op === 'binary' && n.fn === fn;
}

/** The product of static dims; undefined when any is symbolic. */
export function staticProduct(dims: readonly Dim[]): number | undefined {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return undefined;
    p *= d;
  }
  return p;
}

/** The dims of `shape` at `axes`. */
export function dimsAt(shape: Shape, axes: readonly number[]): Dim[] {
  return axes.map((a) => shape[a]!);
}
