// Models far larger than any example go through the front and middle end
// (parse, check, lowering, gradient, rewrite passes, fusion, memory plan)
// without a stack overflow: no pass recurses in proportion to the model's
// size (issue #22). Sizes are above what a recursive walk survives (a chain
// of 5,000 lets overflowed fusion's planner; a sum of 20,000 terms the
// fusion decisions). `npm run bench:compile` times the full sizes.

import { describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';

function middleEnd(src: string): number {
  const { result } = compileSource('big.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const c = compile(result.models[0]!, result.trains[0], { target: 'wasm' });
  if (c.step?.kind !== 'built') throw new Error('no training step');
  const dims = new Map([['B', 32]]);
  return c.forward.memory.peakBytes(dims) + c.step.stages.memory.peakBytes(dims);
}

const TRAIN = 'train m {\n  minimize loss\n  optimizer sgd(lr = 0.01)\n}\n';

describe('compiling very large models', () => {
  it('a chain of 6,000 lets', () => {
    const lets = Array.from({ length: 6000 }, (_, i) => `  h${i + 1} = tanh(h${i}) + 0.5`);
    const src = `model m(x: f32[B, 8]) {\n  param w: f32[8] = zeros\n  h0 = x * w\n${lets.join('\n')}\n  output loss = mean(h6000)\n}\n${TRAIN}`;
    expect(middleEnd(src)).toBeGreaterThan(0);
  }, 120_000);

  it('a sum of 12,000 terms', () => {
    const terms = Array.from({ length: 12_000 }, (_, i) => `x * ${(i % 97) / 100 + 0.01}`);
    const src = `model m(x: f32[B, 8]) {\n  param w: f32[8] = zeros\n  s = ${terms.join(' + ')}\n  output loss = mean(s * w)\n}\n${TRAIN}`;
    expect(middleEnd(src)).toBeGreaterThan(0);
  }, 120_000);
});
