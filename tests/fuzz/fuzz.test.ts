// The fuzzer in the suite (issue #19): the generator's programs check, a short
// seeded campaign passes every oracle (reference vs wasm forward, one training
// step against referenceTrainStep, never-crash on malformed texts), the
// comparison catches a wrong element, and the shrinker reduces a planted
// failure to a minimal program that still fails.

import { describe, expect, it } from 'vitest';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import { fuzzOne, programSeed } from '../../fuzz/campaign.js';
import { generate } from '../../fuzz/generate.js';
import { compare, fdStats, fwdrevStats, mutate, neverCrash, randomBytes, runOracles } from '../../fuzz/oracles.js';
import { cost, shrink } from '../../fuzz/shrink.js';

const checks = (src: string) => compileSource('t.kiln', src).result.diagnostics.length === 0;

describe('the program generator', () => {
  it('is deterministic and every program of 300 seeds checks with no diagnostics', () => {
    expect(generate(7).source).toBe(generate(7).source);
    expect(generate(7).source).not.toBe(generate(8).source);
    const reached = new Set<string>();
    for (let s = 0; s < 300; s++) {
      const g = generate(programSeed(3, s));
      const d = compileSource('g.kiln', g.source).result.diagnostics;
      expect(d.map(formatDiagnostic).join('\n'), g.source).toBe('');
      for (const b of g.builtins) reached.add(b);
    }
    for (const b of ['grad', 'jvp', 'conv2d', 'max_pool2d', 'take', 'concat', 'pad', 'einsum', 'softmax_cross_entropy'])
      expect(reached, b).toContain(b);
    expect(reached.size).toBeGreaterThan(60);
  });

  it('writes train blocks with optimizers of the registry', () => {
    const g = generate(11, { train: true });
    expect(g.source).toMatch(/^train m \{\n {2}minimize loss\n {2}optimizer \w+\(lr = /m);
    expect(checks(g.source)).toBe(true);
  });
});

describe('a seeded short campaign', () => {
  it('30 programs pass every oracle (reference vs wasm, training step, never-crash)', async () => {
    const fails: string[] = [];
    const probed = fdStats.probed;
    for (let i = 0; i < 30; i++) {
      const r = await fuzzOne(19, i);
      if (r.failure) fails.push(`${r.failure.kind} ${r.failure.where}\n${r.failure.detail}\n${r.failed!.source}`);
    }
    expect(fails).toEqual([]);
    // The finite-difference oracle compared gradients, not only skipped kinks.
    expect(fdStats.probed - probed).toBeGreaterThan(10);
  }, 60_000);

  it('the never-crash oracle accepts diagnostics for mutants and random bytes', async () => {
    for (let s = 0; s < 30; s++) {
      expect(await neverCrash(mutate(generate(s).source, s))).toBeUndefined();
      expect(await neverCrash(randomBytes(s, 100))).toBeUndefined();
    }
  });

  it('the forward comparison reports the element that differs, and NaN against a number', () => {
    expect(compare([1, 2, 3], [1, 2, 3.0001], 1e-3, 0)).toBeUndefined();
    expect(compare([1, 2, 3.1], [1, 2, 3], 1e-3, 1e-3)).toMatch(/^\[2\]: got 3.1, expected 3/);
    expect(compare([NaN], [1], 1, 1)).toMatch(/^\[0\]/);
    expect(compare([1, 2], [1], 1, 1)).toMatch(/2 elements, expected 1/);
  });

  it('with every tolerance at 0, the f32 wasm results differ from the float64 reference (the oracles can fail)', async () => {
    const kinds = new Set<string>();
    for (let s = 0; s < 12; s++) {
      const g = generate(programSeed(5, s), { train: true });
      const f = await runOracles({ source: g.source, dataSeed: s, batch: 2 }, { tolScale: 0 });
      if (f) kinds.add(f.kind);
    }
    expect(kinds).toContain('forward');
  }, 30_000);

  it('the forward-vs-reverse oracle fails when the jvp and the gradient are taken along different tangents', async () => {
    const src = (t2: string) => `model m(x: f32[B, 3]) {
  param w: f32[3, 2] = glorot_uniform
  lossv = mean(tanh(x @ w))
  output loss = lossv
  output fwdrev_jvp = jvp(lossv, w, cos(w))
  output fwdrev_grad = sum(grad(lossv, w) * ${t2})
}
`;
    expect(await runOracles({ source: src('cos(w)'), dataSeed: 1, batch: 3 })).toBeUndefined();
    expect((await runOracles({ source: src('sin(w)'), dataSeed: 1, batch: 3 }))?.kind).toBe('fwdrev');
  });

  // fwdrev-2180989259 (the 100k campaign): std of values a clip saturated; its derivative is 0/0,
  // NaN in forward mode, selected away by the clip's mask in reverse mode. Counted, not failed.
  it('the forward-vs-reverse oracle skips a singular point (std of a saturated clip), counting it', async () => {
    const src = `model m(x: f32[B, 4]) {
  param w: f32[4] = zeros
  v = std(clip(x * 0.0 + w + 10.0, -3.0, 3.0), axis = 1)
  lossv = mean(tanh(v)) + mean(w * w) * 0.1
  output loss = lossv
  output fwdrev_jvp = jvp(lossv, w, w * 0.5 + 1.0)
  output fwdrev_grad = sum(grad(lossv, w) * (w * 0.5 + 1.0))
}
`;
    const before = { ...fwdrevStats };
    expect(await runOracles({ source: src, dataSeed: 1, batch: 2 })).toBeUndefined();
    expect(fwdrevStats.singular - before.singular).toBe(1);
    expect(fwdrevStats.compared - before.compared).toBe(0);
  });

  it('2 threads compute what 1 thread does', async () => {
    for (let i = 0; i < 2; i++) {
      const g = generate(programSeed(23, i), { fwdrev: true });
      const f = await runOracles({ source: g.source, dataSeed: i, batch: 4 }, { threads2: true });
      expect(f, g.source).toBeUndefined();
    }
  }, 30_000);

  it('a program that does not check is a check failure (a generator bug)', async () => {
    const f = await runOracles({ source: 'model m(x: f32[2]) { output y = x @ x @ x }', dataSeed: 1, batch: 1 });
    expect(f?.kind).toBe('check');
  });
});

describe('the shrinker', () => {
  it('reduces a planted failure (any program using sin) to a minimal program', async () => {
    const seed = [...Array(200).keys()].find(
      (s) =>
        /\bsin\(/.test(generate(s, { maxSteps: 14 }).source) &&
        generate(s, { maxSteps: 14 }).source.split('\n').length > 14,
    )!;
    const src = generate(seed, { maxSteps: 14 }).source;
    const fails = async (c: string) => checks(c) && /\bsin\(/.test(c);
    const r = await shrink(src, fails, 2000);
    expect(await fails(r.source)).toBe(true);
    expect(cost(r.source)).toBeLessThan(cost(src));
    const body = r.source.split('\n').filter((l) => l.startsWith('  '));
    // One statement or output using sin and nothing else: no params, no train block.
    expect(body.length, r.source).toBeLessThanOrEqual(2);
    expect(r.source).not.toMatch(/^train/m);
    expect(r.source).not.toMatch(/param /);
  });

  it('keeps only candidates that still fail: a failure needing two ops keeps both', async () => {
    const src = generate(5, { maxSteps: 12 }).source;
    const names = [...new Set(src.match(/\b(sin|cos|tanh|exp|matmul|sum|mean)\(/g) ?? [])].slice(0, 2);
    expect(names.length).toBe(2);
    const fails = async (c: string) => checks(c) && names.every((n) => c.includes(n));
    const r = await shrink(src, fails, 2000);
    for (const n of names) expect(r.source).toContain(n);
    expect(checks(r.source)).toBe(true);
  });
});
