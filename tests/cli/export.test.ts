// `kiln export FILE --onnx OUT`: the file runs on onnxruntime like `kiln run`
// on the wasm runtime (same params file, two batch sizes); outputs are
// checked before work starts and written atomically; a node it cannot
// export is a source error at its statement.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportModelGraph } from '../../cli/commands/export.js';
import { initialParams, loadModel } from '../../cli/model.js';
import { readTensors, writeTensors } from '../../cli/tensors.js';
import type { RefTensor } from '../../compiler/interpret.js';
import { KilnError } from '../../dsl/source.js';
import { lcg } from '../runtime/helpers.js';
import { mismatch, runOnnx } from '../targets/onnx-helpers.js';
import { kiln, tempDir } from './helpers.js';

/** Token ids in the vocabulary of 50 (`kiln run` refuses others before running). */
function bowInputs(b: number, seed: number): Map<string, RefTensor> {
  const rnd = lcg(seed);
  const ids = Float64Array.from({ length: b * 12 }, () => Math.floor(rnd() * 50));
  return new Map([
    ['tokens', { dtype: 'i32', shape: [b, 12], data: ids }],
    ['label', { dtype: 'f32', shape: [b], data: Float64Array.from({ length: b }, () => +(rnd() < 0.5)) }],
  ]);
}

describe('kiln export', () => {
  it('writes a model that onnxruntime runs like kiln run on wasm, at batch 2 and 4', async () => {
    const dir = tempDir();
    const params = join(dir, 'p.safetensors');
    const onnx = join(dir, 'bow.onnx');
    expect((await kiln('init', 'examples/bag_of_words.kiln', '-o', params, '--seed', '5')).status).toBe(0);
    const r = await kiln('export', 'examples/bag_of_words.kiln', '--onnx', onnx, '--params', params);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^wrote ${onnx}: model 'bag_of_words', \\d+ ONNX ops \\(opset 18\\), 3 params from ${params}, symbolic B\\n$`,
      ),
    );
    expect(readdirSync(dir).sort()).toEqual(['bow.onnx', 'p.safetensors']); // no temporary file left

    const sets = [2, 4].map((b) => bowInputs(b, b));
    const run = await runOnnx(readFileSync(onnx), sets);
    const { model } = loadModel('examples/bag_of_words.kiln', undefined);
    for (const [k, inputs] of sets.entries()) {
      const feed = join(dir, `in${k}.safetensors`);
      const outs = join(dir, `out${k}.safetensors`);
      writeTensors(feed, inputs, false);
      const w = await kiln(
        'run',
        'examples/bag_of_words.kiln',
        '--inputs',
        feed,
        '--params',
        params,
        '--out',
        outs,
        '--threads',
        '1',
      );
      expect(w.status).toBe(0);
      const want = readTensors(outs, model.outputs, 'an output');
      for (const o of model.outputs)
        expect(mismatch(`${o.name} batch ${k}`, run.results[k]!.get(o.name), want.get(o.name)!, 1e-4)).toBeUndefined();
    }
  });

  it('initialises params with --seed', async () => {
    const dir = tempDir();
    const a = await kiln('export', 'examples/bag_of_words.kiln', '--onnx', join(dir, 'a.onnx'), '--seed', '1');
    const b = await kiln('export', 'examples/bag_of_words.kiln', '--onnx', join(dir, 'b.onnx'), '--seed', '2');
    expect(a.stdout).toContain('3 params from seed 1');
    expect(b.status).toBe(0);
    expect(readFileSync(join(dir, 'a.onnx')).equals(readFileSync(join(dir, 'b.onnx')))).toBe(false);
  });

  it('checks the output before any work, and never writes over an input', async () => {
    const dir = tempDir();
    const params = join(dir, 'p.safetensors');
    await kiln('init', 'examples/linear_regression.kiln', '-o', params);
    const before = readFileSync(params);
    const over = await kiln('export', 'examples/linear_regression.kiln', '--onnx', params, '--params', params);
    expect(over.status).toBe(2);
    expect(over.stderr).toBe(`kiln: --onnx ${params} would overwrite ${params}, which this command reads\n`);
    expect(readFileSync(params).equals(before)).toBe(true);

    const missingDir = await kiln('export', 'examples/linear_regression.kiln', '--onnx', join(dir, 'no', 'x.onnx'));
    expect(missingDir.status).toBe(1);
    expect(missingDir.stderr).toMatch(/^error: cannot write .*x\.onnx: the directory .* does not exist\n$/);

    // A params file of another model: an error, and no file.
    const out = join(dir, 'bad.onnx');
    const wrong = await kiln('export', 'examples/mlp.kiln', '--onnx', out, '--params', params);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^error: .*p\.safetensors: tensor '\w+' is not a param of the model/);
    expect(existsSync(out)).toBe(false);
  });

  it('reports a node it cannot export at the statement that computes it', () => {
    // Every IR op exports; what can still fail is a symbolic size that no
    // input axis gives, which the language cannot write: drop the inputs.
    const file = 'tests/cli/fixtures/train/tiny_dropout.kiln';
    const { model } = loadModel(file, undefined);
    const graph = { ...model.lower({ training: false }), inputs: [] };
    let err: unknown;
    try {
      exportModelGraph(model, graph, false, initialParams(model, 0));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    const lines = (err as KilnError).message.split('\n');
    expect(lines[0]).toBe(
      `${file}:14:18: error: cannot export model 'tiny_dropout' to ONNX: op 'iota': symbolic dimension 'B' is not the whole size of an input axis, so its run-time size cannot be read (in 'loss')`,
    );
    expect(lines[1]).toBe('  14 |   output loss  = mean(softmax_cross_entropy(logits, y))');
    expect(lines[2]).toBe(`     |                  ${'^'.repeat('mean(softmax_cross_entropy(logits, y))'.length)}`);
  });
});
