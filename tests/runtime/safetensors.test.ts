import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  sealChecksum,
  type StDType,
  type StTensor,
} from '../../runtime/safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../runtime/safetensors-node.js';

const enc = new TextEncoder();

/** Builds a file by hand: header JSON (padded to `pad` with spaces if given) then raw data bytes. */
function build(header: unknown, data: Uint8Array | number[] = [], opts: { rawHeader?: Uint8Array; len?: bigint } = {}) {
  const json = opts.rawHeader ?? enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.len ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectError(bytes: Uint8Array, ...fragments: (string | RegExp)[]): SafetensorsError {
  let caught: unknown;
  try {
    decodeSafetensors(bytes, 'params.safetensors');
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const err = caught as SafetensorsError;
  expect(err.message.startsWith('params.safetensors: ')).toBe(true);
  for (const f of fragments) {
    if (typeof f === 'string') expect(err.message).toContain(f);
    else expect(err.message).toMatch(f);
  }
  return err;
}

function t(dtype: StDType, shape: number[], values: number[]): StTensor {
  const data =
    dtype === 'F32'
      ? Float32Array.from(values)
      : dtype === 'F64'
        ? Float64Array.from(values)
        : dtype === 'I32'
          ? Int32Array.from(values)
          : Uint8Array.from(values);
  return { dtype, shape, data };
}

const f32x6 = (): StTensor => t('F32', [2, 3], [1, 2, 3, 4, 5, 6]);

describe('round trips', () => {
  const cases: [string, StTensor][] = [
    ['f32', t('F32', [2, 3], [1.5, -2, 3e-8, Infinity, -0, 6])],
    ['f64', t('F64', [3], [Math.PI, -1e300, 5e-324])],
    ['i32', t('I32', [2, 2], [-2147483648, 2147483647, 0, -1])],
    ['bool', t('BOOL', [4], [0, 1, 1, 0])],
    ['u8', t('U8', [1, 3], [0, 128, 255])],
    ['f32 scalar', t('F32', [], [42.25])],
    ['f64 scalar', t('F64', [], [-7])],
    ['i32 scalar', t('I32', [], [-9])],
    ['bool scalar', t('BOOL', [], [1])],
    ['u8 scalar', t('U8', [], [200])],
    ['f32 empty', t('F32', [0], [])],
    ['f64 empty', t('F64', [0, 3], [])],
    ['i32 empty', t('I32', [0], [])],
    ['bool empty', t('BOOL', [0], [])],
    ['u8 empty', t('U8', [2, 0], [])],
  ];
  for (const [label, tensor] of cases) {
    it(label, () => {
      const bytes = encodeSafetensors({ x: tensor });
      const { tensors, metadata } = decodeSafetensors(bytes);
      expect(metadata).toEqual({});
      const back = tensors.get('x');
      expect(back).toBeDefined();
      expect(back?.dtype).toBe(tensor.dtype);
      expect(back?.shape).toEqual(tensor.shape);
      expect(back?.data.constructor).toBe(tensor.data.constructor);
      expect([...(back?.data ?? [])]).toEqual([...tensor.data]);
    });
  }

  it('keeps NaN bit patterns and -0', () => {
    const data = new Float32Array(2);
    new DataView(data.buffer).setUint32(0, 0x7fc01234, true);
    data[1] = -0;
    const back = decodeSafetensors(encodeSafetensors({ x: { dtype: 'F32', shape: [2], data } })).tensors.get('x');
    expect(new Uint32Array((back?.data as Float32Array).buffer)[0]).toBe(0x7fc01234);
    expect(Object.is(back?.data[1], -0)).toBe(true);
  });

  it('round-trips many tensors of mixed dtypes and metadata, from a Map', () => {
    const m = new Map<string, StTensor>([
      ['b', t('U8', [3], [1, 2, 3])],
      ['a', t('F64', [1], [0.1])],
      ['c', t('F32', [1], [2])],
      ['__proto__', t('I32', [1], [5])],
      ['ünï', t('BOOL', [1], [1])],
    ]);
    const bytes = encodeSafetensors(m, { format: 'pt', step: '12' });
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt', step: '12' });
    expect([...tensors.keys()].sort()).toEqual([...m.keys()].sort());
    for (const [name, tensor] of m) expect([...(tensors.get(name)?.data ?? [])]).toEqual([...tensor.data]);
  });

  it('is deterministic regardless of insertion order, pads the header and aligns data', () => {
    const a = encodeSafetensors({ z: t('U8', [1], [9]), w: f32x6(), d: t('F64', [1], [1]) });
    const b = encodeSafetensors(
      new Map([
        ['d', t('F64', [1], [1])],
        ['w', f32x6()],
        ['z', t('U8', [1], [9])],
      ]),
    );
    expect(a).toEqual(b);
    const n = Number(new DataView(a.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(a.subarray(8, 8 + n))) as Record<
      string,
      { dtype: string; data_offsets: [number, number] }
    >;
    for (const info of Object.values(header)) {
      const size = { F64: 8, F32: 4, I32: 4, U8: 1, BOOL: 1 }[info.dtype] ?? 0;
      expect((8 + n + info.data_offsets[0]) % size).toBe(0);
    }
    // Larger items first, as the reference implementation lays them out.
    expect(header['d']?.data_offsets).toEqual([0, 8]);
    expect(header['w']?.data_offsets).toEqual([8, 32]);
    expect(header['z']?.data_offsets).toEqual([32, 33]);
  });

  it('copies out of the input, even from a pooled Node Buffer', () => {
    const bytes = Buffer.from(encodeSafetensors({ u: t('U8', [2], [1, 2]), w: f32x6() }));
    const { tensors } = decodeSafetensors(bytes);
    bytes.fill(0);
    const u = tensors.get('u')?.data;
    expect(Buffer.isBuffer(u)).toBe(false);
    expect([...(u ?? [])]).toEqual([1, 2]);
    expect([...(tensors.get('w')?.data ?? [])]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('decodes a view that sits at an odd offset of a larger buffer', () => {
    const bytes = encodeSafetensors({ w: f32x6() });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const w = decodeSafetensors(big.subarray(3)).tensors.get('w');
    expect(w?.data).toBeInstanceOf(Float32Array);
    expect([...(w?.data ?? [])]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('hand-built bytes', () => {
  it('decodes a file written to the spec, with a space-padded header', () => {
    const json =
      '{"__metadata__":{"format":"pt"},"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    const data = [
      0x00,
      0x00,
      0x80,
      0x3f, // 1.0f
      0x00,
      0x00,
      0x00,
      0xc0, // -2.0f
      0x07,
      0x00,
      0x00,
      0x00, // 7
      0xff,
      0xff,
      0xff,
      0xff, // -1
    ];
    const bytes = new Uint8Array(8 + padded.length + data.length);
    // u64 little-endian header length, written byte by byte.
    bytes[0] = padded.length & 0xff;
    bytes[1] = padded.length >> 8;
    bytes.set(enc.encode(padded), 8);
    bytes.set(data, 8 + padded.length);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.get('a')).toEqual({ dtype: 'F32', shape: [1, 2], data: Float32Array.from([1, -2]) });
    expect(tensors.get('b')).toEqual({ dtype: 'I32', shape: [2], data: Int32Array.from([7, -1]) });
  });

  it('matches the bytes written by the reference implementation (safetensors 0.8.0, Python)', () => {
    const reference = Buffer.from(
      'MAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJrIjoidiJ9LCJkIjp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOlsxXSwiZGF0YV9vZmZz' +
        'ZXRzIjpbMCw4XX0sInciOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzIsM10sImRhdGFfb2Zmc2V0cyI6WzgsMzJdfSwiZSI6eyJk' +
        'dHlwZSI6IkkzMiIsInNoYXBlIjpbMF0sImRhdGFfb2Zmc2V0cyI6WzMyLDMyXX0sInoiOnsiZHR5cGUiOiJVOCIsInNoYXBlIjpb' +
        'MV0sImRhdGFfb2Zmc2V0cyI6WzMyLDMzXX0sImIiOnsiZHR5cGUiOiJCT09MIiwic2hhcGUiOltdLCJkYXRhX29mZnNldHMiOlsz' +
        'MywzNF19fSAgICAgAAAAAAAA8D8AAIA/AAAAQAAAQEAAAIBAAACgQAAAwEAJAQ==',
      'base64',
    );
    const tensors = {
      z: t('U8', [1], [9]),
      w: f32x6(),
      d: t('F64', [1], [1]),
      e: t('I32', [0], []),
      b: t('BOOL', [], [1]),
    };
    expect(Buffer.from(encodeSafetensors(tensors, { k: 'v' })).equals(reference)).toBe(true);
    const back = decodeSafetensors(reference);
    expect(back.metadata).toEqual({ k: 'v' });
    for (const [name, tensor] of Object.entries(tensors)) expect(back.tensors.get(name)).toEqual(tensor);
  });

  it('encodes to exactly the expected bytes', () => {
    const bytes = encodeSafetensors({ x: t('U8', [2], [5, 6]) }, { k: 'v' });
    const json = '{"__metadata__":{"k":"v"},"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + padded.length))).toBe(padded);
    expect(new DataView(bytes.buffer).getBigUint64(0, true)).toBe(BigInt(padded.length));
    expect([...bytes.subarray(8 + padded.length)]).toEqual([5, 6]);
  });
});

describe('validation', () => {
  const info = (dtype: unknown, shape: unknown, offs: unknown) => ({ dtype, shape, data_offsets: offs });

  it('file shorter than 8 bytes', () => {
    expectError(new Uint8Array(5), 'file is 5 bytes long', 'too short');
  });
  it('header length above 100 MB', () => {
    expectError(build({}, [], { len: 100_000_001n }), 'header length 100000001 exceeds', '100000000');
    expectError(build({}, [], { len: 0xffffffffffffffffn }), 'exceeds');
  });
  it('header length past the end of the file', () => {
    expectError(build({}, [], { len: 50n }), 'header length 50 runs past the end of the file');
  });
  it('header not UTF-8', () => {
    expectError(build(null, [], { rawHeader: Uint8Array.from([0x7b, 0xff, 0x7d]) }), 'not valid UTF-8');
  });
  it('header not JSON', () => {
    expectError(build('{"w": '), 'header is not valid JSON');
  });
  it('header not an object', () => {
    expectError(build([1, 2]), 'header must be a JSON object');
    expectError(build('null'), 'header must be a JSON object');
    expectError(build('"hi"'), 'header must be a JSON object');
  });
  it('tensor entry not an object or missing fields', () => {
    expectError(build({ w: 3 }), "tensor 'w': expected an object");
    expectError(build({ w: { dtype: 'F32', shape: [] } }), "tensor 'w': missing 'data_offsets'");
    expectError(build({ w: { shape: [], data_offsets: [0, 0] } }), "tensor 'w': missing 'dtype'");
  });
  it('unknown or unsupported dtype', () => {
    expectError(
      build({ w: info('F16', [1], [0, 2]) }, [0, 0]),
      "tensor 'w': unsupported dtype 'F16'",
      'F32, F64, I32, BOOL, U8',
    );
    expectError(build({ w: info('Q7', [1], [0, 1]) }, [0]), "unknown dtype 'Q7'", 'supported: ');
    expectError(build({ w: info(4, [1], [0, 1]) }, [0]), 'unknown dtype 4');
  });
  it('bad shapes', () => {
    expectError(build({ w: info('U8', 3, [0, 3]) }, [0, 0, 0]), "tensor 'w': shape must be an array");
    expectError(build({ w: info('U8', [-1], [0, 0]) }), 'shape [-1] must hold non-negative integers, got -1');
    expectError(build({ w: info('U8', [1.5], [0, 0]) }), 'got 1.5');
    expectError(build({ w: info('U8', ['2'], [0, 0]) }), 'got "2"');
    expectError(build({ w: info('U8', [2 ** 53], [0, 0]) }), 'must hold non-negative integers');
    expectError(build({ w: info('F64', [2 ** 30, 2 ** 30], [0, 0]) }), 'too many elements');
  });
  it('bad data_offsets', () => {
    expectError(build({ w: info('U8', [1], [0]) }, [0]), "tensor 'w': data_offsets must be [begin, end]");
    expectError(build({ w: info('U8', [1], 'x') }, [0]), 'data_offsets must be [begin, end]');
    expectError(build({ w: info('U8', [1], [-1, 0]) }, [0]), 'non-negative integers');
    expectError(build({ w: info('U8', [0], [1, 0]) }, [0]), 'data_offsets [1, 0] has begin after end');
    expectError(
      build({ w: info('U8', [3], [0, 3]) }, [0, 0]),
      'data_offsets [0, 3] run past the end of the data section (2 bytes)',
    );
  });
  it('byte length does not match the shape', () => {
    expectError(
      build({ w1: info('F32', [2, 3], [0, 12]) }, new Uint8Array(12)),
      "params.safetensors: tensor 'w1': data_offsets [0, 12] hold 12 bytes but F32[2, 3] needs 24",
    );
  });
  it('overlapping tensors', () => {
    expectError(
      build({ a: info('U8', [4], [0, 4]), b: info('U8', [4], [2, 6]) }, new Uint8Array(6)),
      "tensors 'a' [0, 4] and 'b' [2, 6] overlap",
    );
  });
  it('gaps and trailing bytes', () => {
    expectError(
      build({ a: info('U8', [2], [0, 2]), b: info('U8', [2], [3, 5]) }, new Uint8Array(5)),
      "gap: bytes [2, 3) before tensor 'b'",
    );
    expectError(build({ b: info('U8', [2], [1, 3]) }, new Uint8Array(3)), 'gap: bytes [0, 1)');
    expectError(build({ a: info('U8', [2], [0, 2]) }, new Uint8Array(4)), '2 trailing bytes');
    expectError(build({}, new Uint8Array(1)), '1 trailing bytes');
  });
  it('BOOL values other than 0 and 1', () => {
    expectError(build({ m: info('BOOL', [3], [0, 3]) }, [0, 1, 2]), "tensor 'm': BOOL element 2 is 2, expected 0 or 1");
  });
  it('metadata that is not string to string', () => {
    expectError(build({ __metadata__: { step: 3 } }), "__metadata__ 'step' must be a string, got 3");
    expectError(build({ __metadata__: ['a'] }), '__metadata__ must be an object');
  });
  it('uses <buffer> as the default source', () => {
    expect(() => decodeSafetensors(new Uint8Array(0))).toThrow(/^<buffer>: /);
  });
  it('encode rejects inconsistent tensors with SafetensorsError', () => {
    const bad: [Record<string, StTensor>, string][] = [
      [{ w: { dtype: 'F32', shape: [2], data: new Float32Array(3) } }, 'F32[2] needs 2 elements but the data holds 3'],
      [{ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }, 'F32 data must be a Float32Array'],
      [{ w: { dtype: 'BOOL', shape: [1], data: Uint8Array.from([3]) } }, 'BOOL element 0 is 3'],
      [{ w: { dtype: 'F16' as StDType, shape: [1], data: new Uint8Array(2) } }, "unsupported dtype 'F16'"],
      [{ w: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }, 'non-negative'],
      [{ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }, 'reserved'],
    ];
    for (const [tensors, msg] of bad) {
      expect(() => encodeSafetensors(tensors)).toThrow(SafetensorsError);
      expect(() => encodeSafetensors(tensors)).toThrow(msg);
    }
  });
});

// Arbitrary tensors of every dtype, with data matching their shapes.
const tensorArb: fc.Arbitrary<StTensor> = fc
  .tuple(fc.constantFrom<StDType>('F32', 'F64', 'I32', 'BOOL', 'U8'), fc.array(fc.nat({ max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values: fc.Arbitrary<StTensor['data']> =
      dtype === 'F32'
        ? fc.float32Array({ minLength: n, maxLength: n })
        : dtype === 'F64'
          ? fc.float64Array({ minLength: n, maxLength: n })
          : dtype === 'I32'
            ? fc.int32Array({ minLength: n, maxLength: n })
            : dtype === 'BOOL'
              ? fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }).map((a) => Uint8Array.from(a))
              : fc.uint8Array({ minLength: n, maxLength: n });
    return values.map((data) => ({ dtype, shape, data }));
  });

const tensorsArb = fc
  .dictionary(fc.string({ maxLength: 6 }), tensorArb, { maxKeys: 5 })
  .filter((d) => !('__metadata__' in d));
const metadataArb = fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), {
  nil: undefined,
});

/** Byte-wise equality, so NaN payloads and -0 count. */
function sameBits(a: StTensor['data'], b: StTensor['data']): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

describe('properties', () => {
  it('round-trips random tensors bit for bit', () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const { tensors: back, metadata: md } = decodeSafetensors(encodeSafetensors(tensors, metadata));
        expect(md).toEqual(metadata ?? {});
        expect(back.size).toBe(Object.keys(tensors).length);
        for (const [name, tensor] of Object.entries(tensors)) {
          const got = back.get(name);
          expect(got?.dtype).toBe(tensor.dtype);
          expect(got?.shape).toEqual(tensor.shape);
          expect(got && sameBits(got.data, tensor.data)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('mutated or truncated files decode or throw SafetensorsError, nothing else', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(tensorsArb, metadataArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (tensors, md, muts) => {
        let bytes = [...encodeSafetensors(tensors, md)];
        for (const m of muts) {
          const at = bytes.length === 0 ? 0 : m.at % (bytes.length + 1);
          if (m.kind === 'set' && at < bytes.length) bytes[at] = m.value;
          else if (m.kind === 'truncate') bytes = bytes.slice(0, at);
          else if (m.kind === 'insert') bytes.splice(at, 0, m.value);
          else if (m.kind === 'delete') bytes.splice(at, 1);
        }
        try {
          decodeSafetensors(Uint8Array.from(bytes), 'm.safetensors');
        } catch (e) {
          if (!(e instanceof SafetensorsError) || !e.message.startsWith('m.safetensors: ')) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('header-targeted mutations (digits and JSON punctuation) never escape as other errors', () => {
    const base = encodeSafetensors({ a: f32x6(), b: t('BOOL', [2], [0, 1]), c: t('I32', [], [3]) }, { k: 'v' });
    const n = Number(new DataView(base.buffer).getBigUint64(0, true));
    const chars = [...'0123456789-.e[]{},:" '].map((c) => c.charCodeAt(0));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.constantFrom(...chars)), { minLength: 1, maxLength: 3 }),
        (edits) => {
          const bytes = base.slice();
          for (const [at, c] of edits) bytes[8 + at] = c;
          try {
            decodeSafetensors(bytes, 'h');
          } catch (e) {
            if (!(e instanceof SafetensorsError)) throw e;
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('node file helpers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-st-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes atomically and reads back', () => {
    const path = join(dir, 'params.safetensors');
    writeSafetensorsFile(path, { w: f32x6() }, { seed: '0' });
    writeSafetensorsFile(path, { w: t('F32', [1], [9]) });
    expect(readdirSync(dir)).toEqual(['params.safetensors']); // no temporary files left behind
    const { tensors, metadata } = readSafetensorsFile(path);
    // The checksum of the data section (CLI.md v1.1 "Integrity"), and nothing of the first write.
    expect(metadata).toEqual({ 'kiln.xxh32': expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect([...(tensors.get('w')?.data ?? [])]).toEqual([9]);
  });

  it('writes the bytes encodeSafetensors gives, the digest sealed after the rest; checksum: false writes none', () => {
    const big = new Float32Array(100_000).map((_, i) => Math.sin(i));
    const tensors = { w: { dtype: 'F32' as const, shape: [100_000], data: big }, b: f32x6() };
    const path = join(dir, 'sealed.safetensors');
    writeSafetensorsFile(path, tensors, { seed: '1' });
    const want = encodeSafetensors(tensors, { seed: '1' }, { checksum: true });
    expect(readFileSync(path).equals(want)).toBe(true);
    const unsealed = encodeSafetensors(tensors, { seed: '1' }, { checksum: true, unsealed: true });
    const { begin, end } = sealChecksum(unsealed);
    expect(Buffer.from(unsealed).equals(want)).toBe(true);
    expect(new TextDecoder().decode(want.subarray(begin, end))).toBe(readSafetensorsFile(path).metadata['kiln.xxh32']);
    const plain = join(dir, 'plain.safetensors');
    writeSafetensorsFile(plain, tensors, { seed: '1' }, { checksum: false });
    expect(readFileSync(plain).equals(encodeSafetensors(tensors, { seed: '1' }))).toBe(true);
    expect(() => sealChecksum(encodeSafetensors(tensors))).toThrow('does not start with the checksum placeholder');
    rmSync(path);
    rmSync(plain);
  });

  it('verifying leaves the bytes as they were, a Buffer too', () => {
    const bytes = Buffer.from(encodeSafetensors({ w: f32x6() }, undefined, { checksum: true }));
    const copy = Buffer.from(bytes);
    for (let i = 0; i < 2; i++) decodeSafetensors(bytes, 'p.safetensors', { verify: true });
    expect(bytes.equals(copy)).toBe(true);
  });

  it('reports a missing file clearly', () => {
    const path = join(dir, 'missing.safetensors');
    expect(() => readSafetensorsFile(path)).toThrow(SafetensorsError);
    expect(() => readSafetensorsFile(path)).toThrow(`cannot read ${path}: no such file`);
  });

  it('reports a directory and a corrupt file with the path', () => {
    expect(() => readSafetensorsFile(dir)).toThrow(`cannot read ${dir}: is a directory`);
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, Uint8Array.from([1, 2, 3]));
    expect(() => readSafetensorsFile(bad)).toThrow(`${bad}: file is 3 bytes long`);
  });

  it('reports an unwritable location and leaves nothing behind', () => {
    const path = join(dir, 'no-such-dir', 'p.safetensors');
    expect(() => writeSafetensorsFile(path, { w: f32x6() })).toThrow(`cannot write ${path}: no such file`);
  });
});
