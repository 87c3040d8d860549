// kiln train with the Wave 2 optimizers: a checkpoint of prodigy (whole-model
// d and numerator), muon and schedule_free_adamw resumes bit for bit on wasm
// and on the reference; schedule-free evaluates at its evaluation point x
// (`--eval`) and `--params-out P --eval-params` writes x.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from './helpers.js';
import { TINY, writeTinySafetensors } from './fixtures/train/data.js';

const BUILT = existsSync('dist/cli/train/loop.js');

/** The tiny classifier fixture (w: [4, 3], b: [3]) with another optimizer line and no schedule. */
function tinyWith(dir: string, line: string): string {
  const src = readFileSync(TINY, 'utf8')
    .replace('optimizer adam(lr = 1e-2)', `optimizer ${line}`)
    .replace(/\n\s*schedule .*\n/, '\n');
  const path = join(dir, 'model.kiln');
  writeFileSync(path, src);
  return path;
}

async function ok(...args: string[]): Promise<string> {
  const r = await kiln('train', ...args);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

const tensorsOf = (path: string) => decodeSafetensors(readFileSync(path), path).tensors;

describe.skipIf(!BUILT)('kiln train, Wave 2 optimizers', () => {
  for (const [line, target] of [
    ['prodigy(d0 = 1e-3)', 'wasm'],
    ['prodigy(d0 = 1e-3)', 'reference'],
    ['muon(lr = 0.02)', 'wasm'],
    ['schedule_free_adamw(lr = 0.01, warmup = 3)', 'wasm'],
  ] as const)
    it(`${line} on ${target}: a checkpoint resumes bit for bit`, async () => {
      const dir = tempDir();
      const data = writeTinySafetensors(dir, 64);
      const model = tinyWith(dir, line);
      const run = ['--data', data, '--batch', '8', '--seed', '2', '--target', target];
      await ok(model, ...run, '--steps', '13', '--params-out', join(dir, 'a.safetensors'));
      const ckpt = join(dir, 'ckpt');
      await ok(model, ...run, '--steps', '6', '--checkpoint', ckpt);
      const saved = tensorsOf(join(ckpt, 'checkpoint.safetensors'));
      if (line.startsWith('prodigy')) {
        expect(saved.has('prodigy.d')).toBe(true);
        expect(saved.has('prodigy.numerator')).toBe(true);
      }
      await ok(
        model,
        ...run,
        '--steps',
        '13',
        '--checkpoint',
        ckpt,
        '--resume',
        '--params-out',
        join(dir, 'b.safetensors'),
      );
      expect(Buffer.compare(readFileSync(join(dir, 'a.safetensors')), readFileSync(join(dir, 'b.safetensors')))).toBe(
        0,
      );
    });

  it('schedule_free_adamw: --eval-params writes x (the <param>.x state), --eval evaluates there', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 64);
    const model = tinyWith(dir, 'schedule_free_adamw(lr = 0.05)');
    const ckpt = join(dir, 'ckpt');
    const run = ['--data', data, '--eval', data, '--batch', '8', '--seed', '2', '--steps', '10', '--checkpoint', ckpt];
    const out = await ok(model, ...run, '--params-out', join(dir, 'x.safetensors'), '--eval-params');
    const x = tensorsOf(join(dir, 'x.safetensors'));
    const state = tensorsOf(join(ckpt, 'checkpoint.safetensors'));
    for (const n of ['w', 'b']) {
      expect(x.get(n)!.data).toEqual(state.get(`${n}.x`)!.data);
      expect(x.get(n)!.data).not.toEqual(state.get(n)!.data);
    }
    // The eval loss printed is the mean cross-entropy of x@w + b at x, not at the params y.
    const d = tensorsOf(data);
    const loss = (w: ArrayLike<number>, b: ArrayLike<number>) => {
      const [xs, ys, n] = [d.get('x')!.data, d.get('y')!.data, d.get('y')!.shape[0]!];
      let total = 0;
      for (let i = 0; i < n; i++) {
        const z = [0, 1, 2].map((c) => b[c]! + [0, 1, 2, 3].reduce((a, k) => a + xs[i * 4 + k]! * w[k * 3 + c]!, 0));
        const m = Math.max(...z);
        total += Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0)) + m - z[ys[i]!]!;
      }
      return total / n;
    };
    const printed = [...out.matchAll(/eval loss\s+([0-9.]+)/gi)].map((m) => Number(m[1]));
    expect(printed.length, out).toBeGreaterThan(0);
    const last = printed.at(-1)!;
    const atX = loss(x.get('w')!.data, x.get('b')!.data);
    const atY = loss(state.get('w')!.data, state.get('b')!.data);
    expect(Math.abs(last - atX), `${last} vs x ${atX}, y ${atY}`).toBeLessThan(1e-3);
    expect(Math.abs(last - atY)).toBeGreaterThan(1e-3);
  });

  it('--eval-params needs --params-out; other optimizers have no evaluation point', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 16);
    const r = await kiln('train', tinyWith(dir, 'schedule_free_adamw'), '--data', data, '--eval-params');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--eval-params needs --params-out');
    const r2 = await kiln(
      'train',
      tinyWith(dir, 'adam'),
      '--data',
      data,
      '--params-out',
      join(dir, 'p.safetensors'),
      '--eval-params',
    );
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain('no separate evaluation point');
  });
});
