// `kiln attribute --png DIR`: one PNG per example, the input (grey, scaled
// to its own range) and the attribution's magnitude (the inferno colour map,
// a perceptual one, scaled to the example's 99th percentile so one extreme
// pixel does not wash out the rest) side by side, each pixel drawn as a
// SCALE x SCALE block. Image-shaped inputs only: [B, H, W], [B, 1, H, W], or
// [B, H*W] with a square H*W.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { interpolateInferno } from 'd3-scale-chromatic';
import { PNG } from 'pngjs';
import type { Tensor } from '../../runtime/executor.js';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../train/atomic-write.js';

const SCALE = 8;
const GAP = 4;

/** [H, W] of an image-shaped input (examples first), or undefined. */
export function imageSize(shape: readonly unknown[]): [number, number] | undefined {
  const rest = shape.slice(1);
  if (rest.some((d) => typeof d !== 'number')) return undefined;
  const dims = rest as number[];
  if (dims.length === 2) return [dims[0]!, dims[1]!];
  if (dims.length === 3 && dims[0] === 1) return [dims[1]!, dims[2]!];
  if (dims.length === 1) {
    const side = Math.round(Math.sqrt(dims[0]!));
    if (side * side === dims[0]) return [side, side];
  }
  return undefined;
}

/** A user error unless input `name` of `shape` is image-shaped. */
export function checkImageInput(name: string, shape: readonly unknown[], type: string): void {
  if (!imageSize(shape))
    throw new UserError(
      `--png draws image-shaped inputs ([B, H, W], [B, 1, H, W] or [B, H*W] with a square H*W); input '${name}' is ${type}`,
    );
}

/** Writes `<name>-<b>-class<k>.png` for every example; returns how many. */
export function writeHeatMaps(dir: string, name: string, x: Tensor, attr: Tensor, classes: Int32Array): number {
  const size = imageSize(x.shape);
  if (!size) throw new UserError(`--png: input '${name}' is not image-shaped`);
  const [h, w] = size;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create ${dir}: ${(e as Error).message}`);
  }
  const n = x.shape[0]!;
  const per = h * w;
  for (let b = 0; b < n; b++) {
    const image = x.data.subarray(b * per, (b + 1) * per) as Float32Array;
    const heat = (attr.data as Float32Array).subarray(b * per, (b + 1) * per);
    const png = new PNG({ width: 2 * w * SCALE + GAP, height: h * SCALE });
    png.data.fill(255);
    paint(png, 0, h, w, grey(image));
    paint(png, w * SCALE + GAP, h, w, inferno(heat));
    const k = classes[b]!;
    writeFileAtomic(join(dir, `${name}-${b}${k >= 0 ? `-class${k}` : ''}.png`), PNG.sync.write(png));
  }
  return n;
}

type Rgb = readonly [number, number, number];

function paint(png: PNG, left: number, h: number, w: number, colours: readonly Rgb[]): void {
  for (let y = 0; y < h * SCALE; y++)
    for (let x = 0; x < w * SCALE; x++) {
      const c = colours[Math.floor(y / SCALE) * w + Math.floor(x / SCALE)]!;
      const i = (y * png.width + left + x) * 4;
      png.data[i] = c[0];
      png.data[i + 1] = c[1];
      png.data[i + 2] = c[2];
      png.data[i + 3] = 255;
    }
}

function grey(v: Float32Array): Rgb[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const span = hi > lo ? hi - lo : 1;
  return Array.from(v, (x) => {
    const g = Math.round((255 * (x - lo)) / span);
    return [g, g, g] as const;
  });
}

function inferno(a: Float32Array): Rgb[] {
  const mag = Array.from(a, Math.abs);
  const sorted = [...mag].sort((p, q) => p - q);
  const top = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] || sorted.at(-1) || 1;
  return mag.map((m) => rgb(interpolateInferno(Math.min(1, m / (top || 1)))));
}

/** d3's `rgb(r, g, b)` (or `#rrggbb`) as numbers. */
function rgb(css: string): Rgb {
  const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(css);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(css);
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)];
  return [0, 0, 0];
}
