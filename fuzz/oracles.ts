// The oracles a generated program must pass: it checks with no diagnostics;
// compiling, packing and loading it never throws; the runtime under test
// (wasm on 1 thread, and 2 threads when asked; or webgpu: webgpu-oracle.ts)
// computes the outputs of the float64 reference interpreter within tolerance;
// the kernel interpreter (the fused kernel program, in float64) computes them
// too, to rounding: a difference there is the middle end's (fusion, kernel
// building, memory plan), not f32's; the reference gradient of a trained
// program's loss equals central finite differences on a few param elements
// (where two step sizes agree: no kink within reach); one training step on
// the runtime equals referenceTrainStep (the comparisons and tolerances:
// compare.ts). A second, cheaper oracle feeds mutated sources and random
// bytes to the front end and compiler: only clean diagnostics allowed.

import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import { compileSource } from '../dsl/frontend.js';
import { formatDiagnostic } from '../dsl/source.js';
import { bindDims } from '../compiler/bind.js';
import { type Compilation, compile } from '../compiler/compile.js';
import { type RefTensor, evaluate } from '../compiler/interpret.js';
import { runProgram } from '../compiler/kernel/interpret.js';
import type { KernelProgram } from '../compiler/kernel/kir.js';
import { type Artifact, buildArtifact } from '../targets/artifact.js';
import { wasmTarget } from '../targets/wasm/target.js';
import type { Tensor } from '../runtime/executor.js';
import { type Model, loadArtifact } from '../runtime/index.js';
import { mulberry32 } from '../runtime/mulberry32.js';
import {
  type Case,
  type Failure,
  WASM_SIDE,
  caseInputs,
  compare,
  crash,
  forwardOracle,
  isCleanError,
  isFailure,
  kernelPrograms,
  maxAbs,
  refMap,
  stage,
  trainOracle,
} from './compare.js';
import { Refusal, WEBGPU_SIDE, loadWebGpu, webgpuDevice } from './webgpu-oracle.js';

export {
  type Case,
  type Failure,
  type FailureKind,
  FWD_TOL,
  caseInputs,
  compare,
  isCleanError,
  sameFailure,
} from './compare.js';

export interface OracleOptions {
  /** The runtime under test (default wasm; webgpu: the WebGPU backend, see webgpu-oracle.ts). */
  readonly target?: 'wasm' | 'webgpu';
  /** Also run the program on 2 threads and compare with 1 (wasm only; default false: workers are slow to start). */
  readonly threads2?: boolean;
  /** Check a training step when the program has a train block (default true). */
  readonly train?: boolean;
  /** Scales every tolerance (default 1; 0 asks for exact agreement, which shows the oracles can fail). */
  readonly tolScale?: number;
  /** Told the kernel programs the program compiled to (forward, training step), for the campaign's coverage. */
  readonly onKernels?: (programs: readonly KernelProgram[]) => void;
  /** Told why when the webgpu target cleanly refuses the program (then skipped: not a failure). */
  readonly onRefusal?: (reason: string) => void;
  /** Given the 1-thread artifact the oracles built and the case's inputs, so the file-mutant oracle (mutate-files.ts) need not compile again. */
  readonly onArtifact?: (artifact: Artifact, inputs: Record<string, Tensor>) => void;
}

/** The kernel interpreter against the graph interpreter: both float64, apart only by reassociation. */
export const KERNEL_TOL = 1e-9;

/**
 * The interpreters' environment for a case: inputs and params as float64 tensors, and the symbolic
 * dims bound from every input, as `kiln run --target reference` binds them (B may be read only by a shape).
 */
function referenceEnv(model: CheckedModel, inputs: Record<string, Tensor>, params: Record<string, Tensor>) {
  const given = refMap(inputs);
  const dims = bindDims(
    model.inputs.map((i) => ({ name: i.name, kind: 'input' as const, type: i.type })),
    given,
  );
  return { inputs: given, params: refMap(params), dims };
}

/** The program as a wasm artifact (params seeded 1), loaded on `threads` threads; its kernel programs and artifact told to the hooks. */
async function load(
  model: CheckedModel,
  train: CheckedTrain | undefined,
  threads: number,
  hooks: {
    readonly onKernels?: OracleOptions['onKernels'];
    readonly onArtifact?: (a: Artifact) => void;
  } = {},
): Promise<Model> {
  const c = compile(model, train, { target: 'wasm' });
  hooks.onKernels?.(kernelPrograms(c));
  const artifact = buildArtifact(c, wasmTarget({ relaxedSimd: false, threads: threads > 1 }), { seed: 1 });
  hooks.onArtifact?.(artifact);
  return loadArtifact(artifact, { threads });
}

/** Runs every oracle on one program; the first failure, or undefined (also when the target refuses it). */
export async function runOracles(c: Case, opts: OracleOptions = {}): Promise<Failure | undefined> {
  const { result } = compileSource('fuzz.kiln', c.source);
  if (result.diagnostics.length > 0)
    return { kind: 'check', where: 'check', detail: result.diagnostics.map(formatDiagnostic).join('\n') };
  const model = result.models[0]!;
  const train = opts.train === false ? undefined : result.trains.find((t) => t.model === model.name);
  const gpu = opts.target === 'webgpu';
  if (gpu) {
    // No device is no refusal: every program would be skipped.
    const device = await stage('webgpu device', webgpuDevice);
    if (isFailure(device)) return device;
  }
  const side = gpu ? WEBGPU_SIDE : WASM_SIDE;
  const onArtifact = opts.onArtifact && ((a: Artifact) => opts.onArtifact!(a, caseInputs(model, c)));
  try {
    const m = await side.stage('compile', () =>
      gpu ? loadWebGpu(model, train, opts.onKernels) : load(model, train, 1, { onKernels: opts.onKernels, onArtifact }),
    );
    if (isFailure(m)) return m;
    try {
      return await modelOracles(m, model, train, c, opts);
    } finally {
      m.dispose();
    }
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    opts.onRefusal?.(e.message);
    return undefined;
  }
}

/** The oracles on a loaded model `m` of the runtime under test. */
async function modelOracles(
  m: Model,
  model: CheckedModel,
  train: CheckedTrain | undefined,
  c: Case,
  opts: OracleOptions,
): Promise<Failure | undefined> {
  const side = opts.target === 'webgpu' ? WEBGPU_SIDE : WASM_SIDE;
  const scale = opts.tolScale ?? 1;
  const inputs = caseInputs(model, c);
  const params = await side.stage('params', () => m.getParams({ state: false }));
  if (isFailure(params)) return params;
  // One lowering and one environment for the reference interpreter and the kernel interpreter.
  const forward = compile(model, undefined);
  const env = await stage('reference', () => referenceEnv(model, inputs, params));
  if (isFailure(env)) return env;
  const ref = await stage('reference', () => {
    const g = forward.ir;
    const vals = evaluate(
      g.outputs.map((o) => o.node),
      env,
    );
    return new Map(g.outputs.map((o, i) => [o.name, vals[i]!]));
  });
  if (isFailure(ref)) return ref;
  const kf = await kernelOracle(forward, env, ref, scale);
  if (kf) return kf;
  const fr = fwdrev(ref);
  if (fr) return fr;
  const got = await side.stage('run', () => m.run(inputs));
  if (isFailure(got)) return got;
  const ff = forwardOracle(got, ref, scale, side);
  if (ff) return ff;
  if (opts.threads2 && opts.target !== 'webgpu') {
    const f = await threads2(model, train, inputs, got);
    if (f) return f;
  }
  if (train) {
    // stop_gradient's gradient leaves out a dependence on purpose; random draws differ per evaluation.
    const fd = /\b(stop_gradient|dropout|rand_like)\b/.test(c.source)
      ? undefined
      : await finiteDifferences(model, train.minimize, inputs, params, c, scale);
    if (fd) return fd;
    return await trainOracle(m, model, train, c, params, scale, side);
  }
  return undefined;
}

/**
 * The forward program's kernels (fused, memory-planned) run by the kernel interpreter equal the
 * graph reference interpreter's outputs: both in float64, so only reassociation separates them.
 */
async function kernelOracle(
  forward: Compilation,
  env: ReturnType<typeof referenceEnv>,
  ref: ReadonlyMap<string, RefTensor>,
  scale: number,
): Promise<Failure | undefined> {
  const got = await stage('kernel interpreter', () => runProgram(forward.forward.fusion.program, env));
  if (isFailure(got)) return got;
  for (const [name, want] of ref) {
    const t = got.get(name);
    if (!t) return { kind: 'kernels', where: 'outputs', detail: `output ${name} missing` };
    const tol = KERNEL_TOL * scale;
    const d = compare(t.data, want.data, tol, tol * (1 + maxAbs(want.data)));
    if (d) return { kind: 'kernels', where: 'values', detail: `${name}${d}` };
  }
  return undefined;
}

/** How many param elements the finite-difference oracle compared (not skipped at a kink), for the campaign's report and tests. */
export const fdStats = { probed: 0 };

/** Param elements the finite-difference oracle probes per program. */
export const FD_PROBES = 3;
/** Its agreement: finite differences against the reference gradient, within FD_TOL · (1 + |gradient|). */
export const FD_TOL = 1e-4;

/**
 * The reference gradient of `of` (compile's `grad` program, what `kiln grad` computes) against
 * central differences on FD_PROBES random param elements, in float64. Two step sizes, h and h/10
 * (relative to the element): where they disagree a kink or jump (relu, floor, a comparison) lies
 * within reach and the element is skipped; where they agree they must equal the gradient.
 */
export async function finiteDifferences(
  model: CheckedModel,
  of: string,
  inputs: Record<string, Tensor>,
  params: Record<string, Tensor>,
  c: Case,
  scale: number,
): Promise<Failure | undefined> {
  const probes = await stage('finite differences', () => {
    const { inputs: given, params: base, dims } = referenceEnv(model, inputs, params);
    // The gradient program's outputs: `of` itself, then its gradients.
    const gradOuts = compile(model, undefined, { grad: { of, inputs: [] } }).forward.ir.outputs;
    const grads = new Map(
      evaluate(
        gradOuts.map((o) => o.node),
        { inputs: given, params: base, dims },
      ).map((t, i) => [gradOuts[i]!.name, t]),
    );
    const lossNode = gradOuts.find((o) => o.name === of)!.node;
    const loss = (ps: Map<string, RefTensor>) => evaluate([lossNode], { inputs: given, params: ps, dims })[0]!.data[0]!;
    const rnd = mulberry32(c.dataSeed ^ 0x5eed);
    const names = model.params.filter((p) => p.type.dtype === 'f32' && grads.has(`grad.${p.name}`)).map((p) => p.name);
    const out: { name: string; index: number; grad: number; fd: number }[] = [];
    for (let k = 0; k < FD_PROBES && names.length > 0; k++) {
      const name = names[Math.floor(rnd() * names.length)]!;
      const t = base.get(name)!;
      if (t.data.length === 0) continue;
      const index = Math.floor(rnd() * t.data.length);
      const x0 = t.data[index]!;
      const at = (x: number) => {
        const data = Float64Array.from(t.data);
        data[index] = x;
        return loss(new Map([...base, [name, { ...t, data }]]));
      };
      const h = 1e-3 * (1 + Math.abs(x0));
      const [l0, lp, lm, lpf, lmf] = [at(x0), at(x0 + h), at(x0 - h), at(x0 + h / 10), at(x0 - h / 10)];
      const coarse = (lp - lm) / (2 * h);
      const fine = (lpf - lmf) / (h / 5);
      const grad = grads.get(`grad.${name}`)!.data[index]!;
      if (![coarse, fine, grad].every(Number.isFinite)) continue;
      const near = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * (1 + Math.abs(b));
      // A kink or jump within reach: the step sizes disagree, or the one-sided slopes differ by more
      // than 1% of the larger (a piecewise-linear kink at the point itself, such as relu(0), gives
      // every central difference the mean of its two slopes; relative, because a kink between two
      // small slopes is as wrong a point to compare at: leaky_relu(0) times a weight of 0.03, a
      // campaign's false alarm). Curvature moves them apart by f'' h / 10: where that passes 1% of
      // f' the element is skipped too, which costs coverage, never a false alarm.
      const right = (lpf - l0) / (h / 10);
      const left = (l0 - lmf) / (h / 10);
      const kinkAtPoint = Math.abs(right - left) > 1e-2 * Math.max(Math.abs(right), Math.abs(left)) + 1e-7;
      if (!near(coarse, fine, FD_TOL) || kinkAtPoint) continue;
      out.push({ name, index, grad, fd: fine });
    }
    return out;
  });
  if (isFailure(probes)) return probes;
  fdStats.probed += probes.length;
  for (const p of probes) {
    const d = compare([p.grad], [p.fd], FD_TOL * scale, FD_TOL * scale);
    if (d)
      return {
        kind: 'fdiff',
        where: 'gradient',
        detail: `grad.${p.name}[${p.index}]: gradient ${p.grad}, finite differences ${p.fd}`,
      };
  }
  return undefined;
}

/** Forward-vs-reverse comparisons skipped at a singular point (one side NaN or infinite), for the campaign's report. */
export const fwdrevStats = { compared: 0, singular: 0 };

/**
 * The reference's jvp of the loss along t equals its gradient dotted with t (float64: tight).
 * Where one is finite and the other not, the point is singular, not the rules wrong: std of
 * values a clip saturated is 0, its derivative 0/0; reverse mode meets that NaN before the clip's
 * mask, which selects it away, forward mode after, and keeps it (JAX and PyTorch alike). The
 * campaign's fwdrev-2180989259. Such a program is counted and skipped.
 */
function fwdrev(ref: ReadonlyMap<string, RefTensor>): Failure | undefined {
  const j = ref.get('fwdrev_jvp');
  const g = ref.get('fwdrev_grad');
  if (!j || !g) return undefined;
  if (j.data.some((v, i) => Number.isFinite(v) !== Number.isFinite(g.data[i]!))) {
    fwdrevStats.singular++;
    return undefined;
  }
  fwdrevStats.compared++;
  const d = compare(j.data, g.data, 1e-6, 1e-6 * (1 + maxAbs(g.data)));
  return d ? { kind: 'fwdrev', where: 'reference', detail: `jvp vs grad . t${d}` } : undefined;
}

async function threads2(
  model: CheckedModel,
  train: CheckedTrain | undefined,
  inputs: Record<string, Tensor>,
  one: Record<string, Tensor>,
): Promise<Failure | undefined> {
  const m2 = await stage('compile threads', () => load(model, train, 2));
  if (isFailure(m2)) return m2;
  try {
    const got = await stage('run threads', () => m2.run(inputs));
    if (isFailure(got)) return got;
    for (const [name, t] of Object.entries(one)) {
      const d = compare(got[name]?.data ?? [], t.data, 1e-5, 1e-5 * (1 + maxAbs(t.data)));
      if (d) return { kind: 'threads', where: 'values', detail: `${name}${d}` };
    }
    return undefined;
  } finally {
    m2.dispose();
  }
}

// ---------------------------------------------------------------- never crash

/** `source` with a few random edits: characters deleted, duplicated or replaced by ones from a token alphabet. */
export function mutate(source: string, seed: number): string {
  const rnd = mulberry32(seed);
  const alphabet = [
    '(',
    ')',
    '[',
    ']',
    ',',
    '=',
    '-',
    '0',
    '1',
    'B',
    '@',
    '*',
    ':',
    '.',
    '{',
    '}',
    'grad',
    ' ',
    '\n',
    '"',
  ];
  let s = source;
  const edits = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const r = rnd();
    if (r < 0.4) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 3));
    else if (r < 0.7) s = s.slice(0, at) + alphabet[Math.floor(rnd() * alphabet.length)]! + s.slice(at);
    else s = s.slice(0, at) + s.slice(at, at + 8) + s.slice(at);
  }
  return s;
}

/** Random bytes as a source text (latin-1, so every byte survives). */
export function randomBytes(seed: number, n: number): string {
  const rnd = mulberry32(seed);
  return String.fromCharCode(...Array.from({ length: n }, () => Math.floor(rnd() * 256)));
}

/** The front end and compiler on a malformed text: diagnostics or a clean error, never an exception. */
export async function neverCrash(text: string): Promise<Failure | undefined> {
  const checked = await stage('front end', () => compileSource('mutant.kiln', text));
  if (isFailure(checked)) return checked;
  const { result } = checked;
  if (result.diagnostics.length > 0 || result.models.length === 0) return undefined;
  const model = result.models[0]!;
  const train = result.trains.find((t) => t.model === model.name);
  try {
    buildArtifact(compile(model, train, { target: 'wasm' }), wasmTarget({ relaxedSimd: false, threads: false }), {
      seed: 1,
    });
    return undefined;
  } catch (e) {
    return isCleanError(e) ? undefined : crash('compile mutant', e);
  }
}
