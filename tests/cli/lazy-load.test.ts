// `kiln check` and the dumps of the middle end load neither binaryen, the
// webgpu package nor a code generator (cli/program.ts imports a command's module
// only when it runs; targets/index.ts imports a back end only when code is
// generated). Run on the built CLI (needs `npm run build`) with a loader hook
// that lists every module the process loads.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const TRACE = new URL('./fixtures/loads/trace.mjs', import.meta.url).href;
const MLP = 'examples/mlp.kiln';

/** The modules `kiln ...args` loads, as paths below node_modules or the repository. */
function loadedBy(...args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--import', TRACE, 'bin/kiln.js', ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('kiln-load file://'))
    .map((l) => l.replace(/^kiln-load file:\/\/.*?\/(node_modules\/|dist\/)/, '$1'));
}

const heavy = (loaded: readonly string[]) =>
  loaded.filter((m) =>
    /^node_modules\/(binaryen|webgpu)\/|^dist\/targets\/(wasm|wgsl)\/|^dist\/runtime\/model/.test(m),
  );

describe('lazy loading', () => {
  it('kiln check loads no back end, no runtime and no compiler middle end', () => {
    const loaded = loadedBy('check', MLP);
    expect(loaded).toContain('dist/cli/commands/check.js');
    expect(heavy(loaded)).toEqual([]);
    expect(loaded.filter((m) => /^dist\/(targets|compiler\/(fusion|passes|kernel))\//.test(m))).toEqual([]);
    // A plain `kiln check FILE` does not even set up commander (cli/main.ts).
    expect(loaded.filter((m) => /^node_modules\/(commander|cli-progress)\/|^dist\/cli\/program/.test(m))).toEqual([]);
  });

  it.each(['ast', 'ir', 'grad', 'opt', 'kernels'])('kiln dump --stage %s --train loads no back end', (stage) => {
    const loaded = loadedBy('dump', MLP, '--stage', stage, '--train');
    expect(loaded).toContain('dist/cli/commands/dump.js');
    expect(heavy(loaded)).toEqual([]);
  });

  it('kiln dump --stage wasm loads binaryen and the wasm back end only', () => {
    const loaded = loadedBy('dump', MLP, '--stage', 'wasm');
    expect(loaded.some((m) => m.startsWith('node_modules/binaryen/'))).toBe(true);
    expect(loaded).toContain('dist/targets/wasm/target.js');
    expect(loaded.filter((m) => m.startsWith('dist/targets/wgsl/'))).toEqual([]);
  });

  it('kiln dump --stage wgsl loads the WGSL back end without binaryen', () => {
    const loaded = loadedBy('dump', MLP, '--stage', 'wgsl');
    expect(loaded).toContain('dist/targets/wgsl/target.js');
    expect(loaded.filter((m) => m.startsWith('node_modules/binaryen/') || m.startsWith('dist/targets/wasm/'))).toEqual(
      [],
    );
  });
});
