// `--inputs` of the commands that run a model (run, grad, jvp, vjp and
// attribute; CLI.md v1 "data everywhere"), on every target. A .safetensors
// file is read as `kiln run` always read it: tensors named like the inputs,
// dtypes checked, shapes left to the runtime or the interpreter, which name
// the input and its declared type. Every other DATA form of `kiln train`
// (fashion-mnist[:train|:test], a .csv file, an IDX or .npy directory) is
// loaded and bound to the inputs as `kiln train --eval` loads it, so
// `fashion-mnist` alone and an IDX directory of several sets mean the test
// set. The inputs are those of the program the command runs: all of the
// model's for run, grad, jvp and vjp (a classifier's labels too, which its
// loss reads), none of the tangents or cotangents, which stay safetensors.
// `--limit N` keeps the first N examples.

import type { RefTensor } from '../../compiler/interpret.js';
import type { ModelTensor } from '../../compiler/model.js';
import type { Tensor } from '../../runtime/executor.js';
import type { DimSpec, TensorSpec } from '../../runtime/manifest.js';
import { missingTensor } from '../data/bind.js';
import { checkInputIds } from '../data/ids.js';
import type { CsvColumns } from '../data/dataset.js';
import { checkColumnOptions, dataForm, loadData } from '../data/load.js';
import { UsageError } from '../errors.js';
import { readTensors } from '../tensors.js';
import { readRuntimeTensors, tensorSpec } from './common.js';

/** What a command that reads `--inputs` is given (and, for .csv data, `--x-cols` and `--y-col`). */
export interface InputOptions extends CsvColumns {
  /** DATA: a .safetensors or .csv file, a directory of .npy or IDX files, or fashion-mnist[:train|:test]. */
  readonly inputs: string;
  /** Only the first N examples. */
  readonly limit?: number;
}

/** `--inputs` as the runtime's tensors, for `specs`: the inputs of the program the command runs. */
export async function readInputs(opts: InputOptions, specs: readonly TensorSpec[]): Promise<Record<string, Tensor>> {
  if (!isSafetensors(opts)) return limited(await readExamples(opts.inputs, specs, opts), specs, opts.limit);
  const tensors = present(opts.inputs, specs, readRuntimeTensors(opts.inputs, specs, 'an input'));
  checkInputIds(opts.inputs, tensors);
  return limited(tensors, specs, opts.limit);
}

/**
 * `--inputs` as the reference interpreter's float64 tensors, for the
 * model's inputs: a .safetensors file's F64 values stay exact.
 */
export async function readReferenceInputs(
  opts: InputOptions,
  inputs: readonly ModelTensor[],
): Promise<Map<string, RefTensor>> {
  const specs = inputs.map(tensorSpec);
  if (isSafetensors(opts)) {
    const tensors = readTensors(opts.inputs, inputs, 'an input');
    checkInputIds(opts.inputs, Object.fromEntries(tensors));
    return new Map(
      Object.entries(limited(present(opts.inputs, specs, Object.fromEntries(tensors)), specs, opts.limit)),
    );
  }
  const examples = limited(await readExamples(opts.inputs, specs, opts), specs, opts.limit);
  return new Map(
    specs.map((s) => {
      const t = examples[s.name]!;
      return [s.name, { dtype: s.dtype, shape: [...t.shape], data: Float64Array.from(t.data) }];
    }),
  );
}

/**
 * The examples of DATA, bound to `specs` (every one present, batch-first,
 * the same number of examples in each): .safetensors too, read this way.
 */
export async function readExamples(
  source: string,
  specs: readonly TensorSpec[],
  csv: CsvColumns = {},
): Promise<Record<string, Tensor>> {
  const { dataset } = await loadData(source, { inputs: specs, role: 'eval', csv });
  return { ...dataset.tensors };
}

/** Whether `--inputs` is a .safetensors file (after checking that --x-cols and --y-col go with .csv data). */
function isSafetensors(opts: InputOptions): boolean {
  const form = dataForm(opts.inputs);
  checkColumnOptions(opts.inputs, form, opts);
  return form === 'safetensors';
}

/** `tensors` once every input is there; else an error naming the file and the first missing input. */
function present<T>(source: string, specs: readonly TensorSpec[], tensors: Record<string, T>): Record<string, T> {
  const missing = specs.find((s) => !Object.hasOwn(tensors, s.name));
  if (missing) throw missingTensor(source, missing);
  return tensors;
}

type Sliceable = { readonly shape: readonly number[]; readonly data: Tensor['data'] | Float64Array };

/**
 * The first `limit` examples: the first entries along the examples
 * dimension, the symbolic first dimension of the first input that has one,
 * of every input whose first dimension it is (others are kept whole).
 */
function limited<T extends Sliceable>(
  tensors: Record<string, T>,
  specs: readonly TensorSpec[],
  limit: number | undefined,
): Record<string, T> {
  if (limit === undefined) return tensors;
  const examples = specs.map((s) => s.shape[0]).find((d) => d !== undefined && typeof d !== 'number');
  if (!examples)
    throw new UsageError(
      '--limit keeps the first N examples, but no input of the model has a symbolic first dimension (like B) to count them',
    );
  const out: Record<string, T> = { ...tensors };
  for (const s of specs) {
    const t = tensors[s.name];
    if (!t || t.shape.length === 0 || !sameDim(s.shape[0], examples)) continue;
    const n = Math.min(limit, t.shape[0]!);
    const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
    out[s.name] = { ...t, shape: [n, ...t.shape.slice(1)], data: t.data.slice(0, n * per) };
  }
  return out;
}

function sameDim(a: DimSpec | undefined, b: DimSpec): boolean {
  if (a === undefined || typeof a === 'number' || typeof b === 'number') return a === b;
  return a.coef === b.coef && a.syms.length === b.syms.length && a.syms.every((s, i) => s === b.syms[i]);
}
