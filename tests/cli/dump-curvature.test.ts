// `kiln dump --train` of a curvature optimizer (adahessian, sophia) shows
// both step programs: the refreshing one, then the plain one (step_plain);
// a first-order optimizer's dump has one step and no such titles.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kiln, tempDir } from './helpers.js';

const MLP = 'examples/mlp.kiln';

function withOptimizer(line: string): string {
  const file = join(tempDir(), 'mlp.kiln');
  writeFileSync(file, readFileSync(MLP, 'utf8').replace(/optimizer .*/, `optimizer ${line}`));
  return file;
}

/** The `N kernels: ...` summary lines of a kernels dump. */
const kernelCounts = (stdout: string) => [...stdout.matchAll(/^(\d+) kernels:/gm)].map((m) => Number(m[1]));

describe('kiln dump --train of a curvature optimizer', () => {
  it('--stage kernels: the refreshing step, then the plain one', async () => {
    const r = await kiln(
      'dump',
      withOptimizer('sophia(lr = 1e-3, update_interval = 3)'),
      '--stage',
      'kernels',
      '--train',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const refresh = r.stdout.indexOf('training step mlp, refreshing the curvature estimate');
    const plain = r.stdout.indexOf('training step mlp, plain (no curvature refresh');
    expect(refresh).toBe(0);
    expect(plain).toBeGreaterThan(refresh);
    expect(r.stdout).toContain('program step_plain');
    expect(kernelCounts(r.stdout)).toEqual([15, 9]);
    // The plain step draws no probes.
    expect(r.stdout.slice(plain)).not.toMatch(/\brand\b/);
    expect(r.stdout.slice(0, plain)).toMatch(/\brand\b/);
  });

  it('--stage ir and wasm show both programs; adam has one', async () => {
    const file = withOptimizer('adahessian(update_interval = 10)');
    const ir = await kiln('dump', file, '--stage', 'ir', '--train');
    expect(ir.status).toBe(0);
    expect(ir.stdout).toContain('refreshing the curvature estimate');
    expect(ir.stdout).toContain('plain (no curvature refresh');
    const wasm = await kiln('dump', file, '--stage', 'wasm', '--train');
    expect(wasm.status).toBe(0);
    expect(wasm.stdout).toMatch(/step_plain_/);
    const adam = await kiln('dump', MLP, '--stage', 'kernels', '--train');
    expect(adam.stdout).not.toContain('plain');
    expect(kernelCounts(adam.stdout)).toEqual([9]);
  });
});
