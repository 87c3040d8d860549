// The model seen through one of its layers, for Grad-CAM (Selvaraju et al.
// 2017): a model contract whose graph takes the model's inputs and a
// cotangent for output `of` (the one-hot of the attributed class), and gives
// `of`, the layer's value `layer.<name>` and the gradient of
// sum(of * cotangent) with respect to it, `grad.layer.<name>`. Being an
// ordinary contract, it compiles to an artifact whose `run` is that graph,
// on every target; the weighting and upsampling happen on the host
// (runtime/attribution.ts).

import { gradients } from './autodiff.js';
import { type Graph, type NodeOf, IRError } from './ir.js';
import { LAYER, type ModelContract } from './model.js';
import { verifyGraph } from './verify.js';
import { GRAD_CAM_NAMES } from '../runtime/attribution.js';

export const COTANGENT_OF = GRAD_CAM_NAMES.cotangent;
export const LAYER_GRADIENT = GRAD_CAM_NAMES.gradient;

export function gradCamModel(model: ModelContract, layer: string, of: string): ModelContract {
  const out = model.outputs.find((o) => o.name === of);
  const value = model.layers.find((l) => l.name === layer);
  if (!out) throw new IRError(`model ${model.name} has no output '${of}'`);
  if (!value) throw new IRError(`model ${model.name} has no layer '${layer}'`);
  const cotangent = { name: `${COTANGENT_OF}${of}`, type: { dtype: 'f32' as const, shape: out.type.shape } };
  return {
    name: model.name,
    inputs: [...model.inputs, cotangent],
    params: model.params,
    outputs: [
      out,
      { name: `${LAYER}${layer}`, type: value.type },
      { name: `${LAYER_GRADIENT}${layer}`, type: value.type },
    ],
    symbolicDims: model.symbolicDims,
    usesRandomness: false,
    layers: [],
    lower(): Graph {
      const g = model.lower({ training: false, layers: [layer] });
      const b = g.builder;
      const y = g.outputs.find((o) => o.name === of)!.node;
      const a = g.outputs.find((o) => o.name === `${LAYER}${layer}`)!.node;
      if (y.dtype !== 'f32' || a.dtype !== 'f32')
        throw new IRError(`Grad-CAM needs f32 values: output '${of}' and layer '${layer}'`);
      const u = b.input(cotangent.name, y) as NodeOf<'input'>;
      const all = y.shape.map((_d, i) => i);
      const score = b.reshape(b.reduce('sum', b.binary('mul', y, u), all), []);
      const [grad] = gradients(b, score, [a]);
      const graph: Graph = {
        builder: b,
        inputs: [...g.inputs, u],
        params: g.params,
        outputs: [
          { name: of, node: y },
          { name: `${LAYER}${layer}`, node: a },
          { name: `${LAYER_GRADIENT}${layer}`, node: grad! },
        ],
      };
      verifyGraph(graph, 'grad-cam');
      return graph;
    },
  };
}
