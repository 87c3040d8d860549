// User errors through the CLI: clear messages naming the file, tensor and
// shapes; exit 1 for user errors and 2 for bad usage; never a stack trace.

import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, kilnProcess, tempDir } from './helpers.js';

const MLP = 'examples/mlp.kiln';

function inputs(dir: string, x: { shape: number[] }, y: { shape: number[]; dtype?: 'I32' | 'F32' }): string {
  const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const path = join(dir, 'in.safetensors');
  writeFileSync(
    path,
    encodeSafetensors({
      x: { dtype: 'F32', shape: x.shape, data: new Float32Array(n(x.shape)) },
      y:
        y.dtype === 'F32'
          ? { dtype: 'F32', shape: y.shape, data: new Float32Array(n(y.shape)) }
          : { dtype: 'I32', shape: y.shape, data: new Int32Array(n(y.shape)) },
    }),
  );
  return path;
}

describe('CLI errors', () => {
  it('reports a wrong input shape naming the tensor and both shapes', async () => {
    const dir = tempDir();
    const r = await kiln('run', MLP, '--inputs', inputs(dir, { shape: [2, 783] }, { shape: [2] }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'x'");
    expect(r.stderr).toContain('f32[B, 784]');
    expect(r.stderr).toContain('783');
  });

  it('reports inconsistent symbolic dimensions', async () => {
    const dir = tempDir();
    const r = await kiln('run', MLP, '--inputs', inputs(dir, { shape: [2, 784] }, { shape: [3] }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/'y'.*3.*B = 2|B = 2.*'y'/s);
  });

  it('reports a wrong input dtype', async () => {
    const dir = tempDir();
    const r = await kiln('run', MLP, '--inputs', inputs(dir, { shape: [2, 784] }, { shape: [2], dtype: 'F32' }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'y'");
    expect(r.stderr).toContain('i32');
  });

  it('reports a missing file cleanly', async () => {
    const r = await kiln('check', 'no/such/model.kiln');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no/such/model.kiln');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a corrupt inputs file cleanly', async () => {
    const dir = tempDir();
    const path = join(dir, 'bad.safetensors');
    writeFileSync(path, Buffer.from([1, 2, 3]));
    const r = await kiln('run', MLP, '--inputs', path);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(path);
  });

  it('reports the same input errors on the reference target', async () => {
    const dir = tempDir();
    const r = await kiln(
      'run',
      MLP,
      '--inputs',
      inputs(dir, { shape: [2, 783] }, { shape: [2] }),
      '--target',
      'reference',
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'x'");
    expect(r.stderr).toContain('f32[B, 784]');
  });

  it('exits 2 on bad usage', async () => {
    expect((await kiln('frobnicate')).status).toBe(2);
    expect((await kiln('run', MLP)).status).toBe(2);
    expect((await kiln('dump', MLP, '--stage', 'nope')).status).toBe(2);
    expect((await kiln('init', MLP, '-o', 'x.safetensors', '--seed', 'abc')).status).toBe(2);
  });

  it("refuses --threads above the machine's cores (bad usage) before any work", async () => {
    const cores = availableParallelism();
    const r = await kiln('run', MLP, '--inputs', 'fashion-mnist:test', '--limit', '2', '--threads', String(cores + 1));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--threads ${cores + 1} is more than this machine's ${cores} core`);
    expect(r.stdout).toBe('');
  });

  it('check refuses a source without a model (an empty file, only fns)', async () => {
    const dir = tempDir();
    const empty = join(dir, 'empty.kiln');
    const fns = join(dir, 'fns.kiln');
    writeFileSync(empty, '');
    writeFileSync(fns, 'fn f(x) = x * 2\n');
    for (const file of [empty, fns]) {
      const r = await kiln('check', file);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `error: ${file}: no model to check (a source declares at least one 'model NAME(...) { ... }')\n`,
      );
    }
    const both = await kiln('check', fns, MLP);
    expect(both.status).toBe(1);
    expect(both.stdout).toContain(`${MLP}: ok`);
  });

  it('never writes over its own source or inputs, and checks output directories first', async () => {
    const dir = tempDir();
    const src = join(dir, 'm.kiln');
    copyFileSync(MLP, src);
    const before = readFileSync(src);
    const init = await kiln('init', src, '-o', src);
    expect(init.status).toBe(2);
    expect(init.stderr).toContain(`-o ${src} would overwrite ${src}, which this command reads`);
    expect(readFileSync(src)).toEqual(before);
    const x = inputs(dir, { shape: [2, 784] }, { shape: [2] });
    const data = readFileSync(x);
    const run = await kiln('run', src, '--inputs', x, '--out', join(dir, 'sub', '..', 'in.safetensors'));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('which this command reads');
    expect(readFileSync(x)).toEqual(data);
    const grad = await kiln('grad', src, '--inputs', x, '--out', join(dir, 'missing', 'g.safetensors'));
    expect(grad.status).toBe(1);
    expect(grad.stderr).toMatch(/^error: cannot write .*g\.safetensors: the directory .*missing does not exist\n$/);
    expect(readdirSync(dir).sort()).toEqual(['in.safetensors', 'm.kiln']);
    const over = await kiln('train', src, '--data', x, '--steps', '1', '--params-out', src);
    expect(over.status).toBe(2);
    expect(over.stderr).toContain(`--params-out ${src} would overwrite ${src}, which this command reads`);
    expect(readFileSync(src)).toEqual(before);
    for (const flag of ['--params-out', '--plot', '--log']) {
      const r = await kiln('train', src, '--data', x, '--steps', '1', flag, join(dir, 'missing', 'f'));
      expect(r.status, flag).toBe(1);
      expect(r.stderr, flag).toMatch(/^error: cannot write .*f: the directory .*missing does not exist\n$/);
      expect(r.stdout, `${flag}: no step ran`).not.toMatch(/step 1/);
    }
  });

  it('refuses a device or FIFO where a file is expected, without reading it', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'data.csv');
    execFileSync('mkfifo', [fifo]);
    const notRegular = (p: string) => `cannot read ${p}: not a regular file (a device, FIFO or socket)`;
    const cases: [string[], string][] = [
      [['train', MLP, '--data', '/dev/zero', '--steps', '1'], notRegular('/dev/zero')],
      [['train', MLP, '--data', fifo, '--steps', '1'], notRegular(fifo)],
      [['run', MLP, '--inputs', '/dev/zero'], notRegular('/dev/zero')],
      [
        ['run', MLP, '--inputs', 'fashion-mnist:test', '--limit', '1', '--params', '/dev/zero'],
        notRegular('/dev/zero'),
      ],
      [['check', '/dev/zero'], '/dev/zero: error: not a regular file (a device, FIFO or socket)'],
    ];
    for (const [args, message] of cases) {
      const r = await kiln(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
  });

  it('refuses a model whose parameters cannot fit, with the figure, before allocating', async () => {
    const dir = tempDir();
    const huge = join(dir, 'huge.kiln');
    writeFileSync(
      huge,
      'model h(x: f32[B, 100000]) {\n  param w: f32[100000, 100000] = zeros\n  output y = sum(x @ w)\n}\n',
    );
    const out = join(dir, 'p.safetensors');
    for (const args of [
      ['init', huge, '-o', out],
      ['compile', huge, '-o', join(dir, 'art')],
      ['train', huge, '--data', 'fashion-mnist', '--steps', '1'],
    ]) {
      const r = await kiln(...args);
      expect(r.status, args[0]).toBe(1);
      expect(r.stderr).toBe("error: model 'h' needs 40.0 GB for parameters alone; wasm memory is at most 4 GiB\n");
    }
    expect(readdirSync(dir)).toEqual(['huge.kiln']);
    const check = await kiln('check', huge);
    expect(check.status).toBe(0);
    expect(check.stdout).toContain("  40.0 GB of parameters: more than wasm's 4 GiB, so it cannot run\n");
    expect((await kiln('check', MLP)).stdout).toContain('  101,770 parameters\n  407.1 KB of parameters\n');
  });

  it('bare kiln prints the help on stderr and exits 2', async () => {
    const r = await kiln();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: kiln \[options\] \[command\]/);
    expect(r.stderr).toContain('train [options] <file>');
  });

  it('reports a source error with file:line:col and a caret, as a real process', () => {
    const dir = tempDir();
    const path = join(dir, 'bad.kiln');
    writeFileSync(path, 'model m(x: f32[3]) {\n  output y = exp(x) @ x2\n}\n');
    const r = kilnProcess('check', path);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${path}:2:`);
    expect(r.stderr).toContain('^');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('survives binary garbage as a real process', () => {
    const dir = tempDir();
    const path = join(dir, 'garbage.kiln');
    writeFileSync(path, Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256)));
    const r = kilnProcess('check', path);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(path);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
