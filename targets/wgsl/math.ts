// The WGSL helper functions kernels call, emitted on demand (with their
// dependencies) so a module holds only what it uses.
//
// Why helpers instead of builtins: WGSL lets compilers assume finite math,
// so NaN is only ever tested on the bits (never `x != x`), and the edge
// cases of compiler/semantics.ts (NaN-propagating max/min, Math.pow's
// special values, floored f32 mod, saturating f32 -> i32, integer division
// by zero, the `rand` hash) are spelled out. Special values come from
// `kiln_f32(bits)`: a function call is never a const-expression, and a
// const-expression that evaluates to NaN or infinity is a shader-creation
// error. WGSL has no erf, log1p or expm1, and its exp/log/sin/cos/tanh may
// be a few ulp off (some drivers' tanh gives NaN for large |x|), so those
// are written out with range reduction and short polynomials (about 1-2 ulp
// of f32 for the arguments models meet; sin/cos reduce exactly only for
// |x| < 8192).

export type Helper =
  | 'f32'
  | 'isnan'
  | 'isinf'
  | 'max'
  | 'min'
  | 'lt'
  | 'le'
  | 'eq'
  | 'ne'
  | 'sqrt'
  | 'floor'
  | 'ceil'
  | 'exp'
  | 'log'
  | 'log1p'
  | 'expm1'
  | 'tanh'
  | 'sincos'
  | 'sin'
  | 'cos'
  | 'erf'
  | 'pow'
  | 'fmod'
  | 'f2i'
  | 'idiv'
  | 'imod'
  | 'ipow'
  | 'floordiv'
  | 'floormod'
  | 'fmix'
  | 'rand';

interface Def {
  readonly deps: readonly Helper[];
  readonly code: string;
}

const NAN = 'kiln_f32(0x7fc00000u)';
const INF = 'kiln_f32(0x7f800000u)';

const LIB: Readonly<Record<Helper, Def>> = {
  f32: {
    deps: [],
    code: `fn kiln_f32(bits: u32) -> f32 {
  return bitcast<f32>(bits);
}`,
  },
  isnan: {
    deps: [],
    code: `fn kiln_isnan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}`,
  },
  isinf: {
    deps: [],
    code: `fn kiln_isinf(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}`,
  },
  // Math.max: NaN if either is; +0 beats -0 (the AND of equal values' bits).
  max: {
    deps: ['isnan', 'f32'],
    code: `fn kiln_max(a: f32, b: f32) -> f32 {
  if (kiln_isnan(a) || kiln_isnan(b)) {
    return ${NAN};
  }
  if (a == b) {
    return bitcast<f32>(bitcast<u32>(a) & bitcast<u32>(b));
  }
  return select(b, a, a > b);
}`,
  },
  min: {
    deps: ['isnan', 'f32'],
    code: `fn kiln_min(a: f32, b: f32) -> f32 {
  if (kiln_isnan(a) || kiln_isnan(b)) {
    return ${NAN};
  }
  if (a == b) {
    return bitcast<f32>(bitcast<u32>(a) | bitcast<u32>(b));
  }
  return select(b, a, a < b);
}`,
  },
  // Comparisons are false on NaN (ne true) whatever the compiler assumes.
  lt: {
    deps: ['isnan'],
    code: `fn kiln_lt(a: f32, b: f32) -> bool {
  return !(kiln_isnan(a) || kiln_isnan(b)) && (a < b);
}`,
  },
  le: {
    deps: ['isnan'],
    code: `fn kiln_le(a: f32, b: f32) -> bool {
  return !(kiln_isnan(a) || kiln_isnan(b)) && (a <= b);
}`,
  },
  eq: {
    deps: ['isnan'],
    code: `fn kiln_eq(a: f32, b: f32) -> bool {
  return !(kiln_isnan(a) || kiln_isnan(b)) && (a == b);
}`,
  },
  ne: {
    deps: ['eq'],
    code: `fn kiln_ne(a: f32, b: f32) -> bool {
  return !kiln_eq(a, b);
}`,
  },
  sqrt: {
    deps: ['isnan', 'f32'],
    code: `fn kiln_sqrt(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  if (kiln_isnan(x) || ((bits & 0x80000000u) != 0u && (bits << 1u) != 0u)) {
    return ${NAN};
  }
  return sqrt(x);
}`,
  },
  // floor and ceil of a subnormal (which GPUs flush to zero first): -1 / +1 by the sign.
  floor: {
    deps: [],
    code: `fn kiln_floor(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  if ((bits & 0x7f800000u) == 0u && (bits << 1u) != 0u) {
    return select(0.0, -1.0, (bits & 0x80000000u) != 0u);
  }
  return floor(x);
}`,
  },
  ceil: {
    deps: [],
    code: `fn kiln_ceil(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  if ((bits & 0x7f800000u) == 0u && (bits << 1u) != 0u) {
    return select(1.0, -0.0, (bits & 0x80000000u) != 0u);
  }
  return ceil(x);
}`,
  },
  // e^x = 2^n e^r, r = x - n ln2 (Cody-Waite, ln2 in two parts), |r| <= ln2/2; degree-7 Taylor.
  exp: {
    deps: ['isnan', 'f32'],
    code: `fn kiln_exp(x: f32) -> f32 {
  if (kiln_isnan(x)) {
    return x;
  }
  if (x > 88.72284) {
    return ${INF};
  }
  if (x < -103.97208) {
    return 0.0;
  }
  let n = round(x * 1.4426950408889634);
  let r = (x - n * 0.693359375) - n * -2.12194440e-4;
  let p = 1.0 + r * (1.0 + r * (0.5 + r * (0.16666667 + r * (0.041666668 + r * (0.008333334 + r * (0.0013888889 + r * 0.0001984127))))));
  let e = i32(n);
  return ldexp(ldexp(p, e / 2), e - e / 2);
}`,
  },
  // x = m 2^e from the bits (subnormals normalised by hand: GPUs flush them;
  // zero and sign tested on the bits for the same reason),
  // m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m - 1) / (m + 1).
  log: {
    deps: ['isnan', 'isinf', 'f32'],
    code: `fn kiln_log(x: f32) -> f32 {
  var bits = bitcast<u32>(x);
  if ((bits << 1u) == 0u) {
    return -${INF};
  }
  if (kiln_isnan(x) || (bits & 0x80000000u) != 0u) {
    return ${NAN};
  }
  if (kiln_isinf(x)) {
    return x;
  }
  var e = i32(bits >> 23u) - 127;
  if ((bits >> 23u) == 0u) {
    let top = 31 - i32(countLeadingZeros(bits));
    bits = bits << u32(23 - top);
    e = top - 149;
  }
  var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
  if (m > 1.4142135) {
    m = m * 0.5;
    e = e + 1;
  }
  let s = (m - 1.0) / (m + 1.0);
  let z = s * s;
  let lm = 2.0 * s * (1.0 + z * (0.33333334 + z * (0.2 + z * (0.14285715 + z * (0.11111111 + z * 0.09090909)))));
  let fe = f32(e);
  return fe * 0.693145751953125 + (lm + fe * 1.428606765330187e-6);
}`,
  },
  log1p: {
    deps: ['isnan', 'log'],
    code: `fn kiln_log1p(x: f32) -> f32 {
  if (kiln_isnan(x)) {
    return x;
  }
  if (abs(x) < 0.5) {
    let s = x / (2.0 + x);
    let z = s * s;
    return 2.0 * s * (1.0 + z * (0.33333334 + z * (0.2 + z * (0.14285715 + z * (0.11111111 + z * (0.09090909 + z * (0.07692308 + z * 0.06666667)))))));
  }
  return kiln_log(1.0 + x);
}`,
  },
  expm1: {
    deps: ['isnan', 'exp'],
    code: `fn kiln_expm1(x: f32) -> f32 {
  if (kiln_isnan(x)) {
    return x;
  }
  if (abs(x) < 0.5) {
    return x * (1.0 + x * (0.5 + x * (0.16666667 + x * (0.041666668 + x * (0.008333334 + x * (0.0013888889 + x * (0.0001984127 + x * (0.0000248016 + x * 0.0000027557319))))))));
  }
  return kiln_exp(x) - 1.0;
}`,
  },
  // tanh |x| = e / (e + 2), e = expm1(2|x|); exactly 1 past 9 (no inf / inf); the sign copied from x.
  tanh: {
    deps: ['isnan', 'expm1'],
    code: `fn kiln_tanh(x: f32) -> f32 {
  if (kiln_isnan(x)) {
    return x;
  }
  let a = abs(x);
  var r = 1.0;
  if (a < 9.0) {
    let e = kiln_expm1(2.0 * a);
    r = e / (e + 2.0);
  }
  return bitcast<f32>(bitcast<u32>(r) | (bitcast<u32>(x) & 0x80000000u));
}`,
  },
  // Cephes sinf/cosf: octant j of |x|, z = |x| - j pi/4 (pi/4 in three parts); .x = sin-type poly, .y = cos-type poly, .z = j.
  sincos: {
    deps: [],
    code: `fn kiln_sincos(a: f32) -> vec3<f32> {
  var j = i32(min(a * 1.27323954473516, 1073741824.0));
  var y = f32(j);
  if ((j & 1) == 1) {
    j = j + 1;
    y = y + 1.0;
  }
  let z = ((a - y * 0.78515625) - y * 2.4187564849853515625e-4) - y * 3.77489497744594108e-8;
  let zz = z * z;
  let s = ((-1.9515295891e-4 * zz + 8.3321608736e-3) * zz - 1.6666654611e-1) * zz * z + z;
  let c = ((2.443315711809948e-5 * zz - 1.388731625493765e-3) * zz + 4.166664568298827e-2) * zz * zz - 0.5 * zz + 1.0;
  return vec3<f32>(s, c, f32(j & 7));
}`,
  },
  sin: {
    deps: ['sincos', 'isnan', 'isinf', 'f32'],
    code: `fn kiln_sin(x: f32) -> f32 {
  if (kiln_isnan(x) || kiln_isinf(x)) {
    return ${NAN};
  }
  let q = kiln_sincos(abs(x));
  var j = i32(q.z);
  var neg = x < 0.0;
  if (j > 3) {
    j = j - 4;
    neg = !neg;
  }
  let r = select(q.x, q.y, j == 2);
  return select(r, -r, neg);
}`,
  },
  cos: {
    deps: ['sincos', 'isnan', 'isinf', 'f32'],
    code: `fn kiln_cos(x: f32) -> f32 {
  if (kiln_isnan(x) || kiln_isinf(x)) {
    return ${NAN};
  }
  let q = kiln_sincos(abs(x));
  var j = i32(q.z);
  var neg = false;
  if (j > 3) {
    j = j - 4;
    neg = true;
  }
  if (j > 1) {
    neg = !neg;
  }
  let r = select(q.y, q.x, j == 2);
  return select(r, -r, neg);
}`,
  },
  // |x| < 1: the Taylor series (alternating, 10 terms); below 4: 1 - erfc with
  // Numerical Recipes' erfcc (relative error < 1.2e-7); beyond: +-1.
  erf: {
    deps: ['isnan', 'exp'],
    code: `fn kiln_erf(x: f32) -> f32 {
  if (kiln_isnan(x)) {
    return x;
  }
  let a = abs(x);
  var r = 1.0;
  if (a < 1.0) {
    let z = a * a;
    r = a * 1.1283791670955126 * (1.0 + z * (-0.33333334 + z * (0.1 + z * (-0.023809524 + z * (0.0046296297 + z * (-0.0007575758 + z * (0.00010683761 + z * (-0.000013227513 + z * (0.0000014589169 - z * 0.00000014503852)))))))));
  } else if (a < 4.0) {
    let t = 1.0 / (1.0 + 0.5 * a);
    let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    r = 1.0 - t * kiln_exp(p - a * a);
  }
  return bitcast<f32>(bitcast<u32>(r) | (bitcast<u32>(x) & 0x80000000u));
}`,
  },
  // Math.pow, special values included (pow(x, +-0) = 1 even for NaN x; pow(+-1, +-inf) = NaN).
  pow: {
    deps: ['isnan', 'isinf', 'f32', 'exp', 'log'],
    code: `fn kiln_pow(x: f32, y: f32) -> f32 {
  if ((bitcast<u32>(y) << 1u) == 0u) {
    return 1.0;
  }
  if (kiln_isnan(x) || kiln_isnan(y)) {
    return ${NAN};
  }
  let ax = abs(x);
  if (kiln_isinf(y)) {
    if (ax == 1.0) {
      return ${NAN};
    }
    return select(0.0, ${INF}, (ax > 1.0) == (y > 0.0));
  }
  let whole = floor(y) == y;
  let odd = whole && abs(y) < 16777216.0 && (i32(abs(y)) & 1) == 1;
  let neg = (bitcast<u32>(x) & 0x80000000u) != 0u;
  var r: f32;
  if (ax == 0.0 || kiln_isinf(x)) {
    r = select(${INF}, 0.0, (ax == 0.0) == (y > 0.0));
  } else {
    if (neg && !whole) {
      return ${NAN};
    }
    r = kiln_exp(y * kiln_log(ax));
  }
  return select(r, -r, neg && odd);
}`,
  },
  // Floored f32 modulo: musl's exact fmodf on the bits, then + y where the
  // signs differ (as compiler/semantics.ts fmod).
  fmod: {
    deps: ['isnan', 'f32'],
    code: `fn kiln_fmod(x: f32, y: f32) -> f32 {
  var ux = bitcast<u32>(x);
  var uy = bitcast<u32>(y);
  var ex = i32((ux >> 23u) & 0xffu);
  var ey = i32((uy >> 23u) & 0xffu);
  let sx = ux & 0x80000000u;
  if ((uy << 1u) == 0u || kiln_isnan(y) || ex == 255) {
    return ${NAN};
  }
  var r = x;
  if ((ux << 1u) == (uy << 1u)) {
    r = bitcast<f32>(sx);
  } else if ((ux << 1u) > (uy << 1u)) {
    if (ex == 0) {
      var i = ux << 9u;
      while ((i >> 31u) == 0u) {
        ex = ex - 1;
        i = i << 1u;
      }
      ux = ux << u32(1 - ex);
    } else {
      ux = (ux & 0x007fffffu) | 0x00800000u;
    }
    if (ey == 0) {
      var i = uy << 9u;
      while ((i >> 31u) == 0u) {
        ey = ey - 1;
        i = i << 1u;
      }
      uy = uy << u32(1 - ey);
    } else {
      uy = (uy & 0x007fffffu) | 0x00800000u;
    }
    var zero = false;
    loop {
      let i = ux - uy;
      if ((i >> 31u) == 0u) {
        if (i == 0u) {
          zero = true;
          break;
        }
        ux = i;
      }
      if (ex <= ey) {
        break;
      }
      ux = ux << 1u;
      ex = ex - 1;
    }
    if (zero) {
      r = bitcast<f32>(sx);
    } else {
      while ((ux >> 23u) == 0u) {
        ux = ux << 1u;
        ex = ex - 1;
      }
      if (ex > 0) {
        ux = (ux - 0x00800000u) | (u32(ex) << 23u);
      } else {
        ux = ux >> u32(1 - ex);
      }
      r = bitcast<f32>(ux | sx);
    }
  }
  if ((bitcast<u32>(r) << 1u) != 0u && ((bitcast<u32>(r) ^ bitcast<u32>(y)) & 0x80000000u) != 0u) {
    r = r + y;
  }
  return r;
}`,
  },
  // Truncation toward zero, saturating; NaN -> 0.
  f2i: {
    deps: ['isnan'],
    code: `fn kiln_f2i(x: f32) -> i32 {
  if (kiln_isnan(x)) {
    return 0;
  }
  if (x >= 2147483648.0) {
    return 2147483647;
  }
  if (x <= -2147483648.0) {
    return i32(-2147483648);
  }
  return i32(x);
}`,
  },
  // i32 floor division; x / 0 = 0 and wrapping (WGSL's / truncates).
  idiv: {
    deps: [],
    code: `fn kiln_idiv(a: i32, b: i32) -> i32 {
  if (b == 0) {
    return 0;
  }
  if (b == -1) {
    return -a;
  }
  let q = a / b;
  if (q * b != a && ((a < 0) != (b < 0))) {
    return q - 1;
  }
  return q;
}`,
  },
  imod: {
    deps: [],
    code: `fn kiln_imod(a: i32, b: i32) -> i32 {
  if (b == 0 || b == -1) {
    return 0;
  }
  let r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) {
    return r + b;
  }
  return r;
}`,
  },
  ipow: {
    deps: [],
    code: `fn kiln_ipow(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) {
      return 1;
    }
    if (a == -1) {
      return select(-1, 1, (b & 1) == 0);
    }
    return 0;
  }
  var r = 1;
  var base = a;
  var e = b;
  while (e > 0) {
    if ((e & 1) == 1) {
      r = r * base;
    }
    base = base * base;
    e = e >> 1u;
  }
  return r;
}`,
  },
  // Index division and modulo by a positive divisor, floored (for operands that may be negative).
  floordiv: {
    deps: [],
    code: `fn kiln_floordiv(a: i32, b: i32) -> i32 {
  let q = a / b;
  return select(q, q - 1, q * b != a && a < 0);
}`,
  },
  floormod: {
    deps: [],
    code: `fn kiln_floormod(a: i32, b: i32) -> i32 {
  let r = a % b;
  return select(r, r + b, r < 0);
}`,
  },
  fmix: {
    deps: [],
    code: `fn kiln_fmix(x: u32) -> u32 {
  var h = x;
  h = h ^ (h >> 16u);
  h = h * 0x85ebca6bu;
  h = h ^ (h >> 13u);
  h = h * 0xc2b2ae35u;
  h = h ^ (h >> 16u);
  return h;
}`,
  },
  // compiler/semantics.ts randUniform, bit for bit; \`salt\` is u32(salt) * 0x9E3779B9, folded by the code generator.
  rand: {
    deps: ['fmix'],
    code: `fn kiln_rand(key: u32, salt: u32, index: u32) -> f32 {
  let k = kiln_fmix(key ^ salt);
  var h = kiln_fmix(index ^ k);
  h = kiln_fmix(h + (k ^ 0x6a09e667u));
  return f32(h >> 8u) * 5.9604644775390625e-8;
}`,
  },
};

/** The helpers' WGSL, dependencies first, each once (a stable order: the library's). */
export function helperSource(used: ReadonlySet<Helper>): string {
  const need = new Set<Helper>();
  const visit = (h: Helper): void => {
    if (need.has(h)) return;
    need.add(h);
    LIB[h].deps.forEach(visit);
  };
  used.forEach(visit);
  return (Object.keys(LIB) as Helper[])
    .filter((h) => need.has(h))
    .map((h) => LIB[h].code)
    .join('\n\n');
}
