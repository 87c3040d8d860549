// Every model of every example (examples/*.kiln, examples/lens/*.kiln)
// exported to ONNX and run on onnxruntime at two batch sizes (so the batch
// dimension is symbolic in the file, not baked in), against `kiln run
// --target reference`: the float64 interpreter on the model's unoptimised IR
// (the export is of the optimised graph). Params are the seeded initial
// ones, rounded to f32 on both sides; inputs are f32-exact.
//
// Tolerance: |onnx - reference| <= 2e-4 * max(1, |reference|) for f32
// outputs (f32 sums of up to 1568 products and softmaxes, against float64);
// i32 outputs exactly.

import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initialParams } from '../../cli/model.js';
import { compile } from '../../compiler/compile.js';
import { type RefTensor, evaluate } from '../../compiler/interpret.js';
import { evalShape } from '../../compiler/types.js';
import { loadKilnFile } from '../../dsl/frontend.js';
import { decodeModel } from '../../targets/onnx/schema.js';
import { ONNX_OPSET, exportOnnx } from '../../targets/onnx/export.js';
import { lcg } from '../runtime/helpers.js';
import { mismatch, runOnnx } from './onnx-helpers.js';

const TOL = 2e-4;
const BATCHES = [2, 3];

const files = [
  ...readdirSync('examples')
    .filter((f) => f.endsWith('.kiln'))
    .map((f) => `examples/${f}`),
  ...readdirSync('examples/lens')
    .filter((f) => f.endsWith('.kiln'))
    .map((f) => `examples/lens/${f}`),
];

type Model = ReturnType<typeof loadKilnFile>['result']['models'][number];

function feeds(model: Model, b: number, seed: number): Map<string, RefTensor> {
  const rnd = lcg(seed);
  const dims = new Map(model.symbolicDims.map((s) => [s, b]));
  return new Map(
    model.inputs.map((d) => {
      const shape = evalShape(d.type.shape, dims);
      const n = shape.reduce((a, c) => a * c, 1);
      const draw = () =>
        d.type.dtype === 'i32'
          ? Math.floor(rnd() * 10)
          : d.type.dtype === 'bool'
            ? +(rnd() < 0.5)
            : Math.fround(rnd() * 2 - 1);
      return [d.name, { dtype: d.type.dtype, shape, data: Float64Array.from({ length: n }, draw) }];
    }),
  );
}

interface Dimension {
  readonly dimValue?: number;
  readonly dimParam?: string;
}
interface DecodedValue {
  readonly name: string;
  readonly type: { readonly tensorType: { readonly elemType: number; readonly shape: { readonly dim?: Dimension[] } } };
}

describe('ONNX export of every example runs on onnxruntime like the reference', () => {
  it('finds the examples', () => expect(files.length).toBeGreaterThanOrEqual(10));
  for (const file of files) {
    const { result } = loadKilnFile(file);
    for (const model of result.models)
      it(`${file}: model ${model.name}, batch ${BATCHES.join(' and ')}`, async () => {
        const params = initialParams(model, 3);
        for (const p of params.values()) p.data.forEach((v, i, a) => (a[i] = Math.fround(v)));
        const c = compile(model, undefined);
        const exp = exportOnnx(c.forward.optimised.graph, params, { name: model.name, producerVersion: 'test' });
        expect(exp.opset).toBe(ONNX_OPSET);

        // A plain model: typed inputs and outputs, the batch as dim_param.
        const decoded = decodeModel(exp.bytes) as {
          opsetImport: { version: number }[];
          graph: { input: DecodedValue[]; output: DecodedValue[]; initializer: { name: string }[] };
        };
        expect(decoded.opsetImport[0]!.version).toBeGreaterThanOrEqual(17);
        expect(decoded.graph.input.map((i) => i.name)).toEqual(model.inputs.map((i) => i.name));
        expect(decoded.graph.output.map((o) => o.name)).toEqual(model.outputs.map((o) => o.name));
        for (const [decl, info] of [
          ...model.inputs.map((d, i) => [d, decoded.graph.input[i]!] as const),
          ...model.outputs.map((d, i) => [d, decoded.graph.output[i]!] as const),
        ])
          expect((info.type.tensorType.shape.dim ?? []).map((d) => d.dimParam ?? d.dimValue)).toEqual(
            decl.type.shape.map((d) => (typeof d === 'number' ? d : d.syms.join('*'))),
          );
        const inits = new Set(decoded.graph.initializer.map((i) => i.name));
        expect(model.params.filter((p) => inits.has(p.name)).length).toBeGreaterThan(0);

        const sets = BATCHES.map((b, k) => feeds(model, b, 11 * k + 1));
        const run = await runOnnx(exp.bytes, sets);
        expect(run.inputNames).toEqual(model.inputs.map((i) => i.name));
        expect(run.outputNames).toEqual(model.outputs.map((o) => o.name));
        sets.forEach((inputs, k) => {
          const want = evaluate(
            c.ir.outputs.map((o) => o.node),
            { inputs, params },
          );
          c.ir.outputs.forEach((o, j) => {
            const bad = mismatch(`${o.name} (batch ${BATCHES[k]})`, run.results[k]!.get(o.name), want[j]!, TOL);
            expect(bad).toBeUndefined();
          });
        });
      });
  }
});
