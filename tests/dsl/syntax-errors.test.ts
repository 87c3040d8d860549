import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FnDecl } from '../../dsl/ast.js';
import { MAX_NESTING, parse } from '../../dsl/parse.js';
import { formatDiagnostic, type Diagnostic, type SourceFile } from '../../dsl/source.js';
import { expectGolden } from '../golden.js';

const EXAMPLE = readFileSync(new URL('./golden/language-example.kiln', import.meta.url), 'utf8');
const GOLDEN = fileURLToPath(new URL('./golden/syntax-errors.golden', import.meta.url));

/** Each case: what it exercises, and a bad source. Keep appending (renumbering rewrites the golden). */
const CASES: readonly [string, string][] = [
  ['unterminated block comment', 'fn f(x) = x\n/* forgot to close\nfn g(x) = x\n'],
  ['missing )', 'fn f(x) = relu(dense(x, w, b)\n'],
  ['missing ]', 'model m(x: f32[B, 784) {\n  output y = x\n}\n'],
  ['stray }', 'fn f(x) = x }\n'],
  ['mismatched brackets', 'fn f(x) = sum(x, axis = [0, 1)]\n'],
  ['unclosed ( before the model closes', 'model m(x: f32[B]) {\n  h = relu(x\n  output y = h\n}\n'],
  ['bad character', 'fn f(x) = x # comment?\n'],
  ['non-ASCII letter in a name and a control byte', 'fn café(x) = x\nfn g(x) = x\u0007\n'],
  ['keyword as name', 'model m(x: f32[B]) {\n  param param: f32[3] = zeros\n  output y = x\n}\n'],
  ['keyword as fn name', 'fn model(x) = x\n'],
  ['missing =', 'model m(x: f32[B]) {\n  output y x\n}\n'],
  ['missing expression after +', 'model m(x: f32[B]) {\n  h = x +\n  output y = h\n}\n'],
  ['unknown item', 'fn f(x) = x\n\nmodle m(x: f32[B]) { output y = x }\n'],
  [
    'two errors in two items, good items kept',
    'fn ok(x) = x\nfn f(x) = x *\nmodel m(x: f32[B]) {\n  output y = ok(x)\n}\ntrain m { minimize }\n',
  ],
  ['bad type: no dims', 'model m(x: f32) {\n  output y = x\n}\n'],
  ['bad type: fractional dim', 'model m(x: f32[B, 2.5]) {\n  output y = x\n}\n'],
  ['empty parens in type position', 'model m(x: ()) {\n  output y = x\n}\n'],
  ['operator after operator', 'fn f(x) = 3 +* 4\n'],
  ['fn block without return', 'fn f(x) {\n  let t = x * 2\n  t\n}\n'],
  ['unterminated string', 'fn f(a, b) = einsum("ij,jk->ik, a, b)\n'],
  ['misspelled train setting', 'train m {\n  minimize loss\n  optimiser adam(lr = 1e-3)\n}\n'],
  ['missing optimizer call', 'train m {\n  minimize loss\n  optimizer\n  schedule cosine(steps = 10)\n}\n'],
  ['misspelled statement keyword', 'model m(x: f32[B]) {\n  parm w: f32[3] = zeros\n  output y = x\n}\n'],
  ['positional after keyword argument', 'fn f(x) = sum(axis = 0, x)\n'],
  ['junk after a complete item', 'model m(x: f32[B]) { output y = x } extra\n'],
  ['single &', 'fn f(a, b) = a & b\n'],
  ['nested too deeply', `fn f(x) = ${'('.repeat(MAX_NESTING + 1)}x${')'.repeat(MAX_NESTING + 1)}\n`],
  ['number too large', 'fn f(x) = x * 1e400\n'],
  ['model never closed', 'model m(x: f32[B]) {\n  output y = x\n'],
  ['missing name after output', 'model m(x: f32[B]) {\n  output = x\n}\n'],
  ['missing comma between arguments', 'fn f(x) = maximum(x 0)\n'],
  ['unexpected top-level junk', '42\nfn f(x) = x\n'],
];

function run(path: string, text: string): Diagnostic[] {
  return parse({ path, text }).diagnostics;
}

describe('syntax errors', () => {
  it('match the golden file', () => {
    const out: string[] = [];
    CASES.forEach(([what, text], i) => {
      const path = `bad/${String(i + 1).padStart(2, '0')}.kiln`;
      const diags = run(path, text);
      expect(diags.length, what).toBeGreaterThan(0);
      out.push(`=== ${path}: ${what}`, text.trimEnd(), '---', ...diags.map(formatDiagnostic), '');
    });
    expectGolden(GOLDEN, out.join('\n'));
  });

  it('reports errors in different items and keeps the good items', () => {
    const text = 'fn ok(x) = x\nfn f(x) = x *\nmodel m(x: f32[B]) {\n  output y = ok(x)\n}\ntrain m { minimize }\n';
    const { program, diagnostics } = parse({ path: 'two.kiln', text });
    expect(diagnostics.map((d) => d.message)).toEqual([
      "expected an expression after '*'",
      "expected a name after 'minimize', found '}'",
    ]);
    expect(program.items.map((i) => `${i.kind} ${i.kind === 'train' ? i.model.name : i.name.name}`)).toEqual([
      'fn ok',
      'model m',
    ]);
  });

  it('reports lexical errors in one item and syntax errors in another', () => {
    const text = 'fn a(x) = (x\nfn b(x) = x $ 1\nfn c(x) = = x\nfn d(x) = x\n';
    const { program, diagnostics } = parse({ path: 'mix.kiln', text });
    expect(diagnostics.map((d) => d.message)).toEqual([
      "'(' is never closed",
      "unexpected character '$' (U+0024)",
      "expected an expression after '=', found '='",
    ]);
    expect(program.items.map((i) => (i as FnDecl).name.name)).toEqual(['d']);
  });

  it('points at the opener of an unterminated comment or unclosed bracket', () => {
    const [c] = run('c.kiln', 'fn f(x) = x\n  /* open');
    expect(c!.span).toMatchObject({ start: 14, end: 16 });
    const [b] = run('b.kiln', 'fn f(x) = g(h(x)');
    expect(b!.message).toBe("'(' is never closed");
    expect(b!.span.start).toBe(11);
  });

  it('does not see brackets or keywords inside comments and strings', () => {
    const { diagnostics, program } = parse({
      path: 's.kiln',
      text: 'fn f(a, b) = einsum("ij,(jk->ik", a, b) // ) model\n/* } fn */ fn g(x) = x',
    });
    expect(diagnostics).toEqual([]);
    expect(program.items).toHaveLength(2);
  });

  it('keeps a complete item that is followed by junk', () => {
    const { program, diagnostics } = parse({ path: 'j.kiln', text: 'fn f(x) = x y\nfn g(x) = x' });
    expect(diagnostics.map((d) => d.message)).toEqual(["expected an operator, found 'y'"]);
    expect(program.items.map((i) => (i as FnDecl).name.name)).toEqual(['f', 'g']);
  });

  it('rejects dimensions too large to be exact', () => {
    const diags = run('big.kiln', 'model m(x: f32[99999999999999999999]) { output y = x }');
    expect(diags.map((d) => d.message)).toEqual(['dimension is too large']);
  });

  it('accepts a byte-order mark at the start only', () => {
    expect(run('bom.kiln', '\ufefffn f(x) = x')).toEqual([]);
    expect(run('bom.kiln', 'fn f(x) = \ufeffx').map((d) => d.message)).toEqual(['unexpected character U+FEFF']);
  });

  it.each([
    ['100k open parens', `fn f(x) = ${'('.repeat(100_000)}`],
    ['100k balanced parens', `fn f(x) = ${'('.repeat(100_000)}x${')'.repeat(100_000)}`],
    ['100k unary minus', `fn f(x) = ${'-'.repeat(100_000)}x`],
    ['20k power chain', `fn f(x) = ${'x ** '.repeat(20_000)}x`],
    ['10k nested ternaries', `fn f(x) = ${'c ? a : '.repeat(10_000)}b`],
    ['NUL bytes', '\0\0fn\0 f(x) = x\0'],
    ['binary garbage', String.fromCharCode(...Array.from({ length: 512 }, (_, i) => (i * 7919) % 256))],
    ['huge numbers', 'fn f(x) = 1e99999 + 123456789012345678901234567890 + .0e-99999'],
    ['lone quote', '"'],
    ['lone comment opener', '/*'],
    ['lone surrogate', 'fn f(x) = \ud800'],
    ['very long name', `fn ${'a'.repeat(100_000)}(x) = x`],
    ['only operators', '+-*/%@!<>=&|?:.,;'],
  ])('never throws: %s', (_what, text) => {
    const file: SourceFile = { path: 'nasty.kiln', text };
    const { diagnostics } = parse(file);
    for (const d of diagnostics) expectValid(file, d);
  });

  it('reports how deep nesting went wrong without overflowing the stack', () => {
    const deep = run('d.kiln', `fn f(x) = ${'-'.repeat(100_000)}x`);
    expect(deep.map((d) => d.message)).toEqual(['this item is nested too deeply to parse (simplify the expression)']);
    const ok = run('ok.kiln', `fn f(x) = ${'('.repeat(MAX_NESTING - 1)}x${')'.repeat(MAX_NESTING - 1)}`);
    expect(ok).toEqual([]);
  });
});

function expectValid(file: SourceFile, d: Diagnostic): void {
  expect(d.span.file).toBe(file);
  expect(Number.isInteger(d.span.start) && Number.isInteger(d.span.end)).toBe(true);
  expect(0 <= d.span.start && d.span.start <= d.span.end && d.span.end <= file.text.length).toBe(true);
  expect(d.message.length).toBeGreaterThan(0);
  // The catch-all in parse() must never be what reports an error.
  expect(d.message).not.toMatch(/^internal error/);
  expect(typeof formatDiagnostic(d)).toBe('string');
}

/** Every span anywhere in the AST lies inside the file. */
function spansInside(file: SourceFile, node: unknown): boolean {
  if (node === null || typeof node !== 'object') return true;
  if ('file' in node && 'start' in node && 'end' in node) {
    const { start, end } = node as { start: number; end: number };
    return node.file === file && 0 <= start && start <= end && end <= file.text.length;
  }
  return Object.values(node).every((v) => spansInside(file, v));
}

/** Parses without throwing, with diagnostics and AST spans that point into the file. */
function wellBehaved(text: string): boolean {
  const file: SourceFile = { path: 'fuzz.kiln', text };
  const { program, diagnostics } = parse(file);
  for (const d of diagnostics) expectValid(file, d);
  return spansInside(file, program);
}

/** Span-free structure, for comparing parses of differently formatted sources. */
function shape(text: string): string {
  const { program } = parse({ path: 's.kiln', text });
  return JSON.stringify(program, (k, v: unknown) => (k === 'span' || k === 'opSpan' ? undefined : v));
}

const TOKENS = [
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '=',
  '==',
  '**',
  '*',
  '-',
  '.',
  '.T',
  '...',
  '"',
  '/*',
  '*/',
  '//',
  '\n',
  ' ',
  'fn',
  'model',
  'train',
  'param',
  'output',
  'let',
  'return',
  'clip',
  'freeze',
  'x',
  '1e-3',
  '3.',
  '?',
  '\0',
  'é',
];

describe('fuzzing (fast-check)', () => {
  it('survives random strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), wellBehaved), { numRuns: 250 });
  });

  it('survives random bytes decoded as latin1', () => {
    const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'));
    fc.assert(fc.property(bytes, wellBehaved), { numRuns: 250 });
  });

  it('survives random token soup', () => {
    // Without the lexically invalid tokens, so that most soups reach the grammar.
    const valid = TOKENS.filter((t) => !['\0', 'é', '"', '/*'].includes(t));
    const soup = fc.array(fc.constantFrom(...valid), { maxLength: 80 }).map((ts) => ts.join(''));
    fc.assert(fc.property(soup, wellBehaved), { numRuns: 250 });
  });

  it('survives mutations of the LANGUAGE.md example', () => {
    const mutation = fc.record({
      op: fc.constantFrom('delete', 'insert', 'duplicate'),
      at: fc.nat({ max: EXAMPLE.length }),
      len: fc.integer({ min: 1, max: 12 }),
      token: fc.constantFrom(...TOKENS),
    });
    const mutated = fc.array(mutation, { minLength: 1, maxLength: 5 }).map((ms) =>
      ms.reduce((s, m) => {
        const at = Math.min(m.at, s.length);
        if (m.op === 'delete') return s.slice(0, at) + s.slice(at + m.len);
        if (m.op === 'insert') return s.slice(0, at) + m.token + s.slice(at);
        return s.slice(0, at) + s.slice(at, at + m.len) + s.slice(at);
      }, EXAMPLE),
    );
    fc.assert(fc.property(mutated, wellBehaved), { numRuns: 400 });
  });

  it('parses the example the same however whitespace and comments are laid out', () => {
    // Without its leading comment, whose spaces must not become newlines.
    const code = EXAMPLE.replace(/^\/\/.*\n/, '');
    const expected = shape(code);
    const layouts = fc.array(fc.constantFrom(' ', '\n', '\t', ' /* c */ ', ' // c\n', '\r\n', '  \n  '), {
      minLength: 200,
      maxLength: 200,
    });
    fc.assert(
      fc.property(layouts, (ws) => {
        let i = 0;
        const text = code.replace(/[ \n]+/g, () => ws[i++ % ws.length]!);
        const { diagnostics } = parse({ path: 'w.kiln', text });
        expect(diagnostics).toEqual([]);
        expect(shape(text)).toBe(expected);
      }),
      { numRuns: 100 },
    );
  });
});
