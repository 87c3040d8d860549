// `kiln check FILE...` (CLI.md v1): every file checked and reported, under a
// header naming it when there are several; a failing file is reported on
// stderr and the others still checked; exit 1 if any failed. The shortcut
// past commander (cli/main.ts) prints exactly what commander's path prints,
// and loads no more than for one file.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProgram } from '../../cli/program.js';
import { type CliResult, kiln, tempDir } from './helpers.js';

const MLP = 'examples/mlp.kiln';
const LINREG = 'examples/linear_regression.kiln';

async function viaCommander(...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const status = await runProgram(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { status, stdout, stderr };
}

describe('kiln check with several files', () => {
  it("reports each file under its name, a bad one's error on stderr, and exits 1 when any failed", async () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.kiln');
    writeFileSync(bad, 'model m(x: f32[B, 3]) {\n  param w: f32[4, 2] = zeros\n  output y = x @ w\n}\n');
    const files = [MLP, bad, LINREG];
    const r = await kiln('check', ...files);
    expect(r.status).toBe(1);
    // Each report as `kiln check FILE` prints it, under its header; all three checked.
    const single = await Promise.all(files.map((f) => kiln('check', f)));
    expect(single.map((s) => s.status)).toEqual([0, 1, 0]);
    expect(r.stdout).toBe(files.map((f, i) => `==> ${f} <==\n${single[i]!.stdout}`).join('\n'));
    expect(r.stdout).toContain(`${MLP}: ok\n`);
    expect(r.stdout).toContain(`${LINREG}: ok\n`);
    expect(r.stderr).toBe(single[1]!.stderr);
    expect(r.stderr).toContain(`${bad}:3:`);
    expect(r).toEqual(await viaCommander('check', ...files));

    const good = await kiln('check', MLP, LINREG);
    expect(good.status).toBe(0);
    expect(good.stderr).toBe('');
    expect(good.stdout.match(/^==> .* <==$/gm)).toEqual([`==> ${MLP} <==`, `==> ${LINREG} <==`]);

    const missing = await kiln('check', join(dir, 'nope.kiln'), MLP);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('nope.kiln');
    expect(missing.stdout).toContain(`${MLP}: ok\n`);
    expect(missing).toEqual(await viaCommander('check', join(dir, 'nope.kiln'), MLP));
  });

  it('skips commander for several files too, as a real process (needs npm run build)', () => {
    const trace = new URL('./fixtures/loads/trace.mjs', import.meta.url).href;
    const r = spawnSync(process.execPath, ['--import', trace, 'bin/kiln.js', 'check', MLP, LINREG], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${LINREG}: ok`);
    const loaded = r.stderr.split('\n').filter((l) => l.startsWith('kiln-load file://'));
    expect(loaded.some((l) => l.endsWith('/dist/cli/commands/check.js'))).toBe(true);
    expect(loaded.filter((l) => /\/node_modules\/commander\/|\/dist\/cli\/program\.js$/.test(l))).toEqual([]);
  });
});
