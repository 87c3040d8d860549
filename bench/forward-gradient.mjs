// Forward gradients against backprop: the training step of
// examples/fashion_mlp_forward.kiln as written and with `gradient backprop`
// (everything else the same), on wasm through the public `step()`, batch 32.
// Steps alternate in rounds so that load on the machine hits both alike; the
// result is the median ms per step over the rounds.
// `node bench/forward-gradient.mjs [--threads N] [--rounds R] [--directions K]` after
// `npm run build` (--directions replaces the example's number of directions).

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { compileKiln } from './kiln.mjs';
import { loadArtifact } from '../dist/runtime/index.js';

const { values } = parseArgs({
  options: { threads: { type: 'string' }, rounds: { type: 'string' }, directions: { type: 'string' } },
});
const threads = Number(values.threads ?? 1);
const rounds = Number(values.rounds ?? 15);
const STEPS_PER_ROUND = 40;
const BATCH = 32;

const LINE = /^ {2}gradient {2}forward\(directions = (\d+)\)$/m;
const source = readFileSync('examples/fashion_mlp_forward.kiln', 'utf8');
const directions = values.directions ?? LINE.exec(source)?.[1];
if (directions === undefined) throw new Error('no gradient forward line');
const variants = {
  forward: source.replace(LINE, `  gradient  forward(directions = ${directions})`),
  backprop: source.replace(LINE, '  gradient  backprop'),
};

// A fixed batch of pixels in [0, 1) and labels 0..9 (the data does not change the work done).
let s = 12345;
const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const batch = {
  x: { data: Float32Array.from({ length: BATCH * 784 }, rnd), shape: [BATCH, 784] },
  y: { data: Int32Array.from({ length: BATCH }, () => Math.floor(rnd() * 10)), shape: [BATCH] },
};

const models = {};
for (const [name, text] of Object.entries(variants))
  models[name] = await loadArtifact(await compileKiln(`${name}.kiln`, text), { threads });
const times = Object.fromEntries(Object.keys(models).map((k) => [k, []]));
for (const m of Object.values(models)) for (let i = 0; i < 20; i++) await m.step(batch); // warm-up
for (let r = 0; r < rounds; r++)
  for (const [name, m] of Object.entries(models)) {
    const t0 = performance.now();
    for (let i = 0; i < STEPS_PER_ROUND; i++) await m.step(batch);
    times[name].push((performance.now() - t0) / STEPS_PER_ROUND);
  }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const where = `batch ${BATCH}, wasm, ${models.forward.threads} thread(s), ${rounds} rounds`;
console.log(`fashion_mlp_forward step with ${directions} direction(s) against backprop, ${where}`);
for (const [name, ts] of Object.entries(times))
  console.log(`  ${name.padEnd(9)} ${median(ts).toFixed(2)} ms/step (min ${Math.min(...ts).toFixed(2)})`);
console.log(`  forward / backprop: ${(median(times.forward) / median(times.backprop)).toFixed(2)}x`);
for (const m of Object.values(models)) m.dispose();
