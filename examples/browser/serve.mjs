// Builds the browser example's artifact if it is missing, then serves the
// repository root on 127.0.0.1 (the page loads the runtime from dist/runtime)
// and prints the page's address. `npm run example:browser` runs it after
// `npm run build`.
//
//   node examples/browser/serve.mjs [--port 8080] [--rebuild] [--build-only]
//
// The artifact (examples/browser/artifact/, ignored by git) is
// `kiln compile examples/fashion_mlp.kiln --entries attribute` with the
// trained params of fashion_mlp.q8.safetensors (see make-assets.mjs) in place
// of the initial ones. The server sends the cross-origin isolation headers
// that give the page SharedArrayBuffer, so the runtime may use worker threads.

import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
export const ARTIFACT = join(HERE, 'artifact');
const TRAINED = join(HERE, 'fashion_mlp.q8.safetensors');

/** `NAME.q8`, `NAME.lo`, `NAME.step` -> NAME = lo + q8 * step (per column); other tensors as they are. */
export function dequantize(tensors) {
  const out = new Map();
  for (const [name, t] of tensors) {
    if (name.endsWith('.lo') || name.endsWith('.step')) continue;
    if (!name.endsWith('.q8')) {
      out.set(name, t);
      continue;
    }
    const base = name.slice(0, -'.q8'.length);
    const lo = tensors.get(`${base}.lo`).data;
    const step = tensors.get(`${base}.step`).data;
    const cols = t.shape[1];
    const data = new Float32Array(t.data.length);
    for (let i = 0; i < data.length; i++) data[i] = lo[i % cols] + t.data[i] * step[i % cols];
    out.set(base, { dtype: 'F32', shape: t.shape, data });
  }
  return out;
}

/** Compiles the artifact (and puts the trained params in it) unless it is there; returns a line saying which params it has. */
export async function buildArtifact({ rebuild = false } = {}) {
  if (!existsSync(join(REPO, 'dist/runtime/index.js')) || !existsSync(join(REPO, 'dist/cli/main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const about = join(ARTIFACT, 'about.json');
  if (!rebuild && existsSync(about)) return JSON.parse(readFileSync(about, 'utf8')).params;
  rmSync(ARTIFACT, { recursive: true, force: true });
  const args = ['compile', join(REPO, 'examples/fashion_mlp.kiln'), '--entries', 'attribute', '-o', ARTIFACT];
  const r = spawnSync(process.execPath, [join(REPO, 'bin/kiln.js'), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kiln ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  let params = 'initial params (untrained: fashion_mlp.q8.safetensors is missing)';
  if (existsSync(TRAINED)) {
    const { decodeSafetensors, encodeSafetensors } = await import('../../dist/runtime/safetensors.js');
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(TRAINED)), TRAINED);
    writeFileSync(join(ARTIFACT, 'params.safetensors'), encodeSafetensors(dequantize(tensors)));
    params = `trained 1 epoch, 8-bit weights; ${metadata.accuracy ?? ''}`;
  }
  writeFileSync(about, JSON.stringify({ params }) + '\n');
  return params;
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** A read-only static server of `root` on 127.0.0.1 (as tests/browser/server.ts); resolves to the server and its origin. */
export async function serve(root, port = 0) {
  const top = realpathSync(root);
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
    let file;
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
      if (path.includes('\0')) throw new Error('bad path');
      file = realpathSync(resolve(top, '.' + path));
      // No `..` escapes and no symlinks out of the root.
      if (file !== top && !file.startsWith(top + sep)) throw new Error('outside the root');
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!statSync(file).isFile()) throw new Error('not a file');
    } catch {
      return res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found');
    }
    res.writeHead(200, {
      ...headers,
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

/** `--port N` of a command line (default 8080); exits with status 2 on a bad one. */
export function portArg(argv) {
  const at = argv.indexOf('--port');
  const port = at >= 0 ? Number(argv[at + 1]) : 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port: expected a port number, got ${argv[at + 1]}`);
    process.exit(2);
  }
  return port;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const port = portArg(argv);
  try {
    console.log(`artifact: ${ARTIFACT} (${await buildArtifact({ rebuild: argv.includes('--rebuild') })})`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
  if (!argv.includes('--build-only')) {
    const { origin } = await serve(REPO, port);
    console.log(`serving ${REPO} at ${origin}/\nopen ${origin}/examples/browser/  (Ctrl-C stops)`);
  }
}
