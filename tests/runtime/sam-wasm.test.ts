// SAM (optimizers.md §28d) on the wasm and webgpu backends: 8 steps of the
// tiny tanh MLP against the float64 trajectory of tests/helpers/sam-cases.ts
// (rho changed at step 5 through setHyperparameter), rho = 0 against the
// inner optimizer's step on wasm, and save, load, resume bit for bit.

import { SAM_CASES, type SamCase, samExtra, samLine, samReference } from '../helpers/sam-cases.js';
import { B, BATCHES, TINY_INIT, TINY_NAMES, TINY_SHAPES, tinySrc } from '../helpers/optimizer-cases.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';
import { afterEach, describe, expect, it } from 'vitest';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import type { Tensor } from '../../runtime/executor.js';
import { type Model, loadArtifact } from '../../runtime/index.js';
import type { Artifact } from '../../targets/artifact.js';
import { artifactFor, expectAllClose } from './helpers.js';

const f32Tensor = (shape: number[], data: readonly number[]): Tensor => ({ data: Float32Array.from(data), shape });

function build(src: string, target: 'wasm' | 'webgpu'): Artifact {
  const { result } = compileSource('sam.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  const artifact = artifactFor(model, train, { seed: 1, target, threads: false });
  if (!artifact.manifest.train) throw new Error(`no training step: ${artifact.notes.join('; ')}`);
  return artifact;
}

const open: Model[] = [];
afterEach(() => {
  for (const m of open.splice(0)) m.dispose();
});
async function load(artifact: Artifact, target: 'wasm' | 'webgpu'): Promise<Model> {
  const m = await loadArtifact(artifact, target === 'wasm' ? { threads: 1 } : {});
  open.push(m);
  return m;
}

const tinyParams = () => Object.fromEntries(TINY_NAMES.map((n) => [n, f32Tensor(TINY_SHAPES[n], TINY_INIT[n])]));
const tinyBatch = (t: number): Record<string, Tensor> => {
  const d = BATCHES[(t - 1) % 2]!;
  return { x: f32Tensor([B, 2], d.x), y: f32Tensor([B], d.y) };
};

/** f32 against float64 after 8 steps, as tests/runtime/optimizers-wasm.test.ts. */
const RTOL = 2e-4;
const ATOL = 2e-5;

async function againstFloat64(c: SamCase, target: 'wasm' | 'webgpu'): Promise<void> {
  const m = await load(build(tinySrc(samLine(c.opt), samExtra(c)), target), target);
  m.setParams(tinyParams());
  const want = samReference(c);
  for (let t = 1; t <= 8; t++) {
    if (t === 5) for (const [k, v] of Object.entries(c.change ?? {})) m.setHyperparameter(k, v);
    const loss = await m.step(tinyBatch(t));
    expectAllClose(`loss at step ${t}`, [loss], [want.losses[t - 1]!], RTOL, ATOL);
    const got = await m.getParams({ state: true });
    for (const [name, v] of Object.entries(want.after[t - 1]!))
      expectAllClose(`${name} after step ${t}`, got[name]!.data, v, RTOL, ATOL);
  }
}

const bits = (t: Tensor) => [...new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)];

describe('wasm: sam', () => {
  for (const c of SAM_CASES)
    it(`${c.label}: 8 steps of the tiny MLP equal the float64 trajectory`, () => againstFloat64(c, 'wasm'));

  it('rho = 0: 4 steps equal the inner optimizer bit for bit', async () => {
    const inner = 'adam(lr = 0.05)';
    const a = await load(build(tinySrc(`sam(${inner}, rho = 0)`), 'wasm'), 'wasm');
    const b = await load(build(tinySrc(inner), 'wasm'), 'wasm');
    a.setParams(tinyParams());
    b.setParams(tinyParams());
    for (let t = 1; t <= 4; t++) expect(Object.is(await a.step(tinyBatch(t)), await b.step(tinyBatch(t)))).toBe(true);
    const [pa, pb] = [await a.getParams({ state: true }), await b.getParams({ state: true })];
    expect(Object.keys(pa).sort()).toEqual(Object.keys(pb).sort());
    for (const k of Object.keys(pb)) expect(bits(pa[k]!), `${k} bits`).toEqual(bits(pb[k]!));
  });

  it('sam(lookahead(adam)): save after 4 steps, load, resume: bit for bit', async () => {
    const artifact = build(tinySrc(samLine(SAM_CASES[2]!.opt), samExtra(SAM_CASES[2]!)), 'wasm');
    const a = await load(artifact, 'wasm');
    a.setParams(tinyParams());
    const lossesA: number[] = [];
    for (let t = 1; t <= 8; t++) lossesA.push(await a.step(tinyBatch(t)));
    const b = await load(artifact, 'wasm');
    b.setParams(tinyParams());
    const lossesC: number[] = [];
    for (let t = 1; t <= 4; t++) lossesC.push(await b.step(tinyBatch(t)));
    const saved = await b.getParams({ state: true });
    // The state is the inner optimizer's: sam keeps none of its own.
    expect(
      Object.keys(saved)
        .filter((k) => k.startsWith('w1.'))
        .sort(),
    ).toEqual(['w1.m', 'w1.slow', 'w1.v']);
    const c = await load(artifact, 'wasm');
    c.setParams(saved);
    c.setStepCount(4);
    for (let t = 5; t <= 8; t++) lossesC.push(await c.step(tinyBatch(t)));
    lossesC.forEach((l, i) => expect(Object.is(l, lossesA[i]), `loss at step ${i + 1}`).toBe(true));
    const [pa, pc] = [await a.getParams({ state: true }), await c.getParams({ state: true })];
    for (const k of Object.keys(pa)) expect(bits(pc[k]!), `${k} bits`).toEqual(bits(pa[k]!));
  });
});

webgpuSuite('webgpu: sam', () => {
  it('has a device', () => expect(gpuDevice()).toBeDefined());
  for (const c of SAM_CASES)
    it(`${c.label}: 8 steps of the tiny MLP equal the float64 trajectory`, () => againstFloat64(c, 'webgpu'));
});
