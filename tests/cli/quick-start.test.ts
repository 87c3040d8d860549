// The README's quick start works as written: every command of the `sh` block
// of its "Quick start" section, read from README.md (so the test fails when
// the README drifts), runs in order as a real process in a fresh directory
// (the repository's examples/ linked in, `npx kiln` as bin/kiln.js: needs
// `npm run build`), exits 0 with nothing on stderr, prints what that command
// should, and writes every file it names.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../runtime/safetensors.js';
import { tempDir } from './helpers.js';

const ROOT = resolve('.');

/** The quick start's commands, each as its words after `npx kiln`. */
export function quickStartCommands(readme: string): string[][] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start\n'));
  if (!section) throw new Error('README.md has no "## Quick start" section');
  const block = /^```sh\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (!block) throw new Error('the quick start has no ```sh block');
  return block
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line !== '')
    .map((line) => {
      if (/["'`$|;&<>]/.test(line)) throw new Error(`the quick start's line needs a shell: ${line}`);
      const [npx, kiln, ...args] = line.split(/\s+/);
      if (npx !== 'npx' || kiln !== 'kiln') throw new Error(`not a kiln command: ${line}`);
      return args;
    });
}

/** The value of `flag` in `args`. */
const option = (args: readonly string[], ...flags: string[]) => {
  const i = args.findIndex((a) => flags.includes(a));
  return i < 0 ? undefined : args[i + 1];
};

const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

/** What each command must print (and write), beyond exit status 0 and an empty stderr. */
const EXPECT: Record<string, (args: readonly string[], stdout: string, dir: string) => void> = {
  check: (args, stdout) => {
    const files = args.filter((a) => a.endsWith('.kiln'));
    for (const f of files) expect(stdout).toContain(`${f}: ok\n`);
    expect(stdout).toMatch(/^ {2}[\d,]+ parameters$/m);
  },
  init: (args, stdout, dir) => {
    expect(stdout).toMatch(/^wrote \d+ params of model/);
    expect(read(join(dir, option(args, '-o', '--out')!)).size).toBeGreaterThan(0);
  },
  run: (args, stdout, dir) => {
    const limit = option(args, '--limit');
    const out = option(args, '--out');
    if (out) {
      expect(stdout).toMatch(/^wrote \d+ outputs? to /);
      const shapes = [...read(join(dir, out)).values()].map((t) => t.shape);
      if (limit) expect(shapes.some((s) => s[0] === Number(limit))).toBe(true);
    } else {
      expect(stdout).toMatch(/^\w+: (f32|i32|bool)\[/);
      if (limit) expect(stdout).toMatch(new RegExp(`: (f32|i32|bool)\\[${limit}[,\\]]`));
    }
  },
  grad: (args, stdout, dir) => {
    expect(stdout).toMatch(/^\w+ = -?\d[\d.e+-]*\nwrote \w+ and \d+ gradients to /);
    expect([...read(join(dir, option(args, '--out')!)).keys()].some((k) => k.startsWith('grad.'))).toBe(true);
  },
  compile: (args, stdout, dir) => {
    expect(stdout).toMatch(/^wrote .*manifest\.json/);
    expect(existsSync(join(dir, option(args, '-o', '--out')!, 'manifest.json'))).toBe(true);
    if (args.includes('--dts')) expect(existsSync(join(dir, option(args, '-o', '--out')!, 'model.d.ts'))).toBe(true);
  },
  train: (args, stdout, dir) => {
    expect(stdout).toMatch(/^final loss \d/m);
    // A real model learns on real data: well above chance (10%) even in a short run.
    const accuracy = [...stdout.matchAll(/accuracy (\S+)%/g)].map((m) => Number(m[1]));
    expect(accuracy.length).toBeGreaterThan(0);
    expect(accuracy.at(-1)!).toBeGreaterThan(50);
    const params = option(args, '--params-out');
    if (params) expect(read(join(dir, params)).size).toBeGreaterThan(0);
  },
  attribute: (args, stdout, dir) => {
    expect(stdout).toMatch(/^attr\.\w+: f32\[/m);
    const png = option(args, '--png');
    if (png) {
      const n = Number(option(args, '--limit'));
      expect(stdout).toContain(`wrote ${n} heat maps to ${png}`);
      expect(readdirSync(join(dir, png)).filter((f) => f.endsWith('.png'))).toHaveLength(n);
    }
  },
  dump: (args, stdout) => {
    const stage = option(args, '--stage');
    expect(stdout.length).toBeGreaterThan(100);
    if (stage === 'wgsl') expect(stdout).toContain('@compute');
    if (stage === 'kernels') expect(stdout).toMatch(/kernel/);
  },
};

describe('README quick start', () => {
  const commands = quickStartCommands(readFileSync('README.md', 'utf8'));

  it('reads the block: npx kiln commands, data from the data forms, nothing the block does not make', () => {
    expect(commands.length).toBeGreaterThan(5);
    for (const args of commands) expect(Object.keys(EXPECT), `kiln ${args[0]}: add what it prints`).toContain(args[0]);
    expect(commands.flat().filter((a) => /\bin\.safetensors$/.test(a))).toEqual([]);
  });

  it('runs every command as written, in order, in a fresh directory', { timeout: 600_000 }, () => {
    const dir = tempDir();
    symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
    for (const args of commands) {
      const what = `npx kiln ${args.join(' ')}`;
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/kiln.js'), ...args], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 300_000,
      });
      expect(r.stderr, what).toBe('');
      expect(r.status, what).toBe(0);
      EXPECT[args[0]!]!(args, r.stdout, dir);
    }
  });
});
