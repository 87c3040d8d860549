// A model as a lens (Cruttwell et al., "Categorical Foundations of
// Gradient-Based Learning"): its get is the forward map, its put the reverse
// derivative. These are the graphs behind the artifact entries `jvp` and
// `vjp` (and `kiln jvp` / `kiln vjp`):
//
// - jvp: the outputs, and `jvp.<output>` for every f32 output, given
//   `tangent.<name>` for every f32 input and param (forward mode, forward.ts);
// - vjp: `vjp.<param>` for every f32 param and `vjp.<input>` for every f32
//   input, given `cotangent.<output>` for every f32 output: the gradient of
//   sum over outputs of sum(output * cotangent) (reverse mode, autodiff.ts).
//
// Tangents and cotangents are ordinary graph inputs with the type of what
// they go with; a caller that has none for some name passes zeros.

import { gradients } from './autodiff.js';
import { jvps } from './forward.js';
import type { Graph, Node, NodeOf } from './ir.js';
import { verifyGraph } from './verify.js';

export const TANGENT = 'tangent.';
export const COTANGENT = 'cotangent.';

/** The f32 inputs (not internal ones such as `@seed`) and params of `g`: what tangents and vjp outputs go with. */
export function differentiableLeaves(g: Graph): NodeOf<'input' | 'param'>[] {
  return [...g.inputs.filter((n) => !n.name.startsWith('@')), ...g.params].filter((n) => n.dtype === 'f32');
}

/** The f32 outputs of `g`. */
const floatOutputs = (g: Graph) => g.outputs.filter((o) => o.node.dtype === 'f32');

/** `g`'s outputs plus `jvp.<output>` for each f32 output; inputs `tangent.<leaf>` after g's own. */
export function jvpGraph(g: Graph): Graph {
  const b = g.builder;
  const leaves = differentiableLeaves(g);
  const tangents = leaves.map((w) => b.input(`${TANGENT}${w.name}`, w) as NodeOf<'input'>);
  const outs = floatOutputs(g);
  const ts = jvps(
    b,
    outs.map((o) => o.node),
    leaves,
    tangents,
  );
  const out: Graph = {
    ...g,
    inputs: [...g.inputs, ...tangents],
    outputs: [...g.outputs, ...outs.map((o, i) => ({ name: `jvp.${o.name}`, node: ts[i]! }))],
  };
  verifyGraph(out, 'jvp');
  return out;
}

/** `vjp.<leaf>` for every f32 param and input of `g`; inputs `cotangent.<output>` after g's own. */
export function vjpGraph(g: Graph): Graph {
  const b = g.builder;
  const outs = floatOutputs(g);
  const cotangents = outs.map((o) => b.input(`${COTANGENT}${o.name}`, o.node) as NodeOf<'input'>);
  // s = sum_k sum(out_k * cotangent_k): its gradient is J^T u.
  let s: Node = b.const(0, 'f32');
  outs.forEach((o, k) => {
    const all = o.node.shape.map((_d, i) => i);
    s = b.binary('add', s, b.reshape(b.reduce('sum', b.binary('mul', o.node, cotangents[k]!), all), []));
  });
  const leaves = differentiableLeaves(g);
  const grads = gradients(b, s, leaves);
  // Params first (in order), then inputs, as `kiln grad` names them.
  const order = [...leaves.filter((n) => n.op === 'param'), ...leaves.filter((n) => n.op === 'input')];
  const out: Graph = {
    ...g,
    inputs: [...g.inputs, ...cotangents],
    outputs: order.map((w) => ({ name: `vjp.${w.name}`, node: grads[leaves.indexOf(w)]! })),
  };
  verifyGraph(out, 'vjp');
  return out;
}
