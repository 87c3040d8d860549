// Coverage and steering (issue #19): the fused pairs and kernel templates a
// compiled program reached, and the steered choice of programs: reproducible
// from the campaign seed and index alone, and it lifts the rarest builtins.

import { describe, expect, it } from 'vitest';
import { compileSource } from '../../dsl/frontend.js';
import { compile } from '../../compiler/compile.js';
import { fuzzOne } from '../../fuzz/campaign.js';
import { Tally, kernelCoverage, kernelTemplate } from '../../fuzz/coverage.js';
import { generate } from '../../fuzz/generate.js';
import { Steering, candidateSeed } from '../../fuzz/steer.js';

function kernelsOf(src: string) {
  const { result } = compileSource('t.kiln', src);
  expect(result.diagnostics).toEqual([]);
  return compile(result.models[0]!, undefined).forward.fusion.program;
}

describe('kernel coverage', () => {
  it('names the producer>consumer pairs inlined into one kernel', () => {
    const p = kernelsOf('model m(x: f32[4, 8]) {\n  output y = sum(exp(x * 2.0), axis = 1)\n}\n');
    const { pairs, templates } = kernelCoverage([p]);
    expect(pairs).toContain('mul>exp');
    expect(pairs).toContain('exp>reduce_sum');
    expect(templates).toEqual(['rowwise:rm']);
  });

  it('names kernels merged into one (a+b)', () => {
    const p = kernelsOf(
      'model m(x: f32[4, 8]) {\n  y = tanh(x) * 2.0\n  output a = sum(y, axis = 0)\n  output b = sum(y * y, axis = 0)\n}\n',
    );
    const { pairs, templates } = kernelCoverage([p]);
    expect(pairs).toContain('reduce_sum+reduce_sum');
    expect(pairs).toContain('tanh>mul');
    expect(templates).toEqual(['reduce:rmrm']);
    for (const q of pairs) expect(q).toMatch(/^[a-z_0-9]+[>+][a-z_0-9]+$/);
  });

  it('writes templates as a small set: runs once, long alternations cut', () => {
    const k = (stages: ('r' | 'm')[]) =>
      kernelTemplate({
        name: 'k0',
        kind: 'reduce',
        buffers: [],
        dims: [],
        scalars: [],
        parallel: [],
        ops: [],
        stages: stages.map((s) =>
          s === 'r' ? { kind: 'reduce', loops: [], accs: [] } : { kind: 'map', loops: [], stores: [] },
        ),
      });
    expect(k(['r', 'r', 'r', 'm'])).toBe('reduce:rm');
    expect(k(['r', 'm', 'r', 'm'])).toBe('reduce:rmrm');
    expect(k(['m', 'r', 'm', 'r', 'r', 'm'])).toBe('reduce:mrmr+');
  });

  it('a fuzzed program reports what it reached; a tally orders rarest first', async () => {
    const r = await fuzzOne(19, 0);
    expect(r.failure).toBeUndefined();
    expect(r.kernels.templates.length).toBeGreaterThan(0);
    const t = new Tally();
    t.add(['a', 'b']);
    t.add(['b']);
    expect(t.rarest()).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });
});

describe('steering', () => {
  it('chooses the same program for an index however the indices before it were asked', () => {
    const all = new Steering(5);
    const seq = Array.from({ length: 40 }, (_, i) => all.program(i).source);
    const skipping = new Steering(5);
    for (const i of [3, 17, 39]) expect(skipping.program(i).source).toBe(seq[i]);
    expect(() => skipping.program(10)).toThrow(/already past/);
    // Each choice is one of its index's candidates, so the reported seed regenerates it.
    const g = new Steering(5).program(7);
    expect(generate(g.seed).source).toBe(g.source);
    expect([0, 1, 2, 3].map((k) => candidateSeed(5, 7, k))).toContain(g.seed);
  });

  it('lifts the rarest builtins: over 2,000 programs their counts at least double', () => {
    const n = 2000;
    const unsteered = new Tally();
    const steered = new Steering(9);
    for (let i = 0; i < n; i++) {
      unsteered.add(generate(candidateSeed(9, i)).builtins);
      steered.program(i);
    }
    const rarest = unsteered.rarest().slice(0, 10);
    const before = rarest.reduce((a, [, c]) => a + c, 0);
    const after = rarest.reduce((a, [b]) => a + (steered.counts.get(b) ?? 0), 0);
    expect(after).toBeGreaterThan(2 * before);
  });
});
