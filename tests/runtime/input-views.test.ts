// Zero-copy inputs (Model.inputViews): typed arrays over the model's memory
// where a program reads its inputs. Filled in place and passed back, they give
// exactly what copied arrays give, on one and two threads, for the forward
// pass and the training step; a view a memory growth detached is refused.

import { describe, expect, it } from 'vitest';
import { compileSource } from '../../dsl/frontend.js';
import { loadArtifact } from '../../runtime/index.js';
import { mulberry32 } from '../../runtime/mulberry32.js';
import { compileArtifact } from '../../targets/artifact.js';

const SOURCE = `model m(x: f32[B, 12], y: i32[B]) {
  param w: f32[12, 5] = glorot_uniform
  param b: f32[5] = zeros
  logits = tanh(x @ w + b)
  output loss = mean(softmax_cross_entropy(logits, y))
  output p = softmax(logits, axis = -1)
}
train m {
  minimize loss
  optimizer adam(lr = 1e-2)
}
`;

async function load(threads: number) {
  const { models, trains } = compileSource('m.kiln', SOURCE).result;
  return loadArtifact(await compileArtifact(models[0]!, trains[0], { seed: 3 }), { threads });
}

function batch(n: number, seed: number) {
  const r = mulberry32(seed);
  return {
    x: Float32Array.from({ length: n * 12 }, () => 2 * r() - 1),
    y: Int32Array.from({ length: n }, () => Math.floor(5 * r())),
  };
}

describe('Model.inputViews', () => {
  for (const threads of [1, 2])
    it(`runs and steps on views as on copied arrays (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const viewed = await load(threads);
      const copied = await load(threads);
      try {
        for (let s = 0; s < 3; s++) {
          const { x, y } = batch(40, s);
          const shapes = { x: [40, 12], y: [40] };
          const v = viewed.inputViews('step', shapes);
          expect(v.x).toBeInstanceOf(Float32Array);
          expect(v.y).toBeInstanceOf(Int32Array);
          v.x!.set(x);
          v.y!.set(y);
          const lv = await viewed.step({ x: { data: v.x!, shape: shapes.x }, y: { data: v.y!, shape: shapes.y } });
          const lc = await copied.step({ x: { data: x, shape: shapes.x }, y: { data: y, shape: shapes.y } });
          expect(lv).toBe(lc);
          const r = viewed.inputViews('run', shapes);
          r.x!.set(x);
          r.y!.set(y);
          const ov = await viewed.run({ x: { data: r.x!, shape: shapes.x }, y: { data: r.y!, shape: shapes.y } });
          const oc = await copied.run({ x: { data: x, shape: shapes.x }, y: { data: y, shape: shapes.y } });
          expect(ov.p!.data).toEqual(oc.p!.data);
          expect(ov.loss!.data).toEqual(oc.loss!.data);
        }
        expect(await viewed.getParams()).toEqual(await copied.getParams());
      } finally {
        viewed.dispose();
        copied.dispose();
      }
    });

  it('refuses a view that a larger call detached, naming the input; new views work', async () => {
    const m = await load(1); // unshared memory: growing it detaches the old buffer
    try {
      const small = batch(4, 7);
      const v = m.inputViews('run', { x: [4, 12], y: [4] });
      v.x!.set(small.x);
      v.y!.set(small.y);
      const before = await m.run({ x: { data: v.x!, shape: [4, 12] }, y: { data: v.y!, shape: [4] } });
      const big = batch(20000, 8);
      await m.run({ x: { data: big.x, shape: [20000, 12] }, y: { data: big.y, shape: [20000] } });
      await expect(m.run({ x: { data: v.x!, shape: [4, 12] }, y: { data: small.y, shape: [4] } })).rejects.toThrow(
        /input 'x'.* holds 0/,
      );
      const w = m.inputViews('run', { x: [4, 12], y: [4] });
      w.x!.set(small.x);
      w.y!.set(small.y);
      const after = await m.run({ x: { data: w.x!, shape: [4, 12] }, y: { data: w.y!, shape: [4] } });
      expect(after.p!.data).toEqual(before.p!.data);
    } finally {
      m.dispose();
    }
  });

  it('names the shapes it cannot bind', async () => {
    const m = await load(1);
    try {
      expect(() => m.inputViews('run', { x: [4, 11], y: [4] })).toThrow(/input 'x': expected f32\[B, 12\]/);
    } finally {
      m.dispose();
    }
  });
});
