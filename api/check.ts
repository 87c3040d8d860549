// `check`: parse and type-check a source; every model's tensors and every
// train block as data, or the diagnostics.

import { evalDim, formatDim, isStatic, numel } from '../compiler/types.js';
import type { ModelTensor } from '../compiler/model.js';
import type { Diagnostic } from './diagnostics.js';
import { toDiagnostic } from './diagnostics.js';
import { type SourceOptions, checkText } from './source.js';

/** A tensor of a model: its dtype and shape (a symbolic dimension as its name, `B` or `2*B`). */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: 'f32' | 'i32' | 'bool';
  readonly shape: readonly (number | string)[];
  /** As Kiln writes it: `f32[B, 784]`. */
  readonly type: string;
}

export interface ParamInfo extends TensorInfo {
  /** Its number of elements. */
  readonly count: number;
}

export interface TrainInfo {
  /** The scalar output the step minimizes. */
  readonly minimize: string;
  readonly optimizer: string;
  /** Params the step leaves alone. */
  readonly freeze: readonly string[];
}

export interface ModelInfo {
  readonly name: string;
  readonly inputs: readonly TensorInfo[];
  readonly params: readonly ParamInfo[];
  readonly outputs: readonly TensorInfo[];
  /** The elements of all params. */
  readonly parameterCount: number;
  /** Its train block, when the source has one for it. */
  readonly train?: TrainInfo;
}

export interface CheckResult {
  /** No diagnostics. */
  readonly ok: boolean;
  /** The models that checked without errors, in source order. */
  readonly models: readonly ModelInfo[];
  /** Sorted by position; empty when `ok`. */
  readonly diagnostics: readonly Diagnostic[];
}

function tensorInfo(t: ModelTensor): TensorInfo {
  const shape = t.type.shape.map((d) => (isStatic(d) ? d : formatDim(d)));
  return { name: t.name, dtype: t.type.dtype, shape, type: `${t.type.dtype}[${shape.join(', ')}]` };
}

/** Parses and checks `source`; never throws for anything in the source. */
export function check(source: string, opts: SourceOptions = {}): CheckResult {
  const { result } = checkText(source, opts);
  const models = result.models.map((m): ModelInfo => {
    const params = m.params.map((p): ParamInfo => {
      const n = numel(p.type.shape);
      return { ...tensorInfo(p), count: isStatic(n) ? n : evalDim(n, new Map()) };
    });
    const t = result.trains.find((x) => x.model === m.name);
    return {
      name: m.name,
      inputs: m.inputs.map(tensorInfo),
      params,
      outputs: m.outputs.map(tensorInfo),
      parameterCount: params.reduce((a, p) => a + p.count, 0),
      ...(t && { train: { minimize: t.minimize, optimizer: t.optimizer.name, freeze: [...t.freeze] } }),
    };
  });
  return { ok: result.diagnostics.length === 0, models, diagnostics: result.diagnostics.map(toDiagnostic) };
}
