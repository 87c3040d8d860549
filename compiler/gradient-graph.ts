// Graphs that carry gradients as outputs: what `kiln grad` evaluates and the
// training step's forward + backward half (the optimizer update joins it in
// the middle end).

import { IRError, type Graph, type Node } from './ir.js';
import { gradients } from './autodiff.js';
import { verifyGraph } from './verify.js';

export interface GradientRequest {
  /** The scalar output to differentiate. */
  readonly of: string;
  readonly params: readonly string[];
  readonly inputs: readonly string[];
}

/**
 * The graph's outputs plus `grad.<name>` for every requested param and input.
 * The value of `of` stays an output under its own name.
 */
export function gradientGraph(g: Graph, req: GradientRequest): Graph {
  const y = g.outputs.find((o) => o.name === req.of)?.node;
  if (!y) throw new IRError(`no output '${req.of}' to differentiate`);
  const pick = <T extends Node & { name: string }>(pool: readonly T[], names: readonly string[]) =>
    names.map((n) => pool.find((p) => p.name === n) ?? IRError.throw(`no node '${n}' to differentiate by`));
  const wrt = [...pick(g.params, req.params), ...pick(g.inputs, req.inputs)];
  const grads = gradients(g.builder, y, wrt);
  const out: Graph = {
    ...g,
    outputs: [...g.outputs, ...wrt.map((w, i) => ({ name: `grad.${w.name}`, node: grads[i]! }))],
  };
  verifyGraph(out, 'grad');
  return out;
}
