// `kiln init FILE -o PARAMS.safetensors`: write initial parameters.

import { loadModel, initialParams } from '../model.js';
import type { Output } from '../output.js';
import { checkOutputPath } from '../output-paths.js';
import { writeTensors } from '../tensors.js';
import type { CommonOptions } from '../options.js';

export interface InitOptions extends Pick<CommonOptions, 'model' | 'seed'> {
  readonly out: string;
}

export function initCommand(file: string, opts: InitOptions, out: Output): number {
  checkOutputPath(opts.out, file, [], '-o');
  const { model } = loadModel(file, opts.model);
  const params = initialParams(model, opts.seed);
  writeTensors(opts.out, params, false);
  out.stdout(`wrote ${params.size} params of model '${model.name}' (seed ${opts.seed}) to ${opts.out}\n`);
  return 0;
}
