// Loading a .kiln file for a command: parse and check it, pick the model the
// user meant, produce its parameters (from a file or initialised), and pick
// the output a gradient is of.

import { statSync } from 'node:fs';
import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import { loadKilnFile } from '../dsl/frontend.js';
import { didYouMean } from '../dsl/source.js';
import { evalShape, formatType } from '../compiler/types.js';
import type { RefTensor } from '../compiler/interpret.js';
import { initParam } from '../compiler/init.js';
import { UserError } from './errors.js';
import { paramsOverLimit } from './memory-estimate.js';
import { readTensors } from './tensors.js';
import { useModelIds } from './data/ids.js';

export interface LoadedModel {
  readonly path: string;
  readonly model: CheckedModel;
  /** The train block for this model, if the file has one. */
  readonly train: CheckedTrain | undefined;
  readonly loaded: ReturnType<typeof loadKilnFile>;
}

export function loadModel(path: string, modelName: string | undefined): LoadedModel {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // a missing file is reported by loadKilnFile with its own message
  }
  if (isDir)
    throw new UserError(
      `${path} is a compiled artifact; this command needs the .kiln source (run and train accept artifacts)`,
    );
  const loaded = loadKilnFile(path);
  const { models, trains } = loaded.result;
  if (models.length === 0) throw new UserError(`${path}: the file defines no model`);
  let model: CheckedModel | undefined;
  if (modelName !== undefined) {
    model = models.find((m) => m.name === modelName);
    if (!model) {
      const hint = didYouMean(
        modelName,
        models.map((m) => m.name),
      );
      throw new UserError(
        `${path}: no model named '${modelName}'${hint ? `; did you mean '${hint}'?` : ''} (models: ${models.map((m) => m.name).join(', ')})`,
      );
    }
  } else {
    const firstTrained = trains[0] && models.find((m) => m.name === trains[0]!.model);
    model = models.length === 1 ? models[0]! : (firstTrained ?? models[0]!);
  }
  const train = trains.find((t) => t.model === model.name);
  // Before anything is compiled or allocated: an allocation that large fails deep inside.
  const over = paramsOverLimit(model);
  if (over !== undefined) throw new UserError(over);
  // The inputs this command line reads are this model's: their ids are checked against it.
  useModelIds(model);
  return { path, model, train, loaded };
}

export function initialParams(model: CheckedModel, seed: number): Map<string, RefTensor> {
  const out = new Map<string, RefTensor>();
  for (const p of model.params) {
    const shape = evalShape(p.type.shape, new Map());
    const data = initParam(p.init, shape, p.type.dtype, seed, p.name);
    out.set(p.name, { dtype: p.type.dtype, shape, data: Float64Array.from(data) });
  }
  return out;
}

/** Parameters from `--params` (all of them must be there) or freshly initialised. */
export function modelParams(model: CheckedModel, paramsPath: string | undefined, seed: number): Map<string, RefTensor> {
  if (paramsPath === undefined) return initialParams(model, seed);
  const params = readTensors(paramsPath, model.params, 'a param');
  const missing = model.params.filter((p) => !params.has(p.name)).map((p) => p.name);
  if (missing.length > 0)
    throw new UserError(
      `${paramsPath}: missing param${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}`,
    );
  return params;
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
