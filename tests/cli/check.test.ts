// `kiln check FILE` takes a shortcut past commander (cli/main.ts) and formats
// counts by hand (groupDigits): both must print exactly what they replaced.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupDigits } from '../../cli/commands/check.js';
import { runProgram } from '../../cli/program.js';
import { type CliResult, kiln, tempDir } from './helpers.js';

/** The same command line through commander, as before the shortcut. */
async function viaCommander(...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const status = await runProgram(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { status, stdout, stderr };
}

describe('kiln check', () => {
  it('prints what commander would, for good files and every kind of error', async () => {
    const dir = tempDir();
    const write = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    mkdirSync(join(dir, 'a-directory'));
    const files = [
      ...readdirSync('examples')
        .filter((f) => f.endsWith('.kiln'))
        .map((f) => `examples/${f}`),
      write('syntax.kiln', 'fn f(x) = x *\nmodel m(x: f32[B]) { output y = f(x) }\n'),
      write('semantic.kiln', 'model m(x: f32[B, 3]) {\n  param w: f32[4, 2] = zeros\n  output y = x @ w\n}\n'),
      write('big.kiln', 'model m(x: f32[B, 4096]) {\n  param w: f32[4096, 4096] = zeros\n  output y = x @ w\n}\n'),
      join(dir, 'missing.kiln'),
      join(dir, 'a-directory'),
      'help',
      '',
    ];
    let ok = 0;
    for (const file of files) {
      const r = await kiln('check', file);
      expect(r, file).toEqual(await viaCommander('check', file));
      if (r.status === 0) ok++;
    }
    expect(ok).toBeGreaterThan(8);
  });

  it('groups digits exactly as toLocaleString("en-US")', () => {
    for (const n of [0, 7, 999, 1000, 2228, 16_777_216, -1234, Number.MAX_SAFE_INTEGER, 1e21, 2 ** 60, 0.5, NaN]) {
      expect(groupDigits(n), String(n)).toBe(n.toLocaleString('en-US'));
    }
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => groupDigits(n) === n.toLocaleString('en-US')));
  });
});
