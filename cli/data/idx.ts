// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// two zero bytes, a type code (0x08: unsigned bytes, the only one these sets
// use), the number of dimensions, each dimension as a big-endian u32, then
// the data. Files may be gzipped (`.gz`, or detected by the gzip magic).

import { gunzipSync } from 'node:zlib';
import { UserError } from '../errors.js';
import { fileError } from './files.js';
import { readRegularFile } from '../../runtime/regular-file.js';

export interface IdxArray {
  readonly dims: number[];
  readonly data: Uint8Array;
}

export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path);
  } catch (e) {
    throw fileError(path, e);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new UserError(`${path}: corrupt gzip data (${(e as Error).message})`);
    }
  } else if (path.endsWith('.gz')) throw new UserError(`${path}: not a gzip file`);
  return parseIdx(bytes, path);
}

export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const fail = (why: string): never => {
    throw new UserError(`${file}: ${why}`);
  };
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0)
    fail('not an IDX file (it does not start with two zero bytes)');
  if (bytes[2] !== 0x08)
    fail(
      `IDX type code 0x${bytes[2]!.toString(16).padStart(2, '0')} is not supported (Kiln reads unsigned bytes, 0x08)`,
    );
  const rank = bytes[3]!;
  if (rank === 0) fail('an IDX file with no dimensions');
  const start = 4 + 4 * rank;
  if (bytes.length < start) fail(`truncated IDX header (${rank} dimensions need ${start} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const want = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - start;
  if (have < want)
    fail(`truncated: the header declares ${dims.join('×')} bytes of data (${want}), the file holds ${have}`);
  if (have > want) fail(`${have - want} unexpected bytes after the ${dims.join('×')} data`);
  return { dims, data: bytes.subarray(start) };
}
