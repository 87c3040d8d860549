// Checking a train block: the model it trains (one block per model), one
// minimize statement naming a scalar f32 output, one optimizer, at most one
// schedule, one clip and one gradient estimator, and the params it freezes. A block without errors
// becomes a CheckedTrain: the compiler's train contract (compiler/model.ts)
// with source positions.

import type { TrainDecl } from './ast.js';
import type { ModelFacts } from './check-model.js';
import { type Diagnostic, type Span, closest, diag } from './source.js';
import {
  type ClipSpec,
  type HyperCall,
  type OptimizerSpec,
  type Report,
  clipSpec,
  gradientSpec,
  optimizerSpec,
  scheduleCall,
} from './train-calls.js';
import type { GradientEstimator, TrainContract } from '../compiler/model.js';
import { needsHessianDiag } from '../compiler/optimizers/index.js';
import { formatType } from '../compiler/types.js';

export interface CheckedTrain extends TrainContract {
  readonly span: Span;
  readonly optimizer: OptimizerSpec;
  readonly schedule?: HyperCall;
  readonly clip?: ClipSpec;
  readonly freeze: string[];
}

/**
 * Checks train block `t` against the facts of the program's models (by
 * name), reporting into `out`; `trained` records the models that already
 * have a block.
 */
export function checkTrain(
  t: TrainDecl,
  models: ReadonlyMap<string, ModelFacts>,
  trained: Map<string, Span>,
  out: Diagnostic[],
): CheckedTrain | undefined {
  const error: Report = (span, message, notes = []) => out.push(diag(span, message, notes));
  const name = t.model.name;
  const facts = models.get(name);
  if (!facts) {
    const hint = closest(name, models.keys());
    error(t.model.span, `unknown model '${name}'${hint ? `; did you mean '${hint}'?` : ''}`);
  } else {
    const prev = trained.get(name);
    if (prev) error(t.model.span, `model ${name} already has a train block`, [{ message: 'first', span: prev }]);
    else trained.set(name, t.model.span);
  }
  const seen = new Map<string, Span>();
  let minimize: string | undefined;
  let optimizer: OptimizerSpec | undefined;
  let schedule: HyperCall | undefined;
  let clip: ClipSpec | undefined;
  let gradient: GradientEstimator | undefined;
  const freeze: string[] = [];
  let ok = true;
  for (const s of t.body) {
    if (s.kind !== 'freeze') {
      const prev = seen.get(s.kind);
      if (prev) {
        ok = false;
        error(s.span, `a train block takes one ${s.kind} statement`, [{ message: 'first', span: prev }]);
        continue;
      }
      seen.set(s.kind, s.span);
    }
    switch (s.kind) {
      case 'minimize': {
        const target = s.target.name;
        if (!facts) break;
        if (!facts.outputs.has(target)) {
          ok = false;
          const hint = closest(target, facts.outputs.keys());
          const what = facts.params.includes(target)
            ? `'${target}' is a param`
            : facts.statements.has(target)
              ? `'${target}' is not an output`
              : `unknown output '${target}'`;
          error(
            s.target.span,
            `minimize needs a scalar f32 output of model ${name}; ${what}${hint ? `; did you mean '${hint}'?` : ''}`,
          );
          break;
        }
        const type = facts.outputs.get(target);
        if (type && (type.dtype !== 'f32' || type.shape.length !== 0)) {
          ok = false;
          const fix =
            type.dtype !== 'f32' ? 'only f32 values have gradients' : `reduce it, as in output ${target} = mean(...)`;
          error(s.target.span, `minimize needs a scalar f32 output; '${target}' is ${formatType(type)} (${fix})`);
          break;
        }
        minimize = target;
        break;
      }
      case 'optimizer':
        optimizer = optimizerSpec(s.call, error);
        if (!optimizer) ok = false;
        break;
      case 'schedule': {
        schedule = scheduleCall(s.call, error);
        if (!schedule) ok = false;
        break;
      }
      case 'clip':
        clip = clipSpec(s.call, error);
        if (!clip) ok = false;
        break;
      case 'gradient':
        gradient = gradientSpec(s.estimator, error);
        if (!gradient) ok = false;
        break;
      case 'freeze':
        for (const id of s.names) {
          if (freeze.includes(id.name)) {
            ok = false;
            error(id.span, `'${id.name}' is frozen twice`);
          } else if (facts && !facts.params.includes(id.name)) {
            ok = false;
            const hint = closest(id.name, facts.params);
            error(
              id.span,
              `unknown param '${id.name}' in freeze (model ${name})${hint ? `; did you mean '${hint}'?` : ''}`,
            );
          } else freeze.push(id.name);
        }
        break;
    }
  }
  if (!seen.has('minimize')) {
    ok = false;
    error(t.model.span, `train ${name} needs a minimize statement, as in minimize loss`);
  }
  if (!seen.has('optimizer')) {
    ok = false;
    error(t.model.span, `train ${name} needs an optimizer statement, as in optimizer adam(lr = 1e-3)`);
  }
  if (gradient?.kind === 'forward' && optimizer && !forwardGradientFits(optimizer, seen.get('gradient')!, error))
    ok = false;
  if (!ok || !facts || minimize === undefined || optimizer === undefined) return undefined;
  return {
    model: name,
    span: t.span,
    minimize,
    optimizer,
    ...(schedule && { schedule }),
    ...(clip && { clip }),
    freeze,
    ...(gradient && { gradient }),
  };
}

/**
 * A forward-gradient step estimates the gradient from jvps: it has no
 * Hessian for adahessian or sophia, nor the exact gradient at a perturbed
 * point that sam needs. Reported at the gradient line, the optimizer noted.
 */
function forwardGradientFits(optimizer: OptimizerSpec, at: Span, error: Report): boolean {
  const note = [{ message: 'the optimizer', span: optimizer.span }];
  let base: OptimizerSpec = optimizer;
  for (let s: OptimizerSpec | undefined = optimizer; s; s = s.inner) {
    base = s;
    if (s.name === 'sam') {
      error(
        at,
        'sam needs the exact gradient at the perturbed point, which a forward-gradient step does not compute: use gradient backprop',
        note,
      );
      return false;
    }
  }
  if (needsHessianDiag(base.name)) {
    error(
      at,
      `optimizer ${base.name} needs the Hessian of the loss, which a forward-gradient step does not compute: use gradient backprop`,
      note,
    );
    return false;
  }
  return true;
}
