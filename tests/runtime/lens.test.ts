// The lens entries on the wasm runtime against the reference interpreter:
// every example's jvp (outputs and jvp.<output>) and vjp (vjp.<param>,
// vjp.<input>) at random inputs, tangents and cotangents; missing tangents
// and cotangents are zeros; the validator checks the lens fields of a
// manifest; wrong tangents and a missing entry are clear errors.
//
// Tolerances (f32 kernels against the float64 interpreter): outputs
// rtol 1e-4, atol 1e-5 as every forward pass; derivatives rtol 2e-3,
// atol 1e-4, as `kiln grad`'s.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import type { Tensor } from '../../runtime/executor.js';
import { ArtifactError, KilnRuntimeError, type Model, loadArtifact, validateManifest } from '../../runtime/index.js';
import type { EntryName } from '../../runtime/manifest.js';
import { type Artifact, buildArtifact } from '../../targets/artifact.js';
import { wasmTarget } from '../../targets/wasm/target.js';
import { expectAllClose, example, randomInputs } from './helpers.js';
import { expectMatches, randomFor, reference } from './lens-helpers.js';

const EXAMPLES = ['examples', 'examples/lens'].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.kiln'))
    .map((f) => join(dir, f)),
);
const LINREG = 'examples/linear_regression.kiln';
const MLP = 'examples/mlp.kiln';

const cache = new Map<string, Artifact>();
/** The example's wasm artifact with the given entries (seed 1, one thread's code). */
function lensArtifact(file: string, entries: readonly EntryName[] = ['run', 'jvp', 'vjp']): Artifact {
  const key = `${file}:${entries.join(',')}`;
  let a = cache.get(key);
  if (!a) {
    const { model } = example(file);
    a = buildArtifact(compile(model, undefined), wasmTarget({ relaxedSimd: false, threads: false }), {
      seed: 1,
      entries,
    });
    cache.set(key, a);
  }
  return a;
}

const open: Model[] = [];
async function load(file: string, entries?: readonly EntryName[]): Promise<Model> {
  const m = await loadArtifact(lensArtifact(file, entries), { threads: 1 });
  open.push(m);
  return m;
}
afterAll(() => {
  for (const m of open) m.dispose();
});

describe('jvp and vjp on wasm', () => {
  it.each(EXAMPLES)('%s: jvp and vjp equal the reference interpreter', async (file) => {
    const m = await load(file);
    expect(m.entries).toEqual(['run', 'jvp', 'vjp']);
    const inputs = randomInputs(example(file).model, 3, 5);
    const tangents = randomFor(m, m.tangents, inputs, 11);
    const jvp = await m.jvp(inputs, tangents);
    expectMatches(`${file} jvp`, jvp, await reference(file, 'jvp', m, inputs, tangents));
    // The primal outputs are the forward pass's.
    const run = await m.run(inputs);
    for (const [k, t] of Object.entries(run))
      expectAllClose(`${file} ${k} (jvp vs run)`, jvp[k]!.data, t.data, 1e-5, 1e-6);

    const cotangents = randomFor(m, m.cotangents, inputs, 13);
    const vjp = await m.vjp(inputs, cotangents);
    expectMatches(`${file} vjp`, vjp, await reference(file, 'vjp', m, inputs, cotangents));
  });
});

/** sum of x·y over the named tensors both hold. */
function dot(a: Record<string, Tensor>, b: Record<string, Tensor>, names: readonly [string, string][]): number {
  let s = 0;
  for (const [x, y] of names) {
    const u = a[x]!.data;
    const v = b[y]!.data;
    for (let i = 0; i < u.length; i++) s += u[i]! * v[i]!;
  }
  return s;
}

describe('the two lenses agree', () => {
  it.each([LINREG, MLP, 'examples/cnn.kiln', 'examples/nested_grad.kiln'])(
    '%s: <jvp(t), u> = <t, vjp(u)> (the vjp is the jvp transposed)',
    async (file) => {
      const m = await load(file);
      const inputs = randomInputs(example(file).model, 4, 3);
      const t = randomFor(m, m.tangents, inputs, 21);
      const u = randomFor(m, m.cotangents, inputs, 22);
      const jvp = await m.jvp(inputs, t);
      const vjp = await m.vjp(inputs, u);
      const lhs = dot(
        jvp,
        u,
        m.cotangents.map((o) => [`jvp.${o.name}`, o.name]),
      );
      const rhs = dot(
        t,
        vjp,
        m.tangents.map((x) => [x.name, `vjp.${x.name}`]),
      );
      expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(lhs)));
    },
  );
});

describe('kiln grad is a vjp', () => {
  it('the gradient of the loss is the vjp with cotangent 1 on the loss and 0 on the other outputs', async () => {
    const { model } = example(MLP);
    const c = compile(model, undefined, { grad: { of: 'loss', inputs: ['x'] } });
    const grad = await loadArtifact(buildArtifact(c, wasmTarget({ relaxedSimd: false, threads: false }), { seed: 1 }), {
      threads: 1,
    });
    open.push(grad);
    const m = await load(MLP);
    const inputs = randomInputs(model, 4, 17);
    const g = await grad.run(inputs);
    const v = await m.vjp(inputs, { loss: { data: Float32Array.of(1), shape: [] } });
    for (const n of ['w1', 'b1', 'w2', 'b2', 'x'])
      expectAllClose(`vjp.${n} vs grad.${n}`, v[`vjp.${n}`]!.data, g[`grad.${n}`]!.data, 1e-5, 1e-7);
  });
});

describe('missing tangents and cotangents', () => {
  it('are zeros', async () => {
    const m = await load(MLP);
    const inputs = randomInputs(example(MLP).model, 2, 9);
    const all = randomFor(m, m.tangents, inputs, 4);
    const zeros = Object.fromEntries(
      Object.entries(all).map(([k, t]) => [
        k,
        k === 'w1' ? t : { data: new Float32Array(t.data.length), shape: t.shape },
      ]),
    );
    const partial = await m.jvp(inputs, { w1: all['w1']! });
    const explicit = await m.jvp(inputs, zeros);
    for (const k of Object.keys(explicit)) expect(partial[k]!.data, k).toEqual(explicit[k]!.data);
    expect([...partial['jvp.probs']!.data].some((v) => v !== 0)).toBe(true);
    const none = await m.jvp(inputs);
    expect([...none['jvp.loss']!.data]).toEqual([0]);

    const u = randomFor(m, m.cotangents, inputs, 5);
    const onlyLoss = await m.vjp(inputs, { loss: u['loss']! });
    const withZero = await m.vjp(inputs, {
      loss: u['loss']!,
      probs: { data: new Float32Array(u['probs']!.data.length), shape: u['probs']!.shape },
    });
    for (const k of Object.keys(withZero)) expect(onlyLoss[k]!.data, k).toEqual(withZero[k]!.data);
  });
});

describe('errors', () => {
  const inputs = () => randomInputs(example(LINREG).model, 2, 1);

  it('an unknown tangent or cotangent names itself and what there is', async () => {
    const m = await load(LINREG);
    const t = { data: new Float32Array(3), shape: [3, 1] };
    await expect(m.jvp(inputs(), { v: t })).rejects.toThrow(
      "unknown tangent 'v' (tangents go with the f32 inputs and params: x: f32[B, 3], y: f32[B], w: f32[3, 1], b: f32[])",
    );
    await expect(m.vjp(inputs(), { w: t })).rejects.toThrow(
      "unknown cotangent 'w' (cotangents go with the f32 outputs: pred: f32[B], loss: f32[])",
    );
  });

  it('a wrong shape or dtype names the tensor, the expected and the actual shape', async () => {
    const m = await load(LINREG);
    await expect(m.jvp(inputs(), { w: { data: new Float32Array(6), shape: [3, 2] } })).rejects.toThrow(
      "tangent 'w': expected f32[3, 1], got f32[3, 2]",
    );
    await expect(m.jvp(inputs(), { x: { data: new Float32Array(9), shape: [3, 3] } })).rejects.toThrow(
      "tangent 'x': expected f32[B, 3] = f32[2, 3], got f32[3, 3]",
    );
    await expect(m.vjp(inputs(), { pred: { data: new Int32Array(2), shape: [2] } })).rejects.toThrow(
      "cotangent 'pred': expected f32[B] = f32[2], got dtype i32",
    );
    await expect(m.vjp(inputs(), { loss: { data: new Float32Array(2), shape: [] } })).rejects.toThrow(
      "cotangent 'loss': shape [] needs 1 elements, but the data holds 2",
    );
    // The inputs are checked as for run.
    await expect(m.jvp({ x: inputs()['x']! })).rejects.toThrow("missing input 'y' (expected f32[B])");
  });

  it('an artifact without the entry says how to recompile', async () => {
    const runOnly = await load(LINREG, ['run']);
    await expect(runOnly.jvp(inputs())).rejects.toThrow(
      "model 'linreg' was compiled without the jvp entry: recompile it with `kiln compile FILE --entries run,jvp`",
    );
    await expect(runOnly.vjp(inputs())).rejects.toThrow(KilnRuntimeError);
    const jvpOnly = await load(LINREG, ['jvp']);
    expect(jvpOnly.entries).toEqual(['jvp']);
    await expect(jvpOnly.run(inputs())).rejects.toThrow('recompile it with `kiln compile FILE --entries run,jvp`');
    const jvp = await jvpOnly.jvp(inputs());
    expect(Object.keys(jvp)).toEqual(['pred', 'loss', 'jvp.pred', 'jvp.loss']);
  });
});

type Json = Record<string, unknown>;
/** The object at a path of keys and indices. */
const at = (o: unknown, ...path: (string | number)[]): Json =>
  path.reduce<unknown>((x, k) => (x as Json)[k], o) as Json;
const list = (o: unknown, ...path: (string | number)[]): Json[] => at(o, ...path) as unknown as Json[];
const names = (ts: Json[]) => ts.map((t) => t['name']);

describe('the manifest of a lens entry', () => {
  const manifest = () => JSON.parse(JSON.stringify(lensArtifact(LINREG).manifest)) as Json;
  const rejects = (m: unknown, msg: string) => {
    expect(() => validateManifest(m, 'm.json')).toThrow(ArtifactError);
    expect(() => validateManifest(m, 'm.json')).toThrow(msg);
  };

  it('round trips through the validator', () => {
    const m = manifest();
    expect(validateManifest(m, 'm.json')).toEqual(m);
    expect(names(list(m, 'jvp', 'inputs'))).toEqual(['x', 'y', 'tangent.x', 'tangent.y', 'tangent.w', 'tangent.b']);
    expect(names(list(m, 'jvp', 'outputs'))).toEqual(['pred', 'loss', 'jvp.pred', 'jvp.loss']);
    expect(names(list(m, 'vjp', 'inputs'))).toEqual(['x', 'y', 'cotangent.pred', 'cotangent.loss']);
    expect(names(list(m, 'vjp', 'outputs'))).toEqual(['vjp.w', 'vjp.b', 'vjp.x', 'vjp.y']);
  });

  it('is checked field by field, errors naming the path', () => {
    let m = manifest();
    delete at(m, 'jvp')['inputs'];
    rejects(m, "m.json: jvp: missing field 'inputs'");
    m = manifest();
    list(m, 'jvp', 'inputs').pop();
    rejects(m, 'm.json: jvp.inputs: missing tangent.b: f32[] (expected 6 tensors, got 5)');
    m = manifest();
    at(m, 'jvp', 'inputs', 4)['shape'] = [3, 2];
    rejects(m, 'm.json: jvp.inputs[4].shape[1]: expected tangent.w: f32[3, 1], got tangent.w: f32[3, 2]');
    m = manifest();
    at(m, 'vjp', 'outputs', 0)['name'] = 'vjp.b';
    rejects(m, 'm.json: vjp.outputs[0]: expected vjp.w: f32[3, 1], got vjp.b: f32[3, 1]');
    m = manifest();
    list(m, 'vjp', 'outputs').push({ name: 'extra', dtype: 'f32', shape: [] });
    rejects(m, "m.json: vjp.outputs[4]: unexpected tensor 'extra' (expected 4 tensors)");
    m = manifest();
    list(m, 'jvp', 'program', 'outputs').pop();
    rejects(m, "m.json: jvp.outputs[3]: output 'jvp.loss' is not computed by the jvp program");
    m = manifest();
    list(m, 'vjp', 'program', 'kernels', 0, 'buffers')[0] = 999 as unknown as Json;
    rejects(m, 'm.json: vjp.program.kernels[0].buffers[0]: buffer 999 does not exist');
    m = manifest();
    at(m, 'jvp')['extra'] = 1;
    rejects(m, "m.json: jvp: unknown field 'extra' (expected inputs, outputs, program)");
    m = manifest();
    for (const k of ['forward', 'jvp', 'vjp']) delete m[k];
    rejects(m, 'm.json: the artifact has no program (expected at least one of forward, train, jvp, vjp)');
  });

  it('a buffer of a tangent must be the tangent’s size', () => {
    const m = manifest();
    const buf = list(m, 'jvp', 'program', 'buffers').find((b) => at(b, 'role')['name'] === 'tangent.w')!;
    buf['size'] = 4;
    rejects(m, "input 'tangent.w' (f32[3, 1]) has 3 elements, but its buffer holds 4");
  });
});
