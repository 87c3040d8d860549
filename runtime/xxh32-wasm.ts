// xxHash32's stripe loop in WebAssembly SIMD. The hash's four accumulators
// are the four i32 lanes of one v128, so a 16-byte stripe is one load and a
// handful of lane-wise ops; the loop is bound by the latency of
// add -> rotate -> multiply (9 GB/s here on data in its memory, 7 through
// the input window), and it is that fast from its first call, where the JS
// loop runs at 0.1-2.5 GB/s until the JIT's top tier has compiled it.
// Browser-safe: no `node:` imports. The bytes below are XXH32_WAT assembled
// by binaryen (tests/runtime/checksum.test.ts checks that they still are).

/**
 * The kernel's source: lanes at [0, 16), input stripes at [16, end). Four stripes a turn and the primes in
 * locals: the baseline compiler's code (what runs until the optimizing tier is ready) is then 1.8x faster.
 */
export const XXH32_WAT = `(module
 (memory (export "memory") 1)
 (func (export "stripes") (param $end i32)
  (local $p i32)
  (local $v v128)
  (local $t v128)
  (local $p1 v128)
  (local $p2 v128)
  (local.set $p1 (v128.const i32x4 0x9e3779b1 0x9e3779b1 0x9e3779b1 0x9e3779b1))
  (local.set $p2 (v128.const i32x4 0x85ebca77 0x85ebca77 0x85ebca77 0x85ebca77))
  (local.set $p (i32.const 16))
  (local.set $v (v128.load (i32.const 0)))
  (block $fours
   (loop $four
    (br_if $fours (i32.gt_u (i32.add (local.get $p) (i32.const 64)) (local.get $end)))
    (local.set $t (i32x4.add (local.get $v) (i32x4.mul (v128.load offset=0 (local.get $p)) (local.get $p2))))
    (local.set $v (i32x4.mul (v128.or (i32x4.shl (local.get $t) (i32.const 13)) (i32x4.shr_u (local.get $t) (i32.const 19))) (local.get $p1)))
    (local.set $t (i32x4.add (local.get $v) (i32x4.mul (v128.load offset=16 (local.get $p)) (local.get $p2))))
    (local.set $v (i32x4.mul (v128.or (i32x4.shl (local.get $t) (i32.const 13)) (i32x4.shr_u (local.get $t) (i32.const 19))) (local.get $p1)))
    (local.set $t (i32x4.add (local.get $v) (i32x4.mul (v128.load offset=32 (local.get $p)) (local.get $p2))))
    (local.set $v (i32x4.mul (v128.or (i32x4.shl (local.get $t) (i32.const 13)) (i32x4.shr_u (local.get $t) (i32.const 19))) (local.get $p1)))
    (local.set $t (i32x4.add (local.get $v) (i32x4.mul (v128.load offset=48 (local.get $p)) (local.get $p2))))
    (local.set $v (i32x4.mul (v128.or (i32x4.shl (local.get $t) (i32.const 13)) (i32x4.shr_u (local.get $t) (i32.const 19))) (local.get $p1)))
    (local.set $p (i32.add (local.get $p) (i32.const 64)))
    (br $four)))
  (block $done
   (loop $one
    (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
    (local.set $t (i32x4.add (local.get $v) (i32x4.mul (v128.load offset=0 (local.get $p)) (local.get $p2))))
    (local.set $v (i32x4.mul (v128.or (i32x4.shl (local.get $t) (i32.const 13)) (i32x4.shr_u (local.get $t) (i32.const 19))) (local.get $p1)))
    (local.set $p (i32.add (local.get $p) (i32.const 16)))
    (br $one)))
  (v128.store (i32.const 0) (local.get $v))))
`;

/** XXH32_WAT assembled (hex). */
export const XXH32_WASM_HEX =
  '0061736d0100000001050160017f00030201000503010001071402066d656d6f72790200077374726970657300000ac50201c20202017f047bfd0cb179379eb179379eb179379eb179379e2104fd0c77caeb8577caeb8577caeb8577caeb852105411021014100fd000400210202400340200141c0006a20004b0d0120022001fd0004002005fdb501fdae0121032003410dfdab0120034113fdad01fd502004fdb501210220022001fd0004102005fdb501fdae0121032003410dfdab0120034113fdad01fd502004fdb501210220022001fd0004202005fdb501fdae0121032003410dfdab0120034113fdad01fd502004fdb501210220022001fd0004302005fdb501fdae0121032003410dfdab0120034113fdad01fd502004fdb5012102200141c0006a21010c000b000b02400340200120004f0d0120022001fd0004002005fdb501fdae0121032003410dfdab0120034113fdad01fd502004fdb5012102200141106a21010c000b000b41002002fd0b04000b';

/** Where the input goes in the kernel's memory, and how much of it fits (whole stripes, one page). */
export const INPUT_AT = 16;
export const INPUT_BYTES = 32768;

/** The instantiated kernel: its four lanes and input window (views on its memory), and the loop. */
export interface Xxh32Kernel {
  readonly lanes: Int32Array;
  readonly input: Uint8Array;
  /** Runs the stripes in input[0, len) (len a multiple of 16) through the lanes. */
  stripes(len: number): void;
}

/** The synchronous part of the WebAssembly JS API used here (the project is typed without DOM libs). */
interface SyncWasmApi {
  validate(bytes: Uint8Array): boolean;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: Record<string, unknown> };
}

function bytesOfHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The kernel, or undefined where WebAssembly (or its SIMD, or compiling at all under a CSP) is missing. */
export function instantiateXxh32Kernel(): Xxh32Kernel | undefined {
  const api = (globalThis as unknown as { WebAssembly?: SyncWasmApi }).WebAssembly;
  try {
    if (api === undefined) return undefined;
    const bytes = bytesOfHex(XXH32_WASM_HEX);
    if (!api.validate(bytes)) return undefined;
    const { exports } = new api.Instance(new api.Module(bytes));
    const buffer = (exports['memory'] as { buffer?: unknown } | undefined)?.buffer;
    const run = exports['stripes'];
    if (!(buffer instanceof ArrayBuffer) || typeof run !== 'function') return undefined;
    const stripes = run as (end: number) => void;
    // The memory never grows, so these views stay attached.
    return {
      lanes: new Int32Array(buffer, 0, 4),
      input: new Uint8Array(buffer, INPUT_AT, INPUT_BYTES),
      stripes: (len) => stripes(INPUT_AT + len),
    };
  } catch {
    return undefined;
  }
}
