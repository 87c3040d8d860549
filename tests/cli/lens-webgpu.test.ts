// `kiln jvp` and `kiln vjp` on --target webgpu, from the source and from a
// webgpu artifact compiled with `--entries jvp,vjp`, against the reference
// interpreter (every example's numbers on webgpu are checked in
// tests/runtime/lens-webgpu.test.ts; here the command's plumbing). Skipped
// without a WebGPU adapter (see tests/helpers/webgpu.ts), except in CI.
// Tolerances: outputs rtol 1e-4, atol 1e-5; derivatives rtol 2e-3, atol 1e-4.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { decodeSafetensors } from '../../runtime/safetensors.js';
import { writeLensFiles } from '../helpers/lens-files.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { expectAllClose } from '../runtime/helpers.js';
import { kiln, tempDir } from './helpers.js';

const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

async function ok(...args: string[]): Promise<string> {
  const r = await kiln(...args);
  expect(r.status, `kiln ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  return r.stdout;
}

webgpuSuite('kiln jvp and vjp on --target webgpu', () => {
  it.each(['examples/linear_regression.kiln', 'examples/mlp.kiln'])(
    '%s: source and artifact equal the reference interpreter',
    async (file) => {
      const dir = tempDir();
      const f = writeLensFiles(file, dir, 5);
      const art = join(dir, 'art');
      await ok('compile', file, '--target', 'webgpu', '-o', art, '--entries', 'jvp,vjp');
      for (const [kind, flag, given] of [
        ['jvp', '--tangents', f.tangents],
        ['vjp', '--cotangents', f.cotangents],
      ] as const) {
        const out = (name: string) => join(dir, `${kind}-${name}.safetensors`);
        const run = (model: string, name: string, ...more: string[]) =>
          ok(kind, model, '--inputs', f.inputs, flag, given, '--seed', '1', '--out', out(name), ...more);
        await run(file, 'ref', '--target', 'reference');
        expect(await run(file, 'gpu', '--target', 'webgpu')).toMatch(/on webgpu/);
        // The artifact holds params initialised with seed 0: give it the others' (seed 1).
        const params = join(dir, 'params.safetensors');
        await ok('init', file, '-o', params, '--seed', '1');
        await run(art, 'art', '--params', params);
        const want = read(out('ref'));
        for (const got of [out('gpu'), out('art')]) {
          const g = read(got);
          expect([...g.keys()].sort()).toEqual([...want.keys()].sort());
          for (const [name, w] of want) {
            const d = name.startsWith(`${kind}.`);
            expectAllClose(`${got} ${name}`, g.get(name)!.data, w.data, d ? 2e-3 : 1e-4, d ? 1e-4 : 1e-5);
          }
        }
      }
    },
  );
});
