// Input attribution (CLI.md v1, `kiln attribute`): how much each element of
// an input contributed to one score per example, from gradients of that
// score. The score of example b is OUTPUT[b, K] for an output of shape
// [B, C] (K given, or each example's argmax at its own input) or OUTPUT[b]
// for an output of shape [B]. Every method is a set of points per example at
// which the gradient is taken, and a weighting of those gradients:
//
//   saliency             dF/dx at x
//   input_x_gradient     x * dF/dx at x
//   integrated_gradients (x - x0) * (1/m) sum_{k=1..m} dF/dx at x0 + (k/m)(x - x0)
//   smoothgrad           (1/n) sum dF/dx at x + N(0, (S (max(x) - min(x)))^2)
//   expected_gradients   (1/n) sum (x - x') * dF/dx at x' + a (x - x'),
//                        x' a random baseline example, a ~ U(0, 1)
//   grad_cam             relu(sum_k a_k A_k) upsampled to the input, A a conv
//                        layer's activation [B, K, h, w] and a_k the mean over
//                        (h, w) of dF/dA_k (Selvaraju et al. 2017)
//
// The points of all examples go through the model together: the batch
// dimension is symbolic, so m points of B examples are one call on m * B
// examples (point-major), split only to bound memory. The gradient itself
// comes from the caller (the artifact's `vjp` entry, or the reference
// interpreter), so this file is the same on every target.
//
// Browser-safe: no `node:` imports.

import { mulberry32 } from './mulberry32.js';
import type { Tensor } from './executor.js';
import { KilnRuntimeError } from './validate.js';

/**
 * The names of a Grad-CAM view (compiler/grad-cam.ts, `kiln compile
 * --grad-cam LAYER --of OUTPUT`): its input `cotangent.<output>`, its outputs
 * `layer.<name>` and `grad.layer.<name>`.
 */
export const GRAD_CAM_NAMES = { cotangent: 'cotangent.', layer: 'layer.', gradient: 'grad.layer.' } as const;

export const ATTRIBUTION_METHODS = [
  'saliency',
  'input_x_gradient',
  'integrated_gradients',
  'smoothgrad',
  'expected_gradients',
  'grad_cam',
] as const;
export type AttributionMethod = (typeof ATTRIBUTION_METHODS)[number];

export interface AttributionOptions {
  readonly method: AttributionMethod;
  /** The input attributed: f32, examples first. */
  readonly wrt: string;
  /** The output whose score is attributed: [B, C] or [B]. */
  readonly of: string;
  /** The class K of a [B, C] output (default: each example's argmax). */
  readonly classIndex?: number;
  /** integrated_gradients: the number of Riemann points m (default 50). */
  readonly steps?: number;
  /** smoothgrad, expected_gradients: the number of samples (default 50). */
  readonly samples?: number;
  /** smoothgrad: the noise level S (default 0.15). */
  readonly noise?: number;
  /**
   * integrated_gradients: x0, the input's shape or one example of it
   * (default zeros); expected_gradients: the baseline examples x' (required).
   */
  readonly baseline?: Tensor;
  /** Seeds smoothgrad's noise and expected_gradients' draws. */
  readonly seed?: number;
  /** Examples per model call (default DEFAULT_MAX_BATCH): the points are split into calls of at most this many. */
  readonly maxBatch?: number;
  /** grad_cam: the layer (a named value of the model, [B, K, h, w]). */
  readonly layer?: string;
}

/** What attribution needs from a model: its outputs, and the gradient of a weighted output with respect to an input. */
export interface AttributionModel {
  /** The model's outputs at `inputs`. */
  forward(inputs: Readonly<Record<string, Tensor>>): Promise<Readonly<Record<string, Tensor>>>;
  /** d sum(output `of` * cotangent) / d input `wrt`, at `inputs`. */
  gradient(inputs: Readonly<Record<string, Tensor>>, of: string, cotangent: Tensor, wrt: string): Promise<Tensor>;
  /** grad_cam: layer `layer`'s value A and d sum(output `of` * cotangent) / dA, at `inputs`. */
  layerGradient?(
    inputs: Readonly<Record<string, Tensor>>,
    of: string,
    cotangent: Tensor,
    layer: string,
  ): Promise<{ readonly activation: Tensor; readonly gradient: Tensor }>;
}

export interface Attribution {
  /** The attribution, the input's shape. */
  readonly attr: Float32Array;
  readonly shape: readonly number[];
  /** The class attributed per example (-1 for a [B] output). */
  readonly classes: Int32Array;
  /** The attributed score per example at its input. */
  readonly scores: Float32Array;
  /** Model calls made for the gradients. */
  readonly calls: number;
}

/** A wrong attribution request (unknown names, a class out of range, an unsuitable output). */
export class AttributionError extends KilnRuntimeError {
  override name = 'AttributionError';
}

/** Examples per model call unless AttributionOptions.maxBatch says otherwise. */
export const DEFAULT_MAX_BATCH = 4096;

const DEFAULTS = { steps: 50, samples: 50, noise: 0.15, maxBatch: DEFAULT_MAX_BATCH } as const;

export async function attribute(
  model: AttributionModel,
  inputs: Readonly<Record<string, Tensor>>,
  opts: AttributionOptions,
): Promise<Attribution> {
  const x = inputs[opts.wrt];
  if (!x) throw new AttributionError(`no input '${opts.wrt}' to attribute (inputs: ${Object.keys(inputs).join(', ')})`);
  if (!(x.data instanceof Float32Array))
    throw new AttributionError(`input '${opts.wrt}' is not f32: only f32 inputs have gradients`);
  if (x.shape.length === 0)
    throw new AttributionError(`input '${opts.wrt}' is a scalar: attribution needs examples first`);
  const batch = x.shape[0]!;
  const per = x.data.length / Math.max(1, batch);
  const outputs = await model.forward(inputs);
  const out = outputs[opts.of];
  if (!out) throw new AttributionError(`no output '${opts.of}' (outputs: ${Object.keys(outputs).join(', ')})`);
  const score = scoreOf(opts, out, batch);
  if (opts.method === 'grad_cam') return gradCam(model, inputs, opts, x, score);

  const { points, weigh } = plan({ ...opts, method: opts.method }, x, batch, per);
  const sum = new Float64Array(x.data.length);
  const maxBatch = Math.max(1, opts.maxBatch ?? DEFAULTS.maxBatch);
  const chunk = Math.max(1, Math.floor(maxBatch / Math.max(1, batch)));
  let calls = 0;
  for (let p0 = 0; p0 < points.count; p0 += chunk) {
    const p1 = Math.min(points.count, p0 + chunk);
    const k = p1 - p0;
    const xs = new Float32Array(k * x.data.length);
    for (let p = p0; p < p1; p++) points.fill(p, xs.subarray((p - p0) * x.data.length, (p - p0 + 1) * x.data.length));
    const call = repeatInputs(inputs, opts.wrt, batch, k);
    call[opts.wrt] = { data: xs, shape: [k * batch, ...x.shape.slice(1)] };
    const g = await model.gradient(call, opts.of, repeatRows(score.cotangent, k), opts.wrt);
    calls++;
    if (g.data.length !== xs.length)
      throw new KilnRuntimeError(`the gradient of '${opts.of}' has ${g.data.length} elements, expected ${xs.length}`);
    for (let p = p0; p < p1; p++)
      weigh(p, g.data.subarray((p - p0) * x.data.length, (p - p0 + 1) * x.data.length) as Float32Array, sum);
  }
  const attr = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) attr[i] = sum[i]! / points.count;
  return { attr, shape: x.shape, classes: score.classes, scores: score.values, calls };
}

/** The score's cotangent on output `of` (one-hot on the class, or ones), the classes and the scores. */
function scoreOf(opts: AttributionOptions, out: Tensor, batch: number) {
  const shape = out.shape;
  if (!(out.data instanceof Float32Array) || shape[0] !== batch || (shape.length !== 1 && shape.length !== 2))
    throw new AttributionError(
      `output '${opts.of}' is ${out.data instanceof Float32Array ? 'f32' : 'not f32'}[${shape.join(', ')}]: ` +
        `attribution needs a score per example, an f32 output of shape [B] or [B, C] with B = ${batch}`,
    );
  const classes = new Int32Array(batch).fill(-1);
  const values = new Float32Array(batch);
  const cotangent = new Float32Array(out.data.length);
  if (shape.length === 1) {
    if (opts.classIndex !== undefined)
      throw new AttributionError(
        `output '${opts.of}' has one value per example ([B]): it has no classes to choose with --class`,
      );
    cotangent.fill(1);
    values.set(out.data);
    return { cotangent: { data: cotangent, shape }, classes, values };
  }
  const c = shape[1]!;
  if (
    opts.classIndex !== undefined &&
    !(Number.isInteger(opts.classIndex) && opts.classIndex >= 0 && opts.classIndex < c)
  )
    throw new AttributionError(
      `class ${opts.classIndex} is out of range: output '${opts.of}' has ${c} classes (0 to ${c - 1})`,
    );
  for (let b = 0; b < batch; b++) {
    let k = opts.classIndex ?? 0;
    if (opts.classIndex === undefined)
      for (let j = 1; j < c; j++) if (out.data[b * c + j]! > out.data[b * c + k]!) k = j;
    classes[b] = k;
    values[b] = out.data[b * c + k]!;
    cotangent[b * c + k] = 1;
  }
  return { cotangent: { data: cotangent, shape }, classes, values };
}

interface Points {
  readonly count: number;
  /** Writes point p of every example (the input's layout) into `into`. */
  fill(p: number, into: Float32Array): void;
}

/** The method's points and how each point's gradient adds to the sum (divided by the count at the end). */
function plan(
  opts: AttributionOptions & { readonly method: Exclude<AttributionMethod, 'grad_cam'> },
  x: Tensor,
  batch: number,
  per: number,
): { points: Points; weigh: (p: number, g: Float32Array, sum: Float64Array) => void } {
  const xd = x.data as Float32Array;
  const plain = (g: Float32Array, sum: Float64Array) => g.forEach((v, i) => (sum[i]! += v));
  switch (opts.method) {
    case 'saliency':
      return { points: { count: 1, fill: (_p, into) => into.set(xd) }, weigh: (_p, g, sum) => plain(g, sum) };
    case 'input_x_gradient':
      return {
        points: { count: 1, fill: (_p, into) => into.set(xd) },
        weigh: (_p, g, sum) => g.forEach((v, i) => (sum[i]! += xd[i]! * v)),
      };
    case 'integrated_gradients': {
      const m = positive('steps', opts.steps ?? DEFAULTS.steps);
      const x0 = baselineLike(opts, x, batch, per);
      return {
        points: {
          count: m,
          fill: (p, into) => {
            const a = (p + 1) / m;
            for (let i = 0; i < into.length; i++) into[i] = x0[i]! + a * (xd[i]! - x0[i]!);
          },
        },
        weigh: (_p, g, sum) => g.forEach((v, i) => (sum[i]! += (xd[i]! - x0[i]!) * v)),
      };
    }
    case 'smoothgrad': {
      const n = positive('samples', opts.samples ?? DEFAULTS.samples);
      const s = opts.noise ?? DEFAULTS.noise;
      if (!(Number.isFinite(s) && s >= 0)) throw new AttributionError(`noise must be a finite number >= 0, got ${s}`);
      const sigma = perExampleRange(xd, batch, per).map((r) => s * r);
      const normal = gaussian(mulberry32(opts.seed ?? 0));
      return {
        points: {
          count: n,
          fill: (_p, into) => {
            for (let i = 0; i < into.length; i++) into[i] = xd[i]! + sigma[Math.floor(i / per)]! * normal();
          },
        },
        weigh: (_p, g, sum) => plain(g, sum),
      };
    }
    case 'expected_gradients': {
      const n = positive('samples', opts.samples ?? DEFAULTS.samples);
      const base = opts.baseline;
      if (!base) throw new AttributionError('expected_gradients needs baseline examples (--baseline DATA)');
      const rows = checkBaselineRows(base, x, per);
      const next = mulberry32(opts.seed ?? 0);
      // Each point's draws, kept for its weighting: the baseline row and a per example.
      const drawn: { row: Int32Array; a: Float64Array }[] = [];
      return {
        points: {
          count: n,
          fill: (p, into) => {
            const row = Int32Array.from({ length: batch }, () => Math.min(rows - 1, Math.floor(next() * rows)));
            const a = Float64Array.from({ length: batch }, () => next());
            drawn[p] = { row, a };
            const bd = base.data as Float32Array;
            for (let b = 0; b < batch; b++)
              for (let j = 0; j < per; j++) {
                const xi = xd[b * per + j]!;
                const bi = bd[row[b]! * per + j]!;
                into[b * per + j] = bi + a[b]! * (xi - bi);
              }
          },
        },
        weigh: (p, g, sum) => {
          const { row } = drawn[p]!;
          const bd = base.data as Float32Array;
          for (let b = 0; b < batch; b++)
            for (let j = 0; j < per; j++) {
              const i = b * per + j;
              sum[i]! += (xd[i]! - bd[row[b]! * per + j]!) * g[i]!;
            }
          delete drawn[p];
        },
      };
    }
  }
}

/**
 * Grad-CAM: per example, the channel weights a_k = mean over (h, w) of
 * dF/dA_k, the map relu(sum_k a_k A_k), bilinearly upsampled (pixel
 * centres aligned, as image resizing does) to the input's height and width
 * and repeated over its channels.
 */
async function gradCam(
  model: AttributionModel,
  inputs: Readonly<Record<string, Tensor>>,
  opts: AttributionOptions,
  x: Tensor,
  score: ReturnType<typeof scoreOf>,
): Promise<Attribution> {
  const layer = opts.layer;
  if (layer === undefined)
    throw new AttributionError('grad_cam attributes through a layer: give its name (--layer NAME)');
  if (!model.layerGradient)
    throw new AttributionError('this model cannot give the gradient of a layer (grad_cam needs the source)');
  const { activation: a, gradient: g } = await model.layerGradient(inputs, opts.of, score.cotangent, layer);
  const batch = x.shape[0]!;
  if (a.shape.length !== 4 || a.shape[0] !== batch)
    throw new AttributionError(
      `grad_cam needs a convolutional layer of shape [B, channels, height, width]; layer '${layer}' is [${a.shape.join(', ')}]`,
    );
  const image = spatial(x.shape);
  if (!image)
    throw new AttributionError(
      `grad_cam maps onto an image-shaped input ([B, H, W], [B, C, H, W] or [B, H*W] with a square H*W); input '${opts.wrt}' is [${x.shape.join(', ')}]`,
    );
  const [, k, h, w] = a.shape as [number, number, number, number];
  const [H, W, channels] = image;
  const ad = a.data as Float32Array;
  const gd = g.data as Float32Array;
  const attr = new Float32Array(x.data.length);
  for (let b = 0; b < batch; b++) {
    const cam = new Float64Array(h * w);
    for (let c = 0; c < k; c++) {
      const at = (b * k + c) * h * w;
      let alpha = 0;
      for (let i = 0; i < h * w; i++) alpha += gd[at + i]!;
      alpha /= h * w;
      for (let i = 0; i < h * w; i++) cam[i]! += alpha * ad[at + i]!;
    }
    for (let i = 0; i < h * w; i++) cam[i] = Math.max(0, cam[i]!);
    const up = bilinear(cam, h, w, H, W);
    for (let c = 0; c < channels; c++) attr.set(up, (b * channels + c) * H * W);
  }
  return { attr, shape: x.shape, classes: score.classes, scores: score.values, calls: 1 };
}

/** [H, W, channels] of an image-shaped input (examples first), or undefined. */
function spatial(shape: readonly number[]): [number, number, number] | undefined {
  const rest = shape.slice(1);
  if (rest.length === 2) return [rest[0]!, rest[1]!, 1];
  if (rest.length === 3) return [rest[1]!, rest[2]!, rest[0]!];
  if (rest.length === 1) {
    const side = Math.round(Math.sqrt(rest[0]!));
    if (side * side === rest[0]) return [side, side, 1];
  }
  return undefined;
}

/** `src` (h x w) resized to H x W by bilinear interpolation between pixel centres, edges clamped. */
export function bilinear(src: ArrayLike<number>, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  const coord = (o: number, from: number, to: number) => {
    const c = Math.min(Math.max(((o + 0.5) * from) / to - 0.5, 0), from - 1);
    const i = Math.floor(c);
    return { i, j: Math.min(i + 1, from - 1), t: c - i };
  };
  for (let y = 0; y < H; y++) {
    const r = coord(y, h, H);
    for (let x = 0; x < W; x++) {
      const c = coord(x, w, W);
      const top = src[r.i * w + c.i]! * (1 - c.t) + src[r.i * w + c.j]! * c.t;
      const bottom = src[r.j * w + c.i]! * (1 - c.t) + src[r.j * w + c.j]! * c.t;
      out[y * W + x] = top * (1 - r.t) + bottom * r.t;
    }
  }
  return out;
}

function positive(what: string, n: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new AttributionError(`${what} must be a whole number >= 1, got ${n}`);
  return n;
}

/** x0 for integrated gradients at x's full size: zeros, the baseline, or its single example repeated. */
function baselineLike(opts: AttributionOptions, x: Tensor, batch: number, per: number): Float32Array {
  const base = opts.baseline;
  if (!base) return new Float32Array(x.data.length);
  if (!(base.data instanceof Float32Array)) throw new AttributionError(`the baseline of '${opts.wrt}' is not f32`);
  const same = base.shape.length === x.shape.length && base.shape.every((d, i) => d === x.shape[i]);
  const one = base.shape.length === x.shape.length && base.shape[0] === 1 && base.data.length === per;
  if (same) return base.data;
  if (!one)
    throw new AttributionError(
      `the baseline of '${opts.wrt}' has shape [${base.shape.join(', ')}]; expected the input's [${x.shape.join(', ')}] or one example [1, ${x.shape.slice(1).join(', ')}]`,
    );
  const out = new Float32Array(x.data.length);
  for (let b = 0; b < batch; b++) out.set(base.data, b * per);
  return out;
}

function checkBaselineRows(base: Tensor, x: Tensor, per: number): number {
  const ok =
    base.data instanceof Float32Array &&
    base.shape.length === x.shape.length &&
    base.shape.slice(1).every((d, i) => d === x.shape[i + 1]) &&
    base.shape[0]! >= 1;
  if (!ok)
    throw new AttributionError(
      `the baseline examples have shape [${base.shape.join(', ')}]; expected f32[N, ${x.shape.slice(1).join(', ')}] with N >= 1, like the input`,
    );
  return base.data.length / per;
}

/** max - min of each example's elements. */
function perExampleRange(xd: Float32Array, batch: number, per: number): number[] {
  return Array.from({ length: batch }, (_b, b) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < per; j++) {
      const v = xd[b * per + j]!;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    return per === 0 ? 0 : hi - lo;
  });
}

/** Every input repeated `k` times along its first dimension (point-major), except `skip`; unbatched inputs as they are. */
function repeatInputs(
  inputs: Readonly<Record<string, Tensor>>,
  skip: string,
  batch: number,
  k: number,
): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) {
    if (name === skip) continue;
    out[name] = t.shape.length > 0 && t.shape[0] === batch ? repeatRows(t, k) : t;
  }
  return out;
}

function repeatRows(t: Tensor, k: number): Tensor {
  if (k === 1) return t;
  const Ctor = t.data.constructor as new (n: number) => Float32Array | Int32Array | Uint8Array;
  const data = new Ctor(t.data.length * k);
  for (let p = 0; p < k; p++) data.set(t.data, p * t.data.length);
  return { data, shape: [t.shape[0]! * k, ...t.shape.slice(1)] };
}

/** Standard normal draws by Box–Muller (1 - u keeps the log's argument in (0, 1]). */
function gaussian(next: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}
