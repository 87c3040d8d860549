// The CLI's atomic writer (cli/train/atomic-write.ts): text and bytes land
// whole, nothing temporary stays beside them, and a failure is the user's
// error naming the file.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../cli/errors.js';
import { writeFileAtomic } from '../../cli/train/atomic-write.js';
import { tempDir } from './helpers.js';

describe('writeFileAtomic (CLI)', () => {
  it('writes text and bytes over an older file, leaving nothing else in the directory', () => {
    const dir = tempDir();
    const path = join(dir, 'out.txt');
    writeFileSync(path, 'old contents, longer than the new');
    writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['out.txt']);
  });

  it('a missing directory is a UserError naming the file', () => {
    const path = join(tempDir(), 'missing', 'out.txt');
    expect(() => writeFileAtomic(path, 'x')).toThrow(UserError);
    expect(() => writeFileAtomic(path, 'x')).toThrow(`cannot write ${path}: no such file`);
  });
});
