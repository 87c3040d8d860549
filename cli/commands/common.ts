// Helpers shared by the commands that execute a model: loading it onto the
// runtime (from a .kiln source, compiled in memory, or from an artifact
// directory) after refusing a call too big for wasm's memory at the batch
// its inputs bind (memory-estimate.ts has the figures), and tensors in and
// out of safetensors files for the runtime.

import { statSync } from 'node:fs';
import { readSafetensorsFile, writeSafetensorsFile } from '../../runtime/safetensors-node.js';
import type { StIntTensor, StTensor } from '../../runtime/safetensors.js';
import type { DTypeSpec, EntryName, TensorSpec } from '../../runtime/manifest.js';
import { KilnRuntimeError, formatTensorType } from '../../runtime/validate.js';
import { type Model, loadArtifact, openModel } from '../../runtime/model.js';
import { type Tensor, type TensorData, bindDims } from '../../runtime/executor.js';
import type { RefTensor } from '../../compiler/interpret.js';
import { type GradRequest, compile } from '../../compiler/compile.js';
import type { ModelContract, ModelTensor } from '../../compiler/model.js';
import { dimSpec } from '../../compiler/target.js';
import { buildArtifact } from '../../targets/artifact.js';
import { loadTarget } from '../../targets/index.js';
import {
  type CallProgram,
  type CallSizer,
  type MemoryEstimate,
  type ProgramWord,
  batchDims,
  callEstimate,
  callFits,
  compilationSizer,
  estimateOverLimit,
  largestBatch,
  manifestSizer,
} from '../memory-estimate.js';
import { probeRelaxedSimd } from '../../targets/wasm/features.js';
import { UsageError, UserError } from '../errors.js';
import { type LoadedModel, loadModel } from '../model.js';
import type { CommonOptions } from '../options.js';
import { summarize } from '../tensors.js';
import { checkFinite } from '../data/finite.js';
import { useArtifactIds } from '../data/ids.js';
import { convertNumbers, f64, fromInts } from '../data/convert.js';

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Runs `f`, turning the runtime's errors (bad artifact, bad tensors) into user errors. */
export async function userErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof KilnRuntimeError) throw new UserError(e.message);
    throw e;
  }
}

export interface RuntimeModel {
  readonly model: Model;
  /** The checked source, when FILE was a .kiln file. */
  readonly source: LoadedModel | undefined;
  /** What the compiler left out (e.g. the training step of an optimizer the backend lacks). */
  readonly notes: readonly string[];
}

/**
 * A model ready to load: checked and compiled (a source) or its manifest
 * validated (an artifact), nothing allocated; as a CallSizer it sizes a
 * call before `load` (refuseCall).
 */
export interface OpenedModel extends CallSizer {
  /** The checked source, when FILE was a .kiln file. */
  readonly source: LoadedModel | undefined;
  /** Makes the code and initial params (a source), reads them onto the runtime and allocates its memory. */
  load(): Promise<RuntimeModel>;
}

interface BuildRequest {
  readonly grad?: GradRequest;
  readonly training?: boolean;
  readonly entries?: readonly EntryName[];
  /** `kiln train`'s --batch: a training step that cannot fit wasm's memory at it is refused before loading. */
  readonly batch?: number;
  /** Compile this view of the source's model instead (e.g. compiler/grad-cam.ts); sources only. */
  readonly view?: (model: ModelContract) => ModelContract;
}

/**
 * The model ready for the runtime (wasm or webgpu, from --target): an
 * artifact directory as is (its own target), or a .kiln source compiled in
 * memory (params initialised with --seed) with the entries `build` asks for
 * (default `run`, and `step` when `training`). Nothing is allocated until
 * `load`: the caller first reads its inputs and refuses a call too big for
 * them (refuseCall); a training step too big at `build.batch` is refused here.
 */
export async function openRuntimeModel(
  file: string,
  opts: CommonOptions,
  build: BuildRequest = {},
  what = 'this command',
): Promise<OpenedModel> {
  const opened = await openArtifactOrSource(file, opts, build, what);
  if (build.batch !== undefined)
    refuse(opened, 'training step', callEstimate(opened, 'train', batchDims(opened.inputs, build.batch), build.batch));
  return opened;
}

async function openArtifactOrSource(
  file: string,
  opts: CommonOptions,
  build: BuildRequest,
  what: string,
): Promise<OpenedModel> {
  const loadOpts = { ...(opts.threads !== undefined && { threads: opts.threads }), seed: opts.seed };
  if (isDirectory(file)) {
    if (build.grad || build.view)
      throw new UserError(`${file}: ${what} needs the .kiln source, not a compiled artifact`);
    if (opts.model !== undefined) throw new UsageError('--model picks a model of a .kiln source, not of an artifact');
    const artifact = await userErrors(() => openModel(file));
    // The manifest's id ranges check the data as a source's model would.
    useArtifactIds(artifact.manifest.ids);
    const load = async () => ({ model: await userErrors(() => artifact.load(loadOpts)), source: undefined, notes: [] });
    return { ...manifestSizer(artifact.manifest), source: undefined, load };
  }
  const source = loadModel(file, opts.model);
  // Only `train` needs the training step: leaving it out saves compile time.
  const target = opts.target === 'webgpu' ? 'webgpu' : 'wasm';
  const model0 = build.view ? build.view(source.model) : source.model;
  const c = compile(model0, build.training ? source.train : undefined, {
    target,
    ...(build.grad && { grad: build.grad }),
  });
  // buildArtifact's default entries, named here so that the sizer sizes what load builds.
  const entries: readonly EntryName[] = build.entries ?? (c.step ? ['run', 'step'] : ['run']);
  const load = async (): Promise<RuntimeModel> => {
    const gen = await loadTarget(
      target === 'wasm' ? { name: 'wasm', relaxedSimd: probeRelaxedSimd(), threads: true } : { name: 'webgpu' },
    );
    const artifact = buildArtifact(c, gen, { seed: opts.seed, entries });
    const model = await userErrors(() =>
      loadArtifact(artifact, loadOpts, {
        manifest: `${file} (compiled manifest)`,
        code: `${file} (compiled ${target === 'wasm' ? 'module' : 'shaders'})`,
        params: `${file} (initial params)`,
      }),
    );
    return { model, source, notes: artifact.notes };
  };
  return { ...compilationSizer(c, entries), source, load };
}

/**
 * Refuses, before the model is loaded, a call of `program` at the dims its
 * `inputs` bind when it cannot fit wasm's memory (CLI.md v1.1), naming the
 * program with `word`. Inputs that bind no dims (a wrong shape, a missing
 * input) are left to the runtime, which says what is wrong with them.
 */
export function refuseCall(
  sizer: CallSizer,
  program: CallProgram,
  word: ProgramWord,
  inputs: Readonly<Record<string, Tensor>>,
): void {
  const bound = boundDims(sizer, inputs);
  if (bound) refuse(sizer, word, callEstimate(sizer, program, bound.dims, bound.batch));
}

/**
 * The most examples per call, up to `most`, at which `program` fits wasm's
 * memory, for a command that batches the examples of its inputs several
 * times over (attribution's points); refused when a call on the inputs
 * alone cannot fit.
 */
export function fittingBatch(
  sizer: CallSizer,
  program: CallProgram,
  word: ProgramWord,
  inputs: Readonly<Record<string, Tensor>>,
  most: number,
): number {
  const bound = boundDims(sizer, inputs);
  if (!bound || bound.batch === undefined) return most;
  refuse(sizer, word, callEstimate(sizer, program, bound.dims, bound.batch));
  return largestBatch(sizer, program, bound.dims, bound.batch, most);
}

/** The dims `inputs` bind and their batch (the first dim of the first input with a symbolic one); undefined when they bind none cleanly. */
function boundDims(
  sizer: CallSizer,
  inputs: Readonly<Record<string, Tensor>>,
): { dims: Map<string, number>; batch: number | undefined } | undefined {
  // A Grad-CAM view's cotangent is made by the runtime from the others: bind from what is given.
  const given = sizer.inputs.filter((i) => Object.hasOwn(inputs, i.name));
  let dims;
  try {
    dims = bindDims(given, inputs);
  } catch (e) {
    if (e instanceof KilnRuntimeError) return undefined;
    throw e;
  }
  const first = given.find((i) => i.shape.length > 0 && typeof i.shape[0] !== 'number');
  return { dims, batch: first && inputs[first.name]!.shape[0] };
}

/** Throws the refusal of a call that cannot fit. */
function refuse(sizer: CallSizer, word: ProgramWord, e: MemoryEstimate | undefined): void {
  if (callFits(sizer, e)) return;
  throw new UserError(estimateOverLimit(sizer.name, word, e!)!);
}

/**
 * Which safetensors dtypes a runtime dtype accepts on input: F64 is narrowed
 * to f32, the integer dtypes become i32 where every value fits (fromInts).
 */
const ACCEPTS: Record<DTypeSpec, readonly string[]> = {
  f32: ['F32', 'F64'],
  i32: ['I32', 'I64', 'I16', 'I8', 'U8', 'U16', 'U32'],
  bool: ['BOOL', 'U8'],
};

/** A safetensors tensor as the runtime's typed array for `dtype`; a user error when it does not fit. */
export function toRuntime(name: string, t: StTensor, dtype: DTypeSpec, file: string): Tensor {
  if (!ACCEPTS[dtype].includes(t.dtype))
    throw new UserError(
      `${file}: tensor '${name}' has dtype ${t.dtype}, but the model expects ${dtype} (${ACCEPTS[dtype].join(' or ')})`,
    );
  let data: TensorData;
  // F64 narrowed to f32 is refused where a value would become ±Inf (CLI.md v1.1).
  if (dtype === 'f32')
    data = t.data instanceof Float32Array ? t.data : convertNumbers(`${file}: tensor '${name}'`, f64(t), 'f32');
  else if (dtype === 'i32')
    data = t.data instanceof Int32Array ? t.data : Int32Array.from(t.data); // U8 ids and labels widen exactly
  else {
    if (t.data.some((v) => v !== 0 && v !== 1))
      throw new UserError(`${file}: tensor '${name}' (bool) holds values other than 0 and 1`);
    data = t.data as Uint8Array;
  }
  checkFinite(file, name, t.shape, t.data);
  return { data, shape: [...t.shape] };
}

/**
 * Reads tensors named like `specs` from a safetensors file. Missing ones are
 * left to the caller; extra ones are an error (usually a misspelled name).
 */
export function readRuntimeTensors(
  path: string,
  specs: readonly { readonly name: string; readonly dtype: DTypeSpec; readonly shape: TensorSpec['shape'] }[],
  what: string,
): Record<string, Tensor> {
  const { tensors, ints: wide } = readSafetensorsFile(path, { ints: true });
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out: Record<string, Tensor> = {};
  for (const [name, t] of [...tensors, ...wide]) {
    const spec = byName.get(name);
    if (!spec) {
      const known = specs.map((s) => `${s.name}: ${formatTensorType(s.dtype, s.shape)}`).join(', ');
      throw new UserError(`${path}: tensor '${name}' is not ${what} of the model (expected ${known || 'none'})`);
    }
    out[name] = isInts(t) ? fromInts(name, t, spec.dtype, path) : toRuntime(name, t, spec.dtype, path);
  }
  return out;
}

function isInts(t: StTensor | StIntTensor): t is StIntTensor {
  return t.dtype === 'I64' || t.dtype === 'I16' || t.dtype === 'I8' || t.dtype === 'U16' || t.dtype === 'U32';
}

/** The runtime's tensors as safetensors (f32 widened to F64 with `f64`). */
export function toSafetensors(t: Tensor, f64: boolean): StTensor {
  const shape = [...t.shape];
  if (t.data instanceof Float32Array)
    return f64 ? { dtype: 'F64', shape, data: Float64Array.from(t.data) } : { dtype: 'F32', shape, data: t.data };
  if (t.data instanceof Int32Array) return { dtype: 'I32', shape, data: t.data };
  return { dtype: 'BOOL', shape, data: t.data };
}

export function writeRuntimeTensors(path: string, tensors: Readonly<Record<string, Tensor>>, f64: boolean): void {
  const out = new Map<string, StTensor>();
  for (const [name, t] of Object.entries(tensors)) out.set(name, toSafetensors(t, f64));
  try {
    writeSafetensorsFile(path, out);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** `kiln run`'s one-line summary of a runtime tensor. */
export function summarizeTensor(name: string, t: Tensor): string {
  const dtype = t.data instanceof Float32Array ? 'f32' : t.data instanceof Int32Array ? 'i32' : 'bool';
  const ref: RefTensor = { dtype, shape: [...t.shape], data: Float64Array.from(t.data) };
  return summarize(name, ref);
}

/** A tensor of the model contract as the runtime names it. */
export function tensorSpec(t: ModelTensor): TensorSpec {
  return { name: t.name, dtype: t.type.dtype, shape: t.type.shape.map(dimSpec) };
}

/** A model's declared inputs as runtime tensor specs. */
export function inputSpecs(lm: LoadedModel): TensorSpec[] {
  return lm.model.inputs.map(tensorSpec);
}

/**
 * Loads params (all of them) and optionally optimizer state from a
 * safetensors file into the model.
 */
export function applyParamsFile(model: Model, path: string): void {
  const specs = model.manifest.params;
  const given = readRuntimeTensors(path, specs, 'a param or optimizer state');
  const missing = specs.filter((p) => p.role === 'param' && !Object.hasOwn(given, p.name)).map((p) => p.name);
  if (missing.length > 0)
    throw new UserError(
      `${path}: missing param${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}`,
    );
  try {
    model.setParams(given);
  } catch (e) {
    if (e instanceof KilnRuntimeError) throw new UserError(`${path}: ${e.message}`);
    throw e;
  }
}
