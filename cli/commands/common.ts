// Helpers shared by the commands that execute a model: loading it onto the
// runtime (from a .kiln source, compiled in memory, or from an artifact
// directory), and tensors in and out of safetensors files for the runtime.

import { statSync } from 'node:fs';
import { readSafetensorsFile, writeSafetensorsFile } from '../../runtime/safetensors-node.js';
import type { StIntTensor, StTensor } from '../../runtime/safetensors.js';
import type { DTypeSpec, EntryName, TensorSpec } from '../../runtime/manifest.js';
import { KilnRuntimeError, formatTensorType } from '../../runtime/validate.js';
import { type Model, loadArtifact, loadModel as loadArtifactDir } from '../../runtime/model.js';
import type { Tensor, TensorData } from '../../runtime/executor.js';
import type { RefTensor } from '../../compiler/interpret.js';
import { type Compilation, type GradRequest, compile } from '../../compiler/compile.js';
import type { ModelContract, ModelTensor } from '../../compiler/model.js';
import { dimSpec } from '../../compiler/target.js';
import { buildArtifact } from '../../targets/artifact.js';
import { loadTarget } from '../../targets/index.js';
import { batchDims, estimateOverLimit, planEstimate } from '../memory-estimate.js';
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
 * The model on the runtime (wasm or webgpu, from --target): an artifact
 * directory loaded as is (its own target), or a .kiln source compiled in
 * memory (params initialised with --seed) with the entries `build` asks for
 * (default `run`, and `step` when `training`).
 */
export async function runtimeModel(
  file: string,
  opts: CommonOptions,
  build: {
    readonly grad?: GradRequest;
    readonly training?: boolean;
    readonly entries?: readonly EntryName[];
    /** The batch the program will run at: refused before allocating when it cannot fit wasm's memory. */
    readonly batch?: number;
    /** Compile this view of the source's model instead (e.g. compiler/grad-cam.ts); sources only. */
    readonly view?: (model: ModelContract) => ModelContract;
  } = {},
  what = 'this command',
): Promise<RuntimeModel> {
  const loadOpts = { ...(opts.threads !== undefined && { threads: opts.threads }), seed: opts.seed };
  if (isDirectory(file)) {
    if (build.grad || build.view)
      throw new UserError(`${file}: ${what} needs the .kiln source, not a compiled artifact`);
    if (opts.model !== undefined) throw new UsageError('--model picks a model of a .kiln source, not of an artifact');
    const model = await userErrors(() => loadArtifactDir(file, loadOpts));
    // The manifest's id ranges check the data as a source's model would.
    useArtifactIds(model.manifest.ids);
    return { model, source: undefined, notes: [] };
  }
  const source = loadModel(file, opts.model);
  // Only `train` needs the training step: leaving it out saves compile time.
  const target = opts.target === 'webgpu' ? 'webgpu' : 'wasm';
  const model0 = build.view ? build.view(source.model) : source.model;
  const c = compile(model0, build.training ? source.train : undefined, {
    target,
    ...(build.grad && { grad: build.grad }),
  });
  if (target === 'wasm' && build.batch !== undefined) refuseOverWasm(c, build.batch, build.training === true);
  const gen = await loadTarget(
    target === 'wasm' ? { name: 'wasm', relaxedSimd: probeRelaxedSimd(), threads: true } : { name: 'webgpu' },
  );
  const artifact = buildArtifact(c, gen, { seed: opts.seed, ...(build.entries && { entries: build.entries }) });
  const model = await userErrors(() =>
    loadArtifact(artifact, loadOpts, {
      manifest: `${file} (compiled manifest)`,
      code: `${file} (compiled ${target === 'wasm' ? 'module' : 'shaders'})`,
      params: `${file} (initial params)`,
    }),
  );
  return { model, source, notes: artifact.notes };
}

/**
 * The memory plan of the program that will run (the training step, else the
 * forward pass) at `batch`, refused with its figures over 4 GiB. Every
 * symbol of the inputs' first dims is the batch; a plan with other symbols
 * (a sequence length) is left to the runtime's own check.
 */
function refuseOverWasm(c: Compilation, batch: number, training: boolean): void {
  const step = training && c.step?.kind === 'built' ? c.step.stages : undefined;
  const plan = (step ?? c.forward).memory;
  const dims = batchDims(c.model, batch);
  let estimate;
  try {
    estimate = planEstimate(plan, dims, new Set(c.model.params.map((p) => p.name)), batch);
  } catch {
    return;
  }
  const over = estimateOverLimit(c.model.name, estimate);
  if (over !== undefined) throw new UserError(over);
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
