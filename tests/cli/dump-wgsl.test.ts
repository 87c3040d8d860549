// `kiln dump --stage wgsl`: one WGSL shader per kernel of the forward pass
// (or the training step with --train), each after a comment header naming
// the kernel, its bindings, uniform layout and grid; on a device, every
// dumped shader compiles without errors or warnings.

import { describe, expect, it } from 'vitest';
import { TARGET_LIMITS } from '../../compiler/target.js';
import { planKernels } from '../../compiler/fusion/plan.js';
import { optimizeGraph } from '../../compiler/passes/pipeline.js';
import { loadKilnFile } from '../../dsl/frontend.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';
import { kiln } from './helpers.js';

const MLP = 'examples/mlp.kiln';

/** The dump cut into its shaders (each from its `// kernel` header to the next). */
function shaders(stdout: string): string[] {
  return stdout.split(/^(?=\/\/ kernel )/m).slice(1);
}

describe('kiln dump --stage wgsl', () => {
  it('prints every kernel of the forward pass with its header', async () => {
    const r = await kiln('dump', MLP, '--stage', 'wgsl');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { result } = loadKilnFile(MLP);
    const { graph } = optimizeGraph(result.models[0]!.lower({ training: false }));
    const n = planKernels(graph, TARGET_LIMITS['webgpu']).program.kernels.length;
    expect(r.stdout).toContain(`WGSL shaders (target webgpu)`);
    const parts = shaders(r.stdout);
    expect(parts).toHaveLength(n);
    for (const s of parts) {
      expect(s).toMatch(/^\/\/ kernel k\d+ \(\w+\): template \w+, \d+ invocations per workgroup\n/);
      expect(s).toMatch(/^\/\/ bindings:\n(\/\/ {3}@binding\(\d+\) b\d+ .* \((read|readwrite)\)\n)+/m);
      expect(s).toMatch(/^\/\/ grid: .* workgroups$/m);
      expect(s).toContain('@compute @workgroup_size(');
      expect(s.match(/fn main\(/g)).toHaveLength(1);
    }
    expect(r.stdout).toMatch(/^\/\/ uniform: @binding\(\d+\), 16 bytes\n\/\/ {3}\+0 d0: i32 = dim B$/m);
  });

  it('--train dumps the training step: tiled matmuls, scalars in the uniform', async () => {
    const r = await kiln('dump', MLP, '--stage', 'wgsl', '--train');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('// training step mlp: ');
    expect(r.stdout).toContain('template matmul');
    expect(r.stdout).toMatch(/\/\/ {3}\+\d+ s\d+: f32 = scalar @lr/);
  });
});

webgpuSuite('kiln dump --stage wgsl on a device', () => {
  it('every dumped shader of the MLP training step compiles cleanly', async () => {
    const device = gpuDevice()!;
    const r = await kiln('dump', MLP, '--stage', 'wgsl', '--train');
    for (const s of shaders(r.stdout)) {
      const info = await device.createShaderModule({ code: s }).getCompilationInfo();
      expect(info.messages.map((m) => `${m.type}: ${m.message}`)).toEqual([]);
    }
  });
});
