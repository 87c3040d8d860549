// Node-only file helpers for safetensors; the format itself lives in safetensors.ts (browser-safe).
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readRegularFile } from './regular-file.js';
import {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type StTensor,
} from './safetensors.js';

function reason(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code: unknown }).code : undefined;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent of the path is not a directory';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/** Reads and validates a safetensors file; every failure is a SafetensorsError naming the path. */
export function readSafetensorsFile(path: string, opts: { readonly ints?: boolean } = {}): DecodedSafetensors {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path);
  } catch (e) {
    throw new SafetensorsError(`cannot read ${path}: ${reason(e)}`);
  }
  // Files Kiln wrote carry a checksum (CLI.md v1.1 "Integrity"); others load as before.
  return decodeSafetensors(bytes, path, { ...opts, verify: true });
}

/**
 * Writes a safetensors file atomically, its data section's checksum in the metadata: the bytes go to a temporary file in the same directory,
 * are fsynced, then renamed over the target, so readers never see a half-written file.
 */
export function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, StTensor> | Record<string, StTensor>,
  metadata?: Record<string, string>,
): void {
  const bytes = encodeSafetensors(tensors, metadata, { checksum: true });
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters more
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may never have been created
    }
    throw new SafetensorsError(`cannot write ${path}: ${reason(e)}`);
  }
  // Persist the rename itself; not every platform lets a directory be opened and fsynced.
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // best effort
  }
}
