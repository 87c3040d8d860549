// xxh32 (its stripes in WebAssembly SIMD) must give the values the plain JS
// xxh32Js gives, and both the spec's: files already written must verify.

import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';
import { xxh32, xxh32Js } from '../../runtime/checksum.js';
import { mulberry32 } from '../../runtime/mulberry32.js';
import { INPUT_BYTES, instantiateXxh32Kernel, XXH32_WASM_HEX, XXH32_WAT } from '../../runtime/xxh32-wasm.js';

const enc = (s: string) => new TextEncoder().encode(s);

function randomBytes(n: number, seed: number): Uint8Array {
  const r = mulberry32(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

describe('xxh32', () => {
  it('the kernel bytes are its WAT source assembled', () => {
    const m = binaryen.parseText(XXH32_WAT);
    try {
      m.setFeatures(binaryen.Features.SIMD128);
      expect(m.validate()).toBeTruthy();
      expect(Buffer.from(m.emitBinary()).toString('hex')).toBe(XXH32_WASM_HEX);
    } finally {
      m.dispose();
    }
  });

  it('runs its stripes in WebAssembly SIMD on Node', () => {
    expect(instantiateXxh32Kernel()).toBeDefined();
  });

  it('gives the known vectors (seed 0), the JS reference too', () => {
    const vectors: [string, number][] = [
      ['', 0x02cc5d05],
      ['a', 0x550d7456],
      ['abc', 0x32d153ff],
      ['Nobody inspects the spammish repetition', 0xe2293b2f],
    ];
    for (const [text, want] of vectors) {
      expect(xxh32Js(enc(text)), text).toBe(want);
      expect(xxh32(enc(text)), text).toBe(want);
    }
    // Long enough to go through the kernel.
    const long = enc('Nobody inspects the spammish repetition'.repeat(10));
    expect(xxh32(long)).toBe(xxh32Js(long));
  });

  it('equals the JS reference on every length 0..1000 at unaligned offsets', () => {
    const pool = randomBytes(1100, 7);
    for (let n = 0; n <= 1000; n++) {
      const at = n % 7;
      const bytes = pool.subarray(at, at + n);
      expect(xxh32(bytes), `length ${n} at offset ${at}`).toBe(xxh32Js(bytes));
    }
  });

  it('equals the JS reference across the input window, on a Buffer and on a copy', () => {
    const big = randomBytes(3 * INPUT_BYTES + 100, 11);
    for (const n of [
      INPUT_BYTES - 1,
      INPUT_BYTES,
      INPUT_BYTES + 1,
      INPUT_BYTES + 16,
      2 * INPUT_BYTES + 37,
      big.length - 3,
    ]) {
      for (const at of [0, 1, 3]) {
        const view = big.subarray(at, at + n);
        const want = xxh32Js(view);
        expect(xxh32(view), `length ${n} at offset ${at}`).toBe(want);
        expect(xxh32(Buffer.from(view))).toBe(want);
        expect(xxh32(view.slice())).toBe(want);
      }
    }
  });
});
