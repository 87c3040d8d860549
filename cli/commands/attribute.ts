// `kiln attribute FILE --inputs IN --wrt INPUT --of OUTPUT --method M ...`
// (CLI.md v1): input attribution by saliency, input x gradient, integrated
// gradients, SmoothGrad or expected gradients (runtime/attribution.ts), on
// the wasm or webgpu runtime (the model's `vjp` entry, all points of all
// examples in batched calls) or on the reference interpreter (the same vjp
// graph). Writes `attr.<INPUT>` (and, with --png DIR, heat maps).

import { bindDims } from '../../compiler/bind.js';
import { compile } from '../../compiler/compile.js';
import { type RefTensor, evaluate } from '../../compiler/interpret.js';
import { COTANGENT_OF, LAYER_GRADIENT, gradCamModel } from '../../compiler/grad-cam.js';
import { LAYER, type ModelContract } from '../../compiler/model.js';
import { evalShape } from '../../compiler/types.js';
import { COTANGENT } from '../../compiler/lens.js';
import {
  ATTRIBUTION_METHODS,
  DEFAULT_MAX_BATCH,
  type Attribution,
  type AttributionMethod,
  type AttributionModel,
  type AttributionOptions,
  attribute,
} from '../../runtime/attribution.js';
import type { Tensor } from '../../runtime/executor.js';
import type { TensorSpec } from '../../runtime/manifest.js';
import { KilnRuntimeError, formatTensorType } from '../../runtime/validate.js';
import type { CsvColumns } from '../data/dataset.js';
import { dataForm } from '../data/load.js';
import { UsageError, UserError } from '../errors.js';
import { loadModel, modelParams } from '../model.js';
import { type CommonOptions, checkTarget } from '../options.js';
import type { Output } from '../output.js';
import { checkOutputPath } from '../output-paths.js';
import {
  applyParamsFile,
  fittingBatch,
  isDirectory,
  openRuntimeModel,
  refuseCall,
  summarizeTensor,
  toRuntime,
  writeRuntimeTensors,
  tensorSpec,
} from './common.js';
import { readSafetensorsFile } from '../../runtime/safetensors-node.js';
import { checkImageInput, writeHeatMaps } from './heat-maps.js';
import { gradCamView } from './grad-cam-view.js';
import { type InputOptions, readExamples, readInputs } from './inputs.js';

export interface AttributeOptions extends CommonOptions, InputOptions {
  readonly params?: string;
  readonly wrt: string;
  readonly of: string;
  readonly class?: number;
  readonly method: string;
  readonly steps?: number;
  readonly samples?: number;
  readonly noise?: number;
  readonly baseline?: string;
  readonly out?: string;
  readonly png?: string;
  readonly layer?: string;
}

export async function attributeCommand(file: string, opts: AttributeOptions, out: Output): Promise<number> {
  checkTarget(opts.target);
  if (!(ATTRIBUTION_METHODS as readonly string[]).includes(opts.method))
    throw new UsageError(`unknown method '${opts.method}' (expected ${ATTRIBUTION_METHODS.join(', ')})`);
  const method = opts.method as AttributionMethod;
  if (opts.baseline !== undefined && method !== 'integrated_gradients' && method !== 'expected_gradients')
    throw new UsageError(`--baseline is for integrated_gradients and expected_gradients, not ${method}`);
  if (method === 'expected_gradients' && (opts.baseline === undefined || opts.baseline === 'zeros'))
    throw new UsageError('expected_gradients draws its baselines from data: give --baseline DATA');
  if ((method === 'grad_cam') !== (opts.layer !== undefined))
    throw new UsageError(
      method === 'grad_cam'
        ? 'grad_cam attributes through a convolutional layer: give --layer NAME'
        : `--layer is for grad_cam, not ${method}`,
    );
  const baselineFile = opts.baseline === undefined || opts.baseline === 'zeros' ? undefined : opts.baseline;
  if (opts.out !== undefined) checkOutputPath(opts.out, file, [opts.inputs, opts.params, baselineFile]);

  if (opts.target === 'reference') {
    if (isDirectory(file))
      throw new UserError(
        `${file}: a compiled artifact runs on --target wasm or webgpu; the reference interpreter needs the .kiln source`,
      );
    const { model } = loadModel(file, opts.model);
    const specs = model.inputs.map(tensorSpec);
    const { inputs, baseline } = await readData(opts, specs, baselineFile);
    const params = modelParams(model, opts.params, opts.seed);
    const view = opts.layer !== undefined ? gradCamView(model, opts.layer, opts.of) : undefined;
    const req = { ...request(opts, method), ...(baseline && { baseline }) };
    const result = await attributeOrFail(() => attribute(referenceModel(model, params, view), inputs, req));
    return report(opts, inputs, result, 'the reference interpreter', out);
  }
  // On the runtime: a source compiles to what attribution runs (the run and vjp entries, or the
  // model's Grad-CAM view); an artifact is used as it is (Model.attribute says what it lacks).
  const layer = opts.layer;
  const source = isDirectory(file) ? undefined : loadModel(file, opts.model).model;
  if (layer !== undefined && source) gradCamView(source, layer, opts.of);
  const opened = await openRuntimeModel(
    file,
    opts,
    layer === undefined
      ? { entries: ['run', 'vjp'] }
      : source
        ? { entries: ['run'], view: (m) => gradCamModel(m, layer, opts.of) }
        : {},
    'attribute',
  );
  const specs = opened.inputs.filter((i) => !i.name.startsWith(COTANGENT_OF));
  const { inputs, baseline } = await readData(opts, specs, baselineFile);
  // The forward pass runs on the examples as given, the vjp on as many points of them per call as fit.
  refuseCall(opened, 'forward', 'forward pass', inputs);
  const maxBatch =
    layer === undefined ? fittingBatch(opened, 'vjp', 'vjp program', inputs, DEFAULT_MAX_BATCH) : undefined;
  const model = (await opened.load()).model;
  try {
    if (opts.params !== undefined) applyParamsFile(model, opts.params);
    const req = {
      ...request(opts, method),
      ...(baseline && { baseline }),
      ...(maxBatch !== undefined && { maxBatch }),
    };
    const result = await attributeOrFail(() => model.attribute(inputs, req));
    return report(opts, inputs, result, model.device, out);
  } finally {
    model.dispose();
  }
}

function request(opts: AttributeOptions, method: AttributionMethod): AttributionOptions {
  return {
    method,
    wrt: opts.wrt,
    of: opts.of,
    seed: opts.seed,
    ...(opts.class !== undefined && { classIndex: opts.class }),
    ...(opts.steps !== undefined && { steps: opts.steps }),
    ...(opts.samples !== undefined && { samples: opts.samples }),
    ...(opts.noise !== undefined && { noise: opts.noise }),
    ...(opts.layer !== undefined && { layer: opts.layer }),
  };
}

/** The attribution `run` computes, its request errors (names, classes, shapes) as user errors. */
async function attributeOrFail(run: () => Promise<Attribution>): Promise<Attribution> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof KilnRuntimeError) throw new UserError(e.message);
    throw e;
  }
}

/**
 * The inputs (any DATA form, the first --limit examples: inputs.ts) and
 * the baseline: for integrated gradients a safetensors file holding the
 * attributed input's x0; for expected gradients DATA whose examples are the x'.
 */
async function readData(
  opts: AttributeOptions,
  specs: readonly TensorSpec[],
  baselineFile: string | undefined,
): Promise<{ inputs: Record<string, Tensor>; baseline?: Tensor }> {
  const wrt = specs.find((s) => s.name === opts.wrt);
  if (!wrt) {
    const f32 = specs.filter((s) => s.dtype === 'f32').map((s) => s.name);
    throw new UserError(`--wrt: the model has no input '${opts.wrt}' (its f32 inputs: ${f32.join(', ') || 'none'})`);
  }
  if (wrt.dtype !== 'f32')
    throw new UserError(`--wrt: input '${opts.wrt}' is ${wrt.dtype}; only f32 inputs have gradients to attribute`);
  if (opts.png !== undefined) checkImageInput(opts.wrt, wrt.shape, formatTensorType(wrt.dtype, wrt.shape));
  const inputs = await readInputs(opts, specs);
  if (!baselineFile) return { inputs };
  return { inputs, baseline: await baselineOf(baselineFile, specs, wrt, opts) };
}

/**
 * The attributed input's tensor of a baseline: from a .safetensors file the
 * tensor named like it (others are ignored, so a file of whole examples
 * serves), from any other DATA form its examples of that input.
 */
async function baselineOf(
  source: string,
  specs: readonly TensorSpec[],
  wrt: TensorSpec,
  csv: CsvColumns,
): Promise<Tensor> {
  if (dataForm(source) !== 'safetensors') return (await readExamples(source, specs, csv))[wrt.name]!;
  const t = readSafetensorsFile(source).tensors.get(wrt.name);
  if (!t)
    throw new UserError(
      `${source}: no tensor '${wrt.name}' for the baseline of input ${wrt.name}: ${formatTensorType(wrt.dtype, wrt.shape)}`,
    );
  return toRuntime(wrt.name, t, wrt.dtype, source);
}

function report(
  opts: AttributeOptions,
  inputs: Readonly<Record<string, Tensor>>,
  r: Attribution,
  device: string,
  out: Output,
): number {
  const name = `attr.${opts.wrt}`;
  const tensor: Tensor = { data: r.attr, shape: r.shape };
  const calls = `${r.calls} batched call${r.calls === 1 ? '' : 's'}`;
  if (opts.out !== undefined) {
    writeRuntimeTensors(opts.out, { [name]: tensor }, opts.f64 ?? false);
    out.stdout(`wrote ${name} to ${opts.out} (${opts.method} on ${device}, ${calls})\n`);
  } else out.stdout(`${summarizeTensor(name, tensor)}  (${opts.method} on ${device}, ${calls})\n`);
  if (opts.png !== undefined) {
    const n = writeHeatMaps(opts.png, opts.wrt, inputs[opts.wrt]!, tensor, r.classes);
    out.stdout(`wrote ${n} heat map${n === 1 ? '' : 's'} to ${opts.png}\n`);
  }
  return 0;
}

/** The reference interpreter as an attribution model: the IR for outputs, the vjp graph for gradients. */
function referenceModel(
  model: ModelContract,
  params: ReadonlyMap<string, RefTensor>,
  camView?: ModelContract,
): AttributionModel {
  const c = compile(model, undefined);
  const ref = (t: Tensor, dtype: RefTensor['dtype']): RefTensor => ({
    dtype,
    shape: [...t.shape],
    data: Float64Array.from(t.data),
  });
  const refInputs = (inputs: Readonly<Record<string, Tensor>>) =>
    new Map(
      model.inputs.flatMap((i) => {
        const t = inputs[i.name];
        return t ? [[i.name, ref(t, i.type.dtype)] as const] : [];
      }),
    );
  const dimsOf = (inputs: ReadonlyMap<string, RefTensor>) =>
    bindDims(
      model.inputs.map((i) => ({ name: i.name, kind: 'input' as const, type: i.type })),
      inputs,
    );
  const runtime = (t: RefTensor): Tensor => ({
    data:
      t.dtype === 'f32'
        ? Float32Array.from(t.data)
        : t.dtype === 'i32'
          ? Int32Array.from(t.data)
          : Uint8Array.from(t.data),
    shape: t.shape,
  });
  const cam = camView && { graph: camView.lower({ training: false }) };
  return {
    ...(cam && {
      layerGradient: async (inputs: Readonly<Record<string, Tensor>>, of: string, cotangent: Tensor, layer: string) => {
        const env = refInputs(inputs);
        env.set(`${COTANGENT_OF}${of}`, ref(cotangent, 'f32'));
        const outs = [`${LAYER}${layer}`, `${LAYER_GRADIENT}${layer}`].map(
          (n) => cam.graph.outputs.find((o) => o.name === n)!.node,
        );
        const [activation, gradient] = evaluate(outs, { inputs: env, params, dims: dimsOf(env) });
        return { activation: runtime(activation!), gradient: runtime(gradient!) };
      },
    }),
    forward: async (inputs) => {
      const env = refInputs(inputs);
      const g = c.ir;
      const values = evaluate(
        g.outputs.map((o) => o.node),
        { inputs: env, params, dims: dimsOf(env) },
      );
      return Object.fromEntries(g.outputs.map((o, i) => [o.name, runtime(values[i]!)]));
    },
    gradient: async (inputs, of, cotangent, wrt) => {
      const env = refInputs(inputs);
      const dims = dimsOf(env);
      const g = c.vjp.ir;
      for (const n of g.inputs)
        if (n.name.startsWith(COTANGENT)) {
          const given = n.name === `${COTANGENT}${of}`;
          const shape = given ? [...cotangent.shape] : evalShape(n.shape, dims);
          env.set(
            n.name,
            given
              ? ref(cotangent, 'f32')
              : { dtype: 'f32', shape, data: new Float64Array(shape.reduce((a, b) => a * b, 1)) },
          );
        }
      const out = g.outputs.find((o) => o.name === `vjp.${wrt}`);
      if (!out) throw new UserError(`input '${wrt}' has no gradient: attribution needs an f32 input`);
      return runtime(evaluate([out.node], { inputs: env, params, dims })[0]!);
    },
  };
}
