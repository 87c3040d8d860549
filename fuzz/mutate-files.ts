// The never-crash oracle on files (issue #19): a generated program's artifact,
// as `kiln compile` writes it, or its inputs, as a data file in one of the
// forms `kiln run --inputs` and `kiln train --data` read, damaged in a seeded
// way and then loaded by the CLI's own code, in-process (runCommand,
// loadData: the same functions, no child process). The only outcomes allowed
// are success and an error the CLI reports as the user's (cli/errors.ts:
// exit 1 or 2, one `error:` line); anything else, a wasm trap included, is a
// crash. Params files carry a checksum (CLI.md v1.1 "Integrity") that would
// refuse every change, so most params mutants are sealed again after the
// damage: the decoder and the validation behind the checksum see them too.
// The manifest and the module carry none.

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../cli/commands/run.js';
import { loadData } from '../cli/data/load.js';
import { useArtifactIds } from '../cli/data/ids.js';
import { UsageError, isUserError } from '../cli/errors.js';
import { compileSource } from '../dsl/frontend.js';
import { compile } from '../compiler/compile.js';
import { type Artifact, MANIFEST_FILE, buildArtifact } from '../targets/artifact.js';
import { wasmTarget } from '../targets/wasm/target.js';
import { CHECKSUM_KEY } from '../runtime/checksum.js';
import type { Tensor } from '../runtime/executor.js';
import type { Manifest, TensorSpec } from '../runtime/manifest.js';
import { mulberry32 } from '../runtime/mulberry32.js';
import { SafetensorsError, type StTensor, encodeSafetensors, sealChecksum } from '../runtime/safetensors.js';
import { type Case, type Failure, caseInputs } from './oracles.js';

export type MutantPart = 'artifact' | 'data';
export type DataFormat = 'safetensors' | 'npy' | 'idx' | 'csv';

/** The damaged file: its name in the artifact or data (e.g. `manifest.json`, `x0.npy`), how, and its bytes. */
export interface FileMutant {
  readonly part: MutantPart;
  /** For a data mutant, the form of the data. */
  readonly format?: DataFormat;
  readonly file: string;
  readonly mutation: string;
  readonly bytes: Uint8Array;
}

export interface FileFailure extends Failure {
  readonly mutant: FileMutant;
}

/** Where the files are: the artifact directory, the data `--inputs` names, the undamaged manifest, the part damaged. */
export interface LoadRequest {
  readonly artifact: string;
  readonly inputs: string;
  readonly manifest: Manifest;
  readonly part: MutantPart;
  readonly mutant: FileMutant;
}

/** What loads the files: by default what `kiln run` (and, for data, `kiln train --data`) does; tests plant faults here. */
export type Loader = (req: LoadRequest) => Promise<void>;

export interface FileMutantOptions {
  /** The artifact of the case and its inputs (as runOracles built them); built here when absent. */
  readonly built?: { readonly artifact: Artifact; readonly inputs: Readonly<Record<string, Tensor>> };
  /** Which part to damage (default: by seed). */
  readonly part?: MutantPart;
  /** Which data form to write (default: by seed, among those the model's inputs fit). */
  readonly format?: DataFormat;
  readonly loader?: Loader;
}

/** A call slower than this is reported: every mutant is a few kB and loads in milliseconds. */
export const SLOW_MS = 10_000;

// ---------------------------------------------------------------- the CLI's code

const quiet = { stdout: () => {}, stderr: () => {} };

/** `kiln run ARTIFACT --inputs DATA --threads 1`, and for data `kiln train --data`'s loading and checks. */
export const kilnLoader: Loader = async ({ artifact, inputs, manifest, part }) => {
  try {
    await runCommand(artifact, { target: 'wasm', seed: 1, threads: 1, inputs }, quiet);
  } catch (e) {
    if (part === 'artifact' || !isUserFacing(e)) throw e;
  }
  if (part === 'artifact') return;
  // `kiln train --data` reads every form through loadData, the safetensors form too (run reads that one itself).
  useArtifactIds(manifest.ids);
  await loadData(inputs, { inputs: manifest.inputs, role: 'train', csv: {} });
};

/** What the CLI reports as the user's mistake (exit 1 or 2), not as an internal error (cli/errors.ts reportError). */
export function isUserFacing(e: unknown): boolean {
  return e instanceof UsageError || isUserError(e);
}

// ---------------------------------------------------------------- byte mutations

type Rnd = () => number;
type Mutation = (b: Uint8Array, r: Rnd) => Uint8Array;

const int = (r: Rnd, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rnd, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const fromLatin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

function flipAt(b: Uint8Array, r: Rnd, within: number): Uint8Array {
  const out = b.slice();
  if (out.length === 0) return out;
  for (let k = 0, n = 1 + int(r, 4); k < n; k++) {
    const i = int(r, Math.min(out.length, within));
    out[i] = out[i]! ^ (1 << int(r, 8));
  }
  return out;
}

function splice(b: Uint8Array, at: number, del: number, ins: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length - del + ins.length);
  out.set(b.subarray(0, at));
  out.set(ins, at);
  out.set(b.subarray(at + del), at + ins.length);
  return out;
}

const randomRun = (r: Rnd, n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(r, 256));

/** Changes that know nothing of the format. */
const BYTES: Record<string, Mutation> = {
  truncate: (b, r) => b.slice(0, int(r, b.length)),
  flip: (b, r) => flipAt(b, r, b.length),
  flipHead: (b, r) => flipAt(b, r, 96),
  insert: (b, r) => splice(b, int(r, b.length + 1), 0, randomRun(r, 1 + int(r, 16))),
  delete: (b, r) => {
    const at = int(r, b.length);
    return splice(b, at, Math.min(b.length - at, 1 + int(r, 16)), new Uint8Array());
  },
  append: (b, r) => splice(b, b.length, 0, randomRun(r, 1 + int(r, 16))),
  zero: (b, r) => {
    const out = b.slice();
    const at = int(r, out.length);
    out.fill(0, at, at + 1 + int(r, 64));
    return out;
  },
};

/** A random byte mutation; returns its name. */
function byteMutation(b: Uint8Array, r: Rnd): [string, Uint8Array] {
  const name = pick(r, Object.keys(BYTES));
  return [name, BYTES[name]!(b, r)];
}

// ---------------------------------------------------------------- JSON edits

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Place = { readonly parent: Json[] | { [k: string]: Json }; readonly key: string | number; readonly value: Json };

function places(v: Json, out: Place[] = []): Place[] {
  if (Array.isArray(v))
    v.forEach((x, i) => {
      out.push({ parent: v, key: i, value: x });
      places(x, out);
    });
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push({ parent: v, key: k, value: x });
      places(x, out);
    }
  return out;
}

const set = (p: Place, x: Json): void => {
  (p.parent as Record<string | number, Json>)[p.key] = x;
};

/** Sizes, offsets, dims and ids that break arithmetic: too big for u32, for f64's integers, negative, fractional. */
const ODD_NUMBERS = [-1, -(2 ** 31), 0.5, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 1e15, 1e308, 65536, 7];
const ODD_VALUES: Json[] = [null, true, 'x', '', '1', [], {}, [1, 2], { kind: 'x' }, 0, -1, 1e308];

/** One edit of a JSON value in place (numbers picked more often: most sizes and offsets are numbers); its name. */
function jsonEdit(root: Json, r: Rnd): string {
  const all = places(root);
  if (all.length === 0) return 'none';
  const numbers = all.filter((p) => typeof p.value === 'number');
  const strings = all.filter((p) => typeof p.value === 'string');
  const u = r();
  const p =
    u < 0.45 && numbers.length > 0 ? pick(r, numbers) : u < 0.6 && strings.length > 0 ? pick(r, strings) : pick(r, all);
  const key = typeof p.key === 'number' ? `[${p.key}]` : `.${p.key}`;
  const how = int(r, 6);
  if (typeof p.value === 'number' && how < 3) {
    const v = how === 0 ? pick(r, ODD_NUMBERS) : how === 1 ? p.value + pick(r, [1, -1, 16, -16]) : p.value * 2;
    set(p, v);
    return `${key} ${p.value} -> ${v}`;
  }
  if (typeof p.value === 'string' && how < 3) {
    // Another string of the same file: a name where another belongs, the likeliest inconsistency.
    const v = how === 0 && strings.length > 1 ? pick(r, strings).value : how === 1 ? `${p.value}x` : '';
    set(p, v);
    return `${key} ${JSON.stringify(p.value)} -> ${JSON.stringify(v)}`;
  }
  if (how === 3) {
    if (Array.isArray(p.parent)) p.parent.splice(p.key as number, 1);
    else delete p.parent[p.key as string];
    return `${key} deleted`;
  }
  if (how === 4 && Array.isArray(p.parent)) {
    const arr = p.parent;
    const j = int(r, arr.length);
    if (r() < 0.5) arr.splice(j, 0, structuredClone(p.value));
    else [arr[p.key as number], arr[j]] = [arr[j]!, arr[p.key as number]!];
    return `${key} duplicated or swapped`;
  }
  const v = pick(r, ODD_VALUES);
  set(p, structuredClone(v));
  return `${key} -> ${JSON.stringify(v)}`;
}

function jsonEdits(root: Json, r: Rnd): string {
  return Array.from({ length: 1 + int(r, 3) }, () => jsonEdit(root, r)).join('; ');
}

// ---------------------------------------------------------------- safetensors

const PLACEHOLDER = '0'.repeat(16);
const DIGEST_AT = JSON.stringify({ __metadata__: { [CHECKSUM_KEY]: PLACEHOLDER } }).indexOf(PLACEHOLDER);

/** Seals a damaged file again where its header still starts with the checksum (else leaves it as it is). */
function reseal(b: Uint8Array): boolean {
  if (b.length < 8 + DIGEST_AT + PLACEHOLDER.length) return false;
  const copy = b.slice(8 + DIGEST_AT, 8 + DIGEST_AT + PLACEHOLDER.length);
  b.set(fromLatin1(PLACEHOLDER), 8 + DIGEST_AT);
  try {
    sealChecksum(b);
    return true;
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    b.set(copy, 8 + DIGEST_AT);
    return false;
  }
}

/** A safetensors file with its header JSON edited (the data kept, the header length updated); undefined when unreadable. */
function safetensorsHeaderEdit(b: Uint8Array, r: Rnd): [string, Uint8Array] | undefined {
  if (b.length < 8) return undefined;
  const len = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  if (8 + len > b.length) return undefined;
  const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + len))) as Json;
  const meta = (header as Record<string, Json>)['__metadata__'];
  const sealed = meta !== null && typeof meta === 'object' && !Array.isArray(meta) && CHECKSUM_KEY in meta;
  let what: string;
  if (r() < 0.3) {
    // The lies of corruption.test.ts: huge or empty declared shapes, dtypes of another size or none.
    const names = Object.keys(header as object).filter((k) => k !== '__metadata__');
    if (names.length === 0) return undefined;
    const name = pick(r, names);
    const t = (header as Record<string, Record<string, Json>>)[name]!;
    if (r() < 0.5) {
      const shape = Array.isArray(t['shape']) ? t['shape'] : [];
      t['shape'] = [pick(r, [1e15, 2 ** 53, 2 ** 32, 1e9, 0, -1, 2 ** 31]), ...shape.slice(1)];
      what = `tensor '${name}' shape -> ${JSON.stringify(t['shape'])}`;
    } else {
      t['dtype'] = pick(r, ['I64', 'F16', 'BOOL', 'U8', 'F64', 'I16', 'U32', 'I8', 'F32', 'I32', 'XX']);
      what = `tensor '${name}' dtype -> ${String(t['dtype'])}`;
    }
  } else what = jsonEdits(header, r);
  if (sealed) {
    const m = (header as Record<string, Record<string, Json>>)['__metadata__'];
    if (m && typeof m === 'object' && typeof m[CHECKSUM_KEY] === 'string') m[CHECKSUM_KEY] = PLACEHOLDER;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + b.length - 8 - len);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(b.subarray(8 + len), 8 + text.length);
  return [`header: ${what}${sealed && reseal(out) ? ' (sealed again)' : ''}`, out];
}

/** A safetensors mutant: bytes or header, and for a sealed file mostly sealed again so the checksum lets it through. */
function safetensorsMutation(b: Uint8Array, r: Rnd): [string, Uint8Array] {
  const u = r();
  if (u < 0.1) {
    const out = b.slice();
    new DataView(out.buffer).setBigUint64(0, BigInt(int(r, 2 ** 31)) * BigInt(1 + int(r, 3)), true);
    return ['header length', out];
  }
  if (u < 0.55) {
    const edited = safetensorsHeaderEdit(b, r);
    if (edited) return edited;
  }
  const [name, out] = byteMutation(b, r);
  return r() < 0.7 && reseal(out) ? [`${name} (sealed again)`, out] : [name, out];
}

// ---------------------------------------------------------------- artifacts

/** The artifact's files, byte for byte as `kiln compile` writes them (targets/artifact.ts writeArtifact). */
export function artifactFiles(a: Artifact): Map<string, Uint8Array> {
  return new Map([
    [a.manifest.files.code, a.code],
    [a.manifest.files.params, a.params],
    [MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(a.manifest, null, 1)}\n`)],
  ]);
}

function mutateArtifact(a: Artifact, r: Rnd): { file: string; mutation: string; bytes: Uint8Array } {
  const u = r();
  if (u < 0.5) {
    const file = MANIFEST_FILE;
    if (r() < 0.25) {
      const [mutation, bytes] = byteMutation(artifactFiles(a).get(file)!, r);
      return { file, mutation, bytes };
    }
    const json = JSON.parse(JSON.stringify(a.manifest)) as Json;
    const mutation = jsonEdits(json, r);
    return { file, mutation, bytes: new TextEncoder().encode(`${JSON.stringify(json, null, 1)}\n`) };
  }
  if (u < 0.75) {
    const [mutation, bytes] = byteMutation(a.code, r);
    return { file: a.manifest.files.code, mutation, bytes };
  }
  const [mutation, bytes] = safetensorsMutation(a.params, r);
  return { file: a.manifest.files.params, mutation, bytes };
}

// ---------------------------------------------------------------- data files

const rawBytes = (d: Tensor['data']): Uint8Array => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** A .npy v1.0 file as numpy writes it: the header padded with spaces to a multiple of 64, then the data. */
export function npyFile(t: Tensor): Uint8Array {
  const descr = t.data instanceof Float32Array ? '<f4' : t.data instanceof Int32Array ? '<i4' : '|b1';
  const shape = t.shape.length === 1 ? `${t.shape[0]},` : t.shape.join(', ');
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = `${dict.padEnd(total - 10 - 1, ' ')}\n`;
  const out = new Uint8Array(total + t.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(fromLatin1(header), 10);
  out.set(rawBytes(t.data), total);
  return out;
}

/** An IDX file of unsigned bytes. */
function idxFile(dims: readonly number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, 0x08, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

const batched = (s: TensorSpec): boolean =>
  s.shape.length > 0 && typeof s.shape[0] !== 'number' && s.shape.slice(1).every((d) => typeof d === 'number');

/** IDX holds one f32 image input and at most one i32 label input of shape [B] (cli/data/idx-dir.ts). */
function idxFits(specs: readonly TensorSpec[]): boolean {
  const floats = specs.filter((s) => s.dtype === 'f32');
  const rest = specs.filter((s) => s.dtype !== 'f32');
  return (
    floats.length === 1 &&
    batched(floats[0]!) &&
    (rest.length === 0 || (rest.length === 1 && rest[0]!.dtype === 'i32' && rest[0]!.shape.length === 1))
  );
}

/** CSV holds one features input (static after the first dim) and at most one label input of rank 1 (cli/data/csv.ts). */
function csvFits(specs: readonly TensorSpec[]): boolean {
  if (specs.length === 0 || specs.length > 2 || !specs.every(batched)) return false;
  return specs.length === 1 || specs.filter((s) => s.shape.length === 1).length === 1;
}

/** The files of the data in `format`: paths relative to the data's root, which is what `--inputs` names. */
function dataFiles(
  format: DataFormat,
  specs: readonly TensorSpec[],
  inputs: Readonly<Record<string, Tensor>>,
  r: Rnd,
): { root: string; files: Map<string, Uint8Array> } {
  switch (format) {
    case 'safetensors': {
      const st = new Map<string, StTensor>();
      for (const [k, t] of Object.entries(inputs)) {
        const dtype = t.data instanceof Float32Array ? 'F32' : t.data instanceof Int32Array ? 'I32' : 'BOOL';
        st.set(k, { dtype, shape: [...t.shape], data: t.data });
      }
      // Half as another tool writes it, half as `kiln run --out` does (checksummed).
      const bytes = encodeSafetensors(st, undefined, { checksum: r() < 0.5 });
      return { root: 'inputs.safetensors', files: new Map([['inputs.safetensors', bytes]]) };
    }
    case 'npy':
      return {
        root: 'npy',
        files: new Map(Object.entries(inputs).map(([k, t]) => [`npy/${k}.npy`, npyFile(t)])),
      };
    case 'idx': {
      const image = specs.find((s) => s.dtype === 'f32')!;
      const x = inputs[image.name]!;
      // The values (in (-2, 2)) as bytes: the reader scales them back to [0, 1].
      const pixels = Uint8Array.from(x.data, (v) => Math.max(0, Math.min(255, Math.round(((v + 2) / 4) * 255))));
      const files = new Map([['idx/train-images-idx3-ubyte', idxFile(x.shape, pixels)]]);
      const label = specs.find((s) => s !== image);
      if (label) {
        const y = inputs[label.name]!;
        files.set('idx/train-labels-idx1-ubyte', idxFile(y.shape, Uint8Array.from(y.data)));
      }
      return { root: 'idx', files };
    }
    case 'csv': {
      const label = specs.length === 2 ? specs.find((s) => s.shape.length === 1)! : undefined;
      const features = specs.find((s) => s !== label)!;
      const x = inputs[features.name]!;
      const y = label && inputs[label.name]!;
      const n = x.shape[0]!;
      const per = x.data.length / Math.max(n, 1);
      const head = [...Array.from({ length: per }, (_, i) => `x${i}`), ...(y ? ['label'] : [])].join(',');
      const rows = Array.from({ length: n }, (_, i) =>
        [...Array.from(x.data.subarray(i * per, (i + 1) * per), String), ...(y ? [String(y.data[i])] : [])].join(','),
      );
      return { root: 'data.csv', files: new Map([['data.csv', fromLatin1([head, ...rows, ''].join('\n'))]]) };
    }
  }
}

/** Edits of one format's own fields: lying headers, huge shapes, other dtypes, malformed cells. */
const FORMAT_EDITS: Record<Exclude<DataFormat, 'safetensors'>, Mutation[]> = {
  npy: [
    (b, r) =>
      npyHeader(b, (t) =>
        t.replace(/'shape': \((\d+)/, `'shape': (${pick(r, [1e15, 2 ** 40, 0, 7, 2 ** 53, 2 ** 32])}`),
      ),
    (b, r) =>
      npyHeader(b, (t) =>
        t.replace(
          /'descr': '[^']*'/,
          `'descr': '${pick(r, ['<f2', '<i8', '|u1', '>f4', 'O', '<c8', '<u4', '|i1', '<f8', '|b1', '<u2'])}'`,
        ),
      ),
    (b) => npyHeader(b, (t) => t.replace('False', 'True')),
    (b, r) =>
      npyHeader(b, (t) => t.replace(/'shape': \([^)]*\)/, `'shape': (${pick(r, ['', '-1,', '1, 2, 3, 4, 5', 'x'])})`)),
    (b, r) => {
      const out = b.slice();
      if (out.length > 7) out[6] = pick(r, [0, 2, 3, 4, 255]);
      return out;
    },
    (b, r) => {
      const out = b.slice();
      if (out.length >= 10) new DataView(out.buffer).setUint16(8, int(r, 65536), true);
      return out;
    },
  ],
  idx: [
    (b, r) => {
      const out = b.slice();
      const rank = out[3] ?? 0;
      const i = int(r, Math.max(rank, 1));
      if (out.length >= 8 + 4 * i)
        new DataView(out.buffer).setUint32(4 + 4 * i, pick(r, [0xffffffff, 2 ** 28, 0, 3, 2 ** 31]), false);
      return out;
    },
    (b, r) => {
      const out = b.slice();
      if (out.length >= 4) out[pick(r, [2, 3])] = pick(r, [0, 1, 0x09, 0x0d, 0x0e, 255]);
      return out;
    },
  ],
  csv: [
    (b, r) =>
      fromLatin1(
        latin1(b).replace(
          /\n[^,\n]*/,
          () => `\n${pick(r, ['nan', '1e999', '', '"', 'x', '-1', '2.5', '1e39', 'inf'])}`,
        ),
      ),
    (b, r) => {
      const lines = latin1(b).split('\n');
      const i = int(r, lines.length);
      const how = int(r, 4);
      if (how === 0) lines.splice(i, 1);
      else if (how === 1) lines.splice(i, 0, lines[i] ?? '');
      else if (how === 2) lines[i] = `${lines[i] ?? ''},${pick(r, ['1', '', 'x'])}`;
      else lines[i] = (lines[i] ?? '').replace(/,[^,]*$/, '');
      return fromLatin1(lines.join('\n'));
    },
    (b) => fromLatin1(`\ufeff${latin1(b).replace(/\n/g, '\r\n')}`),
    (b) => fromLatin1(latin1(b).replace(/^[^\n]*\n/, '')),
  ],
};

/** A v1 .npy file with its header text rewritten (the header length updated). */
function npyHeader(b: Uint8Array, f: (text: string) => string): Uint8Array {
  if (b.length < 10) return b.slice();
  const len = new DataView(b.buffer, b.byteOffset).getUint16(8, true);
  const text = fromLatin1(f(latin1(b.subarray(10, 10 + len))));
  const out = new Uint8Array(10 + text.length + Math.max(0, b.length - 10 - len));
  out.set(b.subarray(0, 8));
  new DataView(out.buffer).setUint16(8, text.length & 0xffff, true);
  out.set(text, 10);
  out.set(b.subarray(10 + len), 10 + text.length);
  return out;
}

function mutateData(format: DataFormat, b: Uint8Array, r: Rnd): [string, Uint8Array] {
  if (format === 'safetensors') return safetensorsMutation(b, r);
  if (r() < 0.5) {
    const edits = FORMAT_EDITS[format];
    const i = int(r, edits.length);
    return [`${format} edit ${i}`, edits[i]!(b, r)];
  }
  return byteMutation(b, r);
}

// ---------------------------------------------------------------- the oracle

/** The artifact the campaign's oracles load (`kiln compile --seed 1` without threads) and the case's inputs. */
function buildCase(c: Case): FileMutantOptions['built'] {
  const { result } = compileSource('fuzz.kiln', c.source);
  if (result.diagnostics.length > 0) return undefined;
  const model = result.models[0]!;
  const train = result.trains.find((t) => t.model === model.name);
  const artifact = buildArtifact(
    compile(model, train, { target: 'wasm' }),
    wasmTarget({ relaxedSimd: false, threads: false }),
    { seed: 1 },
  );
  return { artifact, inputs: caseInputs(model, c) };
}

/** Where mutants are written: memory-backed where there is /dev/shm (a disk costs ms per file). */
const SCRATCH = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

function writeAll(dir: string, files: ReadonlyMap<string, Uint8Array>): void {
  for (const [name, bytes] of files) {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, bytes);
  }
}

function crash(where: string, e: unknown, mutant: FileMutant): FileFailure {
  const name = e instanceof Error ? e.name : typeof e;
  const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
  return {
    kind: 'crash',
    where: `${where}: ${name}`,
    detail: [`${mutant.file}: ${mutant.mutation}`, ...msg.split('\n').slice(0, 8)].join('\n'),
    mutant,
  };
}

/**
 * One seeded file mutant of the case's program (which checks): its artifact
 * or its inputs as a data file, damaged and loaded as the CLI loads it.
 * Undefined when that ends in success or a user-facing error.
 */
export async function fileMutantOracle(
  c: Case,
  seed: number,
  opts: FileMutantOptions = {},
): Promise<FileFailure | undefined> {
  const r = mulberry32(seed ^ 0x5bd1e995);
  const built = opts.built ?? buildCase(c);
  if (!built) return undefined;
  const { artifact, inputs } = built;
  const { manifest } = artifact;
  const part = opts.part ?? (seed % 2 === 0 ? 'artifact' : 'data');
  const files = artifactFiles(artifact);
  let mutant: FileMutant;
  let data: { root: string; files: Map<string, Uint8Array> };
  if (part === 'artifact') {
    data = dataFiles('safetensors', manifest.inputs, inputs, () => 1);
    const m = mutateArtifact(artifact, r);
    files.set(m.file, m.bytes);
    mutant = { part, ...m };
  } else {
    const fits: DataFormat[] = ['safetensors', 'npy'];
    if (idxFits(manifest.inputs)) fits.push('idx');
    if (csvFits(manifest.inputs)) fits.push('csv');
    const format = opts.format ?? fits[(seed >>> 1) % fits.length]!;
    data = dataFiles(format, manifest.inputs, inputs, r);
    const file = pick(r, [...data.files.keys()]);
    const [mutation, bytes] = mutateData(format, data.files.get(file)!, r);
    data.files.set(file, bytes);
    mutant = { part, format, file, mutation, bytes };
  }
  // A directory per call, removed after it: a worker terminated mid-call leaves at most one.
  const dir = mkdtempSync(join(SCRATCH, 'kiln-fuzz-'));
  const where = part === 'artifact' ? 'artifact mutant' : `data mutant: ${mutant.format}`;
  const start = Date.now();
  try {
    writeAll(join(dir, 'artifact'), files);
    writeAll(dir, data.files);
    await (opts.loader ?? kilnLoader)({
      artifact: join(dir, 'artifact'),
      inputs: join(dir, data.root),
      manifest,
      part,
      mutant,
    });
  } catch (e) {
    if (!isUserFacing(e)) return crash(where, e, mutant);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = Date.now() - start;
  if (ms > SLOW_MS)
    return { kind: 'crash', where: `${where}: slow`, detail: `${mutant.file}: ${mutant.mutation}: ${ms} ms`, mutant };
  return undefined;
}
