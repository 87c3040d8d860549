// `kiln jvp` and `kiln vjp` against the reference interpreter on every
// example (from the source, and from an artifact compiled with
// `--entries run,jvp,vjp`), `kiln compile --entries`, and the errors a user
// can meet: an unknown or misshapen tangent, an artifact without the entry,
// an output that would overwrite an input, unknown entry names.
//
// Tolerances (f32 kernels against the float64 interpreter): outputs rtol
// 1e-4, atol 1e-5 as `kiln run`'s; derivatives rtol 2e-3, atol 1e-4 as
// `kiln grad`'s.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/safetensors.js';
import { validateManifest } from '../../runtime/validate.js';
import { writeLensFiles } from '../helpers/lens-files.js';
import { expectAllClose } from '../runtime/helpers.js';
import { kiln, tempDir } from './helpers.js';

const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));
const LINREG = 'examples/linear_regression.kiln';

const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

async function ok(...args: string[]): Promise<string> {
  const r = await kiln(...args);
  expect(r.stderr, `kiln ${args.join(' ')}`).toBe('');
  expect(r.status, `kiln ${args.join(' ')}`).toBe(0);
  return r.stdout;
}

/** Every tensor of `got` as in `want`, outputs at run's tolerance and derivatives at grad's. */
function expectSame(what: string, got: string, want: string): void {
  const w = read(want);
  const g = read(got);
  expect([...g.keys()].sort(), what).toEqual([...w.keys()].sort());
  for (const [name, t] of w) {
    const derivative = name.startsWith('jvp.') || name.startsWith('vjp.');
    expectAllClose(`${what} ${name}`, g.get(name)!.data, t.data, derivative ? 2e-3 : 1e-4, derivative ? 1e-4 : 1e-5);
  }
}

describe('kiln jvp and kiln vjp', () => {
  it.each(EXAMPLES)('%s: wasm (source and artifact) equals the reference interpreter', async (file) => {
    const dir = tempDir();
    const f = writeLensFiles(file, dir);
    const params = join(dir, 'params.safetensors');
    await ok('init', file, '-o', params, '--seed', '3');
    const art = join(dir, 'art');
    expect(await ok('compile', file, '-o', art, '--entries', 'run,jvp,vjp')).toMatch(/jvp: \d+ kernels/);
    for (const [kind, flag, given] of [
      ['jvp', '--tangents', f.tangents],
      ['vjp', '--cotangents', f.cotangents],
    ] as const) {
      const args = (model: string, out: string) =>
        [kind, model, '--inputs', f.inputs, '--params', params, flag, given, '--out', join(dir, out)] as const;
      expect(await ok(...args(file, `${kind}-ref.safetensors`), '--target', 'reference')).toContain(
        `(${kind} on the reference interpreter)`,
      );
      expect(await ok(...args(file, `${kind}-wasm.safetensors`))).toMatch(/on wasm/);
      await ok(...args(art, `${kind}-art.safetensors`), '--threads', '2');
      const ref = join(dir, `${kind}-ref.safetensors`);
      expectSame(`${file} ${kind} (source)`, join(dir, `${kind}-wasm.safetensors`), ref);
      expectSame(`${file} ${kind} (artifact)`, join(dir, `${kind}-art.safetensors`), ref);
    }
    // What each writes: jvp every output and jvp.<f32 output>; vjp vjp.<f32 param> then vjp.<f32 input>.
    const f32 = <T extends { name: string; type: { dtype: string } }>(ts: readonly T[]) =>
      ts.filter((t) => t.type.dtype === 'f32').map((t) => t.name);
    // (in any order: a safetensors file's header is a JSON object)
    expect([...read(join(dir, 'jvp-ref.safetensors')).keys()].sort()).toEqual(
      [...f.model.outputs.map((o) => o.name), ...f32(f.model.outputs).map((n) => `jvp.${n}`)].sort(),
    );
    expect([...read(join(dir, 'vjp-ref.safetensors')).keys()].sort()).toEqual(
      [...f32(f.model.params), ...f32(f.model.inputs)].map((n) => `vjp.${n}`).sort(),
    );
  });

  it('without --out prints a summary line per tensor; missing tangents are zero', async () => {
    const dir = tempDir();
    const f = writeLensFiles(LINREG, dir);
    const empty = join(dir, 'none.safetensors');
    writeFileSync(empty, encodeSafetensors({}));
    for (const target of ['wasm', 'reference']) {
      const out = await ok('jvp', LINREG, '--inputs', f.inputs, '--tangents', empty, '--target', target);
      expect(out.split('\n').map((l) => l.split(':')[0])).toEqual(['pred', 'loss', 'jvp.pred', 'jvp.loss', '']);
      expect(out).toMatch(/^jvp\.loss: f32\[\] = 0\.0$/m);
      const v = await ok('vjp', LINREG, '--inputs', f.inputs, '--cotangents', f.cotangents, '--target', target);
      expect(v.split('\n').map((l) => l.split(':')[0])).toEqual(['vjp.w', 'vjp.b', 'vjp.x', 'vjp.y', '']);
    }
  });
});

describe('errors', () => {
  const fail = async (status: number, message: string | RegExp, ...args: string[]) => {
    const r = await kiln(...args);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.status).toBe(status);
  };

  it('an unknown or misshapen tangent or cotangent names the file, the tensor and both shapes', async () => {
    const dir = tempDir();
    const f = writeLensFiles(LINREG, dir, 2);
    const bad = (name: string, tensors: Parameters<typeof encodeSafetensors>[0]) => {
      const p = join(dir, name);
      writeFileSync(p, encodeSafetensors(tensors));
      return p;
    };
    const unknown = bad('unknown.safetensors', { v: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    const shape = bad('shape.safetensors', { x: { dtype: 'F32', shape: [3, 3], data: new Float32Array(9) } });
    const dtype = bad('dtype.safetensors', { pred: { dtype: 'I32', shape: [2], data: new Int32Array(2) } });
    for (const target of ['wasm', 'reference']) {
      await fail(
        1,
        `error: ${unknown}: tensor 'v' is not a tangent of the model (expected x: f32[B, 3], y: f32[B], w: f32[3, 1], b: f32[])`,
        ...['jvp', LINREG, '--inputs', f.inputs, '--tangents', unknown, '--target', target],
      );
      await fail(
        1,
        `error: ${shape}: tangent 'x': expected f32[B, 3] = f32[2, 3], got f32[3, 3]`,
        ...['jvp', LINREG, '--inputs', f.inputs, '--tangents', shape, '--target', target],
      );
      await fail(
        1,
        `error: ${dtype}: tensor 'pred' has dtype I32, but the model expects f32`,
        ...['vjp', LINREG, '--inputs', f.inputs, '--cotangents', dtype, '--target', target],
      );
    }
    await fail(
      1,
      `error: ${unknown}: tensor 'v' is not a cotangent of the model (expected pred: f32[B], loss: f32[])`,
      ...['vjp', LINREG, '--inputs', f.inputs, '--cotangents', unknown],
    );
  });

  it('an artifact without the entry says how to recompile it', async () => {
    const dir = tempDir();
    const f = writeLensFiles(LINREG, dir);
    const art = join(dir, 'art');
    await ok('compile', LINREG, '-o', art);
    await fail(
      1,
      "error: model 'linreg' was compiled without the jvp entry: recompile it with `kiln compile FILE --entries run,step,jvp`",
      ...['jvp', art, '--inputs', f.inputs, '--tangents', f.tangents],
    );
    await fail(
      1,
      /needs the \.kiln source/,
      ...['vjp', art, '--inputs', f.inputs, '--cotangents', f.cotangents, '--target', 'reference'],
    );
  });

  it('outputs are checked before work starts: never over an input, into the artifact or a missing directory', async () => {
    const dir = tempDir();
    const f = writeLensFiles(LINREG, dir);
    const base = ['jvp', LINREG, '--inputs', f.inputs, '--tangents', f.tangents];
    const before = readFileSync(f.tangents);
    await fail(
      2,
      `kiln: --out ${f.tangents} would overwrite ${f.tangents}, which this command reads`,
      ...base,
      '--out',
      f.tangents,
    );
    await fail(2, /would overwrite .*linear_regression\.kiln/, ...base, '--out', LINREG);
    await fail(
      1,
      `error: cannot write ${join(dir, 'no', 'o.safetensors')}: the directory ${join(dir, 'no')} does not exist`,
      ...base,
      '--out',
      join(dir, 'no', 'o.safetensors'),
    );
    expect(readFileSync(f.tangents)).toEqual(before);
    const art = join(dir, 'art');
    await ok('compile', LINREG, '-o', art, '--entries', 'jvp');
    await fail(
      2,
      /is inside the artifact/,
      'jvp',
      art,
      '--inputs',
      f.inputs,
      '--tangents',
      f.tangents,
      '--out',
      join(art, 'params.safetensors'),
    );
    expect(readdirSync(dir)).not.toContain('o.safetensors');
  });

  it('--entries: unknown names are bad usage naming the valid ones; step needs a train block', async () => {
    const dir = tempDir();
    await fail(
      2,
      "kiln: --entries: unknown entry 'grad' (valid entries: run, step, jvp, vjp, and attribute for run,vjp; e.g. --entries run,jvp)",
      ...['compile', LINREG, '-o', join(dir, 'a'), '--entries', 'run,grad'],
    );
    const src = join(dir, 'plain.kiln');
    writeFileSync(src, 'model plain(x: f32[B, 2]) {\n  param w: f32[2] = zeros\n  output y = x * w\n}\n');
    await fail(
      1,
      `error: ${src}: model 'plain' has no train block, so it has no step entry (compile it with --entries run,jvp)`,
      ...['compile', src, '-o', join(dir, 'b'), '--entries', 'run,step,jvp'],
    );
    const out = await ok('compile', LINREG, '-o', join(dir, 'c'), '--entries', 'vjp,jvp,step');
    expect(out).not.toContain('forward:');
    expect(out).toContain('training step:');
    expect(out).toContain('jvp: ');
    expect(out).toContain('  vjp: ');
    const m = validateManifest(JSON.parse(readFileSync(join(dir, 'c', 'manifest.json'), 'utf8')), 'manifest.json');
    expect([m.forward, m.train, m.jvp, m.vjp].map((p) => p !== undefined)).toEqual([false, true, true, true]);
    const d = await ok('compile', LINREG, '-o', join(dir, 'd'));
    expect(d).toContain('forward:');
    expect(d).not.toContain('jvp');
  });
});
