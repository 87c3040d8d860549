// The `.csv` form (csv-parse): one example per row, feature columns
// (`--x-cols`) into the model's features input and one label column
// (`--y-col`) into its label input. A first row that is not all numbers is a
// header. Values are checked against the input's dtype cell by cell, and
// errors name the file, line and column.

import { parse } from 'csv-parse';
import type { Tensor } from '../../runtime/executor.js';
import type { DTypeSpec, TensorSpec } from '../../runtime/manifest.js';
import { formatTensorType } from '../../runtime/validate.js';
import { UsageError, UserError } from '../errors.js';
import { bindDataset } from './bind.js';
import { type ColumnChoice, chooseColumns, describe } from './csv-columns.js';
import type { Dataset, LoadContext } from './dataset.js';
import { fileError } from './files.js';
import { Growable } from './growable.js';
import { readRegularFile } from '../../runtime/regular-file.js';

interface CsvTargets {
  readonly features: TensorSpec;
  /** Per-example shape of the features input (static). */
  readonly shape: readonly number[];
  readonly label: TensorSpec | undefined;
}

export async function loadCsv(path: string, ctx: LoadContext): Promise<Dataset> {
  const targets = csvTargets(path, ctx.inputs);
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path);
  } catch (e) {
    throw fileError(path, e);
  }
  const parser = parse(bytes, { bom: true, trim: true, skip_empty_lines: true, info: true });
  const x = new Growable(targets.features.dtype);
  const y = targets.label && new Growable(targets.label.dtype);
  let header: string[] | undefined;
  let cols: ColumnChoice | undefined;
  let n = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (!cols) {
        header = record.some((s) => !isNumber(s)) ? record : undefined;
        cols = chooseColumns(header, record.length, ctx.csv, targets.label?.name);
        checkWidth(path, cols, targets);
        if (header) continue;
      }
      const cell = (i: number, input: TensorSpec) =>
        value(record[i]!, input.dtype, () => `${path}:${line}: column ${describe(i, header)}`, input);
      for (const i of cols.x) x.push(cell(i, targets.features));
      if (y && cols.y !== undefined) y.push(cell(cols.y, targets.label!));
      n++;
    }
  } catch (e) {
    if (e instanceof UserError || e instanceof UsageError) throw e;
    throw new UserError(`${path}: ${(e as Error).message}`);
  }
  const tensors: Record<string, Tensor> = {
    [targets.features.name]: { data: x.values(), shape: [n, ...targets.shape] },
  };
  if (y && targets.label) tensors[targets.label.name] = { data: y.values(), shape: [n] };
  return bindDataset(path, tensors, ctx.inputs);
}

/** Which input the features feed and which the label: the label input is the one of shape [B]. */
function csvTargets(path: string, inputs: readonly TensorSpec[]): CsvTargets {
  const model = inputs.map((s) => `${s.name}: ${formatTensorType(s.dtype, s.shape)}`).join(', ');
  if (inputs.length === 0 || inputs.length > 2)
    throw new UserError(
      `${path}: a CSV file feeds one features input and one label input; the model's inputs are ${model}`,
    );
  const rank1 = inputs.filter((s) => s.shape.length === 1);
  const label = inputs.length === 1 ? undefined : rank1.length === 1 ? rank1[0]! : inputs[1]!;
  const features = inputs.find((s) => s !== label)!;
  const shape = features.shape.slice(1);
  if (label && label.shape.length !== 1)
    throw new UserError(
      `${path}: the label column feeds input '${label.name}', but it is ${formatTensorType(label.dtype, label.shape)}, not one value per example`,
    );
  if (shape.some((d) => typeof d !== 'number'))
    throw new UserError(
      `${path}: input '${features.name}' is ${formatTensorType(features.dtype, features.shape)}: CSV features need static dimensions after the first`,
    );
  return { features, shape: shape as number[], label };
}

function checkWidth(path: string, cols: ColumnChoice, targets: CsvTargets): void {
  const want = targets.shape.reduce((a, b) => a * b, 1);
  if (cols.x.length !== want)
    throw new UserError(
      `${path}: ${cols.x.length} feature column${cols.x.length === 1 ? '' : 's'} for input '${targets.features.name}' ${formatTensorType(targets.features.dtype, targets.features.shape)}, which takes ${want} values per example (choose them with --x-cols)`,
    );
}

function isNumber(s: string): boolean {
  return s.trim() !== '' && !Number.isNaN(Number(s));
}

/** A cell as the input's dtype, or a user error naming the line and column. */
function value(text: string, dtype: DTypeSpec, where: () => string, input: TensorSpec): number {
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new UserError(`${where()} holds '${text}', not a number`);
  if (dtype === 'i32' && (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31))
    throw new UserError(`${where()} holds ${text}, but input '${input.name}' is i32 (an integer)`);
  if (dtype === 'bool' && v !== 0 && v !== 1)
    throw new UserError(`${where()} holds ${text}, but input '${input.name}' is bool (0 or 1)`);
  if (dtype === 'f32' && Number.isFinite(v) && !Number.isFinite(Math.fround(v)))
    throw new UserError(`${where()} holds ${text}, which does not fit f32`);
  return v;
}
