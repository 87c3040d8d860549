// The training step's non-finite flag (runtime/nonfinite.ts): the update
// kernels of the trainable params raise word i of `@nonfinite` when param i's
// new value holds a NaN or an infinity. A negative Adam second moment w2.v
// makes only w2's update NaN (sqrt of a negative; the state itself is not
// checked, and nothing else reads it), so exactly w2's flag must rise; a
// normal step raises none. Checked on the kernel interpreter (the reference
// for kernel semantics), wasm on 1 and 2 threads, and webgpu.

import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact } from '../../runtime/index.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { artifactOf, example, lcg, randomInputs } from './helpers.js';

const MLP = 'examples/mlp.kiln';
const ADAM: Record<string, number> = {
  '@lr': 1e-3,
  '@b1': 0.9,
  '@b2': 0.999,
  '@one_minus_b1': 0.1,
  '@one_minus_b2': 0.001,
  '@eps': 1e-8,
  '@weight_decay': 0,
  '@inv_bc1': 10,
  '@rsqrt_bc2': 1 / Math.sqrt(0.001),
};

describe('the non-finite flag on the kernel interpreter', () => {
  const ex = example(MLP);
  const s = compile(ex.model, ex.train, { target: 'wasm' }).step;
  if (s?.kind !== 'built') throw new Error('mlp has no training step');
  const program = s.stages.fusion.program;
  const inputs = new Map(Object.entries(randomInputs(ex.model, 4, 3, 10)).map(([k, t]) => [k, ref(t)] as const));

  const run = (negativeV: boolean): number[] => {
    const rnd = lcg(5);
    const params = new Map<string, RefTensor>();
    for (const b of program.buffers) {
      if (b.role.kind !== 'param') continue;
      const n = b.size as number;
      const state = b.role.name.includes('.');
      const data = Float64Array.from({ length: n }, () => (state ? 0 : Math.fround(rnd() * 0.2 - 0.1)));
      if (negativeV && b.role.name === 'w2.v') data.fill(-1);
      params.set(b.role.name, tensor('f32', [n], data));
    }
    const out = runProgram(program, { inputs, params, scalars: new Map(Object.entries(ADAM)) });
    return [...out.get('@nonfinite')!.data];
  };

  it('has one flag word per trainable param', () => {
    expect(s.step.trainable).toEqual(['w1', 'b1', 'w2', 'b2']);
    expect(program.outputs.find((o) => o.name === '@nonfinite')?.shape).toEqual([4]);
  });
  it('a normal step raises no flag', () => expect(run(false)).toEqual([0, 0, 0, 0]));
  it("a NaN in w2's update raises exactly w2's flag", () => expect(run(true)).toEqual([0, 0, 1, 0]));
});

function ref(t: Tensor): RefTensor {
  return tensor(t.data instanceof Float32Array ? 'f32' : 'i32', [...t.shape], Float64Array.from(t.data));
}

/** Two steps: a normal one, then one after w2.v was made negative. */
async function flagsOf(m: Model): Promise<[readonly string[], readonly string[]]> {
  const batch = randomInputs(example(MLP).model, 8, 3, 10);
  const loss = await m.step(batch);
  expect(Number.isFinite(loss)).toBe(true);
  const normal = m.lastStepNonfinite;
  m.setParams({ 'w2.v': { data: new Float32Array(1280).fill(-1), shape: [128, 10] } });
  await m.step(batch);
  return [normal, m.lastStepNonfinite];
}

const open: Model[] = [];
afterAll(() => open.forEach((m) => m.dispose()));

describe.each([1, 2])('the non-finite flag on wasm, %i thread(s)', (threads) => {
  it("a normal step raises none; a NaN in w2's update raises exactly w2's", async () => {
    const m = await loadArtifact(artifactOf(MLP), { threads });
    open.push(m);
    expect(await flagsOf(m)).toEqual([[], ['w2']]);
    // The flags are cleared before each step: a step after a good one is clean again.
    m.setParams({ 'w2.v': { data: new Float32Array(1280), shape: [128, 10] } });
    m.setParams({ w2: { data: new Float32Array(1280).fill(0.01), shape: [128, 10] } });
    await m.step(randomInputs(example(MLP).model, 8, 4, 10));
    expect(m.lastStepNonfinite).toEqual([]);
  });
});

webgpuSuite('the non-finite flag on webgpu', () => {
  it("a normal step raises none; a NaN in w2's update raises exactly w2's", async () => {
    const m = await loadArtifact(artifactOf(MLP, { target: 'webgpu' }));
    open.push(m);
    expect(await flagsOf(m)).toEqual([[], ['w2']]);
  });
});
