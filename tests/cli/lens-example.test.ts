// examples/lens-compose.mjs as a user runs it (node, the built runtime in
// dist/: `npm test` builds first): on artifacts compiled from
// examples/lens/, chaining the encoder's and the head's vjps (and jvps)
// equals the fused model's, within the script's tolerance; given a fused
// model that is not the composite, it fails with status 1.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kiln, tempDir } from './helpers.js';

async function compileLens(dir: string, name: string, source = join('examples', 'lens', `${name}.kiln`)) {
  const r = await kiln('compile', source, '--entries', 'run,jvp,vjp', '-o', join(dir, name));
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

const example = (...args: string[]) =>
  spawnSync(process.execPath, ['examples/lens-compose.mjs', ...args], { encoding: 'utf8' });

describe('examples/lens-compose.mjs', () => {
  it('chained vjps and jvps of encoder and head equal those of encoder_head', async () => {
    const dir = tempDir();
    for (const m of ['encoder', 'head', 'encoder_head']) await compileLens(dir, m);
    const r = example(dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const name of ['vjp.w1', 'vjp.b1', 'vjp.w2', 'vjp.b2', 'vjp.x', 'jvp.y'])
      expect(r.stdout).toMatch(new RegExp(`^${name.replace('.', '\\.')}: chained`, 'm'));
    expect(r.stdout).toMatch(/^ok: largest difference \S+ \(tolerance 0\.00001\)$/m);
  });

  it('fails with status 1 when the fused model is not the composite', async () => {
    const dir = tempDir();
    for (const m of ['encoder', 'head']) await compileLens(dir, m);
    const wrong = join(dir, 'wrong.kiln');
    writeFileSync(wrong, readFileSync('examples/lens/encoder_head.kiln', 'utf8').replace('tanh(', 'sigmoid('));
    await compileLens(dir, 'encoder_head', wrong);
    const r = example(dir);
    expect(r.stdout).toMatch(/^FAILED: largest difference/m);
    expect(r.status).toBe(1);
  });

  it('says how to run it without a directory', () => {
    const r = example();
    expect(r.stderr).toContain('usage: node examples/lens-compose.mjs DIR');
    expect(r.status).toBe(2);
  });
});
