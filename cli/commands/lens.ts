// `kiln jvp FILE --inputs DATA [--params P] --tangents T [--out O]` and
// `kiln vjp FILE --inputs DATA [--params P] --cotangents C [--out O]`: the
// model's forward and reverse derivatives (its lens, docs/lenses.md), on the
// wasm or webgpu runtime (a .kiln source compiled with that entry, or an
// artifact compiled with `--entries ...,jvp`) or on the reference
// interpreter. jvp writes every output and `jvp.<output>`; vjp writes
// `vjp.<param>` and `vjp.<input>`. Tangents are named like the f32 inputs and
// params, cotangents like the f32 outputs; a missing one is zero. DATA is any
// form `--inputs` takes (inputs.ts); tangents and cotangents are not data, so
// T and C are .safetensors files.

import { bindDims } from '../../compiler/bind.js';
import { compile } from '../../compiler/compile.js';
import { evaluate } from '../../compiler/interpret.js';
import { evalDimSpec } from '../../runtime/layout.js';
import { LensArgumentError, checkLensTensor, lensGivenWord } from '../../runtime/lens.js';
import { type LensKind, lensGivenPrefix, lensGivenSpecs } from '../../runtime/lens-interface.js';
import { KilnRuntimeError } from '../../runtime/validate.js';
import { isFashionMnist } from '../data/fashion-mnist.js';
import { UsageError, UserError } from '../errors.js';
import { loadModel, modelParams } from '../model.js';
import { type CommonOptions, checkTarget } from '../options.js';
import type { Output } from '../output.js';
import { checkOutputPath } from '../output-paths.js';
import { readTensors, summarize, writeTensors } from '../tensors.js';
import {
  applyParamsFile,
  isDirectory,
  openRuntimeModel,
  readRuntimeTensors,
  refuseCall,
  summarizeTensor,
  writeRuntimeTensors,
  tensorSpec,
} from './common.js';
import { type InputOptions, readInputs, readReferenceInputs } from './inputs.js';

export interface LensOptions extends CommonOptions, InputOptions {
  readonly params?: string;
  /** jvp: the tangents file. */
  readonly tangents?: string;
  /** vjp: the cotangents file. */
  readonly cotangents?: string;
  readonly out?: string;
}

export async function lensCommand(kind: LensKind, file: string, opts: LensOptions, out: Output): Promise<number> {
  checkTarget(opts.target);
  const given = (kind === 'jvp' ? opts.tangents : opts.cotangents)!;
  checkGivenFile(kind, given);
  if (opts.out !== undefined) checkOutputPath(opts.out, file, [opts.inputs, opts.params, given]);
  if (opts.target === 'reference') return referenceLens(kind, file, opts, given, out);
  const opened = await openRuntimeModel(file, opts, { entries: [kind] }, kind);
  const inputs = await readInputs(opts, opened.inputs);
  refuseCall(opened, kind, `${kind} program`, inputs);
  const model = (await opened.load()).model;
  try {
    if (opts.params !== undefined) applyParamsFile(model, opts.params);
    const tensors = readRuntimeTensors(
      given,
      kind === 'jvp' ? model.tangents : model.cotangents,
      `a ${lensGivenWord(kind)}`,
    );
    const results = await (kind === 'jvp' ? model.jvp(inputs, tensors) : model.vjp(inputs, tensors)).catch(
      givenErrors(given),
    );
    if (opts.out === undefined)
      for (const [name, t] of Object.entries(results)) out.stdout(`${summarizeTensor(name, t)}\n`);
    else {
      writeRuntimeTensors(opts.out, results, opts.f64 ?? false);
      wrote(out, kind, Object.keys(results).length, opts.out, model.device);
    }
    return 0;
  } finally {
    model.dispose();
  }
}

/** Tangents and cotangents are not data: a .safetensors file, and a clear word when given a DATA form. */
function checkGivenFile(kind: LensKind, given: string): void {
  if (!isFashionMnist(given) && !isDirectory(given) && !/\.(csv|npy)$/i.test(given)) return;
  const word = lensGivenWord(kind);
  const goes = kind === 'jvp' ? 'the f32 inputs and params' : 'the f32 outputs';
  throw new UsageError(
    `--${word}s takes a .safetensors file of ${word}s named like ${goes}, not data (${given}); --inputs takes data`,
  );
}

function wrote(out: Output, kind: LensKind, n: number, path: string, device: string): void {
  out.stdout(`wrote ${n} tensors to ${path} (${kind} on ${device})\n`);
}

/** Runtime errors as user errors; a wrong tangent or cotangent names the file it came from. */
function givenErrors(path: string): (e: unknown) => never {
  return (e) => {
    if (e instanceof LensArgumentError) throw new UserError(`${path}: ${e.message}`);
    if (e instanceof KilnRuntimeError) throw new UserError(e.message);
    throw e;
  };
}

/** The lens graph on the float64 interpreter: the very graph the runtime's kernels compute. */
async function referenceLens(
  kind: LensKind,
  file: string,
  opts: LensOptions,
  given: string,
  out: Output,
): Promise<number> {
  if (isDirectory(file))
    throw new UserError(
      `${file}: a compiled artifact runs on --target wasm or webgpu; the reference interpreter needs the .kiln source`,
    );
  const { model } = loadModel(file, opts.model);
  const inputs = await readReferenceInputs(opts, model.inputs);
  const params = modelParams(model, opts.params, opts.seed);
  const specs = lensGivenSpecs(kind, {
    inputs: model.inputs.map(tensorSpec),
    outputs: model.outputs.map(tensorSpec),
    params: model.params.map((p) => ({ ...tensorSpec(p), role: 'param' })),
  });
  const tensors = readTensors(
    given,
    specs.map((s) => ({ name: s.name, type: { dtype: s.dtype, shape: s.shape } })),
    `a ${lensGivenWord(kind)}`,
  );
  const dims = bindDims(
    model.inputs.map((i) => ({ name: i.name, kind: 'input' as const, type: i.type })),
    inputs,
  );
  const all = new Map(inputs);
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (t) {
      try {
        checkLensTensor(kind, specs, dims, s.name, t.dtype, t.shape);
      } catch (e) {
        givenErrors(given)(e);
      }
    }
    const shape = s.shape.map((d) => evalDimSpec(d, dims));
    all.set(`${lensGivenPrefix(kind)}${s.name}`, t ?? { dtype: 'f32', shape, data: new Float64Array(numel(shape)) });
  }
  const g = compile(model, undefined)[kind].ir;
  const values = evaluate(
    g.outputs.map((o) => o.node),
    { inputs: all, params, dims },
  );
  const results = new Map(g.outputs.map((o, i) => [o.name, values[i]!]));
  if (opts.out === undefined) for (const [name, t] of results) out.stdout(`${summarize(name, t)}\n`);
  else {
    writeTensors(opts.out, results, opts.f64 ?? false);
    wrote(out, kind, results.size, opts.out, 'the reference interpreter');
  }
  return 0;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
