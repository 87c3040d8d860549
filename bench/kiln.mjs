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
 * The MLP's first `steps` training steps on Kiln's float64 reference
 * interpreter (the oracle every back end is tested against): the losses and
 * the params after the last step.
 */
export function referenceMlp(params0, x, y, dims, hyper, steps) {
  const { batch, input, hidden, classes } = dims;
  const { model, train } = check('mlp.kiln', SOURCES.mlp(dims, hyper));
  const step = buildTrainStep(model, train);
  const shapes = { w1: [input, hidden], b1: [hidden], w2: [hidden, classes], b2: [classes] };
  let params = new Map([
    ...Object.entries(shapes).map(([k, s]) => [k, tensor('f32', s, params0[k])]),
    ...initialState(step),
  ]);
  const data = new Map([
    ['x', tensor('f32', [batch, input], x)],
    ['y', tensor('i32', [batch], y)],
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
  return {
    name: `Kiln (${actual} ${plural(actual)})`,
    threads: actual,
    config: `Kiln wasm SIMD, loadArtifact({ threads: ${threads} }) -> ${actual} ${plural(actual)}; public run()/step() API (copies inputs in, results out)`,

    async matmul(n, a, b) {
      const m = await loadArtifact(await compileKiln(`mm${n}.kiln`, SOURCES.matmul(n)), { threads });
      const inputs = { a: { data: a, shape: [n, n] }, b: { data: b, shape: [n, n] } };
      return {
        async run() {
          await m.run(inputs);
        },
        async result() {
          return (await m.run(inputs)).c.data;
        },
        dispose: () => m.dispose(),
      };
    },

    async elementwise(a, b, c) {
      const n = a.length;
      const m = await loadArtifact(await compileKiln('ew.kiln', SOURCES.elementwise(n)), { threads });
      const inputs = { a: { data: a, shape: [n] }, b: { data: b, shape: [n] }, c: { data: c, shape: [n] } };
      return {
        async run() {
          await m.run(inputs);
        },
        async result() {
          return (await m.run(inputs)).o.data;
        },
        dispose: () => m.dispose(),
      };
    },

    /** Kiln's `run` already takes host arrays and returns one: the same as `elementwise`. */
    elementwiseHost(a, b, c) {
      return this.elementwise(a, b, c);
    },

    async mlp(params0, x, y, dims, hyper) {
      const { batch, input, hidden, classes } = dims;
      const m = await loadArtifact(await compileKiln('mlp.kiln', SOURCES.mlp(dims, hyper)), { threads });
      m.setParams({
        w1: { data: params0.w1, shape: [input, hidden] },
        b1: { data: params0.b1, shape: [hidden] },
        w2: { data: params0.w2, shape: [hidden, classes] },
        b2: { data: params0.b2, shape: [classes] },
      });
      const data = { x: { data: x, shape: [batch, input] }, y: { data: y, shape: [batch] } };
      return {
        step: () => m.step(data),
        async params() {
          const p = await m.getParams({ state: false });
          return Object.fromEntries(Object.entries(p).map(([k, t]) => [k, t.data]));
        },
        dispose: () => m.dispose(),
      };
    },
  };
}
