// Grad-CAM (`kiln attribute --method grad_cam --layer NAME`) against a hand
// computation on a tiny conv model whose class scores are linear in the
// layer: logits[b, c] = sum_k mean_hw(a[b, k]) v[k, c], so dS/da_k = v[k, c]/16
// everywhere and the map is relu(sum_k v[k, c]/16 a_k), here at the input's
// own 4 x 4 size (bilinear resizing to the same size is the identity). On the
// reference interpreter, wasm and (when there is an adapter) webgpu; then the
// errors, and bilinear resizing itself.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bilinear } from '../../runtime/attribution.js';
import { decodeSafetensors, encodeSafetensors } from '../../runtime/safetensors.js';
import { gpuDevice } from '../helpers/webgpu.js';
import { kiln, tempDir } from './helpers.js';

const MODEL = `model tiny(x: f32[B, 1, 4, 4]) {
  param k: f32[2, 1, 3, 3] = he_normal
  param v: f32[2, 3] = glorot_uniform
  a = relu(conv2d(x, k, padding = 1))          // f32[B, 2, 4, 4]
  output logits = mean(a, axis = [2, 3]) @ v   // f32[B, 3]
}
`;

const K = Array.from({ length: 18 }, (_v, i) => Math.fround(Math.sin(1.3 * i + 0.2)));
const V = [0.9, -0.4, 0.3, -0.7, 1.1, 0.5]; // [2, 3]
const B = 2;
const X = Array.from({ length: B * 16 }, (_v, i) => Math.fround(Math.cos(0.7 * i)));

/** The layer `a` in float64: a 3 x 3 convolution with zero padding 1, then relu. */
function layer(): number[] {
  const a: number[] = [];
  for (let b = 0; b < B; b++)
    for (let k = 0; k < 2; k++)
      for (let h = 0; h < 4; h++)
        for (let w = 0; w < 4; w++) {
          let s = 0;
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 3; j++) {
              const y = h + i - 1;
              const x = w + j - 1;
              if (y >= 0 && y < 4 && x >= 0 && x < 4) s += K[k * 9 + i * 3 + j]! * X[b * 16 + y * 4 + x]!;
            }
          a.push(Math.max(0, s));
        }
  return a;
}

function handGradCam(): { cam: number[]; classes: number[] } {
  const a = layer();
  const cam: number[] = [];
  const classes: number[] = [];
  for (let b = 0; b < B; b++) {
    const mean = [0, 1].map((k) => a.slice((b * 2 + k) * 16, (b * 2 + k + 1) * 16).reduce((p, q) => p + q, 0) / 16);
    const logits = [0, 1, 2].map((c) => mean[0]! * V[c]! + mean[1]! * V[3 + c]!);
    const cls = logits.indexOf(Math.max(...logits));
    classes.push(cls);
    for (let i = 0; i < 16; i++)
      cam.push(Math.max(0, (V[cls]! / 16) * a[b * 32 + i]! + (V[3 + cls]! / 16) * a[b * 32 + 16 + i]!));
  }
  return { cam, classes };
}

function files(dir: string) {
  const model = join(dir, 'tiny.kiln');
  writeFileSync(model, MODEL);
  const inputs = join(dir, 'in.safetensors');
  writeFileSync(inputs, encodeSafetensors({ x: { dtype: 'F32', shape: [B, 1, 4, 4], data: Float32Array.from(X) } }));
  const params = join(dir, 'params.safetensors');
  writeFileSync(
    params,
    encodeSafetensors({
      k: { dtype: 'F32', shape: [2, 1, 3, 3], data: Float32Array.from(K) },
      v: { dtype: 'F32', shape: [2, 3], data: Float32Array.from(V) },
    }),
  );
  return { model, inputs, params };
}

describe('Grad-CAM', () => {
  const targets = ['reference', 'wasm', ...(gpuDevice() ? ['webgpu'] : [])];
  it.each(targets)('equals the hand computation on --target %s', async (target) => {
    const dir = tempDir();
    const f = files(dir);
    const out = join(dir, 'cam.safetensors');
    const r = await kiln(
      'attribute',
      f.model,
      '--inputs',
      f.inputs,
      '--params',
      f.params,
      '--wrt',
      'x',
      '--of',
      'logits',
      '--method',
      'grad_cam',
      '--layer',
      'a',
      '--target',
      target,
      '--out',
      out,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = decodeSafetensors(readFileSync(out), out).tensors.get('attr.x')!;
    expect(got.shape).toEqual([B, 1, 4, 4]);
    const { cam } = handGradCam();
    expect(Math.max(...cam)).toBeGreaterThan(0);
    // The attribution is f32 on every target: the reference's differs from float64 by rounding only.
    const tol = target === 'reference' ? 1e-6 : 1e-5;
    cam.forEach((c, i) => expect(Math.abs(got.data[i]! - c), `element ${i}`).toBeLessThanOrEqual(tol * Math.max(1, c)));
  });

  it('runs from an artifact compiled as the Grad-CAM view (kiln compile --grad-cam), and says when one is not', async () => {
    const dir = tempDir();
    const f = files(dir);
    const view = join(dir, 'view');
    const c = await kiln('compile', f.model, '-o', view, '--grad-cam', 'a', '--of', 'logits');
    expect([c.status, c.stderr]).toEqual([0, '']);
    const out = join(dir, 'cam.safetensors');
    const r = await kiln(
      'attribute',
      view,
      '--inputs',
      f.inputs,
      '--params',
      f.params,
      '--wrt',
      'x',
      '--of',
      'logits',
      '--method',
      'grad_cam',
      '--layer',
      'a',
      '--out',
      out,
    );
    expect([r.status, r.stderr]).toEqual([0, '']);
    const got = decodeSafetensors(readFileSync(out), out).tensors.get('attr.x')!;
    handGradCam().cam.forEach((v, i) => expect(Math.abs(got.data[i]! - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, v)));
    const plain = join(dir, 'plain');
    expect((await kiln('compile', f.model, '-o', plain, '--entries', 'attribute')).status).toBe(0);
    const e = await kiln(
      'attribute',
      plain,
      '--inputs',
      f.inputs,
      '--wrt',
      'x',
      '--of',
      'logits',
      '--method',
      'grad_cam',
      '--layer',
      'a',
    );
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(
      /model 'tiny' is no Grad-CAM view of layer 'a' for output 'logits': compile one with `kiln compile FILE --grad-cam a --of logits`/,
    );
    const u = await kiln('compile', f.model, '-o', join(dir, 'u'), '--grad-cam', 'a');
    expect([u.status, u.stderr]).toEqual([
      2,
      'kiln: --grad-cam LAYER and --of OUTPUT go together: the Grad-CAM view of a layer for an output\n',
    ]);
  });

  it('says what is wrong with a layer or a method without one', async () => {
    const dir = tempDir();
    const f = files(dir);
    const run = (...more: string[]) =>
      kiln('attribute', f.model, '--inputs', f.inputs, '--params', f.params, '--wrt', 'x', '--of', 'logits', ...more);
    let r = await run('--method', 'grad_cam');
    expect([r.status, r.stderr]).toEqual([
      2,
      'kiln: grad_cam attributes through a convolutional layer: give --layer NAME\n',
    ]);
    r = await run('--method', 'saliency', '--layer', 'a');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--layer is for grad_cam, not saliency/);
    r = await run('--method', 'grad_cam', '--layer', 'b');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--layer: model tiny has no layer 'b' \(its named values: a: f32\[B, 2, 4, 4\]\)/);
    const flat = join(dir, 'flat.kiln');
    writeFileSync(
      flat,
      MODEL.replace(
        'output logits = mean(a, axis = [2, 3]) @ v',
        'm = mean(a, axis = [2, 3])\n  output logits = m @ v',
      ),
    );
    r = await kiln(
      'attribute',
      flat,
      '--inputs',
      f.inputs,
      '--params',
      f.params,
      '--wrt',
      'x',
      '--of',
      'logits',
      '--method',
      'grad_cam',
      '--layer',
      'm',
      '--target',
      'reference',
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /grad_cam needs a convolutional layer of shape \[B, channels, height, width\]; layer 'm' is \[2, 2\]/,
    );
  });

  it('resizes bilinearly between pixel centres', () => {
    expect([...bilinear([1, 2, 3, 4], 2, 2, 2, 2)]).toEqual([1, 2, 3, 4]);
    // 1 x 2 -> 1 x 4: centres at 0.5, 1.5 of 2 map to -0.25 (clamped: 1), 0.25, 0.75, 1.25 (clamped: 2).
    expect([...bilinear([1, 2], 1, 2, 1, 4)]).toEqual([1, 1.25, 1.75, 2]);
    const up = bilinear([0, 4, 8, 12], 2, 2, 4, 4);
    expect(up[0]).toBe(0);
    expect(up[15]).toBe(12);
    expect(up[5]).toBeCloseTo(3, 12); // (1, 1): a quarter of the way from each corner
  });
});
