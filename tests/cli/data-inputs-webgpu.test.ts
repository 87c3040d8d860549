// `--inputs DATA` on --target webgpu (cli/commands/inputs.ts serves every
// target; the data forms are checked in data-inputs.test.ts): `kiln run` and
// `kiln vjp` on `fashion-mnist:test --limit 5` equal the reference
// interpreter on the same data. Skipped without a WebGPU adapter (see
// tests/helpers/webgpu.ts), except in CI. Tolerances as lens-webgpu.test.ts:
// outputs rtol 1e-4, atol 1e-5; derivatives rtol 2e-3, atol 1e-4.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/safetensors.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { expectAllClose } from '../runtime/helpers.js';
import { kiln, tempDir } from './helpers.js';

const MLP = 'examples/mlp.kiln';
const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

async function ok(...args: string[]): Promise<string> {
  const r = await kiln(...args);
  expect(r.status, `kiln ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  return r.stdout;
}

webgpuSuite('--inputs DATA on --target webgpu', () => {
  it('run and vjp on fashion-mnist:test --limit 5 equal the reference interpreter', async () => {
    const dir = tempDir();
    const cot = join(dir, 'c.safetensors');
    writeFileSync(cot, encodeSafetensors({ loss: { dtype: 'F32', shape: [], data: Float32Array.of(1) } }));
    for (const kind of [['run'], ['vjp', '--cotangents', cot]]) {
      const out = (target: string) => join(dir, `${kind[0]}-${target}.safetensors`);
      for (const target of ['reference', 'webgpu'])
        await ok(
          ...kind,
          MLP,
          '--inputs',
          'fashion-mnist:test',
          '--limit',
          '5',
          '--target',
          target,
          '--out',
          out(target),
        );
      const want = read(out('reference'));
      const got = read(out('webgpu'));
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, w] of want) {
        expect(got.get(name)!.shape).toEqual(w.shape);
        const d = name.startsWith('vjp.');
        expectAllClose(`${kind[0]} ${name}`, got.get(name)!.data, w.data, d ? 2e-3 : 1e-4, d ? 1e-4 : 1e-5);
      }
      if (kind[0] === 'run') expect(want.get('probs')!.shape).toEqual([5, 10]);
    }
  });
});
