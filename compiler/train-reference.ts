// The reference training step: the step graph evaluated by the float64
// interpreter, with its assigns applied. The oracle every backend's training
// step is compared with.

import { hostScalars, refreshesAt } from '../runtime/optimizers/host-scalars.js';
import { bindDims } from './bind.js';
import { type RefTensor, evaluate, scalar, tensor } from './interpret.js';
import type { NodeOf } from './ir.js';
import type { TrainStep } from './train-step.js';

export interface ReferenceStepEnv {
  /** Params and optimizer state, by name. */
  readonly params: ReadonlyMap<string, RefTensor>;
  /** The model's inputs for this step. */
  readonly batch: ReadonlyMap<string, RefTensor>;
  /** Every scalar input (`@lr`, ...): `hostScalars` or `stepScalars`. */
  readonly scalars: Readonly<Record<string, number>>;
  /** The random key (`@seed`), needed when the model uses dropout or the step adds gradient noise or uses forward gradients. */
  readonly seed?: number;
  /**
   * A step with a plain form (TrainStep.plain: adahessian, sophia): whether
   * this step refreshes the curvature estimate (`stepRefreshes`), as the
   * runtime decides. Required there, ignored elsewhere.
   */
  readonly refresh?: boolean;
}

export interface ReferenceStepResult {
  /** The loss before the update (computed from the old params). */
  readonly loss: number;
  /** A new map: the old entries with every assigned tensor replaced. */
  readonly params: Map<string, RefTensor>;
}

export function referenceTrainStep(step: TrainStep, env: ReferenceStepEnv): ReferenceStepResult {
  if (step.plain && env.refresh === undefined)
    throw new Error(
      `optimizer ${step.optimizer.name} refreshes its curvature estimate every '${step.plain.every}' steps: say whether this step refreshes (refresh)`,
    );
  const graph = step.plain && env.refresh === false ? step.plain.graph : step.graph;
  const inputs = new Map(env.batch);
  for (const [k, v] of Object.entries(env.scalars)) inputs.set(k, scalar(v));
  if (graph.inputs.some((n) => n.name === '@seed')) {
    if (env.seed === undefined)
      throw new Error('this step draws random numbers (dropout, gradient noise or forward gradients): it needs a seed');
    inputs.set('@seed', scalar(env.seed, 'i32'));
  }
  const outs = graph.outputs;
  // Bind the symbolic dims from every given input, not only from those the
  // outputs read: a B may reach the step only through a shape (found by the
  // fuzzer: broadcast_to(x, [B, 2]) where nothing reads B's input).
  const given = graph.inputs.filter((n) => inputs.has(n.name));
  const dims = bindDims(
    given.map((n) => ({ name: n.name, kind: 'input' as const, type: n })),
    inputs,
  );
  const values = evaluate(
    outs.map((o) => o.node),
    { inputs, params: env.params, dims },
  );
  const params = new Map(env.params);
  outs.forEach((o, i) => {
    if (o.node.op === 'assign') params.set((o.node as NodeOf<'assign'>).target, values[i]!);
  });
  const loss = outs.find((o) => o.name === step.loss) ?? outs[0]!;
  return { loss: values[outs.indexOf(loss)]!.data[0]!, params };
}

/** Zeros for every optimizer-state tensor of the step. */
export function initialState(step: TrainStep): Map<string, RefTensor> {
  return new Map(
    step.state.map((s) => {
      const shape = s.shape.map((d) => {
        if (typeof d !== 'number') throw new Error(`state ${s.name} has a symbolic dimension`);
        return d;
      });
      return [s.name, tensor(s.dtype, shape, new Float64Array(shape.reduce((a, d) => a * d, 1)))];
    }),
  );
}

/** Whether update t (1 for the first) of `step` refreshes its curvature estimate (as config `opt`, default the step's own, says). */
export function stepRefreshes(step: TrainStep, t: number, opt = step.optimizer): boolean {
  return step.plain ? refreshesAt(opt, step.plain.every, t) : true;
}

/** The scalar inputs of `step` at update t (1 for the first). */
export function stepScalars(step: TrainStep, t: number): Record<string, number> {
  return hostScalars(step.optimizer, step.schedule, t, step.clip, step.gradNoise);
}
