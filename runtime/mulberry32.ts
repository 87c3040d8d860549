// mulberry32: the small seeded generator of floats in [0, 1) that Kiln's
// repeatable draws share (attribution's noise and baselines, the fuzzer, the
// playground's shuffles, the tests' data). Browser-safe.

/** Deterministic pseudo-random floats in [0, 1) from `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
