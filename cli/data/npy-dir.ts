// The directory-of-.npy form: `x.npy`, `y.npy`, ... named like the model's
// inputs, examples first. Other files are ignored; a .npy file that names no
// input is an error (usually a typo), as in the safetensors form.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../../runtime/executor.js';
import { UserError } from '../errors.js';
import { fileError } from './files.js';
import { bindDataset } from './bind.js';
import { convertNumbers } from './convert.js';
import type { Dataset, LoadContext } from './dataset.js';
import { parseNpy } from './npy.js';
import { readRegularFile } from '../../runtime/regular-file.js';

/** The .npy files of a directory, by name without the extension. */
export function npyFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.npy')) out.set(f.slice(0, -'.npy'.length), join(dir, f));
  return out;
}

export function loadNpyDir(dir: string, ctx: LoadContext): Dataset {
  const files = npyFiles(dir);
  const byName = new Map(ctx.inputs.map((s) => [s.name, s]));
  const tensors: Record<string, Tensor> = {};
  for (const [name, path] of files) {
    const spec = byName.get(name);
    if (!spec)
      throw new UserError(
        `${path}: '${name}' is not an input of the model (expected ${ctx.inputs.map((s) => `${s.name}.npy`).join(', ')})`,
      );
    let bytes: Uint8Array;
    try {
      bytes = readRegularFile(path);
    } catch (e) {
      throw fileError(path, e);
    }
    const arr = parseNpy(bytes, path);
    const integer = arr.dtype !== 'f4' && arr.dtype !== 'f8';
    const src = { label: arr.descr, integer, data: arr.data };
    const data = convertNumbers(`${path}: tensor '${name}'`, src, spec.dtype, arr.shape);
    tensors[name] = { data, shape: arr.shape };
  }
  for (const spec of ctx.inputs)
    if (!files.has(spec.name))
      throw new UserError(
        `${dir}: missing ${spec.name}.npy (the model's input '${spec.name}'); the directory holds ${[...files.keys()].map((k) => `${k}.npy`).join(', ') || 'no .npy files'}`,
      );
  return bindDataset(dir, tensors, ctx.inputs);
}
