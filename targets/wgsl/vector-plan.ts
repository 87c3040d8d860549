// Which kernels the WGSL 'vector' template runs (vector.ts), and which of
// their bindings it reads and writes as vec4: pure elementwise kernels (one
// loop-free map stage) whose innermost parallel extent is a multiple of 4. A
// binding is vec4 when every access to it is unmasked, contiguous in the
// innermost variable (coefficient 1) and starts at a multiple of 4. The
// binding layout (layout.ts) declares those bindings as arrays of vec4.

import { collect, linearIn, stageRoots } from '../../compiler/kernel/affine.js';
import type { IExpr, Kernel } from '../../compiler/kernel/kir.js';
import type { Dim } from '../../compiler/types.js';

/** Points per invocation. */
export const LANES = 4;

const multipleOf4 = (d: Dim): boolean => (typeof d === 'number' ? d % LANES === 0 : d.coef % LANES === 0);

/** index = inner + rest with rest a multiple of 4 (every coefficient and the constant). */
function aligned(index: IExpr, inner: string): boolean {
  const lin = linearIn(index, inner);
  if (!lin || lin.coef.terms.length > 0 || lin.coef.c !== 1) return false;
  return lin.rest.c % LANES === 0 && lin.rest.terms.every((t) => t.coef % LANES === 0);
}

export interface VectorPlan {
  /** The innermost parallel loop, 4 points of which each invocation takes. */
  readonly inner: string;
  /** Per binding: accessed as vec4 only. */
  readonly vec: readonly boolean[];
}

/** The vector variant of `k`, when it is pure elementwise and at least one binding is accessed as vec4. */
export function vectorPlan(k: Kernel, slotBinding: readonly number[], bindings: number): VectorPlan | undefined {
  const s = k.stages[0];
  if (k.kind !== 'elementwise' || k.stages.length !== 1 || !s || s.kind !== 'map' || s.loops.length > 0)
    return undefined;
  const inner = k.parallel[k.parallel.length - 1];
  if (!inner || !multipleOf4(inner.extent)) return undefined;
  const vec: (boolean | undefined)[] = Array.from({ length: bindings }, () => undefined);
  const note = (slot: number, index: IExpr, masked: boolean) => {
    const bi = slotBinding[slot]!;
    vec[bi] = vec[bi] !== false && !masked && aligned(index, inner.name);
  };
  for (const x of collect(stageRoots(s)).loads) note(x.buf, x.index, x.valid.k !== 'true');
  for (const st of s.stores) note(st.buf, st.index, false);
  const out = vec.map((v) => v === true);
  return out.some((v) => v) ? { inner: inner.name, vec: out } : undefined;
}
