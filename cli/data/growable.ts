// A typed array that grows by doubling, for data whose length is known only
// at the end (CSV rows).

import type { TensorData } from '../../runtime/executor.js';
import type { DTypeSpec } from '../../runtime/manifest.js';

export class Growable {
  private data: TensorData;
  private length = 0;

  constructor(private readonly dtype: DTypeSpec) {
    this.data = Growable.make(dtype, 1024);
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = Growable.make(this.dtype, this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  /** The values pushed, trimmed to size. */
  values(): TensorData {
    return this.data.slice(0, this.length);
  }

  private static make(dtype: DTypeSpec, n: number): TensorData {
    return dtype === 'f32' ? new Float32Array(n) : dtype === 'i32' ? new Int32Array(n) : new Uint8Array(n);
  }
}
