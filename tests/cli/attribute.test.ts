// `kiln attribute`: every method on wasm (from the source, and from an
// artifact compiled with `--entries attribute`) against the reference
// interpreter on the MLP and the CNN examples, integrated gradients'
// completeness on a real model, heat maps, data forms as inputs, and the
// errors a user can meet.
//
// Tolerance: the f32 kernels against the float64 interpreter, |got - want|
// <= 2e-3 * max(|want|) + 1e-6 per tensor (a sum of up to `steps` f32
// gradients, each at `kiln grad`'s tolerance). SmoothGrad and expected
// gradients draw their points on the host from --seed, so both targets see
// the same points.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../runtime/safetensors.js';
import { writeLensFiles } from '../helpers/lens-files.js';
import { kiln, tempDir } from './helpers.js';

const MLP = 'examples/mlp.kiln';
const CNN = 'examples/cnn.kiln';
const read = (p: string) => decodeSafetensors(readFileSync(p), p).tensors;

async function ok(...args: string[]): Promise<string> {
  const r = await kiln(...args);
  expect(r.stderr, `kiln ${args.join(' ')}`).toBe('');
  expect(r.status, `kiln ${args.join(' ')}`).toBe(0);
  return r.stdout;
}

function expectNear(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, what).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  expect(scale, `${what}: an all-zero attribution would pass trivially`).toBeGreaterThan(0);
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got[i]! - want[i]!), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(
      2e-3 * scale + 1e-6,
    );
}

const METHODS: readonly (readonly string[])[] = [
  ['--method', 'saliency'],
  ['--method', 'input_x_gradient'],
  ['--method', 'integrated_gradients', '--steps', '6'],
  ['--method', 'smoothgrad', '--samples', '5', '--noise', '0.2'],
  ['--method', 'expected_gradients', '--samples', '5'],
];

describe('kiln attribute', () => {
  for (const [file, input, output] of [
    [MLP, 'x', 'probs'],
    [CNN, 'x', 'probs'],
  ] as const)
    it(`${file}: every method on wasm (source and artifact) equals the reference interpreter`, async () => {
      const dir = tempDir();
      const f = writeLensFiles(file, dir, 3, 7);
      const base = writeLensFiles(file, tempDir(), 4, 8);
      const params = join(dir, 'params.safetensors');
      await ok('init', file, '-o', params, '--seed', '3');
      const art = join(dir, 'art');
      await ok('compile', file, '-o', art, '--entries', 'attribute');
      for (const method of METHODS) {
        const extra = method.includes('expected_gradients') ? ['--baseline', base.inputs] : [];
        const args = (model: string, out: string, ...t: string[]) =>
          [
            'attribute',
            model,
            '--inputs',
            f.inputs,
            '--params',
            params,
            '--wrt',
            input,
            '--of',
            output,
            ...method,
            ...extra,
            '--seed',
            '4',
            '--out',
            join(dir, out),
            ...t,
          ] as const;
        expect(await ok(...args(file, 'ref.safetensors', '--target', 'reference'))).toContain(
          `(${method[1]} on the reference interpreter, 1 batched call)`,
        );
        await ok(...args(file, 'wasm.safetensors'));
        await ok(...args(art, 'art.safetensors'));
        const want = read(join(dir, 'ref.safetensors')).get(`attr.${input}`)!;
        expect(want.shape).toEqual(read(f.inputs).get(input)!.shape);
        expectNear(
          `${file} ${method[1]} wasm`,
          read(join(dir, 'wasm.safetensors')).get(`attr.${input}`)!.data,
          want.data,
        );
        expectNear(
          `${file} ${method[1]} artifact`,
          read(join(dir, 'art.safetensors')).get(`attr.${input}`)!.data,
          want.data,
        );
      }
    });

  it('integrated gradients are complete: sum(attr) -> F(x) - F(0), the error shrinking as steps grow', async () => {
    const dir = tempDir();
    const f = writeLensFiles(MLP, dir, 2, 11);
    const params = join(dir, 'params.safetensors');
    await ok('init', MLP, '-o', params, '--seed', '1');
    // F is the log-probability's input here: probs of the argmax class at x, and at x0 = 0.
    const score = async (zero: boolean) => {
      const inputs = read(f.inputs);
      const x = inputs.get('x')!;
      const run = join(dir, zero ? 'run0.safetensors' : 'run.safetensors');
      const src = zero ? join(dir, 'zero.safetensors') : f.inputs;
      if (zero) {
        const { encodeSafetensors } = await import('../../runtime/safetensors.js');
        const { writeFileSync } = await import('node:fs');
        writeFileSync(
          src,
          encodeSafetensors({
            x: { dtype: 'F32', shape: x.shape, data: new Float32Array(x.data.length) },
            y: { dtype: 'I32', shape: inputs.get('y')!.shape, data: Int32Array.from(inputs.get('y')!.data) },
          }),
        );
      }
      await ok('run', MLP, '--inputs', src, '--params', params, '--target', 'reference', '--f64', '--out', run);
      return read(run).get('probs')!;
    };
    const px = await score(false);
    const p0 = await score(true);
    const errors: number[] = [];
    for (const steps of [4, 32, 256]) {
      const out = join(dir, `ig${steps}.safetensors`);
      await ok(
        'attribute',
        MLP,
        '--inputs',
        f.inputs,
        '--params',
        params,
        '--wrt',
        'x',
        '--of',
        'probs',
        '--method',
        'integrated_gradients',
        '--steps',
        String(steps),
        '--target',
        'reference',
        '--f64',
        '--out',
        out,
      );
      const attr = read(out).get('attr.x')!;
      let worst = 0;
      for (let b = 0; b < 2; b++) {
        const row = [...px.data.slice(b * 10, (b + 1) * 10)];
        const k = row.indexOf(Math.max(...row));
        const sum = Array.from(attr.data.slice(b * 784, (b + 1) * 784)).reduce((a, v) => a + v, 0);
        worst = Math.max(worst, Math.abs(sum - (px.data[b * 10 + k]! - p0.data[b * 10 + k]!)));
      }
      errors.push(worst);
    }
    // The right Riemann sum of a smooth path integral errs by O(1/m): 8x the steps, at least 4x less error.
    expect(errors[1]!).toBeLessThan(errors[0]! / 4);
    expect(errors[2]!).toBeLessThan(errors[1]! / 4);
    expect(errors[2]!).toBeLessThan(1e-3);
  });

  it('takes a DATA form as inputs and draws heat maps', async () => {
    const dir = tempDir();
    const png = join(dir, 'png');
    const stdout = await ok(
      'attribute',
      'examples/fashion_mlp.kiln',
      '--inputs',
      'fashion-mnist:test',
      '--limit',
      '3',
      '--wrt',
      'x',
      '--of',
      'probs',
      '--method',
      'saliency',
      '--png',
      png,
      '--out',
      join(dir, 'a.safetensors'),
    );
    expect(stdout).toContain('wrote 3 heat maps');
    expect(read(join(dir, 'a.safetensors')).get('attr.x')!.shape).toEqual([3, 784]);
    const files = readdirSync(png).sort();
    expect(files).toHaveLength(3);
    expect(files[0]).toMatch(/^x-0-class\d\.png$/);
    const image = PNG.sync.read(readFileSync(join(png, files[0]!)));
    expect([image.width, image.height]).toEqual([2 * 28 * 8 + 4, 28 * 8]);
  });

  it('reports bad requests clearly, before any work', async () => {
    const dir = tempDir();
    const f = writeLensFiles(MLP, dir, 2, 5);
    const lin = writeLensFiles('examples/linear_regression.kiln', tempDir(), 2, 5);
    const fails = async (status: number, message: string | RegExp, ...args: string[]) => {
      const r = await kiln('attribute', ...args);
      expect(r.status, r.stderr).toBe(status);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    };
    const mlp = ['--inputs', f.inputs, '--method', 'saliency'];
    await fails(
      1,
      /--wrt: the model has no input 'z' \(its f32 inputs: x\)/,
      MLP,
      ...mlp,
      '--wrt',
      'z',
      '--of',
      'probs',
    );
    await fails(
      1,
      /--wrt: input 'y' is i32; only f32 inputs have gradients/,
      MLP,
      ...mlp,
      '--wrt',
      'y',
      '--of',
      'probs',
    );
    await fails(1, /no output 'prob' \(outputs: probs, pred, loss\)/, MLP, ...mlp, '--wrt', 'x', '--of', 'prob');
    await fails(
      1,
      /output 'loss' is f32\[\]: attribution needs a score per example/,
      MLP,
      ...mlp,
      '--wrt',
      'x',
      '--of',
      'loss',
    );
    await fails(
      1,
      /class 10 is out of range: output 'probs' has 10 classes \(0 to 9\)/,
      MLP,
      ...mlp,
      '--wrt',
      'x',
      '--of',
      'probs',
      '--class',
      '10',
    );
    await fails(
      1,
      /--png draws image-shaped inputs .*; input 'x' is f32\[B, 3\]/,
      'examples/linear_regression.kiln',
      '--inputs',
      lin.inputs,
      '--method',
      'saliency',
      '--wrt',
      'x',
      '--of',
      'pred',
      '--png',
      join(dir, 'p'),
    );
    await fails(
      2,
      /expected_gradients draws its baselines from data: give --baseline DATA/,
      MLP,
      '--inputs',
      f.inputs,
      '--method',
      'expected_gradients',
      '--wrt',
      'x',
      '--of',
      'probs',
    );
    await fails(
      2,
      /--baseline is for integrated_gradients and expected_gradients, not saliency/,
      MLP,
      ...mlp,
      '--wrt',
      'x',
      '--of',
      'probs',
      '--baseline',
      'zeros',
    );
    await fails(
      2,
      /option '--method <m>' argument 'grads' is invalid/,
      MLP,
      '--inputs',
      f.inputs,
      '--method',
      'grads',
      '--wrt',
      'x',
      '--of',
      'probs',
    );
    await fails(
      2,
      /--out .* would overwrite .*, which this command reads/,
      MLP,
      ...mlp,
      '--wrt',
      'x',
      '--of',
      'probs',
      '--out',
      f.inputs,
    );
  });
});
