// The compiler in one call. `compile(model, train, options)` gives every
// stage of the model's programs, each computed the first time it is read:
//
//   ir -> grad (when asked) -> optimised graph + pass log -> kernels (fusion)
//      -> memory plan -> code (given a Target: compiler/target.ts)
//
// for the forward program (the model's outputs, or with `grad` one output
// and its gradients), given a train block the training step, and the lens
// programs `jvp` and `vjp` (the model's forward and reverse derivatives,
// compiler/lens.ts) when read. So
// `kiln dump --stage ir` lowers the model and nothing more, the reference
// interpreter evaluates the very graphs the kernels compute, and an artifact
// (targets/artifact.ts) packs the stages and the code. It reads only the
// model contract (model.ts), never the front end's types.

import { type FusionPlan, type PlanOptions, planKernels } from './fusion/plan.js';
import { gradientGraph } from './gradient-graph.js';
import type { Graph } from './ir.js';
import { jvpGraph, vjpGraph } from './lens.js';
import { type MemoryPlan, planMemory } from './memory.js';
import type { ModelContract, TrainContract } from './model.js';
import { type PassReport, optimizeGraph } from './passes/pipeline.js';
import { TARGET_LIMITS, type ProgramName, type Target, type TargetCode, type TargetName } from './target.js';
import { type TrainStep, buildTrainStep } from './train-step.js';

/** Differentiate output `of` with respect to every f32 param and the named inputs. */
export interface GradRequest {
  readonly of: string;
  readonly inputs: readonly string[];
}

export interface CompileOptions {
  /** Whose limits the kernels are planned within (default wasm). */
  readonly target?: TargetName;
  /**
   * The forward program computes output `of` and its gradients (`grad.<param>`,
   * `grad.<input>`) instead of the model's outputs: what `kiln grad` runs.
   */
  readonly grad?: GradRequest;
}

/** One graph through the middle end; every stage is computed when first read. */
export interface ProgramStages {
  /** The graph the program computes, before optimisation. */
  readonly ir: Graph;
  /** The graph after the rewrite passes, and what each pass did. */
  readonly optimised: { readonly graph: Graph; readonly passes: readonly PassReport[] };
  /** The kernels (fusion.program) and why values were materialised or merges refused. */
  readonly fusion: FusionPlan;
  /** Storage reuse of the kernels' buffers, peak bytes, bytes moved per kernel. */
  readonly memory: MemoryPlan;
}

/**
 * The training step: built (with its host-side description), or why it
 * cannot be. `plain`: a curvature rule's step without a refresh (TrainStep.plain).
 */
export type StepStages =
  | {
      readonly kind: 'built';
      readonly step: TrainStep;
      readonly stages: ProgramStages;
      readonly plain?: ProgramStages;
    }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface Compilation {
  readonly model: ModelContract;
  readonly target: TargetName;
  /** The model lowered to IR for inference (dropout off). */
  readonly ir: Graph;
  /** With `grad`: the IR's outputs plus the gradients (it extends the IR's builder). */
  readonly grad: Graph | undefined;
  /** The forward program: the model's outputs, or with `grad` output `of` and the gradients only. */
  readonly forward: ProgramStages;
  /** The training step, when a train block was given. */
  readonly step: StepStages | undefined;
  /** The forward derivative: the outputs and `jvp.<output>`, given `tangent.<input|param>` (compiler/lens.ts). */
  readonly jvp: ProgramStages;
  /** The reverse derivative: `vjp.<param>` and `vjp.<input>`, given `cotangent.<output>` (compiler/lens.ts). */
  readonly vjp: ProgramStages;
  /**
   * The code of `programs` (default: the forward program, and the training
   * step when it was built) from a code generator for this compilation's target.
   */
  code(target: Target, programs?: readonly ProgramName[]): TargetCode;
}

export function compile(
  model: ModelContract,
  train: TrainContract | undefined,
  options: CompileOptions = {},
): Compilation {
  const target = options.target ?? 'wasm';
  const limits = TARGET_LIMITS[target];
  const ir = once(() => model.lower({ training: false }));
  const grad = once(() => options.grad && differentiate(model, ir(), options.grad));
  const forward = once(() => {
    const g = grad();
    return compileGraph(g && options.grad ? gradientsOnly(g, options.grad.of) : ir(), limits);
  });
  const step = once(() => train && stepStages(model, train, limits));
  // Each lens graph extends a lowering of its own, so building one never adds nodes to the forward IR's builder.
  const jvp = once(() => compileGraph(jvpGraph(model.lower({ training: false })), limits));
  const vjp = once(() => compileGraph(vjpGraph(model.lower({ training: false })), limits));
  const program = (name: ProgramName): ProgramStages => {
    if (name === 'fwd') return forward();
    if (name === 'jvp') return jvp();
    if (name === 'vjp') return vjp();
    const s = step();
    if (!s) throw new Error(`model '${model.name}' was compiled without a train block: no training step`);
    if (s.kind === 'unavailable') throw new Error(`no training step: ${s.reason}`);
    if (name === 'step') return s.stages;
    if (!s.plain) throw new Error(`optimizer ${s.step.optimizer.name} has one training step program, no step_plain`);
    return s.plain;
  };
  return {
    model,
    target,
    get ir() {
      return ir();
    },
    get grad() {
      return grad();
    },
    get forward() {
      return forward();
    },
    get step() {
      return step();
    },
    get jvp() {
      return jvp();
    },
    get vjp() {
      return vjp();
    },
    code(gen, programs) {
      if (gen.name !== target)
        throw new Error(`kernels planned for target ${target} cannot be compiled by the ${gen.name} code generator`);
      const s = step();
      const names = programs ?? (s?.kind === 'built' ? ['fwd', ...stepPrograms(s)] : ['fwd']);
      return gen.generate(names.map((prefix) => ({ prefix, program: program(prefix).fusion.program })));
    },
  };
}

/** The middle end's stages of one graph, planned within `limits`. */
export function compileGraph(ir: Graph, limits: PlanOptions = {}): ProgramStages {
  const optimised = once(() => {
    const { graph, log } = optimizeGraph(ir);
    return { graph, passes: log };
  });
  const fusion = once(() => planKernels(optimised().graph, limits));
  const memory = once(() => planMemory(fusion().program));
  return {
    ir,
    get optimised() {
      return optimised();
    },
    get fusion() {
      return fusion();
    },
    get memory() {
      return memory();
    },
  };
}

function differentiate(model: ModelContract, ir: Graph, req: GradRequest): Graph {
  const params = model.params.filter((p) => p.type.dtype === 'f32').map((p) => p.name);
  return gradientGraph(ir, { of: req.of, params, inputs: req.inputs });
}

/** The gradient graph with only output `of` and the gradients left as outputs. */
function gradientsOnly(g: Graph, of: string): Graph {
  return { ...g, outputs: g.outputs.filter((o) => o.name === of || o.name.startsWith('grad.')) };
}

function stepStages(model: ModelContract, train: TrainContract, limits: PlanOptions): StepStages {
  let step: TrainStep;
  try {
    step = buildTrainStep(model, train);
  } catch (e) {
    // An optimizer or model the step cannot be built for: the forward program still compiles.
    return { kind: 'unavailable', reason: (e as Error).message };
  }
  // The updates of the trainable params raise the step's non-finite flag (fusion/plan.ts NONFINITE_OUTPUT).
  const checked = { ...limits, nonfinite: step.trainable };
  return {
    kind: 'built',
    step,
    stages: compileGraph(step.graph, checked),
    ...(step.plain && { plain: compileGraph(step.plain.graph, checked) }),
  };
}

/** The programs of a built step: `step`, and `step_plain` for a curvature rule. */
export function stepPrograms(s: Extract<StepStages, { kind: 'built' }>): ProgramName[] {
  return s.plain ? ['step', 'step_plain'] : ['step'];
}

/** `f`'s value, computed on the first call. */
function once<T>(f: () => T): () => T {
  let state: { readonly value: T } | undefined;
  return () => (state ??= { value: f() }).value;
}
