// The checksum Kiln writes into the safetensors files it saves (CLI.md v1.1
// "Integrity"): xxHash32 (seed 0) of the header (the digest's place holding
// zeros) and of the data section, as 16 lowercase hex digits under the
// metadata key `kiln.xxh32`. xxHash32 rather than CRC-32: it runs unchanged
// in browsers, at 6.5 GB/s in plain JS once optimized (xxh32Js, the
// reference and the fallback), 7 GB/s where WebAssembly SIMD runs its stripe
// loop (xxh32-wasm.ts), which it does from the first call; the same values
// either way. bench/checksum.mjs measures it.

import { instantiateXxh32Kernel, type Xxh32Kernel } from './xxh32-wasm.js';

export const CHECKSUM_KEY = 'kiln.xxh32';

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

/** xxh32's final mix of the 32-bit state, as an unsigned digest. */
function avalanche(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

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

/** xxHash32 of `bytes` with seed 0 in plain JS (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md). */
export function xxh32Js(input: Uint8Array): number {
  // A plain Uint8Array view: once the loop had seen Buffers too it ran at a third of its speed.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.length);
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
  return avalanche(h);
}

/** Below this many bytes the plain loop is as fast as a trip through the kernel's memory. */
const KERNEL_MIN_BYTES = 256;

let kernel: Xxh32Kernel | null | undefined;

/** The SIMD kernel, instantiated on first use; null where it cannot run (or its lanes would read byte-swapped). */
function simdKernel(): Xxh32Kernel | null {
  if (kernel === undefined) kernel = (LITTLE_ENDIAN && instantiateXxh32Kernel()) || null;
  return kernel;
}

/** The four lanes after every whole stripe of `bytes`, copied through the kernel's input window. */
function kernelLanes(k: Xxh32Kernel, bytes: Uint8Array, whole: number): Int32Array {
  k.lanes.set([(P1 + P2) | 0, P2 | 0, 0, -P1 | 0]);
  for (let at = 0; at < whole; at += k.input.length) {
    const len = Math.min(k.input.length, whole - at);
    k.input.set(bytes.subarray(at, at + len));
    k.stripes(len);
  }
  return k.lanes;
}

/** The little-endian word at `i` (any alignment). */
const wordAt = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);

/** xxHash32 of `bytes` with seed 0; equal to xxh32Js, its stripes run by the SIMD kernel where there is one. */
export function xxh32(bytes: Uint8Array): number {
  const n = bytes.length;
  const k = n >= KERNEL_MIN_BYTES ? simdKernel() : null;
  if (k === null) return xxh32Js(bytes);
  const whole = n & ~15;
  const v = kernelLanes(k, bytes, whole);
  let h = (rotl(v[0]!, 1) + rotl(v[1]!, 7) + rotl(v[2]!, 12) + rotl(v[3]!, 18) + n) | 0;
  let i = whole;
  for (; i + 4 <= n; i += 4) h = Math.imul(rotl((h + Math.imul(wordAt(bytes, i), P3)) | 0, 17), P4);
  for (; i < n; i++) h = Math.imul(rotl((h + Math.imul(bytes[i]!, P5)) | 0, 11), P1);
  return avalanche(h);
}

/** The checksum as the metadata holds it. */
export function checksumOf(bytes: Uint8Array): string {
  return xxh32(bytes).toString(16).padStart(8, '0');
}
