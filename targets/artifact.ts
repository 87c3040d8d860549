// An artifact: a compilation (compiler/compile.ts) and its code, packed as
// the runtime loads it without the compiler: a manifest the runtime
// validates (runtime/manifest.ts) describing the programs of the entries
// asked for (by default the forward program and the fused training step
// when the train block's optimizer can run; also the lens entries `jvp` and
// `vjp`), the code file of the target (targets/wasm: one module with
// prefixes `fwd`, `step`, `jvp`, `vjp`; targets/wgsl: one WGSL shader per
// kernel), and the initial params (and zeroed optimizer state) as
// safetensors.

import { type Compilation, type GradRequest, compile, stepPrograms } from '../compiler/compile.js';
import { idRanges } from '../compiler/id-ranges.js';
import { initParam } from '../compiler/init.js';
import type { Kernel, KernelProgram, Stage, VExpr } from '../compiler/kernel/kir.js';
import { forEachOperand, visitor } from '../compiler/kernel/walk.js';
import { type MemoryPlan, type Poly, poly, polyAdd, polyScale } from '../compiler/memory.js';
import type { ModelContract, TrainContract } from '../compiler/model.js';
import {
  type ProgramName,
  type Target,
  type TargetKernelFields,
  type TargetName,
  dimSpec,
} from '../compiler/target.js';
import type { TrainStep } from '../compiler/train-step.js';
import type { Dim, Shape } from '../compiler/types.js';
import { evalShape } from '../compiler/types.js';
import { type LensKind, lensInterface } from '../runtime/lens-interface.js';
import type {
  BufferSpec,
  IdRangeSpec,
  DimSpec,
  EntryName,
  KernelSpec,
  LensSpec,
  Manifest,
  ParamSpec,
  ProgramSpec,
  TensorSpec,
  TrainSpec,
} from '../runtime/manifest.js';
import { checksumOf } from '../runtime/checksum.js';
import { encodeSafetensors, type StTensor } from '../runtime/safetensors.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION } from '../runtime/validate.js';
import { loadTarget } from './index.js';

export interface Artifact {
  readonly manifest: Manifest;
  readonly code: Uint8Array;
  readonly params: Uint8Array;
  /** Why parts are missing (e.g. no training step for an optimizer the backend lacks). */
  readonly notes: readonly string[];
}

export interface ArtifactOptions {
  /** Seed of the initial params. */
  readonly seed: number;
  /**
   * The entries to pack (default: `run`, and `step` when the compilation has
   * a train block). `step` needs a train block; with an optimizer the step
   * cannot be built for, it is left out with a note.
   */
  readonly entries?: readonly EntryName[];
}

const PROGRAM_OF: Readonly<Record<EntryName, ProgramName>> = { run: 'fwd', step: 'step', jvp: 'jvp', vjp: 'vjp' };

export const PARAMS_FILE = 'params.safetensors';
export const MANIFEST_FILE = 'manifest.json';

/** Packs a compilation with the code `target` generates for it (a target of the compilation's kind). */
export function buildArtifact(c: Compilation, target: Target, opts: ArtifactOptions): Artifact {
  const { model } = c;
  const entries = opts.entries ?? (c.step ? ['run', 'step'] : ['run']);
  const has = (e: EntryName) => entries.includes(e);
  if (has('step') && !c.step)
    throw new Error(`model '${model.name}' was compiled without a train block: no step entry`);
  if ((has('jvp') || has('vjp')) && c.grad)
    throw new Error('the lens entries differentiate the model itself, not a gradient program');
  const step = has('step') && c.step?.kind === 'built' ? c.step : undefined;
  const notes = has('step') && c.step?.kind === 'unavailable' ? [`no training step: ${c.step.reason}`] : [];
  const forward = has('run') ? c.forward : undefined;
  const lenses = (['jvp', 'vjp'] as const).filter(has);
  // Memory is planned before code: the plans are stages of the compilation, read here first.
  const forwardMemory = forward?.memory;
  const stepMemory = step && step.stages.memory;
  const lensMemory = new Map(lenses.map((k) => [k, c[k].memory]));
  const plainMemory = step?.plain?.memory;
  const programs = entries
    .filter((e) => e !== 'step' || step)
    .flatMap((e) => (e === 'step' && step ? stepPrograms(step) : [PROGRAM_OF[e]]));
  const code = c.code(target, programs);

  const params: ParamSpec[] = [
    ...model.params.map((p) => ({
      name: p.name,
      dtype: p.type.dtype,
      shape: dimSpecs(p.type.shape),
      role: 'param' as const,
    })),
    ...(step?.step.state ?? []).map((s) => ({
      name: s.name,
      dtype: s.dtype,
      shape: dimSpecs(s.shape),
      role: 'state' as const,
    })),
  ];
  const inputs: TensorSpec[] = model.inputs.map((i) => ({
    name: i.name,
    dtype: i.type.dtype,
    shape: dimSpecs(i.type.shape),
  }));
  const outputs: TensorSpec[] = forward
    ? forward.fusion.program.outputs.map((o) => ({ name: o.name, dtype: o.dtype, shape: dimSpecs(o.shape) }))
    : model.outputs.map((o) => ({ name: o.name, dtype: o.type.dtype, shape: dimSpecs(o.type.shape) }));

  const lensSpec = (kind: LensKind): LensSpec => {
    const stages = c[kind];
    const io = lensInterface(kind, { inputs, outputs, params });
    // compiler/lens.ts builds the graph, runtime/lens-interface.ts names its tensors: they must agree.
    const names = (ts: readonly { readonly name: string }[]) => ts.map((t) => t.name).join(', ');
    const program = stages.fusion.program;
    if (names(stages.ir.outputs) !== names(io.outputs) || names(program.outputs) !== names(io.outputs))
      throw new Error(`the ${kind} program computes ${names(program.outputs)}, not ${names(io.outputs)}`);
    const declared = new Set(io.inputs.map((t) => t.name));
    const stray = stages.ir.inputs.find((i) => !declared.has(i.name));
    if (stray) throw new Error(`the ${kind} program takes '${stray.name}', which its entry does not declare`);
    return { ...io, program: programSpec(program, lensMemory.get(kind)!, (k) => code.kernel(kind, k)) };
  };

  const trainSpec: TrainSpec | undefined = step &&
    stepMemory && {
      program: programSpec(step.stages.fusion.program, stepMemory, (k) => code.kernel('step', k)),
      ...(step.plain &&
        step.step.plain &&
        plainMemory && {
          plain: {
            program: programSpec(step.plain.fusion.program, plainMemory, (k) => code.kernel('step_plain', k)),
            every: step.step.plain.every,
          },
        }),
      loss: step.step.loss,
      optimizer: plainOptimizer(step.step.optimizer),
      ...(step.step.schedule && { schedule: { name: step.step.schedule.name, args: { ...step.step.schedule.args } } }),
      ...(step.step.clip && { clip: { kind: step.step.clip.kind, max: step.step.clip.max } }),
      ...(step.step.gradNoise && { gradNoise: { eta: step.step.gradNoise.eta, gamma: step.step.gradNoise.gamma } }),
      trainable: [...step.step.trainable],
    };

  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    model: model.name,
    target: c.target,
    files: { code: code.file, params: PARAMS_FILE, codeXxh32: checksumOf(code.bytes) },
    memory: { base: code.base },
    inputs,
    outputs,
    params,
    ...(forward &&
      forwardMemory && { forward: programSpec(forward.fusion.program, forwardMemory, (k) => code.kernel('fwd', k)) }),
    ...(trainSpec && { train: trainSpec }),
    ...Object.fromEntries(lenses.map((k) => [k, lensSpec(k)])),
    features: code.features,
    ...idsSpec(model),
  };
  return { manifest, code: code.bytes, params: initialParams(model, step?.step, opts.seed), notes };
}

export interface CompileArtifactOptions extends ArtifactOptions {
  /** The target (default wasm). */
  readonly target?: TargetName;
  /** wasm: use relaxed SIMD (fused multiply-add); the artifact then needs an engine that has it. */
  readonly relaxedSimd?: boolean;
  /** wasm: import a shared memory so the runtime can run kernels on worker threads (default true). */
  readonly threads?: boolean;
  /** Instead of the plain forward pass, compute an output and its gradients (compiler/compile.ts GradRequest). */
  readonly grad?: GradRequest;
}

/** Compiles the model (and its training step when `train` is given) for a target and packs the artifact. */
export async function compileArtifact(
  model: ModelContract,
  train: TrainContract | undefined,
  opts: CompileArtifactOptions,
): Promise<Artifact> {
  const target = opts.target ?? 'wasm';
  const c = compile(model, train, { target, ...(opts.grad && { grad: opts.grad }) });
  const gen = await loadTarget(
    target === 'wasm'
      ? { name: 'wasm', relaxedSimd: opts.relaxedSimd ?? false, threads: opts.threads ?? true }
      : { name: 'webgpu' },
  );
  return buildArtifact(c, gen, { seed: opts.seed, ...(opts.entries && { entries: opts.entries }) });
}

/** The optimizer as plain JSON (the training step's copy, with any wrapped optimizer). */
function plainOptimizer(o: TrainStep['optimizer']): TrainSpec['optimizer'] {
  return { name: o.name, hyper: { ...o.hyper }, ...(o.inner && { inner: plainOptimizer(o.inner) }) };
}

function dimSpecs(s: Shape): DimSpec[] {
  return s.map(dimSpec);
}

function programSpec(p: KernelProgram, plan: MemoryPlan, targetFields: (k: Kernel) => TargetKernelFields): ProgramSpec {
  const buffers: BufferSpec[] = p.buffers.map((b) => ({
    id: b.id,
    dtype: b.dtype,
    size: dimSpec(b.size),
    role: b.role.kind === 'temp' ? { kind: 'temp' } : { kind: b.role.kind, name: b.role.name },
    storage: plan.storageOf.get(b.id)!,
  }));
  const kernels: KernelSpec[] = p.kernels.map((k) => {
    const t = targetFields(k);
    return {
      name: k.name,
      entry: t.entry,
      kind: k.kind,
      buffers: k.buffers.map((b) => b.id),
      dims: [...k.dims],
      scalars: [...k.scalars],
      split: t.split ?? dimSpec(k.parallel[0]?.extent ?? 1),
      flops: kernelWork(k).map((t) => ({ coef: t.coef, syms: [...t.syms] })),
      ...(t.scratch && { scratch: true }),
      ...(t.chunking && { chunking: t.chunking }),
      ...(t.gpu && { gpu: t.gpu }),
    };
  });
  return {
    buffers,
    kernels,
    outputs: p.outputs.map((o) => ({ name: o.name, buf: o.buf })),
    assigns: p.assigns.map((a) => ({ target: a.target, buf: a.buf })),
    scalars: [...p.scalars],
    zeroed: zeroedStorages(p, plan.storageOf),
  };
}

/**
 * Storages to zero before each call: those of buffers (not inputs or params)
 * whose first access reads them (an accumulation into zeros, as the kernel
 * interpreter's fresh temps are), and outputs and assign sources that no
 * kernel writes. A temp no kernel touches (a gradient fused into the kernel
 * that uses it) is never read: zeroing it would only cost time.
 */
function zeroedStorages(p: KernelProgram, storageOf: ReadonlyMap<number, number>): number[] {
  const first = new Map<number, boolean>(); // buffer -> its first access reads it
  const written = new Set<number>();
  const leaves = new Set([...p.outputs.map((o) => o.buf), ...p.assigns.map((a) => a.buf)]);
  for (const k of p.kernels) {
    const reads = new Map<number, boolean>();
    for (const s of k.buffers) {
      reads.set(s.id, (reads.get(s.id) ?? false) || s.access !== 'write');
      if (s.access !== 'read') written.add(s.id);
    }
    for (const [id, r] of reads) if (!first.has(id)) first.set(id, r);
  }
  const out = new Set<number>();
  for (const b of p.buffers) {
    if (b.role.kind === 'input' || b.role.kind === 'param') continue;
    if (first.get(b.id) === true || (!written.has(b.id) && leaves.has(b.id))) out.add(storageOf.get(b.id)!);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Estimated work of one call, the manifest's `flops` (for scheduling threads): for every stage,
 * points × (value ops + loads + stores), over the parallel space. Not the dump's FLOP count
 * (compiler/kernel/print.ts kernelFlops), which counts arithmetic only.
 */
export function kernelWork(k: Kernel): Poly {
  const scaleAll = (p: Poly, extents: readonly Dim[]) => extents.reduce((acc, d) => polyScale(acc, d), p);
  const parallel = k.parallel.map((l) => l.extent);
  return polyAdd(
    ...k.stages.map((s) => scaleAll(poly(Math.max(1, stageOps(s))), [...parallel, ...s.loops.map((l) => l.extent)])),
  );
}

function stageOps(s: Stage): number {
  // Value operands only: index arithmetic and the values gathered inside it are not counted.
  const seen = new Set<VExpr>();
  const ops = visitor({
    v: (v) => {
      if (seen.has(v)) return;
      seen.add(v);
      forEachOperand(v, ops);
    },
    i: () => {},
    b: () => {},
  });
  if (s.kind === 'reduce') for (const a of s.accs) ops.v(a.value);
  else for (const st of s.stores) ops.v(st.value);
  const n = [...seen].filter((v) => v.k !== 'const' && v.k !== 'scalar' && v.k !== 'acc').length;
  return n + (s.kind === 'map' ? s.stores.length : s.accs.length);
}

function initialParams(model: ModelContract, step: TrainStep | undefined, seed: number): Uint8Array {
  const tensors = new Map<string, StTensor>();
  for (const p of model.params) {
    const shape = evalShape(p.type.shape, new Map());
    const data = initParam(p.init, shape, p.type.dtype, seed, p.name);
    tensors.set(p.name, {
      dtype: p.type.dtype === 'f32' ? 'F32' : p.type.dtype === 'i32' ? 'I32' : 'BOOL',
      shape,
      data,
    });
  }
  for (const s of step?.state ?? []) {
    const shape = evalShape(s.shape, new Map());
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(s.name, { dtype: 'F32', shape, data: new Float32Array(n) });
  }
  // Checksummed like every params file Kiln writes: the runtime refuses a damaged one.
  return encodeSafetensors(tensors, undefined, { checksum: true });
}

/**
 * Writes the artifact into `dir` (created if needed): each file atomically
 * (writeFileAtomically), the manifest last, so a reader never sees a manifest
 * without its files.
 */
export async function writeArtifact(dir: string, artifact: Artifact): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomically(path.join(dir, artifact.manifest.files.code), artifact.code);
  await writeFileAtomically(path.join(dir, artifact.manifest.files.params), artifact.params);
  await writeFileAtomically(
    path.join(dir, MANIFEST_FILE),
    new TextEncoder().encode(`${JSON.stringify(artifact.manifest, null, 1)}\n`),
  );
}

/** Writes a file through a temporary file beside it, synced and renamed into place. */
export async function writeFileAtomically(target: string, bytes: Uint8Array): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`,
  );
  try {
    const fh = await fs.open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** The id and label inputs' ranges, for `kiln` to check an artifact's data against (manifest `ids`). */
function idsSpec(model: ModelContract): { ids?: Record<string, IdRangeSpec> } {
  const ranges = idRanges(model.lower({ training: false }));
  if (ranges.size === 0) return {};
  return { ids: Object.fromEntries([...ranges].map(([name, r]) => [name, { ...r }])) };
}
