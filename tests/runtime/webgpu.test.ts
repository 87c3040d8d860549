// The runtime on WebGPU (Dawn in Node; SwiftShader's CPU Vulkan driver where
// there is no GPU) against the reference interpreter: every example's
// forward pass, three fused training steps, params round trips, and the
// errors a user can meet (a shader that does not compile, a lost device).
//
// Without a WebGPU adapter the suite is skipped with a visible message,
// unless KILN_REQUIRE_WEBGPU=1 (CI), where that is a failure.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { evaluate, type RefTensor } from '../../compiler/interpret.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import type { Tensor } from '../../runtime/executor.js';
import { ArtifactError, type Model, loadArtifact, loadModel } from '../../runtime/index.js';
import { writeArtifact } from '../../targets/artifact.js';
import { cachedPipelines, webgpuTesting } from '../../runtime/webgpu/backend.js';
import { leaseGpuDevice } from '../../runtime/webgpu/device.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { artifactOf, expectAllClose, expectStepsMatchReference, example, randomInputs, refMap } from './helpers.js';

// Every example's kernels run on webgpu in tests/targets/wgsl-examples.test.ts; here the
// runtime API around them, on models that cover matmul, conv and row-wise kernels (shader
// compilation on SwiftShader is slow: a few models keep the suite short).
const EXAMPLES = ['examples/linear_regression.kiln', 'examples/mlp.kiln', 'examples/cnn.kiln'];
const MLP = 'examples/mlp.kiln';

const open: Model[] = [];
async function load(file: string): Promise<Model> {
  const m = await loadArtifact(artifactOf(file, { target: 'webgpu' }));
  open.push(m);
  return m;
}
afterAll(() => {
  for (const m of open) m.dispose();
});

async function referenceRun(file: string, m: Model, inputs: Record<string, Tensor>): Promise<Map<string, RefTensor>> {
  const g = example(file).model.lower({ training: false });
  const values = evaluate(
    g.outputs.map((o) => o.node),
    { inputs: refMap(inputs), params: refMap(await m.getParams({ state: false })) },
  );
  return new Map(g.outputs.map((o, i) => [o.name, values[i]!]));
}

webgpuSuite('the runtime on webgpu', () => {
  it.each(EXAMPLES)('%s: forward pass equals the reference interpreter, odd batch sizes', async (file) => {
    const m = await load(file);
    expect(m.target).toBe('webgpu');
    for (const size of [1, 3]) {
      const inputs = randomInputs(example(file).model, size, 7 + size);
      const got = await m.run(inputs);
      const want = await referenceRun(file, m, inputs);
      expect(Object.keys(got).sort()).toEqual([...want.keys()].sort());
      for (const [name, w] of want) {
        expect(got[name]!.shape, `${name} shape`).toEqual(w.shape);
        expectAllClose(`${file} ${name} (batch ${size})`, got[name]!.data, w.data, 1e-4, 1e-5);
      }
    }
  });

  it.each(EXAMPLES.filter((f) => f !== 'examples/cnn.kiln'))(
    '%s: three fused training steps equal referenceTrainStep',
    async (file) => {
      const m = await load(file);
      const ex = example(file);
      const step = buildTrainStep(ex.model, ex.train!);
      await expectStepsMatchReference(m, step, (t) => randomInputs(ex.model, 5, t, 10), 3, `${file} `);
    },
  );

  it("a device's pipeline cache keeps the most recently used; a model keeps its own", async () => {
    const lease = await leaseGpuDevice();
    webgpuTesting.pipelineCacheSize = 2;
    try {
      const file = 'examples/linear_regression.kiln';
      const m = await loadArtifact(artifactOf(file, { target: 'webgpu' }));
      try {
        expect(cachedPipelines(lease.handle.device)).toBeLessThanOrEqual(2);
        const inputs = randomInputs(example(file).model, 3, 5);
        const want = await referenceRun(file, m, inputs);
        // Both models run their own pipelines, whichever the cache dropped.
        const again = await loadArtifact(artifactOf(file, { target: 'webgpu' }));
        try {
          for (const model of [m, again]) {
            const got = await model.run(inputs);
            for (const [name, w] of want) expectAllClose(`${name}`, got[name]!.data, w.data, 1e-4, 1e-5);
          }
        } finally {
          again.dispose();
        }
        expect(cachedPipelines(lease.handle.device)).toBeLessThanOrEqual(2);
      } finally {
        m.dispose();
      }
    } finally {
      delete webgpuTesting.pipelineCacheSize;
      lease.release();
    }
  });

  it('getParams/setParams round trip through GPU buffers; a written artifact loads from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-gpu-'));
    await writeArtifact(dir, artifactOf(MLP, { target: 'webgpu' }));
    const m = await loadModel(dir);
    open.push(m);
    const b1 = (await m.getParams())['b1']!;
    const changed = { data: Float32Array.from(b1.data, (_, i) => i / 7), shape: b1.shape };
    m.setParams({ b1: changed });
    expect([...(await m.getParams())['b1']!.data]).toEqual([...changed.data]);
    const batch = randomInputs(example(MLP).model, 4, 3, 10);
    await m.step(batch);
    expect(m.stepCount).toBe(1);
    expect((await m.getParams())['b1']!.data).not.toEqual(changed.data);
  });

  it('a shader that does not compile is rejected at load time, naming the kernel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-gpu-bad-'));
    await writeArtifact(dir, artifactOf('examples/linear_regression.kiln', { target: 'webgpu' }));
    const file = join(dir, 'shaders.json');
    const shaders = JSON.parse(readFileSync(file, 'utf8')) as { shaders: Record<string, string> };
    const first = Object.keys(shaders.shaders)[0]!;
    shaders.shaders[first] = shaders.shaders[first]!.replace('fn main', 'fn main_typo');
    writeFileSync(file, JSON.stringify(shaders));
    // The manifest's checksum of the code refuses the edit first.
    const damaged = await loadModel(dir).catch((e: unknown) => e);
    expect(damaged).toBeInstanceOf(ArtifactError);
    expect(String(damaged)).toContain('shaders.json is damaged (checksum mismatch)');
    // Without it (as earlier versions wrote artifacts), the device's compiler refuses the shader.
    const manifestFile = join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { files: Record<string, string> };
    delete manifest.files['codeXxh32'];
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const err = await loadModel(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect(String(err)).toContain(`'${first}'`);
  });

  it('a disposed model refuses to run', async () => {
    const m = await load('examples/linear_regression.kiln');
    m.dispose();
    await expect(m.run(randomInputs(example('examples/linear_regression.kiln').model, 2))).rejects.toThrow(
      /has been disposed/,
    );
  });
});
