// The headless Chromium the browser tests drive: Debian's (KILN_CHROMIUM names
// another binary), with WebGPU on SwiftShader. Without it the tests are
// skipped with a warning, unless KILN_REQUIRE_BROWSER=1 makes that a failure.

import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.KILN_CHROMIUM || '/usr/bin/chromium';
export const REQUIRED = process.env.KILN_REQUIRE_BROWSER === '1';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const RUN = HAVE_CHROMIUM || REQUIRED;
export const SKIP_MESSAGE = `SKIPPED: ${CHROMIUM} not found (apt-get install chromium); set KILN_REQUIRE_BROWSER=1 to make this a failure`;
if (!RUN) console.warn(`[tests/browser] ${SKIP_MESSAGE}`);

export const ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
