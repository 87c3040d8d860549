// The checksum Kiln writes into the safetensors files it saves (CLI.md v1.1
// "Integrity"): xxHash32 (seed 0) of the header (the digest's place holding
// zeros) and of the data section, as 16 lowercase hex digits under the
// metadata key `kiln.xxh32`. xxHash32 rather than CRC-32:
// in plain JS it hashes about twice as fast as Node's native zlib.crc32
// (~3 GB/s), which keeps a checkpoint's write and read within a few percent
// of their cost without it, and it runs unchanged in browsers.

export const CHECKSUM_KEY = 'kiln.xxh32';

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

/** Little-endian 32-bit words of `bytes` (whole words only), without a copy where aligned. */
function wordsOf(bytes: Uint8Array): Uint32Array {
  const n = bytes.length >>> 2;
  if ((bytes.byteOffset & 3) === 0 && LITTLE_ENDIAN) return new Uint32Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Uint32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getUint32(4 * i, true);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** xxHash32 of `bytes` with seed 0 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md). */
export function xxh32(bytes: Uint8Array): number {
  const n = bytes.length;
  const w = wordsOf(bytes);
  let i = 0;
  let h: number;
  if (n >= 16) {
    let v1 = (P1 + P2) | 0;
    let v2 = P2 | 0;
    let v3 = 0;
    let v4 = -P1 | 0;
    for (const last = w.length - 4; i <= last; i += 4) {
      v1 = Math.imul(rotl((v1 + Math.imul(w[i]!, P2)) | 0, 13), P1);
      v2 = Math.imul(rotl((v2 + Math.imul(w[i + 1]!, P2)) | 0, 13), P1);
      v3 = Math.imul(rotl((v3 + Math.imul(w[i + 2]!, P2)) | 0, 13), P1);
      v4 = Math.imul(rotl((v4 + Math.imul(w[i + 3]!, P2)) | 0, 13), P1);
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else h = P5 | 0;
  h = (h + n) | 0;
  for (; i < w.length; i++) h = Math.imul(rotl((h + Math.imul(w[i]!, P3)) | 0, 17), P4);
  for (let j = 4 * i; j < n; j++) h = Math.imul(rotl((h + Math.imul(bytes[j]!, P5)) | 0, 11), P1);
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The checksum as the metadata holds it. */
export function checksumOf(bytes: Uint8Array): string {
  return xxh32(bytes).toString(16).padStart(8, '0');
}
