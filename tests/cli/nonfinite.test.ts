// Non-finite floats entering Kiln (CLI.md v1.1): NaN and ±Inf in data,
// --inputs and params are refused, naming the file, the tensor and the first
// offending index, before anything runs or is written; --allow-nonfinite
// computes with them. F64 values beyond f32's range are refused too.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstNonfinite, unflatten } from '../../cli/data/finite.js';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from './helpers.js';

const MLP = 'examples/mlp.kiln';

/** Four MLP examples; x[2, 300] = `bad`. */
function inputs(dir: string, bad: number): string {
  const x = new Float32Array(4 * 784).fill(0.5);
  x[2 * 784 + 300] = bad;
  const path = join(dir, 'in.safetensors');
  writeFileSync(
    path,
    encodeSafetensors({
      x: { dtype: 'F32', shape: [4, 784], data: x },
      y: { dtype: 'I32', shape: [4], data: new Int32Array([1, 2, 3, 4]) },
    }),
  );
  return path;
}

describe('non-finite floats', () => {
  it('finds the first NaN or ±Inf and names its index', () => {
    expect(firstNonfinite(new Float32Array([0, 1, -3e38, 2]))).toBe(-1);
    expect(firstNonfinite(new Float64Array([0, Infinity, NaN]))).toBe(1);
    expect(firstNonfinite(new Float32Array([0, 0, NaN]))).toBe(2);
    expect(unflatten(2 * 784 + 300, [4, 784])).toEqual([2, 300]);
    expect(unflatten(23, [2, 3, 4])).toEqual([1, 2, 3]);
  });

  for (const [bad, word] of [
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, 'NaN'],
  ] as const)
    it(`refuses ${word} in --inputs and --data on every target, writing nothing`, async () => {
      const dir = tempDir();
      const file = inputs(dir, bad);
      const message = `error: ${file}: tensor 'x' holds ${word} at [2, 300]; pass --allow-nonfinite to compute with it\n`;
      const out = join(dir, 'out.safetensors');
      for (const args of [
        ['run', MLP, '--inputs', file, '--out', out],
        ['run', MLP, '--inputs', file, '--out', out, '--target', 'reference'],
        ['grad', MLP, '--inputs', file, '--out', out],
        ['train', MLP, '--data', file, '--steps', '1', '--params-out', out],
      ]) {
        const r = await kiln(...args);
        expect(r.status, args.join(' ')).toBe(1);
        expect(r.stderr, args.join(' ')).toBe(message);
        expect(existsSync(out)).toBe(false);
      }
    });

  it('refuses NaN in a params file and in .csv data', async () => {
    const dir = tempDir();
    const params = join(dir, 'p.safetensors');
    expect((await kiln('init', MLP, '-o', params)).status).toBe(0);
    const w = new Float32Array(10).fill(0.1);
    w[7] = NaN;
    writeFileSync(params, encodeSafetensors({ b2: { dtype: 'F32', shape: [10], data: w } }));
    const run = await kiln('run', MLP, '--inputs', 'fashion-mnist:test', '--limit', '2', '--params', params);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${params}: tensor 'b2' holds NaN at [7]`);
    // .csv text is parsed strictly: 'nan' is not a number there.
    const csv = join(dir, 'd.csv');
    writeFileSync(csv, `label,a,b,c,d\n1,0.5,0.5,0.5,0.5\n2,0.5,nan,0.5,0.5\n`);
    const train = await kiln('train', 'tests/cli/fixtures/train/tiny.kiln', '--data', csv, '--steps', '1');
    expect(train.status).toBe(1);
    expect(train.stderr).toBe(`error: ${csv}:3: column 'b' holds 'nan', not a number\n`);
  });

  it('refuses F64 values beyond f32 range on every target (they would become inf)', async () => {
    const dir = tempDir();
    const x = new Float64Array(4 * 784).fill(0.5);
    x[784 + 7] = 1e39;
    const file = join(dir, 'wide.safetensors');
    writeFileSync(
      file,
      encodeSafetensors({
        x: { dtype: 'F64', shape: [4, 784], data: x },
        y: { dtype: 'I32', shape: [4], data: new Int32Array([1, 2, 3, 4]) },
      }),
    );
    for (const target of ['wasm', 'reference']) {
      const r = await kiln('run', MLP, '--inputs', file, '--target', target);
      expect(r.status, target).toBe(1);
      expect(r.stderr, target).toBe(`error: ${file}: tensor 'x' (F64): value 1e+39 at index 791 does not fit f32\n`);
    }
    x[784 + 7] = 3e38;
    writeFileSync(
      file,
      encodeSafetensors({
        x: { dtype: 'F64', shape: [4, 784], data: x },
        y: { dtype: 'I32', shape: [4], data: new Int32Array([1, 2, 3, 4]) },
      }),
    );
    expect((await kiln('run', MLP, '--inputs', file)).status).toBe(0);
  });

  it('computes with them under --allow-nonfinite, once per command line', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.safetensors');
    const r = await kiln('run', MLP, '--inputs', inputs(dir, NaN), '--allow-nonfinite', '--out', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(out)).toBe(true);
    // The choice is per command line: the next one refuses again.
    expect((await kiln('run', MLP, '--inputs', inputs(dir, NaN))).status).toBe(1);
  });
});
