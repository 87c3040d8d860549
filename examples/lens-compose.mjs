// Lenses compose: chaining the reverse derivatives (vjp) of two compiled
// models equals the reverse derivative of the one model that fuses them, and
// chaining their forward derivatives (jvp) equals its jvp (docs/lenses.md).
// Plain JavaScript over the runtime alone (no compiler). First compile the
// three models of examples/lens/ with their lens entries:
//
//   for m in encoder head encoder_head; do
//     npx kiln compile examples/lens/$m.kiln --entries run,jvp,vjp -o lens-artifacts/$m
//   done
//   node examples/lens-compose.mjs lens-artifacts
//
// It prints the largest absolute difference per tensor and exits with status
// 1 if any exceeds TOLERANCE (float32 kernels fused differently round
// differently; the values themselves are of order 0.01 to 1).

import { join } from 'node:path';
import { loadModel } from '../dist/runtime/index.js';

const TOLERANCE = 1e-5;
const BATCH = 5;

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node examples/lens-compose.mjs DIR  (DIR holds encoder/, head/ and encoder_head/ artifacts)');
  process.exit(2);
}

/** Deterministic numbers in [-1, 1). */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}
const rnd = random(7);
const tensor = (shape) => ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd), shape });

const [encoder, head, fused] = await Promise.all(
  ['encoder', 'head', 'encoder_head'].map((m) => loadModel(join(dir, m), { threads: 1 })),
);

// A random point: params of the two parts (the fused model gets the same), an input batch.
for (const m of [encoder, head]) {
  const params = await m.getParams({ state: false });
  m.setParams(Object.fromEntries(Object.entries(params).map(([k, t]) => [k, tensor(t.shape)])));
}
fused.setParams({ ...(await encoder.getParams({ state: false })), ...(await head.getParams({ state: false })) });
const x = tensor([BATCH, 4]);

// get: the forward maps compose.
const { h } = await encoder.run({ x });
const { y } = await head.run({ h });

// put: the reverse derivative of head ∘ encoder is encoder's after head's.
const u = tensor(y.shape); // a cotangent on y
const headVjp = await head.vjp({ h }, { y: u }); // vjp.w2, vjp.b2, vjp.h
const encoderVjp = await encoder.vjp({ x }, { h: headVjp['vjp.h'] }); // vjp.w1, vjp.b1, vjp.x
const chainedVjp = { ...encoderVjp, ...headVjp };
const fusedVjp = await fused.vjp({ x }, { y: u });

// The forward derivative composes the other way round: encoder's, then head's.
const t = { x: tensor(x.shape), w1: tensor([4, 8]), b1: tensor([8]), w2: tensor([8, 3]), b2: tensor([3]) };
const encoderJvp = await encoder.jvp({ x }, { x: t.x, w1: t.w1, b1: t.b1 });
const headJvp = await head.jvp({ h }, { h: encoderJvp['jvp.h'], w2: t.w2, b2: t.b2 });
const fusedJvp = await fused.jvp({ x }, t);

const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
let worst = 0;
const compare = (what, got, want) => {
  const d = maxAbsDiff(got.data, want.data);
  worst = Math.max(worst, d);
  console.log(`${what.padEnd(48)} max |diff| = ${d.toExponential(2)}`);
};
compare('y: head.run(encoder.run(x)) vs fused run', y, (await fused.run({ x })).y);
for (const name of ['vjp.w1', 'vjp.b1', 'vjp.w2', 'vjp.b2', 'vjp.x'])
  compare(`${name}: chained vjps vs fused vjp`, chainedVjp[name], fusedVjp[name]);
compare('jvp.y: chained jvps vs fused jvp', headJvp['jvp.y'], fusedJvp['jvp.y']);

for (const m of [encoder, head, fused]) m.dispose();
const ok = worst <= TOLERANCE;
console.log(`${ok ? 'ok' : 'FAILED'}: largest difference ${worst.toExponential(2)} (tolerance ${TOLERANCE})`);
process.exit(ok ? 0 : 1);
