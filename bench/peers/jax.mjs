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
import { numpy as np, nn, jit, init, defaultDevice, blockUntilReady, valueAndGrad } from '@jax-js/jax';

const require = createRequire(import.meta.url);

const refs = (tree) => Object.fromEntries(Object.entries(tree).map(([k, a]) => [k, a.ref]));

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

    /**
     * One training step of the MLP: `valueAndGrad` of the softmax
     * cross-entropy loss and Adam (PyTorch form, eps outside the sqrt, bias
     * corrections computed on the host in float64 and passed in as scalars,
     * as Kiln does), all under one `jit`.
     */
    async mlp(params0, xData, yData, dims, hyper) {
      const { batch, input, hidden, classes } = dims;
      const { lr, b1, b2, eps } = hyper;
      const shapes = { w1: [input, hidden], b1: [hidden], w2: [hidden, classes], b2: [classes] };
      let p = {};
      let m = {};
      let v = {};
      for (const [k, s] of Object.entries(shapes)) {
        p[k] = np.array(params0[k]).reshape(s);
        m[k] = np.zeros(s);
        v[k] = np.zeros(s);
      }
      const x = np.array(xData).reshape([batch, input]);
      const y = np.array(yData, { dtype: np.int32 });
      const lossFn = (p, x, y) => {
        const h = nn.relu(np.matmul(x, p.w1).add(p.b1));
        const logits = np.matmul(h, p.w2).add(p.b2);
        return np.mean(np.sum(nn.logSoftmax(logits, -1).mul(nn.oneHot(y, classes)), -1)).mul(-1);
      };
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
          for (const t of [p, m, v]) for (const a of Object.values(t)) a.dispose();
          x.dispose();
          y.dispose();
        },
      };
    },
  };
}
