// Running the CLI in-process (fast, captured output) or as a real process
// (exit status and stderr exactly as a user sees them).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { main } from '../../cli/main.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export async function kiln(...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const status = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { status, stdout, stderr };
}

/** The built CLI as a child process (needs `npm run build`). */
export function kilnProcess(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, ['bin/kiln.js', ...args], { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kiln-test-'));
}

/**
 * `kiln train ARGS --params-out DIR/params.safetensors`, which must stop with exit 1 and write no
 * params file: its stderr.
 */
export async function trainRefused(dir: string, ...args: string[]): Promise<string> {
  const out = join(dir, 'params.safetensors');
  const r = await kiln('train', ...args, '--params-out', out);
  expect(r.status, r.stderr).toBe(1);
  expect(existsSync(out)).toBe(false);
  return r.stderr;
}
