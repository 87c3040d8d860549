// `kiln grad FILE --inputs IN --out G [--of NAME] [--wrt-inputs]`: a scalar
// output and its gradients w.r.t. every param (and input), on the wasm or
// webgpu runtime (the gradient graph compiled into an in-memory artifact
// whose forward program outputs the value and the gradients) or on the
// reference interpreter; the last line says which ran it.

import { didYouMean } from '../../dsl/source.js';
import { formatType } from '../../compiler/types.js';
import { evaluate } from '../../compiler/interpret.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { UserError } from '../errors.js';
import { type LoadedModel, loadModel, modelParams } from '../model.js';
import type { Output } from '../output.js';
import { readTensors, writeTensors } from '../tensors.js';
import {
  applyParamsFile,
  checkTarget,
  type CommonOptions,
  isDirectory,
  readRuntimeTensors,
  userErrors,
  runtimeModel,
  writeRuntimeTensors,
} from './common.js';

export interface GradOptions extends CommonOptions {
  readonly inputs: string;
  readonly params?: string;
  readonly out: string;
  readonly of?: string;
  readonly wrtInputs: boolean;
}

/** `--of NAME`, else the train block's `minimize`, else the model's only scalar f32 output. */
export function defaultScalarOutput(lm: LoadedModel, of: string | undefined): string {
  const { model } = lm;
  const scalars = model.outputs.filter((o) => o.type.dtype === 'f32' && o.type.shape.length === 0);
  const name = of ?? lm.train?.minimize ?? (scalars.length === 1 ? scalars[0]!.name : undefined);
  if (name === undefined)
    throw new UserError(
      `${lm.path}: model '${model.name}' has no train block and ${scalars.length === 0 ? 'no' : 'several'} scalar f32 outputs; say which with --of`,
    );
  const o = model.outputs.find((x) => x.name === name);
  if (!o) {
    const hint = didYouMean(
      name,
      model.outputs.map((x) => x.name),
    );
    throw new UserError(
      `--of: model '${model.name}' has no output '${name}'${hint ? `; did you mean '${hint}'?` : ''}`,
    );
  }
  if (o.type.dtype !== 'f32' || o.type.shape.length !== 0)
    throw new UserError(`--of: output '${name}' is ${formatType(o.type)}; gradients need a scalar f32 output`);
  return name;
}

export async function gradCommand(file: string, opts: GradOptions, out: Output): Promise<number> {
  checkTarget(opts.target);
  if (isDirectory(file))
    throw new UserError(`${file}: grad needs the .kiln source (a compiled artifact has no gradient program)`);
  const lm = loadModel(file, opts.model);
  const { model } = lm;
  const of = defaultScalarOutput(lm, opts.of);
  const wrtInputs = opts.wrtInputs ? model.inputs.filter((i) => i.type.dtype === 'f32').map((i) => i.name) : [];
  if (opts.target !== 'reference') {
    const { model: m } = await runtimeModel(file, opts, { grad: { of, inputs: wrtInputs } }, 'grad');
    try {
      const inputs = readRuntimeTensors(opts.inputs, m.inputs, 'an input');
      if (opts.params !== undefined) applyParamsFile(m, opts.params);
      const results = await userErrors(() => m.run(inputs));
      writeRuntimeTensors(opts.out, results, opts.f64 ?? false);
      const n = Object.keys(results).length;
      out.stdout(
        `${of} = ${results[of]!.data[0]}\nwrote ${of} and ${n - 1} gradients to ${opts.out} (on ${m.device})\n`,
      );
      return 0;
    } finally {
      m.dispose();
    }
  }
  const g = gradientGraph(model.lower({ training: false }), {
    of,
    params: model.params.filter((p) => p.type.dtype === 'f32').map((p) => p.name),
    inputs: wrtInputs,
  });
  const wanted = g.outputs.filter((o) => o.name === of || o.name.startsWith('grad.'));
  const values = evaluate(
    wanted.map((o) => o.node),
    {
      inputs: readTensors(opts.inputs, model.inputs, 'an input'),
      params: modelParams(model, opts.params, opts.seed),
    },
  );
  const results = new Map(wanted.map((o, i) => [o.name, values[i]!]));
  writeTensors(opts.out, results, opts.f64 ?? false);
  out.stdout(
    `${of} = ${results.get(of)!.data[0]}\nwrote ${of} and ${results.size - 1} gradients to ${opts.out} (on the reference interpreter)\n`,
  );
  return 0;
}
