import { describe, expect, it } from 'vitest';
import { fans, initParam, ln01, ParamRng, type InitSpec } from '../../compiler/init.js';

function stats(a: Float32Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of a) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / a.length;
  let sq = 0;
  for (const v of a) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / a.length), min, max };
}

const bits = (a: ArrayLike<number> & { buffer: ArrayBufferLike }): number[] => [...new Uint8Array(a.buffer)];

const f32 = (spec: InitSpec, shape: number[], seed = 0, name = 'w'): Float32Array => {
  const out = initParam(spec, shape, 'f32', seed, name);
  expect(out).toBeInstanceOf(Float32Array);
  return out as Float32Array;
};

const randomSpecs: InitSpec[] = [
  { kind: 'normal', std: 0.5 },
  { kind: 'uniform', lo: -1, hi: 3 },
  { kind: 'glorot_uniform' },
  { kind: 'glorot_normal' },
  { kind: 'he_uniform' },
  { kind: 'he_normal' },
];

describe('determinism', () => {
  for (const spec of randomSpecs) {
    it(`${spec.kind}: same (seed, name) gives the same bits; other seed or name differ`, () => {
      const a = f32(spec, [16, 8], 7, 'w1');
      expect(bits(f32(spec, [16, 8], 7, 'w1'))).toEqual(bits(a));
      expect(bits(f32(spec, [16, 8], 8, 'w1'))).not.toEqual(bits(a));
      expect(bits(f32(spec, [16, 8], 7, 'w2'))).not.toEqual(bits(a));
    });
  }

  it('a longer param starts with the same stream (the stream depends only on seed and name)', () => {
    const short = f32({ kind: 'normal', std: 1 }, [10], 3, 'b');
    const long = f32({ kind: 'normal', std: 1 }, [20], 3, 'b');
    expect(bits(long.subarray(0, 10).slice())).toEqual(bits(short));
  });

  it('xoshiro128** matches the reference implementation from state [1, 2, 3, 4]', () => {
    const rng = ParamRng.fromState(1, 2, 3, 4);
    const out = Array.from({ length: 6 }, () => rng.nextU32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('the engine-independent log agrees with Math.log', () => {
    for (const x of [1, 0.999999, 0.75, Math.SQRT1_2, 0.5, 0.3, 1e-3, 1e-10, 2 ** -104, 5e-324]) {
      expect(Math.abs(ln01(x) - Math.log(x))).toBeLessThanOrEqual(4e-16 * Math.max(1, Math.abs(Math.log(x))));
    }
  });

  it('pins the generator output, so the stream never changes by accident', () => {
    const rng = new ParamRng(0, 'w1');
    const first = [rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32()];
    // Regenerating these values is a breaking change to every saved initialisation.
    expect(first).toMatchInlineSnapshot(`
      [
        839888187,
        966813337,
        1179067539,
        1416433584,
      ]
    `);
    const sample = [...f32({ kind: 'normal', std: 1 }, [4], 0, 'w1')];
    expect(sample).toMatchInlineSnapshot(`
      [
        -0.8465975522994995,
        -0.6269972324371338,
        0.683772623538971,
        0.6066898703575134,
      ]
    `);
  });

  it('handles unicode names, large and negative seeds', () => {
    const a = f32({ kind: 'uniform', lo: 0, hi: 1 }, [8], 2 ** 53 - 1, 'poids_é');
    expect(bits(f32({ kind: 'uniform', lo: 0, hi: 1 }, [8], 2 ** 53 - 1, 'poids_é'))).toEqual(bits(a));
    expect(bits(f32({ kind: 'uniform', lo: 0, hi: 1 }, [8], -1, 'poids_é'))).not.toEqual(bits(a));
    expect(() => initParam({ kind: 'normal', std: 1 }, [2], 'f32', 0.5, 'w')).toThrow('seed must be an integer');
  });

  it('nearby seeds and names give uncorrelated streams', () => {
    const a = f32({ kind: 'normal', std: 1 }, [20000], 0, 'w');
    for (const b of [
      f32({ kind: 'normal', std: 1 }, [20000], 1, 'w'),
      f32({ kind: 'normal', std: 1 }, [20000], 0, 'x'),
    ]) {
      let dot = 0;
      for (let i = 0; i < a.length; i++) dot += (a[i] ?? 0) * (b[i] ?? 0);
      expect(Math.abs(dot / a.length)).toBeLessThan(0.03);
    }
  });
});

describe('fans', () => {
  it('follows Kiln layouts', () => {
    expect(fans([])).toEqual({ fanIn: 1, fanOut: 1 });
    expect(fans([7])).toEqual({ fanIn: 7, fanOut: 7 });
    expect(fans([784, 256])).toEqual({ fanIn: 784, fanOut: 256 }); // dense [in, out]
    expect(fans([8, 4, 3, 3])).toEqual({ fanIn: 36, fanOut: 72 }); // conv OIHW
    expect(fans([5, 2, 3])).toEqual({ fanIn: 6, fanOut: 15 }); // conv1d OIW
  });
});

describe('statistics on 100k samples', () => {
  const n = 100_000;
  const cases: { spec: InitSpec; shape: number[]; mean: number; std: number; bound?: number; lo?: number }[] = [
    { spec: { kind: 'normal', std: 1 }, shape: [n], mean: 0, std: 1 },
    { spec: { kind: 'normal', std: 0.02 }, shape: [n], mean: 0, std: 0.02 },
    { spec: { kind: 'uniform', lo: -1, hi: 3 }, shape: [n], mean: 1, std: 4 / Math.sqrt(12), lo: -1, bound: 3 },
    // dense [400, 250]: fan_in 400, fan_out 250
    {
      spec: { kind: 'glorot_uniform' },
      shape: [400, 250],
      mean: 0,
      std: Math.sqrt(6 / 650) / Math.sqrt(3),
      bound: Math.sqrt(6 / 650),
    },
    { spec: { kind: 'glorot_normal' }, shape: [400, 250], mean: 0, std: Math.sqrt(2 / 650) },
    {
      spec: { kind: 'he_uniform' },
      shape: [400, 250],
      mean: 0,
      std: Math.sqrt(6 / 400) / Math.sqrt(3),
      bound: Math.sqrt(6 / 400),
    },
    { spec: { kind: 'he_normal' }, shape: [400, 250], mean: 0, std: Math.sqrt(2 / 400) },
    // conv OIHW [100, 10, 10, 10]: fan_in 1000, fan_out 10000
    { spec: { kind: 'he_normal' }, shape: [100, 10, 10, 10], mean: 0, std: Math.sqrt(2 / 1000) },
    {
      spec: { kind: 'glorot_uniform' },
      shape: [100, 10, 10, 10],
      mean: 0,
      std: Math.sqrt(6 / 11000) / Math.sqrt(3),
      bound: Math.sqrt(6 / 11000),
    },
  ];
  for (const c of cases) {
    it(`${c.spec.kind} ${JSON.stringify(c.shape)}`, () => {
      const a = f32(c.spec, c.shape, 1, 'p');
      expect(a.length).toBe(n);
      const s = stats(a);
      // Standard error of the mean is std / sqrt(n) ~ 0.003 std; allow ~4 sigma.
      expect(Math.abs(s.mean - c.mean)).toBeLessThan(0.0127 * c.std);
      expect(Math.abs(s.std / c.std - 1)).toBeLessThan(0.01);
      if (c.bound !== undefined) {
        const lo = c.lo ?? -c.bound;
        expect(s.min).toBeGreaterThanOrEqual(Math.fround(lo));
        expect(s.max).toBeLessThanOrEqual(Math.fround(c.bound));
        // The whole range is used.
        expect(s.min).toBeLessThan(lo + 0.001 * (c.bound - lo));
        expect(s.max).toBeGreaterThan(c.bound - 0.001 * (c.bound - lo));
      } else {
        // Normal tails: about 0.27% beyond 3 sigma.
        const beyond = a.filter((v) => Math.abs(v - c.mean) > 3 * c.std).length / n;
        expect(beyond).toBeGreaterThan(0.002);
        expect(beyond).toBeLessThan(0.0035);
      }
    });
  }
});

describe('deterministic initialisers and dtypes', () => {
  it('zeros, ones and constant for every dtype', () => {
    expect([...initParam({ kind: 'zeros' }, [2, 2], 'f32', 0, 'a')]).toEqual([0, 0, 0, 0]);
    expect([...initParam({ kind: 'ones' }, [3], 'f32', 0, 'a')]).toEqual([1, 1, 1]);
    expect([...initParam({ kind: 'constant', value: 0.5 }, [2], 'f32', 0, 'a')]).toEqual([0.5, 0.5]);
    expect(initParam({ kind: 'ones' }, [2], 'i32', 0, 'a')).toEqual(Int32Array.from([1, 1]));
    expect(initParam({ kind: 'constant', value: -3 }, [2], 'i32', 0, 'a')).toEqual(Int32Array.from([-3, -3]));
    expect(initParam({ kind: 'zeros' }, [2], 'bool', 0, 'a')).toEqual(Uint8Array.from([0, 0]));
    expect(initParam({ kind: 'ones' }, [2], 'bool', 0, 'a')).toEqual(Uint8Array.from([1, 1]));
  });

  it('scalars and empty params', () => {
    expect(initParam({ kind: 'he_normal' }, [], 'f32', 0, 's').length).toBe(1);
    expect(initParam({ kind: 'glorot_uniform' }, [0, 5], 'f32', 0, 'e').length).toBe(0);
    expect(initParam({ kind: 'normal', std: 1 }, [0], 'f32', 0, 'e').length).toBe(0);
    expect(initParam({ kind: 'normal', std: 1 }, [1], 'f32', 0, 'odd').length).toBe(1);
  });

  it('rejects random initialisers for integer and bool params', () => {
    expect(() => initParam({ kind: 'he_normal' }, [2], 'i32', 0, 'idx')).toThrow(
      "initialiser he_normal needs an f32 param, but 'idx' is i32",
    );
    expect(() => initParam({ kind: 'uniform', lo: 0, hi: 1 }, [2], 'bool', 0, 'm')).toThrow('uniform(0, 1)');
    expect(() => initParam({ kind: 'constant', value: 1.5 }, [2], 'i32', 0, 'k')).toThrow('must be an integer');
    expect(() => initParam({ kind: 'constant', value: 2 }, [2], 'bool', 0, 'k')).toThrow('must be 0 or 1');
  });

  it('rejects bad arguments and shapes', () => {
    expect(() => initParam({ kind: 'normal', std: -1 }, [2], 'f32', 0, 'w')).toThrow('std must be');
    expect(() => initParam({ kind: 'uniform', lo: 2, hi: 1 }, [2], 'f32', 0, 'w')).toThrow('lo <= hi');
    expect(() => initParam({ kind: 'zeros' }, [-1], 'f32', 0, 'w')).toThrow('invalid shape');
  });
});
