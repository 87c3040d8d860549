// The memory estimate (CLI.md v1.1): a model that cannot fit wasm's 4 GiB at
// the batch is refused with the figures before anything runs, and `kiln
// check` prints params, optimizer state and activations at batch 32.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from './helpers.js';

// The matmul's [B, 100000, 1000] result is materialised: 12.8 GB at batch 32.
const HUGE = `model h(x: f32[B, 10], y: f32[B]) {
  param w: f32[10, 1000] = glorot_uniform
  big = relu(broadcast_to(reshape(x, [B, 1, 10]), [B, 100000, 10]) @ w)
  output loss = mean(sum(sum(big, axis = 2), axis = 1) - y)
}
train h { minimize loss; optimizer adam(lr = 1e-3) }
`;

describe('the memory estimate', () => {
  it('refuses activations over 4 GiB at the batch with the figures, before anything runs', async () => {
    const dir = tempDir();
    const src = join(dir, 'h.kiln');
    writeFileSync(src, HUGE);
    const d = join(dir, 'd.safetensors');
    writeFileSync(
      d,
      encodeSafetensors({
        x: { dtype: 'F32', shape: [32, 10], data: new Float32Array(32 * 10) },
        y: { dtype: 'F32', shape: [32], data: new Float32Array(32) },
      }),
    );
    const out = join(dir, 'p.safetensors');
    const r = await kiln('train', src, '--data', d, '--batch', '32', '--steps', '1', '--params-out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^error: model 'h' needs \d+\.\d GB for its training step \(params 40\.0 KB, optimizer state 80\.0 KB, activations \d+\.\d GB at batch 32\); wasm memory is at most 4 GiB\n$/,
    );
    expect(existsSync(out)).toBe(false);
    // A compiled artifact is refused the same, from its manifest.
    const art = join(dir, 'art');
    expect((await kiln('compile', src, '-o', art)).status).toBe(0);
    const a = await kiln('train', art, '--data', d, '--batch', '32', '--steps', '1', '--params-out', out);
    expect(a.status).toBe(1);
    expect(a.stderr).toBe(r.stderr);
    expect(existsSync(out)).toBe(false);
  });

  it('kiln check prints params, optimizer state and activations at batch 32', async () => {
    const r = await kiln('check', 'examples/mlp.kiln');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      '  memory at batch 32: 8.0 MB (params 407.1 KB, optimizer state 814.2 KB, activations at most 6.8 MB)\n',
    );
    const dir = tempDir();
    const src = join(dir, 'h.kiln');
    writeFileSync(src, HUGE);
    const h = await kiln('check', src);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(
      /memory at batch 32: \d+\.\d GB \(.*\): more than wasm's 4 GiB, so it cannot run at this batch\n/,
    );
  });
});
