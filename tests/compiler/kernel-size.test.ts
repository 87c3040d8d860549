// Kernel size is bounded however large the model (issue #22, compile time
// linear in model size): a sum of many row reductions is cut into kernels of
// at most MAX_KERNEL_OPS inlined ops, sibling merges stop at the same bound,
// and the cut program still computes what the reference interpreter does
// (fused wasm steps against referenceTrainStep, the usual step tolerances).

import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import { MAX_KERNEL_OPS } from '../../compiler/fusion/decide.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact } from '../../runtime/index.js';
import { type Example, artifactFor, expectStepsMatchReference, lcg } from '../runtime/helpers.js';

/** `n` params of shape [8], each `sum(tanh(x * wI), axis = 1)` added into the loss (the model). */
function manyParams(n: number): string {
  const params = Array.from({ length: n }, (_, i) => `  param w${i}: f32[8] = glorot_uniform`);
  const terms = Array.from({ length: n }, (_, i) => `sum(tanh(x * w${i}), axis = 1)`);
  return `model many(x: f32[B, 8], y: f32[B]) {
${params.join('\n')}
  s = ${terms.join(' + ')}
  output loss = mean((s - y) * (s - y))
}
train many {
  minimize  loss
  optimizer adam(lr = 0.01)
}
`;
}

function exampleOf(src: string): Example {
  const { result } = compileSource('many.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  return { model: result.models[0]!, train: result.trains[0]! };
}

const open: Model[] = [];
afterAll(() => {
  for (const m of open) m.dispose();
});

describe('kernel size bound', () => {
  it('cuts a 120-term sum into kernels of bounded size, and says why', () => {
    const ex = exampleOf(manyParams(120));
    const c = compile(ex.model, ex.train, { target: 'wasm' });
    if (c.step?.kind !== 'built') throw new Error('no training step');
    for (const p of [c.forward, c.step.stages]) {
      const sizes = p.fusion.program.kernels.map((k) => k.ops.length);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_KERNEL_OPS);
      // 120 terms of 4 ops each cannot fit one kernel: the cut made several.
      expect(sizes.filter((s) => s > 64).length).toBeGreaterThan(2);
    }
    expect(c.forward.fusion.explain.some((e) => e.includes(`(at most ${MAX_KERNEL_OPS} per kernel)`))).toBe(true);
    expect(
      c.step.stages.fusion.explain.some(
        (e) => e.includes(`ops (at most ${MAX_KERNEL_OPS} per kernel)`) && e.startsWith('not merging more into'),
      ),
    ).toBe(true);
  });

  it('cut kernels train as the reference does (wasm, 3 adam steps)', async () => {
    const ex = exampleOf(manyParams(40));
    const m = await loadArtifact(artifactFor(ex.model, ex.train, { seed: 1, threads: false }), { threads: 1 });
    open.push(m);
    const rnd = lcg(5);
    const batch = (): Record<string, Tensor> => ({
      x: { data: Float32Array.from({ length: 16 * 8 }, () => rnd() * 2 - 1), shape: [16, 8] },
      y: { data: Float32Array.from({ length: 16 }, () => rnd() * 4 - 2), shape: [16] },
    });
    await expectStepsMatchReference(m, buildTrainStep(ex.model, ex.train!), batch);
  });
});
