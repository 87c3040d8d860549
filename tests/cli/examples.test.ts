// End to end through the CLI on every example: check, init, run, and grad
// agreeing with central finite differences of `run`, on the float64
// reference interpreter (the wasm target is compared with it in wasm.test.ts).

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKilnFile } from '../../dsl/frontend.js';
import { evalShape, type DType } from '../../compiler/types.js';
import { decodeSafetensors, encodeSafetensors, type StTensor } from '../../runtime/safetensors.js';
import { kiln, tempDir } from './helpers.js';

const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));

/** Small deterministic pseudo-random numbers (the test must not depend on Math.random). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomTensor(dtype: DType, shape: number[], rnd: () => number): StTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (dtype) {
    case 'f32':
      return { dtype: 'F32', shape, data: Float32Array.from({ length: n }, () => rnd() * 2 - 1) };
    case 'i32':
      // class labels: 0 or 1 is valid for every classifier in examples/
      return { dtype: 'I32', shape, data: Int32Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1)) };
    case 'bool':
      return { dtype: 'BOOL', shape, data: Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1)) };
  }
}

/** Inputs for a model with every symbolic dimension bound to 3. */
function writeInputs(file: string, dir: string): string {
  const { result } = loadKilnFile(file);
  const model = result.models.find((m) => m.name === result.trains[0]?.model) ?? result.models[0]!;
  const dims = new Map<string, number>();
  for (const i of model.inputs)
    for (const d of i.type.shape) if (typeof d !== 'number') for (const s of d.syms) dims.set(s, 3);
  const rnd = lcg(42);
  const tensors: Record<string, StTensor> = {};
  for (const i of model.inputs) tensors[i.name] = randomTensor(i.type.dtype, evalShape(i.type.shape, dims), rnd);
  const path = join(dir, 'inputs.safetensors');
  writeFileSync(path, encodeSafetensors(tensors));
  return path;
}

const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

describe.each(EXAMPLES)('%s', (file) => {
  it('checks', async () => {
    const r = await kiln('check', file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('model ');
  });

  it('runs, and its gradient agrees with finite differences', async () => {
    const dir = tempDir();
    const inputs = writeInputs(file, dir);
    const params = join(dir, 'params.safetensors');
    expect((await kiln('init', file, '-o', params, '--seed', '1')).status).toBe(0);

    const run = await kiln('run', file, '--inputs', inputs, '--params', params, '--target', 'reference');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);

    const gradOut = join(dir, 'grad.safetensors');
    const g = await kiln(
      'grad',
      file,
      '--inputs',
      inputs,
      '--params',
      params,
      '--out',
      gradOut,
      '--f64',
      '--target',
      'reference',
    );
    expect(g.stderr).toBe('');
    expect(g.status).toBe(0);
    const grads = read(gradOut);
    const loss = [...grads.keys()].find((k) => !k.startsWith('grad.'))!;

    // Central differences on a few coordinates of every param, evaluated through `kiln run`.
    const base = read(params);
    const rnd = lcg(7);
    for (const [name, p] of base) {
      const analytic = grads.get(`grad.${name}`)!.data;
      for (let k = 0; k < 2; k++) {
        const idx = Math.floor(rnd() * p.data.length);
        const lossAt = async (delta: number) => {
          const data = Float64Array.from(p.data);
          data[idx] = data[idx]! + delta;
          const moved = new Map(base);
          moved.set(name, { dtype: 'F64', shape: p.shape, data });
          const pp = join(dir, 'moved.safetensors');
          writeFileSync(pp, encodeSafetensors(moved));
          const out = join(dir, 'out.safetensors');
          const r = await kiln(
            'run',
            file,
            '--inputs',
            inputs,
            '--params',
            pp,
            '--out',
            out,
            '--f64',
            '--target',
            'reference',
          );
          expect(r.status).toBe(0);
          return read(out).get(loss)!.data[0]!;
        };
        const h = 1e-5;
        const numeric = ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
        const a = analytic[idx]!;
        expect(Math.abs(a - numeric), `${name}[${idx}]: analytic ${a}, numeric ${numeric}`).toBeLessThanOrEqual(
          1e-5 * Math.max(1, Math.abs(a), Math.abs(numeric)),
        );
      }
    }
  });
});
