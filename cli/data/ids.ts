// Ids and labels out of range are refused before any step (CLI.md v1.1): a
// `take` index outside its table, a class label outside [0, C), a negative
// id, a binary cross-entropy target outside [0, 1]. The kernels would clamp
// such an id (or pick no class) and train on without a word. The ranges come
// from the model (compiler/id-ranges.ts); the model a command line loads
// registers them here (cli/model.ts; an artifact's manifest carries them),
// and every reader of inputs (data,
// --inputs, eval data) checks its tensors against them, beside the check
// for non-finite values.

import { type IdRange, idRanges } from '../../compiler/id-ranges.js';
import type { ModelContract } from '../../compiler/model.js';
import { UserError } from '../errors.js';
import { unflatten } from './finite.js';

let model: ModelContract | undefined;
let ranges: ReadonlyMap<string, IdRange> | undefined;

/** The model whose inputs this command line reads (undefined: none, e.g. an artifact). */
export function useModelIds(m: ModelContract | undefined): void {
  if (m === model) return;
  model = m;
  ranges = undefined;
}

/** An artifact's ranges, from its manifest (`ids`): it carries no model to derive them from. */
export function useArtifactIds(ids: Readonly<Record<string, IdRange>> | undefined): void {
  model = undefined;
  ranges = new Map(Object.entries(ids ?? {}));
}

/** Computed when first needed: lowering the model is skipped by commands that read no inputs. */
function rangesNow(): ReadonlyMap<string, IdRange> {
  ranges ??= model ? idRanges(model.lower({ training: false })) : new Map();
  return ranges;
}

/** The flat index of the first value outside `r`, or -1. */
export function firstOutside(data: ArrayLike<number>, r: IdRange): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // NaN reaches here only with --allow-nonfinite (checkFinite refuses it first).
    if (Number.isNaN(v)) continue;
    if (!(v >= r.lo && (r.hiIncluded ? v <= r.hi : v < r.hi))) return i;
  }
  return -1;
}

/** Refuses an input tensor holding a value outside its range, naming the first one. */
export function checkIds(file: string, name: string, shape: readonly number[], data: ArrayLike<number>): void {
  const r = rangesNow().get(name);
  if (!r) return;
  const i = firstOutside(data, r);
  if (i < 0) return;
  throw new UserError(
    `${file}: tensor '${name}' holds ${String(data[i])} at [${unflatten(i, shape).join(', ')}]; ${r.why}`,
  );
}

/** checkIds for each of a command's input tensors. */
export function checkInputIds(
  file: string,
  tensors: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: ArrayLike<number> }>>,
): void {
  for (const [name, t] of Object.entries(tensors)) checkIds(file, name, t.shape, t.data);
}
