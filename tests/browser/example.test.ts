// The browser example (examples/browser/) in headless Chromium: the page
// loads the artifact that `serve.mjs --rebuild` builds (fashion_mlp compiled
// with `--entries attribute`, the shipped trained params), the test picks a
// test image and a method through the page's controls, and the attribution
// the page computed must equal the same attribution computed in Node by the
// runtime on the same artifact, within ATTR_TOLERANCE; the heat-map canvas
// must hold exactly the inferno colours of the page's attribution, scaled as
// `kiln attribute --png` scales it.
//
// Skipped without /usr/bin/chromium unless KILN_REQUIRE_BROWSER=1, as
// browser.test.ts.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpolateInferno } from 'd3-scale-chromatic';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttributionMethod, loadModel } from '../../runtime/index.js';
import { ARGS, CHROMIUM, HAVE_CHROMIUM, RUN, SKIP_MESSAGE } from './chromium.js';
import { type StaticServer, serveStatic } from './server.js';

const EXAMPLE = 'examples/browser';
const ARTIFACT = join(EXAMPLE, 'artifact');
/**
 * Page and Node run the same wasm kernels on the same inputs, so they agree
 * to float32 rounding (the page may split matmuls over 2 threads, which
 * changes no sum's order); allowed: 1e-5 of the largest |attribution|.
 */
const ATTR_TOLERANCE = 1e-5;

interface Last {
  method: AttributionMethod;
  image: number;
  options: { steps: number; samples: number; seed: number; classIndex?: number };
  x: number[];
  probs: number[];
  attr: number[];
  shape: number[];
  classes: number[];
  scores: number[];
  calls: number;
}
/** What examples/browser/app.mjs puts on the page's global object. */
interface ExampleGlobals {
  kilnExample: { status: 'loading' | 'ready' | 'error'; runs: number; last?: Last; error?: string };
}
/** The little of the DOM the test reads (the project's TypeScript has no DOM types). */
interface PageDocument {
  document: {
    getElementById(id: string): {
      width: number;
      height: number;
      getContext(
        kind: '2d',
      ): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
    };
  };
}
interface Images {
  classes: string[];
  images: { index: number; label: number; pixels: string }[];
}

/** The page's (and `kiln attribute --png`'s) scaling: |attr| over its 99th percentile, clamped to 1. */
function heatOf(attr: readonly number[]): number[] {
  const mag = attr.map(Math.abs);
  const sorted = [...mag].sort((p, q) => p - q);
  const top = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] || sorted.at(-1) || 1;
  return mag.map((m) => Math.min(1, m / (top || 1)));
}

function rgbOf(css: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(css);
  const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(css);
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)];
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  throw new Error(`not a colour: ${css}`);
}

describe('browser example (examples/browser) in headless Chromium', () => {
  if (!RUN) it.skip(SKIP_MESSAGE, () => {});

  describe.runIf(RUN)('attribution heat maps', () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    const consoleLines: string[] = [];
    let page: Page;
    let images: Images;

    beforeAll(async () => {
      if (!HAVE_CHROMIUM)
        throw new Error(`${CHROMIUM} is missing and KILN_REQUIRE_BROWSER=1 requires the browser test`);
      if (!existsSync('dist/runtime/index.js') || !existsSync('dist/cli/main.js'))
        throw new Error('dist/ is missing: run `npm run build`');
      // Rebuilt every time: an artifact left from an older compiler may not load.
      execFileSync(process.execPath, [join(EXAMPLE, 'serve.mjs'), '--build-only', '--rebuild'], { stdio: 'pipe' });
      images = JSON.parse(readFileSync(join(EXAMPLE, 'images.json'), 'utf8')) as Images;
      const server: StaticServer = await serveStatic('.');
      cleanup.push(() => server.close());
      const profile = mkdtempSync(join(tmpdir(), 'kiln-chromium-'));
      cleanup.push(() => rmSync(profile, { recursive: true, force: true }));
      const context: BrowserContext = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ARGS,
      });
      cleanup.push(() => context.close());
      page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
      await page.goto(`${server.origin}/${EXAMPLE}/index.html`);
      // Ready after its first attribution (of the first image), or failed.
      await page.waitForFunction(
        () => {
          const s = (globalThis as unknown as ExampleGlobals).kilnExample;
          return s !== undefined && (s.status === 'error' || s.runs > 0);
        },
        undefined,
        { timeout: 30_000 },
      );
      const error = await page.evaluate(() => (globalThis as unknown as ExampleGlobals).kilnExample.error);
      if (error !== undefined) throw new Error(`the example page failed:\n${error}\n${consoleLines.join('\n')}`);
    }, 60_000);

    afterAll(async () => {
      for (const f of cleanup.reverse()) await f();
    });

    /** Sets the method and points in the page's controls, clicks thumbnail `image`, and returns the attribution it painted. */
    async function attributeInPage(method: AttributionMethod, image: number, points: number): Promise<Last> {
      await page.fill('#points', String(points));
      await page.selectOption('#method', method);
      await page.click(`#thumbs button[data-index="${image}"]`);
      try {
        await page.waitForFunction(
          ([m, i, n]) => {
            const last = (globalThis as unknown as ExampleGlobals).kilnExample.last;
            return last !== undefined && last.method === m && last.image === i && last.options.steps === n;
          },
          [method, image, points] as const,
          { timeout: 15_000 },
        );
      } catch (e) {
        throw new Error(`the page did not finish ${method}:\n${consoleLines.join('\n')}`, { cause: e });
      }
      return page.evaluate(() => (globalThis as unknown as ExampleGlobals).kilnExample.last!);
    }

    for (const [method, image, points] of [
      ['integrated_gradients', 3, 32],
      ['smoothgrad', 7, 16],
    ] as const)
      it(`${method} of test image ${image}: the page's heat map equals Node's attribution`, async () => {
        const got = await attributeInPage(method, image, points);

        // The page's input is the shipped image, scaled to [0, 1] as in training.
        const want = Buffer.from(images.images[image]!.pixels, 'base64');
        expect(got.x).toEqual(Array.from(want, (v) => Math.fround(v / 255)));

        const model = await loadModel(ARTIFACT, { threads: 1 });
        try {
          const inputs = {
            x: { data: Float32Array.from(got.x), shape: [1, 784] },
            y: { data: new Int32Array(1), shape: [1] },
          };
          const node = await model.attribute(inputs, {
            method,
            wrt: 'x',
            of: 'probs',
            steps: points,
            samples: points,
            seed: 0,
          });
          const { probs } = await model.run(inputs);
          expect(got.classes).toEqual(Array.from(node.classes));
          // The trained model gets these test images right.
          expect(got.classes[0]).toBe(images.images[image]!.label);
          expect(got.probs.length).toBe(10);
          for (let k = 0; k < 10; k++) expect(got.probs[k]).toBeCloseTo(probs!.data[k]!, 6);
          expect(got.scores[0]).toBeCloseTo(node.scores[0]!, 6);
          expect(got.shape).toEqual([1, 784]);
          expect(got.calls).toBe(node.calls);
          const top = node.attr.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          expect(top).toBeGreaterThan(0);
          let worst = 0;
          for (let i = 0; i < 784; i++) worst = Math.max(worst, Math.abs(got.attr[i]! - node.attr[i]!));
          expect(worst, `largest difference, page vs Node (largest |attr| ${top})`).toBeLessThanOrEqual(
            ATTR_TOLERANCE * top,
          );
        } finally {
          model.dispose();
        }

        // The heat-map canvas: every pixel the inferno colour of the page's attribution.
        const pixels = await page.evaluate(() => {
          const c = (globalThis as unknown as PageDocument).document.getElementById('heat');
          return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
        });
        expect(pixels.length).toBe(784 * 4);
        const heat = heatOf(got.attr);
        const wrong: string[] = [];
        for (let i = 0; i < 784; i++) {
          const [r, g, b] = rgbOf(interpolateInferno(heat[i]!));
          const px = pixels.slice(4 * i, 4 * i + 4);
          if (px[0] !== r || px[1] !== g || px[2] !== b || px[3] !== 255) wrong.push(`${i}: ${px} vs ${[r, g, b]}`);
        }
        expect(wrong.slice(0, 5), `${wrong.length} pixels differ`).toEqual([]);
        const colours = new Set(Array.from({ length: 784 }, (_, i) => pixels.slice(4 * i, 4 * i + 3).join()));
        expect(colours.size, 'a heat map, not a flat canvas').toBeGreaterThan(20);
      }, 30_000);
  });
});
