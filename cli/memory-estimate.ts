// What a model takes in memory, and the most wasm can hold (CLI.md v1.1):
// parameters, optimizer state and activations (with the kernels' workspace)
// at a batch size. One module owns the figures, their wording and the 4 GiB
// limit: `kiln check` prints them, the commands that run a model refuse with
// them before allocating. Light on imports (types only from the compiler's
// middle end), as `kiln check` loads it.

import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import { type Graph, type Node, topoSort } from '../compiler/ir.js';
import { buildTrainStep } from '../compiler/train-step.js';
import type { MemoryPlan } from '../compiler/memory.js';
import type { ModelContract } from '../compiler/model.js';
import { type Shape, evalDim, evalShape } from '../compiler/types.js';

/** wasm32 memory is at most 4 GiB: the most a model's tensors can ever take on wasm. */
export const WASM_MAX_BYTES = 4 * 2 ** 30;

/** The batch `kiln check` estimates at (and `kiln train`'s default --batch). */
export const CHECK_BATCH = 32;

export interface MemoryEstimate {
  readonly params: number;
  readonly state: number;
  /** Inputs, outputs, intermediates and the kernels' workspace. */
  readonly activations: number;
  readonly batch: number;
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

/**
 * The figures of a compiled program's memory plan (compiler/memory.ts: its
 * storages, temps sharing where their lifetimes allow) at `dims`: the
 * model's params, the other params (optimizer state), and everything else.
 */
export function planEstimate(
  plan: MemoryPlan,
  dims: ReadonlyMap<string, number>,
  modelParams: ReadonlySet<string>,
  batch: number,
): MemoryEstimate {
  let params = 0;
  let state = 0;
  let activations = 0;
  for (const s of plan.storages) {
    const bytes = evalDim(s.bytes, dims);
    const role = plan.roles.get(s.id);
    if (role === 'param') {
      if (modelParams.has(plan.names.get(s.id) ?? '')) params += bytes;
      else state += bytes;
    } else activations += bytes;
  }
  return { params, state, activations, batch };
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
  const dims = batchDims(model, batch);
  let activations = 0;
  try {
    for (const n of topoSort(graph.outputs.map((o) => o.node)))
      if (!NO_STORAGE.has(n.op)) activations += tensorBytes(n.shape, dims);
  } catch {
    return undefined;
  }
  return { params: paramBytes(model), state, activations, batch };
}

/** Every symbol of the model's inputs' first dims, bound to `batch`. */
export function batchDims(model: Pick<ModelContract, 'inputs'>, batch: number): Map<string, number> {
  const dims = new Map<string, number>();
  for (const i of model.inputs) {
    const d = i.type.shape[0];
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
 * (state left out when there is none); `activations` words that last part.
 */
export function formatParts(
  e: MemoryEstimate,
  activations = (bytes: string) => `activations ${bytes} at batch ${e.batch}`,
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

/** Why a run whose estimate exceeds wasm's memory is refused (before anything is allocated); undefined if it fits. */
export function estimateOverLimit(model: string, e: MemoryEstimate): string | undefined {
  const total = totalBytes(e);
  if (total <= WASM_MAX_BYTES) return undefined;
  return `model '${model}' needs ${formatGB(total)} (${formatParts(e)}); wasm memory is at most 4 GiB`;
}

/** 19.6 GB: the refusals' unit, whatever the size. */
function formatGB(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}
