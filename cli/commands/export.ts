// `kiln export FILE --onnx OUT.onnx [--params P] [--model NAME] [--seed N]`:
// the model's optimised forward graph as an ONNX model (targets/onnx/), its
// params as initializers (from P, or initialised with the seed), written
// atomically. A node ONNX cannot express is reported at the model statement
// that computes it.

import { compile } from '../../compiler/compile.js';
import type { RefTensor } from '../../compiler/interpret.js';
import { type Graph, type Node, attrsKey } from '../../compiler/ir.js';
import { formatType } from '../../compiler/types.js';
import type { CheckedModel } from '../../dsl/check-model.js';
import { KilnError, diag } from '../../dsl/source.js';
import { OnnxExportError } from '../../targets/onnx/builder.js';
import { type OnnxExport, exportOnnx } from '../../targets/onnx/export.js';
import { UserError } from '../errors.js';
import { loadModel, modelParams } from '../model.js';
import type { CommonOptions } from '../options.js';
import type { Output } from '../output.js';
import { checkOutputPath } from '../output-paths.js';
import { writeFileAtomic } from '../train/atomic-write.js';
import { locateOp } from './locate-op.js';

/** As `kiln --version` says. */
const PRODUCER_VERSION = '0.1.0';

export interface ExportOptions extends Pick<CommonOptions, 'model' | 'seed'> {
  readonly onnx: string;
  readonly params?: string;
}

export function exportCommand(file: string, opts: ExportOptions, out: Output): number {
  checkOutputPath(opts.onnx, file, [opts.params], '--onnx');
  const { model } = loadModel(file, opts.model);
  const params = modelParams(model, opts.params, opts.seed);
  const graph = compile(model, undefined).forward.optimised.graph;
  const exported = exportModelGraph(model, graph, false, params);
  writeFileAtomic(opts.onnx, exported.bytes);
  const symbols = model.symbolicDims.length > 0 ? `, symbolic ${model.symbolicDims.join(', ')}` : '';
  const from = opts.params ?? `seed ${opts.seed}`;
  out.stdout(
    `wrote ${opts.onnx}: model '${model.name}', ${exported.nodeCount} ONNX ops (opset ${exported.opset}), ` +
      `${params.size} params from ${from}${symbols}\n`,
  );
  return 0;
}

/** The same op, attributes and type: how a node of one lowering is found in another. */
function sameNode(a: Node, b: Node): boolean {
  return a.op === b.op && attrsKey(a) === attrsKey(b) && formatType(a) === formatType(b);
}

/**
 * `graph` (of `model`, lowered with `training`) as ONNX; an op ONNX cannot
 * express is a source error at the statement that computes it.
 */
export function exportModelGraph(
  model: CheckedModel,
  graph: Graph,
  training: boolean,
  params: ReadonlyMap<string, RefTensor>,
): OnnxExport {
  try {
    return exportOnnx(graph, params, { name: model.name, producerVersion: PRODUCER_VERSION });
  } catch (e) {
    if (!(e instanceof OnnxExportError)) throw e;
    const message = `cannot export model '${model.name}' to ONNX: ${e.message}`;
    const at = e.node;
    const site = at && locateOp(model, training, (n) => sameNode(n, at));
    if (!site) throw new UserError(message);
    throw new KilnError([diag(site.span, `${message} (in '${site.name}')`)]);
  }
}
