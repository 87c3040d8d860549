// `kiln run FILE --inputs DATA [--limit N] [--params P] [--out OUT]`: a
// forward pass, on the wasm or webgpu runtime (FILE a .kiln source or an
// artifact directory) or on the float64 reference interpreter. DATA is a
// .safetensors file or any other DATA form of `kiln train` (inputs.ts).

import { bindDims } from '../../compiler/bind.js';
import { compile } from '../../compiler/compile.js';
import { evaluate } from '../../compiler/interpret.js';
import { UserError } from '../errors.js';
import { modelParams, loadModel } from '../model.js';
import { type CommonOptions, checkTarget } from '../options.js';
import type { Output } from '../output.js';
import { summarize, writeTensors } from '../tensors.js';
import {
  applyParamsFile,
  isDirectory,
  openRuntimeModel,
  refuseCall,
  summarizeTensor,
  userErrors,
  writeRuntimeTensors,
} from './common.js';
import { type InputOptions, readInputs, readReferenceInputs } from './inputs.js';
import { checkOutputPath } from '../output-paths.js';

export interface RunOptions extends CommonOptions, InputOptions {
  readonly params?: string;
  readonly out?: string;
}

export async function runCommand(file: string, opts: RunOptions, out: Output): Promise<number> {
  checkTarget(opts.target);
  if (opts.out !== undefined) checkOutputPath(opts.out, file, [opts.inputs, opts.params]);
  if (opts.target === 'reference') return runReference(file, opts, out);
  const opened = await openRuntimeModel(file, opts);
  const inputs = await readInputs(opts, opened.inputs);
  refuseCall(opened, 'forward', 'forward pass', inputs);
  const model = (await opened.load()).model;
  try {
    if (opts.params !== undefined) applyParamsFile(model, opts.params);
    const results = await userErrors(() => model.run(inputs));
    const n = Object.keys(results).length;
    if (opts.out !== undefined) {
      writeRuntimeTensors(opts.out, results, opts.f64 ?? false);
      out.stdout(`wrote ${n} output${n === 1 ? '' : 's'} to ${opts.out}\n`);
    } else {
      for (const [name, t] of Object.entries(results)) out.stdout(`${summarizeTensor(name, t)}\n`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}

async function runReference(file: string, opts: RunOptions, out: Output): Promise<number> {
  if (isDirectory(file))
    throw new UserError(
      `${file}: a compiled artifact runs on --target wasm; the reference interpreter needs the .kiln source`,
    );
  const { model } = loadModel(file, opts.model);
  const inputs = await readReferenceInputs(opts, model.inputs);
  const params = modelParams(model, opts.params, opts.seed);
  const g = compile(model, undefined).ir;
  // Bind the symbolic dims from every given input, not only from those the
  // outputs read: `broadcast_to(x, [B, 2])` may be the only use of B.
  const given = model.inputs.filter((i) => inputs.has(i.name));
  const dims = bindDims(
    given.map((i) => ({ name: i.name, kind: 'input' as const, type: i.type })),
    inputs,
  );
  const values = evaluate(
    g.outputs.map((o) => o.node),
    { inputs, params, dims },
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
