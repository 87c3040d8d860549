// The webgpu target through the CLI: `compile --target webgpu` writes an
// artifact with WGSL shaders; `run`, `grad` and `train` on webgpu agree with
// the float64 reference interpreter (from the source and from the artifact);
// input errors read as on wasm. Skipped without a WebGPU adapter (see
// tests/helpers/webgpu.ts), except in CI.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/safetensors.js';
import { validateManifest } from '../../runtime/validate.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { expectAllClose, lcg } from '../runtime/helpers.js';
import { kiln, tempDir } from './helpers.js';

const LINREG = 'examples/linear_regression.kiln';
const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

/** Linear regression inputs: x f32[n, 3], y = x·[0.5, -2, 1] + 0.3. */
function linregData(dir: string, n: number): string {
  const rnd = lcg(11);
  const x = Float32Array.from({ length: n * 3 }, () => rnd() * 2 - 1);
  const y = Float32Array.from({ length: n }, (_, i) => 0.5 * x[3 * i]! - 2 * x[3 * i + 1]! + x[3 * i + 2]! + 0.3);
  const path = join(dir, 'data.safetensors');
  writeFileSync(
    path,
    encodeSafetensors({ x: { dtype: 'F32', shape: [n, 3], data: x }, y: { dtype: 'F32', shape: [n], data: y } }),
  );
  return path;
}

async function ok(...args: string[]): Promise<string> {
  const r = await kiln(...args);
  expect(r.status, `kiln ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  return r.stdout;
}

webgpuSuite('kiln on --target webgpu', () => {
  it('compile writes manifest.json, shaders.json and the params; run from it equals the reference', async () => {
    const dir = tempDir();
    const art = join(dir, 'art');
    const out = await ok('compile', LINREG, '--target', 'webgpu', '-o', art);
    expect(out).toContain('shaders.json');
    const manifest = validateManifest(JSON.parse(readFileSync(join(art, 'manifest.json'), 'utf8')), 'manifest.json');
    expect(manifest.target).toBe('webgpu');
    expect(manifest.forward!.kernels.every((k) => k.gpu !== undefined)).toBe(true);
    const shaders = JSON.parse(readFileSync(join(art, 'shaders.json'), 'utf8')) as { shaders: Record<string, string> };
    expect(Object.keys(shaders.shaders).length).toBe(
      manifest.forward!.kernels.length + (manifest.train?.program.kernels.length ?? 0),
    );

    const data = linregData(dir, 7);
    const params = join(dir, 'params.safetensors');
    await ok('init', LINREG, '-o', params, '--seed', '5');
    const ref = join(dir, 'ref.safetensors');
    const gpu = join(dir, 'gpu.safetensors');
    const gpuArt = join(dir, 'gpu-art.safetensors');
    await ok('run', LINREG, '--inputs', data, '--params', params, '--out', ref, '--target', 'reference');
    await ok('run', LINREG, '--inputs', data, '--params', params, '--out', gpu, '--target', 'webgpu');
    await ok('run', art, '--inputs', data, '--params', params, '--out', gpuArt);
    for (const file of [gpu, gpuArt])
      for (const [name, want] of read(ref))
        expectAllClose(`${file} ${name}`, read(file).get(name)!.data, want.data, 1e-4, 1e-5);
  });

  it('grad equals the reference interpreter', async () => {
    const dir = tempDir();
    const data = linregData(dir, 5);
    const ref = join(dir, 'ref.safetensors');
    const gpu = join(dir, 'gpu.safetensors');
    expect(await ok('grad', LINREG, '--inputs', data, '--out', ref, '--target', 'reference', '--seed', '2')).toContain(
      '(on the reference interpreter)',
    );
    expect(await ok('grad', LINREG, '--inputs', data, '--out', gpu, '--target', 'webgpu', '--seed', '2')).toMatch(
      /\(on webgpu/,
    );
    const want = read(ref);
    expect([...read(gpu).keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, w] of want) expectAllClose(name, read(gpu).get(name)!.data, w.data, 1e-4, 1e-5);
  });

  it('train takes the same steps as on the reference, and learns', async () => {
    const dir = tempDir();
    const data = linregData(dir, 32);
    const args = ['train', LINREG, '--data', data, '--steps', '20', '--batch', '8', '--seed', '1'];
    const refParams = join(dir, 'ref.safetensors');
    const gpuParams = join(dir, 'gpu.safetensors');
    await ok(...args, '--target', 'reference', '--params-out', refParams);
    const out = await ok(...args, '--target', 'webgpu', '--params-out', gpuParams);
    expect(out).toMatch(/step 20\/20/);
    for (const [name, w] of read(refParams)) expectAllClose(name, read(gpuParams).get(name)!.data, w.data, 1e-3, 1e-5);
  });

  it('input errors name the tensor and both shapes, as on wasm', async () => {
    const dir = tempDir();
    const path = join(dir, 'bad.safetensors');
    writeFileSync(
      path,
      encodeSafetensors({
        x: { dtype: 'F32', shape: [2, 4], data: new Float32Array(8) },
        y: { dtype: 'F32', shape: [2], data: new Float32Array(2) },
      }),
    );
    const r = await kiln('run', LINREG, '--inputs', path, '--target', 'webgpu');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("input 'x': expected f32[B, 3], got f32[2, 4]");
  });
});
