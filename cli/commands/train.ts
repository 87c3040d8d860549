// `kiln train FILE --data DATA.safetensors`: minimal training (the full
// workflow of CLI.md comes later). One step = forward on a batch, gradient of
// the `minimize` output, fused optimizer update; on the wasm runtime (FILE a
// .kiln source or an artifact directory) or the float64 reference
// interpreter. Prints the loss per step (--steps) or per epoch as plain lines.

import { ParamRng } from '../../compiler/init.js';
import type { RefTensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep, stepScalars } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import type { Tensor, TensorData } from '../../runtime/executor.js';
import type { TensorSpec } from '../../runtime/manifest.js';
import { stepSeed } from '../../runtime/model.js';
import { writeSafetensorsFile } from '../../runtime/safetensors-node.js';
import type { StTensor } from '../../runtime/safetensors.js';
import { formatTensorType } from '../../runtime/validate.js';
import { UsageError, UserError } from '../errors.js';
import { initialParams, loadModel } from '../model.js';
import type { Output } from '../output.js';
import { fromRef } from '../tensors.js';
import {
  applyParamsFile,
  checkTarget,
  type CommonOptions,
  inputSpecs,
  isDirectory,
  readRuntimeTensors,
  toSafetensors,
  userErrors,
  wasmModel,
} from './common.js';

export interface TrainOptions extends CommonOptions {
  readonly data: string;
  readonly steps?: number;
  readonly epochs?: number;
  readonly batch: number;
  readonly shuffle: boolean;
  readonly lr?: number;
  readonly paramsIn?: string;
  readonly paramsOut?: string;
}

/** A training loop's view of a backend. */
interface Trainer {
  readonly name: string;
  readonly inputs: readonly TensorSpec[];
  step(batch: Record<string, Tensor>): Promise<number>;
  /** The params (not the optimizer state), as safetensors. */
  params(): Map<string, StTensor>;
  dispose(): void;
}

export async function trainCommand(file: string, opts: TrainOptions, out: Output): Promise<number> {
  checkTarget(opts.target);
  if (opts.steps !== undefined && opts.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  const trainer = opts.target === 'reference' ? referenceTrainer(file, opts) : await wasmTrainer(file, opts);
  try {
    const data = loadData(opts.data, trainer.inputs);
    await loop(trainer, data, opts, out);
    if (opts.paramsOut !== undefined) {
      try {
        writeSafetensorsFile(opts.paramsOut, trainer.params());
      } catch (e) {
        throw new UserError((e as Error).message);
      }
      out.stdout(`wrote the params to ${opts.paramsOut}\n`);
    }
    return 0;
  } finally {
    trainer.dispose();
  }
}

async function wasmTrainer(file: string, opts: TrainOptions): Promise<Trainer> {
  const { model, source, notes } = await wasmModel(file, opts, { training: true });
  try {
    if (!model.canTrain) {
      const why =
        source && !source.train ? 'it has no train block' : notes.join('; ') || 'the artifact has no training step';
      throw new UserError(`${file}: cannot train model '${model.name}': ${why}`);
    }
    if (opts.paramsIn !== undefined) applyParamsFile(model, opts.paramsIn);
    if (opts.lr !== undefined) {
      const lr = opts.lr;
      await userErrors(async () => model.setHyperparameter('lr', lr));
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return {
    name: model.name,
    inputs: model.inputs,
    step: (batch) => userErrors(() => model.step(batch)),
    params: () => {
      const out = new Map<string, StTensor>();
      for (const [k, t] of Object.entries(model.getParams({ state: false }))) out.set(k, toSafetensors(t, false));
      return out;
    },
    dispose: () => model.dispose(),
  };
}

function referenceTrainer(file: string, opts: TrainOptions): Trainer {
  if (isDirectory(file))
    throw new UserError(
      `${file}: a compiled artifact trains on --target wasm; the reference interpreter needs the .kiln source`,
    );
  const lm = loadModel(file, opts.model);
  if (!lm.train) throw new UserError(`${file}: cannot train model '${lm.model.name}': it has no train block`);
  let step: TrainStep;
  try {
    step = buildTrainStep(lm.model, lm.train);
  } catch (e) {
    throw new UserError(`${file}: cannot train model '${lm.model.name}': ${(e as Error).message}`);
  }
  if (opts.lr !== undefined)
    step = { ...step, optimizer: { ...step.optimizer, hyper: { ...step.optimizer.hyper, lr: opts.lr } } };
  const specs = [
    ...lm.model.params.map((p) => ({ name: p.name, dtype: p.type.dtype, shape: p.type.shape })),
    ...step.state.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape })),
  ];
  let params = new Map<string, RefTensor>([...initialParams(lm.model, opts.seed), ...initialState(step)]);
  if (opts.paramsIn !== undefined) {
    const given = readRuntimeTensors(opts.paramsIn, specs, 'a param or optimizer state');
    for (const p of lm.model.params)
      if (!Object.hasOwn(given, p.name)) throw new UserError(`${opts.paramsIn}: missing param '${p.name}'`);
    for (const [name, t] of Object.entries(given)) {
      const spec = specs.find((s) => s.name === name)!;
      const want = spec.shape as readonly number[];
      if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
        throw new UserError(
          `${opts.paramsIn}: tensor '${name}' has shape [${t.shape.join(', ')}], expected ${formatTensorType(spec.dtype, spec.shape)}`,
        );
      params.set(name, { dtype: spec.dtype, shape: [...t.shape], data: Float64Array.from(t.data) });
    }
  }
  let t = 0;
  const names = new Set(lm.model.params.map((p) => p.name));
  return {
    name: lm.model.name,
    inputs: inputSpecs(lm),
    step: async (batch) => {
      const refBatch = new Map<string, RefTensor>();
      for (const i of lm.model.inputs) {
        const b = batch[i.name]!;
        refBatch.set(i.name, { dtype: i.type.dtype, shape: [...b.shape], data: Float64Array.from(b.data) });
      }
      const r = referenceTrainStep(step, {
        params,
        batch: refBatch,
        scalars: stepScalars(step, t + 1),
        seed: stepSeed(opts.seed, t + 1),
      });
      t += 1;
      params = r.params;
      return r.loss;
    },
    params: () => new Map([...params].filter(([k]) => names.has(k)).map(([k, v]) => [k, fromRef(v, false)])),
    dispose: () => undefined,
  };
}

interface Data {
  /** Examples. */
  readonly n: number;
  readonly tensors: Readonly<Record<string, Tensor>>;
}

/** The training data: every input, first dimension = examples, the same count everywhere. */
export function loadData(path: string, inputs: readonly TensorSpec[]): Data {
  if (isDirectory(path))
    throw new UserError(`${path}: training data must be a .safetensors file (other formats come later)`);
  const tensors = readRuntimeTensors(path, inputs, 'an input');
  let n: number | undefined;
  let first = '';
  for (const spec of inputs) {
    const t = tensors[spec.name];
    const want = formatTensorType(spec.dtype, spec.shape);
    if (!t) throw new UserError(`${path}: missing tensor '${spec.name}' (the model's input ${want}, examples first)`);
    if (spec.shape.length === 0 || typeof spec.shape[0] === 'number')
      throw new UserError(
        `input '${spec.name}' is ${want}: training batches the first dimension, so it must be symbolic (like B)`,
      );
    if (t.shape.length !== spec.shape.length)
      throw new UserError(
        `${path}: tensor '${spec.name}' has shape [${t.shape.join(', ')}], but input '${spec.name}' is ${want} (examples first)`,
      );
    spec.shape.forEach((d, i) => {
      if (typeof d === 'number' && t.shape[i] !== d)
        throw new UserError(
          `${path}: tensor '${spec.name}' has shape [${t.shape.join(', ')}], but input '${spec.name}' is ${want} (dimension ${i} is ${t.shape[i]}, expected ${d})`,
        );
    });
    const count = t.shape[0]!;
    if (n === undefined) {
      n = count;
      first = spec.name;
    } else if (count !== n)
      throw new UserError(
        `${path}: tensor '${spec.name}' has ${count} examples but '${first}' has ${n} (the first dimension counts examples)`,
      );
  }
  if (n === undefined || n === 0) throw new UserError(`${path}: the data holds no examples`);
  return { n, tensors };
}

/** Rows `idx` (or [lo, hi)) of a tensor whose first dimension counts examples. */
function rows(t: Tensor, lo: number, hi: number, order: readonly number[] | undefined): Tensor {
  const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const shape = [hi - lo, ...t.shape.slice(1)];
  if (!order) return { data: t.data.subarray(lo * row, hi * row) as TensorData, shape };
  const ctor = t.data.constructor as new (n: number) => TensorData;
  const data = new ctor((hi - lo) * row);
  for (let i = lo; i < hi; i++) data.set(t.data.subarray(order[i]! * row, (order[i]! + 1) * row), (i - lo) * row);
  return { data, shape };
}

/** A seeded permutation of 0..n-1 for an epoch (Fisher-Yates). */
function permutation(n: number, seed: number, epoch: number): number[] {
  const rng = new ParamRng(seed, `shuffle.${epoch}`);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.nextUniform() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

function fmt(x: number): string {
  return x.toPrecision(6);
}

async function loop(trainer: Trainer, data: Data, opts: TrainOptions, out: Output): Promise<void> {
  const batch = Math.min(opts.batch, data.n);
  const perEpoch = Math.ceil(data.n / batch);
  const epochs = opts.epochs ?? (opts.steps === undefined ? 1 : Math.ceil(opts.steps / perEpoch));
  const total = opts.steps ?? epochs * perEpoch;
  const perStep = opts.steps !== undefined;
  out.stdout(
    `training ${trainer.name} on ${data.n} examples: ${total} steps of batch ${batch}` +
      `${perStep ? '' : ` (${epochs} epoch${epochs === 1 ? '' : 's'})`}${opts.shuffle ? '' : ', in order'}\n`,
  );
  let t = 0;
  let last = NaN;
  for (let epoch = 0; t < total; epoch++) {
    const order = opts.shuffle ? permutation(data.n, opts.seed, epoch) : undefined;
    let sum = 0;
    let seen = 0;
    for (let s = 0; s < perEpoch && t < total; s++) {
      const lo = s * batch;
      const hi = Math.min(data.n, lo + batch);
      const b: Record<string, Tensor> = {};
      for (const [name, tensor] of Object.entries(data.tensors)) b[name] = rows(tensor, lo, hi, order);
      const loss = await trainer.step(b);
      t += 1;
      if (!Number.isFinite(loss))
        throw new UserError(`the loss became ${loss} at step ${t}; stopping (no params written)`);
      if (perStep) out.stdout(`step ${t}/${total}  loss ${fmt(loss)}\n`);
      sum += loss * (hi - lo);
      seen += hi - lo;
      last = loss;
    }
    if (!perStep) out.stdout(`epoch ${epoch + 1}/${epochs}  loss ${fmt(sum / seen)}\n`);
  }
  out.stdout(`final loss ${fmt(last)}\n`);
}
