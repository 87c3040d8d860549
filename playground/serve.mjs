// The playground: bundles playground/src/main.ts with esbuild into
// playground/dist/ (ignored by git), then serves the repository root on
// 127.0.0.1 with the cross-origin isolation headers (COOP/COEP) that give the
// page SharedArrayBuffer, so the wasm runtime may use worker threads, and
// prints the page's address. `npm run playground` runs it.
//
//   node playground/serve.mjs [--port 8080] [--build-only]
//
// The bundle holds the whole compiler (the dsl front end with ohm-js, the
// wasm back end with binaryen) and the runtime. Their few Node-only parts are
// kept out of it: node:fs and node:module are shims (shims/) that hand the
// parser its grammar and ohm-js, the other node: modules are only imported
// dynamically, in Node, and stay external; the `webgpu` package (Dawn) is
// imported through a variable specifier that esbuild does not follow.

import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { portArg, serve } from '../examples/browser/serve.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..');
export const OUT = join(HERE, 'dist');

/** node:fs and node:module (exactly these: node:fs/promises stays external) are the shims in playground/shims. */
function nodeShims() {
  const shims = { 'node:fs': 'node-fs.ts', 'node:module': 'node-module.ts' };
  return {
    name: 'kiln-node-shims',
    setup(build) {
      build.onResolve({ filter: /^node:(fs|module)$/ }, (args) => ({ path: join(HERE, 'shims', shims[args.path]) }));
    },
  };
}

/** Modules the bundle imports by name and this script generates: the grammar and the example models. */
function virtualModules() {
  const examples = () => {
    const dir = join(REPO, 'examples');
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.kiln'))
      .sort();
    return Object.fromEntries(files.map((f) => [f.slice(0, -'.kiln'.length), readFileSync(join(dir, f), 'utf8')]));
  };
  const modules = {
    'virtual:kiln-grammar': () => `export default ${JSON.stringify(readFileSync(join(REPO, 'dsl/kiln.ohm'), 'utf8'))};`,
    'virtual:kiln-examples': () => `export default ${JSON.stringify(examples())};`,
  };
  return {
    name: 'kiln-virtual',
    setup(build) {
      build.onResolve({ filter: /^virtual:kiln-/ }, (args) => ({ path: args.path, namespace: 'kiln-virtual' }));
      build.onLoad({ filter: /.*/, namespace: 'kiln-virtual' }, (args) => ({
        contents: modules[args.path](),
        loader: 'js',
        watchFiles: [join(REPO, 'dsl/kiln.ohm')],
      }));
    },
  };
}

/** Bundles the page's script into playground/dist/main.js. */
export async function buildPlayground() {
  const started = performance.now();
  await esbuild.build({
    entryPoints: [join(HERE, 'src/main.ts')],
    outdir: OUT,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // Imported dynamically and only in Node (runtime/threads.ts, runtime/model.ts, targets/artifact.ts).
    external: ['node:*'],
    // compiler/fusion/plan.ts reads a debugging switch from the environment.
    define: { 'process.env': '{}' },
    loader: { '.css': 'text' },
    plugins: [nodeShims(), virtualModules()],
    logLevel: 'warning',
    logOverride: { 'unsupported-dynamic-import': 'silent' },
  });
  return performance.now() - started;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const port = portArg(argv);
  try {
    const ms = await buildPlayground();
    console.log(`bundled ${join(OUT, 'main.js')} in ${Math.round(ms)} ms`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
  if (!argv.includes('--build-only')) {
    const { origin } = await serve(REPO, port);
    console.log(`serving ${REPO} at ${origin}/\nopen ${origin}/playground/  (Ctrl-C stops)`);
  }
}
