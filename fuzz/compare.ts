// What the oracles share: failures and stages, the inputs of a case, and the
// two comparisons of a loaded model with the float64 reference that every
// target gets (the forward outputs within FWD_TOL, one training step against
// referenceTrainStep). `ModelSide` names a target's failures, so wasm and
// webgpu run the same comparison code.
//
// Tolerances (f32 kernels against the float64 reference): outputs within
// FWD_TOL·(1 + max|expected|) + FWD_TOL·|e| elementwise; the training loss
// likewise; params after one step within 5·lr + 1e-4 absolute (Adam-like
// updates are ±lr wherever a gradient is near zero, so its f32 sign is noise).

import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import { KilnError } from '../dsl/source.js';
import type { Compilation } from '../compiler/compile.js';
import type { RefTensor } from '../compiler/interpret.js';
import type { KernelProgram } from '../compiler/kernel/kir.js';
import { initialState, referenceTrainStep, stepRefreshes, stepScalars } from '../compiler/train-reference.js';
import { buildTrainStep } from '../compiler/train-step.js';
import { evalShape } from '../compiler/types.js';
import type { Tensor } from '../runtime/executor.js';
import { KilnRuntimeError, type Model, stepSeed } from '../runtime/index.js';
import { mulberry32 } from '../runtime/mulberry32.js';

export type FailureKind =
  | 'check'
  | 'crash'
  | 'forward'
  | 'kernels'
  | 'fwdrev'
  | 'fdiff'
  | 'threads'
  | 'train'
  /** The webgpu runtime's forward outputs or training step differ from the reference (where: `forward …`, `train …`). */
  | 'webgpu';

export interface Failure {
  readonly kind: FailureKind;
  /** Which stage failed (compile, load, reference, run, step, ...) and, for a crash, the error's class. */
  readonly where: string;
  readonly detail: string;
}

export interface Case {
  readonly source: string;
  /** Seeds the inputs. */
  readonly dataSeed: number;
  /** The size B is bound to. */
  readonly batch: number;
}

export const FWD_TOL = 2e-3;

/** Same failure for the shrinker: same kind and stage (and error class for a crash). */
export function sameFailure(a: Failure, b: Failure): boolean {
  return a.kind === b.kind && a.where === b.where;
}

/** Errors that report a problem with the user's input, not a compiler bug. */
export function isCleanError(e: unknown): boolean {
  return e instanceof KilnError || e instanceof KilnRuntimeError;
}

export function crash(where: string, e: unknown): Failure {
  const name = e instanceof Error ? e.name : typeof e;
  const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
  return { kind: 'crash', where: `${where}: ${name}`, detail: msg.split('\n').slice(0, 8).join('\n') };
}

/** Runs one stage of an oracle: its value, or a crash failure named for the stage. */
export type Stage = <T>(where: string, f: () => T | Promise<T>) => Promise<T | Failure>;

export const stage: Stage = async (where, f) => {
  try {
    return await f();
  } catch (e) {
    return crash(where, e);
  }
};

export const isFailure = (x: unknown): x is Failure =>
  typeof x === 'object' && x !== null && 'kind' in x && 'where' in x;

/** The model's inputs: f32 uniform in (-2, 2) (f32-exact), i32 in {0, 1}, bool; B bound to `batch`. */
export function caseInputs(model: CheckedModel, c: Pick<Case, 'dataSeed' | 'batch'>): Record<string, Tensor> {
  const rnd = mulberry32(c.dataSeed);
  const dims = new Map<string, number>();
  for (const i of model.inputs)
    for (const d of i.type.shape) if (typeof d !== 'number') for (const s of d.syms) dims.set(s, c.batch);
  const out: Record<string, Tensor> = {};
  for (const i of model.inputs) {
    const shape = evalShape(i.type.shape, dims);
    const n = shape.reduce((a, b) => a * b, 1);
    const data =
      i.type.dtype === 'f32'
        ? Float32Array.from({ length: n }, () => rnd() * 4 - 2)
        : i.type.dtype === 'i32'
          ? Int32Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1))
          : Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? 0 : 1));
    out[i.name] = { data, shape };
  }
  return out;
}

function toRef(t: Tensor): RefTensor {
  const dtype = t.data instanceof Float32Array ? 'f32' : t.data instanceof Int32Array ? 'i32' : 'bool';
  return { dtype, shape: [...t.shape], data: Float64Array.from(t.data) };
}

export const refMap = (ts: Readonly<Record<string, Tensor>>) =>
  new Map(Object.entries(ts).map(([k, t]) => [k, toRef(t)]));

/** Undefined when `got` matches `want`; else where and by how much it differs. */
export function compare(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rtol: number,
  atol: number,
): string | undefined {
  if (got.length !== want.length) return `${got.length} elements, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!;
    const e = want[i]!;
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    if (a === e) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
      return `[${i}]: got ${a}, expected ${e} (atol ${atol.toPrecision(3)}, rtol ${rtol})`;
  }
  return undefined;
}

export function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]!)) m = Math.max(m, Math.abs(xs[i]!));
  return m;
}

/** How the comparisons report on the target whose loaded model they check. */
export interface ModelSide {
  /** The failure for a value that differs from the reference in the forward pass or the training step. */
  readonly differs: (what: 'forward' | 'train', where: string, detail: string) => Failure;
  /** Runs a stage that calls the loaded model. */
  readonly stage: Stage;
}

/** wasm: 'forward' and 'train' failures, stages named as they are. */
export const WASM_SIDE: ModelSide = { differs: (kind, where, detail) => ({ kind, where, detail }), stage };

/** The model's forward outputs equal the reference's, within FWD_TOL (exactly for i32 and bool). */
export function forwardOracle(
  got: Readonly<Record<string, Tensor>>,
  ref: ReadonlyMap<string, RefTensor>,
  scale: number,
  side: ModelSide = WASM_SIDE,
): Failure | undefined {
  for (const [name, want] of ref) {
    const t = got[name];
    if (!t) return side.differs('forward', 'run', `output ${name} missing`);
    if (t.shape.join() !== want.shape.join())
      return side.differs('forward', 'shape', `${name}: shape [${t.shape}], expected [${want.shape}]`);
    const tol = FWD_TOL * scale;
    const atol = tol * (1 + maxAbs(want.data));
    const d = compare(t.data, want.data, tol, want.dtype === 'f32' ? atol : 0);
    if (d) return side.differs('forward', 'values', `${name}${d}`);
  }
  return undefined;
}

/**
 * One training step of the loaded model `m` (seeded 0, on a batch from the case's next data seed)
 * equals referenceTrainStep from `params`: the loss within FWD_TOL, the params within 5·lr + 1e-4.
 */
export async function trainOracle(
  m: Model,
  model: CheckedModel,
  train: CheckedTrain,
  c: Case,
  params: Record<string, Tensor>,
  scale: number,
  side: ModelSide = WASM_SIDE,
): Promise<Failure | undefined> {
  const step = await stage('train step', () => buildTrainStep(model, train));
  if (isFailure(step)) return step;
  const batch = caseInputs(model, { dataSeed: c.dataSeed + 1, batch: c.batch });
  const ref = await stage('reference step', () =>
    referenceTrainStep(step, {
      params: new Map([...refMap(params), ...initialState(step)]),
      batch: refMap(batch),
      scalars: stepScalars(step, 1),
      seed: stepSeed(0, 1),
      ...(step.plain && { refresh: stepRefreshes(step, 1) }),
    }),
  );
  if (isFailure(ref)) return ref;
  const loss = await side.stage('step', () => m.step(batch));
  if (isFailure(loss)) return loss;
  const tol = FWD_TOL * scale;
  const dl = compare([loss], [ref.loss], tol, tol * (1 + Math.abs(ref.loss)));
  if (dl) return side.differs('train', 'loss', `loss${dl}`);
  const after = await side.stage('params after step', () => m.getParams({ state: false }));
  if (isFailure(after)) return after;
  const lr = Number(/\blr = ([0-9.e-]+)/.exec(c.source)?.[1] ?? '0.01');
  for (const name of step.trainable) {
    const want = ref.params.get(name);
    const got = after[name];
    if (!want || !got) return side.differs('train', 'params', `param ${name} missing`);
    const d = compare(got.data, want.data, 1e-3 * scale, (5 * lr + 1e-4) * scale);
    if (d) return side.differs('train', 'params', `${name}${d}`);
  }
  return undefined;
}

/** A compiled program's kernel programs (forward, then the training step's: refreshing, plain), for coverage. */
export function kernelPrograms(c: Compilation): KernelProgram[] {
  const step = c.step?.kind === 'built' ? [c.step.stages, ...(c.step.plain ? [c.step.plain] : [])] : [];
  return [c.forward, ...step].map((p) => p.fusion.program);
}
