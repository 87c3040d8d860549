// The attribution methods of runtime/attribution.ts on models whose
// gradients are known in closed form, so every expectation is exact or has
// a bound derived from the method:
// - F_b(x) = sum_j w_j x_bj² / 2 (output `f`, [B]): dF/dx = w x;
// - logits = x W (output `logits`, [B, C]): d logits[b, k] / dx_b = W[:, k].

import { describe, expect, it } from 'vitest';
import {
  type AttributionModel,
  type AttributionOptions,
  AttributionError,
  attribute,
} from '../../runtime/attribution.js';
import type { Tensor } from '../../runtime/executor.js';

const B = 3;
const D = 4;
const C = 3;
const W_DIAG = [0.5, -1.5, 2, 1];
const W = [
  [1, -2, 0.5],
  [0, 1, -1],
  [2, 0.25, 1],
  [-1, 0.5, 3],
]; // [D, C]

/** The closed-form model; counts the gradient calls and the examples they carried. */
function model(): AttributionModel & { calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    forward: async (inputs) => {
      const x = inputs['x']!.data as Float32Array;
      const n = inputs['x']!.shape[0]!;
      const f = new Float32Array(n);
      const logits = new Float32Array(n * C);
      for (let b = 0; b < n; b++)
        for (let j = 0; j < D; j++) {
          const v = x[b * D + j]!;
          f[b]! += (W_DIAG[j]! * v * v) / 2;
          for (let k = 0; k < C; k++) logits[b * C + k]! += v * W[j]![k]!;
        }
      return { f: { data: f, shape: [n] }, logits: { data: logits, shape: [n, C] } };
    },
    gradient: async (inputs, of, cot, wrt) => {
      expect(wrt).toBe('x');
      const x = inputs['x']!.data as Float32Array;
      const n = inputs['x']!.shape[0]!;
      calls.push(n);
      expect(inputs['label']!.shape[0], 'other batched inputs are repeated with x').toBe(n);
      const g = new Float32Array(n * D);
      const u = cot.data as Float32Array;
      for (let b = 0; b < n; b++)
        for (let j = 0; j < D; j++)
          if (of === 'f') g[b * D + j] = u[b]! * W_DIAG[j]! * x[b * D + j]!;
          else for (let k = 0; k < C; k++) g[b * D + j]! += u[b * C + k]! * W[j]![k]!;
      return { data: g, shape: [n, D] };
    },
  };
}

const X = Float32Array.from({ length: B * D }, (_v, i) => Math.fround(Math.sin(1.7 * i + 0.3)));
const inputs: Record<string, Tensor> = {
  x: { data: X, shape: [B, D] },
  label: { data: Int32Array.from([0, 1, 2]), shape: [B] },
};
const run = (opts: Partial<AttributionOptions> & Pick<AttributionOptions, 'method'>, m = model()) =>
  attribute(m, inputs, { wrt: 'x', of: 'f', ...opts });

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got[i]! - want[i]!), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol);
}

const wx = (f: (x: number, j: number) => number) => Array.from(X, (x, i) => f(x, i % D));

describe('attribution methods, in closed form', () => {
  it('saliency is dF/dx and input_x_gradient x dF/dx', async () => {
    close(
      (await run({ method: 'saliency' })).attr,
      wx((x, j) => W_DIAG[j]! * x),
      1e-6,
      'saliency',
    );
    close(
      (await run({ method: 'input_x_gradient' })).attr,
      wx((x, j) => W_DIAG[j]! * x * x),
      1e-6,
      'x * grad',
    );
  });

  it('integrated gradients: the right Riemann sum, whose completeness error is exactly (F(x) - F(x0)) / m here', async () => {
    // Along x0 + a(x - x0) with x0 = 0: attr = w x² (1/m) sum_k k/m = w x² (m + 1) / (2m).
    for (const m of [1, 8, 64, 512]) {
      const r = await run({ method: 'integrated_gradients', steps: m });
      close(
        r.attr,
        wx((x, j) => (W_DIAG[j]! * x * x * (m + 1)) / (2 * m)),
        1e-5,
        `m = ${m}`,
      );
      for (let b = 0; b < B; b++) {
        const sum = r.attr.slice(b * D, (b + 1) * D).reduce((a, v) => a + v, 0);
        const f = r.scores[b]!; // F(x) - F(0), F(0) = 0
        expect(Math.abs(sum - f - f / m)).toBeLessThan(1e-5);
      }
    }
    // A baseline example, broadcast to every example: completeness against F(x) - F(x0).
    const x0 = Float32Array.from([0.25, -0.5, 0.1, 0]);
    const r = await run({ method: 'integrated_gradients', steps: 4096, baseline: { data: x0, shape: [1, D] } });
    for (let b = 0; b < B; b++) {
      const f0 = x0.reduce((a, v, j) => a + (W_DIAG[j]! * v * v) / 2, 0);
      const sum = r.attr.slice(b * D, (b + 1) * D).reduce((a, v) => a + v, 0);
      expect(Math.abs(sum - (r.scores[b]! - f0))).toBeLessThan(2e-3);
    }
  });

  it('SmoothGrad with zero noise is saliency, and with noise its mean is within 5 standard errors', async () => {
    const sal = (await run({ method: 'saliency' })).attr;
    close((await run({ method: 'smoothgrad', noise: 0, samples: 7 })).attr, sal, 0, 'noise 0');
    // attr = w (x + mean of n draws of N(0, s²)), s = S (max(x_b) - min(x_b)): |attr - w x| <= 5 |w| s / sqrt(n).
    const n = 2000;
    const S = 0.3;
    const r = await run({ method: 'smoothgrad', noise: S, samples: n, seed: 5 });
    for (let b = 0; b < B; b++) {
      const row = X.slice(b * D, (b + 1) * D);
      const s = S * (Math.max(...row) - Math.min(...row));
      for (let j = 0; j < D; j++)
        expect(Math.abs(r.attr[b * D + j]! - sal[b * D + j]!)).toBeLessThanOrEqual(
          (5 * Math.abs(W_DIAG[j]!) * s) / Math.sqrt(n),
        );
    }
    // Seeded: the same seed gives the same draws.
    close(
      (await run({ method: 'smoothgrad', noise: S, samples: 5, seed: 9 })).attr,
      (await run({ method: 'smoothgrad', noise: S, samples: 5, seed: 9 })).attr,
      0,
      'seeded',
    );
  });

  it('expected gradients converge to their mean w (x² - mean(x′²)) / 2 within a Hoeffding bound', async () => {
    const rows = 5;
    const base = Float32Array.from({ length: rows * D }, (_v, i) => Math.fround(Math.cos(0.9 * i)));
    const n = 4000;
    const r = await run({
      method: 'expected_gradients',
      samples: n,
      seed: 2,
      baseline: { data: base, shape: [rows, D] },
    });
    // One sample's term is (x - x′) w (x′ + a (x - x′)), linear in a ∈ [0, 1]: its range over the
    // baseline rows and a bounds it, and Hoeffding's inequality with failure probability 1e-9 gives
    // |mean - E| <= R sqrt(ln(2e9) / (2n)).
    for (let b = 0; b < B; b++)
      for (let j = 0; j < D; j++) {
        const x = X[b * D + j]!;
        const w = W_DIAG[j]!;
        const terms: number[] = [];
        let mean = 0;
        for (let k = 0; k < rows; k++) {
          const xp = base[k * D + j]!;
          terms.push((x - xp) * w * xp, (x - xp) * w * x);
          mean += (w * (x * x - xp * xp)) / 2 / rows;
        }
        const range = Math.max(...terms) - Math.min(...terms);
        expect(Math.abs(r.attr[b * D + j]! - mean)).toBeLessThanOrEqual(
          range * Math.sqrt(Math.log(2e9) / (2 * n)) + 1e-6,
        );
      }
  });

  it('runs all points of all examples in as few calls as the batch limit allows, with the same result', async () => {
    const one = model();
    const batched = await run({ method: 'integrated_gradients', steps: 10 }, one);
    expect(one.calls).toEqual([10 * B]);
    const loop = model();
    const looped = await run({ method: 'integrated_gradients', steps: 10, maxBatch: B }, loop);
    expect(loop.calls).toEqual(Array(10).fill(B));
    close(looped.attr, batched.attr, 0, 'loop of calls');
    const some = model();
    await run({ method: 'integrated_gradients', steps: 10, maxBatch: 4 * B }, some);
    expect(some.calls).toEqual([4 * B, 4 * B, 2 * B]);
  });

  it('attributes a class of a [B, C] output: the argmax by default, or the one asked for', async () => {
    const r = await run({ method: 'saliency', of: 'logits' });
    const logits = (await model().forward(inputs))['logits']!.data as Float32Array;
    for (let b = 0; b < B; b++) {
      const row = [...logits.slice(b * C, (b + 1) * C)];
      const k = row.indexOf(Math.max(...row));
      expect(r.classes[b]).toBe(k);
      expect(r.scores[b]).toBe(row[k]);
      close(
        r.attr.slice(b * D, (b + 1) * D),
        W.map((wj) => wj[k]!),
        1e-7,
        `example ${b}`,
      );
    }
    const k1 = await run({ method: 'saliency', of: 'logits', classIndex: 1 });
    expect([...k1.classes]).toEqual([1, 1, 1]);
    close(
      k1.attr.slice(0, D),
      W.map((wj) => wj[1]!),
      1e-7,
      'class 1',
    );
  });

  it('refuses what it cannot attribute, saying why', async () => {
    const fails = async (opts: Partial<AttributionOptions>, message: RegExp) => {
      const e = await run({ method: 'saliency', ...opts }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(AttributionError);
      expect((e as Error).message).toMatch(message);
    };
    await fails({ of: 'logits', classIndex: 3 }, /class 3 is out of range: output 'logits' has 3 classes \(0 to 2\)/);
    await fails({ classIndex: 0 }, /output 'f' has one value per example \(\[B\]\): it has no classes/);
    await fails({ of: 'nope' }, /no output 'nope' \(outputs: f, logits\)/);
    await fails({ wrt: 'z' }, /no input 'z' to attribute/);
    await fails({ wrt: 'label' }, /input 'label' is not f32/);
    await fails({ method: 'expected_gradients' }, /expected_gradients needs baseline examples/);
    await fails(
      { method: 'integrated_gradients', baseline: { data: new Float32Array(2), shape: [1, 2] } },
      /the baseline of 'x' has shape \[1, 2\]; expected the input's \[3, 4\] or one example \[1, 4\]/,
    );
    await fails({ method: 'integrated_gradients', steps: 0 }, /steps must be a whole number >= 1, got 0/);
    const scalar: AttributionModel = {
      forward: async () => ({ s: { data: new Float32Array(1), shape: [] } }),
      gradient: async () => ({ data: new Float32Array(0), shape: [] }),
    };
    const e = await attribute(scalar, inputs, { method: 'saliency', wrt: 'x', of: 's' }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/output 's' is f32\[\]: attribution needs a score per example/);
  });
});
