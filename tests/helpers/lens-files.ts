// Safetensors files for the lens commands' tests: random inputs of an
// example, and random tangents (for its f32 inputs and params) or
// cotangents (for its f32 outputs), every symbolic dimension bound to one size.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckedModel } from '../../dsl/check.js';
import { evalShape, type TensorType } from '../../compiler/types.js';
import { encodeSafetensors, type StTensor } from '../../runtime/safetensors.js';
import { example, lcg } from '../runtime/helpers.js';

function random(type: TensorType, dims: ReadonlyMap<string, number>, rnd: () => number): StTensor {
  const shape = evalShape(type.shape, dims);
  const n = shape.reduce((a, b) => a * b, 1);
  switch (type.dtype) {
    case 'f32':
      return { dtype: 'F32', shape, data: Float32Array.from({ length: n }, () => rnd() * 2 - 1) };
    case 'i32':
      return { dtype: 'I32', shape, data: Int32Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1)) };
    case 'bool':
      return { dtype: 'BOOL', shape, data: Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1)) };
  }
}

export interface LensFiles {
  readonly model: CheckedModel;
  readonly inputs: string;
  readonly tangents: string;
  readonly cotangents: string;
}

/** Writes `inputs`, `tangents` and `cotangents` safetensors files for an example into `dir`. */
export function writeLensFiles(file: string, dir: string, size = 3, seed = 42): LensFiles {
  const { model } = example(file);
  const dims = new Map<string, number>();
  for (const i of model.inputs)
    for (const d of i.type.shape) if (typeof d !== 'number') for (const s of d.syms) dims.set(s, size);
  const rnd = lcg(seed);
  const write = (name: string, ts: readonly { name: string; type: TensorType }[]) => {
    const path = join(dir, `${name}.safetensors`);
    writeFileSync(path, encodeSafetensors(Object.fromEntries(ts.map((t) => [t.name, random(t.type, dims, rnd)]))));
    return path;
  };
  const f32 = (ts: readonly { name: string; type: TensorType }[]) => ts.filter((t) => t.type.dtype === 'f32');
  return {
    model,
    inputs: write('inputs', model.inputs),
    tangents: write('tangents', f32([...model.inputs, ...model.params])),
    cotangents: write('cotangents', f32(model.outputs)),
  };
}
