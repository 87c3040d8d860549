// Golden-file comparison: the expected text lives in a file beside the test
// and is rewritten only by `npm run golden:update` (KILN_UPDATE_GOLDEN=1), so
// a compiler change shows up as a reviewable diff.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect } from 'vitest';

export function expectGolden(path: string, actual: string): void {
  if (process.env['KILN_UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing; run \`npm run golden:update\` to create it`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}
