// Batched attribution against a loop of calls (`node bench/attribution.mjs`):
// integrated gradients (50 points) and SmoothGrad (50 samples) of the
// Fashion-MNIST MLP's and CNN's `probs` for 16 examples, on the wasm
// runtime, all points of all examples in one call of the vjp entry
// (`Model.attribute`'s default) or one call per point (maxBatch = the
// example count, as a loop over the points would do). The same
// attributions either way (checked); minimum of a few rounds each.

import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { compileSource } from '../dist/dsl/frontend.js';
import { compileArtifact } from '../dist/targets/artifact.js';
import { loadArtifact } from '../dist/runtime/index.js';
import { formatTable } from './stats.mjs';

const EXAMPLES = 16;
const ROUNDS = Number(process.env.KILN_BENCH_ROUNDS ?? 3);

async function load(file) {
  const { result } = compileSource(file, fs.readFileSync(file, 'utf8'));
  const model = result.models[0];
  const artifact = await compileArtifact(model, undefined, { target: 'wasm', seed: 0, entries: ['run', 'vjp'] });
  return loadArtifact(artifact, { seed: 0 });
}

function inputs(m) {
  const x = m.inputs.find((i) => i.name === 'x');
  const per = x.shape.slice(1).reduce((a, d) => a * d, 1);
  const data = Float32Array.from({ length: EXAMPLES * per }, (_v, i) => (Math.sin(0.37 * i) + 1) / 2);
  return {
    x: { data, shape: [EXAMPLES, ...x.shape.slice(1)] },
    y: { data: Int32Array.from({ length: EXAMPLES }, (_v, i) => i % 10), shape: [EXAMPLES] },
  };
}

async function best(f) {
  let t = Infinity;
  let out;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    out = await f();
    t = Math.min(t, performance.now() - t0);
  }
  return { t, out };
}

const rows = [];
for (const file of ['examples/fashion_mlp.kiln', 'examples/fashion_cnn.kiln']) {
  const m = await load(file);
  const ins = inputs(m);
  for (const [method, extra] of [
    ['integrated_gradients', { steps: 50 }],
    ['smoothgrad', { samples: 50, seed: 1 }],
  ]) {
    const opts = { method, wrt: 'x', of: 'probs', ...extra };
    await m.attribute(ins, opts); // warm-up
    const batched = await best(() => m.attribute(ins, opts));
    const looped = await best(() => m.attribute(ins, { ...opts, maxBatch: EXAMPLES }));
    const same = batched.out.attr.every((v, i) => Math.abs(v - looped.out.attr[i]) <= 1e-5 * (1 + Math.abs(v)));
    if (!same) throw new Error(`${file} ${method}: batched and looped attributions differ`);
    rows.push([
      file.replace('examples/', ''),
      method,
      `${batched.out.calls}`,
      batched.t.toFixed(0),
      `${looped.out.calls}`,
      looped.t.toFixed(0),
      `${(looped.t / batched.t).toFixed(2)}x`,
    ]);
  }
  m.dispose();
}
console.log(`attribution of ${EXAMPLES} examples, wasm (${ROUNDS} rounds, minimum ms)`);
console.log(formatTable(['model', 'method', 'calls', 'batched ms', 'calls', 'loop ms', 'speedup'], rows));
