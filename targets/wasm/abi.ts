// The kernel ABI of runtime/manifest.ts, as parameter positions:
//   (ptr_0 .. ptr_{n-1}: i32, dim_0 ..: i32, scalar_0 ..: f32 | i32,
//    begin: i32, end: i32 [, scratch: i32])
// Each scalar is passed as compiler/kernel/abi.ts scalarDTypes says. Kernels
// that need a work area take a trailing scratch byte offset and come with an
// export `<entry>_scratch_bytes(dim_0, ..): i32`.

import binaryen from 'binaryen';
import { type ScalarDType, scalarDTypes } from '../../compiler/kernel/abi.js';
import type { Kernel } from '../../compiler/kernel/kir.js';

export interface KernelAbi {
  readonly params: readonly binaryen.Type[];
  /** Parameter index of slot i's pointer: i. */
  readonly dims: ReadonlyMap<string, number>;
  readonly scalars: ReadonlyMap<string, { readonly param: number; readonly dtype: ScalarDType }>;
  readonly begin: number;
  readonly end: number;
  /** Parameter index of the scratch pointer, when the kernel takes one. */
  readonly scratch?: number;
}

export function kernelAbi(k: Kernel, scratch: boolean): KernelAbi {
  const params: binaryen.Type[] = k.buffers.map(() => binaryen.i32);
  const dims = new Map<string, number>();
  for (const d of k.dims) dims.set(d, params.push(binaryen.i32) - 1);
  const scalars = new Map<string, { param: number; dtype: ScalarDType }>();
  const types = scalarDTypes(k);
  k.scalars.forEach((s, i) => {
    const dtype = types[i]!;
    scalars.set(s, { param: params.push(dtype === 'f32' ? binaryen.f32 : binaryen.i32) - 1, dtype });
  });
  const begin = params.push(binaryen.i32) - 1;
  const end = params.push(binaryen.i32) - 1;
  const out = { params, dims, scalars, begin, end };
  return scratch ? { ...out, scratch: params.push(binaryen.i32) - 1 } : out;
}
