// The Kiln side of the benchmarks: each workload is a .kiln source, compiled
// in-process (front end, then `compileArtifact` for the wasm target) and loaded
// with the runtime's `loadArtifact`, exactly what `kiln compile` + `loadModel`
// would give. Timed calls are the public API: `run(inputs)` (which copies the
// inputs into the model's memory and the outputs out of it on every call) and
// `step(batch)` (which copies the batch in and returns the loss).

import { performance } from 'node:perf_hooks';
import { compileSource } from '../dist/dsl/frontend.js';
import { tensor } from '../dist/compiler/interpret.js';
import { buildTrainStep } from '../dist/compiler/train-step.js';
import { initialState, referenceTrainStep, stepScalars } from '../dist/compiler/train-reference.js';
import { compileArtifact } from '../dist/targets/artifact.js';
import { compile } from '../dist/compiler/compile.js';
import { loadTarget } from '../dist/targets/index.js';
import { loadArtifact } from '../dist/runtime/index.js';
import { INPUT_SHAPES, PARAM_SHAPES, cnnFlat } from './train-models.mjs';

/** A number as a .kiln float literal (`8` would be an integer). */
const floatLiteral = (x) => (Number.isInteger(x) ? x.toFixed(1) : String(x));

export const SOURCES = {
  matmul: (n) => `model mm(a: f32[${n}, ${n}], b: f32[${n}, ${n}]) {\n  output c = a @ b\n}\n`,
  elementwise: (n) =>
    `model ew(a: f32[${n}], b: f32[${n}], c: f32[${n}]) {\n  output o = sqrt(a * a + b * b) * sigmoid(c) + 0.5\n}\n`,
  mlp: ({ input, hidden, classes }, { lr, b1, b2, eps }) => `fn dense(x, w, b) = x @ w + b

model mlp(x: f32[B, ${input}], y: i32[B]) {
  param w1: f32[${input}, ${hidden}] = glorot_uniform
  param b1: f32[${hidden}]      = zeros
  param w2: f32[${hidden}, ${classes}]  = glorot_uniform
  param b2: f32[${classes}]      = zeros

  h      = relu(dense(x, w1, b1))
  logits = dense(h, w2, b2)

  output loss = mean(softmax_cross_entropy(logits, y))
}

train mlp {
  minimize  loss
  optimizer adam(lr = ${lr}, b1 = ${b1}, b2 = ${b2}, eps = ${eps})
}
`,
  // examples/fashion_cnn.kiln without its schedule and clip (the bench times the step, not the recipe).
  cnn: (dims, { lr, b1, b2, eps }) => {
    const { size, ch1, ch2, hidden, classes } = dims;
    const flat = cnnFlat(dims);
    return `model cnn(x: f32[B, 1, ${size}, ${size}], y: i32[B]) {
  param k1: f32[${ch1}, 1, 3, 3]   = he_normal
  param c1: f32[${ch1}, 1, 1]      = zeros
  param k2: f32[${ch2}, ${ch1}, 3, 3]  = he_normal
  param c2: f32[${ch2}, 1, 1]      = zeros
  param w1: f32[${flat}, ${hidden}]   = he_normal
  param b1: f32[${hidden}]         = zeros
  param w2: f32[${hidden}, ${classes}]     = glorot_uniform
  param b2: f32[${classes}]          = zeros

  h1     = max_pool2d(relu(conv2d(x, k1, padding = 1) + c1), 2)
  h2     = max_pool2d(relu(conv2d(h1, k2, padding = 1) + c2), 2)
  h3     = relu(reshape(h2, [-1, ${flat}]) @ w1 + b1)
  logits = h3 @ w2 + b2

  output loss = mean(softmax_cross_entropy(logits, y))
}

train cnn {
  minimize  loss
  optimizer adam(lr = ${lr}, b1 = ${b1}, b2 = ${b2}, eps = ${eps})
}
`;
  },
  attention: ({ width, classes }, { lr, b1, b2, eps }) => `model attention(x: f32[B, T, ${width}], y: i32[B]) {
  param ln_g: f32[${width}]     = ones
  param ln_b: f32[${width}]     = zeros
  param wq:   f32[${width}, ${width}] = glorot_uniform
  param wk:   f32[${width}, ${width}] = glorot_uniform
  param wv:   f32[${width}, ${width}] = glorot_uniform
  param wo:   f32[${width}, ${width}] = glorot_uniform
  param wc:   f32[${width}, ${classes}] = glorot_uniform
  param bc:   f32[${classes}]     = zeros

  h      = layer_norm(x, ln_g, ln_b)
  q      = h @ wq
  k      = h @ wk
  v      = h @ wv
  attn   = softmax(q @ k.T / ${floatLiteral(Math.sqrt(width))}, axis = -1)
  r      = x + (attn @ v) @ wo
  pooled = mean(r, axis = 1)
  logits = pooled @ wc + bc

  output loss = mean(softmax_cross_entropy(logits, y))
}

train attention {
  minimize  loss
  optimizer adam(lr = ${lr}, b1 = ${b1}, b2 = ${b2}, eps = ${eps})
}
`,
};

function check(name, text) {
  const compiled = compileSource(name, text);
  const { models, trains, diagnostics } = compiled.result;
  if (diagnostics.length > 0)
    throw new Error(`${name}: ${diagnostics.map((d) => d.message ?? String(d)).join('; ')}\n${text}`);
  const model = models[0];
  return { model, train: trains.find((t) => t.model === model.name) };
}

/**
 * The times (ms) of one compile of `text` as `kiln compile` does it: front end
 * (parse + check), middle end (both programs down to kernels and memory plans)
 * and wasm code generation.
 */
export async function compileStages(name, text) {
  const gen = await loadTarget({ name: 'wasm', relaxedSimd: false, threads: true });
  const t0 = performance.now();
  const { model, train } = check(name, text);
  const t1 = performance.now();
  const c = compile(model, train, { target: 'wasm' });
  for (const p of [c.forward, ...(c.step?.kind === 'built' ? [c.step.stages] : [])]) void p.memory;
  const t2 = performance.now();
  c.code(gen);
  const t3 = performance.now();
  return { front: t1 - t0, middle: t2 - t1, codegen: t3 - t2, total: t3 - t0 };
}

/** Front end + wasm code generation, in memory (a promise of the artifact). */
export function compileKiln(name, text) {
  const { model, train } = check(name, text);
  return compileArtifact(model, train, { seed: 0 });
}

/**
 * The first `steps` training steps of workload `kind` (a key of SOURCES and
 * PARAM_SHAPES) on Kiln's float64 reference interpreter (the oracle every
 * back end is tested against), from the params `params0` on the batch (x, y):
 * the losses and the params after the last step.
 */
export function referenceTraining(kind, params0, x, y, dims, hyper, steps) {
  const { model, train } = check(`${kind}.kiln`, SOURCES[kind](dims, hyper));
  const step = buildTrainStep(model, train);
  const shapes = PARAM_SHAPES[kind](dims);
  const inputShapes = INPUT_SHAPES[kind](dims);
  let params = new Map([
    ...Object.entries(shapes).map(([k, s]) => [k, tensor('f32', s, params0[k])]),
    ...initialState(step),
  ]);
  const data = new Map([
    ['x', tensor('f32', inputShapes.x, x)],
    ['y', tensor('i32', inputShapes.y, y)],
  ]);
  const losses = [];
  for (let t = 1; t <= steps; t++) {
    const r = referenceTrainStep(step, { params, batch: data, scalars: stepScalars(step, t) });
    losses.push(r.loss);
    params = r.params;
  }
  return { losses, params: Object.fromEntries(Object.keys(shapes).map((k) => [k, params.get(k).data])) };
}

export async function createKiln({ threads }) {
  // Probe that the requested threads really start (shared memory, workers).
  const probe = await loadArtifact(await compileKiln('probe.kiln', SOURCES.matmul(64)), { threads });
  const actual = probe.threads;
  probe.dispose();
  const plural = (k) => (k === 1 ? 'thread' : 'threads');
  const kiln = {
    name: `Kiln (${actual} ${plural(actual)})`,
    threads: actual,
    config: `Kiln wasm SIMD, loadArtifact({ threads: ${threads} }) -> ${actual} ${plural(actual)}; public run()/step() API (copies inputs in, results out)`,

    async matmul(n, a, b) {
      const m = await loadArtifact(await compileKiln(`mm${n}.kiln`, SOURCES.matmul(n)), { threads });
      const inputs = { a: { data: a, shape: [n, n] }, b: { data: b, shape: [n, n] } };
      return runner(m, inputs, 'c');
    },

    /**
     * Inputs resident, as the peers keep theirs: filled once into the views `inputViews` gives of the
     * model's memory, which `run` then reads in place. The output is still copied out.
     */
    async elementwise(a, b, c) {
      const n = a.length;
      const m = await loadArtifact(await compileKiln('ew.kiln', SOURCES.elementwise(n)), { threads });
      const views = m.inputViews('run', { a: [n], b: [n], c: [n] });
      views.a.set(a);
      views.b.set(b);
      views.c.set(c);
      const inputs = {
        a: { data: views.a, shape: [n] },
        b: { data: views.b, shape: [n] },
        c: { data: views.c, shape: [n] },
      };
      return runner(m, inputs, 'o');
    },

    /** From host arrays to a host array: `run` copies the inputs into its memory and the output out. */
    async elementwiseHost(a, b, c) {
      const n = a.length;
      const m = await loadArtifact(await compileKiln('ew.kiln', SOURCES.elementwise(n)), { threads });
      const inputs = { a: { data: a, shape: [n] }, b: { data: b, shape: [n] }, c: { data: c, shape: [n] } };
      return runner(m, inputs, 'o');
    },

    mlp: (params0, x, y, dims, hyper) => trainer('mlp', params0, x, y, dims, hyper),
    cnn: (params0, x, y, dims, hyper) => trainer('cnn', params0, x, y, dims, hyper),
    attention: (params0, x, y, dims, hyper) => trainer('attention', params0, x, y, dims, hyper),
  };
  return kiln;

  /** A timed forward pass of `m` on `inputs` (the public run()), and its `output` for the check. */
  function runner(m, inputs, output) {
    return {
      async run() {
        await m.run(inputs);
      },
      async result() {
        return (await m.run(inputs))[output].data;
      },
      dispose: () => m.dispose(),
    };
  }

  /** Workload `kind`'s training step, loaded with the params `params0`, on the batch (x, y). */
  async function trainer(kind, params0, x, y, dims, hyper) {
    const m = await loadArtifact(await compileKiln(`${kind}.kiln`, SOURCES[kind](dims, hyper)), { threads });
    const shapes = PARAM_SHAPES[kind](dims);
    m.setParams(Object.fromEntries(Object.entries(shapes).map(([k, shape]) => [k, { data: params0[k], shape }])));
    const inputShapes = INPUT_SHAPES[kind](dims);
    const data = { x: { data: x, shape: inputShapes.x }, y: { data: y, shape: inputShapes.y } };
    return {
      step: () => m.step(data),
      async params() {
        const p = await m.getParams({ state: false });
        return Object.fromEntries(Object.entries(p).map(([k, t]) => [k, t.data]));
      },
      dispose: () => m.dispose(),
    };
  }
}
