// A checkpoint write that fails or is killed midway never damages the
// previous checkpoint: in-process, node:fs's writeSync fails halfway through
// the second checkpoint (as on a full disk); as a real process (the built
// CLI), the run is SIGKILLed while it writes checkpoints back to back. Either
// way the checkpoint on disk stays complete and --resume goes on from it.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { decodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from './helpers.js';
import { TINY, WIDE, writeLinreg, writeTinySafetensors } from './fixtures/train/data.js';

const fault = vi.hoisted(() => ({ bigWrites: 0, failAt: 0, wrote: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return {
    ...actual,
    writeSync: (fd: number, buffer: Uint8Array, offset?: number, length?: number, position?: number) => {
      const big = typeof buffer !== 'string' && buffer.length > 1000;
      if (big && offset === 0) fault.bigWrites += 1;
      if (big && fault.bigWrites === fault.failAt) {
        // Half the bytes go out, then the disk is full.
        if (offset === 0) return actual.writeSync(fd, buffer, 0, Math.floor(buffer.length / 2), position);
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      // The writer writes at positions (the digest goes over its placeholder once the file is out).
      return actual.writeSync(fd, buffer, offset, length, position);
    },
  };
});

const BUILT = fs.existsSync('dist/cli/train/loop.js');

function checkpointStep(dir: string): number {
  const bytes = fs.readFileSync(join(dir, 'checkpoint.safetensors'));
  const { metadata } = decodeSafetensors(bytes, dir);
  return (JSON.parse(metadata['kiln.checkpoint']!) as { position: { step: number } }).position.step;
}

describe('kiln train checkpoint writes', () => {
  it('a write failing midway keeps the previous checkpoint, leaves no temporary file, and resumes', async () => {
    const dir = tempDir();
    const data = writeTinySafetensors(dir, 48);
    const run = ['--data', data, '--batch', '16', '--epochs', '3'];
    const ckpt = join(dir, 'ckpt');
    fault.bigWrites = 0;
    fault.failAt = 2;
    const r = await kiln('train', TINY, ...run, '--checkpoint', ckpt);
    fault.failAt = 0;
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /cannot write .*checkpoint\.safetensors: no space left on the device \(the previous checkpoint is kept\)/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(ckpt)).toEqual(['checkpoint.safetensors']);
    expect(checkpointStep(ckpt)).toBe(3);
    await kiln('train', TINY, ...run, '--params-out', join(dir, 'a.safetensors'));
    const resumed = await kiln(
      'train',
      TINY,
      ...run,
      '--checkpoint',
      ckpt,
      '--resume',
      '--params-out',
      join(dir, 'b.safetensors'),
    );
    expect(resumed.status).toBe(0);
    expect(
      Buffer.compare(fs.readFileSync(join(dir, 'a.safetensors')), fs.readFileSync(join(dir, 'b.safetensors'))),
    ).toBe(0);
  });

  it.skipIf(!BUILT)('a process killed while writing checkpoints leaves a complete one (the built CLI)', async () => {
    const dir = tempDir();
    // Two examples, one step per epoch: the run spends its time writing 3 MB checkpoints.
    const data = writeLinreg(dir, 2);
    const ckpt = join(dir, 'ckpt');
    const run = ['train', WIDE, '--data', data, '--checkpoint', ckpt];
    const child = spawn(process.execPath, ['bin/kiln.js', ...run, '--epochs', '1000000'], { stdio: 'ignore' });
    const closed = new Promise((resolve) => child.on('close', resolve));
    while (!fs.existsSync(join(ckpt, 'checkpoint.safetensors')))
      await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 150));
    child.kill('SIGKILL');
    await closed;
    const step = checkpointStep(ckpt); // decodes the whole file: it is complete
    expect(step).toBeGreaterThan(0);
    // A resumed run removes what a killed write left behind and goes on from the checkpoint.
    const r = await kiln(...run, '--epochs', String(step + 2), '--resume');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(checkpointStep(ckpt)).toBe(step + 2);
    expect(fs.readdirSync(ckpt)).toEqual(['checkpoint.safetensors']);
  });
});
