// What a template builds: `main`'s body and workgroup size, module-scope
// declarations (workgroup memory, helper functions of its own), the grid,
// and the math helpers it calls. codegen.ts adds the bindings and assembles
// the module.

import type { GridEntry } from './grid.js';
import type { Helper } from './math.js';

export interface Limits {
  readonly maxInvocations: number;
  /** Bytes of workgroup memory. */
  readonly maxWorkgroupStorage: number;
}

export interface Built {
  readonly template: 'generic' | 'vector' | 'reduce' | 'rowwise' | 'matmul';
  readonly workgroupSize: number;
  readonly grid: readonly GridEntry[];
  readonly decls: readonly string[];
  readonly body: readonly string[];
  readonly lib: ReadonlySet<Helper>;
}

/** The largest power of two <= n (at least 1). */
export function floorPow2(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}
