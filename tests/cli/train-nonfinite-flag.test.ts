// `kiln train` stops at the step whose update made a param non-finite (the
// fused flag, runtime/nonfinite.ts), naming it, with exit 1 and no params
// file written; "Try a lower --lr" only when the data were checked finite.
// On wasm, the float64 reference, and webgpu where there is a device.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { gpuDevice } from '../helpers/webgpu.js';
import { tempDir, trainRefused } from './helpers.js';

const MLP = 'examples/mlp.kiln';

/** 16 MLP examples; row 0 of x all NaN when `nanRow`. */
function data(dir: string, nanRow: boolean): string {
  const x = new Float32Array(16 * 784).fill(0.5);
  if (nanRow) x.fill(NaN, 0, 784);
  const path = join(dir, 'data.safetensors');
  writeFileSync(
    path,
    encodeSafetensors({
      x: { dtype: 'F32', shape: [16, 784], data: x },
      y: { dtype: 'I32', shape: [16], data: Int32Array.from({ length: 16 }, (_, i) => i % 10) },
    }),
  );
  return path;
}

const TARGETS = ['wasm', 'reference', ...(gpuDevice() ? ['webgpu'] : [])];

describe.each(TARGETS)('the non-finite-param stop on %s', (target) => {
  it("a NaN row (--allow-nonfinite): step 1 names 'w1', says the data were not checked", async () => {
    const dir = tempDir();
    const stderr = await trainRefused(
      dir,
      MLP,
      '--target',
      target,
      '--data',
      data(dir, true),
      '--allow-nonfinite',
      '--no-shuffle',
      '--batch',
      '4',
      '--steps',
      '3',
    );
    expect(stderr).toMatch(
      /^error: step 1 \(epoch 1, batch 1\): parameters '[^\n]*' became non-finite \(NaN or inf\) in the update; no params were written; the data were not checked for NaN or inf \(--allow-nonfinite\)\n$/,
    );
    expect(stderr).toContain("'w1'");
    expect(stderr).not.toMatch(/Try a lower --lr/);
  });

  it('finite data and --lr 1e30: names the params and says to try a lower --lr', async () => {
    const dir = tempDir();
    const stderr = await trainRefused(
      dir,
      MLP,
      '--target',
      target,
      '--data',
      data(dir, false),
      '--batch',
      '4',
      '--steps',
      '5',
      '--lr',
      '1e30',
    );
    expect(stderr).toMatch(
      /^error: step \d \(epoch 1, batch \d\): parameters? '\w+'(, '\w+')* became non-finite \(NaN or inf\) in the update; no params were written\. Try a lower --lr\n$/,
    );
  });
});
