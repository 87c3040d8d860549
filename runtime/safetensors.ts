// Safetensors encoding and decoding (https://github.com/huggingface/safetensors).
//
// Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON header
//   { "name": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ...,
//     "__metadata__": { "key": "value" } }
// then the data section; offsets are relative to its start and data is little-endian.
//
// This file must run unchanged in Node and in browsers: no `node:` imports, only
// Uint8Array/DataView/TextEncoder/TextDecoder. Everything a file can get wrong is reported
// as a SafetensorsError whose message starts with the source name.

import { CHECKSUM_KEY, checksumOf } from './checksum.js';

export type StDType = 'F32' | 'F64' | 'I32' | 'BOOL' | 'U8';

export interface StTensor {
  dtype: StDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/**
 * Integer dtypes that other tools write for ids and labels (NumPy and PyTorch
 * default to I64). Decoded only on request (`ints`), into their own map, so
 * that a caller converts them (checking every value fits) and the runtime's
 * readers keep seeing only the dtypes above.
 */
export type StIntDType = 'I64' | 'I16' | 'I8' | 'U16' | 'U32';

export interface StIntTensor {
  dtype: StIntDType;
  shape: number[];
  data: BigInt64Array | Int16Array | Int8Array | Uint16Array | Uint32Array;
}

const INT_ITEM_SIZE: Record<StIntDType, number> = { I64: 8, I16: 2, I8: 1, U16: 2, U32: 4 };

function isStIntDType(s: unknown): s is StIntDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(INT_ITEM_SIZE, s);
}

function intsFromBytes(dtype: StIntDType, bytes: Uint8Array, numel: number): StIntTensor['data'] {
  const size = INT_ITEM_SIZE[dtype];
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!HOST_LITTLE_ENDIAN && size > 1) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  switch (dtype) {
    case 'I64':
      return new BigInt64Array(copy.buffer, 0, numel);
    case 'I16':
      return new Int16Array(copy.buffer, 0, numel);
    case 'I8':
      return new Int8Array(copy.buffer, 0, numel);
    case 'U16':
      return new Uint16Array(copy.buffer, 0, numel);
    case 'U32':
      return new Uint32Array(copy.buffer, 0, numel);
  }
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/** The reference implementation refuses headers above 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

const ITEM_SIZE: Record<StDType, number> = { F64: 8, F32: 4, I32: 4, U8: 1, BOOL: 1 };
const SUPPORTED: StDType[] = ['F32', 'F64', 'I32', 'BOOL', 'U8'];
/** Dtypes other safetensors writers use, so that the error can say "unsupported" rather than "unknown". */
const KNOWN_UNSUPPORTED = new Set(['F16', 'BF16', 'F8_E4M3', 'F8_E5M2', 'I8', 'I16', 'I64', 'U16', 'U32', 'U64']);

/** The reference writer's order (its Dtype enum, largest first): it lays tensors out F64, F32, I32, U8, BOOL. */
const WRITE_RANK: Record<StDType, number> = { F64: 4, F32: 3, I32: 2, U8: 1, BOOL: 0 };

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isStDType(s: unknown): s is StDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ITEM_SIZE, s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fmtShape(dtype: string, shape: readonly number[]): string {
  return `${dtype}[${shape.join(', ')}]`;
}

/** Element count of a shape, or undefined if the shape is invalid or its byte size is not a safe integer. */
function numelOf(shape: unknown): number | undefined {
  if (!Array.isArray(shape)) return undefined;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
  }
  // 8 bytes per element at most; keep the byte count exact.
  return Number.isSafeInteger(n * 8) ? n : undefined;
}

function describeShapeProblem(shape: unknown): string {
  if (!Array.isArray(shape)) return `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      return `shape ${JSON.stringify(shape)} must hold non-negative integers, got ${JSON.stringify(d)}`;
    }
  }
  return `shape ${JSON.stringify(shape)} has too many elements`;
}

function unsupportedDtype(dtype: unknown): string {
  const shown = typeof dtype === 'string' ? `'${dtype}'` : JSON.stringify(dtype);
  const what = typeof dtype === 'string' && KNOWN_UNSUPPORTED.has(dtype) ? 'unsupported' : 'unknown';
  return `${what} dtype ${shown} (supported: ${SUPPORTED.join(', ')})`;
}

function expectedArrayName(dtype: StDType): string {
  switch (dtype) {
    case 'F32':
      return 'Float32Array';
    case 'F64':
      return 'Float64Array';
    case 'I32':
      return 'Int32Array';
    case 'U8':
    case 'BOOL':
      return 'Uint8Array';
  }
}

function dataMatchesDtype(dtype: StDType, data: unknown): boolean {
  switch (dtype) {
    case 'F32':
      return data instanceof Float32Array;
    case 'F64':
      return data instanceof Float64Array;
    case 'I32':
      return data instanceof Int32Array;
    case 'U8':
    case 'BOOL':
      return data instanceof Uint8Array;
  }
}

/** Copies bytes into a fresh, aligned typed array of the dtype, swapping bytes on big-endian hosts. */
function typedFromBytes(dtype: StDType, bytes: Uint8Array, numel: number): StTensor['data'] {
  const size = ITEM_SIZE[dtype];
  // A fresh buffer at offset 0, so every view below is aligned. (Not bytes.slice(): on a Node Buffer that is a view.)
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!HOST_LITTLE_ENDIAN && size > 1) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  switch (dtype) {
    case 'F32':
      return new Float32Array(copy.buffer, 0, numel);
    case 'F64':
      return new Float64Array(copy.buffer, 0, numel);
    case 'I32':
      return new Int32Array(copy.buffer, 0, numel);
    case 'U8':
    case 'BOOL':
      return copy;
  }
}

/** Little-endian bytes of a typed array (a view when the host is little-endian). */
function littleEndianBytes(data: StTensor['data']): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const copy = view.slice();
  const size = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  return copy;
}

function entriesOf(tensors: ReadonlyMap<string, StTensor> | Record<string, StTensor>): [string, StTensor][] {
  if (tensors instanceof Map) return [...(tensors as ReadonlyMap<string, StTensor>).entries()];
  return Object.entries(tensors as Record<string, StTensor>);
}

/**
 * Serialises tensors deterministically, byte for byte as the reference implementation does:
 * tensors are laid out by dtype (F64, F32, I32, U8, BOOL: decreasing item size), then by name,
 * so every tensor is aligned to its item size (the data section starts at a multiple of 8
 * because the header is space-padded to a multiple of 8). Header keys follow the same order,
 * after `__metadata__`.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, StTensor> | Record<string, StTensor>,
  metadata?: Record<string, string>,
  opts: {
    /** Adds the data section's checksum to the metadata (`kiln.xxh32`), for decodeSafetensors to verify. */
    readonly checksum?: boolean;
    /** With `checksum`: leaves the digest's placeholder for sealChecksum (a writer hashing while the disk writes). */
    readonly unsealed?: boolean;
  } = {},
): Uint8Array {
  const src = 'encodeSafetensors';
  const entries = entriesOf(tensors);
  for (const [name, t] of entries) {
    const where = `${src}: tensor '${name}'`;
    if (name === '__metadata__')
      throw new SafetensorsError(`${src}: '__metadata__' is reserved and cannot name a tensor`);
    if (!isStDType(t.dtype)) throw new SafetensorsError(`${where}: ${unsupportedDtype(t.dtype)}`);
    const numel = numelOf(t.shape);
    if (numel === undefined) throw new SafetensorsError(`${where}: ${describeShapeProblem(t.shape)}`);
    if (!dataMatchesDtype(t.dtype, t.data)) {
      throw new SafetensorsError(`${where}: ${t.dtype} data must be a ${expectedArrayName(t.dtype)}`);
    }
    if (t.data.length !== numel) {
      throw new SafetensorsError(
        `${where}: ${fmtShape(t.dtype, t.shape)} needs ${numel} elements but the data holds ${t.data.length}`,
      );
    }
    if (t.dtype === 'BOOL') {
      const bad = t.data.findIndex((v) => v !== 0 && v !== 1);
      if (bad >= 0) throw new SafetensorsError(`${where}: BOOL element ${bad} is ${t.data[bad]}, expected 0 or 1`);
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`${src}: metadata '${k}' must be a string`);
    }
  }

  entries.sort(([na, a], [nb, b]) => {
    const byDtype = WRITE_RANK[b.dtype] - WRITE_RANK[a.dtype];
    if (byDtype !== 0) return byDtype;
    return na < nb ? -1 : na > nb ? 1 : 0;
  });

  if (opts.checksum) {
    // First in the header, as a placeholder of the digest's width, written once the data is in place.
    const rest = Object.entries(metadata ?? {}).filter(([k]) => k !== CHECKSUM_KEY);
    metadata = Object.fromEntries([[CHECKSUM_KEY, PLACEHOLDER], ...rest]);
  }
  // Built with defineProperty semantics (Object.fromEntries), so a tensor named "__proto__" is an ordinary key.
  const headerEntries: [string, unknown][] = [];
  if (metadata !== undefined) headerEntries.push(['__metadata__', Object.fromEntries(Object.entries(metadata))]);
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.byteLength;
    headerEntries.push([name, { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, end] }]);
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(headerEntries)));
  const headerLen = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    out.set(littleEndianBytes(t.data), pos);
    pos += t.data.byteLength;
  }
  if (opts.checksum && !opts.unsealed) sealChecksum(out);
  return out;
}

/** The digest: the header's checksum (taken with this in its place), then the data section's. */
const PLACEHOLDER = '0000000000000000';
/** Where the digest sits in a header that starts with it: `{"__metadata__":{"kiln.xxh32":"`. */
const DIGEST_AT = JSON.stringify({ __metadata__: { [CHECKSUM_KEY]: PLACEHOLDER } }).indexOf(PLACEHOLDER);
/** The header's first bytes, placeholder included, in a file encoded unsealed. */
const HEADER_START = JSON.stringify({ __metadata__: { [CHECKSUM_KEY]: PLACEHOLDER } }).slice(
  0,
  DIGEST_AT + PLACEHOLDER.length,
);

/**
 * Puts the digest in place of the placeholder of a file encoded with `{ checksum: true, unsealed: true }`;
 * returns where it went (bytes [begin, end)).
 */
export function sealChecksum(bytes: Uint8Array): { begin: number; end: number } {
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const begin = 8 + DIGEST_AT;
  const end = begin + PLACEHOLDER.length;
  if (new TextDecoder().decode(bytes.subarray(8, end)) !== HEADER_START)
    throw new SafetensorsError('sealChecksum: the header does not start with the checksum placeholder');
  // Header (with the placeholder) and data: a flipped byte in the metadata is damage too.
  const digest = checksumOf(bytes.subarray(8, 8 + headerLen)) + checksumOf(bytes.subarray(8 + headerLen));
  bytes.set(new TextEncoder().encode(digest), begin);
  return { begin, end };
}

/** The digest of a file Kiln wrote (its placeholder where the writer put it), '' where it is not there. */
function digestOf(bytes: Uint8Array, headerLen: number): string {
  // A copy (not bytes.slice(): on a Node Buffer that is a view, and the caller's bytes would get the placeholder).
  const header = new Uint8Array(headerLen);
  header.set(bytes.subarray(8, 8 + headerLen));
  const at = DIGEST_AT;
  const prefix = new TextDecoder().decode(header.subarray(0, at));
  if (prefix !== JSON.stringify({ __metadata__: { [CHECKSUM_KEY]: PLACEHOLDER } }).slice(0, at)) return '';
  header.set(new TextEncoder().encode(PLACEHOLDER), at);
  return checksumOf(header) + checksumOf(bytes.subarray(8 + headerLen));
}

interface Slot {
  name: string;
  begin: number;
  end: number;
}

/** What decodeSafetensors returns: `ints` only holds tensors when asked for (`opts.ints`). */
export interface DecodedSafetensors {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
  ints: Map<string, StIntTensor>;
}

/** Parses and fully validates a safetensors file; tensor data is copied into aligned typed arrays. */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = '<buffer>',
  opts: {
    readonly ints?: boolean;
    /** Verifies the data section against its `kiln.xxh32` metadata, where the file has one. */
    readonly verify?: boolean;
  } = {},
): DecodedSafetensors {
  const fail: (msg: string) => never = (msg) => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected the bytes of a safetensors file');
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes long, too short for the 8-byte header length of a safetensors file`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLenBig = view.getBigUint64(0, true);
  if (headerLenBig > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLenBig} exceeds the ${MAX_HEADER_BYTES}-byte limit (is this a safetensors file?)`);
  }
  const headerLen = Number(headerLenBig);
  if (8 + headerLen > bytes.length) {
    fail(`header length ${headerLen} runs past the end of the file (${bytes.length - 8} bytes after the length)`);
  }

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(header)) fail('header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}');
  const hdr = header as Record<string, unknown>;

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;

  // A damaged (or truncated) data section is named as such before anything is said about its tensors.
  const meta = hdr['__metadata__'];
  const want = isPlainObject(meta) ? meta[CHECKSUM_KEY] : undefined;
  if (opts.verify && typeof want === 'string' && digestOf(bytes, headerLen) !== want)
    throw new SafetensorsError(`${source} is damaged (checksum mismatch)`);

  const metadataEntries: [string, string][] = [];
  const slots: Slot[] = [];
  const infos: {
    name: string;
    dtype: StDType | StIntDType;
    shape: number[];
    numel: number;
    begin: number;
    end: number;
  }[] = [];

  for (const [name, info] of Object.entries(hdr)) {
    if (name === '__metadata__') {
      if (!isPlainObject(info)) fail('__metadata__ must be an object mapping strings to strings');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ '${k}' must be a string, got ${JSON.stringify(v)}`);
        metadataEntries.push([k, v as string]);
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (!isPlainObject(info)) fail(`${where}: expected an object with dtype, shape and data_offsets`);
    const rec = info as Record<string, unknown>;
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!(field in rec)) fail(`${where}: missing '${field}'`);
    }
    const dtype = rec['dtype'];
    const intOk = opts.ints === true && isStIntDType(dtype);
    if (!isStDType(dtype) && !intOk) return fail(`${where}: ${unsupportedDtype(dtype)}`);
    const shape = rec['shape'];
    const numel = numelOf(shape);
    if (numel === undefined) return fail(`${where}: ${describeShapeProblem(shape)}`);
    const shapeArr = shape as number[];
    const offs = rec['data_offsets'];
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      return fail(
        `${where}: data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offs)}`,
      );
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] has begin after end`);
    if (end > dataLen) {
      fail(`${where}: data_offsets [${begin}, ${end}] run past the end of the data section (${dataLen} bytes)`);
    }
    const need = numel * (isStDType(dtype) ? ITEM_SIZE[dtype] : INT_ITEM_SIZE[dtype as StIntDType]);
    if (end - begin !== need) {
      fail(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${fmtShape(dtype, shapeArr)} needs ${need}`,
      );
    }
    slots.push({ name, begin, end });
    infos.push({ name, dtype: dtype as StDType | StIntDType, shape: [...shapeArr], numel, begin, end });
  }

  // Like the reference implementation: tensors must tile the data section exactly, in some order.
  slots.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: Slot | undefined;
  for (const s of slots) {
    if (s.begin < covered && prev !== undefined) {
      fail(
        `tensors '${prev.name}' [${prev.begin}, ${prev.end}] and '${s.name}' [${s.begin}, ${s.end}] overlap in the data section`,
      );
    }
    if (s.begin > covered) {
      fail(`data section has a gap: bytes [${covered}, ${s.begin}) before tensor '${s.name}' belong to no tensor`);
    }
    covered = s.end;
    prev = s;
  }
  if (covered !== dataLen) {
    fail(`data section has ${dataLen - covered} trailing bytes after the last tensor (bytes [${covered}, ${dataLen}))`);
  }

  const tensors = new Map<string, StTensor>();
  const ints = new Map<string, StIntTensor>();
  for (const t of infos) {
    const raw = bytes.subarray(dataStart + t.begin, dataStart + t.end);
    if (isStIntDType(t.dtype)) {
      ints.set(t.name, { dtype: t.dtype, shape: t.shape, data: intsFromBytes(t.dtype, raw, t.numel) });
      continue;
    }
    if (t.dtype === 'BOOL') {
      const bad = raw.findIndex((v) => v > 1);
      if (bad >= 0) fail(`tensor '${t.name}': BOOL element ${bad} is ${raw[bad]}, expected 0 or 1`);
    }
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: typedFromBytes(t.dtype, raw, t.numel) });
  }
  return { tensors, metadata: Object.fromEntries(metadataEntries), ints };
}
