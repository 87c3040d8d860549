// A loaded model: the artifact validated, the module instantiated over a
// linear memory the runtime owns, params and optimizer state resident in it,
// and the forward and training programs ready to run. Users pass and get
// plain typed arrays with shapes; nothing needs freeing but the whole model
// (`dispose()` stops its worker threads).
//
// A train block whose optimizer keeps a parameter EMA (`ema = 0.999`, §34)
// has a second parameter set: `getParams({ ema: true })` returns, for every
// param with a `<param>.ema` state tensor, that EMA under the param's own
// name, ready for `setParams` on an inference copy of the model.
//
// Browser-safe: Node modules are imported dynamically, only in Node.

import type { Manifest, OptimizerSpec, TensorSpec } from './manifest.js';
import { type Tensor, ProgramExecutor, readTyped, typedArrayName, writeTyped } from './executor.js';
import {
  type ParamLayout,
  type ParamSlot,
  PAGE_BYTES,
  layoutParams,
  mib,
  readWasmMemory,
  withUnsharedMemory,
  type WasmMemoryInfo,
  type WasmMemory,
  type WasmModule,
  wasmApi,
} from './layout.js';
import { type HyperValue, hostScalars, resolveHyperparameters } from './optimizer-scalars.js';
import { SafetensorsError, type StTensor, decodeSafetensors } from './safetensors.js';
import { ThreadPool, availableCores, isNode, sharedMemoryAvailable } from './threads.js';
import {
  ArtifactError,
  KilnRuntimeError,
  formatTensorType,
  validateManifest,
  validateParamTensors,
} from './validate.js';

export interface LoadOptions {
  /** Threads, the calling one included (default: the available cores; 1 never starts a worker). */
  readonly threads?: number;
  /** Seeds the dropout key of training steps (default 0); see `stepSeed`. */
  readonly seed?: number;
}

/** An artifact in memory: what `kiln compile` writes, as values. */
export interface ArtifactFiles {
  /** The manifest, parsed (or as built). */
  readonly manifest: unknown;
  /** The `.wasm` module. */
  readonly code: Uint8Array;
  /** Initial params (and optimizer state) as safetensors. */
  readonly params: Uint8Array;
}

/** Names used in messages (file paths or URLs). */
export interface ArtifactSources {
  readonly manifest: string;
  readonly code: string;
  readonly params: string;
}

/** The `@seed` (dropout key) of training step t: a counter from the load-time seed. */
export function stepSeed(seed: number, t: number): number {
  return (Math.imul(seed | 0, 0x9e3779b1) + t) | 0;
}

const MANIFEST_FILE = 'manifest.json';

function isUrlString(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** Reads one file of an artifact directory (Node path) or URL (fetch). */
async function reader(
  where: string | URL,
): Promise<{ read(name: string): Promise<Uint8Array>; show(name: string): string }> {
  const url = where instanceof URL ? where : isUrlString(where) ? new URL(where) : undefined;
  if (isNode() && (url === undefined || url.protocol === 'file:')) {
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const dir = url ? fileURLToPath(url) : (where as string);
    const show = (name: string) => path.join(dir, name);
    return {
      show,
      read: async (name) => {
        try {
          return new Uint8Array(await fs.readFile(show(name)));
        } catch (e) {
          const code = (e as { code?: string }).code;
          const why =
            code === 'ENOENT'
              ? name === MANIFEST_FILE
                ? 'no such file (is this a directory written by `kiln compile`?)'
                : 'no such file'
              : code === 'ENOTDIR'
                ? 'not a directory'
                : code === 'EACCES'
                  ? 'permission denied'
                  : (e as Error).message;
          throw new ArtifactError(`${show(name)}: ${why}`);
        }
      },
    };
  }
  const baseHref = (globalThis as { location?: { href?: string } }).location?.href;
  const text = url ? url.href : (where as string);
  const base = new URL(text.endsWith('/') ? text : `${text}/`, baseHref);
  const show = (name: string) => new URL(name, base).href;
  return {
    show,
    read: async (name) => {
      let res: Response;
      try {
        res = await fetch(show(name));
      } catch (e) {
        throw new ArtifactError(`${show(name)}: cannot fetch (${(e as Error).message})`);
      }
      if (!res.ok) throw new ArtifactError(`${show(name)}: HTTP ${res.status} ${res.statusText}`.trimEnd());
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/**
 * Loads an artifact directory (a Node path, or a URL fetched in browsers and
 * Node): `manifest.json`, the module and the initial params, all validated.
 */
export async function loadModel(dirOrUrl: string | URL, opts: LoadOptions = {}): Promise<Model> {
  const r = await reader(dirOrUrl);
  const manifestBytes = await r.read(MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch (e) {
    throw new ArtifactError(`${r.show(MANIFEST_FILE)}: not valid JSON (${(e as Error).message})`);
  }
  const manifest = validateManifest(json, r.show(MANIFEST_FILE));
  const [code, params] = await Promise.all([r.read(manifest.files.code), r.read(manifest.files.params)]);
  return instantiate(manifest, code, params, opts, {
    manifest: r.show(MANIFEST_FILE),
    code: r.show(manifest.files.code),
    params: r.show(manifest.files.params),
  });
}

/** Loads an artifact held in memory (e.g. just built by the compiler, or fetched by the caller). */
export async function loadArtifact(
  artifact: ArtifactFiles,
  opts: LoadOptions = {},
  sources: ArtifactSources = { manifest: 'manifest.json', code: 'model.wasm', params: 'params.safetensors' },
): Promise<Model> {
  const manifest = validateManifest(artifact.manifest, sources.manifest);
  return instantiate(manifest, artifact.code, artifact.params, opts, sources);
}

async function instantiate(
  manifest: Manifest,
  code: Uint8Array,
  paramBytes: Uint8Array,
  opts: LoadOptions,
  src: ArtifactSources,
): Promise<Model> {
  if (manifest.target !== 'wasm')
    throw new ArtifactError(
      `${src.manifest}: the artifact is for target '${manifest.target}'; this runtime runs 'wasm'`,
    );

  let tensors: Map<string, StTensor>;
  try {
    tensors = decodeSafetensors(paramBytes, src.params).tensors;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ArtifactError(e.message);
    throw e;
  }
  validateParamTensors(tensors, manifest, src.params);

  let info: WasmMemoryInfo;
  try {
    info = readWasmMemory(code);
  } catch (e) {
    throw new ArtifactError(`${src.code}: ${(e as Error).message}`);
  }
  const mem = info.memory;
  if (!mem || mem.module !== 'env' || mem.name !== 'memory')
    throw new ArtifactError(`${src.code}: the module must import its memory as env.memory`);
  if (info.otherImports.length > 0)
    throw new ArtifactError(`${src.code}: unexpected imports ${info.otherImports.join(', ')} (only env.memory)`);
  if (info.dataEnd > manifest.memory.base)
    throw new ArtifactError(
      `${src.code}: its data reaches byte ${info.dataEnd}, past memory.base ${manifest.memory.base} of the manifest`,
    );

  const requested = opts.threads ?? (await availableCores());
  if (!Number.isSafeInteger(requested) || requested < 1)
    throw new KilnRuntimeError(`threads must be a positive integer, got ${requested}`);
  const threaded = requested > 1 && mem.shared && sharedMemoryAvailable();
  const threads = threaded ? requested : 1;
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new KilnRuntimeError(`seed must be an integer, got ${seed}`);

  let module: WasmModule;
  try {
    module = await wasmApi().compile(threaded ? code : withUnsharedMemory(code, info));
  } catch (e) {
    const hint = manifest.features.includes('relaxed-simd')
      ? ' (it needs relaxed SIMD: recompile without --relaxed-simd for this engine)'
      : '';
    throw new ArtifactError(
      `${src.code}: not a valid WebAssembly module for this engine: ${(e as Error).message}${hint}`,
    );
  }

  const params = layoutParams(manifest.params, manifest.memory.base);
  const initial = Math.max(mem.min, Math.ceil(params.end / PAGE_BYTES));
  if (mem.max !== undefined && initial > mem.max)
    throw new ArtifactError(
      `${src.code}: the params need ${mib(params.end)} of memory, more than the module's limit of ${mib(mem.max * PAGE_BYTES)}`,
    );
  const WA = wasmApi();
  const memory = new WA.Memory({
    initial,
    ...(mem.max !== undefined && { maximum: mem.max }),
    ...(threaded && { shared: true }),
  });
  const instance = await WA.instantiate(module, { env: { memory } });
  const exports = instance.exports as Record<string, unknown>;
  checkExports(manifest, exports, src.code);

  const buf = memory.buffer;
  for (const p of manifest.params) {
    const slot = params.slots.get(p.name)!;
    writeTyped(buf, slot.offset, tensors.get(p.name)!.data as Float32Array | Int32Array | Uint8Array, p.dtype);
  }
  return new Model(manifest, module, memory, exports, params, threads, seed);
}

function checkExports(manifest: Manifest, exports: Record<string, unknown>, source: string): void {
  const programs = [
    ['forward', manifest.forward] as const,
    ...(manifest.train ? [['train.program', manifest.train.program] as const] : []),
  ];
  for (const [where, p] of programs)
    p.kernels.forEach((k, i) => {
      const f = exports[k.entry];
      const want = k.buffers.length + k.dims.length + k.scalars.length + 2 + (k.scratch ? 1 : 0);
      if (typeof f !== 'function')
        throw new ArtifactError(`${source}: no exported function '${k.entry}' for ${where}.kernels[${i}]`);
      if (f.length !== want)
        throw new ArtifactError(
          `${source}: export '${k.entry}' takes ${f.length} parameters, but ${where}.kernels[${i}] passes ${want}`,
        );
      if (k.scratch) {
        const s = exports[`${k.entry}_scratch_bytes`];
        if (typeof s !== 'function' || s.length !== k.dims.length)
          throw new ArtifactError(
            `${source}: ${where}.kernels[${i}] needs scratch, but there is no export '${k.entry}_scratch_bytes' taking ${k.dims.length} dims`,
          );
      }
    });
}

/** A model loaded by the runtime. */
export class Model {
  private readonly forward: ProgramExecutor;
  private readonly training: ProgramExecutor | undefined;
  private optimizer: OptimizerSpec;
  private clipMax: number | undefined;
  /** Gradient noise (eta, gamma), when the step was compiled with it; changeable between steps. */
  private gradNoise: { eta: number; gamma: number } | undefined;
  private t = 0;
  private disposed = false;
  private poolStart: Promise<ThreadPool> | undefined;
  private poolReady = false;
  private queue: Promise<unknown> = Promise.resolve();

  /** @internal Use loadModel or loadArtifact. */
  constructor(
    readonly manifest: Manifest,
    private readonly module: WasmModule,
    private readonly memory: WasmMemory,
    exports: Record<string, unknown>,
    private readonly params: ParamLayout,
    /** Threads the kernels may use, the calling one included. */
    readonly threads: number,
    private readonly seed: number,
  ) {
    const entries = [
      ...new Set([...manifest.forward.kernels, ...(manifest.train?.program.kernels ?? [])].map((k) => k.entry)),
    ];
    const ctx = {
      memory,
      exports,
      params,
      threads,
      entryIndex: new Map(entries.map((e, i) => [e, i])),
      pool: () => this.pool(entries),
    };
    this.forward = new ProgramExecutor(manifest.forward, manifest.inputs, manifest.outputs, ctx);
    this.training =
      manifest.train && new ProgramExecutor(manifest.train.program, manifest.inputs, manifest.outputs, ctx);
    this.optimizer = manifest.train?.optimizer ?? { name: 'none', hyper: {} };
    this.clipMax = manifest.train?.clip?.max;
    this.gradNoise = manifest.train?.gradNoise && { ...manifest.train.gradNoise };
  }

  get name(): string {
    return this.manifest.model;
  }
  get inputs(): readonly TensorSpec[] {
    return this.manifest.inputs;
  }
  get outputs(): readonly TensorSpec[] {
    return this.manifest.outputs;
  }
  /** Whether the artifact has a training step. */
  get canTrain(): boolean {
    return this.training !== undefined;
  }
  /** Worker threads running (0 until a kernel with enough work to split first runs). */
  get workersStarted(): number {
    return this.poolReady ? this.threads - 1 : 0;
  }

  /** Training steps taken (t of the last update; the next step is t + 1). */
  get stepCount(): number {
    return this.t;
  }

  /** Forward pass: every output (or those named) as fresh typed arrays with shapes. */
  run(
    inputs: Readonly<Record<string, Tensor>>,
    opts: { outputs?: readonly string[] } = {},
  ): Promise<Record<string, Tensor>> {
    return this.serial(() => this.forward.call(inputs, {}, opts.outputs));
  }

  /**
   * One fused training step on a batch (forward, gradients, optimizer
   * update); returns the loss before the update. Per-step scalars (learning
   * rate after the schedule, bias corrections) are computed here in float64.
   */
  step(batch: Readonly<Record<string, Tensor>>): Promise<number> {
    return this.serial(async () => {
      const train = this.manifest.train;
      if (!train || !this.training)
        throw new KilnRuntimeError(
          `model '${this.name}' has no training step (its artifact was compiled without a train block it could run)`,
        );
      const t = this.t + 1;
      const scalars = hostScalars(
        this.optimizer,
        train.schedule,
        t,
        train.clip && this.clipMax !== undefined ? { kind: train.clip.kind, max: this.clipMax } : undefined,
        ...(this.gradNoise ? [this.gradNoise] : []),
      );
      if (train.program.scalars.includes('@seed')) scalars['@seed'] = stepSeed(this.seed, t);
      const out = await this.training.call(batch, scalars, [train.loss]);
      this.t = t;
      return out[train.loss]!.data[0]!;
    });
  }

  /** The optimizer's hyperparameters as the next step will use them (defaults filled in; a wrapped optimizer's too). */
  hyperparameters(): Record<string, HyperValue> {
    this.requireTrain('hyperparameters');
    const { inner } = this.optimizer;
    return {
      ...(inner && resolveHyperparameters(inner)),
      ...resolveHyperparameters(this.optimizer),
      ...(this.clipMax !== undefined && { clip: this.clipMax }),
      ...(this.gradNoise && { grad_noise: this.gradNoise.eta, grad_noise_gamma: this.gradNoise.gamma }),
    };
  }

  /** Changes a hyperparameter (`lr`, `b1`, `weight_decay`, `clip`, ...) for later steps, without recompiling. */
  setHyperparameter(name: string, value: HyperValue): void {
    const train = this.requireTrain('setHyperparameter');
    if (name === 'clip' && train.clip) {
      if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0))
        throw new KilnRuntimeError(`the clip threshold must be a positive number, got ${value}`);
      this.clipMax = value;
      return;
    }
    if (name === 'grad_noise' || name === 'grad_noise_gamma') {
      if (!this.gradNoise)
        throw new KilnRuntimeError(`'${name}' needs a step compiled with gradient noise (grad_noise = eta)`);
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
        throw new KilnRuntimeError(`${name} must be a finite number >= 0, got ${value}`);
      this.gradNoise = name === 'grad_noise' ? { ...this.gradNoise, eta: value } : { ...this.gradNoise, gamma: value };
      return;
    }
    const outer = this.optimizer;
    const at = (o: OptimizerSpec) => Object.hasOwn(resolveHyperparameters(o), name);
    const owner = at(outer) ? outer : outer.inner && at(outer.inner) ? outer.inner : undefined;
    if (!owner)
      throw new KilnRuntimeError(
        `unknown hyperparameter '${name}' for ${outer.name} (expected: ${Object.keys(this.hyperparameters()).join(', ')})`,
      );
    const set = (o: OptimizerSpec): OptimizerSpec =>
      o === owner ? { ...o, hyper: { ...o.hyper, [name]: value } } : { ...o, ...(o.inner && { inner: set(o.inner) }) };
    const next = set(outer);
    try {
      hostScalars(next, train.schedule, this.t + 1, undefined, ...(this.gradNoise ? [this.gradNoise] : []));
    } catch (e) {
      throw new KilnRuntimeError((e as Error).message);
    }
    this.optimizer = next;
  }

  /** Sets the step counter (after restoring optimizer state, for bias corrections and schedules). */
  setStepCount(t: number): void {
    if (!Number.isSafeInteger(t) || t < 0)
      throw new KilnRuntimeError(`the step count must be an integer >= 0, got ${t}`);
    this.t = t;
  }

  /**
   * Copies of the params and (unless `state: false`) optimizer state
   * `<param>.<state>`, by name. With `ema: true`, the parameter EMA instead:
   * for every param that has a `<param>.ema` state, that EMA under the
   * param's name (`state` is then ignored); throws when the optimizer keeps
   * no EMA.
   */
  getParams(opts: { state?: boolean; ema?: boolean } = {}): Record<string, Tensor> {
    this.checkLive();
    const buf = this.memory.buffer;
    const out: Record<string, Tensor> = {};
    if (opts.ema) {
      const names = new Set(this.manifest.params.filter((p) => p.role === 'param').map((p) => p.name));
      for (const p of this.manifest.params) {
        const param = p.name.endsWith('.ema') ? p.name.slice(0, -'.ema'.length) : undefined;
        if (p.role !== 'state' || param === undefined || !names.has(param)) continue;
        const slot = this.params.slots.get(p.name)!;
        out[param] = { data: readTyped(buf, slot.offset, slot.numel, p.dtype), shape: [...slot.shape] };
      }
      if (Object.keys(out).length === 0)
        throw new KilnRuntimeError(
          `model '${this.name}' keeps no parameter EMA (give its optimizer an ema argument, as in adam(ema = 0.999))`,
        );
      return out;
    }
    for (const p of this.manifest.params) {
      if (p.role === 'state' && opts.state === false) continue;
      const slot = this.params.slots.get(p.name)!;
      out[p.name] = { data: readTyped(buf, slot.offset, slot.numel, p.dtype), shape: [...slot.shape] };
    }
    return out;
  }

  /** Replaces the named params and state tensors (any subset); shapes and dtypes must match. */
  setParams(values: Readonly<Record<string, Tensor>>): void {
    this.checkLive();
    const checked: [ParamSlot, Tensor][] = [];
    for (const [name, t] of Object.entries(values)) {
      const slot = this.params.slots.get(name);
      if (!slot)
        throw new KilnRuntimeError(
          `unknown param '${name}' (params: ${this.manifest.params.map((p) => p.name).join(', ') || 'none'})`,
        );
      const want = formatTensorType(slot.spec.dtype, slot.spec.shape);
      const ok =
        slot.spec.dtype === 'f32'
          ? t?.data instanceof Float32Array
          : slot.spec.dtype === 'i32'
            ? t?.data instanceof Int32Array
            : t?.data instanceof Uint8Array;
      if (!ok)
        throw new KilnRuntimeError(
          `param '${name}': ${slot.spec.dtype} data must be a ${typedArrayName(slot.spec.dtype)}`,
        );
      if (
        !Array.isArray(t.shape) ||
        t.shape.length !== slot.shape.length ||
        t.shape.some((d, i) => d !== slot.shape[i])
      )
        throw new KilnRuntimeError(`param '${name}': expected ${want}, got shape [${(t.shape ?? []).join(', ')}]`);
      if (t.data.length !== slot.numel)
        throw new KilnRuntimeError(`param '${name}': ${want} needs ${slot.numel} elements, got ${t.data.length}`);
      checked.push([slot, t]);
    }
    const buf = this.memory.buffer;
    for (const [slot, t] of checked) writeTyped(buf, slot.offset, t.data, slot.spec.dtype);
  }

  /** Stops the worker threads and releases the model; later calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.poolStart?.then(
      (p) => p.dispose(),
      () => undefined,
    );
  }

  private requireTrain(what: string): NonNullable<Manifest['train']> {
    this.checkLive();
    const train = this.manifest.train;
    if (!train) throw new KilnRuntimeError(`${what}: model '${this.name}' has no training step`);
    return train;
  }

  private checkLive(): void {
    if (this.disposed) throw new KilnRuntimeError(`model '${this.name}' has been disposed`);
  }

  /** Calls run one at a time: they share the model's memory. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = () => {
      this.checkLive();
      return f();
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private pool(entries: readonly string[]): Promise<ThreadPool> {
    this.poolStart ??= ThreadPool.start({
      module: this.module,
      memory: this.memory,
      entries,
      workers: this.threads - 1,
    }).then(
      (p) => {
        this.poolReady = true;
        return p;
      },
      (e: unknown) => {
        throw new KilnRuntimeError(
          `cannot start ${this.threads - 1} worker threads (${(e as Error).message}); load the model with { threads: 1 }`,
        );
      },
    );
    return this.poolStart;
  }
}
