// The training step as one graph: the model's training forward pass, the
// gradient of the minimized output with respect to every trainable param,
// optional clipping, and the optimizer update, ending in in-place `assign`s
// of every param and optimizer-state tensor. Per-step values (learning rate
// after the schedule, bias corrections, every hyperparameter, the clip
// threshold) are f32[] graph inputs `@name`, computed on the host by
// runtime/optimizers/host-scalars.ts; the step counter is host-side too. Optional
// annealed gradient noise (§34) draws from the IR `rand` op keyed by `@seed`.
// With `gradient forward(directions = k)` the gradient is the forward gradient
// (LANGUAGE.md v1): k forward-mode passes along random tangents keyed by
// `@seed`, no backward pass.

import type { DType, Shape } from './types.js';
import { resolveOptimizer, splitGradNoise, splitSam } from '../runtime/optimizers/resolve.js';
import type { ScheduleConfig } from '../runtime/optimizers/schedules.js';
import {
  CLIP_SCALAR,
  CURVATURE_INTERVAL,
  type ClipConfig,
  type GradNoiseConfig,
  MODIFIER_SCALARS,
  type OptimizerConfig,
  scalarInput,
} from '../runtime/optimizers/spec.js';
import { gradients } from './autodiff.js';
import { hutchinsonDiag } from './curvature.js';
import { jvps } from './forward.js';
import type { GradientEstimator, ModelContract, OptimizerCallContract, TrainContract } from './model.js';
import { type Graph, type IRBuilder, type Node, type NodeOf, IRError } from './ir.js';
import { optimizerRule } from './optimizers/index.js';
import { type GlobalPhase, stateOf } from './optimizers/rule.js';
import { samGradients } from './sam.js';
import { verifyGraph } from './verify.js';

export interface StateTensor {
  /** `<param>.<suffix>`, e.g. `w1.m`, or `<prefix>.<name>` for a whole-model value (`prodigy.d`): a param of the step graph. */
  readonly name: string;
  /** The param it belongs to; '' for a whole-model value. */
  readonly param: string;
  /** The param's shape, or [] for a per-tensor value (NovoGrad's ν). */
  readonly shape: Shape;
  readonly dtype: DType;
  readonly init: 'zeros';
}

export interface TrainStep {
  /**
   * Inputs: the model's (with `@seed` when it uses dropout, gradient
   * noise, forward gradients or a Hessian estimate), then the scalars. Params: the model's, then the state tensors. Outputs: the loss
   * under its output name, then for each trainable param in declaration
   * order its `assign` and its state's, each output named by its target.
   */
  readonly graph: Graph;
  /** Updated params in declaration order: f32 and not frozen. */
  readonly trainable: string[];
  readonly state: StateTensor[];
  /** The scalar input names (`@lr`, ...), exactly the keys runtime/optimizers/host-scalars.ts `hostScalars` returns. */
  readonly scalars: string[];
  /** The output name of the loss. */
  readonly loss: string;
  /**
   * What `hostScalars` needs: the optimizer with defaults filled in (for
   * lookahead, `inner` is the wrapped one), the schedule, the clip and the
   * gradient noise.
   */
  readonly optimizer: OptimizerConfig;
  readonly schedule?: ScheduleConfig;
  readonly clip?: ClipConfig;
  readonly gradNoise?: GradNoiseConfig;
  /** Present for forward gradients; absent: the exact reverse-mode gradient. */
  readonly gradient?: Extract<GradientEstimator, { kind: 'forward' }>;
  /**
   * For a rule that refreshes a Hessian estimate (adahessian, sophia) or its inverse roots (shampoo), `graph`
   * is the refreshing step and this the plain one: no H·z, the stored
   * estimate kept; the same params, state and scalars (`@seed` only when
   * something else draws). Step t runs `graph` when (t − 1) % k == 0, k the
   * current value of hyperparameter `every`, else `plain.graph`.
   */
  readonly plain?: {
    readonly graph: Graph;
    readonly every: string;
    /** Present when what the refreshing step recomputes is inverse roots (shampoo), not a Hessian estimate. */
    readonly roots?: true;
  };
}

/** `refresh: false` builds the plain step of a curvature rule alone (TrainStep.plain). */
export interface TrainStepOptions {
  readonly refresh?: boolean;
}

/** A train block (compiler/model.ts). */
export type TrainConfig = TrainContract;

/** PyTorch clip_grad_norm_'s guard against a zero norm (§31); structural, not a hyperparameter. */
const CLIP_NORM_EPS = 1e-6;

/** Salts of the gradient noise's uniforms (two per param), far above the model's dropout salts (0, 1, ...). */
const NOISE_SALT = 0x4e000000;

/**
 * Salts of the forward gradient's tangents (two uniforms per param and
 * direction): above the dropout salts, below the noise's for up to 2^26
 * param-directions.
 */
const TANGENT_SALT = 0x46000000;

export function buildTrainStep(model: ModelContract, train: TrainConfig, options: TrainStepOptions = {}): TrainStep {
  if (train.model !== model.name) throw new Error(`train block is for model ${train.model}, not ${model.name}`);
  const spec = train.optimizer;
  const { optimizer: opt, gradNoise: noise } = splitGradNoise(optimizerConfig(spec));
  // sam (§28d) changes the gradient the optimizer it wraps reads: that one is the rule.
  const { optimizer: stepper, sam } = splitSam(opt);
  const rule = optimizerRule(stepper);
  const resolved = resolveOptimizer(opt);

  const g = model.lower({ training: true });
  const b = g.builder;
  const loss = g.outputs.find((o) => o.name === train.minimize)?.node;
  if (!loss) throw new IRError(`model ${model.name} has no output '${train.minimize}'`);
  const trainable = g.params.filter((p) => p.dtype === 'f32' && !train.freeze.includes(p.name));
  const estimator = train.gradient?.kind === 'forward' ? train.gradient : undefined;
  // The builder hash-conses inputs: every call gives the same node, the model's dropout key when it has one.
  const key = () => b.input('@seed', { dtype: 'i32', shape: [] }) as NodeOf<'input'>;
  let grads = estimator
    ? forwardGradients(b, loss, trainable, key(), estimator.directions)
    : gradients(b, loss, trainable);
  if (estimator && rule.needsHessianDiag)
    throw new Error(
      `optimizer ${rule.name} needs the Hessian of the loss, which a forward-gradient step does not compute: use gradient backprop`,
    );
  const rawGrads = grads;
  if (sam && estimator) throw new Error('sam needs the exact gradient at the perturbed point: use gradient backprop');
  // SAM: the update reads g' = ∇L(w + e), e from the raw g; clipping and noise apply to g' (below).
  if (sam) grads = samGradients(b, loss, trainable, grads, scalarNode(b, MODIFIER_SCALARS.sam[0]), sam.adaptive);

  const scalarNames = [
    ...rule.scalars,
    ...(noise ? MODIFIER_SCALARS.grad_noise : []),
    ...(sam ? MODIFIER_SCALARS.sam : []),
    ...(train.clip ? [CLIP_SCALAR] : []),
  ];
  const scalarNodes = scalarNames.map((s) => b.input(scalarInput(s), { dtype: 'f32', shape: [] }) as NodeOf<'input'>);
  const scalars = Object.fromEntries(scalarNames.map((s, i) => [s, scalarNodes[i]!]));
  if (train.clip) {
    const max = scalars[CLIP_SCALAR]!;
    grads = train.clip.kind === 'global_norm' ? clipGlobalNorm(b, grads, max) : clipValue(b, grads, max);
  }
  const hadSeed = g.inputs.some((n) => n.name === '@seed');
  const refresh = (rule.needsHessianDiag === true || rule.refreshes === true) && options.refresh !== false;
  const probe = refresh && rule.needsHessianDiag === true;
  const seed = noise || estimator || probe ? key() : undefined;
  if (seed && noise) grads = addGradNoise(b, grads, seed, scalars[MODIFIER_SCALARS.grad_noise[0]]!);
  // AdaHessian, Sophia: the Hutchinson diagonal of the loss's Hessian (compiler/curvature.ts).
  const hessDiag = seed && probe ? hutchinsonDiag(b, rawGrads, trainable, seed) : undefined;

  const state: StateTensor[] = [];
  const stateNodes: NodeOf<'param'>[] = [];
  const assigns: Node[] = [];
  // The builder hash-conses params: the global phase and the loop below get the same state nodes.
  const stateParam = (p: NodeOf<'param'>, suffix: string) =>
    b.param(`${p.name}.${suffix}`, {
      dtype: p.dtype,
      shape: rule.stateShape?.(p, suffix) ?? (rule.perTensorState?.includes(suffix) ? [] : p.shape),
    }) as NodeOf<'param'>;
  const global =
    rule.global &&
    globalPhase(b, rule.global, trainable, grads, scalars, (p) =>
      Object.fromEntries(stateOf(rule, p).map((s) => [s, stateParam(p, s)])),
    );
  const updateScalars = global ? { ...scalars, ...global.values } : scalars;
  trainable.forEach((p, i) => {
    const old: Record<string, Node> = {};
    const suffixes = stateOf(rule, p);
    for (const suffix of suffixes) {
      const node = stateParam(p, suffix);
      state.push({ name: node.name, param: p.name, shape: node.shape, dtype: p.dtype, init: 'zeros' });
      stateNodes.push(node);
      old[suffix] = node;
    }
    const up = rule.update(b, p, grads[i]!, old, updateScalars, hessDiag?.[i], rule.refreshes ? refresh : undefined);
    assigns.push(b.assign(p.name, up.param));
    for (const suffix of suffixes) {
      const v = up.state[suffix] ?? IRError.throw(`optimizer ${rule.name} gave no new '${suffix}' for ${p.name}`);
      // A state the step keeps as it is (the stored curvature of a plain step) needs no copy onto itself.
      if (v !== old[suffix]) assigns.push(b.assign(`${p.name}.${suffix}`, v));
    }
  });
  if (global)
    for (const g of global.state) {
      state.push({ name: g.node.name, param: '', shape: [], dtype: 'f32', init: 'zeros' });
      stateNodes.push(g.node);
      assigns.push(b.assign(g.node.name, g.value));
    }

  const graph: Graph = {
    builder: b,
    inputs: [...g.inputs, ...(seed && !hadSeed ? [seed] : []), ...scalarNodes],
    params: [...g.params, ...stateNodes],
    outputs: [
      { name: train.minimize, node: loss },
      ...assigns.map((a) => ({ name: (a as NodeOf<'assign'>).target, node: a })),
    ],
  };
  verifyGraph(graph, 'train-step');
  return {
    graph,
    trainable: trainable.map((p) => p.name),
    state,
    scalars: scalarNodes.map((n) => n.name),
    loss: train.minimize,
    optimizer: resolved,
    ...(train.schedule && { schedule: { name: train.schedule.name, args: train.schedule.args } }),
    ...(train.clip && { clip: { kind: train.clip.kind, max: train.clip.max } }),
    ...(noise && { gradNoise: noise }),
    ...(estimator && { gradient: estimator }),
    ...(refresh && {
      plain: {
        graph: buildTrainStep(model, train, { refresh: false }).graph,
        every: CURVATURE_INTERVAL,
        ...(rule.refreshes && { roots: true as const }),
      },
    }),
  };
}

/** The optimizer call of a train block as the spec's config (recursively: sam and lookahead wrap one). */
function optimizerConfig(c: OptimizerCallContract): OptimizerConfig {
  return { name: c.name, hyper: c.args, ...(c.inner && { inner: optimizerConfig(c.inner) }) };
}

/** The f32[] scalar input `@name` (the builder hash-conses inputs: the same node the scalar list makes). */
function scalarNode(b: IRBuilder, name: string): Node {
  return b.input(scalarInput(name), { dtype: 'f32', shape: [] });
}

/**
 * A rule's whole-model phase (Prodigy's d): its f32[] state params
 * `<prefix>.<name>`, the new values to assign them, and the values every
 * per-parameter update reads as scalars.
 */
function globalPhase(
  b: IRBuilder,
  phase: GlobalPhase,
  params: readonly NodeOf<'param'>[],
  grads: readonly Node[],
  scalars: Readonly<Record<string, Node>>,
  stateNodes: (p: NodeOf<'param'>) => Readonly<Record<string, Node>>,
): { state: { node: NodeOf<'param'>; value: Node }[]; values: Readonly<Record<string, Node>> } {
  const nodes = phase.state.map((n) => b.param(`${phase.prefix}.${n}`, { dtype: 'f32', shape: [] }) as NodeOf<'param'>);
  const old = Object.fromEntries(phase.state.map((n, i) => [n, nodes[i]!]));
  const views = params.map((p, i) => ({ param: p, grad: grads[i]!, state: stateNodes(p) }));
  const out = phase.compute(b, views, old, scalars);
  return {
    state: phase.state.map((n, i) => ({
      node: nodes[i]!,
      value: out.state[n] ?? IRError.throw(`optimizer phase ${phase.prefix} gave no new '${n}'`),
    })),
    values: out.values,
  };
}

/**
 * The forward gradient (Baydin et al. 2022): for each of k directions, a
 * tangent v of every param with i.i.d. N(0, 1) entries, the directional
 * derivative d = <grad loss, v> by one forward-mode pass (jvp, no backward
 * pass), and g = (1/k) Σ d·v, unbiased since E[v vᵀ] = I. Every param and
 * direction draws from its own salts, so all tangents are independent.
 */
function forwardGradients(b: IRBuilder, loss: Node, params: readonly Node[], seed: Node, k: number): Node[] {
  let sums: Node[] = [];
  for (let i = 0; i < k; i++) {
    const vs = params.map((p, j) => standardNormal(b, p.shape, seed, TANGENT_SALT + 2 * (i * params.length + j)));
    const [d] = jvps(b, [loss], params, vs);
    // (d/k)·v: one scalar division per direction instead of one per element.
    const coef = k === 1 ? d! : b.bin('div', d!, k);
    const terms = vs.map((v) => b.bin('mul', v, coef));
    sums = i === 0 ? terms : sums.map((s, j) => b.binary('add', s, terms[j]!));
  }
  return sums;
}

/**
 * N(0, 1) entries by Box–Muller from two uniforms of the `rand` op (salts
 * `salt` and `salt + 1`), a pure function of (seed, salt, index): the
 * runtime varies `@seed` per step. 1 − u keeps the log's argument in (0, 1].
 */
function standardNormal(b: IRBuilder, shape: Shape, seed: Node, salt: number): Node {
  const u1 = b.rand(shape, seed, salt);
  const u2 = b.rand(shape, seed, salt + 1);
  const radius = b.unary('sqrt', b.bin('mul', -2, b.unary('log', b.bin('sub', 1, u1))));
  return b.bin('mul', radius, b.unary('cos', b.bin('mul', 2 * Math.PI, u2)));
}

/** The sum of squares of every element, as an f32[] scalar. */
function sumSquares(b: IRBuilder, g: Node): Node {
  const sq = b.binary('mul', g, g);
  return b.reshape(
    b.reduce(
      'sum',
      sq,
      sq.shape.map((_d, i) => i),
    ),
    [],
  );
}

/**
 * PyTorch clip_grad_norm_ (optimizers.md §31): N = sqrt(Σ over all trainable
 * gradients of Σ g²), every gradient times min(max/(N + 1e-6), 1).
 */
function clipGlobalNorm(b: IRBuilder, grads: readonly Node[], max: Node): Node[] {
  if (grads.length === 0) return [];
  const total = grads.map((g) => sumSquares(b, g)).reduce((acc, s) => b.binary('add', acc, s));
  const norm = b.unary('sqrt', total);
  const coef = b.bin('min', b.bin('div', max, b.bin('add', norm, CLIP_NORM_EPS)), 1);
  return grads.map((g) => b.bin('mul', g, coef));
}

/** Annealed Gaussian noise (§34): g + σ_t·z with σ_t = `std` from the host and z standard normal. */
function addGradNoise(b: IRBuilder, grads: readonly Node[], seed: Node, std: Node): Node[] {
  return grads.map((g, i) => b.bin('add', g, b.bin('mul', std, standardNormal(b, g.shape, seed, NOISE_SALT + 2 * i))));
}

/** clamp(g, −max, max) (§31, by value). */
function clipValue(b: IRBuilder, grads: readonly Node[], max: Node): Node[] {
  const lo = b.unary('neg', max);
  return grads.map((g) => b.bin('min', b.bin('max', g, lo), max));
}
