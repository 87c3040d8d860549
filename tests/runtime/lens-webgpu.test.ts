// The lens entries on the webgpu runtime (Dawn; SwiftShader where there is
// no GPU) against the reference interpreter: every example's jvp and vjp,
// and a missing entry. Tolerances as on wasm (lens-helpers.ts): outputs
// rtol 1e-4, atol 1e-5; derivatives rtol 2e-3, atol 1e-4.
//
// Without a WebGPU adapter the suite is skipped with a visible message,
// unless KILN_REQUIRE_WEBGPU=1 (CI), where that is a failure.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import { type Model, loadArtifact } from '../../runtime/index.js';
import type { EntryName } from '../../runtime/manifest.js';
import { buildArtifact } from '../../targets/artifact.js';
import { wgslTarget } from '../../targets/wgsl/target.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { example, randomInputs } from './helpers.js';
import { expectMatches, randomFor, reference } from './lens-helpers.js';

const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));

const open: Model[] = [];
async function load(file: string, entries: readonly EntryName[]): Promise<Model> {
  const c = compile(example(file).model, undefined, { target: 'webgpu' });
  const m = await loadArtifact(buildArtifact(c, wgslTarget, { seed: 1, entries }));
  open.push(m);
  return m;
}
afterAll(() => {
  for (const m of open) m.dispose();
});

webgpuSuite('jvp and vjp on webgpu', () => {
  it.each(EXAMPLES)('%s: jvp and vjp equal the reference interpreter', async (file) => {
    const m = await load(file, ['jvp', 'vjp']);
    expect(m.target).toBe('webgpu');
    const inputs = randomInputs(example(file).model, 3, 5);
    const tangents = randomFor(m, m.tangents, inputs, 11);
    expectMatches(`${file} jvp`, await m.jvp(inputs, tangents), await reference(file, 'jvp', m, inputs, tangents));
    const cotangents = randomFor(m, m.cotangents, inputs, 13);
    expectMatches(`${file} vjp`, await m.vjp(inputs, cotangents), await reference(file, 'vjp', m, inputs, cotangents));
  });

  it('an artifact without the entry says how to recompile it', async () => {
    const m = await load('examples/linear_regression.kiln', ['run', 'jvp']);
    const inputs = randomInputs(example('examples/linear_regression.kiln').model, 2);
    await expect(m.vjp(inputs)).rejects.toThrow('recompile it with `kiln compile FILE --entries run,jvp,vjp`');
  });
});
