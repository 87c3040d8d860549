// node:fs in the playground's bundle. The parser (dsl/parse.ts) reads its
// grammar, kiln.ohm, beside its module; here that file is the grammar text
// built into the bundle. There is no compiled recipe (kiln.ohm.json), so the
// parser compiles the grammar, once. Nothing else in the bundle reads a file.

import grammar from 'virtual:kiln-grammar';

function missing(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file in the browser: ${path}`), { code: 'ENOENT' });
}

export function readFileSync(path: string | URL, _encoding?: string): string {
  const name = String(path);
  if (name.endsWith('/kiln.ohm')) return grammar;
  throw missing(name);
}

/** dsl/frontend.ts's file reader stats first; in the page there is no file to stat. */
export function statSync(path: string | URL): never {
  throw missing(String(path));
}
