// What an optimizer contributes to the training step: per parameter, an
// elementwise IR expression for the new parameter and the new state tensors,
// reading the gradient, the old values and f32[] runtime scalars. Everything
// is elementwise (scalars broadcast by reshape + expand), so the middle end
// fuses one parameter's whole update into one kernel.

import type { IRBuilder, Node } from '../ir.js';

export interface OptimizerUpdate {
  readonly param: Node;
  /** Keyed by the rule's state suffixes. */
  readonly state: Readonly<Record<string, Node>>;
}

export interface OptimizerRule {
  readonly name: string;
  /** State tensor suffixes (`m`, `v`): the step graph stores them as params `<param>.<suffix>`, zeros at start. */
  readonly state: readonly string[];
  /** The runtime scalars read (graph inputs `@<name>`, values from runtime/optimizer-scalars.ts). */
  readonly scalars: readonly string[];
  update(
    b: IRBuilder,
    param: Node,
    grad: Node,
    state: Readonly<Record<string, Node>>,
    scalars: Readonly<Record<string, Node>>,
  ): OptimizerUpdate;
}

/** A named entry of a record, or an internal error naming what is missing. */
export function pick(from: Readonly<Record<string, Node>>, key: string, what: string): Node {
  const n = from[key];
  if (!n) throw new Error(`optimizer update: missing ${what} '${key}'`);
  return n;
}

/**
 * Elementwise arithmetic on tensors and f32[] scalars with broadcasting.
 * Combine scalars with each other before meeting a tensor, so the scalar
 * part stays a scalar computation.
 */
export function ops(b: IRBuilder) {
  return {
    add: (x: Node, y: Node) => b.bin('add', x, y),
    sub: (x: Node, y: Node) => b.bin('sub', x, y),
    mul: (x: Node, y: Node) => b.bin('mul', x, y),
    div: (x: Node, y: Node) => b.bin('div', x, y),
    max: (x: Node, y: Node) => b.bin('max', x, y),
    sqrt: (x: Node) => b.unary('sqrt', x),
  };
}
