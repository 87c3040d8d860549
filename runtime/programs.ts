// The programs of a manifest, each with the tensors a call gives and gets:
// the forward pass and the training step take the manifest's inputs and give
// its outputs, a lens entry has its own (manifest.ts LensSpec). The backends
// load and check every program through this one list.
//
// Browser-safe: no `node:` imports.

import type { Manifest, ProgramSpec, TensorSpec } from './manifest.js';
import { nonfiniteSpec } from './nonfinite.js';

/** A program a backend runs: the forward pass, the training step (and its plain form, TrainSpec.plain), a lens entry. */
export type ProgramName = 'forward' | 'train' | 'train_plain' | 'jvp' | 'vjp';

export interface ManifestProgram {
  readonly name: ProgramName;
  /** Where it lives in the manifest, for messages (`forward`, `train.program`, `jvp.program`). */
  readonly path: string;
  readonly spec: ProgramSpec;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** Every program the manifest has, in a fixed order. */
export function manifestPrograms(m: Manifest): ManifestProgram[] {
  const out: ManifestProgram[] = [];
  if (m.forward) out.push({ name: 'forward', path: 'forward', spec: m.forward, inputs: m.inputs, outputs: m.outputs });
  if (m.train)
    out.push({
      name: 'train',
      path: 'train.program',
      spec: m.train.program,
      inputs: m.inputs,
      outputs: trainOutputs(m),
    });
  if (m.train?.plain)
    out.push({
      name: 'train_plain',
      path: 'train.plain.program',
      spec: m.train.plain.program,
      inputs: m.inputs,
      outputs: trainOutputs(m),
    });
  for (const kind of ['jvp', 'vjp'] as const) {
    const lens = m[kind];
    if (lens)
      out.push({ name: kind, path: `${kind}.program`, spec: lens.program, inputs: lens.inputs, outputs: lens.outputs });
  }
  return out;
}

/** A training program's outputs: the model's, and the non-finite flags (runtime/nonfinite.ts). */
function trainOutputs(m: Manifest): TensorSpec[] {
  return [...m.outputs, nonfiniteSpec(m.train?.trainable ?? [])];
}
