// Loading a .kiln file for a command: parse and check it, pick the model the
// user meant, and produce its parameters (from a file or initialised).

import { statSync } from 'node:fs';
import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import { loadKilnFile } from '../dsl/frontend.js';
import { didYouMean } from '../dsl/source.js';
import { evalShape } from '../compiler/types.js';
import type { RefTensor } from '../compiler/interpret.js';
import { initParam } from '../compiler/init.js';
import { UserError } from './errors.js';
import { readTensors } from './tensors.js';

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
