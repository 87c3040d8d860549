// Validation of everything an artifact can get wrong, before any of it is
// used: the manifest's every field (types, ranges, cross references between
// buffers, storages, kernels, params and the train block), and the initial
// parameters file against the manifest. Errors name the file and the path
// of the field: `model/manifest.json: forward.kernels[3].buffers[2]: buffer
// 41 does not exist`.
//
// Browser-safe: no `node:` imports.

import type {
  BufferSpec,
  DTypeSpec,
  DimSpec,
  GpuKernelSpec,
  GpuSplitSpec,
  IdRangeSpec,
  KernelSpec,
  LensSpec,
  Manifest,
  OptimizerSpec,
  ParamSpec,
  ProgramSpec,
  ShaderFile,
  TensorSpec,
  TrainSpec,
} from './manifest.js';
import { type LensKind, lensInterface } from './lens-interface.js';
import { hostScalars, refreshesAt } from './optimizers/host-scalars.js';
import { scheduleValue } from './optimizers/schedules.js';
import { type HyperValue, isGlobalState, isSupportedOptimizer, SUPPORTED_OPTIMIZERS } from './optimizers/spec.js';
import { nonfiniteSpec } from './nonfinite.js';
import { manifestPrograms } from './programs.js';
import type { StTensor } from './safetensors.js';

/** A mistake of the runtime's caller: a bad artifact, a wrong tensor, an unknown name. */
export class KilnRuntimeError extends Error {
  override name = 'KilnRuntimeError';
}

/** A malformed artifact, or one that does not match this runtime. */
export class ArtifactError extends KilnRuntimeError {
  override name = 'ArtifactError';
}

export const MANIFEST_FORMAT = 'kiln-artifact';
export const MANIFEST_VERSION = 1;

const DTYPES: readonly DTypeSpec[] = ['f32', 'i32', 'bool'];
const KERNEL_KINDS = ['elementwise', 'reduce', 'rowwise', 'matmul', 'scatter'] as const;
const FEATURES = ['simd', 'relaxed-simd', 'threads'] as const;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Artifact file names: no directories, so an artifact never reads outside its own directory. */
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** Addresses are i32 byte offsets. */
const MAX_ADDRESS = 2 ** 31;

// ------------------------------------------------------------ dims

/** `2*B`, `B*T`, `784`. */
export function formatDimSpec(d: DimSpec): string {
  if (typeof d === 'number') return String(d);
  const syms = d.syms.join('*');
  return d.coef === 1 ? syms : `${d.coef}*${syms}`;
}

/** `f32[B, 784]`. */
export function formatTensorType(dtype: string, shape: readonly DimSpec[]): string {
  return `${dtype}[${shape.map(formatDimSpec).join(', ')}]`;
}

/** The product of dims, as one dim (numbers and monomials multiply into a monomial). */
export function dimProduct(dims: readonly DimSpec[]): DimSpec {
  let coef = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') coef *= d;
    else {
      coef *= d.coef;
      syms.push(...d.syms);
    }
  }
  if (syms.length === 0 || coef === 0) return coef;
  return { coef, syms: syms.sort() };
}

export function dimSpecEq(a: DimSpec, b: DimSpec): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  if (a.coef !== b.coef || a.syms.length !== b.syms.length) return false;
  const x = [...a.syms].sort();
  const y = [...b.syms].sort();
  return x.every((s, i) => s === y[i]);
}

/** The symbols a dim mentions. */
function symsOf(d: DimSpec | readonly { readonly syms: readonly string[] }[]): string[] {
  if (typeof d === 'number') return [];
  if (Array.isArray(d)) return (d as readonly { readonly syms: readonly string[] }[]).flatMap((t) => [...t.syms]);
  return [...(d as { syms: readonly string[] }).syms];
}

// ------------------------------------------------------------ the checker

type Obj = Record<string, unknown>;

class Checker {
  constructor(readonly source: string) {}

  fail(path: string, msg: string): never {
    throw new ArtifactError(`${this.source}: ${path ? `${path}: ` : ''}${msg}`);
  }

  obj(v: unknown, path: string, keys: readonly string[], optional: readonly string[] = []): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `expected an object, got ${show(v)}`);
    const o = v as Obj;
    for (const k of keys) if (!Object.hasOwn(o, k)) this.fail(path, `missing field '${k}'`);
    for (const k of Object.keys(o))
      if (!keys.includes(k) && !optional.includes(k))
        this.fail(path, `unknown field '${k}' (expected ${[...keys, ...optional].join(', ')})`);
    return o;
  }

  arr(v: unknown, path: string): readonly unknown[] {
    if (!Array.isArray(v)) this.fail(path, `expected an array, got ${show(v)}`);
    return v as unknown[];
  }

  str(v: unknown, path: string): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(path, `expected a non-empty string, got ${show(v)}`);
    return v as string;
  }

  int(v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      this.fail(path, `expected an integer in [${min}, ${max}], got ${show(v)}`);
    return v as number;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
      this.fail(path, `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(v)}`);
    return v as T;
  }

  dim(v: unknown, path: string, symbols?: ReadonlySet<string>): DimSpec {
    if (typeof v === 'number') return this.int(v, path);
    const o = this.obj(v, path, ['coef', 'syms']);
    const coef = this.int(o['coef'], `${path}.coef`, 1);
    const syms = this.arr(o['syms'], `${path}.syms`).map((s, i) => {
      const name = this.str(s, `${path}.syms[${i}]`);
      if (!IDENT.test(name)) this.fail(`${path}.syms[${i}]`, `'${name}' is not a dimension name`);
      if (symbols && !symbols.has(name))
        this.fail(`${path}.syms[${i}]`, `dimension '${name}' is not bound by any input (inputs bind ${list(symbols)})`);
      return name;
    });
    if (syms.length === 0) this.fail(`${path}.syms`, 'a symbolic dimension needs at least one symbol');
    return { coef, syms };
  }

  tensor(v: unknown, path: string, symbols?: ReadonlySet<string>): TensorSpec {
    const o = this.obj(v, path, ['name', 'dtype', 'shape']);
    return {
      name: this.str(o['name'], `${path}.name`),
      dtype: this.oneOf(o['dtype'], `${path}.dtype`, DTYPES),
      shape: this.arr(o['shape'], `${path}.shape`).map((d, i) => this.dim(d, `${path}.shape[${i}]`, symbols)),
    };
  }

  uniqueNames<T extends { name: string }>(items: readonly T[], path: string, what: string): Map<string, T> {
    const out = new Map<string, T>();
    items.forEach((t, i) => {
      if (out.has(t.name)) this.fail(`${path}[${i}].name`, `${what} '${t.name}' is declared twice`);
      out.set(t.name, t);
    });
    return out;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function list(names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? 'none' : all.join(', ');
}

// ------------------------------------------------------------ the manifest

interface ProgramContext {
  readonly symbols: ReadonlySet<string>;
  readonly inputs: ReadonlyMap<string, TensorSpec>;
  readonly outputs: ReadonlyMap<string, TensorSpec>;
  readonly params: ReadonlyMap<string, ParamSpec>;
  /** The scalars the runtime can supply to this program. */
  readonly scalars: ReadonlySet<string>;
  readonly target: 'wasm' | 'webgpu';
}

/**
 * Checks every field of a parsed manifest.json and every cross reference;
 * returns it typed. `source` names the file in messages. Throws ArtifactError.
 */
export function validateManifest(json: unknown, source: string): Manifest {
  const c = new Checker(source);
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    c.fail('', `expected a JSON object (a Kiln artifact manifest), got ${show(json)}`);
  const top = json as Obj;
  if (top['format'] !== MANIFEST_FORMAT)
    c.fail('format', `expected '${MANIFEST_FORMAT}', got ${show(top['format'])}: this is not a Kiln artifact manifest`);
  if (top['version'] !== MANIFEST_VERSION)
    c.fail(
      'version',
      `artifact version ${show(top['version'])} is not supported: this runtime reads version ${MANIFEST_VERSION} (recompile the model with a matching Kiln)`,
    );
  c.obj(
    top,
    '',
    ['format', 'version', 'model', 'target', 'files', 'memory', 'inputs', 'outputs', 'params', 'features'],
    ['forward', 'train', 'jvp', 'vjp', 'ids'],
  );
  const model = c.str(top['model'], 'model');
  const target = c.oneOf(top['target'], 'target', ['wasm', 'webgpu'] as const);
  const f = c.obj(top['files'], 'files', ['code', 'params'], ['codeXxh32']);
  const file = (k: string) => {
    const name = c.str(f[k], `files.${k}`);
    if (!FILE_NAME.test(name) || name === '.' || name === '..')
      c.fail(`files.${k}`, `'${name}' must be a plain file name inside the artifact directory`);
    return name;
  };
  const digest = f['codeXxh32'] === undefined ? undefined : c.str(f['codeXxh32'], 'files.codeXxh32');
  if (digest !== undefined && !/^[0-9a-f]{8}$/.test(digest))
    c.fail('files.codeXxh32', `expected 8 lowercase hex digits, got ${show(digest)}`);
  const files = { code: file('code'), params: file('params'), ...(digest !== undefined && { codeXxh32: digest }) };
  const mem = c.obj(top['memory'], 'memory', ['base']);
  const base = c.int(mem['base'], 'memory.base', 0, MAX_ADDRESS - 1);
  if (base % 16 !== 0) c.fail('memory.base', `${base} is not a multiple of 16`);

  const inputs = c.arr(top['inputs'], 'inputs').map((t, i) => c.tensor(t, `inputs[${i}]`));
  const inputMap = c.uniqueNames(inputs, 'inputs', 'input');
  const symbols = new Set(inputs.flatMap((t) => t.shape.flatMap((d) => symsOf(d))));
  const outputs = c.arr(top['outputs'], 'outputs').map((t, i) => c.tensor(t, `outputs[${i}]`, symbols));
  const outputMap = c.uniqueNames(outputs, 'outputs', 'output');

  const params = c.arr(top['params'], 'params').map((v, i): ParamSpec => {
    const path = `params[${i}]`;
    const o = c.obj(v, path, ['name', 'dtype', 'shape', 'role']);
    const t = c.tensor({ name: o['name'], dtype: o['dtype'], shape: o['shape'] }, path);
    t.shape.forEach((d, j) => {
      if (typeof d !== 'number') c.fail(`${path}.shape[${j}]`, `params have static shapes, got ${formatDimSpec(d)}`);
    });
    return { ...t, role: c.oneOf(o['role'], `${path}.role`, ['param', 'state'] as const) };
  });
  const paramMap = c.uniqueNames(params, 'params', 'param');
  params.forEach((p, i) => {
    if (p.role !== 'state' || isGlobalState(p.name, p.shape)) return;
    const owner = paramMap.get(p.name.slice(0, p.name.lastIndexOf('.')));
    if (!p.name.includes('.') || !owner || owner.role !== 'param')
      c.fail(`params[${i}].name`, `optimizer state '${p.name}' must be named <param>.<state> after a param`);
  });

  const ctx = { symbols, inputs: inputMap, outputs: outputMap, params: paramMap, target };
  let forward: ProgramSpec | undefined;
  if (top['forward'] !== undefined) {
    const fwd = validateProgram(c, top['forward'], 'forward', { ...ctx, scalars: new Set() });
    const produced = new Set(fwd.outputs.map((o) => o.name));
    outputs.forEach((o, i) => {
      if (!produced.has(o.name)) c.fail(`outputs[${i}]`, `output '${o.name}' is not computed by the forward program`);
    });
    forward = fwd;
  }

  const train = top['train'] === undefined ? undefined : validateTrain(c, top['train'], ctx, params);
  const declared = { inputs, outputs, params };
  const lens = (kind: LensKind) =>
    top[kind] === undefined ? undefined : validateLens(c, top[kind], kind, lensInterface(kind, declared), ctx);
  const jvp = lens('jvp');
  const vjp = lens('vjp');
  if (!forward && !train && !jvp && !vjp)
    c.fail('', 'the artifact has no program (expected at least one of forward, train, jvp, vjp)');

  const features = c.arr(top['features'], 'features').map((v, i) => c.oneOf(v, `features[${i}]`, FEATURES));
  if (new Set(features).size !== features.length) c.fail('features', 'a feature is listed twice');
  const ids = top['ids'] === undefined ? undefined : validateIds(c, top['ids'], inputMap);

  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    model,
    target,
    files,
    memory: { base },
    inputs,
    outputs,
    params,
    ...(forward && { forward }),
    ...(train && { train }),
    ...(jvp && { jvp }),
    ...(vjp && { vjp }),
    features,
    ...(ids && { ids }),
  };
}

/** `ids`: for some inputs, the range of values the model gives them. */
function validateIds(
  c: Checker,
  v: unknown,
  inputs: ReadonlyMap<string, TensorSpec>,
): Readonly<Record<string, IdRangeSpec>> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) c.fail('ids', `expected an object, got ${show(v)}`);
  const out: Record<string, IdRangeSpec> = {};
  for (const [name, r] of Object.entries(v as Obj)) {
    const path = `ids.${name}`;
    if (!inputs.has(name)) c.fail(path, `'${name}' is not an input`);
    const f = c.obj(r, path, ['lo', 'hi', 'hiIncluded', 'why']);
    const num = (k: string) => {
      const x = f[k];
      if (typeof x !== 'number' || !Number.isFinite(x))
        c.fail(`${path}.${k}`, `expected a finite number, got ${show(x)}`);
      return x as number;
    };
    const lo = num('lo');
    const hi = num('hi');
    if (hi < lo) c.fail(path, `hi ${hi} is below lo ${lo}`);
    if (typeof f['hiIncluded'] !== 'boolean')
      c.fail(`${path}.hiIncluded`, `expected true or false, got ${show(f['hiIncluded'])}`);
    out[name] = { lo, hi, hiIncluded: f['hiIncluded'] as boolean, why: c.str(f['why'], `${path}.why`) };
  }
  return out;
}

/**
 * A lens entry: its inputs and outputs exactly as lens-interface.ts derives
 * them from the manifest's tensors, and a program over them.
 */
function validateLens(
  c: Checker,
  v: unknown,
  kind: LensKind,
  want: { readonly inputs: readonly TensorSpec[]; readonly outputs: readonly TensorSpec[] },
  ctx: Omit<ProgramContext, 'scalars'>,
): LensSpec {
  const o = c.obj(v, kind, ['inputs', 'outputs', 'program']);
  const tensors = (field: 'inputs' | 'outputs', expected: readonly TensorSpec[]): TensorSpec[] => {
    const path = `${kind}.${field}`;
    const got = c.arr(o[field], path).map((t, i) => c.tensor(t, `${path}[${i}]`, ctx.symbols));
    const shown = (t: TensorSpec) => `${t.name}: ${formatTensorType(t.dtype, t.shape)}`;
    expected.forEach((e, i) => {
      const g = got[i];
      if (!g) c.fail(path, `missing ${shown(e)} (expected ${expected.length} tensors, got ${got.length})`);
      if (g.name !== e.name || g.dtype !== e.dtype || g.shape.length !== e.shape.length)
        c.fail(`${path}[${i}]`, `expected ${shown(e)}, got ${shown(g)}`);
      g.shape.forEach((d, j) => {
        if (!dimSpecEq(d, e.shape[j]!)) c.fail(`${path}[${i}].shape[${j}]`, `expected ${shown(e)}, got ${shown(g)}`);
      });
    });
    if (got.length > expected.length)
      c.fail(
        `${path}[${expected.length}]`,
        `unexpected tensor '${got[expected.length]!.name}' (expected ${expected.length} tensors)`,
      );
    return got;
  };
  const inputs = tensors('inputs', want.inputs);
  const outputs = tensors('outputs', want.outputs);
  const program = validateProgram(c, o['program'], `${kind}.program`, {
    ...ctx,
    inputs: new Map(inputs.map((t) => [t.name, t])),
    outputs: new Map(outputs.map((t) => [t.name, t])),
    scalars: new Set(),
  });
  const produced = new Set(program.outputs.map((x) => x.name));
  outputs.forEach((t, i) => {
    if (!produced.has(t.name))
      c.fail(`${kind}.outputs[${i}]`, `output '${t.name}' is not computed by the ${kind} program`);
  });
  return { inputs, outputs, program };
}

function validateProgram(c: Checker, v: unknown, path: string, ctx: ProgramContext): ProgramSpec {
  const o = c.obj(v, path, ['buffers', 'kernels', 'outputs', 'assigns', 'scalars', 'zeroed']);

  const scalars = c.arr(o['scalars'], `${path}.scalars`).map((s, i) => {
    const name = c.str(s, `${path}.scalars[${i}]`);
    if (!ctx.scalars.has(name))
      c.fail(
        `${path}.scalars[${i}]`,
        `the runtime cannot supply scalar '${name}' to this program (it supplies ${list(ctx.scalars)})`,
      );
    return name;
  });
  if (new Set(scalars).size !== scalars.length) c.fail(`${path}.scalars`, 'a scalar is listed twice');

  // Buffers: ids, roles against the manifest's tensors, then storages.
  const byId = new Map<number, BufferSpec>();
  const roleNames = new Set<string>();
  const buffers = c.arr(o['buffers'], `${path}.buffers`).map((bv, i): BufferSpec => {
    const bp = `${path}.buffers[${i}]`;
    const b = c.obj(bv, bp, ['id', 'dtype', 'size', 'role', 'storage']);
    const id = c.int(b['id'], `${bp}.id`);
    if (byId.has(id)) c.fail(`${bp}.id`, `buffer ${id} is declared twice`);
    const dtype = c.oneOf(b['dtype'], `${bp}.dtype`, DTYPES);
    const size = c.dim(b['size'], `${bp}.size`, ctx.symbols);
    const r = c.obj(b['role'], `${bp}.role`, ['kind'], ['name']);
    const kind = c.oneOf(r['kind'], `${bp}.role.kind`, ['input', 'param', 'output', 'temp'] as const);
    let role: BufferSpec['role'];
    if (kind === 'temp') {
      if (r['name'] !== undefined) c.fail(`${bp}.role`, 'a temp has no name');
      role = { kind };
    } else {
      const name = c.str(r['name'], `${bp}.role.name`);
      const pool: ReadonlyMap<string, TensorSpec> =
        kind === 'input' ? ctx.inputs : kind === 'param' ? ctx.params : ctx.outputs;
      const t = pool.get(name);
      if (!t) c.fail(`${bp}.role.name`, `${kind} '${name}' is not declared in the manifest's ${kind}s`);
      if (roleNames.has(`${kind}:${name}`)) c.fail(`${bp}.role`, `${kind} '${name}' has two buffers`);
      roleNames.add(`${kind}:${name}`);
      if (t.dtype !== dtype) c.fail(`${bp}.dtype`, `${kind} '${name}' is ${t.dtype}, but its buffer is ${dtype}`);
      const want = dimProduct(t.shape);
      if (!dimSpecEq(want, size))
        c.fail(
          `${bp}.size`,
          `${kind} '${name}' (${formatTensorType(t.dtype, t.shape)}) has ${formatDimSpec(want)} elements, but its buffer holds ${formatDimSpec(size)}`,
        );
      role = { kind, name };
    }
    const storage = c.int(b['storage'], `${bp}.storage`);
    const spec: BufferSpec = { id, dtype, size, role, storage };
    byId.set(id, spec);
    return spec;
  });
  const storageRoots = new Set<number>();
  buffers.forEach((b, i) => {
    const bp = `${path}.buffers[${i}]`;
    const root = byId.get(b.storage);
    if (!root) c.fail(`${bp}.storage`, `storage ${b.storage} is not a buffer of this program`);
    if (root.storage !== root.id)
      c.fail(
        `${bp}.storage`,
        `storage ${b.storage} is buffer ${root.id}, which itself lives in storage ${root.storage}`,
      );
    if (b.role.kind !== 'temp' && b.storage !== b.id)
      c.fail(`${bp}.storage`, `${b.role.kind} buffer ${b.id} must have a storage of its own`);
    if (b.storage !== b.id) {
      if (root.role.kind !== 'temp')
        c.fail(`${bp}.storage`, `temp ${b.id} cannot share the storage of ${root.role.kind} '${root.role.name}'`);
      if (!dimSpecEq(root.size, b.size))
        c.fail(
          `${bp}.size`,
          `buffer ${b.id} (${formatDimSpec(b.size)} elements) shares storage ${root.id} of ${formatDimSpec(root.size)} elements`,
        );
    }
    storageRoots.add(b.storage);
  });

  const kernels = c
    .arr(o['kernels'], `${path}.kernels`)
    .map((kv, i) => validateKernel(c, kv, `${path}.kernels[${i}]`, byId, ctx, new Set(scalars)));

  const bufferRef = (v: unknown, p: string): BufferSpec => {
    const id = c.int(v, p);
    const b = byId.get(id);
    if (!b) c.fail(p, `buffer ${id} does not exist`);
    return b;
  };
  const outNames = new Set<string>();
  const outputs = c.arr(o['outputs'], `${path}.outputs`).map((ov, i) => {
    const op = `${path}.outputs[${i}]`;
    const x = c.obj(ov, op, ['name', 'buf']);
    const name = c.str(x['name'], `${op}.name`);
    if (!ctx.outputs.has(name)) c.fail(`${op}.name`, `output '${name}' is not declared in the manifest's outputs`);
    if (outNames.has(name)) c.fail(`${op}.name`, `output '${name}' is listed twice`);
    outNames.add(name);
    const b = bufferRef(x['buf'], `${op}.buf`);
    if (b.role.kind !== 'output' || b.role.name !== name)
      c.fail(`${op}.buf`, `buffer ${b.id} is not the output buffer of '${name}'`);
    return { name, buf: b.id };
  });
  const assigns = c.arr(o['assigns'], `${path}.assigns`).map((av, i) => {
    const ap = `${path}.assigns[${i}]`;
    const x = c.obj(av, ap, ['target', 'buf']);
    const target = c.str(x['target'], `${ap}.target`);
    const p = ctx.params.get(target);
    if (!p) c.fail(`${ap}.target`, `param '${target}' is not declared in the manifest's params`);
    const b = bufferRef(x['buf'], `${ap}.buf`);
    if (b.dtype !== p.dtype || !dimSpecEq(b.size, dimProduct(p.shape)))
      c.fail(
        `${ap}.buf`,
        `buffer ${b.id} (${b.dtype}, ${formatDimSpec(b.size)} elements) cannot hold param '${target}' (${formatTensorType(p.dtype, p.shape)})`,
      );
    return { target, buf: b.id };
  });
  if (new Set(assigns.map((a) => a.target)).size !== assigns.length)
    c.fail(`${path}.assigns`, 'a param is assigned twice');

  const zeroed = c.arr(o['zeroed'], `${path}.zeroed`).map((zv, i) => {
    const b = bufferRef(zv, `${path}.zeroed[${i}]`);
    if (b.storage !== b.id) c.fail(`${path}.zeroed[${i}]`, `buffer ${b.id} is not a storage`);
    if (b.role.kind === 'input' || b.role.kind === 'param')
      c.fail(`${path}.zeroed[${i}]`, `storage ${b.id} holds ${b.role.kind} '${b.role.name}', which must not be zeroed`);
    return b.id;
  });

  return { buffers, kernels, outputs, assigns, scalars, zeroed };
}

function validateKernel(
  c: Checker,
  v: unknown,
  path: string,
  byId: ReadonlyMap<number, BufferSpec>,
  ctx: ProgramContext,
  scalars: ReadonlySet<string>,
): KernelSpec {
  const o = c.obj(
    v,
    path,
    ['name', 'entry', 'kind', 'buffers', 'dims', 'scalars', 'split', 'flops'],
    ctx.target === 'webgpu' ? ['gpu'] : ['scratch', 'chunking'],
  );
  const name = c.str(o['name'], `${path}.name`);
  const entry = c.str(o['entry'], `${path}.entry`);
  const kind = c.oneOf(o['kind'], `${path}.kind`, KERNEL_KINDS);
  const buffers = c.arr(o['buffers'], `${path}.buffers`).map((bv, i) => {
    const id = c.int(bv, `${path}.buffers[${i}]`);
    if (!byId.has(id)) c.fail(`${path}.buffers[${i}]`, `buffer ${id} does not exist`);
    return id;
  });
  const dims = c.arr(o['dims'], `${path}.dims`).map((dv, i) => {
    const d = c.str(dv, `${path}.dims[${i}]`);
    if (!ctx.symbols.has(d))
      c.fail(`${path}.dims[${i}]`, `dimension '${d}' is not bound by any input (inputs bind ${list(ctx.symbols)})`);
    return d;
  });
  if (new Set(dims).size !== dims.length) c.fail(`${path}.dims`, 'a dimension is listed twice');
  const ks = c.arr(o['scalars'], `${path}.scalars`).map((sv, i) => {
    const s = c.str(sv, `${path}.scalars[${i}]`);
    if (!scalars.has(s)) c.fail(`${path}.scalars[${i}]`, `scalar '${s}' is not one of the program's scalars`);
    return s;
  });
  const split = c.dim(o['split'], `${path}.split`, ctx.symbols);
  const flopsRaw = o['flops'];
  let flops: KernelSpec['flops'];
  if (Array.isArray(flopsRaw)) {
    flops = flopsRaw.map((t, i) => {
      const tp = `${path}.flops[${i}]`;
      const x = c.obj(t, tp, ['coef', 'syms']);
      const coef = x['coef'];
      if (typeof coef !== 'number' || !Number.isFinite(coef))
        c.fail(`${tp}.coef`, `expected a number, got ${show(coef)}`);
      const syms = c.arr(x['syms'], `${tp}.syms`).map((s, j) => {
        const n = c.str(s, `${tp}.syms[${j}]`);
        if (!ctx.symbols.has(n)) c.fail(`${tp}.syms[${j}]`, `dimension '${n}' is not bound by any input`);
        return n;
      });
      return { coef: coef as number, syms };
    });
  } else flops = c.dim(flopsRaw, `${path}.flops`, ctx.symbols);
  const scratch = o['scratch'];
  if (scratch !== undefined && typeof scratch !== 'boolean')
    c.fail(`${path}.scratch`, `expected true or false, got ${show(scratch)}`);
  const chunking = o['chunking'];
  if (chunking !== undefined && chunking !== 'per-thread')
    c.fail(`${path}.chunking`, `expected 'per-thread', got ${show(chunking)}`);
  if (ctx.target === 'webgpu' && o['gpu'] === undefined)
    c.fail(path, 'a webgpu kernel needs its gpu binding (field gpu)');
  const gpu = ctx.target === 'webgpu' ? validateGpuKernel(c, o['gpu'], `${path}.gpu`, byId, ctx, ks.length) : undefined;
  return {
    name,
    entry,
    kind,
    buffers,
    dims,
    scalars: ks,
    split,
    flops,
    ...(scratch === true && { scratch: true }),
    ...(chunking === 'per-thread' && { chunking: 'per-thread' as const }),
    ...(gpu && { gpu }),
  };
}

/** The webgpu binding and dispatch of a kernel (runtime/manifest.ts GpuKernelSpec). */
function validateGpuKernel(
  c: Checker,
  v: unknown,
  path: string,
  byId: ReadonlyMap<number, BufferSpec>,
  ctx: ProgramContext,
  scalars: number,
): GpuKernelSpec {
  const o = c.obj(v, path, ['bindings', 'scalarTypes', 'grid'], ['uniform', 'split']);
  const seen = new Set<number>();
  const bindings = c.arr(o['bindings'], `${path}.bindings`).map((bv, i) => {
    const bp = `${path}.bindings[${i}]`;
    const b = c.obj(bv, bp, ['buf', 'access']);
    const buf = c.int(b['buf'], `${bp}.buf`);
    if (!byId.has(buf)) c.fail(`${bp}.buf`, `buffer ${buf} does not exist`);
    if (seen.has(buf)) c.fail(`${bp}.buf`, `buffer ${buf} is bound twice`);
    seen.add(buf);
    return { buf, access: c.oneOf(b['access'], `${bp}.access`, ['read', 'readwrite'] as const) };
  });
  const scalarTypes = c
    .arr(o['scalarTypes'], `${path}.scalarTypes`)
    .map((t, i) => c.oneOf(t, `${path}.scalarTypes[${i}]`, ['f32', 'i32'] as const));
  if (scalarTypes.length !== scalars)
    c.fail(`${path}.scalarTypes`, `expected ${scalars} types (one per scalar), got ${scalarTypes.length}`);
  let uniform: GpuKernelSpec['uniform'];
  if (o['uniform'] !== undefined) {
    const u = c.obj(o['uniform'], `${path}.uniform`, ['binding', 'bytes']);
    const binding = c.int(u['binding'], `${path}.uniform.binding`);
    if (binding !== bindings.length)
      c.fail(`${path}.uniform.binding`, `expected ${bindings.length} (after the storage bindings), got ${binding}`);
    const bytes = c.int(u['bytes'], `${path}.uniform.bytes`, 16, 65536);
    if (bytes % 16 !== 0) c.fail(`${path}.uniform.bytes`, `${bytes} is not a multiple of 16`);
    uniform = { binding, bytes };
  }
  let split: GpuSplitSpec | undefined;
  if (o['split'] !== undefined) {
    const sp = `${path}.split`;
    const so = c.obj(o['split'], sp, ['extent', 'at', 'strides'], ['step']);
    const extent = c.dim(so['extent'], `${sp}.extent`, ctx.symbols);
    const strides = c
      .arr(so['strides'], `${sp}.strides`)
      .map((d, i) => (d === null ? null : c.dim(d, `${sp}.strides[${i}]`, ctx.symbols)));
    if (strides.length !== bindings.length)
      c.fail(`${sp}.strides`, `expected ${bindings.length} strides (one per binding), got ${strides.length}`);
    if (strides.some((d) => d !== null && (typeof d === 'number' ? d : d.coef) < 1))
      c.fail(`${sp}.strides`, 'a stride must be positive');
    const at = c.int(so['at'], `${sp}.at`, 0);
    const fields = 2 + strides.filter((d) => d !== null).length;
    if (!uniform) c.fail(sp, 'a split kernel needs a uniform block');
    else if (at % 4 !== 0 || at + 4 * fields > uniform.bytes)
      c.fail(`${sp}.at`, `${at}: its ${fields} fields do not fit the ${uniform.bytes}-byte uniform block`);
    const step = so['step'] === undefined ? undefined : c.int(so['step'], `${sp}.step`, 1, 64);
    split = { extent, at, strides, ...(step !== undefined && { step }) };
  }
  const grid = c.arr(o['grid'], `${path}.grid`).map((gv, i) => {
    const gp = `${path}.grid[${i}]`;
    const g = c.obj(gv, gp, ['extent', 'per'], ['p0']);
    if (g['p0'] !== undefined && (g['p0'] !== true || !split))
      c.fail(`${gp}.p0`, split ? 'must be true when present' : 'only a split kernel has p0 grid entries');
    return {
      extent: c.dim(g['extent'], `${gp}.extent`, ctx.symbols),
      per: c.int(g['per'], `${gp}.per`, 1),
      ...(g['p0'] === true && { p0: true as const }),
    };
  });
  return { bindings, scalarTypes, grid, ...(uniform && { uniform }), ...(split && { split }) };
}

function validateOptimizer(c: Checker, v: unknown, path: string): OptimizerSpec {
  const opt = c.obj(v, path, ['name', 'hyper'], ['inner']);
  const name = c.str(opt['name'], `${path}.name`);
  if (!isSupportedOptimizer(name) && opt['inner'] === undefined)
    c.fail(
      `${path}.name`,
      `optimizer '${name}' is not supported by this runtime (supported: ${SUPPORTED_OPTIMIZERS.join(', ')})`,
    );
  const raw = c.obj(opt['hyper'], `${path}.hyper`, [], Object.keys((opt['hyper'] ?? {}) as Obj));
  const hyper: Record<string, HyperValue> = {};
  for (const [k, hv] of Object.entries(raw)) {
    if (typeof hv !== 'number' && typeof hv !== 'boolean')
      c.fail(`${path}.hyper.${k}`, `expected a number or a boolean, got ${show(hv)}`);
    hyper[k] = hv as HyperValue;
  }
  const inner = opt['inner'] === undefined ? undefined : validateOptimizer(c, opt['inner'], `${path}.inner`);
  return { name, hyper, ...(inner && { inner }) };
}

function validateTrain(
  c: Checker,
  v: unknown,
  ctx: Omit<ProgramContext, 'scalars'>,
  params: readonly ParamSpec[],
): TrainSpec {
  const o = c.obj(
    v,
    'train',
    ['program', 'loss', 'optimizer', 'trainable'],
    ['schedule', 'clip', 'gradNoise', 'plain'],
  );
  const optimizer = validateOptimizer(c, o['optimizer'], 'train.optimizer');
  const attempt = <T>(p: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      return c.fail(p, e instanceof Error ? e.message : String(e));
    }
  };
  let schedule: TrainSpec['schedule'];
  if (o['schedule'] !== undefined) {
    const s = c.obj(o['schedule'], 'train.schedule', ['name', 'args']);
    const name = c.str(s['name'], 'train.schedule.name');
    c.obj(s['args'], 'train.schedule.args', [], Object.keys((s['args'] ?? {}) as Obj));
    const args: Record<string, number | boolean> = {};
    for (const [k, av] of Object.entries(s['args'] as Obj)) {
      if (typeof av !== 'number' && typeof av !== 'boolean')
        c.fail(`train.schedule.args.${k}`, `expected a number or a boolean, got ${show(av)}`);
      args[k] = av as number | boolean;
    }
    schedule = { name, args };
    const sch = schedule;
    attempt('train.schedule', () => scheduleValue(sch, 1e-3, 0));
  }

  let clip: TrainSpec['clip'];
  if (o['clip'] !== undefined) {
    const cl = c.obj(o['clip'], 'train.clip', ['kind', 'max']);
    const kind = c.oneOf(cl['kind'], 'train.clip.kind', ['global_norm', 'value'] as const);
    const max = cl['max'];
    if (typeof max !== 'number' || !Number.isFinite(max) || !(max > 0))
      c.fail('train.clip.max', `expected a positive number, got ${show(max)}`);
    clip = { kind, max: max as number };
  }

  let noise: TrainSpec['gradNoise'];
  if (o['gradNoise'] !== undefined) {
    const n = c.obj(o['gradNoise'], 'train.gradNoise', ['eta', 'gamma']);
    for (const k of ['eta', 'gamma'])
      if (typeof n[k] !== 'number' || !Number.isFinite(n[k]))
        c.fail(`train.gradNoise.${k}`, `expected a number, got ${show(n[k])}`);
    noise = { eta: n['eta'] as number, gamma: n['gamma'] as number };
  }

  // The host computes the step's scalars from these: they must work at t = 1.
  const supplied = attempt('train.optimizer', () =>
    Object.keys(hostScalars(optimizer, schedule, 1, clip, ...(noise ? [noise] : []))),
  );
  const trainable = c.arr(o['trainable'], 'train.trainable').map((tv, i) => {
    const name = c.str(tv, `train.trainable[${i}]`);
    const p = params.find((x) => x.name === name);
    if (!p || p.role !== 'param') c.fail(`train.trainable[${i}]`, `'${name}' is not a param of the manifest`);
    if (p.dtype !== 'f32') c.fail(`train.trainable[${i}]`, `param '${name}' is ${p.dtype}; only f32 params train`);
    return name;
  });
  if (new Set(trainable).size !== trainable.length) c.fail('train.trainable', 'a param is listed twice');
  // The step's programs may also output the non-finite flags (runtime/nonfinite.ts).
  const flags = nonfiniteSpec(trainable);
  const outputs = new Map([...ctx.outputs, [flags.name, flags] as const]);
  const programCtx = { ...ctx, outputs, scalars: new Set([...supplied, '@seed']) };
  const program = validateProgram(c, o['program'], 'train.program', programCtx);
  let plain: TrainSpec['plain'];
  if (o['plain'] !== undefined) {
    const pl = c.obj(o['plain'], 'train.plain', ['program', 'every']);
    const every = c.str(pl['every'], 'train.plain.every');
    // The runtime picks a program by this hyperparameter's current value: it must name one, an integer >= 1.
    attempt('train.plain.every', () => refreshesAt(optimizer, every, 1));
    plain = { program: validateProgram(c, pl['program'], 'train.plain.program', programCtx), every };
  }

  const loss = c.str(o['loss'], 'train.loss');
  if (!program.outputs.some((x) => x.name === loss))
    c.fail('train.loss', `'${loss}' is not an output of the training program`);
  if (plain && !plain.program.outputs.some((x) => x.name === loss))
    c.fail('train.loss', `'${loss}' is not an output of the plain training program (train.plain.program)`);
  const lossSpec = ctx.outputs.get(loss)!;
  if (lossSpec.dtype !== 'f32' || lossSpec.shape.length !== 0)
    c.fail(
      'train.loss',
      `the loss must be a scalar f32, but '${loss}' is ${formatTensorType(lossSpec.dtype, lossSpec.shape)}`,
    );

  return {
    program,
    ...(plain && { plain }),
    loss,
    optimizer,
    ...(schedule && { schedule }),
    ...(clip && { clip }),
    ...(noise && { gradNoise: noise }),
    trainable,
  };
}

// ------------------------------------------------------------ params file

const ST_DTYPES: Readonly<Record<DTypeSpec, readonly string[]>> = { f32: ['F32'], i32: ['I32'], bool: ['BOOL', 'U8'] };

/**
 * Checks the decoded initial parameters against the manifest: every param and
 * state tensor present with its dtype and shape, nothing else.
 */
export function validateParamTensors(tensors: ReadonlyMap<string, StTensor>, manifest: Manifest, source: string): void {
  const fail = (msg: string): never => {
    throw new ArtifactError(`${source}: ${msg}`);
  };
  const byName = new Map(manifest.params.map((p) => [p.name, p]));
  for (const [name, t] of tensors) {
    const p = byName.get(name);
    if (!p) fail(`tensor '${name}' is not a param of the manifest (params: ${list(byName.keys())})`);
    else checkTensorAgainst(p, t, (msg) => fail(`tensor '${name}': ${msg}`));
  }
  for (const p of manifest.params)
    if (!tensors.has(p.name)) fail(`missing ${p.role} '${p.name}' (${formatTensorType(p.dtype, p.shape)})`);
}

/** Dtype and shape of a safetensors tensor against a static param spec. */
export function checkTensorAgainst(p: ParamSpec, t: StTensor, fail: (msg: string) => never): void {
  if (!ST_DTYPES[p.dtype].includes(t.dtype))
    fail(`dtype ${t.dtype}, but the manifest says ${p.dtype} (${ST_DTYPES[p.dtype].join(' or ')})`);
  const shape = p.shape as readonly number[];
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    fail(`shape [${t.shape.join(', ')}], but the manifest says ${formatTensorType(p.dtype, p.shape)}`);
}

/** Checks the code file of a webgpu artifact: a shader for every kernel entry of the manifest. */
export function validateShaderFile(bytes: Uint8Array, manifest: Manifest, source: string): ShaderFile {
  const c = new Checker(source);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    c.fail('', `not valid JSON (${(e as Error).message})`);
  }
  const o = c.obj(json, '', ['format', 'version', 'shaders']);
  if (o['format'] !== 'kiln-wgsl') c.fail('format', `expected 'kiln-wgsl', got ${show(o['format'])}`);
  if (o['version'] !== 1)
    c.fail('version', `shader file version ${show(o['version'])} is not supported (this runtime reads 1)`);
  const raw = c.obj(o['shaders'], 'shaders', [], Object.keys((o['shaders'] ?? {}) as Obj));
  const shaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) shaders[k] = c.str(v, `shaders.${k}`);
  for (const { spec: p } of manifestPrograms(manifest))
    for (const k of p.kernels)
      if (!Object.hasOwn(shaders, k.entry)) c.fail('shaders', `no shader for kernel entry '${k.entry}'`);
  return { format: 'kiln-wgsl', version: 1, shaders };
}
