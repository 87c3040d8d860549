// The finite-difference oracle (fuzz/oracles.ts) can fail: a loss that
// depends on a param through stop_gradient has a reference gradient that
// leaves that dependence out (by design, which is why runOracles skips such
// programs), so central differences disagree with it, by name; a smooth loss
// agrees, and a kink within reach is skipped rather than reported.

import { describe, expect, it } from 'vitest';
import { compileSource } from '../../dsl/frontend.js';
import { caseInputs, fdStats, finiteDifferences } from '../../fuzz/oracles.js';
import type { Tensor } from '../../runtime/executor.js';
import { mulberry32 } from '../../runtime/mulberry32.js';

const model = (body: string) => `model m(x: f32[B, 4]) {
  param w: f32[4] = zeros
  ${body}
}
train m {
  minimize loss
  optimizer sgd(lr = 0.1)
}
`;

async function oracle(source: string, w?: Float32Array) {
  const { result } = compileSource('fd.kiln', source);
  expect(result.diagnostics).toEqual([]);
  const m = result.models[0]!;
  const c = { source, dataSeed: 3, batch: 5 };
  const r = mulberry32(9);
  const params: Record<string, Tensor> = {
    w: { data: w ?? Float32Array.from({ length: 4 }, () => r() - 0.5), shape: [4] },
  };
  return finiteDifferences(m, 'loss', caseInputs(m, c), params, c, 1);
}

describe('the finite-difference oracle', () => {
  it('agrees with a smooth loss, comparing every probe', async () => {
    const before = fdStats.probed;
    expect(await oracle(model('output loss = mean(tanh(x * w) + exp(x * w) / 4)'))).toBeUndefined();
    expect(fdStats.probed - before).toBe(3);
  });

  // The second: fdiff-59694601 (the 100k campaign), leaky_relu at 0 times a weight of about 0.03, so the
  // two slopes were 0.0095 and 0.000095, within the old absolute 1% of each other; the kink now is relative.
  it.each([
    ['at the point itself, where every central difference is the mean of two slopes', 'leaky_relu(w, alpha = 0.01)'],
    ['at the point between two small slopes', 'tanh(leaky_relu(w, alpha = 0.01) * 0.03)'],
  ])('skips a kink %s', async (_what, term) => {
    const before = fdStats.probed;
    expect(await oracle(model(`output loss = mean(${term} + 0 * x)`), new Float32Array(4))).toBeUndefined();
    expect(fdStats.probed - before).toBe(0);
  });

  it('fails a gradient that leaves out a dependence', async () => {
    const f = await oracle(model('output loss = mean(tanh(x * w) + stop_gradient(w * w) * x)'));
    expect(f).toMatchObject({ kind: 'fdiff', where: 'gradient' });
    expect(f!.detail).toMatch(/^grad\.w\[\d\]: gradient .*, finite differences /);
  });
});
