// Node-only file helpers for safetensors; the format itself lives in safetensors.ts (browser-safe).
import {
  close,
  closeSync,
  fdatasyncSync,
  fsync,
  fsyncSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readRegularFile } from './regular-file.js';
import {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  sealChecksum,
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

/** Writes bytes [begin, end) of `bytes` at the same offsets of the file. */
function writeRange(fd: number, bytes: Uint8Array, begin: number, end: number): void {
  for (let at = begin; at < end;) at += writeSync(fd, bytes, at, end - at, at);
}

/**
 * Starts flushing the file to the disk on libuv's thread pool, so the disk writes while this thread hashes; that
 * fsync's callback closes `fd` (closing it sooner could let the queued fsync meet a closed or reused number).
 */
function startFlush(fd: number): void {
  fsync(fd, () => close(fd, () => {}));
}

const napCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Sleeps a moment (about 0.1 ms here): where every other core is busy, the flush's thread needs this one to
 * start the disk, or it starts only once the hash is done (measured: the hash then hid only partly).
 */
function yieldCore(): void {
  Atomics.wait(napCell, 0, 0, 0.02);
}

/**
 * Writes a safetensors file atomically, its checksum in the metadata (`checksum: false`: none).
 * The digest is computed while the file flushes (writeFileAtomic's `seal`).
 */
export function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, StTensor> | Record<string, StTensor>,
  metadata?: Record<string, string>,
  opts: { readonly checksum?: boolean } = {},
): void {
  const checksum = opts.checksum ?? true;
  const bytes = encodeSafetensors(tensors, metadata, { checksum, unsealed: true });
  writeFileAtomic(path, bytes, checksum ? sealChecksum : undefined);
}

/** Fills in part of `bytes` (a digest) and says which: bytes [begin, end). */
export type Seal = (bytes: Uint8Array) => { begin: number; end: number };

/**
 * Writes `bytes` atomically: to a temporary file in the same directory, synced, then renamed over `path`, so
 * readers never see a half-written file. With `seal`, the file first goes out as it is and starts flushing to
 * the disk, `seal` runs meanwhile (the hash hides behind the disk), and the range it filled in is written again;
 * then fdatasync (the bytes and size are what a reader needs; a second journal commit for the times would cost
 * what the overlap saves).
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, seal?: Seal): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number | undefined;
  /** Whether startFlush's callback, not this function, closes fd. */
  let flushing = false;
  try {
    fd = openSync(tmp, 'wx');
    writeRange(fd, bytes, 0, bytes.length);
    if (seal) {
      startFlush(fd);
      flushing = true;
      yieldCore();
      const { begin, end } = seal(bytes);
      writeRange(fd, bytes, begin, end);
    }
    fdatasyncSync(fd);
    if (!flushing) closeSync(fd);
    fd = undefined;
    // Renaming a file still open is fine (POSIX; libuv opens files shareable for deletion on Windows).
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined && !flushing) {
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
