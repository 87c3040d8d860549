// The runtime in a real browser: headless Chromium (playwright-core driving
// Debian's /usr/bin/chromium) loads the compiled runtime (dist/runtime) as ES
// modules from a page served on 127.0.0.1, loads an artifact written by
// `kiln compile --target wasm`, trains a few steps on a fixed batch, and must
// match the same steps run in Node through the runtime: once on one thread
// (linear regression), once with worker threads (the MLP example; the page is
// cross-origin isolated so it has SharedArrayBuffer), and once compiled with
// `--target webgpu`, on the page's navigator.gpu against Dawn in Node.
//
// Without /usr/bin/chromium the test is skipped with a visible message, unless
// KILN_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { loadModel } from '../../runtime/index.js';
import { ARGS, CHROMIUM, HAVE_CHROMIUM, RUN, SKIP_MESSAGE } from './chromium.js';
import { type StaticServer, serveStatic } from './server.js';

/** Served under the repository root (the server's root); ignored by git. */
const TMP_ROOT = '.browser-tmp';

interface PlainTensor {
  shape: number[];
  data: number[];
}
interface StepResult {
  losses: number[];
  before: Record<string, PlainTensor>;
  after: Record<string, PlainTensor>;
  threads: number;
  target?: string;
  crossOriginIsolated?: boolean;
}
/** What tests/browser/page.html defines on the page's global object. */
interface PageGlobals {
  kilnStatus: 'loading' | 'ready' | 'error';
  kilnLoadError?: string;
  kilnSteps(url: string, batch: unknown, steps: number, threads: number): Promise<StepResult>;
  kilnAttribute(url: string, inputs: unknown, opts: unknown): Promise<AttributeResult>;
}
interface AttributeResult {
  attr: number[];
  shape: number[];
  classes: number[];
  calls: number;
}
type Batch = Record<string, { dtype: 'f32' | 'i32'; shape: number[]; data: number[] }>;

/** Small deterministic pseudo-random numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A fixed batch for examples/linear_regression.kiln: x f32[8, 3], y f32[8]. */
function linregBatch(): Batch {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < 8; i++) {
    const row = [Math.fround(0.25 * i - 1), Math.fround(Math.sin(i)), Math.fround((i % 3) - 1)];
    x.push(...row);
    y.push(Math.fround(0.5 * row[0]! - 2 * row[1]! + row[2]! + 0.3));
  }
  return { x: { dtype: 'f32', shape: [8, 3], data: x }, y: { dtype: 'f32', shape: [8], data: y } };
}

/** A fixed batch for examples/mlp.kiln: x f32[64, 784], y i32[64] (big enough to split kernels over threads). */
function mlpBatch(): Batch {
  const r = lcg(7);
  const b = 64;
  return {
    x: { dtype: 'f32', shape: [b, 784], data: Array.from({ length: b * 784 }, () => Math.fround(r())) },
    y: { dtype: 'i32', shape: [b], data: Array.from({ length: b }, () => Math.floor(r() * 10)) },
  };
}

function plain(ts: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>): Record<string, PlainTensor> {
  return Object.fromEntries(
    Object.entries(ts).map(([k, t]) => [k, { shape: Array.from(t.shape), data: Array.from(t.data) }]),
  );
}

/** The same steps in Node, through the runtime. */
async function nodeSteps(dir: string, batch: Batch, steps: number, threads: number): Promise<StepResult> {
  const model = await loadModel(dir, { threads });
  try {
    const inputs = Object.fromEntries(
      Object.entries(batch).map(([k, t]) => [
        k,
        { shape: t.shape, data: t.dtype === 'i32' ? Int32Array.from(t.data) : Float32Array.from(t.data) },
      ]),
    );
    const before = plain(await model.getParams());
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) losses.push(await model.step(inputs));
    const after = plain(await model.getParams());
    return { losses, before, after, threads: model.threads, target: model.target };
  } finally {
    model.dispose();
  }
}

function expectClose(got: readonly number[], want: readonly number[], what: string, rel = 1e-6): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const tol = rel * Math.max(1, Math.abs(want[i]!));
    if (!(Math.abs(got[i]! - want[i]!) <= tol))
      expect.fail(`${what}[${i}]: browser ${got[i]} vs node ${want[i]} (tolerance ${tol})`);
  }
}

/** `rel`: relative tolerance (two WebGPU implementations may compile shaders differently). */
function expectSameTraining(browser: StepResult, node: StepResult, rel = 1e-6): void {
  expectClose(browser.losses, node.losses, 'losses', rel);
  expect(Object.keys(browser.after).sort()).toEqual(Object.keys(node.after).sort());
  for (const k of Object.keys(node.after)) {
    expect(browser.before[k]!.shape, `shape of ${k}`).toEqual(node.before[k]!.shape);
    expectClose(browser.before[k]!.data, node.before[k]!.data, `initial ${k}`, rel);
    expectClose(browser.after[k]!.data, node.after[k]!.data, `${k} after ${browser.losses.length} steps`, rel);
  }
}

/** `kiln compile FILE --target TARGET -o <fresh dir under .browser-tmp/>`, in-process. */
async function compileArtifact(file: string, prefix: string, target = 'wasm', ...more: string[]): Promise<string> {
  mkdirSync(TMP_ROOT, { recursive: true });
  const dir = mkdtempSync(join(TMP_ROOT, prefix));
  let out = '';
  const status = await main(['compile', file, '--target', target, '-o', dir, ...more], {
    stdout: (s) => (out += s),
    stderr: (s) => (out += s),
  });
  expect(status, `kiln compile ${file} failed:\n${out}`).toBe(0);
  return dir;
}

describe('browser (headless Chromium)', () => {
  // Listed as skipped, with the reason in its name.
  if (!RUN) it.skip(SKIP_MESSAGE, () => {});

  describe.runIf(RUN)('dist/runtime in a page served from 127.0.0.1', () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    let server: StaticServer;
    let page: Page;
    const consoleLines: string[] = [];

    beforeAll(async () => {
      if (!HAVE_CHROMIUM)
        throw new Error(`${CHROMIUM} is missing and KILN_REQUIRE_BROWSER=1 requires the browser test`);
      if (!existsSync('dist/runtime/index.js'))
        throw new Error('dist/runtime/index.js is missing: run `npm run build`');
      server = await serveStatic('.');
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
      await page.goto(`${server.origin}/tests/browser/page.html`);
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).kilnStatus !== 'loading', undefined, {
        timeout: 30_000,
      });
      const loadError = await page.evaluate(() => (globalThis as unknown as PageGlobals).kilnLoadError);
      if (loadError !== undefined)
        throw new Error(`the page could not load the runtime:\n${loadError}\n${consoleLines.join('\n')}`);
    }, 120_000);

    afterAll(async () => {
      for (const f of cleanup.reverse()) await f();
    });

    async function browserSteps(dir: string, batch: Batch, steps: number, threads: number): Promise<StepResult> {
      const url = `${server.origin}/${relative('.', dir).split('\\').join('/')}/`;
      try {
        return await page.evaluate(([u, b, n, t]) => (globalThis as unknown as PageGlobals).kilnSteps(u, b, n, t), [
          url,
          batch,
          steps,
          threads,
        ] as const);
      } catch (e) {
        throw new Error(`in the browser: ${e instanceof Error ? e.message : String(e)}\n${consoleLines.join('\n')}`, {
          cause: e,
        });
      }
    }

    it('linear regression, 1 thread: the same losses and params as Node', async () => {
      const dir = await compileArtifact('examples/linear_regression.kiln', 'linreg-');
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const batch = linregBatch();
      const node = await nodeSteps(dir, batch, 3, 1);
      // Sanity: linear regression starts from zeros, so the first loss is mean(y^2).
      const y = batch.y!.data;
      expect(node.losses[0]).toBeCloseTo(y.reduce((s, v) => s + v * v, 0) / y.length, 4);
      expect(node.losses[2]).toBeLessThan(node.losses[0]!);
      const browser = await browserSteps(dir, batch, 3, 1);
      expect(browser.threads).toBe(1);
      expectSameTraining(browser, node);
    }, 120_000);

    it('MLP with Adam, 2 threads (Web Workers over shared memory): the same as Node with 2 threads', async () => {
      const dir = await compileArtifact('examples/mlp.kiln', 'mlp-');
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const batch = mlpBatch();
      const node = await nodeSteps(dir, batch, 2, 2);
      expect(node.threads).toBe(2);
      expect(node.losses.every(Number.isFinite)).toBe(true);
      const browser = await browserSteps(dir, batch, 2, 2);
      expect(browser.crossOriginIsolated, 'the page is cross-origin isolated').toBe(true);
      expect(browser.threads, 'the browser model runs on 2 threads').toBe(2);
      expectSameTraining(browser, node);
    }, 120_000);

    // Attribution in the page (the runtime's Model.attribute) equals Node's: the vjp entry of the MLP
    // (integrated gradients, SmoothGrad) and the CNN's Grad-CAM view (`kiln compile --grad-cam`).
    it('attribution: integrated gradients, SmoothGrad and Grad-CAM in the page equal Node', async () => {
      const mlp = await compileArtifact('examples/mlp.kiln', 'mlp-attr-', 'wasm', '--entries', 'attribute');
      const cnn = await compileArtifact('examples/cnn.kiln', 'cnn-cam-', 'wasm', '--grad-cam', 'h2', '--of', 'probs');
      cleanup.push(() => rmSync(mlp, { recursive: true, force: true }));
      cleanup.push(() => rmSync(cnn, { recursive: true, force: true }));
      const rnd = lcg(5);
      const images = (shape: number[]) => ({
        dtype: 'f32' as const,
        shape,
        data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(rnd())),
      });
      const labels = { dtype: 'i32' as const, shape: [2], data: [1, 3] };
      const cases = [
        [mlp, { x: images([2, 784]), y: labels }, { method: 'integrated_gradients', wrt: 'x', of: 'probs', steps: 8 }],
        [mlp, { x: images([2, 784]), y: labels }, { method: 'smoothgrad', wrt: 'x', of: 'probs', samples: 6, seed: 3 }],
        [cnn, { x: images([2, 1, 28, 28]), y: labels }, { method: 'grad_cam', wrt: 'x', of: 'probs', layer: 'h2' }],
      ] as const;
      for (const [dir, batch, opts] of cases) {
        const model = await loadModel(dir, { threads: 1 });
        const inputs = Object.fromEntries(
          Object.entries(batch).map(([k, t]) => [
            k,
            { shape: t.shape, data: t.dtype === 'i32' ? Int32Array.from(t.data) : Float32Array.from(t.data) },
          ]),
        );
        const node = await model.attribute(inputs, opts);
        model.dispose();
        const url = `${server.origin}/${relative('.', dir).split('\\').join('/')}/`;
        const browser = await page.evaluate(
          ([u, b, o]) => (globalThis as unknown as PageGlobals).kilnAttribute(u, b, o),
          [url, batch, opts] as const,
        );
        expect(browser.shape, opts.method).toEqual([...node.shape]);
        expect(browser.classes, opts.method).toEqual([...node.classes]);
        const scale = Math.max(...Array.from(node.attr, Math.abs));
        expect(scale, `${opts.method}: a zero attribution would pass trivially`).toBeGreaterThan(0);
        browser.attr.forEach((v, i) =>
          expect(Math.abs(v - node.attr[i]!), `${opts.method}[${i}]`).toBeLessThanOrEqual(1e-6 * scale),
        );
      }
    }, 120_000);

    it('MLP compiled for webgpu: navigator.gpu in the page trains as Dawn does in Node', async () => {
      const dir = await compileArtifact('examples/mlp.kiln', 'mlp-gpu-', 'webgpu');
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const batch = mlpBatch();
      const node = await nodeSteps(dir, batch, 2, 1);
      expect(node.target).toBe('webgpu');
      expect(node.losses.every(Number.isFinite)).toBe(true);
      const browser = await browserSteps(dir, batch, 2, 1);
      expect(browser.target).toBe('webgpu');
      expectSameTraining(browser, node, 1e-4);
    }, 120_000);
  });
});
