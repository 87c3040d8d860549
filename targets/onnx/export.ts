// A forward graph as an ONNX model (opset 18): the graph's inputs as typed
// graph inputs (symbolic dimensions as `dim_param`), its params as
// initializers, its outputs under their names, and every IR node lowered by
// lower.ts in topological order. Reads only the IR, never the front end.

import { type Graph, type Node, type NodeOf, topoSort } from '../../compiler/ir.js';
import { type DType, type Shape, type TensorType, formatDim, formatType } from '../../compiler/types.js';
import { type DimSource, OnnxBuilder, OnnxExportError, onnxDType, rawData } from './builder.js';
import { effectiveInputs } from './broadcast.js';
import { lowerNode } from './lower.js';
import { type DimensionProto, type NodeProto, type TensorProto, type ValueInfoProto, encodeModel } from './schema.js';

export const ONNX_OPSET = 18;
/** The IR version that goes with opset 18. */
const IR_VERSION = 8;

/** A param's value (row-major; f32 values are rounded to f32 in the file). */
export interface ParamValue {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

export interface OnnxExport {
  /** The .onnx file's bytes. */
  readonly bytes: Uint8Array;
  /** ONNX nodes in the graph. */
  readonly nodeCount: number;
  readonly opset: number;
}

export interface OnnxExportOptions {
  /** The graph's name (the model's). */
  readonly name: string;
  readonly producerVersion: string;
}

/**
 * Exports `graph` with `params` as its initializers. Throws OnnxExportError
 * for what ONNX cannot express (with the IR node at fault), and for a
 * missing or mistyped param.
 */
export function exportOnnx(graph: Graph, params: ReadonlyMap<string, ParamValue>, opts: OnnxExportOptions): OnnxExport {
  const b = new OnnxBuilder(symbolSources(graph));
  const values = new Map<number, string>();
  const order = lowered(graph.outputs.map((o) => o.node));
  for (const n of order) {
    const ins = effectiveInputs(n).map((i) => values.get(i.id)!);
    try {
      values.set(n.id, lowerNode(b, n, ins));
    } catch (e) {
      if (e instanceof OnnxExportError && !e.node) throw new OnnxExportError(`op '${n.op}': ${e.message}`, n);
      throw e;
    }
  }
  const initializers = order.filter((n): n is NodeOf<'param'> => n.op === 'param').map((p) => initializer(p, params));

  const nodes = nameOutputs(b, graph, values);
  const model = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'kiln',
    producerVersion: opts.producerVersion,
    graph: {
      name: opts.name,
      node: nodes,
      initializer: [...initializers, ...b.initializers],
      input: graph.inputs.map((i) => valueInfo(i.name, i)),
      output: graph.outputs.map((o) => valueInfo(o.name, o.node)),
    },
  };
  return { bytes: encodeModel(model), nodeCount: nodes.length, opset: ONNX_OPSET };
}

/** The nodes the ONNX graph computes (reachable through effective inputs), in topological order. */
function lowered(roots: readonly Node[]): Node[] {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    stack.push(...effectiveInputs(n));
  }
  return topoSort(roots).filter((n) => seen.has(n.id));
}

/** A param's value as an initializer, checked against the param's type. */
function initializer(p: NodeOf<'param'>, params: ReadonlyMap<string, ParamValue>): TensorProto {
  const { name } = p;
  const v = params.get(name);
  if (!v) throw new OnnxExportError(`missing param '${name}' (expected ${formatType(p)})`);
  if (v.dtype !== p.dtype || v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i]))
    throw new OnnxExportError(`param '${name}': expected ${formatType(p)}, got ${v.dtype}[${v.shape.join(', ')}]`);
  return { name, dims: v.shape, dataType: onnxDType(v.dtype), rawData: rawData(onnxDType(v.dtype), v.data) };
}

/**
 * Each symbolic dimension's first appearance as the whole size of an input
 * axis: where its run-time size is read.
 */
function symbolSources(graph: Graph): Map<string, DimSource> {
  const out = new Map<string, DimSource>();
  for (const i of graph.inputs)
    i.shape.forEach((d, axis) => {
      if (typeof d !== 'number' && d.coef === 1 && d.syms.length === 1 && !out.has(d.syms[0]!))
        out.set(d.syms[0]!, { input: i.name, axis });
    });
  return out;
}

/**
 * The nodes, with each output's value renamed to the output's name where a
 * node computes it (and no other output or a graph input or initializer
 * already is that value); the others get an Identity.
 */
function nameOutputs(b: OnnxBuilder, graph: Graph, values: ReadonlyMap<number, string>): NodeProto[] {
  const produced = new Set(b.nodes.flatMap((n) => n.output));
  const rename = new Map<string, string>();
  const identities: NodeProto[] = [];
  for (const o of graph.outputs) {
    const v = values.get(o.node.id)!;
    if (produced.has(v) && !rename.has(v)) rename.set(v, o.name);
    else
      identities.push({
        input: [rename.get(v) ?? v],
        output: [o.name],
        name: `Identity:${o.name}`,
        opType: 'Identity',
        attribute: [],
      });
  }
  const r = (v: string) => rename.get(v) ?? v;
  return [...b.nodes.map((n) => ({ ...n, input: n.input.map(r), output: n.output.map(r) })), ...identities];
}

function valueInfo(name: string, t: TensorType | Node): ValueInfoProto {
  return { name, type: { tensorType: { elemType: onnxDType(t.dtype), shape: { dim: dims(t.shape) } } } };
}

function dims(shape: Shape): DimensionProto[] {
  return shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: formatDim(d) }));
}
