// What an optimizer contributes to the training step: per parameter, an IR
// expression for the new parameter and the new state tensors, reading the
// gradient, the old values and f32[] runtime scalars. Elementwise rules stay
// elementwise (scalars broadcast by reshape + expand), so the middle end
// fuses one parameter's whole update into one kernel; per-tensor norms and
// counts (LAMB, LARS, NovoGrad, cautious) are `reduce`s over the whole
// tensor, which the planner gives small kernels of their own.

import { type Shape, numel } from '../types.js';
import type { IRBuilder, Node } from '../ir.js';

export interface OptimizerUpdate {
  readonly param: Node;
  /** Keyed by the rule's state suffixes. */
  readonly state: Readonly<Record<string, Node>>;
  /**
   * `param = base − delta`: `delta` is the optimizer's step, `base` the
   * parameter after any decoupled weight decay (θ when there is none). The
   * cautious modifier masks `delta` only (§22: C-AdamW decays unmasked).
   * Absent: base = θ, delta = θ − param.
   */
  readonly split?: { readonly base: Node; readonly delta: Node };
}

/** One trainable tensor as a whole-model phase sees it. */
export interface ParamView {
  readonly param: Node;
  readonly grad: Node;
  /** Its old state tensors, keyed by suffix. */
  readonly state: Readonly<Record<string, Node>>;
}

/**
 * A whole-model phase before the per-parameter updates (Prodigy's d): it
 * reads every trainable tensor, its gradient and old state, and its own
 * global state, and gives the new global state and f32[] values that every
 * per-parameter update then reads as extra scalars. Built once per step.
 */
export interface GlobalPhase {
  /** Global state names: f32[] step-graph params `<prefix>.<name>`, zeros at start. */
  readonly prefix: string;
  readonly state: readonly string[];
  compute(
    b: IRBuilder,
    tensors: readonly ParamView[],
    state: Readonly<Record<string, Node>>,
    scalars: Readonly<Record<string, Node>>,
  ): { readonly state: Readonly<Record<string, Node>>; readonly values: Readonly<Record<string, Node>> };
}

export interface OptimizerRule {
  readonly name: string;
  /** State tensor suffixes (`m`, `v`): the step graph stores them as params `<param>.<suffix>`, zeros at start. */
  readonly state: readonly string[];
  /** The suffixes of `state` that hold one value per parameter tensor (shape []), not one per element. */
  readonly perTensorState?: readonly string[];
  /** The runtime scalars read (graph inputs `@<name>`, values from runtime/optimizers/host-scalars.ts). */
  readonly scalars: readonly string[];
  /**
   * The update reads a Hutchinson estimate z ⊙ (H·z) of the loss Hessian's
   * diagonal for the param (compiler/curvature.ts): the step builder passes
   * it as `hessDiag` in the refreshing step and none in the plain step
   * (CURVATURE_INTERVAL), where the update keeps its stored estimate.
   * Absent for first-order rules, whose graphs stay as they were.
   */
  readonly needsHessianDiag?: boolean;
  /**
   * The rule recomputes part of its state only every CURVATURE_INTERVAL steps
   * without reading the Hessian (Shampoo's inverse roots): the step builder
   * makes a refreshing and a plain program, and `update` gets `refresh`.
   */
  readonly refreshes?: boolean;
  /** A state tensor's shape when it is not the param's (Shampoo's L: [rows, rows]); absent or undefined: the param's. */
  readonly stateShape?: (param: Node, suffix: string) => Shape | undefined;
  /** The state suffixes of one param when they depend on its shape (Muon: rank 2 or not); absent: `state`. */
  readonly stateFor?: (param: Node) => readonly string[];
  /** A whole-model phase whose values every update reads (absent: the updates are independent). */
  readonly global?: GlobalPhase;
  update(
    b: IRBuilder,
    param: Node,
    grad: Node,
    state: Readonly<Record<string, Node>>,
    scalars: Readonly<Record<string, Node>>,
    hessDiag?: Node,
    refresh?: boolean,
  ): OptimizerUpdate;
}

/** The state suffixes of `param` under `rule`. */
export function stateOf(rule: OptimizerRule, param: Node): readonly string[] {
  return rule.stateFor?.(param) ?? rule.state;
}

/** A named entry of a record, or an internal error naming what is missing. */
export function pick(from: Readonly<Record<string, Node>>, key: string, what: string): Node {
  const n = from[key];
  if (!n) throw new Error(`optimizer update: missing ${what} '${key}'`);
  return n;
}

/** Lookups into an update's scalars and state that fail loudly. */
export function readers(state: Readonly<Record<string, Node>>, scalars: Readonly<Record<string, Node>>) {
  return {
    s: (k: string) => pick(scalars, k, 'scalar'),
    st: (k: string) => pick(state, k, 'state'),
  };
}

/**
 * Elementwise arithmetic on tensors and f32[] scalars with broadcasting.
 * Combine scalars with each other before meeting a tensor, so the scalar
 * part stays a scalar computation. Numbers are structural constants (0, 1,
 * the 1/3 of a cube root), never hyperparameters.
 */
export function ops(b: IRBuilder) {
  const add = (x: Node | number, y: Node | number) => b.bin('add', x, y);
  const sub = (x: Node | number, y: Node | number) => b.bin('sub', x, y);
  const mul = (x: Node | number, y: Node | number) => b.bin('mul', x, y);
  const div = (x: Node | number, y: Node | number) => b.bin('div', x, y);
  const max = (x: Node | number, y: Node | number) => b.bin('max', x, y);
  const min = (x: Node | number, y: Node | number) => b.bin('min', x, y);
  const sqrt = (x: Node) => b.unary('sqrt', x);
  const isPositive = (x: Node) => b.bin('lt', 0, x);
  const asF32 = (c: Node) => b.cast(c, 'f32');
  return {
    add,
    sub,
    mul,
    div,
    max,
    min,
    sqrt,
    abs: (x: Node) => b.unary('abs', x),
    exp: (x: Node) => b.unary('exp', x),
    neg: (x: Node) => b.unary('neg', x),
    pow: (x: Node, y: Node | number) => b.bin('pow', x, y),
    /** sign(0) = 0 (§1), from two compares. */
    sign: (x: Node) => sub(asF32(isPositive(x)), asF32(b.bin('lt', x, 0))),
    /** A host flag (1 or 0) as a condition. */
    flag: (x: Node) => isPositive(x),
    isPositive,
    asF32,
    /** `where` with broadcasting: the unselected side's NaN or inf never leaks (unlike c·a + (1 − c)·b). */
    select: (c: Node, x: Node | number, y: Node | number) => b.select(c, x, y),
    clamp: (x: Node, lo: Node, hi: Node) => min(max(x, lo), hi),
    /** x·x. */
    sq: (x: Node) => mul(x, x),
    /** The sum of every element, as an f32[] scalar (a whole-tensor reduction). */
    sumAll: (x: Node) =>
      b.reshape(
        b.reduce(
          'sum',
          x,
          x.shape.map((_d, i) => i),
        ),
        [],
      ),
    /** The element count of `x` as an f32[] scalar (a constant for static shapes). */
    count: (x: Node) => b.dimSize(numel(x.shape), 'f32'),
    /** `decay·old + keep·x`: an EMA with both coefficients from the host. */
    ema: (decay: Node, old: Node, keep: Node, x: Node) => add(mul(decay, old), mul(keep, x)),
  };
}

/** `base − delta` with its split recorded (see OptimizerUpdate.split). */
export function descend(b: IRBuilder, base: Node, delta: Node, state: Readonly<Record<string, Node>>): OptimizerUpdate {
  return { param: b.bin('sub', base, delta), state, split: { base, delta } };
}

/** θ − lr·λ·θ: decoupled, lr-scaled weight decay (§32 form 2). */
export function decoupledDecay(b: IRBuilder, param: Node, lr: Node, wd: Node): Node {
  return b.bin('sub', param, b.bin('mul', b.bin('mul', lr, wd), param));
}

/** g + λ·θ: coupled L2 (§32 form 1). The λ term is always there (a runtime scalar, 0 by default). */
export function coupledDecay(b: IRBuilder, grad: Node, param: Node, wd: Node): Node {
  return b.bin('add', grad, b.bin('mul', wd, param));
}
