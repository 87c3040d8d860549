// The built parser (needs `npm run build`) loads kiln.ohm precompiled from the
// recipe scripts/copy-assets.mjs wrote beside it, instead of compiling the
// grammar on every run (tests/dsl/grammar-recipe.test.ts checks the two agree).

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('the built parser', () => {
  it('loads its grammar from dist/dsl/kiln.ohm.json', () => {
    const script =
      "const { kilnGrammar } = await import('./dist/dsl/parse.js'); console.log(kilnGrammar().fromRecipe);";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('true\n');
  });
});
