// `kiln run FILE --inputs IN [--params P] [--out OUT]`: a forward pass on the reference interpreter.

import { evaluate } from '../../compiler/interpret.js';
import { modelParams, loadModel } from '../model.js';
import type { Output } from '../output.js';
import { readTensors, summarize, writeTensors } from '../tensors.js';
import { checkTarget, type CommonOptions } from './common.js';

export interface RunOptions extends CommonOptions {
  readonly inputs: string;
  readonly params?: string;
  readonly out?: string;
}

export function runCommand(file: string, opts: RunOptions, out: Output): number {
  checkTarget(opts.target);
  const { model } = loadModel(file, opts.model);
  const inputs = readTensors(opts.inputs, model.inputs, 'an input');
  const params = modelParams(model, opts.params, opts.seed);
  const g = model.lower({ training: false });
  const values = evaluate(
    g.outputs.map((o) => o.node),
    { inputs, params },
  );
  const results = new Map(g.outputs.map((o, i) => [o.name, values[i]!]));
  if (opts.out !== undefined) {
    writeTensors(opts.out, results, opts.f64 ?? false);
    out.stdout(`wrote ${results.size} output${results.size === 1 ? '' : 's'} to ${opts.out}\n`);
  } else {
    for (const [name, t] of results) out.stdout(`${summarize(name, t)}\n`);
  }
  return 0;
}
