// The NumPy `.npy` format (numpy.lib.format), versions 1.0, 2.0 and 3.0:
// magic "\x93NUMPY", major and minor version bytes, the header length (u16 in
// v1, u32 after), then a Python dict literal {'descr': '<f4', 'fortran_order':
// False, 'shape': (60000, 784), } padded with spaces, then the raw data in C
// order. Every way a file can be wrong is a user error naming the file.

import { UserError } from '../errors.js';

/** The element types Kiln reads: little-endian floats and ints, bytes and bools. */
export type NpyDType = 'f4' | 'f8' | 'i4' | 'i8' | 'i2' | 'i1' | 'u1' | 'u2' | 'u4' | 'b1';

export type NpyData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array;

export interface NpyArray {
  /** As the header wrote it, e.g. '<f4'. */
  readonly descr: string;
  readonly dtype: NpyDType;
  readonly shape: number[];
  readonly data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCRS: Record<string, NpyDType> = {
  '<f4': 'f4',
  '<f8': 'f8',
  '<i4': 'i4',
  '<i8': 'i8',
  '<i2': 'i2',
  '|i1': 'i1',
  '<i1': 'i1',
  '<u2': 'u2',
  '<u4': 'u4',
  '|u1': 'u1',
  '<u1': 'u1',
  '|b1': 'b1',
};

const ITEM_BYTES: Record<NpyDType, number> = { f4: 4, f8: 8, i4: 4, i8: 8, i2: 2, i1: 1, u1: 1, u2: 2, u4: 4, b1: 1 };

export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  const fail = (why: string): never => {
    throw new UserError(`${file}: ${why}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    fail('not a .npy file (it does not start with \\x93NUMPY)');
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(`unsupported .npy version ${major}.${bytes[7]} (Kiln reads 1.0, 2.0 and 3.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) fail('truncated .npy header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = start + headerLength;
  if (dataStart > bytes.length) fail(`truncated .npy header (it declares ${headerLength} bytes)`);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, dataStart));
  const { descr, fortran, shape } = parseHeader(text, fail);
  const dtype = DESCRS[descr] ?? fail(unsupported(descr));
  if (fortran && shape.length > 1)
    fail('the array is in Fortran order; save it in C order (numpy.ascontiguousarray) first');
  const numel = shape.reduce((a, b) => a * b, 1);
  const want = numel * ITEM_BYTES[dtype];
  const have = bytes.length - dataStart;
  const what = `${descr} (${shape.join(', ')})`;
  if (have < want) fail(`truncated: the header declares ${what}, ${want} bytes of data, but the file holds ${have}`);
  if (have > want) fail(`${have - want} unexpected bytes after the data of ${what}`);
  // Copy: the data offset need not be aligned for a typed array over the file's buffer.
  const copy = new Uint8Array(want);
  copy.set(bytes.subarray(dataStart, dataStart + want));
  return { descr, dtype, shape, data: typedView(dtype, copy.buffer) };
}

function parseHeader(text: string, fail: (why: string) => never): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    return fail(`malformed .npy header: ${JSON.stringify(text.trim().slice(0, 120))}`);
  const parts = shapeText
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s !== '');
  if (parts.some((p) => !/^\d+$/.test(p))) return fail(`malformed shape (${shapeText}) in the .npy header`);
  const shape = parts.map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d))) return fail(`shape (${shapeText}) is too large`);
  return { descr, fortran: fortran === 'True', shape };
}

function unsupported(descr: string): string {
  if (/^>/.test(descr))
    return `big-endian data ('${descr}') is not supported; save it little-endian (astype('<${descr.slice(1)}'))`;
  return `dtype '${descr}' is not supported (Kiln reads float32, float64, int8 to int64, uint8 to uint32 and bool: '<f4', '<f8', '|i1', '<i2', '<i4', '<i8', '|u1', '<u2', '<u4', '|b1')`;
}

function typedView(dtype: NpyDType, buf: ArrayBuffer): NpyData {
  switch (dtype) {
    case 'f4':
      return new Float32Array(buf);
    case 'f8':
      return new Float64Array(buf);
    case 'i4':
      return new Int32Array(buf);
    case 'i8':
      return new BigInt64Array(buf);
    case 'i2':
      return new Int16Array(buf);
    case 'i1':
      return new Int8Array(buf);
    case 'u2':
      return new Uint16Array(buf);
    case 'u4':
      return new Uint32Array(buf);
    case 'u1':
    case 'b1':
      return new Uint8Array(buf);
  }
}
