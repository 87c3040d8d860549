// A NaN or infinite loss stops training with one line (CLI.md v1.1): "Try a
// lower --lr" only when the data were checked finite; with --allow-nonfinite
// the message says the data were not checked, the likelier cause.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from './helpers.js';

const MLP = 'examples/mlp.kiln';
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

/** 16 finite MLP examples. */
function data(dir: string): string {
  const x = new Float32Array(16 * 784).fill(0.5);
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

describe('the diverged-loss message', () => {
  for (const bad of [NaN, Infinity])
    it(`${bad} in data passed with --allow-nonfinite: says the data were not checked, not to lower --lr`, async () => {
      const dir = tempDir();
      const out = join(dir, 'params.safetensors');
      const r = await kiln(
        'train',
        LINREG,
        '--data',
        regressionData(dir, bad),
        '--allow-nonfinite',
        '--no-shuffle',
        '--batch',
        '4',
        '--steps',
        '3',
        '--params-out',
        out,
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /^error: the loss became (NaN|-?Infinity) at step 1 \(epoch 1\); stopped training: no params were written; the data were not checked for NaN or inf \(--allow-nonfinite\)\n$/,
      );
      expect(r.stderr).not.toMatch(/Try a lower --lr/);
      expect(existsSync(out)).toBe(false);
    });

  it('finite data and an absurd --lr: the NaN-loss stop says to try a lower --lr', async () => {
    const dir = tempDir();
    const out = join(dir, 'params.safetensors');
    const r = await kiln(
      'train',
      MLP,
      '--data',
      data(dir),
      '--batch',
      '4',
      '--steps',
      '5',
      '--lr',
      '1e30',
      '--params-out',
      out,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^error: the loss became (NaN|-?Infinity) at step \d+ \(epoch \d+\); stopped training: no params were written\. Try a lower --lr\n$/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
