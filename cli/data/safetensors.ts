// The `.safetensors` form: one tensor per input, named like it, examples
// first. Dtypes follow `kiln run`'s rules (F64 narrows to f32; nothing else
// converts), and a tensor that is no input is an error (usually a typo).

import { readRuntimeTensors } from '../commands/common.js';
import { bindDataset } from './bind.js';
import type { Dataset, LoadContext } from './dataset.js';

export function loadSafetensorsData(path: string, ctx: LoadContext): Dataset {
  return bindDataset(path, readRuntimeTensors(path, ctx.inputs, 'an input'), ctx.inputs);
}
