// Checkpoints through the CLI: a run stopped at an epoch end, inside an
// epoch (--steps) or by Ctrl-C, then resumed, ends with exactly the params
// of an uninterrupted run (wasm and reference); a diverging loss stops with
// the step named and the last good checkpoint intact; --resume refuses to
// change the run's settings or data.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from './helpers.js';
import { LINREG, TINY, TINY_DROPOUT, losses, writeLinreg, writeTinySafetensors } from './fixtures/train/data.js';

const BUILT = existsSync('dist/cli/train/loop.js');

function checkpointOf(dir: string): { step: number; epoch: number; batch: number; tensors: Map<string, unknown> } {
  const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, 'checkpoint.safetensors')), dir);
  const meta = JSON.parse(metadata['kiln.checkpoint']!) as { position: { step: number; epoch: number; batch: number } };
  return { ...meta.position, tensors };
}

async function ok(...args: string[]): Promise<string> {
  const r = await kiln('train', ...args);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

function sameBytes(a: string, b: string): void {
  expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
}

describe('kiln train checkpoints', () => {
  it('resumes at an epoch end bit for bit (shuffled, dropout, Adam with a schedule)', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 90);
    const run = ['--data', data, '--batch', '16', '--seed', '3'];
    const straight = await ok(TINY_DROPOUT, ...run, '--epochs', '4', '--params-out', join(dir, 'a.safetensors'));
    const ckpt = join(dir, 'ckpt');
    const first = await ok(TINY_DROPOUT, ...run, '--epochs', '2', '--checkpoint', ckpt);
    expect(checkpointOf(ckpt)).toMatchObject({ step: 12, epoch: 2, batch: 0 });
    const second = await ok(
      TINY_DROPOUT,
      ...run,
      '--epochs',
      '4',
      '--checkpoint',
      ckpt,
      '--resume',
      '--params-out',
      join(dir, 'b.safetensors'),
    );
    expect(second).toContain('resuming from');
    sameBytes(join(dir, 'a.safetensors'), join(dir, 'b.safetensors'));
    expect([...losses(first), ...losses(second)]).toEqual(losses(straight));
    // The checkpoint holds params and optimizer state under their own names: it also serves as --params-in.
    expect([...checkpointOf(ckpt).tensors.keys()]).toContain('w1.m');
    await ok(TINY_DROPOUT, '--data', data, '--steps', '1', '--params-in', join(ckpt, 'checkpoint.safetensors'));
  });

  for (const target of ['wasm', 'reference'])
    for (const line of ['sophia(lr = 0.05, update_interval = 5)', 'adahessian(lr = 0.1, update_interval = 7)'])
      it(`${line} on ${target}: resumes between curvature refreshes bit for bit`, async () => {
        const dir = tempDir();
        const file = join(dir, 'tiny.kiln');
        writeFileSync(file, readFileSync(TINY, 'utf8').replace(/^(\s*)optimizer .*$/m, `$1optimizer ${line}`));
        const data = writeTinySafetensors(dir, 90);
        // 6 steps per epoch: the checkpoint at step 12 falls between refreshes (at 11 and 16 for k = 5, 8 and 15 for k = 7).
        const run = ['--data', data, '--batch', '16', '--seed', '3', '--target', target];
        const straight = await ok(file, ...run, '--epochs', '4', '--params-out', join(dir, 'a.safetensors'));
        const ckpt = join(dir, 'ckpt');
        const first = await ok(file, ...run, '--epochs', '2', '--checkpoint', ckpt);
        expect(checkpointOf(ckpt)).toMatchObject({ step: 12 });
        const state = [...checkpointOf(ckpt).tensors.keys()];
        expect(state).toContain(line.startsWith('sophia') ? 'w.h' : 'w.d');
        const second = await ok(
          file,
          ...run,
          '--epochs',
          '4',
          '--checkpoint',
          ckpt,
          '--resume',
          '--params-out',
          join(dir, 'b.safetensors'),
        );
        sameBytes(join(dir, 'a.safetensors'), join(dir, 'b.safetensors'));
        expect([...losses(first), ...losses(second)]).toEqual(losses(straight));
      });

  it('resumes inside an epoch (--steps) bit for bit, taking the settings from the checkpoint', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 90);
    await ok(
      TINY,
      '--data',
      data,
      '--batch',
      '8',
      '--seed',
      '5',
      '--steps',
      '29',
      '--params-out',
      join(dir, 'a.safetensors'),
    );
    const ckpt = join(dir, 'ckpt');
    await ok(TINY, '--data', data, '--batch', '8', '--seed', '5', '--steps', '17', '--checkpoint', ckpt);
    expect(checkpointOf(ckpt)).toMatchObject({ step: 17, epoch: 1, batch: 5 });
    // No --batch or --seed: the checkpoint's are used.
    const out = await ok(
      TINY,
      '--data',
      data,
      '--steps',
      '29',
      '--checkpoint',
      ckpt,
      '--resume',
      '--params-out',
      join(dir, 'b.safetensors'),
    );
    expect(out).toContain('29 steps of batch 8');
    sameBytes(join(dir, 'a.safetensors'), join(dir, 'b.safetensors'));
  });

  it('resumes the reference interpreter exactly (float64 checkpoint)', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 24);
    const run = ['--data', data, '--batch', '8', '--target', 'reference'];
    await ok(TINY_DROPOUT, ...run, '--steps', '7', '--params-out', join(dir, 'a.safetensors'));
    const ckpt = join(dir, 'ckpt');
    await ok(TINY_DROPOUT, ...run, '--steps', '4', '--checkpoint', ckpt);
    expect(decodeSafetensors(readFileSync(join(ckpt, 'checkpoint.safetensors')), 'c').tensors.get('w1')!.dtype).toBe(
      'F64',
    );
    await ok(
      TINY_DROPOUT,
      ...run,
      '--steps',
      '7',
      '--checkpoint',
      ckpt,
      '--resume',
      '--params-out',
      join(dir, 'b.safetensors'),
    );
    sameBytes(join(dir, 'a.safetensors'), join(dir, 'b.safetensors'));
  });

  it('Ctrl-C saves a checkpoint and exits 130; --resume then ends where an uninterrupted run does', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 64);
    const run = ['--data', data, '--batch', '8', '--steps', '400'];
    await ok(TINY, ...run, '--params-out', join(dir, 'a.safetensors'));
    const ckpt = join(dir, 'ckpt');
    const log = join(dir, 'log.jsonl');
    // Emit SIGINT (to this process's listeners: the CLI's, alone for the moment) once a few steps are logged.
    const others = process.listeners('SIGINT');
    for (const l of others) process.off('SIGINT', l);
    const poll = setInterval(() => {
      if (existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 6) {
        clearInterval(poll);
        process.emit('SIGINT', 'SIGINT');
      }
    }, 1);
    const r = await kiln('train', TINY, ...run, '--checkpoint', ckpt, '--log', log);
    clearInterval(poll);
    for (const l of others) process.on('SIGINT', l);
    expect(r.status).toBe(130);
    const stopped = checkpointOf(ckpt).step;
    expect(stopped).toBeGreaterThan(0);
    expect(stopped).toBeLessThan(400);
    expect(r.stdout).toContain(`interrupted at step ${stopped}: checkpoint saved in ${ckpt}; continue with --resume`);
    await ok(TINY, ...run, '--checkpoint', ckpt, '--resume', '--log', log, '--params-out', join(dir, 'b.safetensors'));
    sameBytes(join(dir, 'a.safetensors'), join(dir, 'b.safetensors'));
    // The log reads as one run: every step once.
    const steps = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; step: number })
      .filter((e) => e.event === 'step')
      .map((e) => e.step);
    expect(steps).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
  });

  it.skipIf(!BUILT)('Ctrl-C on a real process (the built CLI)', async () => {
    const dir = tempDir();
    const data = writeLinreg(dir, 64);
    const ckpt = join(dir, 'ckpt');
    const child = spawn(process.execPath, [
      'bin/kiln.js',
      'train',
      LINREG,
      '--data',
      data,
      '--steps',
      '100000',
      '--checkpoint',
      ckpt,
    ]);
    let stdout = '';
    let sent = false;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      // Off a terminal about 50 step lines are printed, the first at step 1: training has begun.
      if (!sent && losses(stdout).length >= 1) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(status).toBe(130);
    const step = checkpointOf(ckpt).step;
    expect(step).toBeGreaterThanOrEqual(1);
    expect(step).toBeLessThan(100000);
    expect(stdout).toContain(`interrupted at step ${step}`);
  });

  it('a NaN or infinite loss stops, naming the step, and keeps the last good checkpoint', async () => {
    const dir = tempDir();
    const data = writeLinreg(dir, 40);
    const ckpt = join(dir, 'ckpt');
    const out = join(dir, 'out.safetensors');
    const r = await kiln(
      'train',
      LINREG,
      '--data',
      data,
      '--epochs',
      '100',
      '--batch',
      '8',
      '--lr',
      '2',
      '--no-shuffle',
      '--checkpoint',
      ckpt,
      '--params-out',
      out,
    );
    expect(r.status).toBe(1);
    const m =
      /error: the loss became (?:NaN|-?Infinity) at step (\d+) \(epoch (\d+)\); stopped training: the last good checkpoint \(step (\d+)\) is kept in/.exec(
        r.stderr,
      );
    expect(m, r.stderr).not.toBeNull();
    const [step, epoch, kept] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(kept).toBe((epoch - 1) * 5);
    expect(step).toBeGreaterThan(kept);
    const c = checkpointOf(ckpt);
    expect(c.step).toBe(kept);
    for (const t of c.tensors.values())
      for (const v of (t as { data: Float32Array }).data) expect(Number.isFinite(v)).toBe(true);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses to resume with other settings or data, and to overwrite a checkpoint without --resume', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 32);
    const ckpt = join(dir, 'ckpt');
    await ok(TINY, '--data', data, '--batch', '8', '--steps', '3', '--checkpoint', ckpt);
    const again = await kiln('train', TINY, '--data', data, '--steps', '3', '--checkpoint', ckpt);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already holds a checkpoint \(step 3\); add --resume/);
    const batch = await kiln('train', TINY, '--data', data, '--batch', '4', '--checkpoint', ckpt, '--resume');
    expect(batch.status).toBe(1);
    expect(batch.stderr).toMatch(
      /the checkpoint's run used --batch 8; --resume continues it as it was, so leave out --batch 4/,
    );
    const other = writeTinySafetensors(dir, 32, 9, 'other.safetensors');
    const data2 = await kiln('train', TINY, '--data', other, '--checkpoint', ckpt, '--resume');
    expect(data2.status).toBe(1);
    expect(data2.stderr).toMatch(/the checkpoint was trained on other data/);
    const none = await kiln('train', TINY, '--data', data, '--checkpoint', join(dir, 'empty'), '--resume');
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no checkpoint to resume/);
    const done = await kiln('train', TINY, '--data', data, '--checkpoint', ckpt, '--resume');
    expect(done.status).toBe(0);
    expect(done.stdout).toMatch(/nothing to do: the checkpoint is at step 3 of 3/);
    expect((await kiln('train', TINY, '--data', data, '--resume')).status).toBe(2);
    expect(
      (await kiln('train', TINY, '--data', data, '--checkpoint', ckpt, '--resume', '--params-in', data)).status,
    ).toBe(2);
    for (const r of [again, batch, data2, none]) expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
