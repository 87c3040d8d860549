// `kiln grad FILE --inputs DATA --out G [--of NAME] [--wrt-inputs]`: a scalar
// output and its gradients w.r.t. every param (and input), on the wasm or
// webgpu runtime (the gradient graph compiled into an in-memory artifact
// whose forward program outputs the value and the gradients) or on the
// reference interpreter; the last line says which ran it. DATA is any form
// `--inputs` takes (inputs.ts).

import { compile } from '../../compiler/compile.js';
import { evaluate } from '../../compiler/interpret.js';
import { UserError } from '../errors.js';
import { defaultScalarOutput, loadModel, modelParams } from '../model.js';
import { type CommonOptions, checkTarget } from '../options.js';
import type { Output } from '../output.js';
import { writeTensors } from '../tensors.js';
import {
  applyParamsFile,
  isDirectory,
  openRuntimeModel,
  refuseCall,
  userErrors,
  writeRuntimeTensors,
} from './common.js';
import { type InputOptions, readInputs, readReferenceInputs } from './inputs.js';
import { checkOutputPath } from '../output-paths.js';

export interface GradOptions extends CommonOptions, InputOptions {
  readonly params?: string;
  readonly out: string;
  readonly of?: string;
  readonly wrtInputs: boolean;
}

export async function gradCommand(file: string, opts: GradOptions, out: Output): Promise<number> {
  checkTarget(opts.target);
  if (isDirectory(file))
    throw new UserError(`${file}: grad needs the .kiln source (a compiled artifact has no gradient program)`);
  checkOutputPath(opts.out, file, [opts.inputs, opts.params]);
  const lm = loadModel(file, opts.model);
  const { model } = lm;
  const of = defaultScalarOutput(lm, opts.of);
  const wrtInputs = opts.wrtInputs ? model.inputs.filter((i) => i.type.dtype === 'f32').map((i) => i.name) : [];
  if (opts.target !== 'reference') {
    const opened = await openRuntimeModel(file, opts, { grad: { of, inputs: wrtInputs } }, 'grad');
    // The gradient program is the compiled artifact's forward pass (its outputs: `of` and the gradients).
    const inputs = await readInputs(opts, opened.inputs);
    refuseCall(opened, 'forward', 'gradient program', inputs);
    const m = (await opened.load()).model;
    try {
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
  // The very graph the runtime's gradient program computes: `of` and the gradients.
  const inputs = await readReferenceInputs(opts, model.inputs);
  const wanted = compile(model, undefined, { grad: { of, inputs: wrtInputs } }).forward.ir.outputs;
  const values = evaluate(
    wanted.map((o) => o.node),
    { inputs, params: modelParams(model, opts.params, opts.seed) },
  );
  const results = new Map(wanted.map((o, i) => [o.name, values[i]!]));
  writeTensors(opts.out, results, opts.f64 ?? false);
  out.stdout(
    `${of} = ${results.get(of)!.data[0]}\nwrote ${of} and ${results.size - 1} gradients to ${opts.out} (on the reference interpreter)\n`,
  );
  return 0;
}
