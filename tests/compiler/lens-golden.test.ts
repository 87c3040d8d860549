// Golden kernel tables of the lens programs of a small model (the MLP's jvp
// and vjp, `kiln dump --stage kernels --entry jvp|vjp`): a change to forward
// mode, to the lens graphs or to how they fuse shows up as a reviewable diff
// (`npm run golden:update` rewrites them).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectGolden } from '../golden.js';
import { kiln } from '../cli/helpers.js';

const MLP = 'examples/mlp.kiln';

describe('the lens programs of mlp.kiln', () => {
  it.each(['jvp', 'vjp'])('%s: kernel table', async (entry) => {
    const r = await kiln('dump', MLP, '--stage', 'kernels', '--entry', entry, '--dims', 'B=32');
    expect(r.stderr).toBe('');
    expect(r.stdout.startsWith(`${entry} of model mlp: kernels for target wasm\n`)).toBe(true);
    expectGolden(join('tests', 'compiler', 'golden', `mlp.${entry}.kernels.txt`), r.stdout);
  });

  it('--entry names an entry; --train is the step entry', async () => {
    const bad = await kiln('dump', MLP, '--stage', 'kernels', '--entry', 'grad');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--entry: unknown entry 'grad' (expected run, step, jvp, vjp)");
    const both = await kiln('dump', MLP, '--stage', 'ir', '--entry', 'jvp', '--train');
    expect(both.status).toBe(2);
    const step = await kiln('dump', MLP, '--stage', 'kernels', '--entry', 'step', '--dims', 'B=32');
    expect(step.stdout).toBe((await kiln('dump', MLP, '--stage', 'kernels', '--train', '--dims', 'B=32')).stdout);
  });
});
