// A param the update made non-finite (the step's fused flag; the loss of that
// step is still the old params') stops training with one line naming the
// params (CLI.md v1.1): "Try a
// lower --lr" only when the data were checked finite; with --allow-nonfinite
// the message says the data were not checked, the likelier cause. Finite data
// and an absurd --lr (the "Try a lower --lr" case) are in train-nonfinite-flag.test.ts,
// on every target.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { tempDir, trainRefused } from './helpers.js';

const LINREG = 'examples/linear_regression.kiln';

/** 16 linear-regression examples, x[0, 1] = `bad`: the loss itself goes non-finite at step 1. */
function regressionData(dir: string, bad: number): string {
  const x = new Float32Array(16 * 3).fill(0.5);
  x[1] = bad;
  const path = join(dir, 'reg.safetensors');
  writeFileSync(
    path,
    encodeSafetensors({
      x: { dtype: 'F32', shape: [16, 3], data: x },
      y: { dtype: 'F32', shape: [16], data: new Float32Array(16).fill(1) },
    }),
  );
  return path;
}

describe('the diverged-training message', () => {
  for (const bad of [NaN, Infinity])
    it(`${bad} in data passed with --allow-nonfinite: says the data were not checked, not to lower --lr`, async () => {
      const dir = tempDir();
      const stderr = await trainRefused(
        dir,
        LINREG,
        '--data',
        regressionData(dir, bad),
        '--allow-nonfinite',
        '--no-shuffle',
        '--batch',
        '4',
        '--steps',
        '3',
      );
      expect(stderr).toMatch(
        /^error: step 1 \(epoch 1, batch 1\): parameters 'w', 'b' became non-finite \(NaN or inf\) in the update; no params were written; the data were not checked for NaN or inf \(--allow-nonfinite\)\n$/,
      );
      expect(stderr).not.toMatch(/Try a lower --lr/);
    });
});
