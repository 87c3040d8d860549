// The Grad-CAM view of a model (compiler/grad-cam.ts) for `kiln attribute
// --method grad_cam` and `kiln compile --grad-cam`, with the user's names
// checked first: an unknown layer or output is a user error listing the ones
// there are.

import { gradCamModel } from '../../compiler/grad-cam.js';
import type { ModelContract } from '../../compiler/model.js';
import { formatType } from '../../compiler/types.js';
import { UserError } from '../errors.js';

/** The Grad-CAM view of `model` through `layer`, or a user error naming the layers and outputs there are. */
export function gradCamView(model: ModelContract, layer: string, of: string): ModelContract {
  if (!model.layers.some((l) => l.name === layer)) {
    const known = model.layers.map((l) => `${l.name}: ${formatType(l.type)}`).join(', ');
    throw new UserError(`--layer: model ${model.name} has no layer '${layer}' (its named values: ${known || 'none'})`);
  }
  if (!model.outputs.some((o) => o.name === of))
    throw new UserError(`no output '${of}' (outputs: ${model.outputs.map((o) => o.name).join(', ')})`);
  return gradCamModel(model, layer, of);
}
