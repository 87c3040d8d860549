// The wasm target through the CLI: compile writes an artifact the runtime
// loads; run and grad agree with the reference interpreter on every example
// (from the source and from the artifact); train runs on a safetensors data
// file, resumes from --params-out, and rejects bad data with clear messages.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKilnFile } from '../../dsl/frontend.js';
import { evalShape } from '../../compiler/types.js';
import { decodeSafetensors, encodeSafetensors, type StTensor } from '../../runtime/safetensors.js';
import { validateManifest } from '../../runtime/validate.js';
import { expectAllClose, lcg } from '../runtime/helpers.js';
import { kiln, tempDir } from './helpers.js';

const LINREG = 'examples/linear_regression.kiln';
const MLP = 'examples/mlp.kiln';
const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));

const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

/** Inputs for an example with every symbolic dimension bound to `size`. */
function writeInputs(file: string, dir: string, size = 3): string {
  const { result } = loadKilnFile(file);
  const model = result.models.find((m) => m.name === result.trains[0]?.model) ?? result.models[0]!;
  const dims = new Map<string, number>();
  for (const i of model.inputs)
    for (const d of i.type.shape) if (typeof d !== 'number') for (const s of d.syms) dims.set(s, size);
  const rnd = lcg(42);
  const tensors: Record<string, StTensor> = {};
  for (const i of model.inputs) {
    const shape = evalShape(i.type.shape, dims);
    const n = shape.reduce((a, b) => a * b, 1);
    tensors[i.name] =
      i.type.dtype === 'f32'
        ? { dtype: 'F32', shape, data: Float32Array.from({ length: n }, () => rnd() * 2 - 1) }
        : i.type.dtype === 'i32'
          ? { dtype: 'I32', shape, data: Int32Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1)) }
          : { dtype: 'BOOL', shape, data: Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1)) };
  }
  const path = join(dir, 'inputs.safetensors');
  writeFileSync(path, encodeSafetensors(tensors));
  return path;
}

/** Linear regression data: y = x·[0.5, -2, 1] + 0.3, `n` examples. */
function linregData(dir: string, n: number, name = 'data.safetensors'): string {
  const rnd = lcg(7);
  const x = Float32Array.from({ length: n * 3 }, () => rnd() * 2 - 1);
  const y = Float32Array.from({ length: n }, (_, i) => 0.5 * x[3 * i]! - 2 * x[3 * i + 1]! + x[3 * i + 2]! + 0.3);
  const path = join(dir, name);
  writeFileSync(
    path,
    encodeSafetensors({ x: { dtype: 'F32', shape: [n, 3], data: x }, y: { dtype: 'F32', shape: [n], data: y } }),
  );
  return path;
}

function losses(stdout: string): number[] {
  return [...stdout.matchAll(/^(?:step|epoch) \d+\/\d+ +loss (\S+)$/gm)].map((m) => Number(m[1]));
}

describe('kiln compile', () => {
  it('writes manifest.json, the module and the initial params', async () => {
    const dir = join(tempDir(), 'linreg');
    const r = await kiln('compile', LINREG, '--target', 'wasm', '-o', dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('training step:');
    for (const f of ['manifest.json', 'model.wasm', 'params.safetensors']) expect(existsSync(join(dir, f))).toBe(true);
    const manifest = validateManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')), 'manifest.json');
    expect(manifest.version).toBe(1);
    expect(manifest.train?.optimizer.name).toBe('sgd');
    expect([...read(join(dir, 'params.safetensors')).keys()].sort()).toEqual(['b', 'w']);
    // Writing again over an existing artifact works (atomic replacement).
    expect((await kiln('compile', LINREG, '-o', dir)).status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'model.wasm', 'params.safetensors']);
  });

  it('refuses the reference target (the interpreter has no code to write)', async () => {
    const dir = tempDir();
    expect((await kiln('compile', LINREG, '--target', 'reference', '-o', dir)).status).toBe(2);
  });
});

describe.each(EXAMPLES)('%s on wasm', (file) => {
  it('run and grad agree with the reference interpreter, from the source and from the artifact', async () => {
    const dir = tempDir();
    const inputs = writeInputs(file, dir);
    const params = join(dir, 'params.safetensors');
    expect((await kiln('init', file, '-o', params, '--seed', '3')).status).toBe(0);

    const refOut = join(dir, 'ref.safetensors');
    expect(
      (await kiln('run', file, '--inputs', inputs, '--params', params, '--out', refOut, '--target', 'reference'))
        .status,
    ).toBe(0);
    const wasmOut = join(dir, 'wasm.safetensors');
    const r = await kiln('run', file, '--inputs', inputs, '--params', params, '--out', wasmOut);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const art = join(dir, 'artifact');
    expect((await kiln('compile', file, '-o', art)).status).toBe(0);
    const artOut = join(dir, 'art.safetensors');
    expect(
      (await kiln('run', art, '--inputs', inputs, '--params', params, '--out', artOut, '--threads', '2')).status,
    ).toBe(0);
    const ref = read(refOut);
    for (const out of [wasmOut, artOut]) {
      const got = read(out);
      expect([...got.keys()].sort()).toEqual([...ref.keys()].sort());
      for (const [k, t] of ref) expectAllClose(`${file} ${k}`, got.get(k)!.data, t.data, 1e-4, 1e-5);
    }

    const gRef = join(dir, 'gref.safetensors');
    const gWasm = join(dir, 'gwasm.safetensors');
    expect(
      (await kiln('grad', file, '--inputs', inputs, '--params', params, '--out', gRef, '--target', 'reference')).status,
    ).toBe(0);
    const g = await kiln('grad', file, '--inputs', inputs, '--params', params, '--out', gWasm, '--wrt-inputs');
    expect(g.stderr).toBe('');
    expect(g.status).toBe(0);
    const want = read(gRef);
    const got = read(gWasm);
    for (const [k, t] of want) expectAllClose(`${file} ${k}`, got.get(k)!.data, t.data, 2e-3, 1e-4);
  });
});

describe('kiln train', () => {
  it('trains linear regression on a safetensors file, printing the loss per step', async () => {
    const dir = tempDir();
    const data = linregData(dir, 40);
    const r = await kiln('train', LINREG, '--data', data, '--steps', '30', '--batch', '8', '--no-shuffle');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const ls = losses(r.stdout);
    expect(ls).toHaveLength(30);
    expect(ls[29]!).toBeLessThan(ls[0]! / 4);
    expect(r.stdout).toMatch(/^final loss /m);
  });

  it('matches the reference interpreter step for step', async () => {
    const dir = tempDir();
    const data = linregData(dir, 20);
    const args = ['train', LINREG, '--data', data, '--steps', '6', '--batch', '7', '--seed', '5'];
    const wasm = losses((await kiln(...args)).stdout);
    const ref = losses((await kiln(...args, '--target', 'reference')).stdout);
    expect(wasm).toHaveLength(6);
    expectAllClose('losses', wasm, ref, 1e-4, 1e-6);
  });

  it('prints one line per epoch with --epochs, the last partial batch included', async () => {
    const dir = tempDir();
    const data = linregData(dir, 10);
    const r = await kiln('train', LINREG, '--data', data, '--epochs', '3', '--batch', '4', '--no-shuffle');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('9 steps of batch 4 (3 epochs)');
    expect(losses(r.stdout)).toHaveLength(3);
  });

  it('--params-out then --params-in resumes where it stopped', async () => {
    const dir = tempDir();
    const data = linregData(dir, 16);
    const all = join(dir, 'all.safetensors');
    const half = join(dir, 'half.safetensors');
    const rest = join(dir, 'rest.safetensors');
    const common = ['--data', data, '--batch', '16', '--no-shuffle', '--threads', '1'];
    expect((await kiln('train', LINREG, ...common, '--steps', '4', '--params-out', all)).status).toBe(0);
    expect((await kiln('train', LINREG, ...common, '--steps', '2', '--params-out', half)).status).toBe(0);
    const r = await kiln('train', LINREG, ...common, '--steps', '2', '--params-in', half, '--params-out', rest);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const a = read(all);
    const b = read(rest);
    expect([...b.keys()].sort()).toEqual(['b', 'w']);
    for (const [k, t] of a) expect(Array.from(b.get(k)!.data)).toEqual(Array.from(t.data));
  });

  it('trains a compiled artifact directory, with --lr', async () => {
    const dir = tempDir();
    const art = join(dir, 'art');
    expect((await kiln('compile', MLP, '-o', art)).status).toBe(0);
    const rnd = lcg(3);
    const n = 24;
    const data = join(dir, 'mnist-ish.safetensors');
    writeFileSync(
      data,
      encodeSafetensors({
        x: { dtype: 'F32', shape: [n, 784], data: Float32Array.from({ length: n * 784 }, () => rnd()) },
        y: { dtype: 'I32', shape: [n], data: Int32Array.from({ length: n }, (_, i) => i % 10) },
      }),
    );
    const r = await kiln('train', art, '--data', data, '--steps', '3', '--batch', '8', '--lr', '0.01', '--seed', '2');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(losses(r.stdout)).toHaveLength(3);
  });

  it('rejects bad data files with clear messages', async () => {
    const dir = tempDir();
    const bad = (name: string, tensors: Record<string, StTensor>) => {
      const p = join(dir, name);
      writeFileSync(p, encodeSafetensors(tensors));
      return p;
    };
    const x = (n: number, cols = 3): StTensor => ({ dtype: 'F32', shape: [n, cols], data: new Float32Array(n * cols) });
    const y = (n: number): StTensor => ({ dtype: 'F32', shape: [n], data: new Float32Array(n) });
    const cases: [string, RegExp][] = [
      [bad('missing.safetensors', { x: x(4) }), /missing\.safetensors: missing tensor 'y'/],
      [bad('counts.safetensors', { x: x(4), y: y(5) }), /tensor 'y' has 5 examples but 'x' has 4/],
      [bad('extra.safetensors', { x: x(4), y: y(4), z: y(4) }), /tensor 'z' is not an input of the model/],
      [bad('cols.safetensors', { x: x(4, 2), y: y(4) }), /tensor 'x' has shape \[4, 2\], but input 'x' is f32\[B, 3\]/],
      [
        bad('dtype.safetensors', { x: x(4), y: { dtype: 'I32', shape: [4], data: new Int32Array(4) } }),
        /tensor 'y' has dtype I32, but the model expects f32/,
      ],
      [bad('empty.safetensors', { x: x(0), y: y(0) }), /holds no examples/],
    ];
    for (const [path, msg] of cases) {
      const r = await kiln('train', LINREG, '--data', path, '--steps', '1');
      expect(r.status, path).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, Buffer.from([1, 2, 3]));
    const g = await kiln('train', LINREG, '--data', garbage);
    expect(g.status).toBe(1);
    expect(g.stderr).toContain(garbage);
    const missing = await kiln('train', LINREG, '--data', join(dir, 'nope.safetensors'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('nope.safetensors');
  });

  it('exits 2 on bad usage', async () => {
    const dir = tempDir();
    const data = linregData(dir, 4);
    expect((await kiln('train', LINREG, '--data', data, '--steps', '2', '--epochs', '2')).status).toBe(2);
    expect((await kiln('train', LINREG, '--data', data, '--batch', '0')).status).toBe(2);
    expect((await kiln('train', LINREG, '--data', data, '--threads', 'many')).status).toBe(2);
    expect((await kiln('train', LINREG)).status).toBe(2);
  });

  it('says when a model has no train block', async () => {
    const dir = tempDir();
    const src = join(dir, 'plain.kiln');
    writeFileSync(src, 'model plain(x: f32[B, 3]) {\n  param w: f32[3] = ones\n  output y = x * w\n}\n');
    const data = join(dir, 'd.safetensors');
    writeFileSync(data, encodeSafetensors({ x: { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) } }));
    const r = await kiln('train', src, '--data', data);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot train model 'plain': it has no train block/);
  });
});
