// The library API (api/, the `kiln` entry point) in process: results and
// diagnostics are data, refusals are diagnostics rather than throws, an
// in-memory artifact runs in the runtime as the files written for it do,
// and `dump` gives what `kiln dump` prints. (tests/package/ uses the same
// API from the packed package.)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactFiles, check, compile, dump, writeArtifact } from '../../api/index.js';
import { loadArtifact, loadModel } from '../../runtime/index.js';
import { kiln, tempDir } from '../cli/helpers.js';

const LINREG = readFileSync('examples/linear_regression.kiln', 'utf8');
const PLAIN = 'model plain(x: f32[B, 2]) {\n  param w: f32[2] = ones\n  output y = x * w\n}\n';

describe('check', () => {
  it("gives each model's tensors, parameter count and train block", () => {
    const r = check(LINREG, { file: 'lr.kiln' });
    expect(r.ok).toBe(true);
    expect(r.diagnostics).toEqual([]);
    expect(r.models).toEqual([
      {
        name: 'linreg',
        inputs: [
          { name: 'x', dtype: 'f32', shape: ['B', 3], type: 'f32[B, 3]' },
          { name: 'y', dtype: 'f32', shape: ['B'], type: 'f32[B]' },
        ],
        params: [
          { name: 'w', dtype: 'f32', shape: [3, 1], type: 'f32[3, 1]', count: 3 },
          { name: 'b', dtype: 'f32', shape: [], type: 'f32[]', count: 1 },
        ],
        outputs: [
          { name: 'pred', dtype: 'f32', shape: ['B'], type: 'f32[B]' },
          { name: 'loss', dtype: 'f32', shape: [], type: 'f32[]' },
        ],
        parameterCount: 4,
        train: { minimize: 'loss', optimizer: 'sgd', freeze: [] },
      },
    ]);
  });

  it('reports errors as located data, with the text kiln check prints', async () => {
    const src = 'model m(x: f32[B, 3]) {\n  output y = x @ w\n}\n';
    const r = check(src, { file: 'bad.kiln' });
    expect(r.ok).toBe(false);
    expect(r.models).toEqual([]);
    expect(r.diagnostics).toHaveLength(1);
    const d = r.diagnostics[0]!;
    expect(d).toMatchObject({ severity: 'error', file: 'bad.kiln', line: 2, col: 18, endLine: 2, endCol: 19 });
    expect(d.message).toMatch(/'w'/);
    const dir = tempDir();
    const path = join(dir, 'bad.kiln');
    await import('node:fs').then((fs) => fs.writeFileSync(path, src));
    const cli = await kiln('check', path);
    expect(cli.stderr).toContain(d.text.replace('bad.kiln', path));
  });

  it('reports syntax errors the same way, and takes no non-string source', () => {
    const r = check('model m(x: f32[B]) {\n  output y = x +\n}\n');
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0]).toMatchObject({ file: 'input.kiln', line: 3 });
    expect(() => check(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('compile', () => {
  it('gives an artifact in memory that the runtime runs, as the files it writes', async () => {
    const r = await compile(LINREG, { seed: 1, threads: false });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.text).join('\n'));
    expect(r.artifact.manifest.model).toBe('linreg');
    expect(Object.keys(artifactFiles(r.artifact)).sort()).toEqual([
      'manifest.json',
      'model.wasm',
      'params.safetensors',
    ]);
    const dir = join(tempDir(), 'lr');
    await writeArtifact(r.artifact, dir, { dts: true });
    expect(readFileSync(join(dir, 'model.d.ts'), 'utf8')).toContain('export type Linreg = {');
    for (const [name, bytes] of Object.entries(artifactFiles(r.artifact)))
      expect(new Uint8Array(readFileSync(join(dir, name)))).toEqual(bytes);
    const inputs = {
      x: { data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] },
      y: { data: Float32Array.of(1, 0), shape: [2] },
    };
    const [a, b] = [await loadArtifact(r.artifact), await loadModel(dir)];
    const w = (await a.getParams())['w']!.data;
    const bias = (await a.getParams())['b']!.data[0]!;
    const pred = [0, 1].map((i) => [0, 1, 2].reduce((s, j) => s + inputs.x.data[i * 3 + j]! * w[j]!, bias));
    const [ra, rb] = [await a.run(inputs), await b.run(inputs)];
    expect([...ra['pred']!.data]).toEqual([...rb['pred']!.data]);
    [0, 1].forEach((i) => expect(ra['pred']!.data[i]).toBeCloseTo(pred[i]!, 5));
    expect(await a.step(inputs)).toBe(await b.step(inputs));
    a.dispose();
    b.dispose();
  });

  it('refuses, as diagnostics, an unknown model, a step without a train block and a source without a model', async () => {
    const unknown = await compile(LINREG, { model: 'linerg' });
    expect(unknown.ok).toBe(false);
    expect(unknown.diagnostics[0]).toMatchObject({ file: 'input.kiln', line: 1, col: 1 });
    expect(unknown.diagnostics[0]!.message).toBe("no model named 'linerg'; did you mean 'linreg'? (models: linreg)");
    const step = await compile(PLAIN, { file: 'p.kiln', entries: ['run', 'step'] });
    expect(step.diagnostics).toMatchObject([
      { file: 'p.kiln', line: 1, col: 1, message: "model 'plain' has no train block, so no step entry" },
    ]);
    const empty = await compile('// nothing\n');
    expect(empty.diagnostics.map((d) => d.message)).toEqual(['the file defines no model']);
  });

  it('throws a TypeError for options of the wrong kind', async () => {
    await expect(compile(PLAIN, { target: 'cuda' as 'wasm' })).rejects.toThrow(/unknown target 'cuda'/);
    await expect(compile(PLAIN, { entries: ['fly' as 'run'] })).rejects.toThrow(/unknown entry 'fly'/);
    await expect(compile(PLAIN, { seed: 0.5 })).rejects.toThrow(/seed must be an integer/);
  });
});

describe('dump', () => {
  it('gives the text kiln dump prints', async () => {
    const dir = tempDir();
    const path = join(dir, 'lr.kiln');
    await import('node:fs').then((fs) => fs.writeFileSync(path, LINREG));
    for (const [stage, train] of [
      ['opt', true],
      ['kernels', false],
      ['grad', false],
    ] as const) {
      const r = await dump(LINREG, { stage, train });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => d.text).join('\n'));
      const cli = await kiln('dump', path, '--stage', stage, ...(train ? ['--train'] : []));
      expect(r.text).toBe(cli.stdout);
    }
  });

  it('refuses a training step without a train block and a gradient of no scalar output, as diagnostics', async () => {
    const step = await dump(PLAIN, { stage: 'ir', train: true });
    expect(step.diagnostics.map((d) => [d.line, d.message])).toEqual([
      [1, "model 'plain' has no train block, so it has no training step to show"],
    ]);
    const grad = await dump(PLAIN, { stage: 'grad' });
    expect(grad.diagnostics[0]!.message).toMatch(/no train block and no scalar f32 outputs/);
    const of = await dump(PLAIN, { stage: 'grad', of: 'y' });
    expect(of.diagnostics[0]!.message).toBe("model 'plain' has no scalar f32 output 'y' to differentiate");
    await expect(dump(PLAIN, { stage: 'asm' as 'ast' })).rejects.toThrow(/unknown stage 'asm'/);
  });
});
