// A corrupted or mismatched artifact is rejected before use, with an error
// that names the file and the field: wrong version, missing fields, buffer
// ids out of range, truncated wasm, params that do not match the manifest.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ArtifactFiles, loadArtifact, loadModel } from '../../runtime/model.js';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/safetensors.js';
import type { Manifest } from '../../runtime/manifest.js';
import { ArtifactError, validateManifest } from '../../runtime/validate.js';
import { writeArtifact } from '../../targets/artifact.js';
import { artifactFor, artifactOf } from './helpers.js';
import { compileSource } from '../../dsl/frontend.js';

const MLP = 'examples/mlp.kiln';
const LINREG = 'examples/linear_regression.kiln';

type Json = Record<string, unknown>;

/** A deep copy of the MLP manifest as plain JSON, to corrupt. */
function manifestJson(file = MLP): Json {
  return JSON.parse(JSON.stringify(artifactOf(file).manifest)) as Json;
}

/** The object at a path of keys and indices. */
function at(o: unknown, ...path: (string | number)[]): Json {
  return path.reduce<unknown>((x, k) => (x as Json)[k], o) as Json;
}

function list(o: unknown, ...path: (string | number)[]): unknown[] {
  return at(o, ...path) as unknown as unknown[];
}

function rejects(json: unknown, ...fragments: (string | RegExp)[]): ArtifactError {
  let caught: unknown;
  try {
    validateManifest(json, 'model/manifest.json');
  } catch (e) {
    caught = e;
  }
  expect(caught, 'the manifest should be rejected').toBeInstanceOf(ArtifactError);
  const msg = (caught as Error).message;
  expect(msg.startsWith('model/manifest.json: ')).toBe(true);
  for (const f of fragments) expect(msg).toMatch(f);
  return caught as ArtifactError;
}

async function loadRejects(files: ArtifactFiles, ...fragments: (string | RegExp)[]): Promise<string> {
  const err = await loadArtifact(files, { threads: 1 }).then(
    (m) => {
      m.dispose();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err, 'the artifact should be rejected').toBeInstanceOf(ArtifactError);
  const msg = (err as Error).message;
  for (const f of fragments) expect(msg).toMatch(f);
  return msg;
}

describe('validateManifest', () => {
  it('accepts what the compiler writes, through JSON', () => {
    for (const f of [MLP, LINREG]) {
      const json = manifestJson(f);
      expect(validateManifest(json, 'm.json')).toEqual(json);
    }
  });

  it('rejects a wrong version', () => {
    const j = manifestJson();
    j['version'] = 2;
    rejects(j, /^model\/manifest\.json: version: artifact version 2 is not supported/, /reads version 1/);
  });

  it('rejects something that is not a manifest', () => {
    rejects([1, 2], /expected a JSON object/);
    rejects({ format: 'onnx' }, /format: expected 'kiln-artifact', got "onnx"/);
  });

  it('rejects a missing field, naming its path', () => {
    const j = manifestJson();
    delete at(j, 'forward')['kernels'];
    rejects(j, "forward: missing field 'kernels'");
    const k = manifestJson();
    delete at(k, 'inputs', 0)['shape'];
    rejects(k, "inputs[0]: missing field 'shape'");
  });

  it('checks the id ranges (ids): known inputs, finite bounds, a reason', () => {
    const j = manifestJson(MLP);
    expect(at(j, 'ids', 'y')).toEqual({ lo: 0, hi: 10, hiIncluded: false, why: expect.stringContaining('[0, 10)') });
    at(j, 'ids')['z'] = { lo: 0, hi: 1, hiIncluded: false, why: 'x' };
    rejects(j, "ids.z: 'z' is not an input");
    const k = manifestJson(MLP);
    at(k, 'ids', 'y')['hi'] = -1;
    rejects(k, 'ids.y: hi -1 is below lo 0');
    const l = manifestJson(MLP);
    at(l, 'ids', 'y')['why'] = '';
    rejects(l, /ids\.y\.why: expected a non-empty string/);
  });

  it('rejects an unknown field', () => {
    const j = manifestJson();
    at(j, 'memory')['size'] = 3;
    rejects(j, "memory: unknown field 'size'");
  });

  it("accepts the CNN's column-split matmuls and rejects an unknown chunking", () => {
    const json = manifestJson('examples/cnn.kiln');
    expect(validateManifest(json, 'm.json')).toEqual(json);
    const j = manifestJson();
    at(j, 'forward', 'kernels', 0)['chunking'] = 'per-chunk';
    rejects(j, `forward.kernels[0].chunking: expected 'per-thread', got "per-chunk"`);
  });

  it('rejects a buffer id out of range', () => {
    const j = manifestJson();
    list(j, 'forward', 'kernels', 1, 'buffers')[0] = 41;
    rejects(j, 'forward.kernels[1].buffers[0]: buffer 41 does not exist');
  });

  it('rejects a train program output that points at the wrong buffer', () => {
    const j = manifestJson();
    const temp = list(j, 'train', 'program', 'buffers').find((b) => at(b, 'role')['kind'] === 'temp');
    at(j, 'train', 'program', 'outputs', 0)['buf'] = at(temp)['id'];
    rejects(j, /train\.program\.outputs\[0\]\.buf: buffer \d+ is not the output buffer of 'loss'/);
  });

  it('rejects a buffer whose size does not match its tensor', () => {
    const j = manifestJson();
    const w1 = list(j, 'forward', 'buffers').findIndex((b) => at(b, 'role')['name'] === 'w1');
    at(j, 'forward', 'buffers', w1)['size'] = 100;
    rejects(j, `forward.buffers[${w1}].size: param 'w1' (f32[784, 128]) has 100352 elements, but its buffer holds 100`);
  });

  it('rejects storages that do not exist or are shared by non-temps', () => {
    const j = manifestJson();
    at(j, 'forward', 'buffers', 0)['storage'] = 999;
    rejects(j, 'forward.buffers[0].storage: storage 999 is not a buffer of this program');
  });

  it('rejects a dimension that no input binds', () => {
    const j = manifestJson();
    const dims = list(j, 'forward', 'kernels', 0, 'dims');
    dims.push('Q');
    rejects(j, `forward.kernels[0].dims[${dims.length - 1}]: dimension 'Q' is not bound by any input (inputs bind B)`);
  });

  it('rejects an unsupported optimizer and bad hyperparameters', () => {
    const j = manifestJson();
    at(j, 'train', 'optimizer')['name'] = 'sgdx';
    rejects(j, "train.optimizer.name: optimizer 'sgdx' is not supported");
    const k = manifestJson();
    at(k, 'train', 'optimizer', 'hyper')['b1'] = 1.5;
    rejects(k, /train\.optimizer: .*b1/);
  });

  it('rejects a scalar the runtime cannot supply', () => {
    const j = manifestJson();
    list(j, 'forward', 'scalars').push('@lr');
    rejects(j, "forward.scalars[0]: the runtime cannot supply scalar '@lr'");
  });

  it('checks the plain step of a curvature optimizer (train.plain)', () => {
    const sophia = (): Json => {
      const src = readFileSync(MLP, 'utf8').replace(/optimizer .*/, 'optimizer sophia(lr = 1e-3, update_interval = 3)');
      const { result } = compileSource('mlp.kiln', src);
      const a = artifactFor(result.models[0]!, result.trains[0]!, { seed: 1, threads: false });
      return JSON.parse(JSON.stringify(a.manifest)) as Json;
    };
    const ok = sophia();
    const m = validateManifest(ok, 'model/manifest.json');
    expect(m.train?.plain?.every).toBe('update_interval');
    expect(m.train?.plain?.program.kernels.length).toBe(9);
    expect(m.train?.program.kernels.length).toBe(15);
    // An Adam artifact has none.
    expect(at(manifestJson(), 'train')['plain']).toBeUndefined();

    const j = sophia();
    delete at(j, 'train', 'plain')['every'];
    rejects(j, /train\.plain: .*every/);
    const k = sophia();
    at(k, 'train', 'plain')['every'] = 'b1';
    rejects(k, "train.plain.every: sophia: 'b1' must be an integer >= 1, got 0.965");
    const u = sophia();
    at(u, 'train', 'plain')['every'] = 'interval';
    rejects(u, "train.plain.every: sophia: 'interval' must be an integer >= 1, got undefined");
    const p = sophia();
    delete at(p, 'train', 'plain')['program'];
    rejects(p, /train\.plain: .*program/);
    const q = sophia();
    at(q, 'train', 'plain', 'program', 'kernels', 0)['buffers'] = [999];
    rejects(q, /train\.plain\.program\.kernels\[0\]\.buffers\[0\]/);
    const r = sophia();
    at(r, 'train', 'plain', 'program')['outputs'] = [];
    rejects(r, "train.loss: 'loss' is not an output of the plain training program (train.plain.program)");
    const s = sophia();
    at(s, 'train', 'plain')['extra'] = 1;
    rejects(s, /train\.plain.*extra/);
  });

  it('rejects a file name that leaves the artifact directory', () => {
    const j = manifestJson();
    at(j, 'files')['code'] = '../evil.wasm';
    rejects(j, "files.code: '../evil.wasm' must be a plain file name");
  });
});

describe('loading a bad artifact', () => {
  const good = () => {
    const a = artifactOf(MLP);
    return { manifest: a.manifest, code: a.code, params: a.params };
  };

  it('rejects a truncated module (by its checksum; without one, as not a module)', async () => {
    const checked = good();
    await loadRejects({ ...checked, code: checked.code.slice(0, 100) }, 'model.wasm is damaged (checksum mismatch)');
    const a = unchecked(checked);
    await loadRejects(
      { ...a, code: a.code.slice(0, Math.floor(a.code.length / 2)) },
      /^model\.wasm: not a valid WebAssembly module/,
    );
    await loadRejects(
      { ...a, code: new Uint8Array([1, 2, 3]) },
      /model\.wasm: not a valid WebAssembly module \(no wasm header/,
    );
  });

  it('rejects a module without a kernel the manifest names', async () => {
    const a = good();
    const m = JSON.parse(JSON.stringify(a.manifest)) as Json;
    at(m, 'forward', 'kernels', 0)['entry'] = 'nope';
    await loadRejects({ ...a, manifest: m }, "model.wasm: no exported function 'nope' for forward.kernels[0]");
  });

  // Found by the file-mutant fuzzer (fuzz/mutate-files.ts): model.wasm with a run of bytes zeroed
  // inside a function body still validates (0x00 is `unreachable`), and the first call trapped with a
  // bare WebAssembly RuntimeError, which `kiln run` reported as an internal error.
  // Found by the wasm campaign's file mutants: one flipped bit in model.wasm made `kiln run` loop
  // forever (the module validated). The manifest now carries the module's xxHash32, checked first.
  it('refuses a damaged module by its checksum before compiling it; a malformed checksum is refused', async () => {
    const a = good();
    expect(a.manifest.files.codeXxh32).toMatch(/^[0-9a-f]{8}$/);
    const flipped = a.code.slice();
    flipped[flipped.length - 5]! ^= 0x10;
    await loadRejects({ ...a, code: flipped }, 'model.wasm is damaged (checksum mismatch)');
    await loadRejects({ ...a, code: unreachableBodies(a.code) }, 'model.wasm is damaged (checksum mismatch)');
    await loadRejects(
      { ...a, manifest: { ...a.manifest, files: { ...a.manifest.files, codeXxh32: 'XYZ' } } },
      'files.codeXxh32: expected 8 lowercase hex digits, got "XYZ"',
    );
  });

  // An in-memory artifact's errors name its files as its manifest does: a webgpu artifact's code is
  // shaders.json (they said model.wasm, as a webgpu campaign's device refusal showed). No device needed:
  // the checksum is checked first.
  it('names a webgpu artifact in memory by its own files', async () => {
    const a = artifactOf(MLP, { target: 'webgpu' });
    expect(a.manifest.files.code).toBe('shaders.json');
    const damaged = a.code.slice();
    damaged[10]! ^= 0x01;
    await loadRejects({ ...a, code: damaged }, 'shaders.json is damaged (checksum mismatch)');
  });

  it('names the module when a damaged one traps (an artifact without the checksum, as earlier versions wrote)', async () => {
    const a = unchecked(good());
    const m = await loadArtifact({ ...a, code: unreachableBodies(a.code) }, { threads: 1 });
    try {
      const x = { data: new Float32Array(2 * 784), shape: [2, 784] };
      const y = { data: new Int32Array(2), shape: [2] };
      const run = m.run({ x, y });
      await expect(run).rejects.toThrow(ArtifactError);
      await expect(run).rejects.toThrow(
        'model.wasm: the forward program trapped (unreachable); the module is damaged or was not compiled with this manifest',
      );
    } finally {
      m.dispose();
    }
  });

  it('rejects params whose shape does not match the manifest', async () => {
    const a = good();
    const { tensors } = decodeSafetensors(a.params);
    const b1 = tensors.get('b1')!;
    tensors.set('b1', { ...b1, shape: [64], data: new Float32Array(64) });
    await loadRejects(
      { ...a, params: encodeSafetensors(tensors) },
      "params.safetensors: tensor 'b1': shape [64], but the manifest says f32[128]",
    );
  });

  it('rejects params with a missing, extra or mistyped tensor', async () => {
    const a = good();
    const { tensors } = decodeSafetensors(a.params);
    const without = new Map(tensors);
    without.delete('w2.m');
    await loadRejects(
      { ...a, params: encodeSafetensors(without) },
      "params.safetensors: missing state 'w2.m' (f32[128, 10])",
    );
    const extra = new Map(tensors);
    extra.set('w3', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    await loadRejects(
      { ...a, params: encodeSafetensors(extra) },
      "params.safetensors: tensor 'w3' is not a param of the manifest",
    );
    const typed = new Map(tensors);
    typed.set('b2', { dtype: 'I32', shape: [10], data: new Int32Array(10) });
    await loadRejects({ ...a, params: encodeSafetensors(typed) }, "tensor 'b2': dtype I32, but the manifest says f32");
    await loadRejects({ ...a, params: new Uint8Array([1, 2]) }, /params\.safetensors: file is 2 bytes long/);
  });

  it('rejects a directory with a corrupt or missing manifest, naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-art-'));
    await writeArtifact(dir, artifactOf(LINREG));
    const m = await loadModel(dir, { threads: 1 });
    m.dispose();
    const path = join(dir, 'manifest.json');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, 40));
    await expect(loadModel(dir, { threads: 1 })).rejects.toThrow(`${path}: not valid JSON`);
    writeFileSync(path, text.replace('"version": 1', '"version": 7'));
    await expect(loadModel(dir, { threads: 1 })).rejects.toThrow(
      `${path}: version: artifact version 7 is not supported`,
    );
    await expect(loadModel(join(dir, 'nope'), { threads: 1 })).rejects.toThrow(/manifest\.json: no such file/);
    writeFileSync(path, text);
    writeFileSync(join(dir, 'model.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 200]));
    await expect(loadModel(dir, { threads: 1 })).rejects.toThrow(
      `${join(dir, 'model.wasm')} is damaged (checksum mismatch)`,
    );
    const json = JSON.parse(text) as Manifest;
    writeFileSync(
      path,
      JSON.stringify(unchecked({ manifest: json, code: new Uint8Array(), params: new Uint8Array() }).manifest),
    );
    await expect(loadModel(dir, { threads: 1 })).rejects.toThrow(
      `${join(dir, 'model.wasm')}: not a valid WebAssembly module`,
    );
  });
});

/** The artifact as earlier Kiln versions wrote it: no checksum of its code in the manifest. */
function unchecked<A extends ArtifactFiles & { readonly manifest: Manifest }>(a: A): A {
  const { codeXxh32: _, ...files } = a.manifest.files;
  return { ...a, manifest: { ...a.manifest, files } };
}

/** `code` with every function body's instructions zeroed (the final `end` kept): `unreachable`s, a valid module that traps. */
function unreachableBodies(code: Uint8Array): Uint8Array {
  const out = code.slice();
  let pos = 8;
  const u32 = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = out[pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (pos < out.length) {
    const id = out[pos++]!;
    const size = u32();
    const end = pos + size;
    if (id === 10)
      for (let n = u32(); n > 0; n--) {
        const body = u32();
        // Locals declaration count 0, then unreachable... up to the body's `end`.
        out.fill(0, pos, pos + body - 1);
        pos += body;
      }
    pos = end;
  }
  return out;
}
