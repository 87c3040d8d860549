// The import rules (.dependency-cruiser.mjs) fire: a small tree with one
// forbidden import per rule is cruised with the repo's config, and exactly
// those imports are reported, while the allowed directions are not. (The
// repo itself is checked by `npm run lint:imports`, part of `npm test`.)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ICruiseResult, type IConfiguration, cruise } from 'dependency-cruiser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** file -> its source: every import here is either allowed or broken on purpose. */
const TREE: Record<string, string> = {
  'tsconfig.json': '{ "compilerOptions": { "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true } }',
  // allowed: dsl -> compiler, compiler -> runtime, targets -> compiler and runtime, api -> dsl and targets, cli -> all
  'dsl/parse.ts': "import { ir } from '../compiler/ir.js';\nexport const parse = ir;",
  'compiler/ir.ts': "import { spec } from '../runtime/spec.js';\nexport const ir = spec;",
  'targets/wasm/codegen.ts':
    "import { ir } from '../../compiler/ir.js';\nimport { spec } from '../../runtime/spec.js';\nexport const wasm = ir + spec;",
  'targets/wgsl/codegen.ts': "import { ir } from '../../compiler/ir.js';\nexport const wgsl = ir;",
  'runtime/spec.ts': 'export const spec = 1;',
  'api/index.ts':
    "import { parse } from '../dsl/parse.js';\nimport { wasm } from '../targets/wasm/codegen.js';\nexport const api = parse + wasm;",
  'cli/main.ts':
    "import { parse } from '../dsl/parse.js';\nimport { wasm } from '../targets/wasm/codegen.js';\nimport { api } from '../api/index.js';\nexport const main = parse + wasm + api;",
  'tests/helper.ts': 'export const helper = 1;',
  // allowed: the playground on the compiler and the runtime, and the modules its bundler generates
  'playground/main.ts':
    "import { parse } from '../dsl/parse.js';\nimport { spec } from '../runtime/spec.js';\nimport examples from 'virtual:kiln-examples';\nexport const page = [parse, spec, examples];",
  // allowed: the fuzzer on the product, the tests on the fuzzer
  'fuzz/run.ts':
    "import { parse } from '../dsl/parse.js';\nimport { main } from '../cli/main.js';\nexport const fuzz = [parse, main];",
  'tests/fuzz.ts': "import { fuzz } from '../fuzz/run.js';\nexport const test = fuzz;",
  // forbidden, one per rule
  'dsl/bad.ts': "import { wasm } from '../targets/wasm/codegen.js';\nexport const bad = wasm;",
  'compiler/bad.ts': "import { parse } from '../dsl/parse.js';\nexport const bad = parse;",
  'targets/wasm/bad.ts': "import { wgsl } from '../wgsl/codegen.js';\nexport const bad = wgsl;",
  'targets/wgsl/bad.ts': "import { wasm } from '../wasm/codegen.js';\nexport const bad = wasm;",
  'runtime/bad.ts': "import { ir } from '../compiler/ir.js';\nexport const bad = ir;",
  'api/bad.ts': "import { main } from '../cli/main.js';\nexport const bad = main;",
  'targets/bad.ts': "import { api } from '../api/index.js';\nexport const bad = api;",
  'cli/bad.ts': "import { helper } from '../tests/helper.js';\nexport const bad = helper;",
  'cli/missing.ts': "import { gone } from './gone.js';\nexport const bad = gone;",
  'playground/bad.ts': "import { main } from '../cli/main.js';\nexport const bad = main;",
  'cli/playground.ts': "import { page } from '../playground/main.js';\nexport const bad = page;",
  'cli/fuzz.ts': "import { fuzz } from '../fuzz/run.js';\nexport const bad = fuzz;",
  'fuzz/bad.ts': "import { helper } from '../tests/helper.js';\nexport const bad = helper;",
  // a circle of type-only imports is still a circle (reported once, where it is entered)
  'compiler/circle-a.ts': "import type { B } from './circle-b.js';\nexport interface A { b?: B }",
  'compiler/circle-b.ts': "import type { A } from './circle-a.js';\nexport interface B { a?: A }",
};

let dir = '';
let violations: string[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-imports-'));
  for (const [file, text] of Object.entries(TREE)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), `${text}\n`);
  }
  const configFile = path.join(ROOT, '.dependency-cruiser.mjs');
  const config = ((await import(configFile)) as { default: IConfiguration }).default;
  const cwd = process.cwd();
  process.chdir(dir); // the config's paths and tsconfig are relative to the cruised tree
  try {
    const result = await cruise(
      ['dsl', 'compiler', 'targets', 'runtime', 'api', 'cli', 'tests', 'playground', 'fuzz'],
      {
        ...config.options,
        ruleSet: { forbidden: config.forbidden ?? [] },
        validate: true,
      },
    );
    const output = result.output as ICruiseResult;
    violations = output.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
  } finally {
    process.chdir(cwd);
  }
}, 60_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('import rules', () => {
  it('report every forbidden import, by rule, and nothing else', () => {
    expect(violations).toEqual(
      [
        'api-below-cli: api/bad.ts -> cli/main.ts',
        'compiler-below-dsl-targets-cli: compiler/bad.ts -> dsl/parse.ts',
        'dsl-above-compiler-only: dsl/bad.ts -> targets/wasm/codegen.ts',
        'fuzzer-on-the-product: fuzz/bad.ts -> tests/helper.ts',
        'no-circular: compiler/circle-a.ts -> compiler/circle-b.ts',
        'no-tests-in-product: cli/bad.ts -> tests/helper.ts',
        'not-to-unresolvable: cli/missing.ts -> ./gone.js',
        'nothing-imports-the-fuzzer: cli/fuzz.ts -> fuzz/run.ts',
        'nothing-imports-the-playground: cli/playground.ts -> playground/main.ts',
        'playground-on-the-compiler-and-runtime: playground/bad.ts -> cli/main.ts',
        'runtime-stands-alone: runtime/bad.ts -> compiler/ir.ts',
        'targets-below-api: targets/bad.ts -> api/index.ts',
        'wasm-not-wgsl: targets/wasm/bad.ts -> targets/wgsl/codegen.ts',
        'wgsl-not-wasm: targets/wgsl/bad.ts -> targets/wasm/codegen.ts',
      ].sort(),
    );
  });
});
