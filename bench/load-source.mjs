// A TypeScript module of the repository imported without a build: transpiled
// on the fly into a temporary file, its bare imports resolved from here. For
// benches of modules whose only imports are packages (targets/wasm/math.ts,
// targets/wasm/optimize.ts); a relative import would not resolve.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/** The module at `rel` (from the repository root), transpiled and imported. */
export async function loadSource(rel) {
  const src = readFileSync(new URL(`../${rel}`, import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const file = join(mkdtempSync(join(tmpdir(), 'kiln-source-')), 'module.mjs');
  writeFileSync(
    file,
    outputText.replace(/from '([^'.][^']*)'/g, (_, spec) => `from '${import.meta.resolve(spec)}'`),
  );
  return import(pathToFileURL(file).href);
}
