// compiler/id-ranges.ts: each input that indexes a table, holds class ids or
// holds binary cross-entropy targets gets its valid range from the model.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { idRanges } from '../../compiler/id-ranges.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';

function rangesOf(src: string): Record<string, string> {
  const { result } = compileSource('test.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const ranges = idRanges(result.models[0]!.lower({ training: false }));
  return Object.fromEntries([...ranges].map(([k, r]) => [k, `${r.lo}..${r.hi}${r.hiIncluded ? ']' : ')'} ${r.why}`]));
}

describe('idRanges', () => {
  it('bag_of_words: token ids index the 50-row table, labels are BCE targets in [0, 1]', () => {
    expect(rangesOf(readFileSync('examples/bag_of_words.kiln', 'utf8'))).toEqual({
      tokens: "0..50) 'take' needs ids in [0, 50) (table 'emb')",
      label: "0..1] 'sigmoid_binary_cross_entropy' needs targets in [0, 1]",
    });
  });

  it('softmax_cross_entropy labels and one_hot ids range over the classes', () => {
    const src = `model m(x: f32[B, 4], y: i32[B], z: i32[B, 2]) {
      param w: f32[4, 3] = zeros
      output loss = mean(softmax_cross_entropy(x @ w, y))
      output oh = one_hot(z, 7)
    }`;
    expect(rangesOf(src)).toEqual({
      y: "0..3) 'softmax_cross_entropy' needs class ids in [0, 3)",
      z: "0..7) 'one_hot' needs class ids in [0, 7)",
    });
  });

  it('follows ids through reshapes, slices and casts, and keeps the tightest range', () => {
    const src = `model m(t: i32[B, 6], f: f32[B]) {
      param big: f32[100, 2] = zeros
      param small: f32[10, 2] = zeros
      output a = take(big, reshape(t, [-1]), 0)
      output b = take(small, t[:, 1:3], 0)
      output c = take(big, cast(f, i32), 0)
    }`;
    expect(rangesOf(src)).toEqual({
      t: "0..10) 'take' needs ids in [0, 10) (table 'small')",
      f: "0..100) 'take' needs ids in [0, 100) (table 'big')",
    });
  });

  it('leaves inputs that are only computed with alone', () => {
    const src = `model m(x: f32[B, 4], k: i32[B]) {
      param w: f32[4, 1] = zeros
      output y = mse((x @ w)[:, 0], cast(k, f32))
      output s = k + 1
    }`;
    expect(rangesOf(src)).toEqual({});
  });
});
