// The jax-js peer (@jax-js/jax, wasm device). Each workload is written the way
// jax-js is meant to be used: `jit` over the whole computation, arrays kept
// on the device between runs, `blockUntilReady` to wait for the result.
//
// Threads: jax-js parallelises wasm kernels over Web Workers only when both
// `SharedArrayBuffer` and a global `Worker` exist. Node 20 has no global
// `Worker`, so in Node jax-js runs every kernel on the main thread.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { numpy as np, nn, lax, jit, init, defaultDevice, blockUntilReady, valueAndGrad } from '@jax-js/jax';
import { INPUT_SHAPES, PARAM_SHAPES, cnnFlat } from '../train-models.mjs';

const require = createRequire(import.meta.url);

const refs = (tree) => Object.fromEntries(Object.entries(tree).map(([k, a]) => [k, a.ref]));

/** mean(softmax_cross_entropy(logits, y)) for integer labels y. */
const crossEntropy = (logits, y, classes) =>
  np.mean(np.sum(nn.logSoftmax(logits, -1).mul(nn.oneHot(y, classes)), -1)).mul(-1);

/**
 * conv 3x3 (padding 1, NCHW, OIHW) + per-channel bias -> relu -> max pool 2x2.
 * jax-js 0.1.25's padded convolution is much slower than its unpadded one
 * (about 550 ms against 45 ms for the second conv's forward pass at B = 64
 * on the development machine), and an explicit np.pad is fused back into it
 * under jit: it dominates this step.
 */
const convReluPool = (x, k, c) =>
  lax.reduceWindow(
    nn.relu(
      lax
        .convGeneralDilated(
          x,
          k,
          [1, 1],
          [
            [1, 1],
            [1, 1],
          ],
        )
        .add(c),
    ),
    (window) => np.max(window),
    [2, 2],
    [2, 2],
  );

/**
 * A training step of `lossFn(params, x, y)`: `valueAndGrad` of the loss and
 * Adam (PyTorch form, eps outside the sqrt, bias corrections computed on the
 * host in float64 and passed in as scalars, as Kiln does), all under one
 * `jit`. Starts from `params0` (shapes PARAM_SHAPES[kind]) on the batch (x, y).
 */
function adamTrainer(kind, lossFn, params0, xData, yData, dims, hyper) {
  const { lr, b1, b2, eps } = hyper;
  let p = {};
  let m = {};
  let v = {};
  for (const [k, s] of Object.entries(PARAM_SHAPES[kind](dims))) {
    p[k] = np.array(params0[k]).reshape(s);
    m[k] = np.zeros(s);
    v[k] = np.zeros(s);
  }
  const x = np.array(xData).reshape(INPUT_SHAPES[kind](dims).x);
  const y = np.array(yData, { dtype: np.int32 });
  const vg = valueAndGrad(lossFn);
  const stepFn = jit((p, m, v, x, y, s1, s2) => {
    const [loss, g] = vg(refs(p), x, y);
    const np_ = {};
    const nm = {};
    const nv = {};
    for (const k of Object.keys(p)) {
      const gk = g[k];
      const mk = m[k].mul(b1).add(gk.ref.mul(1 - b1));
      const vk = v[k].mul(b2).add(gk.ref.mul(gk).mul(1 - b2));
      // θ −= (lr / (1 − b1^t)) · m / (sqrt(v) / sqrt(1 − b2^t) + eps)
      np_[k] = p[k].sub(s1.ref.mul(mk.ref).div(np.sqrt(vk.ref).mul(s2.ref).add(eps)));
      nm[k] = mk;
      nv[k] = vk;
    }
    s1.dispose();
    s2.dispose();
    return [loss, np_, nm, nv];
  });
  let t = 0;
  return {
    async step() {
      t++;
      const s1 = np.array(lr / (1 - b1 ** t));
      const s2 = np.array(1 / Math.sqrt(1 - b2 ** t));
      const [loss, np_, nm, nv] = stepFn(p, m, v, x.ref, y.ref, s1, s2);
      p = np_;
      m = nm;
      v = nv;
      await blockUntilReady([p, m, v]);
      return (await loss.data())[0];
    },
    async params() {
      const out = {};
      for (const k of Object.keys(p)) out[k] = await p[k].ref.data();
      return out;
    },
    dispose() {
      stepFn.dispose();
      for (const tree of [p, m, v]) for (const a of Object.values(tree)) a.dispose();
      x.dispose();
      y.dispose();
    },
  };
}

export async function createJax() {
  const devices = await init('wasm');
  if (!devices.includes('wasm')) throw new Error(`jax-js: no wasm device (got ${devices.join(', ')})`);
  defaultDevice('wasm');
  const threaded = typeof globalThis.SharedArrayBuffer !== 'undefined' && typeof globalThis.Worker !== 'undefined';
  // The package's "exports" hide package.json: read it next to the resolved entry (dist/index.cjs).
  const pkg = join(dirname(require.resolve('@jax-js/jax')), '..', 'package.json');
  const { version } = JSON.parse(readFileSync(pkg, 'utf8'));
  return {
    name: 'jax-js',
    threads: threaded ? globalThis.navigator?.hardwareConcurrency || 4 : 1,
    config: `@jax-js/jax ${version}, device wasm, jit; ${threaded ? 'Web Workers available (multi-threaded)' : '1 thread (Node has no global Worker, so no worker pool)'}`,

    async matmul(n, aData, bData) {
      const a = np.array(aData).reshape([n, n]);
      const b = np.array(bData).reshape([n, n]);
      const f = jit((x, y) => np.matmul(x, y));
      return {
        async run() {
          const c = f(a.ref, b.ref);
          await blockUntilReady(c);
          c.dispose();
        },
        async result() {
          return await f(a.ref, b.ref).data();
        },
        dispose() {
          f.dispose();
          a.dispose();
          b.dispose();
        },
      };
    },

    async elementwise(aData, bData, cData) {
      const a = np.array(aData);
      const b = np.array(bData);
      const c = np.array(cData);
      // sqrt(a*a + b*b) * sigmoid(c) + 0.5
      const f = jit((a, b, c) =>
        np
          .sqrt(a.ref.mul(a).add(b.ref.mul(b)))
          .mul(nn.sigmoid(c))
          .add(0.5),
      );
      return {
        async run() {
          const o = f(a.ref, b.ref, c.ref);
          await blockUntilReady(o);
          o.dispose();
        },
        async result() {
          return await f(a.ref, b.ref, c.ref).data();
        },
        dispose() {
          f.dispose();
          a.dispose();
          b.dispose();
          c.dispose();
        },
      };
    },

    /** The same chain from host arrays to a host array: upload, compute, read back (what Kiln's `run` does). */
    async elementwiseHost(aData, bData, cData) {
      const f = jit((a, b, c) =>
        np
          .sqrt(a.ref.mul(a).add(b.ref.mul(b)))
          .mul(nn.sigmoid(c))
          .add(0.5),
      );
      const call = () => f(np.array(aData), np.array(bData), np.array(cData)).data();
      return {
        async run() {
          await call();
        },
        result: call,
        dispose() {
          f.dispose();
        },
      };
    },

    /** One training step of the MLP (see `adamTrainer`). */
    async mlp(params0, xData, yData, dims, hyper) {
      const lossFn = (p, x, y) => {
        const h = nn.relu(np.matmul(x, p.w1).add(p.b1));
        return crossEntropy(np.matmul(h, p.w2).add(p.b2), y, dims.classes);
      };
      return adamTrainer('mlp', lossFn, params0, xData, yData, dims, hyper);
    },

    /** One training step of the CNN: NCHW activations and OIHW kernels, as Kiln's. */
    async cnn(params0, xData, yData, dims, hyper) {
      const lossFn = (p, x, y) => {
        const h1 = convReluPool(x, p.k1, p.c1);
        const h2 = convReluPool(h1, p.k2, p.c2);
        const h3 = nn.relu(np.matmul(h2.reshape([-1, cnnFlat(dims)]), p.w1).add(p.b1));
        return crossEntropy(np.matmul(h3, p.w2).add(p.b2), y, dims.classes);
      };
      return adamTrainer('cnn', lossFn, params0, xData, yData, dims, hyper);
    },

    /** One training step of the layer-norm + attention block. */
    async attention(params0, xData, yData, dims, hyper) {
      const lossFn = (p, x, y) => {
        // layer_norm: (x - mean) / sqrt(var + 1e-5) * gamma + beta over the last axis
        const h = nn.standardize(x.ref, -1, { epsilon: 1e-5 }).mul(p.ln_g).add(p.ln_b);
        const q = np.matmul(h.ref, p.wq);
        const k = np.matmul(h.ref, p.wk);
        const v = np.matmul(h, p.wv);
        const attn = nn.softmax(np.matmul(q, np.matrixTranspose(k)).div(Math.sqrt(dims.width)), -1);
        const r = x.add(np.matmul(np.matmul(attn, v), p.wo));
        return crossEntropy(np.matmul(np.mean(r, 1), p.wc).add(p.bc), y, dims.classes);
      };
      return adamTrainer('attention', lossFn, params0, xData, yData, dims, hyper);
    },
  };
}
