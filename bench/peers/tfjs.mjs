// The TensorFlow.js peer: @tensorflow/tfjs with @tensorflow/tfjs-backend-wasm
// (XNNPACK kernels, SIMD). Tensors stay on the backend between runs; the
// wasm backend executes each op synchronously when it is called.
//
// Threads: the backend reports WASM_HAS_MULTITHREAD_SUPPORT = false whenever
// IS_NODE (tfjs issue #3830), so in Node it loads the single-threaded SIMD
// binary and runs on one thread.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PARAM_SHAPES, Unsupported, inverse, permuteAxes } from '../train-models.mjs';

const require = createRequire(import.meta.url);

/**
 * The gradient kernels a conv2d training step needs beyond the forward ones.
 * tfjs-backend-wasm 4.22 lacks Conv2DBackpropFilter; the CNN below agrees
 * with Kiln on tfjs's cpu backend, which has it.
 */
const CNN_GRADIENT_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad'];

/** Axis permutations between Kiln's layouts and tfjs's. */
const OIHW_TO_HWIO = [2, 3, 1, 0];
const NCHW_TO_NHWC = [0, 2, 3, 1];
const CHW_TO_HWC_ROWS = [1, 2, 0, 3]; // [C, H, W, n] -> [H, W, C, n]

let tf;

/** Trainable tf.variables from tensors, by name (unnamed: tfjs names must be unique while they live). */
const variables = (tensors) => Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, toVariable(t)]));

function toVariable(t) {
  const v = tf.variable(t, true);
  t.dispose(); // the variable holds its own reference to the data
  return v;
}

/** mean(softmax_cross_entropy(logits, labels)) for one-hot labels. */
const crossEntropy = (logits, yOneHot) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits, -1), yOneHot), -1)));

/**
 * A training step: `tf.train.adam(...).minimize(lossFn, true)` over the
 * variables `p`; the loss is read back each step. `read(name, variable)`
 * gives a param back in Kiln's layout; `constants` are disposed with it.
 */
function adamTrainer(p, lossFn, constants, hyper, read) {
  const opt = tf.train.adam(hyper.lr, hyper.b1, hyper.b2, hyper.eps);
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
      for (const [k, t] of Object.entries(p)) out[k] = await read(k, t);
      return out;
    },
    dispose() {
      opt.dispose();
      for (const t of [...vars, ...constants]) t.dispose();
    },
  };
}

export async function createTfjs() {
  tf = await import('@tensorflow/tfjs');
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

    /** One training step of the MLP (see `adamTrainer`). */
    async mlp(params0, xData, yData, dims, hyper) {
      const { batch, input, hidden, classes } = dims;
      const p = variables({
        w1: tf.tensor2d(params0.w1, [input, hidden]),
        b1: tf.tensor1d(params0.b1),
        w2: tf.tensor2d(params0.w2, [hidden, classes]),
        b2: tf.tensor1d(params0.b2),
      });
      const x = tf.tensor2d(xData, [batch, input]);
      const yOneHot = tf.oneHot(tf.tensor1d(yData, 'int32'), classes);
      const lossFn = () => {
        const h = tf.relu(tf.add(tf.matMul(x, p.w1), p.b1));
        return crossEntropy(tf.add(tf.matMul(h, p.w2), p.b2), yOneHot);
      };
      return adamTrainer(p, lossFn, [x, yOneHot], hyper, (k, t) => t.data());
    },

    /**
     * One training step of the CNN, in tfjs's layout: NHWC activations, HWIO
     * kernels, per-channel biases of shape [C], and w1's rows in (h, w, c)
     * order (the flattening of NHWC): Kiln's params permuted on the way in
     * and back on the way out, the same model.
     */
    async cnn(params0, xData, yData, dims, hyper) {
      const missing = CNN_GRADIENT_KERNELS.filter((k) => !tf.getKernel(k, tf.getBackend()));
      if (missing.length > 0)
        throw new Unsupported(
          `tfjs-backend-wasm has no ${missing.join(', ')} kernel, which the gradient of tf.conv2d needs: minimize() throws "Kernel '${missing[0]}' not registered for backend 'wasm'"`,
        );
      const { batch, size, ch1, ch2, classes } = dims;
      const kernelShape = PARAM_SHAPES.cnn(dims);
      const w1Rows = [ch2, size / 4, size / 4, dims.hidden]; // w1 viewed as [C, H, W, hidden]
      const toTf = {
        k1: (d) => tf.tensor4d(permuteAxes(d, kernelShape.k1, OIHW_TO_HWIO), [3, 3, 1, ch1]),
        k2: (d) => tf.tensor4d(permuteAxes(d, kernelShape.k2, OIHW_TO_HWIO), [3, 3, ch1, ch2]),
        c1: (d) => tf.tensor1d(d),
        c2: (d) => tf.tensor1d(d),
        w1: (d) => tf.tensor2d(permuteAxes(d, w1Rows, CHW_TO_HWC_ROWS), kernelShape.w1),
        b1: (d) => tf.tensor1d(d),
        w2: (d) => tf.tensor2d(d, kernelShape.w2),
        b2: (d) => tf.tensor1d(d),
      };
      const fromTf = {
        k1: (d) => permuteAxes(d, [3, 3, 1, ch1], inverse(OIHW_TO_HWIO)),
        k2: (d) => permuteAxes(d, [3, 3, ch1, ch2], inverse(OIHW_TO_HWIO)),
        w1: (d) => permuteAxes(d, [size / 4, size / 4, ch2, dims.hidden], inverse(CHW_TO_HWC_ROWS)),
      };
      const p = variables(Object.fromEntries(Object.entries(toTf).map(([k, f]) => [k, f(params0[k])])));
      const x = tf.tensor4d(permuteAxes(xData, [batch, 1, size, size], NCHW_TO_NHWC), [batch, size, size, 1]);
      const yOneHot = tf.oneHot(tf.tensor1d(yData, 'int32'), classes);
      const convReluPool = (h, k, c) => tf.maxPool(tf.relu(tf.add(tf.conv2d(h, k, 1, 'same'), c)), 2, 2, 'valid');
      const lossFn = () => {
        const h2 = convReluPool(convReluPool(x, p.k1, p.c1), p.k2, p.c2);
        const h3 = tf.relu(tf.add(tf.matMul(tf.reshape(h2, [batch, -1]), p.w1), p.b1));
        return crossEntropy(tf.add(tf.matMul(h3, p.w2), p.b2), yOneHot);
      };
      return adamTrainer(p, lossFn, [x, yOneHot], hyper, async (k, t) => (fromTf[k] ?? ((d) => d))(await t.data()));
    },

    /** One training step of the layer-norm + attention block (projections as [B*T, D] @ [D, D] matmuls). */
    async attention(params0, xData, yData, dims, hyper) {
      const { batch, tokens, width, classes } = dims;
      const shapes = PARAM_SHAPES.attention(dims);
      const p = variables(Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tf.tensor(params0[k], s)])));
      const x = tf.tensor3d(xData, [batch, tokens, width]);
      const yOneHot = tf.oneHot(tf.tensor1d(yData, 'int32'), classes);
      const project = (h, w) => tf.reshape(tf.matMul(tf.reshape(h, [-1, width]), w), [batch, tokens, width]);
      const lossFn = () => {
        const { mean, variance } = tf.moments(x, -1, true);
        const h = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), p.ln_g), p.ln_b);
        const scores = tf.div(tf.matMul(project(h, p.wq), project(h, p.wk), false, true), Math.sqrt(width));
        const r = tf.add(x, project(tf.matMul(tf.softmax(scores, -1), project(h, p.wv)), p.wo));
        return crossEntropy(tf.add(tf.matMul(tf.mean(r, 1), p.wc), p.bc), yOneHot);
      };
      return adamTrainer(p, lossFn, [x, yOneHot], hyper, (k, t) => t.data());
    },
  };
}
