// The IR's counter-based `rand` as WASM functions, bit-for-bit equal to
// randUniform(key, salt, index) in compiler/interpret.ts:
//
//   k = fmix32(key ^ (salt * 0x9E3779B9))
//   h = fmix32(index ^ k)
//   h = fmix32(h + (k ^ 0x6A09E667))
//   value = (h >>> 8) / 2^24
//
// with fmix32 murmur3's 32-bit finaliser; all arithmetic is i32 mod 2^32.

import binaryen from 'binaryen';

const SCALAR = 'kiln_rand_f32';
const VECTOR = 'kiln_rand_f32x4';

type Ref = binaryen.ExpressionRef;

/** The i32 / i32x4 operations fmix32 needs, over locals of one function. */
interface IntOps {
  get(local: number): Ref;
  xor(a: Ref, b: Ref): Ref;
  mul(a: Ref, c: number): Ref;
  shrU(a: Ref, n: number): Ref;
}

function scalarOps(m: binaryen.Module): IntOps {
  const i32 = binaryen.i32;
  return {
    get: (l) => m.local.get(l, i32),
    xor: (a, b) => m.i32.xor(a, b),
    mul: (a, c) => m.i32.mul(a, m.i32.const(c | 0)),
    shrU: (a, n) => m.i32.shr_u(a, m.i32.const(n)),
  };
}

/** Statements applying fmix32 in place to `local`. */
function fmix32(m: binaryen.Module, o: IntOps, local: number): Ref[] {
  const xorShift = (n: number) => m.local.set(local, o.xor(o.get(local), o.shrU(o.get(local), n)));
  const mul = (c: number) => m.local.set(local, o.mul(o.get(local), c));
  return [xorShift(16), mul(0x85ebca6b), xorShift(13), mul(0xc2b2ae35), xorShift(16)];
}

/** Statements setting `local` (i32) to k = fmix32(key ^ (salt * 0x9E3779B9)); params 0 and 1. */
function keyStatements(m: binaryen.Module, local: number): Ref[] {
  const i32 = binaryen.i32;
  const mixed = m.i32.xor(m.local.get(0, i32), m.i32.mul(m.local.get(1, i32), m.i32.const(0x9e3779b9 | 0)));
  return [m.local.set(local, mixed), ...fmix32(m, scalarOps(m), local)];
}

/** Name of an internal `(key: i32, salt: i32, index: i32) -> f32` function, added once. */
export function randFunction(module: binaryen.Module): string {
  if (module.getFunction(SCALAR) !== 0) return SCALAR;
  const m = module;
  const i32 = binaryen.i32;
  const ops = scalarOps(m);
  const K = 3;
  const H = 4;
  const body = m.block(
    null,
    [
      ...keyStatements(m, K),
      m.local.set(H, m.i32.xor(m.local.get(2, i32), m.local.get(K, i32))),
      ...fmix32(m, ops, H),
      m.local.set(H, m.i32.add(m.local.get(H, i32), m.i32.xor(m.local.get(K, i32), m.i32.const(0x6a09e667)))),
      ...fmix32(m, ops, H),
      // < 2^24, so the conversion and the scaling are exact.
      m.f32.mul(m.f32.convert_u.i32(m.i32.shr_u(m.local.get(H, i32), m.i32.const(8))), m.f32.const(2 ** -24)),
    ],
    binaryen.f32,
  );
  m.addFunction(SCALAR, binaryen.createType([i32, i32, i32]), binaryen.f32, [i32, i32], body);
  return SCALAR;
}

/**
 * Name of an internal `(key: i32, salt: i32, index: i32) -> v128` function
 * whose f32x4 lanes are rand at index, index+1, index+2, index+3; added once.
 */
export function randVectorFunction(module: binaryen.Module): string {
  if (module.getFunction(VECTOR) !== 0) return VECTOR;
  const m = module;
  m.setFeatures(m.getFeatures() | binaryen.Features.SIMD128);
  const { i32, v128 } = binaryen;
  const splat = (c: number) => m.v128.const(Array.from(new Uint8Array(new Int32Array([c, c, c, c]).buffer)));
  const ops: IntOps = {
    get: (l) => m.local.get(l, v128),
    xor: (a, b) => m.v128.xor(a, b),
    mul: (a, c) => m.i32x4.mul(a, splat(c | 0)),
    shrU: (a, n) => m.i32x4.shr_u(a, m.i32.const(n)),
  };
  const K = 3; // i32
  const KV = 4; // splat of k
  const H = 5;
  const lanes = m.v128.const(Array.from(new Uint8Array(new Int32Array([0, 1, 2, 3]).buffer)));
  const index = m.i32x4.add(m.i32x4.splat(m.local.get(2, i32)), lanes);
  const body = m.block(
    null,
    [
      ...keyStatements(m, K),
      m.local.set(KV, m.i32x4.splat(m.local.get(K, i32))),
      m.local.set(H, m.v128.xor(index, m.local.get(KV, v128))),
      ...fmix32(m, ops, H),
      m.local.set(H, m.i32x4.add(m.local.get(H, v128), m.v128.xor(m.local.get(KV, v128), splat(0x6a09e667)))),
      ...fmix32(m, ops, H),
      m.f32x4.mul(
        m.f32x4.convert_i32x4_s(m.i32x4.shr_u(m.local.get(H, v128), m.i32.const(8))),
        m.v128.const(Array.from(new Uint8Array(new Float32Array([2 ** -24, 2 ** -24, 2 ** -24, 2 ** -24]).buffer))),
      ),
    ],
    v128,
  );
  m.addFunction(VECTOR, binaryen.createType([i32, i32, i32]), v128, [i32, v128, v128], body);
  return VECTOR;
}
