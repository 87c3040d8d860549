// The npm package as a user gets it: `npm pack` (the files package.json
// ships), unpacked into a fresh project's node_modules as npm installs it,
// then used through its entry points only, `kiln` (the compiler as a
// library), `kiln/runtime` and the `kiln` bin, from plain JavaScript (ESM)
// and from TypeScript under `tsc --strict` (types from the shipped .d.ts).
// The package's dependencies are linked from this repository's node_modules,
// so nothing is fetched. Needs `npm run build` (dist/).
//
// Checked: a model compiled by the library and by the bin loads and runs
// through kiln/runtime, its outputs matching a float64 forward pass computed
// here from its own params; diagnostics are data; importing kiln/runtime and
// running a model loads no compiler module (a loader hook lists every module
// loaded, and no file of dist/runtime imports outside it); and a typed
// artifact (`kiln compile --dts`) makes tsc reject a wrong input name and a
// wrong dtype while accepting correct use.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

let dir = '';
let app = '';
let pkg = '';

function run(cmd: string, args: readonly string[], cwd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(app, file)), { recursive: true });
  fs.writeFileSync(path.join(app, file), text);
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist/api/index.d.ts')))
    throw new Error('dist/ is missing or stale: run `npm run build` first');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-package-'));
  // --ignore-scripts: dist/ is built already (prepare would rebuild it).
  const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
  expect(packed.status, packed.stderr).toBe(0);
  const tarball = path.join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  app = path.join(dir, 'app');
  pkg = path.join(app, 'node_modules/kiln');
  fs.mkdirSync(pkg, { recursive: true });
  const untar = run('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1'], dir);
  expect(untar.status, untar.stderr).toBe(0);
  // The package's dependencies, as npm would install them beside it.
  const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const name of Object.keys(manifest.dependencies)) {
    const link = path.join(app, 'node_modules', name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', name), link, 'dir');
  }
  write('package.json', JSON.stringify({ name: 'app', private: true, type: 'module' }));
  fs.copyFileSync(path.join(ROOT, 'examples/mlp.kiln'), path.join(app, 'mlp.kiln'));
  // The bin of the package: an artifact and its types, for the runtime-only and TypeScript apps.
  const bin = run(
    process.execPath,
    ['node_modules/kiln/bin/kiln.js', 'compile', 'mlp.kiln', '-o', 'mlp-artifact', '--dts'],
    app,
  );
  expect(bin.status, bin.stderr).toBe(0);
  expect(bin.stdout).toContain('mlp-artifact/model.d.ts');
}, 60_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The float64 forward pass of examples/mlp.kiln, and the runtime's probs compared with it (ESM, shared by the apps). */
const REFERENCE = `
export function reference(p, x, n) {
  const probs = [];
  for (let b = 0; b < n; b++) {
    const h = [];
    for (let j = 0; j < 128; j++) {
      let s = p.b1.data[j];
      for (let i = 0; i < 784; i++) s += x[b * 784 + i] * p.w1.data[i * 128 + j];
      h.push(Math.max(0, s));
    }
    const z = [];
    for (let k = 0; k < 10; k++) {
      let s = p.b2.data[k];
      for (let j = 0; j < 128; j++) s += h[j] * p.w2.data[j * 10 + k];
      z.push(s);
    }
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, c) => a + c, 0);
    probs.push(...e.map((v) => v / sum));
  }
  return probs;
}
export function maxError(got, want) {
  if (got.length !== want.length) return Infinity;
  let err = 0;
  for (let i = 0; i < got.length; i++) err = Math.max(err, Number.isFinite(got[i]) ? Math.abs(got[i] - want[i]) : Infinity);
  return err;
}
export function inputs(n) {
  const x = new Float32Array(n * 784).map((_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);
  return { x: { data: x, shape: [n, 784] }, y: { data: Int32Array.from({ length: n }, (_, i) => i % 10), shape: [n] } };
}
`;

describe('the npm package', () => {
  it('ships the entry points, their types and the bin, and no sources or tests', () => {
    const json = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      bin: Record<string, string>;
    };
    expect(Object.keys(json.exports).sort()).toEqual(['.', './package.json', './runtime']);
    for (const f of [
      'dist/api/index.js',
      'dist/api/index.d.ts',
      'dist/runtime/index.js',
      'dist/runtime/index.d.ts',
      'dist/dsl/kiln.ohm',
      'dist/dsl/kiln.ohm.json',
      json.bin['kiln']!,
    ])
      expect(fs.existsSync(path.join(pkg, f)), f).toBe(true);
    for (const f of ['tests', 'cli', 'runtime', 'api', 'node_modules'])
      expect(fs.existsSync(path.join(pkg, f)), f).toBe(false);
  });

  it('compiles with the library, runs with kiln/runtime and matches a float64 forward pass (plain ESM)', () => {
    write('reference.mjs', REFERENCE);
    write(
      'main.mjs',
      `import { readFileSync } from 'node:fs';
import { check, compile, dump } from 'kiln';
import { loadArtifact } from 'kiln/runtime';
import { inputs, maxError, reference } from './reference.mjs';

const source = readFileSync('mlp.kiln', 'utf8');
const checked = check(source, { file: 'mlp.kiln' });
const bad = check('model m(x: f32[B, 3]) {\\n  output y = x @ w\\n}\\n', { file: 'bad.kiln' });
const kernels = await dump(source, { file: 'mlp.kiln', stage: 'kernels', train: true });
const compiled = await compile(source, { file: 'mlp.kiln', seed: 3 });
if (!compiled.ok) throw new Error(compiled.diagnostics.map((d) => d.text).join('\\n'));
const model = await loadArtifact(compiled.artifact, { threads: 1 });
const params = await model.getParams();
const n = 3;
const out = await model.run(inputs(n));
const loss = await model.step(inputs(n));
model.dispose();
console.log(JSON.stringify({
  ok: checked.ok,
  model: checked.models[0].name,
  inputs: checked.models[0].inputs.map((t) => t.type),
  parameterCount: checked.models[0].parameterCount,
  bad: bad.diagnostics.map(({ file, line, col, message }) => ({ file, line, col, message })),
  kernelsOk: kernels.ok && kernels.text.includes('training step mlp'),
  entries: model.entries,
  shape: out.probs.shape,
  error: maxError(out.probs.data, reference(params, inputs(n).x.data, n)),
  loss,
}));
`,
    );
    const r = run(process.execPath, ['main.mjs'], app);
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(got).toMatchObject({
      ok: true,
      model: 'mlp',
      inputs: ['f32[B, 784]', 'i32[B]'],
      parameterCount: 784 * 128 + 128 + 128 * 10 + 10,
      kernelsOk: true,
      entries: ['run', 'step'],
      shape: [3, 10],
    });
    expect(got['bad']).toEqual([{ file: 'bad.kiln', line: 2, col: 18, message: expect.stringMatching(/'w'/) }]);
    expect(got['error']).toBeLessThan(1e-5);
    expect(Number.isFinite(got['loss'])).toBe(true);
  });

  it('imports and runs kiln/runtime without loading a compiler module', () => {
    write(
      'trace.mjs',
      `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  "export async function load(url, context, next) { console.error('kiln-load ' + url); return next(url, context); }"));
`,
    );
    write('reference.mjs', REFERENCE);
    write(
      'runtime-only.mjs',
      `import { loadModel } from 'kiln/runtime';
import { inputs } from './reference.mjs';
const model = await loadModel('mlp-artifact', { threads: 1 });
const out = await model.run(inputs(2));
model.dispose();
console.log(JSON.stringify(out.probs.shape));
`,
    );
    const r = run(process.execPath, ['--import', './trace.mjs', 'runtime-only.mjs'], app);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([2, 10]);
    const loaded = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('kiln-load file://'))
      .map((l) => path.relative(fs.realpathSync(pkg), fileURLToPath(l.slice('kiln-load '.length))));
    const ours = loaded.filter((f) => !f.startsWith('..'));
    expect(ours).toContain('dist/runtime/index.js');
    expect(ours.filter((f) => !f.startsWith('dist/runtime/'))).toEqual([]);
    expect(loaded.filter((f) => /node_modules\/(binaryen|ohm-js)\//.test(f))).toEqual([]);
    // Statically too: no file of dist/runtime imports a relative path outside it.
    const runtimeDir = path.join(pkg, 'dist/runtime');
    const files = (fs.readdirSync(runtimeDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(10);
    const imports = files.flatMap((f) =>
      [
        ...fs.readFileSync(path.join(runtimeDir, f), 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]*)['"]/g),
      ].map((m) => `${f} -> ${path.relative(runtimeDir, path.resolve(path.dirname(path.join(runtimeDir, f)), m[1]!))}`),
    );
    expect(imports).toContain('index.js -> model.js');
    expect(imports.filter((i) => i.includes('-> ..'))).toEqual([]);
  });

  it('types both entry points and typed artifacts under tsc --strict, and rejects a wrong name or dtype', () => {
    write(
      'tsconfig.json',
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          types: [],
          strict: true,
          skipLibCheck: false,
          outDir: 'out',
        },
        files: ['typed.ts', 'bad-name.ts', 'bad-dtype.ts', 'bad-option.ts'],
      }),
    );
    const x = `{ data: new Float32Array(2 * 784), shape: [2, 784] }`;
    const y = `{ data: new Int32Array(2), shape: [2] }`;
    const head = `import { loadModel } from 'kiln/runtime';\nimport type { Mlp } from './mlp-artifact/model.js';\nconst model = await loadModel<Mlp>('mlp-artifact', { threads: 1 });\n`;
    write(
      'typed.ts',
      `import { type CheckResult, type Diagnostic, check, compile } from 'kiln';
import { type Model, type Tensor, loadArtifact, loadModel } from 'kiln/runtime';
import type { Mlp } from './mlp-artifact/model.js';

const checked: CheckResult = check('model m(x: f32[B]) {\\n  output y = x * 2\\n}\\n', { file: 'm.kiln' });
const first: Diagnostic | undefined = checked.diagnostics[0];
const compiled = await compile('model m(x: f32[B]) {\\n  output y = x * 2\\n}\\n', { target: 'wasm', entries: ['run'] });
if (!compiled.ok) throw new Error(compiled.diagnostics.map((d: Diagnostic) => \`\${d.file}:\${d.line}:\${d.col}: \${d.message}\`).join());
const untyped = await loadArtifact(compiled.artifact, { threads: 1 });
const doubled: Record<string, Tensor> = await untyped.run({ x: { data: Float32Array.of(1, 2), shape: [2] } });
untyped.dispose();

const model: Model<Mlp> = await loadModel<Mlp>('mlp-artifact', { threads: 1 });
const out = await model.run({ x: ${x}, y: ${y} });
const probs: Float32Array = out.probs.data;
const shape: readonly [number, 10] = out.probs.shape;
const pred: Int32Array = out.pred.data;
const only = await model.run({ x: ${x}, y: ${y} }, { outputs: ['loss'] });
const loss: number = await model.step({ x: ${x}, y: ${y} });
const w1: Float32Array = (await model.getParams()).w1.data;
model.setParams({ b2: { data: new Float32Array(10), shape: [10] } });
model.dispose();
console.log(JSON.stringify({ ok: checked.ok && first === undefined, doubled: [...doubled['y']!.data], shape, probs: probs.length, pred: pred.length, loss: Number.isFinite(loss) && Number.isFinite(only.loss.data[0]), w1: w1.length }));
`,
    );
    write('bad-name.ts', `${head}await model.run({ xs: ${x}, y: ${y} });\n`);
    write('bad-dtype.ts', `${head}await model.run({ x: ${x}, y: { data: new Float32Array(2), shape: [2] } });\n`);
    write('bad-option.ts', `import { compile } from 'kiln';\nawait compile('', { target: 'cuda' });\n`);
    const tsc = run(process.execPath, [TSC, '-p', 'tsconfig.json'], app);
    const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    const inFile = (f: string) => errors.filter((l) => l.startsWith(`${f}(`));
    expect(inFile('typed.ts'), tsc.stdout).toEqual([]);
    expect(inFile('bad-name.ts').join('\n')).toMatch(/'xs' does not exist/);
    expect(inFile('bad-dtype.ts').join('\n')).toMatch(/Float32Array.*Int32Array|Int32Array.*Float32Array/);
    expect(inFile('bad-option.ts').join('\n')).toMatch(/"cuda"/);
    expect(errors.length).toBe(
      inFile('bad-name.ts').length + inFile('bad-dtype.ts').length + inFile('bad-option.ts').length,
    );
    // What tsc emitted runs.
    const r = run(process.execPath, ['out/typed.js'], app);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      doubled: [2, 4],
      shape: [2, 10],
      probs: 20,
      pred: 2,
      loss: true,
      w1: 784 * 128,
    });
  });
});
