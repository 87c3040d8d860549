// What a model takes in memory, and the most wasm can hold (CLI.md v1.1):
// parameters, optimizer state and activations (with the kernels' workspace)
// at a batch size. One module owns the figures, their wording and the 4 GiB
// limit: `kiln check` prints them (from the checked model), the commands that
// run a model refuse with them before allocating (from the manifest of what
// they run, so a compiled artifact needs no compiler). Light on imports, as
// `kiln check` loads it.

import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import { type Graph, type Node, topoSort } from '../compiler/ir.js';
import { buildTrainStep } from '../compiler/train-step.js';
import type { Compilation } from '../compiler/compile.js';
import type { MemoryPlan } from '../compiler/memory.js';
import { type Shape, evalDim, evalShape } from '../compiler/types.js';
import { callStorageBytes } from '../runtime/layout.js';
import type { DimSpec, EntryName, Manifest, TensorSpec } from '../runtime/manifest.js';
import { manifestPrograms } from '../runtime/programs.js';

/** wasm32 memory is at most 4 GiB: the most a model's tensors can ever take on wasm. */
export const WASM_MAX_BYTES = 4 * 2 ** 30;

/** The batch `kiln check` estimates at (and `kiln train`'s default --batch). */
export const CHECK_BATCH = 32;

export interface MemoryEstimate {
  readonly params: number;
  readonly state: number;
  /**
   * Inputs, outputs and intermediates (the kernels' workspace among them);
   * not a wasm matmul's per-thread packing scratch, which only its module
   * computes (the runtime's own check counts it).
   */
  readonly activations: number;
  /** The examples per call; undefined when no input has a symbolic first dim. */
  readonly batch: number | undefined;
}

export const totalBytes = (e: MemoryEstimate): number => e.params + e.state + e.activations;

/** Bytes of a tensor of `shape` in the runtime (4 per element, bool too), symbolic dims bound by `dims`. */
export function tensorBytes(shape: Shape, dims: ReadonlyMap<string, number> = new Map()): number {
  return 4 * evalShape(shape, dims).reduce((a, b) => a * b, 1);
}

/** Bytes of the model's parameters in the runtime. */
export function paramBytes(model: CheckedModel): number {
  let bytes = 0;
  for (const p of model.params) bytes += tensorBytes(p.type.shape);
  return bytes;
}

// ------------------------------------------------------------ a call, before loading

/** The programs a command runs (a training step in both its forms: TrainSpec.plain). */
export type CallProgram = 'forward' | 'train' | 'jvp' | 'vjp';

/**
 * What sizes a call before anything is compiled to code or allocated: an
 * artifact's manifest, or a source's compilation (its memory plans, from
 * which the manifest's storages would be made).
 */
export interface CallSizer {
  readonly name: string;
  readonly target: 'wasm' | 'webgpu';
  /** The inputs a call takes (a Grad-CAM view's cotangent among them). */
  readonly inputs: readonly TensorSpec[];
  /** Tensors that stay in memory between calls: params and optimizer state. */
  readonly resident: { readonly params: number; readonly state: number };
  /** Bytes of each form of `program`'s own storages at `dims` (undefined where a dim is unbound); none when it is not there. */
  callBytes(program: CallProgram, dims: ReadonlyMap<string, number>): readonly (number | undefined)[];
}

/** The sizer of an artifact: its manifest's params and programs, as the runtime lays them out (runtime/layout.ts). */
export function manifestSizer(m: Manifest): CallSizer {
  return {
    name: m.model,
    target: m.target,
    inputs: m.inputs,
    resident: residentBytes(m.params),
    callBytes: (program, dims) =>
      manifestPrograms(m)
        .filter((p) => p.name === program || (program === 'train' && p.name === 'train_plain'))
        .map((p) =>
          p.spec.buffers.every((b) => isBound(b.size, dims)) ? sumValues(callStorageBytes(p.spec, dims)) : undefined,
        ),
  };
}

/**
 * The sizer of a source compiled with `entries` (`step` when `training`),
 * before its code and initial params are made: the same figures as its
 * artifact's manifest.
 */
export function compilationSizer(c: Compilation, entries: readonly EntryName[]): CallSizer {
  const step = entries.includes('step') && c.step?.kind === 'built' ? c.step : undefined;
  const plans = (program: CallProgram): readonly MemoryPlan[] => {
    if (program === 'train') return step ? [step.stages.memory, ...(step.plain ? [step.plain.memory] : [])] : [];
    if (program === 'forward') return entries.includes('run') ? [c.forward.memory] : [];
    return entries.includes(program) ? [c[program].memory] : [];
  };
  return {
    name: c.model.name,
    target: c.target,
    inputs: c.model.inputs.map((i) => ({ name: i.name, dtype: i.type.dtype, shape: i.type.shape })),
    resident: residentBytes([
      ...c.model.params.map((p) => ({ shape: p.type.shape, role: 'param' as const })),
      ...(step?.step.state ?? []).map((t) => ({ shape: t.shape, role: 'state' as const })),
    ]),
    callBytes: (program, dims) => plans(program).map((plan) => planCallBytes(plan, dims)),
  };
}

/** A compiled program's own storages at `dims` (compiler/memory.ts: temps share where their lifetimes allow). */
function planCallBytes(plan: MemoryPlan, dims: ReadonlyMap<string, number>): number | undefined {
  const own = plan.storages.filter((st) => plan.roles.get(st.id) !== 'param');
  if (!own.every((st) => isBound(st.bytes, dims))) return undefined;
  return own.reduce((sum, st) => sum + evalDim(st.bytes, dims), 0);
}

function residentBytes(tensors: readonly { readonly shape: readonly DimSpec[]; readonly role: 'param' | 'state' }[]): {
  params: number;
  state: number;
} {
  let params = 0;
  let state = 0;
  for (const t of tensors) {
    // Params and state have static shapes (the manifest's validation, the checker's).
    const bytes = 4 * t.shape.reduce<number>((a, d) => a * (d as number), 1);
    if (t.role === 'param') params += bytes;
    else state += bytes;
  }
  return { params, state };
}

const isBound = (d: DimSpec, dims: ReadonlyMap<string, number>) =>
  typeof d === 'number' || d.syms.every((s) => dims.has(s));

const sumValues = (m: ReadonlyMap<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * A call of `program` at `dims` (the larger form of a training step), with
 * the resident params and state; undefined when the model lacks the program
 * or a dim is unbound (a sequence length the batch does not give).
 */
export function callEstimate(
  sizer: CallSizer,
  program: CallProgram,
  dims: ReadonlyMap<string, number>,
  batch: number | undefined,
): MemoryEstimate | undefined {
  const forms = sizer.callBytes(program, dims);
  if (forms.length === 0 || forms.some((b) => b === undefined)) return undefined;
  return { ...sizer.resident, activations: Math.max(...(forms as number[])), batch };
}

/** Whether a call can run: it fits wasm's memory, or nothing says it does not (webgpu's limits are the device's). */
export function callFits(sizer: CallSizer, e: MemoryEstimate | undefined): boolean {
  return sizer.target !== 'wasm' || e === undefined || totalBytes(e) <= WASM_MAX_BYTES;
}

/**
 * The largest batch from `least` to `most` at which a call of `program`
 * fits (`dims` binds the other symbols; `least` is taken to fit): for
 * attribution's batched points and evaluation's batches.
 */
export function largestBatch(
  sizer: CallSizer,
  program: CallProgram,
  dims: ReadonlyMap<string, number>,
  least: number,
  most: number,
): number {
  const fits = (n: number) =>
    callFits(sizer, callEstimate(sizer, program, new Map([...dims, ...batchDims(sizer.inputs, n)]), n));
  if (least >= most || fits(most)) return most;
  // Memory grows with the batch: bisect between one that fits and one that does not.
  let lo = least;
  let hi = most;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Ops that never take storage of their own: views of their input, and the graph's leaves. */
const NO_STORAGE: ReadonlySet<Node['op']> = new Set([
  'param',
  'const',
  'dim',
  'reshape',
  'permute',
  'expand',
  'slice',
  'stop_gradient',
  'assign',
]);

/**
 * `kiln check`'s figures, without compiling kernels (check loads no middle
 * end): params and optimizer state exactly (the training step's state
 * tensors), activations as every intermediate of the step (or the forward
 * pass) kept at once: an upper bound of the memory plan, which shares
 * storage between temps. Undefined when a dim other than the batch is
 * symbolic (a sequence length).
 */
export function graphEstimate(
  model: CheckedModel,
  train: CheckedTrain | undefined,
  batch: number,
): MemoryEstimate | undefined {
  let graph: Graph;
  let state = 0;
  try {
    const step = train && buildTrainStep(model, train);
    if (step) for (const s of step.state) state += tensorBytes(s.shape);
    graph = step ? step.graph : model.lower({ training: false });
  } catch {
    // An optimizer the step cannot be built for: the forward pass alone.
    graph = model.lower({ training: false });
  }
  const dims = batchDims(
    model.inputs.map((i) => i.type),
    batch,
  );
  let activations = 0;
  try {
    for (const n of topoSort(graph.outputs.map((o) => o.node)))
      if (!NO_STORAGE.has(n.op)) activations += tensorBytes(n.shape, dims);
  } catch {
    return undefined;
  }
  return { params: paramBytes(model), state, activations, batch };
}

/** Every symbol of the inputs' first dims (a model's or a manifest's), bound to `batch`. */
export function batchDims(
  inputs: readonly { readonly shape: readonly DimSpec[] }[],
  batch: number,
): Map<string, number> {
  const dims = new Map<string, number>();
  for (const i of inputs) {
    const d = i.shape[0];
    if (d !== undefined && typeof d !== 'number') for (const s of d.syms) dims.set(s, batch);
  }
  return dims;
}

/** 813.1 KB, 40.0 GB: decimal units, one decimal. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[u]}`;
}

/**
 * `params 1.0 GB, optimizer state 2.0 GB, activations 2.2 GB at batch 32`
 * (state left out when there is none, the batch when there is none);
 * `activations` words that last part.
 */
export function formatParts(
  e: MemoryEstimate,
  activations = (bytes: string) => `activations ${bytes}${e.batch === undefined ? '' : ` at batch ${e.batch}`}`,
): string {
  return [
    `params ${formatBytes(e.params)}`,
    ...(e.state > 0 ? [`optimizer state ${formatBytes(e.state)}`] : []),
    activations(formatBytes(e.activations)),
  ].join(', ');
}

/**
 * `kiln check`'s line: `memory at batch 32: 2.4 MB (params 407.1 KB, optimizer
 * state 814.1 KB, activations at most 1.2 MB)`, and whether it cannot run.
 */
export function checkLine(e: MemoryEstimate): string {
  const parts = formatParts(e, (bytes) => `activations at most ${bytes}`);
  const total = totalBytes(e);
  const over = total > WASM_MAX_BYTES ? ": more than wasm's 4 GiB, so it cannot run at this batch" : '';
  return `memory at batch ${e.batch}: ${formatBytes(total)} (${parts})${over}`;
}

/** Why a model whose parameters alone exceed wasm's memory is refused (before anything is compiled); undefined if they fit. */
export function paramsOverLimit(model: CheckedModel): string | undefined {
  const bytes = paramBytes(model);
  if (bytes <= WASM_MAX_BYTES) return undefined;
  return `model '${model.name}' needs ${formatGB(bytes)} for parameters alone; wasm memory is at most 4 GiB`;
}

/** What a command runs, as its refusal names it: `model 'h' needs 12.8 GB for its forward pass (...)`. */
export type ProgramWord = 'forward pass' | 'training step' | 'gradient program' | 'jvp program' | 'vjp program';

/** Why a call whose estimate exceeds wasm's memory is refused (before anything is allocated); undefined if it fits. */
export function estimateOverLimit(model: string, program: ProgramWord, e: MemoryEstimate): string | undefined {
  const total = totalBytes(e);
  if (total <= WASM_MAX_BYTES) return undefined;
  return `model '${model}' needs ${formatGB(total)} for its ${program} (${formatParts(e)}); wasm memory is at most 4 GiB`;
}

/** 19.6 GB: the refusals' unit, whatever the size. */
function formatGB(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}
