// The webgpu target (compiler/target.ts): one WGSL module per kernel, all in
// `shaders.json` by entry name (`fwd_<kernel>`, `step_<kernel>`), and each
// kernel's binding and dispatch in its manifest spec (runtime/manifest.ts
// GpuKernelSpec).

import { exportName, scalarDTypes } from '../../compiler/kernel/abi.js';
import type { Kernel, KernelProgram } from '../../compiler/kernel/kir.js';
import { type NamedProgram, type Target, type TargetCode, dimSpec } from '../../compiler/target.js';
import type { ShaderFile } from '../../runtime/manifest.js';
import { type WgslKernel, generateWgsl } from './codegen.js';
import { describeWgsl } from './describe.js';

export const SHADER_FILE = 'shaders.json';

export const wgslTarget: Target = { name: 'webgpu', generate: wgslCode };

interface Shader {
  readonly entry: string;
  readonly wgsl: WgslKernel;
  readonly kernel: Kernel;
  readonly program: KernelProgram;
}

function wgslCode(programs: readonly NamedProgram[]): TargetCode {
  const shaders: Record<string, string> = {};
  const generated: Shader[] = [];
  const byKernel = new Map<string, Shader>();
  for (const { prefix, program } of programs)
    for (const k of program.kernels) {
      let entry = exportName(prefix, k.name);
      for (let n = 2; Object.hasOwn(shaders, entry); n++) entry = `${exportName(prefix, k.name)}_${n}`;
      const wgsl = generateWgsl(k);
      shaders[entry] = wgsl.code;
      const shader = { entry, wgsl, kernel: k, program };
      generated.push(shader);
      byKernel.set(`${prefix}.${k.name}`, shader);
    }
  const file: ShaderFile = { format: 'kiln-wgsl', version: 1, shaders };
  return {
    file: SHADER_FILE,
    bytes: new TextEncoder().encode(`${JSON.stringify(file, null, 1)}\n`),
    base: 0,
    features: [],
    kernel: (prefix, k) => {
      const got = byKernel.get(`${prefix}.${k.name}`);
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
    // Each shader under its description (template, bindings, uniform, grid).
    listing: () => generated.map((s) => `${describeWgsl(s.kernel, s.wgsl, s.program)}\n\n${s.wgsl.code}`).join('\n'),
  };
}
