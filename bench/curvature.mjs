// Wasm time per training step of adahessian and sophia against adam
// (README "Curvature"): B = 32, 2 threads, on examples/mlp.kiln and
// examples/cnn.kiln. Configurations take turns in rounds of 20 steps (so
// load on a shared machine hits them alike); prints the median round and
// its ratio to adam. "plain step alone" sets update_interval to 1e9 after
// the first step, so every later step runs the plain program.
//
//   npm run build && node bench/curvature.mjs [rounds]

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { compileSource } from '../dist/dsl/frontend.js';
import { compileArtifact } from '../dist/targets/artifact.js';
import { loadArtifact } from '../dist/runtime/index.js';

const B = 32;
const PER = 20;
const ROUNDS = Number(process.argv[2] ?? 12);
/** [label, optimizer line, update_interval set after the first step] */
const CONFIGS = [
  ['adam', 'adam(lr = 1e-3)'],
  ['sophia k = 10', 'sophia(lr = 1e-3)'],
  ['adahessian k = 10', 'adahessian(update_interval = 10)'],
  ['adahessian k = 1', 'adahessian(update_interval = 1)'],
  ['sophia plain step alone', 'sophia(lr = 1e-3)', 1e9],
  ['adahessian plain step alone', 'adahessian(update_interval = 1)', 1e9],
];

let seed = 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];

for (const file of ['mlp.kiln', 'cnn.kiln']) {
  const base = readFileSync(new URL(`../examples/${file}`, import.meta.url), 'utf8');
  const batch = {
    x: { data: new Float32Array(B * 784).map(rnd), shape: file === 'mlp.kiln' ? [B, 784] : [B, 1, 28, 28] },
    y: { data: new Int32Array(B).map(() => Math.floor(rnd() * 10)), shape: [B] },
  };
  const runs = [];
  for (const [label, line, interval] of CONFIGS) {
    const { result } = compileSource(file, base.replace(/optimizer .*/, `optimizer ${line}`));
    const artifact = await compileArtifact(result.models[0], result.trains[0], { seed: 1 });
    const model = await loadArtifact(artifact, { threads: 2 });
    await model.step(batch);
    if (interval) model.setHyperparameter('update_interval', interval);
    for (let i = 0; i < 9; i++) await model.step(batch);
    const { program, plain } = artifact.manifest.train;
    const kernels = `${program.kernels.length}${plain ? ` / ${plain.program.kernels.length}` : ''}`;
    runs.push({ label, model, kernels, rounds: [] });
  }
  for (let r = 0; r < ROUNDS; r++)
    for (const run of runs) {
      const t0 = performance.now();
      for (let i = 0; i < PER; i++) await run.model.step(batch);
      run.rounds.push((performance.now() - t0) / PER);
    }
  const adam = median(runs[0].rounds);
  for (const run of runs) {
    const ms = median(run.rounds);
    console.log(
      `${file}\t${run.label.padEnd(28)}\t${ms.toFixed(2)} ms\t${(ms / adam).toFixed(2)}x adam\tkernels ${run.kernels}`,
    );
    run.model.dispose();
  }
}
