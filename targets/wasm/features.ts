// Engine feature probes: whether this WebAssembly engine accepts relaxed
// SIMD (Node 20 needs --experimental-wasm-relaxed-simd), so code is built
// with f32x4.relaxed_madd only where it will load.

/** A module whose one function returns f32x4.relaxed_madd of three v128 constants. */
const RELAXED_MADD_MODULE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b, // type: () -> v128
  0x03,
  0x02,
  0x01,
  0x00, // one function of type 0
  0x0a,
  0x3d,
  0x01,
  0x3b,
  0x00, // code: one body, no locals
  0xfd,
  0x0c,
  ...new Array<number>(16).fill(0), // v128.const
  0xfd,
  0x0c,
  ...new Array<number>(16).fill(0),
  0xfd,
  0x0c,
  ...new Array<number>(16).fill(0),
  0xfd,
  0x85,
  0x02, // f32x4.relaxed_madd
  0x0b, // end
]);

/** The one part of the WebAssembly JS API used here (the compiler's lib has no DOM types). */
interface WasmValidate {
  readonly WebAssembly?: { validate(bytes: Uint8Array): boolean };
}

let relaxed: boolean | undefined;

/** True when the engine validates relaxed SIMD (f32x4.relaxed_madd). */
export function probeRelaxedSimd(): boolean {
  if (relaxed === undefined) {
    try {
      relaxed = (globalThis as WasmValidate).WebAssembly?.validate(RELAXED_MADD_MODULE) ?? false;
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}
