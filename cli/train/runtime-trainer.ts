// The Trainer over the runtime `Model` (wasm or webgpu, as common.ts loads
// it): a .kiln source compiled in memory or an artifact directory.

import type { Model } from '../../runtime/model.js';
import { innermost } from '../../runtime/optimizers/resolve.js';
import type { StTensor } from '../../runtime/safetensors.js';
import type { Tensor } from '../../runtime/executor.js';
import { KilnRuntimeError } from '../../runtime/validate.js';
import { UserError } from '../errors.js';
import type { CommonOptions } from '../options.js';
import { applyParamsFile, openRuntimeModel, toRuntime, toSafetensors, userErrors } from '../commands/common.js';
import { largestBatch } from '../memory-estimate.js';
import { EVAL_BATCH } from './evaluate.js';
import type { Trainer } from './trainer.js';

export interface RuntimeTrainerOptions extends CommonOptions {
  readonly paramsIn?: string;
  readonly lr?: number;
  /** The run's --batch: the step's memory is estimated at it before anything is allocated. */
  readonly batch?: number;
}

export async function runtimeTrainer(file: string, opts: RuntimeTrainerOptions): Promise<Trainer> {
  const opened = await openRuntimeModel(file, opts, {
    training: true,
    ...(opts.batch !== undefined && { batch: opts.batch }),
  });
  // Evaluation's forward passes take fewer examples where EVAL_BATCH of them cannot fit.
  const evalBatch = largestBatch(opened, 'forward', new Map(), 1, EVAL_BATCH);
  const { model, source, notes } = await opened.load();
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
  return wrap(model, evalBatch);
}

/** Whether the model's optimizer keeps an evaluation point apart from its params (schedule-free's x). */
export function hasEvalPoint(model: Model): boolean {
  const opt = model.manifest.train?.optimizer;
  return opt !== undefined && innermost(opt).name === 'schedule_free_adamw';
}

function wrap(model: Model, evalBatch: number): Trainer {
  const tensors = async (state: boolean, evalPoint = false) => {
    const out = new Map<string, StTensor>();
    const got = await userErrors(() => model.getParams(evalPoint ? { eval: true } : { state }));
    for (const [k, t] of Object.entries(got)) out.set(k, toSafetensors(t, false));
    return out;
  };
  // Forward passes at x: swap x in, run, put y back (the step's params are y).
  const atEvalPoint = async <T>(f: () => Promise<T>): Promise<T> => {
    if (!hasEvalPoint(model) || model.stepCount === 0) return f();
    const y = await model.getParams({ state: false });
    model.setParams(await model.getParams({ eval: true }));
    try {
      return await f();
    } finally {
      model.setParams(y);
    }
  };
  return {
    name: model.name,
    target: model.target,
    inputs: model.inputs,
    outputs: model.outputs,
    loss: model.manifest.train!.loss,
    stepCount: () => model.stepCount,
    evalBatch,
    step: async (batch) => {
      const loss = await userErrors(() => model.step(batch));
      return { loss, nonfinite: model.lastStepNonfinite };
    },
    run: (batch, outputs) => userErrors(() => model.run(batch, { outputs })),
    state: () => tensors(true),
    params: (o) => tensors(false, o?.eval === true),
    atEvalPoint,
    restore: (state, step, source) => restore(model, state, step, source),
    dispose: () => model.dispose(),
  };
}

async function restore(
  model: Model,
  state: ReadonlyMap<string, StTensor>,
  step: number,
  source: string,
): Promise<void> {
  const values: Record<string, Tensor> = {};
  for (const spec of model.manifest.params) {
    const t = state.get(spec.name);
    if (!t)
      throw new UserError(`${source}: missing ${spec.role === 'param' ? 'param' : 'optimizer state'} '${spec.name}'`);
    values[spec.name] = toRuntime(spec.name, t, spec.dtype, source);
  }
  try {
    await model.setParams(values);
    model.setStepCount(step);
  } catch (e) {
    if (e instanceof KilnRuntimeError) throw new UserError(`${source}: ${e.message}`);
    throw e;
  }
}
