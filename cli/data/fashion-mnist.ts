// The data name `fashion-mnist`: Debian's dataset-fashion-mnist package
// (60000 training and 10000 test images, gzipped IDX) when installed, else
// the class-balanced subset shipped in the repository's
// data/fashion-mnist-subset (written by scripts/make-fashion-subset.mjs).
// `fashion-mnist` is the training set for --data and the test set for
// --eval; `fashion-mnist:train` and `fashion-mnist:test` name one.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, UserError } from '../errors.js';
import type { DataRole } from './dataset.js';
import { type IdxSet, idxSetAt } from './idx-dir.js';

export const FASHION_MNIST = 'fashion-mnist';
export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
const SUBSET = join('data', 'fashion-mnist-subset');

export function isFashionMnist(data: string): boolean {
  return data === FASHION_MNIST || data.startsWith(`${FASHION_MNIST}:`);
}

/** The IDX set the name stands for, and where it came from (for the header line). */
export function resolveFashionMnist(data: string, role: DataRole): { set: IdxSet; origin: string } {
  const split = data === FASHION_MNIST ? (role === 'train' ? 'train' : 'test') : data.slice(FASHION_MNIST.length + 1);
  if (split !== 'train' && split !== 'test')
    throw new UsageError(
      `unknown split '${split}' of fashion-mnist (expected fashion-mnist:train or fashion-mnist:test)`,
    );
  const prefix = split === 'train' ? 'train' : 't10k';
  const debian = withLabels(idxSetAt(join(DEBIAN_FASHION_MNIST, prefix)));
  if (debian) return { set: debian, origin: `Debian's dataset-fashion-mnist, ${split} split` };
  const dir = shippedSubset();
  const subset = dir === undefined ? undefined : withLabels(idxSetAt(join(dir, prefix)));
  if (!subset)
    throw new UserError(
      `fashion-mnist: neither ${DEBIAN_FASHION_MNIST} (apt install dataset-fashion-mnist) nor the subset shipped in ${SUBSET} was found`,
    );
  return { set: subset, origin: `the subset shipped with Kiln, ${split} split` };
}

function withLabels(set: IdxSet | undefined): IdxSet | undefined {
  return set?.labels === undefined ? undefined : set;
}

/** data/fashion-mnist-subset above this module (cli/data in the sources, dist/cli/data when built). */
export function shippedSubset(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, SUBSET);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}
