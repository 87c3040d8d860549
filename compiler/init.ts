// Seeded, reproducible parameter initialisers (LANGUAGE.md: `param w: f32[..] = init`).
//
// Random stream. Each parameter gets its own stream derived from (seed, paramName), so adding,
// removing or reordering params never changes the values of the others:
//   1. name hash  h = FNV-1a 64 over the UTF-8 bytes of paramName;
//   2. key        z = mix64(seed as u64 two's complement) XOR h, where mix64 is the splitmix64
//                 finaliser (so seeds 0, 1, 2, ... give unrelated keys);
//   3. state      four u32 words = the next two outputs of a splitmix64 generator started at z;
//   4. generator  xoshiro128** (Blackman & Vigna), 32-bit, in Math.imul arithmetic.
// Uniform doubles take 53 bits from two consecutive u32 outputs: u in [0, 1).
// Normals use the Marsaglia polar form of Box–Muller; both values of each accepted pair are
// used, in element order. Its logarithm is computed here from +, -, *, / only (IEEE-exact
// operations), not Math.log, so the bits are the same in every JS engine (Node, browsers).
// Values are generated in float64 in row-major element order, then rounded to f32.
//
// Fans, for Kiln's layouts (dense weights are [in, out] because layers compute x @ w):
//   rank 0: fan_in = fan_out = 1
//   rank 1: fan_in = fan_out = shape[0]
//   rank 2: fan_in = shape[0], fan_out = shape[1]
//   rank >= 3: PyTorch's rule for conv weights [O, I, k...] (OIHW for conv2d):
//              receptive = prod(shape[2:]), fan_in = I * receptive, fan_out = O * receptive
// glorot_uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out));  glorot_normal: N(0, 2 / (fan_in + fan_out))
// he_uniform:     U(-a, a), a = sqrt(6 / fan_in);              he_normal:     N(0, 2 / fan_in)
// normal(std):    N(0, std^2);  uniform(lo, hi): U(lo, hi).
// Integer and bool params only take zeros, ones and constant(v).

export type InitSpec =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; lo: number; hi: number }
  | { kind: 'glorot_uniform' }
  | { kind: 'glorot_normal' }
  | { kind: 'he_uniform' }
  | { kind: 'he_normal' };

export type InitDType = 'f32' | 'i32' | 'bool';

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 finaliser (Steele, Lea & Flood). */
function mix64(x: bigint): bigint {
  let z = x & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & MASK64;
  }
  return h;
}

/** xoshiro128** with its state derived from (seed, name) as described at the top of the file. */
export class ParamRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, name: string) {
    if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    let z = mix64(BigInt.asUintN(64, BigInt(seed))) ^ fnv1a64(name);
    const next = (): bigint => {
      z = (z + 0x9e3779b97f4a7c15n) & MASK64;
      return mix64(z);
    };
    const a = next();
    const b = next();
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
    // xoshiro must not start from all zeros; splitmix outputs make that astronomically unlikely.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator with the given raw state (for checking against the reference test vectors). */
  static fromState(s0: number, s1: number, s2: number, s3: number): ParamRng {
    const rng = new ParamRng(0, '');
    rng.s0 = s0 | 0;
    rng.s1 = s1 | 0;
    rng.s2 = s2 | 0;
    rng.s3 = s3 | 0;
    return rng;
  }

  /** Next 32-bit output, as an unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextUniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Natural log for x in (0, 1], from IEEE-exact operations only: x = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)), then ln m = 2 atanh((m - 1) / (m + 1)) by its series (|t| < 0.172,
 * so 14 terms reach double precision).
 */
export function ln01(x: number): number {
  let m = x;
  let e = 0;
  while (m < Math.SQRT1_2) {
    m *= 2;
    e -= 1;
  }
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  let term = t;
  let sum = 0;
  for (let k = 1; k <= 27; k += 2) {
    sum += term / k;
    term *= t2;
  }
  return 2 * sum + e * Math.LN2;
}

/** Standard normal samples via the Marsaglia polar method; both values of each pair are used. */
function fillNormal(out: Float32Array, rng: ParamRng, std: number): void {
  let i = 0;
  while (i < out.length) {
    const v1 = 2 * rng.nextUniform() - 1;
    const v2 = 2 * rng.nextUniform() - 1;
    const s = v1 * v1 + v2 * v2;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * ln01(s)) / s);
    out[i++] = v1 * f * std;
    if (i < out.length) out[i++] = v2 * f * std;
  }
}

function fillUniform(out: Float32Array, rng: ParamRng, lo: number, hi: number): void {
  const width = hi - lo;
  for (let i = 0; i < out.length; i++) out[i] = lo + width * rng.nextUniform();
}

/** fan_in and fan_out of a weight of this shape, in Kiln's layouts (see the top of the file). */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  const [d0, d1] = shape;
  if (d0 === undefined) return { fanIn: 1, fanOut: 1 };
  if (d1 === undefined) return { fanIn: d0, fanOut: d0 };
  if (shape.length === 2) return { fanIn: d0, fanOut: d1 };
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: d1 * receptive, fanOut: d0 * receptive };
}

function describe(spec: InitSpec): string {
  switch (spec.kind) {
    case 'constant':
      return `constant(${spec.value})`;
    case 'normal':
      return `normal(std = ${spec.std})`;
    case 'uniform':
      return `uniform(${spec.lo}, ${spec.hi})`;
    default:
      return spec.kind;
  }
}

/**
 * Initial value of a parameter, in row-major order: Float32Array for f32, Int32Array for i32,
 * Uint8Array (0/1) for bool. Throws a plain Error for an initialiser that does not fit the dtype
 * or has bad arguments; the checker turns it into a located diagnostic.
 */
export function initParam(
  spec: InitSpec,
  shape: readonly number[],
  dtype: InitDType,
  seed: number,
  paramName: string,
): Float32Array | Int32Array | Uint8Array {
  let numel = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}] for '${paramName}'`);
    numel *= d;
  }
  if (!Number.isSafeInteger(numel)) throw new Error(`shape [${shape.join(', ')}] of '${paramName}' is too large`);

  if (dtype !== 'f32') {
    let value: number;
    if (spec.kind === 'zeros') value = 0;
    else if (spec.kind === 'ones') value = 1;
    else if (spec.kind === 'constant') value = spec.value;
    else {
      throw new Error(
        `initialiser ${describe(spec)} needs an f32 param, but '${paramName}' is ${dtype}; ${dtype} params take zeros, ones or constant(v)`,
      );
    }
    if (dtype === 'i32') {
      if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
        throw new Error(`constant(${value}) for i32 param '${paramName}' must be an integer in the i32 range`);
      }
      return new Int32Array(numel).fill(value);
    }
    if (value !== 0 && value !== 1) {
      throw new Error(`constant(${value}) for bool param '${paramName}' must be 0 or 1`);
    }
    return new Uint8Array(numel).fill(value);
  }

  const out = new Float32Array(numel);
  const { fanIn, fanOut } = fans(shape);
  switch (spec.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'constant':
      if (!Number.isFinite(spec.value)) throw new Error(`constant(${spec.value}) for '${paramName}' must be finite`);
      return out.fill(spec.value);
    case 'normal':
      if (!Number.isFinite(spec.std) || spec.std < 0) {
        throw new Error(`normal(std = ${spec.std}) for '${paramName}': std must be a finite number >= 0`);
      }
      fillNormal(out, new ParamRng(seed, paramName), spec.std);
      return out;
    case 'uniform':
      if (!Number.isFinite(spec.lo) || !Number.isFinite(spec.hi) || spec.lo > spec.hi) {
        throw new Error(`uniform(${spec.lo}, ${spec.hi}) for '${paramName}': needs finite lo <= hi`);
      }
      fillUniform(out, new ParamRng(seed, paramName), spec.lo, spec.hi);
      return out;
    case 'glorot_uniform': {
      const a = Math.sqrt(6 / (fanIn + fanOut));
      fillUniform(out, new ParamRng(seed, paramName), -a, a);
      return out;
    }
    case 'glorot_normal':
      fillNormal(out, new ParamRng(seed, paramName), Math.sqrt(2 / (fanIn + fanOut)));
      return out;
    case 'he_uniform': {
      const a = Math.sqrt(6 / fanIn);
      fillUniform(out, new ParamRng(seed, paramName), -a, a);
      return out;
    }
    case 'he_normal':
      fillNormal(out, new ParamRng(seed, paramName), Math.sqrt(2 / fanIn));
      return out;
  }
}
