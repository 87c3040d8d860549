// Checking one model: its plan (names, types, initialisers, statement
// order), then its body lowered in both modes, eval and training (a builtin
// may lower differently when training, dropout does), each graph verified.
// A model without errors becomes a CheckedModel: the compiler's model
// contract (compiler/model.ts) with the source positions the CLI's messages
// use, and the facts a train block needs about it either way.

import type { ModelDecl, ModelStmt } from './ast.js';
import type { FnInfo } from './fns.js';
import { Lowerer, graphOf } from './lower.js';
import { planModel } from './model-plan.js';
import { errorText } from './reporter.js';
import { type Diagnostic, type Span, KilnError, diag, formatDiagnostic } from './source.js';
import type { Graph } from '../compiler/ir.js';
import type { ModelContract, ModelParam, ModelTensor } from '../compiler/model.js';
import type { TensorType } from '../compiler/types.js';
import { LAYER } from '../compiler/model.js';
import { verifyGraph } from '../compiler/verify.js';

/** The compiler's model contract (compiler/model.ts), with the source positions the CLI's messages use. */
export interface CheckedTensor extends ModelTensor {
  readonly span: Span;
}

export interface CheckedParam extends CheckedTensor, ModelParam {}

export interface CheckedModel extends ModelContract {
  readonly span: Span;
  readonly decl: ModelDecl;
  readonly inputs: readonly CheckedTensor[];
  readonly params: readonly CheckedParam[];
  readonly outputs: readonly CheckedTensor[];
  /** The type of every statement of the body (params, lets and outputs). */
  readonly statementTypes: ReadonlyMap<ModelStmt, TensorType>;
}

/** What a train block may ask of its model, known even when the model has errors. */
export interface ModelFacts {
  readonly decl: ModelDecl;
  /** Output names with their types (undefined when the output had an error). */
  readonly outputs: ReadonlyMap<string, TensorType | undefined>;
  readonly params: readonly string[];
  /** The names the let and output statements define. */
  readonly statements: ReadonlySet<string>;
  /** Undefined when a param or input has no type or initialiser (the model's errors are reported). */
  readonly model: CheckedModel | undefined;
}

/**
 * Checks model `m` (a second model of its name when `duplicate`), reporting
 * into `out`. Its CheckedModel is only usable when `out` gained nothing.
 */
export function checkModel(
  m: ModelDecl,
  fns: ReadonlyMap<string, FnInfo>,
  duplicate: boolean,
  out: Diagnostic[],
): ModelFacts {
  const name = m.name.name;
  if (duplicate) out.push(diag(m.name.span, `duplicate model '${name}'`));
  const plan = planModel(m, out);

  // Check = lower, in both modes, verifying the graphs: a broken one is our
  // bug, but it must surface as a diagnostic, never as a crash later.
  const lowerChecked = (training: boolean) => {
    const l = new Lowerer(fns, plan, training);
    const r = l.lowerModel();
    const ds = [...l.reporter.diagnostics];
    if (ds.length === 0) {
      try {
        verifyGraph(graphOf(l, r), training ? 'check (training)' : 'check');
      } catch (err) {
        ds.push(diag(m.name.span, `internal error while lowering model ${name}: ${errorText(err)}`));
      }
    }
    return { l, r, ds };
  };
  const evalPass = lowerChecked(false);
  const trainPass = lowerChecked(true);
  const lowered = evalPass.r;
  const shown = new Set(evalPass.ds.map(formatDiagnostic));
  out.push(...evalPass.ds, ...trainPass.ds.filter((d) => !shown.has(formatDiagnostic(d))));
  const outputTypes = new Map<string, TensorType | undefined>();
  for (const s of m.body)
    if (s.kind === 'output' && !outputTypes.has(s.name.name)) outputTypes.set(s.name.name, lowered.types.get(s));
  const facts = {
    decl: m,
    outputs: outputTypes,
    params: plan.params.map((p) => p.stmt.name.name),
    statements: new Set(plan.order.map((s) => s.name.name)),
  };
  const { inputs, params } = plan;
  if (params.some((p) => p.type === undefined || p.init === undefined) || inputs.some((i) => i.type === undefined))
    return { ...facts, model: undefined };
  const checkedInputs = inputs.map((i) => ({ name: i.name, type: i.type!, span: i.span }));
  const checkedParams = params.map((p) => ({
    name: p.stmt.name.name,
    type: p.type!,
    init: p.init!,
    span: p.stmt.span,
  }));
  const checkedOutputs = lowered.outputs.map((o) => ({
    name: o.name,
    type: { dtype: o.node.dtype, shape: o.node.shape },
    span: o.stmt.span,
  }));
  const usesRandomness = trainPass.l.seed !== undefined;
  const model: CheckedModel = {
    name,
    span: m.span,
    decl: m,
    inputs: checkedInputs,
    params: checkedParams,
    outputs: checkedOutputs,
    symbolicDims: plan.symDims,
    statementTypes: lowered.types,
    usesRandomness,
    layers: [...lowered.lets].map(([n, node]) => ({ name: n, type: { dtype: node.dtype, shape: node.shape } })),
    lower(opts: { readonly training: boolean; readonly layers?: readonly string[] }): Graph {
      const l = new Lowerer(fns, plan, opts.training);
      const r = l.lowerModel();
      if (l.reporter.diagnostics.length > 0) throw new KilnError(l.reporter.diagnostics);
      const g = graphOf(l, r);
      if (!opts.layers?.length) return g;
      const exposed = opts.layers.map((n) => {
        const node = r.lets.get(n);
        if (!node) throw new Error(`model ${name} has no layer '${n}' (its layers: ${[...r.lets.keys()].join(', ')})`);
        return { name: `${LAYER}${n}`, node };
      });
      return { ...g, outputs: [...g.outputs, ...exposed] };
    },
  };
  return { ...facts, model };
}
