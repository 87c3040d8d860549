// The webgpu target's part of an artifact (targets/artifact.ts): one WGSL
// module per kernel, all in `shaders.json` by entry name (`fwd_<kernel>`,
// `step_<kernel>`), and each kernel's binding and dispatch in its manifest
// spec (runtime/manifest.ts GpuKernelSpec).

import { exportName, scalarDTypes } from '../../compiler/kernel/abi.js';
import type { Kernel } from '../../compiler/kernel/kir.js';
import type { ShaderFile } from '../../runtime/manifest.js';
import { type NamedProgram, type TargetCode, dimSpec } from '../artifact.js';
import { type WgslKernel, generateWgsl } from './codegen.js';

export const SHADER_FILE = 'shaders.json';

export function wgslCode(programs: readonly NamedProgram[]): TargetCode {
  const shaders: Record<string, string> = {};
  const kernels = new Map<string, { entry: string; wgsl: WgslKernel; kernel: Kernel }>();
  for (const { prefix, program } of programs)
    for (const k of program.kernels) {
      let entry = exportName(prefix, k.name);
      for (let n = 2; Object.hasOwn(shaders, entry); n++) entry = `${exportName(prefix, k.name)}_${n}`;
      const wgsl = generateWgsl(k);
      shaders[entry] = wgsl.code;
      kernels.set(`${prefix}.${k.name}`, { entry, wgsl, kernel: k });
    }
  const file: ShaderFile = { format: 'kiln-wgsl', version: 1, shaders };
  return {
    file: SHADER_FILE,
    bytes: new TextEncoder().encode(`${JSON.stringify(file, null, 1)}\n`),
    base: 0,
    features: [],
    kernel: (prefix, k) => {
      const got = kernels.get(`${prefix}.${k.name}`);
      if (!got) throw new Error(`no shader was generated for ${prefix}.${k.name}`);
      const { wgsl } = got;
      return {
        entry: got.entry,
        gpu: {
          bindings: wgsl.bindings.map((b) => ({ buf: b.buf, access: b.access })),
          ...(wgsl.uniform && { uniform: { binding: wgsl.uniform.binding, bytes: wgsl.uniform.bytes } }),
          scalarTypes: scalarDTypes(k),
          grid: wgsl.grid.map((g) => ({ extent: dimSpec(g.extent), per: g.per, ...(g.p0 && { p0: true as const }) })),
          ...(wgsl.split && {
            split: {
              extent: dimSpec(wgsl.split.extent),
              at: wgsl.split.at,
              strides: wgsl.split.strides.map((d) => (d === undefined ? null : dimSpec(d))),
              ...(wgsl.split.step > 1 && { step: wgsl.split.step }),
            },
          }),
        },
      };
    },
  };
}
