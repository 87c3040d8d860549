// A dataset's fingerprint: SHA-256 over every tensor's name, shape and bytes,
// so that --resume can tell that it trains on the data the checkpoint saw.

import { createHash } from 'node:crypto';
import type { Dataset } from './dataset.js';

export function fingerprint(dataset: Dataset): string {
  const h = createHash('sha256');
  for (const name of Object.keys(dataset.tensors).sort()) {
    const t = dataset.tensors[name]!;
    h.update(`${name}:${t.data.constructor.name}[${t.shape.join(',')}]`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}
