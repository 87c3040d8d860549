// `npm run bench:gpu`: Kiln's webgpu target against TensorFlow.js's webgpu
// backend, both on Dawn (the `webgpu` npm package) in one Node process.
// Workloads: (a) matmul n = 1024, 2048, 4096 in GFLOP/s, host arrays in and
// the product back out on every call (Kiln's `run`; tfjs: tensors from the
// arrays, matMul, data()); (b) one training step of the MLP 784-256-10
// (batch 128, Adam) and (c) of a wide MLP 4096-4096-4096-10 (batch 512,
// Adam), in ms/step, the loss read back every step. Medians after a warm-up
// of at least one second (bench/stats.mjs).
//
// Without a GPU, Dawn runs on SwiftShader (the CPU): the figures then say
// nothing about GPUs, the sizes shrink to 256 and 512 and the wide MLP is
// left out, unless KILN_BENCH_GPU_SIZES=1024,2048 / KILN_BENCH_GPU_WIDE=1 ask.

import os from 'node:os';
import { compileSource } from '../dist/dsl/frontend.js';
import { compileArtifact } from '../dist/targets/artifact.js';
import { loadArtifact } from '../dist/runtime/index.js';
import { requestGpuDevice } from '../dist/runtime/webgpu/device.js';
import { SOURCES } from './kiln.mjs';
import { TIMING, measureInterleaved, fmt, formatTable, ratio } from './stats.mjs';
import { mulberry32 as rng } from '../dist/runtime/mulberry32.js';

const ADAM = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8 };

const uniform = (n, lo, hi, seed) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
};

/** An MLP with any number of hidden layers (ReLU), softmax cross-entropy, Adam. */
function mlpSource(layers, hyper) {
  const params = [];
  const body = [];
  let h = 'x';
  for (let i = 0; i + 1 < layers.length; i++) {
    params.push(`  param w${i}: f32[${layers[i]}, ${layers[i + 1]}] = glorot_uniform`);
    params.push(`  param b${i}: f32[${layers[i + 1]}] = zeros`);
    const last = i + 2 === layers.length;
    const z = `${h} @ w${i} + b${i}`;
    body.push(last ? `  logits = ${z}` : `  h${i} = relu(${z})`);
    h = `h${i}`;
  }
  return `model mlp(x: f32[B, ${layers[0]}], y: i32[B]) {
${params.join('\n')}
${body.join('\n')}
  output loss = mean(softmax_cross_entropy(logits, y))
}

train mlp {
  minimize  loss
  optimizer adam(lr = ${hyper.lr}, b1 = ${hyper.b1}, b2 = ${hyper.b2}, eps = ${hyper.eps})
}
`;
}

function kilnArtifact(name, text) {
  const { models, trains, diagnostics } = compileSource(name, text).result;
  if (diagnostics.length > 0) throw new Error(`${name}: ${diagnostics.map((d) => d.message).join('; ')}`);
  const model = models[0];
  return compileArtifact(
    model,
    trains.find((t) => t.model === model.name),
    { seed: 0, target: 'webgpu' },
  );
}

async function createTfjsWebgpu() {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  if (!globalThis.navigator?.gpu)
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend failed to initialise');
  await tf.ready();
  return tf;
}

function tfMlp(tf, layers, batch, x, y) {
  const vars = [];
  for (let i = 0; i + 1 < layers.length; i++) {
    vars.push(tf.variable(tf.randomUniform([layers[i], layers[i + 1]], -0.05, 0.05), true, `w${i}`));
    vars.push(tf.variable(tf.zeros([layers[i + 1]]), true, `b${i}`));
  }
  const xs = tf.tensor2d(x, [batch, layers[0]]);
  const yOneHot = tf.oneHot(tf.tensor1d(y, 'int32'), layers.at(-1));
  const opt = tf.train.adam(ADAM.lr, ADAM.b1, ADAM.b2, ADAM.eps);
  const lossFn = () => {
    let h = xs;
    for (let i = 0; i < vars.length; i += 2) {
      const z = tf.add(tf.matMul(h, vars[i]), vars[i + 1]);
      h = i + 2 < vars.length ? tf.relu(z) : z;
    }
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(h, -1), yOneHot), -1)));
  };
  return async () => {
    const loss = opt.minimize(lossFn, true, vars);
    await loss.data();
    loss.dispose();
  };
}

async function main() {
  const probe = await requestGpuDevice();
  const adapter = probe.adapterInfo;
  probe.device.destroy();
  const cpuOnly = /swiftshader|llvmpipe|lavapipe/i.test(adapter);
  const sizes = (process.env.KILN_BENCH_GPU_SIZES ?? (cpuOnly ? '256,512' : '1024,2048,4096')).split(',').map(Number);
  const wide = process.env.KILN_BENCH_GPU_WIDE ? process.env.KILN_BENCH_GPU_WIDE === '1' : !cpuOnly;
  console.log(`Kiln GPU benchmarks, ${new Date().toISOString().slice(0, 10)}`);
  console.log(`adapter: ${adapter}${cpuOnly ? '  (a CPU implementation of WebGPU: NOT a GPU figure)' : ''}`);
  console.log(
    `host: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical CPUs, Node ${process.versions.node}`,
  );
  let tf;
  try {
    tf = await createTfjsWebgpu();
    console.log(`peer: @tensorflow/tfjs ${tf.version.tfjs} + tfjs-backend-webgpu (on the same Dawn)`);
  } catch (e) {
    console.log(`peer: tfjs-backend-webgpu unavailable (${e.message})`);
  }
  console.log('');

  const rows = [];
  for (const n of sizes) {
    const a = uniform(n * n, -1, 1, 1);
    const b = uniform(n * n, -1, 1, 2);
    const m = await loadArtifact(await kilnArtifact(`mm${n}.kiln`, SOURCES.matmul(n)));
    const inputs = { a: { data: a, shape: [n, n] }, b: { data: b, shape: [n, n] } };
    const entries = [['kiln', async () => void (await m.run(inputs))]];
    if (tf)
      entries.push([
        'tfjs',
        async () => {
          const c = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])));
          await c.data();
          c.dispose();
        },
      ]);
    const t = await measureInterleaved(entries, TIMING);
    const gf = (ms) => (2 * n ** 3) / (ms * 1e6);
    rows.push([
      `matmul n=${n} (GFLOP/s, arrays in/out)`,
      fmt(gf(t.kiln.median)),
      fmt(tf && gf(t.tfjs.median)),
      tf ? ratio(gf(t.kiln.median), gf(t.tfjs.median), true) : '-',
    ]);
    m.dispose();
  }

  const mlps = [{ label: 'MLP 784-256-10 step, B=128, Adam (ms)', layers: [784, 256, 10], batch: 128 }];
  if (wide)
    mlps.push({ label: 'MLP 4096-4096-4096-10 step, B=512, Adam (ms)', layers: [4096, 4096, 4096, 10], batch: 512 });
  for (const { label, layers, batch } of mlps) {
    const x = uniform(batch * layers[0], 0, 1, 3);
    const y = Int32Array.from(uniform(batch, 0, layers.at(-1), 4), Math.floor);
    const m = await loadArtifact(await kilnArtifact('mlp.kiln', mlpSource(layers, ADAM)));
    const data = { x: { data: x, shape: [batch, layers[0]] }, y: { data: y, shape: [batch] } };
    const entries = [['kiln', async () => void (await m.step(data))]];
    if (tf) entries.push(['tfjs', tfMlp(tf, layers, batch, x, y)]);
    const t = await measureInterleaved(entries, TIMING);
    rows.push([
      label,
      fmt(t.kiln.median),
      fmt(tf && t.tfjs?.median),
      tf ? ratio(t.kiln.median, t.tfjs.median, false) : '-',
    ]);
    m.dispose();
  }
  console.log(formatTable(['workload', 'Kiln webgpu', 'tfjs webgpu', 'Kiln/tfjs'], rows));
}

await main();
process.exit(0);
