// The built parser loads kiln.ohm precompiled (dist/dsl/kiln.ohm.json, written
// by scripts/copy-assets.mjs) instead of compiling it on every run. The two
// must parse identically, and a recipe made from another kiln.ohm (or by
// another ohm) must never be used.

import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { grammarRecipe, kilnGrammar, loadGrammar, parse } from '../../dsl/parse.js';

const read = (rel: string): string => readFileSync(new URL(rel, import.meta.url), 'utf8');
const OHM = read('../../dsl/kiln.ohm');
const RECIPE = grammarRecipe(OHM);

/** Sources to parse: the examples, and every source in the DSL golden files (valid and broken). */
function sources(): { path: string; text: string }[] {
  const out = readdirSync(new URL('../../examples/', import.meta.url))
    .filter((f) => f.endsWith('.kiln'))
    .map((f) => ({ path: `examples/${f}`, text: read(`../../examples/${f}`) }));
  out.push({ path: 'language-example.kiln', text: read('./golden/language-example.kiln') });
  for (const golden of ['syntax-errors', 'semantic-errors']) {
    // Each case is `=== name`, the source, `---`, the diagnostics.
    const text = read(`./golden/${golden}.golden`);
    const cases = [...text.matchAll(/^=== (.*)\n([\s\S]*?)\n---\n/gm)];
    expect(cases.length).toBe(text.match(/^=== /gm)?.length);
    for (const m of cases) out.push({ path: m[1]!, text: m[2]! });
  }
  return out;
}

/** Each source and, to reach more of the error paths, its prefixes cut after each line. */
function withPrefixes(srcs: readonly { path: string; text: string }[]): { path: string; text: string }[] {
  return srcs.flatMap((s) => {
    const cuts = [...s.text.matchAll(/\n/g)].map((m) => m.index);
    return [s, ...cuts.map((c) => ({ path: `${s.path} (first ${c} chars)`, text: s.text.slice(0, c) }))];
  });
}

describe('the precompiled grammar', () => {
  const fromRecipe = loadGrammar(OHM, RECIPE);
  const fromOhm = loadGrammar(OHM, undefined);

  it('is used when it was made from this kiln.ohm', () => {
    expect(fromRecipe.fromRecipe).toBe(true);
    expect(fromOhm.fromRecipe).toBe(false);
  });

  it('parses every example and golden source exactly as kiln.ohm compiled does', () => {
    let failing = 0;
    for (const { path, text } of withPrefixes(sources())) {
      const file = { path, text };
      const a = parse(file, fromRecipe.grammar);
      const b = parse(file, fromOhm.grammar);
      expect(a, path).toEqual(b);
      if (a.diagnostics.length > 0) failing++;
    }
    // The comparison covers syntax errors too, not only clean parses.
    expect(failing).toBeGreaterThan(50);
  });

  it('is ignored once kiln.ohm changes, and the new grammar is compiled', () => {
    const edited = OHM.replace('kw<"fn">', 'kw<"fun">');
    expect(edited).not.toBe(OHM);
    const g = loadGrammar(edited, RECIPE);
    expect(g.fromRecipe).toBe(false);
    expect(g.grammar.match('fun f(x) = x', 'Item').succeeded()).toBe(true);
    // ...where the old recipe would have parsed the old language.
    expect(fromRecipe.grammar.match('fun f(x) = x', 'Item').succeeded()).toBe(false);
    // Even a change to a comment makes the recipe stale.
    expect(loadGrammar(`${OHM}// more\n`, RECIPE).fromRecipe).toBe(false);
  });

  it('is ignored if made by another version of ohm, or damaged', () => {
    const file = JSON.parse(RECIPE) as { ohm: string };
    expect(loadGrammar(OHM, JSON.stringify({ ...file, ohm: `${file.ohm}-other` })).fromRecipe).toBe(false);
    expect(loadGrammar(OHM, RECIPE.slice(0, RECIPE.length / 2)).fromRecipe).toBe(false);
    expect(loadGrammar(OHM, JSON.stringify({ ...file, recipe: ['grammar'] })).fromRecipe).toBe(false);
  });

  it('is absent when running from source: dsl/kiln.ohm is compiled', () => {
    expect(kilnGrammar().fromRecipe).toBe(false);
  });
});
