// The resource interface of a WGSL kernel (the ABI of codegen.ts): one
// storage binding per distinct program buffer (WebGPU forbids aliasing a
// writable binding, so slots bound to one buffer share it, access = union),
// element types from how the kernel reads and writes each slot (vec4 where
// the vector template takes 4 points at once: vector-plan.ts), and the uniform
// block of dims (i32) then scalars (f32 or i32, as compiler/kernel/abi.ts
// scalarDTypes says), then the fields of a split
// dispatch (split.ts), 4 bytes each, padded to a multiple of 16 bytes.

import { scalarDTypes, vdtype } from '../../compiler/kernel/abi.js';
import { collect, stageRoots } from '../../compiler/kernel/affine.js';
import type { Kernel } from '../../compiler/kernel/kir.js';
import type { DType } from '../../compiler/types.js';
import { CHUNK_DIM, type SplitInfo, splitInfo } from './split.js';
import { LANES, type VectorPlan, vectorPlan } from './vector-plan.js';

/** What a buffer element is in WGSL: f32, or i32 for i32 and bool (0/1). */
export type Elem = 'f32' | 'i32';

export interface Binding {
  readonly buf: number;
  readonly access: 'read' | 'readwrite';
  readonly elem: Elem;
  /** The WGSL name of the binding's array. */
  readonly name: string;
  /** When the binding is strided in p0 (split.ts): the uniform member holding its base element. */
  readonly base?: string;
  /** Declared array<vec4<elem>>: the vector template reads and writes it 4 elements at a time (vector.ts). */
  readonly vec4?: boolean;
}

export interface UniformField {
  /** The WGSL member name. */
  readonly name: string;
  /** The kernel's dim or scalar name. */
  readonly source: string;
  /** 'split': the p0 offset and base elements of a split dispatch (split.ts); the p0 count is a 'dim'. */
  readonly kind: 'dim' | 'scalar' | 'split';
  readonly type: Elem;
  readonly offset: number;
}

export interface Layout {
  readonly bindings: readonly Binding[];
  /** Kernel slot -> binding index. */
  readonly slotBinding: readonly number[];
  readonly uniform?: { readonly binding: number; readonly bytes: number; readonly fields: readonly UniformField[] };
  /** When the dispatch may be split along p0 (split.ts); `at`: the uniform byte offset of its fields. */
  readonly split?: SplitInfo & { readonly at: number; readonly step: number };
  /** When the vector template runs the kernel (vector.ts). */
  readonly vector?: VectorPlan;
}

export const elemOf = (d: DType): Elem => (d === 'f32' ? 'f32' : 'i32');

/** The element type of each slot, from its loads' dtypes and its stores' value dtypes. */
function slotElems(k: Kernel): Elem[] {
  const seen: (Elem | undefined)[] = k.buffers.map(() => undefined);
  const note = (slot: number, d: DType) => {
    const e = elemOf(d);
    const had = seen[slot];
    if (had !== undefined && had !== e)
      throw new Error(`kernel ${k.name}: slot ${slot} is used both as ${had} and as ${e}`);
    seen[slot] = e;
  };
  for (const x of collect(k.stages.flatMap(stageRoots)).loads) note(x.buf, x.dtype);
  for (const s of k.stages)
    if (s.kind === 'map')
      for (const st of s.stores) {
        note(st.buf, vdtype(st.value));
        if (st.check) note(st.check.flag, 'i32');
      }
  return seen.map((e) => e ?? 'f32');
}

export function layoutOf(k: Kernel): Layout {
  const elems = slotElems(k);
  const byBuf = new Map<number, number>();
  const bindings: {
    buf: number;
    access: 'read' | 'readwrite';
    elem: Elem;
    name: string;
    base?: string;
    vec4?: boolean;
  }[] = [];
  const slotBinding = k.buffers.map((b, slot) => {
    const access = b.access === 'read' ? 'read' : 'readwrite';
    const have = byBuf.get(b.id);
    if (have !== undefined) {
      const bd = bindings[have]!;
      if (access === 'readwrite') bd.access = 'readwrite';
      if (bd.elem !== elems[slot])
        throw new Error(`kernel ${k.name}: buffer b${b.id} is used both as ${bd.elem} and as ${elems[slot]}`);
      return have;
    }
    byBuf.set(b.id, bindings.length);
    bindings.push({ buf: b.id, access, elem: elems[slot]!, name: `b${bindings.length}` });
    return bindings.length - 1;
  });
  const types = scalarDTypes(k);
  const fields: UniformField[] = [
    ...k.dims.map((d, i): UniformField => ({ name: `d${i}`, source: d, kind: 'dim', type: 'i32', offset: 4 * i })),
    ...k.scalars.map((s, i): UniformField => ({
      name: `s${i}`,
      source: s,
      kind: 'scalar',
      type: types[i]!,
      offset: 4 * (k.dims.length + i),
    })),
  ];
  const vector = vectorPlan(k, slotBinding, bindings.length);
  vector?.vec.forEach((v, i) => v && (bindings[i]!.vec4 = true));
  const withVector = vector ? { vector } : {};
  const split = splitInfo(k, slotBinding, bindings.length);
  if (split) {
    const at = 4 * fields.length;
    const field = (name: string, source: string, kind: 'dim' | 'split') =>
      fields.push({ name, source, kind, type: 'i32', offset: 4 * fields.length });
    field('pn', CHUNK_DIM, 'dim');
    field('po', `first ${split.p0}`, 'split');
    split.strides.forEach((s, i) => {
      if (s === undefined) return;
      const b = bindings[i]!;
      b.base = `o${i}`;
      field(b.base, `base of ${b.name}`, 'split');
    });
    const bytes = Math.ceil((4 * fields.length) / 16) * 16;
    // Pieces of a vector kernel whose innermost loop is p0 start at multiples of 4.
    const step = vector?.inner === split.p0 ? LANES : 1;
    return {
      bindings,
      slotBinding,
      uniform: { binding: bindings.length, bytes, fields },
      split: { ...split, at, step },
      ...withVector,
    };
  }
  if (fields.length === 0) return { bindings, slotBinding, ...withVector };
  const bytes = Math.ceil((4 * fields.length) / 16) * 16;
  return { bindings, slotBinding, uniform: { binding: bindings.length, bytes, fields }, ...withVector };
}
