// The webgpu oracle (issue #19): generated programs compiled for the webgpu
// target and run by the WebGPU runtime agree with the float64 reference (the
// forward outputs and one training step), a tolerance of 0 makes it fail
// with the 'webgpu' kind (it compares what the device computed), such a
// failure shrinks against webgpu, and a program the device cleanly refuses
// is skipped and reported, not failed.

import { afterEach, expect, it } from 'vitest';
import { fuzzOne, programSeed, shrinkFailure } from '../../fuzz/campaign.js';
import { generate } from '../../fuzz/generate.js';
import { type Case, type Failure, runOracles } from '../../fuzz/oracles.js';
import { cost } from '../../fuzz/shrink.js';
import { webgpuTesting } from '../../runtime/webgpu/backend.js';
import { webgpuSuite } from '../helpers/webgpu.js';

afterEach(() => {
  delete webgpuTesting.maxBindingBytes;
});

webgpuSuite('the webgpu oracle', () => {
  it('a seeded short campaign: 16 programs pass on webgpu, training steps included, its kernels covered', async () => {
    const fails: string[] = [];
    let trained = 0;
    const templates = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const r = await fuzzOne(19, i, { target: 'webgpu' });
      for (const t of r.kernels.templates) templates.add(t);
      if (r.failure) fails.push(`${r.failure.kind} ${r.failure.where}\n${r.failure.detail}\n${r.failed!.source}`);
      expect(r.refused, `program ${i}`).toBeUndefined();
      if (/^train /m.test(generate(r.seed).source)) trained++;
    }
    expect(fails).toEqual([]);
    expect(trained).toBeGreaterThan(4);
    // Coverage comes from webgpu's own kernel programs (every program has at least one kernel).
    expect(templates.size).toBeGreaterThan(2);
  }, 60_000);

  it('with every tolerance at 0, the f32 webgpu results differ from the float64 reference; the failure shrinks on webgpu', async () => {
    const opts = { target: 'webgpu', tolScale: 0 } as const;
    let found: { failure: Failure; c: Case } | undefined;
    for (let s = 0; s < 12 && !found; s++) {
      const c = { source: generate(programSeed(5, s), { train: true }).source, dataSeed: s, batch: 2 };
      const f = await runOracles(c, opts);
      if (f?.kind === 'webgpu') found = { failure: f, c };
    }
    expect(found).toBeDefined();
    const { failure, c } = found!;
    expect(failure.where).toMatch(/^(forward|train) /);
    const shrunk = await shrinkFailure(c, failure, opts, 40);
    expect(cost(shrunk)).toBeLessThan(cost(c.source));
    const again = await runOracles({ ...c, source: shrunk }, opts);
    expect([again?.kind, again?.where]).toEqual(['webgpu', failure.where]);
    // The same case on wasm fails as wasm's kinds ('forward', 'train', or the float64 oracles'), never 'webgpu'.
    expect((await runOracles({ ...c, source: shrunk }, { tolScale: 0 }))?.kind).not.toBe('webgpu');
  }, 60_000);

  it('a program the device refuses (a buffer over its binding limit that cannot be split) is skipped and reported', async () => {
    const src = 'model m(x: f32[B, 64]) {\n  output y = sum(x)\n}\n';
    webgpuTesting.maxBindingBytes = 16;
    const reasons: string[] = [];
    const f = await runOracles(
      { source: src, dataSeed: 1, batch: 3 },
      { target: 'webgpu', onRefusal: (r) => reasons.push(r) },
    );
    expect(f).toBeUndefined();
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^webgpu run: .*maxBindingBytes/);
    delete webgpuTesting.maxBindingBytes;
    expect(
      await runOracles({ source: src, dataSeed: 1, batch: 3 }, { target: 'webgpu', onRefusal: (r) => reasons.push(r) }),
    ).toBeUndefined();
    expect(reasons).toHaveLength(1);
  });
});
