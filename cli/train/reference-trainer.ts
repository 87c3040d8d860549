// The Trainer over the float64 reference interpreter (`--target reference`):
// the training step graph evaluated with its assigns applied. Checkpoints
// keep its float64 values (F64), so a resumed run is exact here too.

import { compile } from '../../compiler/compile.js';
import { evaluate, type RefTensor } from '../../compiler/interpret.js';
import { initialState, referenceTrainStep, stepRefreshes, stepScalars } from '../../compiler/train-reference.js';
import type { Tensor, TensorData } from '../../runtime/executor.js';
import type { TensorSpec } from '../../runtime/manifest.js';
import { stepSeed } from '../../runtime/model.js';
import { innermost } from '../../runtime/optimizers/resolve.js';
import { formatTensorType } from '../../runtime/validate.js';
import { inputSpecs, isDirectory, readRuntimeTensors } from '../commands/common.js';
import { UserError } from '../errors.js';
import { initialParams, loadModel } from '../model.js';
import { fromRef, toRef } from '../tensors.js';
import type { Trainer } from './trainer.js';
import { EVAL_BATCH } from './evaluate.js';

export interface ReferenceTrainerOptions {
  readonly model?: string;
  readonly seed: number;
  readonly paramsIn?: string;
  readonly lr?: number;
}

export function referenceTrainer(file: string, opts: ReferenceTrainerOptions): Trainer {
  if (isDirectory(file))
    throw new UserError(
      `${file}: a compiled artifact trains on --target wasm; the reference interpreter needs the .kiln source`,
    );
  const lm = loadModel(file, opts.model);
  const compilation = compile(lm.model, lm.train);
  const built = compilation.step;
  if (built?.kind !== 'built')
    throw new UserError(`${file}: cannot train model '${lm.model.name}': ${built?.reason ?? 'it has no train block'}`);
  let { step } = built;
  if (opts.lr !== undefined)
    step = { ...step, optimizer: { ...step.optimizer, hyper: { ...step.optimizer.hyper, lr: opts.lr } } };
  const specs: TensorSpec[] = [
    ...lm.model.params.map((p) => ({ name: p.name, dtype: p.type.dtype, shape: p.type.shape })),
    ...step.state.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape })),
  ];
  let params = new Map<string, RefTensor>([...initialParams(lm.model, opts.seed), ...initialState(step)]);
  if (opts.paramsIn !== undefined) params = withParamsFile(params, opts.paramsIn, specs, lm.model.params);
  let t = 0;
  const names = new Set(lm.model.params.map((p) => p.name));
  // Schedule-free's evaluation point: `<param>.x` in place of each trained param (before any step, the params).
  const hasEval = innermost(step.optimizer).name === 'schedule_free_adamw';
  let atX = false;
  const evalPoint = () =>
    t === 0 ? params : new Map([...params].map(([k, v]) => [k, names.has(k) ? (params.get(`${k}.x`) ?? v) : v]));
  const forward = compilation.ir;
  const toRefBatch = (batch: Readonly<Record<string, Tensor>>) => {
    const out = new Map<string, RefTensor>();
    for (const i of lm.model.inputs) {
      const b = batch[i.name]!;
      out.set(i.name, { dtype: i.type.dtype, shape: [...b.shape], data: Float64Array.from(b.data) });
    }
    return out;
  };
  return {
    name: lm.model.name,
    target: 'reference',
    inputs: inputSpecs(lm),
    outputs: lm.model.outputs.map((o) => ({ name: o.name, dtype: o.type.dtype, shape: o.type.shape })),
    loss: step.loss,
    stepCount: () => t,
    evalBatch: EVAL_BATCH,
    step: async (batch) => {
      const r = referenceTrainStep(step, {
        params,
        batch: toRefBatch(batch),
        scalars: stepScalars(step, t + 1),
        seed: stepSeed(opts.seed, t + 1),
        refresh: stepRefreshes(step, t + 1),
      });
      t += 1;
      params = r.params;
      // The float64 interpreter has no fused flag: the new params are at hand, so look at them.
      const nonfinite = step.trainable.filter((p) => r.params.get(p)!.data.some((x) => !Number.isFinite(x)));
      return { loss: r.loss, nonfinite };
    },
    run: async (batch, outputs) => {
      const wanted = forward.outputs.filter((o) => outputs.includes(o.name));
      const values = evaluate(
        wanted.map((o) => o.node),
        { inputs: toRefBatch(batch), params: atX ? evalPoint() : params },
      );
      return Object.fromEntries(wanted.map((o, i) => [o.name, toTensor(values[i]!)]));
    },
    state: async () => new Map([...params].map(([k, v]) => [k, fromRef(v, true)])),
    params: async (o) => {
      if (o?.eval === true && !hasEval)
        throw new UserError(
          `model '${lm.model.name}' has no separate evaluation point (only schedule_free_adamw keeps one)`,
        );
      const from = o?.eval === true ? evalPoint() : params;
      return new Map([...from].filter(([k]) => names.has(k)).map(([k, v]) => [k, fromRef(v, false)]));
    },
    atEvalPoint: async (f) => {
      atX = hasEval && t > 0;
      try {
        return await f();
      } finally {
        atX = false;
      }
    },
    restore: async (state, step, source) => {
      const next = new Map<string, RefTensor>();
      for (const spec of specs) {
        const st = state.get(spec.name);
        if (!st) throw new UserError(`${source}: missing tensor '${spec.name}'`);
        next.set(spec.name, checked(toRef(spec.name, st, spec.dtype, source), spec, source));
      }
      params = next;
      t = step;
    },
    dispose: () => undefined,
  };
}

/** `--params-in`: every param, optionally optimizer state, shapes as declared. */
function withParamsFile(
  params: Map<string, RefTensor>,
  path: string,
  specs: readonly TensorSpec[],
  modelParams: readonly { readonly name: string }[],
): Map<string, RefTensor> {
  const given = readRuntimeTensors(path, specs, 'a param or optimizer state');
  for (const p of modelParams)
    if (!Object.hasOwn(given, p.name)) throw new UserError(`${path}: missing param '${p.name}'`);
  const out = new Map(params);
  for (const [name, t] of Object.entries(given)) {
    const spec = specs.find((s) => s.name === name)!;
    out.set(name, checked({ dtype: spec.dtype, shape: [...t.shape], data: Float64Array.from(t.data) }, spec, path));
  }
  return out;
}

function checked(t: RefTensor, spec: TensorSpec, source: string): RefTensor {
  const want = spec.shape as readonly number[];
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
    throw new UserError(
      `${source}: tensor '${spec.name}' has shape [${t.shape.join(', ')}], expected ${formatTensorType(spec.dtype, spec.shape)}`,
    );
  return t;
}

function toTensor(t: RefTensor): Tensor {
  const data: TensorData =
    t.dtype === 'f32'
      ? Float32Array.from(t.data)
      : t.dtype === 'i32'
        ? Int32Array.from(t.data)
        : Uint8Array.from(t.data);
  return { data, shape: [...t.shape] };
}
