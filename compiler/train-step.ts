// The training step as one graph: the model's training forward pass, the
// gradient of the minimized output with respect to every trainable param,
// optional clipping, and the optimizer update, ending in in-place `assign`s
// of every param and optimizer-state tensor. Per-step values (learning rate
// after the schedule, bias corrections, every hyperparameter, the clip
// threshold) are f32[] graph inputs `@name`, computed on the host by
// runtime/optimizer-scalars.ts; the step counter is host-side too.

import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import type { DType, Shape } from '../dsl/types.js';
import {
  CLIP_SCALAR,
  type ClipConfig,
  type HyperValue,
  type ScheduleConfig,
  resolveHyperparameters,
  scalarInput,
} from '../runtime/optimizer-scalars.js';
import { gradients } from './autodiff.js';
import { type Graph, type IRBuilder, type Node, type NodeOf, IRError } from './ir.js';
import { optimizerRule } from './optimizers/index.js';
import { verifyGraph } from './verify.js';

export interface StateTensor {
  /** `<param>.<suffix>`, e.g. `w1.m`: a param of the step graph. */
  readonly name: string;
  readonly param: string;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly init: 'zeros';
}

export interface TrainStep {
  /**
   * Inputs: the model's (with `@seed` when it uses dropout), then the
   * scalars. Params: the model's, then the state tensors. Outputs: the loss
   * under its output name, then for each trainable param in declaration
   * order its `assign` and its state's, each output named by its target.
   */
  readonly graph: Graph;
  /** Updated params in declaration order: f32 and not frozen. */
  readonly trainable: string[];
  readonly state: StateTensor[];
  /** The scalar input names (`@lr`, ...), exactly the keys runtime/optimizer-scalars.ts `hostScalars` returns. */
  readonly scalars: string[];
  /** The output name of the loss. */
  readonly loss: string;
  /** What `hostScalars` needs: the optimizer with defaults filled in, the schedule and the clip. */
  readonly optimizer: { readonly name: string; readonly hyper: Readonly<Record<string, HyperValue>> };
  readonly schedule?: ScheduleConfig;
  readonly clip?: ClipConfig;
}

/** PyTorch clip_grad_norm_'s guard against a zero norm (§31); structural, not a hyperparameter. */
const CLIP_NORM_EPS = 1e-6;

export function buildTrainStep(model: CheckedModel, train: CheckedTrain): TrainStep {
  if (train.model !== model.name) throw new Error(`train block is for model ${train.model}, not ${model.name}`);
  const opt = { name: train.optimizer.name, hyper: train.optimizer.args };
  const rule = optimizerRule(opt);
  const hyper = resolveHyperparameters(opt);

  const g = model.lower({ training: true });
  const b = g.builder;
  const loss = g.outputs.find((o) => o.name === train.minimize)?.node;
  if (!loss) throw new IRError(`model ${model.name} has no output '${train.minimize}'`);
  const trainable = g.params.filter((p) => p.dtype === 'f32' && !train.freeze.includes(p.name));
  let grads = gradients(b, loss, trainable);

  const scalarNames = [...rule.scalars, ...(train.clip ? [CLIP_SCALAR] : [])];
  const scalarNodes = scalarNames.map((s) => b.input(scalarInput(s), { dtype: 'f32', shape: [] }) as NodeOf<'input'>);
  const scalars = Object.fromEntries(scalarNames.map((s, i) => [s, scalarNodes[i]!]));
  if (train.clip) {
    const max = scalars[CLIP_SCALAR]!;
    grads = train.clip.kind === 'global_norm' ? clipGlobalNorm(b, grads, max) : clipValue(b, grads, max);
  }

  const state: StateTensor[] = [];
  const stateNodes: NodeOf<'param'>[] = [];
  const assigns: Node[] = [];
  trainable.forEach((p, i) => {
    const old: Record<string, Node> = {};
    for (const suffix of rule.state) {
      const name = `${p.name}.${suffix}`;
      const node = b.param(name, { dtype: p.dtype, shape: p.shape }) as NodeOf<'param'>;
      state.push({ name, param: p.name, shape: p.shape, dtype: p.dtype, init: 'zeros' });
      stateNodes.push(node);
      old[suffix] = node;
    }
    const up = rule.update(b, p, grads[i]!, old, scalars);
    assigns.push(b.assign(p.name, up.param));
    for (const suffix of rule.state) {
      const v = up.state[suffix] ?? IRError.throw(`optimizer ${rule.name} gave no new '${suffix}' for ${p.name}`);
      assigns.push(b.assign(`${p.name}.${suffix}`, v));
    }
  });

  const graph: Graph = {
    builder: b,
    inputs: [...g.inputs, ...scalarNodes],
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
    optimizer: { name: opt.name, hyper },
    ...(train.schedule && { schedule: { name: train.schedule.name, args: train.schedule.args } }),
    ...(train.clip && { clip: { kind: train.clip.kind, max: train.clip.max } }),
  };
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

/** clamp(g, −max, max) (§31, by value). */
function clipValue(b: IRBuilder, grads: readonly Node[], max: Node): Node[] {
  const lo = b.unary('neg', max);
  return grads.map((g) => b.bin('min', b.bin('max', g, lo), max));
}
