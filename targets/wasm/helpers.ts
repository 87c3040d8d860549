// Small internal functions the kernels call for operations wasm has no
// single instruction for, with the semantics of the kernel interpreter:
// floored i32 division and modulo (x / 0 = 0, no trap on INT_MIN / -1),
// i32 pow with wrapping, floored f32 modulo, floor division of an index by a
// positive divisor, and the counter-based `rand` hash (scalar and f32x4).
// Each is added to the module on first use; binaryen inlines them.

import binaryen from 'binaryen';

export type Helper = 'idiv' | 'imod' | 'ipow' | 'fmod' | 'posdiv' | 'posmod' | 'randKey' | 'rand' | 'rand4';

type Ref = binaryen.ExpressionRef;

const { i32, f32, f64, v128 } = binaryen;

/** Multiplier of the salt in the rand key (compiler/interpret.ts randUniform). */
export const RAND_SALT_MUL = 0x9e3779b9;

export class Helpers {
  private readonly made = new Set<Helper>();

  constructor(private readonly m: binaryen.Module) {}

  /** The internal name of `h`, adding it on first use. */
  name(h: Helper): string {
    const name = `kiln_${h}`;
    if (!this.made.has(h)) {
      this.made.add(h);
      this.add(h, name);
    }
    return name;
  }

  private add(h: Helper, name: string): void {
    const m = this.m;
    const g = (i: number, t: binaryen.Type = i32) => m.local.get(i, t);
    const c = (v: number) => m.i32.const(v | 0);
    const fn = (params: binaryen.Type[], result: binaryen.Type, locals: binaryen.Type[], body: Ref) =>
      m.addFunction(name, binaryen.createType(params), result, locals, body);
    switch (h) {
      case 'idiv':
        // b == 0 -> 0; b == -1 -> -a (wrapping, where div_s would trap); else floor(a / b).
        fn(
          [i32, i32],
          i32,
          [],
          m.if(
            m.i32.eqz(g(1)),
            c(0),
            m.if(
              m.i32.eq(g(1), c(-1)),
              m.i32.sub(c(0), g(0)),
              m.i32.sub(
                m.i32.div_s(g(0), g(1)),
                m.i32.and(m.i32.ne(m.i32.rem_s(g(0), g(1)), c(0)), m.i32.lt_s(m.i32.xor(g(0), g(1)), c(0))),
              ),
            ),
          ),
        );
        return;
      case 'imod': {
        // b == 0 -> 0; r = a rem b, moved into the divisor's sign (rem_s(INT_MIN, -1) is 0, no trap).
        const r = 2;
        fn(
          [i32, i32],
          i32,
          [i32],
          m.if(
            m.i32.eqz(g(1)),
            c(0),
            m.block(
              null,
              [
                m.local.set(r, m.i32.rem_s(g(0), g(1))),
                m.select(
                  m.i32.and(m.i32.ne(g(r), c(0)), m.i32.lt_s(m.i32.xor(g(r), g(1)), c(0))),
                  m.i32.add(g(r), g(1)),
                  g(r),
                ),
              ],
              i32,
            ),
          ),
        );
        return;
      }
      case 'ipow': {
        // Negative exponents: 1 for base 1, +-1 for base -1, else 0; otherwise square-and-multiply.
        const [res, base, e] = [2, 3, 4];
        fn(
          [i32, i32],
          i32,
          [i32, i32, i32],
          m.if(
            m.i32.lt_s(g(1), c(0)),
            m.if(
              m.i32.eq(g(0), c(1)),
              c(1),
              m.if(m.i32.eq(g(0), c(-1)), m.select(m.i32.and(g(1), c(1)), c(-1), c(1)), c(0)),
            ),
            m.block(
              null,
              [
                m.local.set(res, c(1)),
                m.local.set(base, g(0)),
                m.local.set(e, g(1)),
                m.block('done', [
                  m.loop(
                    'sq',
                    m.block(null, [
                      m.br('done', m.i32.eqz(g(e))),
                      m.if(m.i32.and(g(e), c(1)), m.local.set(res, m.i32.mul(g(res), g(base)))),
                      m.local.set(base, m.i32.mul(g(base), g(base))),
                      m.local.set(e, m.i32.shr_u(g(e), c(1))),
                      m.br('sq'),
                    ]),
                  ),
                ]),
                g(res),
              ],
              i32,
            ),
          ),
        );
        return;
      }
      case 'fmod': {
        // Floored remainder (sign of the divisor) in f64: a - b*floor(a/b) is exact while the
        // quotient has < 29 bits, then nudged into range; b = +-inf keeps a (or gives b).
        const [a, b, r] = [2, 3, 4];
        const A = () => g(a, f64);
        const B = () => g(b, f64);
        const R = () => g(r, f64);
        const z = () => m.f64.const(0);
        fn(
          [f32, f32],
          f32,
          [f64, f64, f64],
          m.block(
            null,
            [
              m.local.set(a, m.f64.promote(g(0, f32))),
              m.local.set(b, m.f64.promote(g(1, f32))),
              m.local.set(r, m.f64.sub(A(), m.f64.mul(B(), m.f64.floor(m.f64.div(A(), B()))))),
              // b > 0: r in [0, b); b < 0: r in (b, 0]
              m.if(
                m.f64.gt(B(), z()),
                m.block(null, [
                  m.if(m.f64.lt(R(), z()), m.local.set(r, m.f64.add(R(), B()))),
                  m.if(m.f64.ge(R(), B()), m.local.set(r, m.f64.sub(R(), B()))),
                ]),
                m.block(null, [
                  m.if(m.f64.gt(R(), z()), m.local.set(r, m.f64.add(R(), B()))),
                  m.if(m.f64.le(R(), B()), m.local.set(r, m.f64.sub(R(), B()))),
                ]),
              ),
              m.if(
                m.i32.and(
                  m.f64.eq(m.f64.abs(B()), m.f64.const(Infinity)),
                  m.f64.lt(m.f64.abs(A()), m.f64.const(Infinity)),
                ),
                m.local.set(
                  r,
                  m.select(m.i32.or(m.f64.eq(A(), z()), m.i32.eq(m.f64.lt(A(), z()), m.f64.lt(B(), z()))), A(), B()),
                ),
              ),
              m.f32.demote(R()),
            ],
            f32,
          ),
        );
        return;
      }
      case 'posdiv':
        // floor(a / b) for b > 0: div_s rounds toward zero, one less for a negative remainder.
        fn([i32, i32], i32, [], m.i32.add(m.i32.div_s(g(0), g(1)), m.i32.shr_s(m.i32.rem_s(g(0), g(1)), c(31))));
        return;
      case 'posmod': {
        const r = 2;
        fn(
          [i32, i32],
          i32,
          [i32],
          m.block(
            null,
            [m.local.set(r, m.i32.rem_s(g(0), g(1))), m.i32.add(g(r), m.i32.and(g(1), m.i32.shr_s(g(r), c(31))))],
            i32,
          ),
        );
        return;
      }
      case 'randKey':
        // k = fmix32(key ^ salt * 0x9E3779B9); the caller passes salt * 0x9E3779B9.
        fn([i32, i32], i32, [i32], fmix(m, m.i32.xor(g(0), g(1)), 2));
        return;
      case 'rand': {
        // h = fmix32(index ^ k); h = fmix32(h + (k ^ 0x6A09E667)); (h >>> 8) / 2^24
        const h = 2;
        fn(
          [i32, i32],
          f32,
          [i32, i32],
          m.block(
            null,
            [
              m.local.set(h, fmix(m, m.i32.xor(g(1), g(0)), 3)),
              m.f32.mul(
                m.f32.convert_u.i32(m.i32.shr_u(fmix(m, m.i32.add(g(h), m.i32.xor(g(0), c(0x6a09e667))), 3), c(8))),
                m.f32.const(2 ** -24),
              ),
            ],
            f32,
          ),
        );
        return;
      }
      case 'rand4': {
        const h = 2;
        fn(
          [i32, v128],
          v128,
          [v128, v128],
          m.block(
            null,
            [
              m.local.set(h, fmix4(m, m.v128.xor(g(1, v128), m.i32x4.splat(g(0))), 3)),
              m.f32x4.mul(
                m.f32x4.convert_i32x4_s(
                  m.i32x4.shr_u(
                    fmix4(m, m.i32x4.add(g(h, v128), m.i32x4.splat(m.i32.xor(g(0), c(0x6a09e667)))), 3),
                    c(8),
                  ),
                ),
                m.f32x4.splat(m.f32.const(2 ** -24)),
              ),
            ],
            v128,
          ),
        );
        return;
      }
    }
  }
}

/** murmur3's finaliser on an i32 expression, using local `t` (i32) as scratch. */
function fmix(m: binaryen.Module, x: Ref, t: number): Ref {
  const g = () => m.local.get(t, i32);
  const c = (v: number) => m.i32.const(v | 0);
  return m.block(
    null,
    [
      m.local.set(t, x),
      m.local.set(t, m.i32.xor(g(), m.i32.shr_u(g(), c(16)))),
      m.local.set(t, m.i32.mul(g(), c(0x85ebca6b))),
      m.local.set(t, m.i32.xor(g(), m.i32.shr_u(g(), c(13)))),
      m.local.set(t, m.i32.mul(g(), c(0xc2b2ae35))),
      m.i32.xor(g(), m.i32.shr_u(g(), c(16))),
    ],
    i32,
  );
}

/** fmix on i32x4 lanes, local `t` (v128) as scratch. */
function fmix4(m: binaryen.Module, x: Ref, t: number): Ref {
  const g = () => m.local.get(t, v128);
  const c = (v: number) => m.i32x4.splat(m.i32.const(v | 0));
  const sh = (n: number) => m.i32.const(n);
  return m.block(
    null,
    [
      m.local.set(t, x),
      m.local.set(t, m.v128.xor(g(), m.i32x4.shr_u(g(), sh(16)))),
      m.local.set(t, m.i32x4.mul(g(), c(0x85ebca6b))),
      m.local.set(t, m.v128.xor(g(), m.i32x4.shr_u(g(), sh(13)))),
      m.local.set(t, m.i32x4.mul(g(), c(0xc2b2ae35))),
      m.v128.xor(g(), m.i32x4.shr_u(g(), sh(16))),
    ],
    v128,
  );
}
