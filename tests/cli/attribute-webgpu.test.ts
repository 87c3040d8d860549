// `kiln attribute` on --target webgpu (the vjp entry of a webgpu artifact,
// from the source and from an artifact compiled with `--entries
// attribute`) against the reference interpreter. Skipped without a WebGPU
// adapter (see tests/helpers/webgpu.ts), except in CI. Tolerance as in
// attribute.test.ts: 2e-3 of the largest |attribution|, plus 1e-6.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { decodeSafetensors } from '../../runtime/safetensors.js';
import { writeLensFiles } from '../helpers/lens-files.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { kiln, tempDir } from './helpers.js';

const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors.get('attr.x')!.data;

async function ok(...args: string[]): Promise<string> {
  const r = await kiln(...args);
  expect(r.status, `kiln ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  return r.stdout;
}

webgpuSuite('kiln attribute on --target webgpu', () => {
  it.each([
    ['integrated_gradients', '--steps', '5'],
    ['smoothgrad', '--samples', '4'],
  ])('%s on the MLP: source and artifact equal the reference interpreter', async (method, ...more) => {
    const dir = tempDir();
    const f = writeLensFiles('examples/mlp.kiln', dir, 3, 9);
    const params = join(dir, 'params.safetensors');
    await ok('init', 'examples/mlp.kiln', '-o', params, '--seed', '3');
    const art = join(dir, 'art');
    await ok('compile', 'examples/mlp.kiln', '--target', 'webgpu', '-o', art, '--entries', 'attribute');
    const run = (model: string, name: string, ...t: string[]) =>
      ok(
        'attribute',
        model,
        '--inputs',
        f.inputs,
        '--wrt',
        'x',
        '--of',
        'probs',
        '--method',
        method,
        ...more,
        '--seed',
        '2',
        '--params',
        params,
        '--out',
        join(dir, `${name}.safetensors`),
        ...t,
      );
    await run('examples/mlp.kiln', 'ref', '--target', 'reference');
    expect(await run('examples/mlp.kiln', 'gpu', '--target', 'webgpu')).toMatch(/on webgpu/);
    await run(art, 'art');
    const want = read(join(dir, 'ref.safetensors'));
    const scale = Math.max(...Array.from(want, Math.abs));
    expect(scale).toBeGreaterThan(0);
    for (const name of ['gpu', 'art']) {
      const got = read(join(dir, `${name}.safetensors`));
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2e-3 * scale + 1e-6);
    }
  });
});
