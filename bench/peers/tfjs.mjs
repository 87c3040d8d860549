// The TensorFlow.js peer: @tensorflow/tfjs with @tensorflow/tfjs-backend-wasm
// (XNNPACK kernels, SIMD). Tensors stay on the backend between runs; the
// wasm backend executes each op synchronously when it is called.
//
// Threads: the backend reports WASM_HAS_MULTITHREAD_SUPPORT = false whenever
// IS_NODE (tfjs issue #3830), so in Node it loads the single-threaded SIMD
// binary and runs on one thread.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export async function createTfjs() {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // In Node the backend cannot locate its .wasm files by itself: point it at the package's dist/.
  const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
  wasm.setWasmPaths(dist);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialise');
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const threads = wasm.getThreadsCount();
  return {
    name: 'tfjs',
    threads: mt ? threads : 1,
    config: `@tensorflow/tfjs ${tf.version.tfjs} + tfjs-backend-wasm, ${simd ? 'SIMD' : 'no SIMD'}, ${mt ? `${threads} threads` : '1 thread (no multi-threading under Node)'}; eager ops (no fusion)`,

    async matmul(n, aData, bData) {
      const a = tf.tensor2d(aData, [n, n]);
      const b = tf.tensor2d(bData, [n, n]);
      return {
        async run() {
          tf.matMul(a, b).dispose();
        },
        async result() {
          const c = tf.matMul(a, b);
          const d = await c.data();
          c.dispose();
          return d;
        },
        dispose() {
          a.dispose();
          b.dispose();
        },
      };
    },

    async elementwise(aData, bData, cData) {
      const a = tf.tensor1d(aData);
      const b = tf.tensor1d(bData);
      const c = tf.tensor1d(cData);
      // sqrt(a*a + b*b) * sigmoid(c) + 0.5, op by op (tfjs has no fusion)
      const f = () => tf.tidy(() => tf.add(tf.mul(tf.sqrt(tf.add(tf.mul(a, a), tf.mul(b, b))), tf.sigmoid(c)), 0.5));
      return {
        async run() {
          f().dispose();
        },
        async result() {
          const o = f();
          const d = await o.data();
          o.dispose();
          return d;
        },
        dispose() {
          a.dispose();
          b.dispose();
          c.dispose();
        },
      };
    },

    /** The same chain from host arrays to a host array: upload, compute, read back (what Kiln's `run` does). */
    async elementwiseHost(aData, bData, cData) {
      const call = async () => {
        const o = tf.tidy(() => {
          const a = tf.tensor1d(aData);
          const b = tf.tensor1d(bData);
          const c = tf.tensor1d(cData);
          return tf.add(tf.mul(tf.sqrt(tf.add(tf.mul(a, a), tf.mul(b, b))), tf.sigmoid(c)), 0.5);
        });
        const d = await o.data();
        o.dispose();
        return d;
      };
      return {
        async run() {
          await call();
        },
        result: call,
        dispose() {},
      };
    },

    /** One training step: `tf.train.adam(...).minimize(loss, true)`; the loss is read back each step. */
    async mlp(params0, xData, yData, dims, hyper) {
      const { batch, input, hidden, classes } = dims;
      const p = {
        w1: tf.variable(tf.tensor2d(params0.w1, [input, hidden]), true, 'w1'),
        b1: tf.variable(tf.tensor1d(params0.b1), true, 'b1'),
        w2: tf.variable(tf.tensor2d(params0.w2, [hidden, classes]), true, 'w2'),
        b2: tf.variable(tf.tensor1d(params0.b2), true, 'b2'),
      };
      const x = tf.tensor2d(xData, [batch, input]);
      const yOneHot = tf.oneHot(tf.tensor1d(yData, 'int32'), classes);
      const opt = tf.train.adam(hyper.lr, hyper.b1, hyper.b2, hyper.eps);
      const lossFn = () => {
        const h = tf.relu(tf.add(tf.matMul(x, p.w1), p.b1));
        const logits = tf.add(tf.matMul(h, p.w2), p.b2);
        return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits, -1), yOneHot), -1)));
      };
      const vars = Object.values(p);
      return {
        async step() {
          const loss = opt.minimize(lossFn, true, vars);
          const l = loss.dataSync()[0];
          loss.dispose();
          return l;
        },
        async params() {
          const out = {};
          for (const [k, t] of Object.entries(p)) out[k] = await t.data();
          return out;
        },
        dispose() {
          opt.dispose();
          for (const t of vars) t.dispose();
          x.dispose();
          yOneHot.dispose();
        },
      };
    },
  };
}
