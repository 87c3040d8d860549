// The playground (playground/, `npm run playground`) in headless Chromium:
// the page is bundled once (playground/serve.mjs --build-only) and served on
// 127.0.0.1 with cross-origin isolation. It must show the fused kernels and a
// kernel's code of the default example (fashion_mlp); an error typed into the
// editor must appear inline on its line within the lint delay, and clear when
// fixed; the model must train 50 steps in the page with its loss falling, on
// WebAssembly (worker threads) and on WebGPU when the page finds an adapter;
// fashion_cnn, picked from the dropdown, must train too; and a shared link
// must bring the edited model back.
//
// With KILN_UPDATE_SCREENSHOTS=1 it writes docs/playground/*.png.
// Skipped without /usr/bin/chromium unless KILN_REQUIRE_BROWSER=1, as
// browser.test.ts; with KILN_REQUIRE_WEBGPU=1 a page without WebGPU fails.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGS, CHROMIUM, HAVE_CHROMIUM, RUN, SKIP_MESSAGE } from './chromium.js';
import { type StaticServer, serveStatic } from './server.js';

const SCREENSHOTS = process.env.KILN_UPDATE_SCREENSHOTS === '1' ? 'docs/playground' : undefined;

interface Run {
  backend: 'wasm' | 'webgpu';
  device: string;
  threads: number;
  steps: number;
  losses: number[];
  accuracy?: number;
  ms: number;
}
/** What playground/src/main.ts puts on the page's global object. */
interface PlaygroundGlobals {
  kilnPlayground: {
    status: 'loading' | 'ready' | 'training' | 'error';
    error?: string;
    crossOriginIsolated: boolean;
    webgpu: boolean;
    checks: number;
    diagnostics: { line: number; col: number; message: string }[];
    kernelViews: number;
    runs: Run[];
  };
}
type State = PlaygroundGlobals['kilnPlayground'];

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('playground (playground/) in headless Chromium', () => {
  if (!RUN) it.skip(SKIP_MESSAGE, () => {});

  describe.runIf(RUN)('edit, check, compile and train in the page', () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    const consoleLines: string[] = [];
    let context: BrowserContext;
    let page: Page;
    let origin: string;

    const state = (p: Page = page): Promise<State> =>
      p.evaluate(() => (globalThis as unknown as PlaygroundGlobals).kilnPlayground);

    /** Opens the playground (with a hash) and waits until it has shown the kernels of its model. */
    async function open(p: Page, hash = ''): Promise<void> {
      await p.goto(`${origin}/playground/index.html${hash}`);
      await p.waitForFunction(
        () => {
          const s = (globalThis as unknown as PlaygroundGlobals).kilnPlayground;
          return s !== undefined && (s.status === 'error' || (s.status === 'ready' && s.kernelViews > 0));
        },
        undefined,
        { timeout: 20_000 },
      );
      const s = await state(p);
      if (s.status === 'error') throw new Error(`the playground failed:\n${s.error}\n${consoleLines.join('\n')}`);
    }

    beforeAll(async () => {
      if (!HAVE_CHROMIUM)
        throw new Error(`${CHROMIUM} is missing and KILN_REQUIRE_BROWSER=1 requires the browser test`);
      execFileSync(process.execPath, ['playground/serve.mjs', '--build-only'], { stdio: 'pipe' });
      if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
      const server: StaticServer = await serveStatic('.');
      cleanup.push(() => server.close());
      origin = server.origin;
      const profile = mkdtempSync(join(tmpdir(), 'kiln-chromium-'));
      cleanup.push(() => rmSync(profile, { recursive: true, force: true }));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ARGS,
        viewport: { width: 1280, height: 900 },
      });
      cleanup.push(() => context.close());
      page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
      await open(page);
    }, 40_000);

    afterAll(async () => {
      for (const f of cleanup.reverse()) await f();
    });

    it('shows the fused kernels of the training step and a kernel in WAT or WGSL', async () => {
      const kernels = await page.textContent('#kernels');
      expect(kernels).toMatch(/^training step fashion_mlp: kernels for target (wasm|webgpu)\n/);
      expect(kernels).toMatch(/\d+ kernels: .* flops/);
      await expect.poll(() => page.textContent('#code')).toMatch(/^kernel k0 /);
      const code = (await page.textContent('#code'))!;
      // WebGPU when the browser has it, else WebAssembly.
      const webgpu = (await state()).webgpu;
      expect(await page.inputValue('#backend')).toBe(webgpu ? 'webgpu' : 'wasm');
      expect(code).toMatch(webgpu ? /@compute @workgroup_size/ : /\(func \$/);
    });

    it('an error typed into the editor shows inline on its line, and clears when fixed', async () => {
      const target = page.locator('.cm-line', { hasText: 'logits = dense(h, w2, b2)' });
      await target.click();
      await page.keyboard.press('End');
      const checks = (await state()).checks;
      await page.keyboard.type(' + w9');
      await page.waitForSelector('.cm-lintRange-error', { timeout: 5_000 });
      // The underlined span is on the edited line (line 12 of fashion_mlp.kiln).
      const marked = await page.locator('.cm-line', { has: page.locator('.cm-lintRange-error') }).textContent();
      expect(marked).toContain('logits = dense(h, w2, b2) + w9');
      const s = await state();
      expect(s.checks).toBeGreaterThan(checks);
      expect(s.diagnostics.length).toBeGreaterThan(0);
      expect(s.diagnostics[0]!.line).toBe(12);
      expect(s.diagnostics[0]!.message).toMatch(/^playground\.kiln:12:\d+: .*w9/);
      expect(await page.locator('.cm-gutter-lint .cm-lint-marker-error').count()).toBe(1);
      // Its message, on hover.
      await page.hover('.cm-lintRange-error');
      await page.waitForSelector('.cm-tooltip-lint', { timeout: 5_000 });
      expect(await page.textContent('.cm-tooltip-lint')).toContain("playground.kiln:12:31: unknown name 'w9'");
      if (SCREENSHOTS)
        await page.screenshot({
          path: join(SCREENSHOTS, 'diagnostic.png'),
          clip: { x: 0, y: 0, width: 1280, height: 560 },
        });
      await page.mouse.move(0, 0);

      for (let i = 0; i < 5; i++) await page.keyboard.press('Backspace');
      // Cleared by the next check (CodeMirror drops the mark as soon as its text is deleted).
      await page.waitForFunction(
        (n) => (globalThis as unknown as PlaygroundGlobals).kilnPlayground.checks > n,
        s.checks,
        { timeout: 5_000 },
      );
      const fixed = await state();
      expect(fixed.diagnostics).toEqual([]);
      expect(await page.locator('.cm-lintRange-error').count()).toBe(0);
      expect(await page.locator('.cm-gutter-lint .cm-lint-marker-error').count()).toBe(0);
      expect(await page.textContent('#check')).toContain('model fashion_mlp');
    });

    /** Trains `steps` steps on `backend` through the page's controls; returns the run. */
    async function trainInPage(backend: 'wasm' | 'webgpu', steps: number): Promise<Run> {
      const before = (await state()).runs.length;
      await page.selectOption('#backend', backend);
      await page.fill('#steps', String(steps));
      await page.click('#train');
      await page.waitForFunction(
        (n) => {
          const s = (globalThis as unknown as PlaygroundGlobals).kilnPlayground;
          return s.runs.length > n || s.status === 'error';
        },
        before,
        { timeout: 30_000 },
      );
      const s = await state();
      if (s.status === 'error') throw new Error(`training failed:\n${s.error}\n${consoleLines.join('\n')}`);
      return s.runs.at(-1)!;
    }

    function expectLearning(run: Run, steps: number): void {
      expect(run.steps).toBe(steps);
      expect(run.losses.every(Number.isFinite)).toBe(true);
      const first = mean(run.losses.slice(0, 5));
      const last = mean(run.losses.slice(-5));
      console.log(
        `[playground] ${run.device}: ${steps} steps in ${run.ms.toFixed(0)} ms, ` +
          `loss ${first.toFixed(3)} -> ${last.toFixed(3)} (means of the first and last 5), test accuracy ${run.accuracy}`,
      );
      expect(last).toBeLessThan(0.85 * first);
    }

    it('trains fashion_mlp 50 steps on WebAssembly on worker threads: the loss falls', async () => {
      const s = await state();
      expect(s.crossOriginIsolated).toBe(true);
      const run = await trainInPage('wasm', 50);
      expect(run.backend).toBe('wasm');
      expect(run.threads).toBeGreaterThan(1);
      expectLearning(run, 50);
      expect(run.accuracy).toBeGreaterThan(0.3);
      expect(await page.locator('#grid figure').count()).toBe(32);
      expect(await page.locator('#chart canvas').count()).toBeGreaterThan(0);
      if (SCREENSHOTS) {
        // A longer run for the picture.
        await trainInPage('wasm', 600);
        await page.screenshot({ path: join(SCREENSHOTS, 'playground.png'), fullPage: true });
      }
    });

    it('trains fashion_mlp 50 steps on WebGPU when the page has it: the loss falls', async (ctx) => {
      const s = await state();
      if (!s.webgpu) {
        if (process.env.KILN_REQUIRE_WEBGPU === '1') throw new Error('the page found no WebGPU adapter');
        console.warn('[tests/browser] SKIPPED: the page found no WebGPU adapter');
        ctx.skip();
      }
      const run = await trainInPage('webgpu', 50);
      expect(run.backend).toBe('webgpu');
      expect(run.device).toMatch(/^webgpu/);
      expectLearning(run, 50);
    });

    it('fashion_cnn from the examples trains too, and a shared link brings the edited model back', async () => {
      await page.selectOption('#example', 'fashion_cnn');
      await expect.poll(() => page.textContent('#kernels')).toMatch(/^training step fashion_cnn: kernels/);
      const run = await trainInPage('wasm', 20);
      expect(run.steps).toBe(20);
      expect(run.losses.every(Number.isFinite)).toBe(true);
      expect(mean(run.losses.slice(-5))).toBeLessThan(mean(run.losses.slice(0, 5)));

      await page.locator('.cm-line', { hasText: 'optimizer adam' }).click();
      await page.keyboard.press('End');
      await page.keyboard.type('  // shared');
      await page.click('#share');
      const url = page.url();
      expect(url).toMatch(/#code=[A-Za-z0-9+\-$]+$/);
      const other = await context.newPage();
      try {
        await open(other, new URL(url).hash);
        const text = (await other.locator('.cm-content .cm-line').allTextContents()).join('\n');
        expect(text).toContain('optimizer adam(lr = 1e-3)  // shared');
        expect(await other.textContent('#kernels')).toMatch(/^training step fashion_cnn: kernels/);
      } finally {
        await other.close();
      }
    });
  });
});
