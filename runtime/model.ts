// A loaded model: the artifact validated, its params and optimizer state
// resident where the kernels run (wasm linear memory or GPU buffers: see
// runtime/backend.ts), and the forward and training programs ready to run.
// Users pass and get plain typed arrays with shapes; nothing needs freeing
// but the whole model (`dispose()`).
//
// A train block whose optimizer keeps a parameter EMA (`ema = 0.999`, §34)
// has a second parameter set: `getParams({ ema: true })` returns, for every
// param with a `<param>.ema` state tensor, that EMA under the param's own
// name, ready for `setParams` on an inference copy of the model. Schedule-Free
// AdamW keeps its evaluation point x the same way (`<param>.x`), read by
// `getParams({ eval: true })`.
//
// The lens entries (when compiled in, `kiln compile --entries ...,jvp,vjp`)
// are the model's derivatives: `jvp(inputs, tangents)` gives every output
// and `jvp.<output>`, `vjp(inputs, cotangents)` gives `vjp.<param>` and
// `vjp.<input>` (runtime/lens-interface.ts names them).
//
// Browser-safe: Node modules are imported dynamically, only in Node.

import type { Backend } from './backend.js';
import { type Tensor, type TensorData, bindDims, typedArrayName } from './executor.js';
import { NONFINITE_OUTPUT, raisedFlags } from './nonfinite.js';
import {
  type Attribution,
  AttributionError,
  type AttributionModel,
  type AttributionOptions,
  GRAD_CAM_NAMES,
  attribute,
} from './attribution.js';
import { evalDimSpec } from './layout.js';
import { lensArguments } from './lens.js';
import { type LensKind, VJP, lensGivenSpecs } from './lens-interface.js';
import {
  ENTRY_NAMES,
  type EntryName,
  type Manifest,
  type OptimizerSpec,
  type ParamSpec,
  type TensorSpec,
} from './manifest.js';
import { hostScalars, refreshesAt } from './optimizers/host-scalars.js';
import { resolveHyperparameters } from './optimizers/resolve.js';
import type { HyperValue } from './optimizers/spec.js';
import { checksumOf } from './checksum.js';
import { SafetensorsError, type StTensor, decodeSafetensors } from './safetensors.js';
import { isNode } from './threads.js';
import {
  ArtifactError,
  KilnRuntimeError,
  formatTensorType,
  validateManifest,
  validateParamTensors,
} from './validate.js';
import { createWasmBackend } from './wasm-backend.js';
import { createWebGpuBackend } from './webgpu/backend.js';

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

/**
 * The tensors of a model by name, for typed use: `loadModel<Mlp>(dir)` gives a
 * `Model<Mlp>` whose `run` takes `Mlp['inputs']` and returns `Mlp['outputs']`.
 * `kiln compile --dts` writes such a type for an artifact (targets/dts.ts);
 * the default, any names, is the untyped model. The type is a promise about the
 * artifact, not checked against it: the runtime still checks every call.
 */
export interface ModelTypes {
  readonly inputs: Record<string, Tensor>;
  readonly outputs: Record<string, Tensor>;
  readonly params: Record<string, Tensor>;
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
 * An artifact whose manifest is read and validated, nothing else yet: a
 * caller can size a call from the manifest (runtime/layout.ts) before
 * `load` reads the code and params and allocates them.
 */
export interface OpenedArtifact {
  readonly manifest: Manifest;
  load<T extends ModelTypes = ModelTypes>(opts?: LoadOptions): Promise<Model<T>>;
}

/**
 * Loads an artifact directory (a Node path, or a URL fetched in browsers and
 * Node): `manifest.json`, the module and the initial params, all validated.
 */
export async function loadModel<T extends ModelTypes = ModelTypes>(
  dirOrUrl: string | URL,
  opts: LoadOptions = {},
): Promise<Model<T>> {
  return (await openModel(dirOrUrl)).load<T>(opts);
}

/** An artifact directory (or URL) with only its manifest read: `loadModel` in two steps. */
export async function openModel(dirOrUrl: string | URL): Promise<OpenedArtifact> {
  const r = await reader(dirOrUrl);
  const manifestBytes = await r.read(MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch (e) {
    throw new ArtifactError(`${r.show(MANIFEST_FILE)}: not valid JSON (${(e as Error).message})`);
  }
  const manifest = validateManifest(json, r.show(MANIFEST_FILE));
  return {
    manifest,
    load: async (opts = {}) => {
      const [code, params] = await Promise.all([r.read(manifest.files.code), r.read(manifest.files.params)]);
      return instantiate(manifest, code, params, opts, {
        manifest: r.show(MANIFEST_FILE),
        code: r.show(manifest.files.code),
        params: r.show(manifest.files.params),
      });
    },
  };
}

/**
 * Loads an artifact held in memory (e.g. just built by the compiler, or fetched by the caller).
 * Errors name its files as `sources` says, by default as the manifest names them.
 */
export async function loadArtifact<T extends ModelTypes = ModelTypes>(
  artifact: ArtifactFiles,
  opts: LoadOptions = {},
  sources?: ArtifactSources,
): Promise<Model<T>> {
  const manifest = validateManifest(artifact.manifest, sources?.manifest ?? MANIFEST_FILE);
  const src = sources ?? { manifest: MANIFEST_FILE, code: manifest.files.code, params: manifest.files.params };
  return instantiate<T>(manifest, artifact.code, artifact.params, opts, src);
}

async function instantiate<T extends ModelTypes>(
  manifest: Manifest,
  code: Uint8Array,
  paramBytes: Uint8Array,
  opts: LoadOptions,
  src: ArtifactSources,
): Promise<Model<T>> {
  // Before anything compiles it: a damaged module may still validate, then loop or trap.
  const digest = manifest.files.codeXxh32;
  if (digest !== undefined && checksumOf(code) !== digest)
    throw new ArtifactError(`${src.code} is damaged (checksum mismatch)`);
  let tensors: Map<string, StTensor>;
  try {
    tensors = decodeSafetensors(paramBytes, src.params, { verify: true }).tensors;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ArtifactError(e.message);
    throw e;
  }
  validateParamTensors(tensors, manifest, src.params);
  const params = new Map(
    manifest.params.map((p) => [p.name, tensors.get(p.name)!.data as Float32Array | Int32Array | Uint8Array]),
  );
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new KilnRuntimeError(`seed must be an integer, got ${seed}`);
  const backend =
    manifest.target === 'wasm'
      ? await createWasmBackend(manifest, code, params, opts, src.code)
      : await createWebGpuBackend(manifest, code, params, src.code);
  return new Model<T>(manifest, backend, seed);
}

/** A model loaded by the runtime; `T` names its tensors (ModelTypes; by default any names). */
export class Model<T extends ModelTypes = ModelTypes> {
  private optimizer: OptimizerSpec;
  private clipMax: number | undefined;
  /** Gradient noise (eta, gamma), when the step was compiled with it; changeable between steps. */
  private gradNoise: { eta: number; gamma: number } | undefined;
  private t = 0;
  private nonfinite: readonly string[] = [];
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly slots: ReadonlyMap<string, { spec: ParamSpec; shape: readonly number[]; numel: number }>;

  /** @internal Use loadModel or loadArtifact. */
  constructor(
    readonly manifest: Manifest,
    private readonly backend: Backend,
    private readonly seed: number,
  ) {
    this.optimizer = manifest.train?.optimizer ?? { name: 'none', hyper: {} };
    this.clipMax = manifest.train?.clip?.max;
    this.gradNoise = manifest.train?.gradNoise && { ...manifest.train.gradNoise };
    this.slots = new Map(
      manifest.params.map((p) => {
        const shape = p.shape.map((d) => d as number);
        return [p.name, { spec: p, shape, numel: shape.reduce((x, y) => x * y, 1) }];
      }),
    );
  }

  /** The target the artifact was compiled for. */
  get target(): Manifest['target'] {
    return this.manifest.target;
  }
  /** Where the kernels run, e.g. `wasm (2 threads)` or `webgpu (…adapter…)`. */
  get device(): string {
    return this.backend.device;
  }
  /** Threads the kernels may use, the calling one included (1 for webgpu). */
  get threads(): number {
    return this.backend.threads;
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
    return this.manifest.train !== undefined;
  }
  /** The entries the artifact was compiled with (`run`, `step`, `jvp`, `vjp`). */
  get entries(): readonly EntryName[] {
    const m = this.manifest;
    const has: Record<EntryName, boolean> = { run: !!m.forward, step: !!m.train, jvp: !!m.jvp, vjp: !!m.vjp };
    return ENTRY_NAMES.filter((e) => has[e]);
  }
  /** What `jvp` takes tangents for, under their own names: the f32 inputs, then the f32 params. */
  get tangents(): readonly TensorSpec[] {
    return lensGivenSpecs('jvp', this.manifest);
  }
  /** What `vjp` takes cotangents for, under their own names: the f32 outputs. */
  get cotangents(): readonly TensorSpec[] {
    return lensGivenSpecs('vjp', this.manifest);
  }
  /** Worker threads running (0 until a kernel with enough work to split first runs). */
  get workersStarted(): number {
    return this.backend.workersStarted;
  }

  /** Training steps taken (t of the last update; the next step is t + 1). */
  get stepCount(): number {
    return this.t;
  }

  /** Forward pass: every output (or those named) as fresh typed arrays with shapes. */
  run<K extends keyof T['outputs'] & string = keyof T['outputs'] & string>(
    inputs: Readonly<T['inputs']>,
    opts: { outputs?: readonly K[] } = {},
  ): Promise<Pick<T['outputs'], K>> {
    return this.serial(() => {
      this.requireEntry('run');
      return this.backend.call('forward', inputs, {}, opts.outputs) as Promise<Pick<T['outputs'], K>>;
    });
  }

  /**
   * Zero-copy inputs (wasm): typed arrays over the model's own memory where `entry`'s program
   * (`run`, or `step`: the training step) reads each f32 and i32 input at these shapes. Fill them in
   * place and pass them as the inputs' data: `run`/`step` then skip copying them in. A call at larger
   * shapes may grow the memory, which outdates older views (copied like any array where the memory is
   * shared; detached, and refused as empty, where it is not): take new views after such a call. Bool
   * inputs have no view (kept as i32 words).
   */
  inputViews(
    entry: 'run' | 'step',
    shapes: Readonly<Partial<Record<keyof T['inputs'] & string, readonly number[]>>>,
  ): Partial<Record<keyof T['inputs'] & string, TensorData>> {
    if (this.disposed) throw new KilnRuntimeError('the model has been disposed');
    this.requireEntry(entry);
    if (!this.backend.inputViews)
      throw new KilnRuntimeError(`inputViews: the ${this.device} backend keeps inputs on the device; pass arrays`);
    const views = this.backend.inputViews(
      entry === 'run' ? 'forward' : 'train',
      shapes as Record<string, readonly number[]>,
    );
    return views as Partial<Record<keyof T['inputs'] & string, TensorData>>;
  }

  /**
   * Forward derivative at `inputs` and the current params: every output and
   * `jvp.<output>` for every f32 output, the derivative along `tangents`
   * (named like the f32 inputs and params, each of its tensor's shape; a
   * missing one is zero).
   */
  jvp(inputs: Readonly<T['inputs']>, tangents: Readonly<Record<string, Tensor>> = {}): Promise<Record<string, Tensor>> {
    return this.lens('jvp', inputs, tangents);
  }

  /**
   * Reverse derivative at `inputs` and the current params: `vjp.<param>` for
   * every f32 param and `vjp.<input>` for every f32 input, the gradient of
   * sum over outputs of sum(output * cotangent), given `cotangents` named
   * like the f32 outputs (a missing one is zero).
   */
  vjp(
    inputs: Readonly<T['inputs']>,
    cotangents: Readonly<Record<string, Tensor>> = {},
  ): Promise<Record<string, Tensor>> {
    return this.lens('vjp', inputs, cotangents);
  }

  /**
   * Input attribution (runtime/attribution.ts): the attribution of input
   * `opts.wrt` for the score of output `opts.of`, by `opts.method`, all
   * points of all examples in batched calls of the `vjp` entry. Needs the
   * `run` and `vjp` entries (`kiln compile --entries attribute`).
   */
  attribute(inputs: Readonly<T['inputs']>, opts: AttributionOptions): Promise<Attribution> {
    this.requireEntry('run');
    if (opts.method === 'grad_cam') return attribute(this.gradCamView(opts), inputs, opts);
    this.requireEntry('vjp');
    return attribute(
      {
        forward: (i) => this.run(i),
        gradient: async (i, of, cotangent, wrt) => {
          const g = (await this.vjp(i, { [of]: cotangent }))[`${VJP}${wrt}`];
          if (!g) throw new AttributionError(`input '${wrt}' has no gradient: attribution needs an f32 input`);
          return g;
        },
      },
      inputs,
      opts,
    );
  }

  /**
   * Grad-CAM on an artifact that is a model's Grad-CAM view (`kiln compile
   * --grad-cam LAYER --of OUTPUT`): `run` with the score's cotangent gives
   * the output, the layer and the score's gradient there.
   */
  private gradCamView(opts: AttributionOptions): AttributionModel {
    const names = GRAD_CAM_NAMES;
    const cotangent = this.manifest.inputs.find((i) => i.name === `${names.cotangent}${opts.of}`);
    const layer = opts.layer ?? '';
    const outs = this.manifest.outputs.map((o) => o.name);
    if (!cotangent || !outs.includes(`${names.layer}${layer}`) || !outs.includes(`${names.gradient}${layer}`))
      throw new AttributionError(
        `model '${this.name}' is no Grad-CAM view of layer '${layer}' for output '${opts.of}': compile one with ` +
          `\`kiln compile FILE --grad-cam ${layer || 'LAYER'} --of ${opts.of}\``,
      );
    const call = (inputs: Readonly<Record<string, Tensor>>, u?: Tensor) => {
      const dims = bindDims(
        this.manifest.inputs.filter((i) => i !== cotangent),
        inputs,
      );
      const shape = cotangent.shape.map((d) => evalDimSpec(d, dims));
      const zeros = { data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape };
      // The view's inputs are the model's and the cotangent: not T's, so untyped.
      return (this as Model).run({ ...inputs, [cotangent.name]: u ?? zeros });
    };
    return {
      forward: (i) => call(i),
      gradient: () => Promise.reject(new AttributionError('a Grad-CAM view gives no input gradients')),
      layerGradient: async (i, _of, u, l) => {
        const r = await call(i, u);
        return { activation: r[`${names.layer}${l}`]!, gradient: r[`${names.gradient}${l}`]! };
      },
    };
  }

  private lens(
    kind: LensKind,
    inputs: Readonly<Record<string, Tensor>>,
    given: Readonly<Record<string, Tensor>>,
  ): Promise<Record<string, Tensor>> {
    return this.serial(() => {
      this.requireEntry(kind);
      if (typeof given !== 'object' || given === null)
        throw new KilnRuntimeError(`${kind}: expected an object of tensors by name, got ${String(given)}`);
      const dims = bindDims(this.manifest.inputs, inputs);
      const args = lensArguments(kind, lensGivenSpecs(kind, this.manifest), dims, given);
      return this.backend.call(kind, { ...inputs, ...args }, {});
    });
  }

  /** Throws, saying how to recompile, when the artifact lacks `entry`. */
  private requireEntry(entry: EntryName): void {
    if (this.entries.includes(entry)) return;
    const want = ENTRY_NAMES.filter((e) => e === entry || this.entries.includes(e)).join(',');
    throw new KilnRuntimeError(
      `model '${this.name}' was compiled without the ${entry} entry: recompile it with \`kiln compile FILE --entries ${want}\``,
    );
  }

  /**
   * One fused training step on a batch (forward, gradients, optimizer
   * update); returns the loss before the update. Per-step scalars (learning
   * rate after the schedule, bias corrections) are computed here in float64.
   */
  step(batch: Readonly<T['inputs']>): Promise<number> {
    return this.serial(async () => {
      const train = this.manifest.train;
      if (!train)
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
      // A curvature optimizer's step without a refresh runs the plain program (manifest.ts TrainSpec.plain).
      const plain = train.plain && !refreshesAt(this.optimizer, train.plain.every, t) ? train.plain : undefined;
      const program = plain?.program ?? train.program;
      if (program.scalars.includes('@seed')) scalars['@seed'] = stepSeed(this.seed, t);
      // The non-finite flags come back with the loss (one readback; runtime/nonfinite.ts).
      const flagged = program.outputs.some((o) => o.name === NONFINITE_OUTPUT);
      const want = flagged ? [train.loss, NONFINITE_OUTPUT] : [train.loss];
      const out = await this.backend.call(plain ? 'train_plain' : 'train', batch, scalars, want);
      this.t = t;
      this.nonfinite = flagged ? raisedFlags(train.trainable, out[NONFINITE_OUTPUT]!.data) : [];
      return out[train.loss]!.data[0]!;
    });
  }

  /**
   * The trainable params the last step's update made non-finite (a NaN or an
   * infinity in their new value), in train.trainable order; empty when all
   * stayed finite. The params are already updated: a caller that stops here
   * keeps the values it saved before the step.
   */
  get lastStepNonfinite(): readonly string[] {
    return this.nonfinite;
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
    // The outermost call that has it (sam's rho before adadelta's under it).
    let owner: OptimizerSpec | undefined = outer;
    while (owner && !at(owner)) owner = owner.inner;
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
   * no EMA. With `eval: true`, schedule-free's evaluation point x (state
   * `<param>.x`) under each param's name, the params themselves before the
   * first step; throws for other optimizers. (Typed as every param: with
   * `ema` or `eval`, a param the optimizer keeps no such state for, a
   * frozen one, is left out.)
   */
  async getParams(
    opts: { state?: boolean; ema?: boolean; eval?: boolean } = {},
  ): Promise<T['params'] & Record<string, Tensor>> {
    this.checkLive();
    // name in the result -> param or state tensor to read
    const picks: [string, string][] = [];
    if (opts.ema && opts.eval) throw new KilnRuntimeError('getParams: ask for ema or eval, not both');
    if (opts.ema || opts.eval) {
      const suffix = opts.ema ? '.ema' : '.x';
      const names = new Set(this.manifest.params.filter((p) => p.role === 'param').map((p) => p.name));
      for (const p of this.manifest.params) {
        const param = p.name.endsWith(suffix) ? p.name.slice(0, -suffix.length) : undefined;
        if (p.role === 'state' && param !== undefined && names.has(param)) picks.push([param, p.name]);
      }
      if (picks.length === 0)
        throw new KilnRuntimeError(
          opts.ema
            ? `model '${this.name}' keeps no parameter EMA (give its optimizer an ema argument, as in adam(ema = 0.999))`
            : `model '${this.name}' has no separate evaluation point (only schedule_free_adamw keeps one)`,
        );
      // Before the first step the evaluation point is the params themselves (x starts as y).
      if (opts.eval && this.t === 0) picks.splice(0, picks.length, ...picks.map(([n]): [string, string] => [n, n]));
    } else
      for (const p of this.manifest.params)
        if (p.role !== 'state' || opts.state !== false) picks.push([p.name, p.name]);
    // Serial: a read must see every step queued before it.
    return this.serial(async () => {
      const data = await this.backend.readParams(picks.map(([, from]) => from));
      const out: Record<string, Tensor> = {};
      for (const [name, from] of picks) out[name] = { data: data.get(from)!, shape: [...this.slots.get(from)!.shape] };
      return out as T['params'] & Record<string, Tensor>;
    });
  }

  /** Replaces the named params and state tensors (any subset); shapes and dtypes must match. */
  setParams(values: Readonly<Partial<T['params']> & Record<string, Tensor>>): void {
    this.checkLive();
    const checked: [{ spec: ParamSpec; shape: readonly number[]; numel: number }, Tensor][] = [];
    for (const [name, t] of Object.entries(values as Readonly<Record<string, Tensor>>)) {
      const slot = this.slots.get(name);
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
    this.backend.writeParams(new Map(checked.map(([slot, t]) => [slot.spec.name, t.data])));
  }

  /** Releases the model (its worker threads, or its GPU buffers and device); later calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend.dispose();
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
}
