// Integrity (CLI.md v1.1): the params and checkpoint files Kiln writes carry
// an xxHash32 of their data section in the safetensors metadata; a file
// whose data does not match is refused as damaged, naming it, and nothing is
// written; files without a checksum (other tools') load as before.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKSUM_KEY, checksumOf, xxh32 } from '../../runtime/checksum.js';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from './helpers.js';

const LINREG = 'examples/linear_regression.kiln';

function data(dir: string): string {
  const path = join(dir, 'd.safetensors');
  const x = new Float32Array(16 * 3).map((_, i) => (i % 7) / 7);
  const y = new Float32Array(16).map((_, i) => i / 16);
  writeFileSync(
    path,
    encodeSafetensors({ x: { dtype: 'F32', shape: [16, 3], data: x }, y: { dtype: 'F32', shape: [16], data: y } }),
  );
  return path;
}

/** The file with one byte of its data section (the last) flipped. */
function damage(path: string): Buffer {
  const bytes = readFileSync(path);
  bytes[bytes.length - 1]! ^= 0x10;
  writeFileSync(path, bytes);
  return bytes;
}

describe('checksums', () => {
  it('xxh32 matches the reference vectors, aligned or not', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(xxh32(new Uint8Array(0))).toBe(0x02cc5d05);
    expect(xxh32(enc('abc'))).toBe(0x32d153ff);
    expect(xxh32(enc('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
    const text = enc('xNobody inspects the spammish repetition');
    expect(xxh32(text.subarray(1))).toBe(0xe2293b2f);
  });

  it('params and checkpoints carry the checksum of their data section', async () => {
    const dir = tempDir();
    const d = data(dir);
    const ckpt = join(dir, 'ck');
    const params = join(dir, 'p.safetensors');
    const r = await kiln('train', LINREG, '--data', d, '--steps', '2', '--checkpoint', ckpt, '--params-out', params);
    expect(r.status, r.stderr).toBe(0);
    for (const path of [params, join(ckpt, 'checkpoint.safetensors')]) {
      const bytes = readFileSync(path);
      const { metadata } = decodeSafetensors(bytes, path);
      const start = 8 + Number(bytes.readBigUInt64LE(0));
      const digest = metadata[CHECKSUM_KEY]!;
      expect(digest).toMatch(/^[0-9a-f]{16}$/);
      expect(digest.slice(8), path).toBe(checksumOf(bytes.subarray(start)));
      const header = bytes.subarray(8, start).toString('latin1').replace(digest, '0'.repeat(16));
      expect(digest.slice(0, 8), path).toBe(checksumOf(Buffer.from(header, 'latin1')));
    }
  });

  it('a damaged checkpoint or params file is refused, naming it; nothing is written', async () => {
    const dir = tempDir();
    const d = data(dir);
    const ckpt = join(dir, 'ck');
    const params = join(dir, 'p.safetensors');
    expect(
      (await kiln('train', LINREG, '--data', d, '--steps', '2', '--checkpoint', ckpt, '--params-out', params)).status,
    ).toBe(0);
    const ckFile = join(ckpt, 'checkpoint.safetensors');
    const damagedCk = damage(ckFile);
    const out = join(dir, 'out.safetensors');
    const resume = await kiln(
      'train',
      LINREG,
      '--data',
      d,
      '--steps',
      '4',
      '--checkpoint',
      ckpt,
      '--resume',
      '--params-out',
      out,
    );
    expect(resume.status).toBe(1);
    expect(resume.stderr).toBe(`error: ${ckFile} is damaged (checksum mismatch)\n`);
    expect(readFileSync(ckFile).equals(damagedCk)).toBe(true);
    expect(existsSync(out)).toBe(false);
    // The checkpoint also serves as --params-in and --params.
    for (const args of [
      ['train', LINREG, '--data', d, '--steps', '1', '--params-in', ckFile, '--params-out', out],
      ['run', LINREG, '--inputs', d, '--params', ckFile, '--out', out],
      ['run', LINREG, '--inputs', d, '--params', ckFile, '--out', out, '--target', 'reference'],
    ]) {
      const r = await kiln(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toBe(`error: ${ckFile} is damaged (checksum mismatch)\n`);
      expect(existsSync(out)).toBe(false);
    }
    damage(params);
    for (const args of [
      ['run', LINREG, '--inputs', d, '--params', params, '--out', out],
      ['grad', LINREG, '--inputs', d, '--params', params, '--out', out, '--target', 'reference'],
    ]) {
      const r = await kiln(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toBe(`error: ${params} is damaged (checksum mismatch)\n`);
      expect(existsSync(out)).toBe(false);
    }
    // A truncated file is damaged too.
    writeFileSync(params, readFileSync(params).subarray(0, -4));
    const r = await kiln('run', LINREG, '--inputs', d, '--params', params);
    expect(r.stderr).toBe(`error: ${params} is damaged (checksum mismatch)\n`);
  });

  it("a compiled artifact's params carry the checksum; a damaged one is refused by the runtime", async () => {
    const dir = tempDir();
    const d = data(dir);
    const art = join(dir, 'linreg');
    expect((await kiln('compile', LINREG, '-o', art)).status).toBe(0);
    const params = join(art, 'params.safetensors');
    expect(Object.keys(decodeSafetensors(readFileSync(params), params).metadata)).toEqual([CHECKSUM_KEY]);
    expect((await kiln('run', art, '--inputs', d)).status).toBe(0);
    damage(params);
    const r = await kiln('run', art, '--inputs', d);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: .*params\.safetensors.* is damaged \(checksum mismatch\)\n$/);
  });

  it('files without a checksum load as before; an intact one loads', async () => {
    const dir = tempDir();
    const d = data(dir);
    const params = join(dir, 'p.safetensors');
    expect((await kiln('train', LINREG, '--data', d, '--steps', '1', '--params-out', params)).status).toBe(0);
    const { tensors, metadata } = decodeSafetensors(readFileSync(params), params);
    expect(Object.keys(metadata)).toEqual([CHECKSUM_KEY]);
    const plain = join(dir, 'plain.safetensors');
    writeFileSync(plain, encodeSafetensors(tensors));
    const a = await kiln('run', LINREG, '--inputs', d, '--params', plain);
    const b = await kiln('run', LINREG, '--inputs', d, '--params', params);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });
});
