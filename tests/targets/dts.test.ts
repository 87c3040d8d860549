// Typed artifacts (targets/dts.ts): the .d.ts of an artifact, golden for
// examples/bag_of_words.kiln (i32 and f32 inputs, a scalar param and output,
// optimizer state that is no param), the same text through the library
// (`artifactTypes`) as through `kiln compile --dts`, and its names and
// dimensions for manifests no example has. (tests/package/ compiles a
// program against one with tsc.)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactTypes, compile } from '../../api/index.js';
import type { Manifest } from '../../runtime/manifest.js';
import { artifactDeclarations, typeNameOf } from '../../targets/dts.js';
import { kiln, tempDir } from '../cli/helpers.js';
import { expectGolden } from '../golden.js';

const GOLDEN = new URL('./golden/bag_of_words.dts.txt', import.meta.url).pathname;
const SOURCE = 'examples/bag_of_words.kiln';

describe('typed artifacts', () => {
  it('declares the inputs, outputs and params of bag_of_words (golden), as kiln compile --dts writes them', async () => {
    const r = await compile(readFileSync(SOURCE, 'utf8'), { file: SOURCE });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.text).join('\n'));
    const text = artifactTypes(r.artifact);
    expectGolden(GOLDEN, text);
    const dir = tempDir();
    // Without the step entry (quicker), which only the header names.
    const cli = await kiln('compile', SOURCE, '-o', join(dir, 'a'), '--entries', 'run', '--dts');
    expect(cli.status, cli.stderr).toBe(0);
    expect(readFileSync(join(dir, 'a', 'model.d.ts'), 'utf8')).toBe(text.replace('entries run, step', 'entries run'));
  });

  it('writes --dts PATH where it is asked to', async () => {
    const dir = tempDir();
    const lr = 'examples/linear_regression.kiln';
    const r = await kiln('compile', lr, '-o', join(dir, 'a'), '--entries', 'run', '--dts', join(dir, 'lr.d.ts'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `wrote ${join(dir, 'lr.d.ts')}: the types of the inputs, outputs and params (type Linreg)`,
    );
    const text = readFileSync(join(dir, 'lr.d.ts'), 'utf8');
    expect(text).toContain("// The tensors of Kiln model 'linreg' (target wasm; entries run).\n");
    expect(text).toContain('  readonly x: { readonly data: Float32Array; readonly shape: readonly [number, 3] };\n');
  });

  it('refuses a --dts path that is the source or a directory, before compiling', async () => {
    const dir = tempDir();
    const same = await kiln('compile', SOURCE, '-o', join(dir, 'a'), '--dts', SOURCE);
    expect([same.status, same.stderr]).toEqual([2, `kiln: --dts ${SOURCE} would overwrite ${SOURCE}, the source\n`]);
    const isDir = await kiln('compile', SOURCE, '-o', join(dir, 'a'), '--dts', dir);
    expect(isDir.status).toBe(2);
    expect(isDir.stderr).toMatch(/is a directory/);
  });

  it('names types after the model and quotes names that are no identifiers', () => {
    expect(['fashion_mlp', 'mlp', 'bag_of_words', '3d_net', 'a__b'].map(typeNameOf)).toEqual([
      'FashionMlp',
      'Mlp',
      'BagOfWords',
      'Model3dNet',
      'AB',
    ]);
    const manifest = {
      model: 'pairs',
      target: 'webgpu',
      inputs: [{ name: 'x', dtype: 'bool', shape: [{ coef: 2, syms: ['B'] }, { coef: 1, syms: ['T'] }, 4] }],
      outputs: [{ name: 'y.z', dtype: 'i32', shape: [] }],
      params: [
        { name: 'w', dtype: 'f32', shape: [4], role: 'param' },
        { name: 'w.m', dtype: 'f32', shape: [4], role: 'state' },
      ],
      forward: {},
    } as unknown as Manifest;
    const text = artifactDeclarations(manifest, { typeName: 'P' });
    expect(text).toContain('// Symbolic dimensions: B, T.\n');
    expect(text).toContain('target webgpu; entries run)');
    expect(text).toContain(
      '  /** bool[2*B, T, 4] */\n  readonly x: { readonly data: Uint8Array; readonly shape: readonly [number, number, 4] };\n',
    );
    expect(text).toContain("  readonly 'y.z': { readonly data: Int32Array; readonly shape: readonly [] };\n");
    expect(text).toContain('export type PParams = {\n  /** f32[4] */\n  readonly w:');
    expect(text).not.toContain('w.m');
    expect(text).toContain('export type P = {\n  readonly inputs: PInputs;');
    expect(() => artifactDeclarations(manifest, { typeName: 'not a name' })).toThrow(/not a TypeScript identifier/);
  });
});
