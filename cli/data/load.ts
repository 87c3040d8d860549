// DATA (`kiln train --data` and `--eval`, every `--inputs`): which form it is (CLI.md), and its dataset.
//   fashion-mnist[:train|:test]   Debian's dataset-fashion-mnist, else the shipped subset
//                                 (a missing path without an extension: an unknown data set)
//   FILE.safetensors              tensors named like the inputs
//   FILE.csv                      --x-cols / --y-col
//   DIR with *.npy                one .npy per input
//   DIR with IDX files, DIR/SET   *-images-idx3-ubyte[.gz], *-labels-idx1-ubyte[.gz]

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, UserError } from '../errors.js';
import { loadCsv } from './csv.js';
import type { CsvColumns, Dataset, LoadContext } from './dataset.js';
import { FASHION_MNIST, isFashionMnist, resolveFashionMnist } from './fashion-mnist.js';
import { idxSetAt, idxSets, loadIdxSet, pickIdxSet } from './idx-dir.js';
import { loadNpyDir, npyFiles } from './npy-dir.js';
import { loadSafetensorsData } from './safetensors.js';
import { checkFinite } from './finite.js';
import { checkIds } from './ids.js';

export type DataForm = 'fashion-mnist' | 'safetensors' | 'csv' | 'npy' | 'idx';

export interface LoadedData {
  readonly dataset: Dataset;
  readonly form: DataForm;
  /** Where a named set came from (fashion-mnist), for the header line. */
  readonly origin?: string;
}

export async function loadData(data: string, ctx: LoadContext): Promise<LoadedData> {
  const loaded = await loadForm(data, ctx);
  // IDX images are bytes scaled to [0, 1]: finite by construction.
  for (const [name, t] of Object.entries(loaded.dataset.tensors)) {
    const file = loaded.form === 'npy' ? join(data, `${name}.npy`) : data;
    if (loaded.form !== 'idx' && loaded.form !== 'fashion-mnist') checkFinite(file, name, t.shape, t.data);
    checkIds(file, name, t.shape, t.data);
  }
  return loaded;
}

async function loadForm(data: string, ctx: LoadContext): Promise<LoadedData> {
  const form = dataForm(data);
  checkColumnOptions(data, form, ctx.csv);
  switch (form) {
    case 'fashion-mnist': {
      const { set, origin } = resolveFashionMnist(data, ctx.role);
      return { dataset: loadIdxSet(set, ctx), form, origin };
    }
    case 'csv':
      return { dataset: await loadCsv(data, ctx), form };
    case 'npy':
      return { dataset: loadNpyDir(data, ctx), form };
    case 'idx':
      return { dataset: loadIdxSet(idxSetAt(data) ?? pickIdxSet(data, ctx.role), ctx), form };
    case 'safetensors':
      return { dataset: loadSafetensorsData(data, ctx), form };
  }
}

/** `--x-cols` and `--y-col` choose the columns of .csv data only. */
export function checkColumnOptions(data: string, form: DataForm, csv: CsvColumns): void {
  if (form !== 'csv' && (csv.xCols !== undefined || csv.yCol !== undefined))
    throw new UsageError(`--x-cols and --y-col choose the columns of .csv data, and ${data} is not a .csv file`);
}

/** The form of DATA, from its name and, for directories, what they hold. */
export function dataForm(data: string): DataForm {
  if (isFashionMnist(data)) return 'fashion-mnist';
  if (isDir(data)) {
    const npy = npyFiles(data).size > 0;
    const idx = idxSets(data).size > 0;
    if (npy && idx) throw new UserError(`${data}: holds both .npy and IDX files; keep one form per directory`);
    if (npy) return 'npy';
    if (idx) return 'idx';
    const seen = readdirSync(data).slice(0, 5).join(', ');
    throw new UserError(
      `${data}: holds neither .npy files named like the inputs nor IDX files (*-images-idx3-ubyte[.gz])${seen ? `; found ${seen}` : ' (it is empty)'}`,
    );
  }
  if (/\.csv$/i.test(data)) return 'csv';
  if (/\.npy$/i.test(data))
    throw new UserError(`${data}: give the directory that holds one .npy file per input, not a single .npy file`);
  if (!existsSync(data)) {
    if (idxSetAt(data)) return 'idx';
    // A name without an extension is more likely a misspelled data set than a missing file.
    if (!/\.[^/\\]*$/.test(data))
      throw new UserError(
        `cannot read ${data}: no such file, directory or data set (the data sets: ${FASHION_MNIST}, ${FASHION_MNIST}:train, ${FASHION_MNIST}:test)`,
      );
  }
  // Anything else is read as safetensors, whose reader names the file in every error.
  return 'safetensors';
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
