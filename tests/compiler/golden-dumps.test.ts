// Golden dumps of every example's optimised training-step IR and its kernel
// table: a compiler change shows up as a reviewable diff of these files
// (`npm run golden:update` rewrites them).

import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectGolden } from '../golden.js';
import { kiln } from '../cli/helpers.js';

const EXAMPLES = readdirSync('examples').filter((f) => f.endsWith('.kiln'));

describe.each(EXAMPLES)('%s', (f) => {
  const file = join('examples', f);
  const golden = (stage: string) => join('tests', 'compiler', 'golden', `${basename(f, '.kiln')}.${stage}.txt`);

  it('optimised training step IR', async () => {
    const r = await kiln('dump', file, '--stage', 'opt', '--train');
    expect(r.stderr).toBe('');
    expectGolden(golden('opt'), r.stdout);
  });

  it('kernel table of the training step', async () => {
    const r = await kiln('dump', file, '--stage', 'kernels', '--train', '--dims', 'B=32');
    expect(r.stderr).toBe('');
    expectGolden(golden('kernels'), r.stdout);
  });
});
