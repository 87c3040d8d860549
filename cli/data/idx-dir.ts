// The IDX form: a directory holding `<set>-images-idx3-ubyte[.gz]` and
// `<set>-labels-idx1-ubyte[.gz]` (or the path of one set, `DIR/<set>`).
// `--data` takes the `train` set and `--eval` the `t10k` (or `test`) set when
// the directory holds several. Images become f32 in [0, 1], reshaped to the
// model's f32 input; labels become i32 for its i32 label input.

import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Tensor } from '../../runtime/executor.js';
import type { TensorSpec } from '../../runtime/manifest.js';
import { formatTensorType } from '../../runtime/validate.js';
import { UserError } from '../errors.js';
import { bindDataset } from './bind.js';
import type { DataRole, Dataset, LoadContext } from './dataset.js';
import { type IdxArray, readIdxFile } from './idx.js';

/** One set's files. */
export interface IdxSet {
  /** `DIR/<set>`, for messages. */
  readonly name: string;
  readonly images: string;
  readonly labels: string | undefined;
}

const FILE = /^(.+)-(images-idx3|labels-idx1)-ubyte(\.gz)?$/;

/** The IDX sets of a directory, by set name (`train`, `t10k`, ...). */
export function idxSets(dir: string): Map<string, IdxSet> {
  const found = new Map<string, { images?: string; labels?: string }>();
  for (const f of readdirSync(dir).sort()) {
    const m = FILE.exec(f);
    if (!m) continue;
    const entry = found.get(m[1]!) ?? {};
    const key = m[2] === 'images-idx3' ? 'images' : 'labels';
    entry[key] ??= join(dir, f);
    found.set(m[1]!, entry);
  }
  const out = new Map<string, IdxSet>();
  for (const [set, f] of found)
    if (f.images) out.set(set, { name: join(dir, set), images: f.images, labels: f.labels });
  return out;
}

/** The set a path names directly (`DIR/train`), if its files exist. */
export function idxSetAt(path: string): IdxSet | undefined {
  const file = (kind: string) => [`${path}-${kind}-ubyte`, `${path}-${kind}-ubyte.gz`].find((p) => existsSync(p));
  const images = file('images-idx3');
  if (!images) return undefined;
  return { name: path, images, labels: file('labels-idx1') };
}

const SET_NAMES: Record<DataRole, readonly string[]> = { train: ['train'], eval: ['t10k', 'test'] };

/** The set of a directory for `--data` (train) or `--eval` (t10k/test). */
export function pickIdxSet(dir: string, role: DataRole): IdxSet {
  const sets = idxSets(dir);
  if (sets.size === 1) return [...sets.values()][0]!;
  for (const name of SET_NAMES[role]) {
    const s = sets.get(name);
    if (s) return s;
  }
  const names = [...sets.keys()];
  throw new UserError(
    `${dir}: holds the IDX sets ${names.join(', ')} and none is called ${SET_NAMES[role].join(' or ')}; name one, as in ${join(dir, names[0]!)}`,
  );
}

export function loadIdxSet(set: IdxSet, ctx: LoadContext): Dataset {
  const images = readIdxFile(set.images);
  const labels = set.labels === undefined ? undefined : readIdxFile(set.labels);
  return bindDataset(set.name, idxTensors(set, images, labels, ctx.inputs), ctx.inputs);
}

/** Images to the model's f32 input (scaled to [0, 1]), labels to its i32 input of shape [B]. */
function idxTensors(
  set: IdxSet,
  images: IdxArray,
  labels: IdxArray | undefined,
  inputs: readonly TensorSpec[],
): Record<string, Tensor> {
  const n = images.dims[0]!;
  const perImage = images.dims.slice(1).reduce((a, b) => a * b, 1);
  const size = images.dims.slice(1).join('×');
  const floats = inputs.filter((s) => s.dtype === 'f32');
  const labelInputs = inputs.filter((s) => s.dtype === 'i32' && s.shape.length === 1);
  const model = inputs.map((s) => `${s.name}: ${formatTensorType(s.dtype, s.shape)}`).join(', ');
  if (floats.length !== 1)
    throw new UserError(
      `${set.name}: IDX images feed one f32 input, but the model's inputs are ${model}; use .safetensors or .npy data`,
    );
  const image = floats[0]!;
  const shape = image.shape.slice(1);
  if (shape.some((d) => typeof d !== 'number') || shape.reduce<number>((a, d) => a * (d as number), 1) !== perImage)
    throw new UserError(
      `${basename(set.images)}: images of ${size} (${perImage} values) do not fit input '${image.name}' ${formatTensorType(image.dtype, image.shape)} (in ${dirname(set.images)})`,
    );
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i]! / 255;
  const out: Record<string, Tensor> = { [image.name]: { data: pixels, shape: [n, ...(shape as number[])] } };
  const rest = inputs.filter((s) => s !== image);
  if (rest.length === 0) return out;
  if (rest.length > 1 || labelInputs.length !== 1 || rest[0] !== labelInputs[0])
    throw new UserError(
      `${set.name}: IDX data holds images and labels, but the model's inputs are ${model} (expected an f32 image input and an i32 label input of shape [B])`,
    );
  if (!labels || !set.labels)
    throw new UserError(
      `${set.name}: no labels file (${basename(set.name)}-labels-idx1-ubyte[.gz]) for input '${rest[0]!.name}'`,
    );
  if (labels.dims.length !== 1 || labels.dims[0] !== n)
    throw new UserError(
      `${set.labels}: holds ${labels.dims.join('×')} labels, but ${basename(set.images)} holds ${n} images`,
    );
  out[rest[0]!.name] = { data: Int32Array.from(labels.data), shape: [n] };
  return out;
}
