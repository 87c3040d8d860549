// The parser: source text -> untyped AST (dsl/ast.ts) plus syntax errors.
//
// Parsing runs in three steps so that errors are both helpful and plentiful:
//  1. a cheap hand-written lexer checks characters, comments and strings and
//     splits the file into top-level items (at `fn`/`model`/`train`);
//  2. each item's brackets are matched (unclosed, stray, mismatched, too deep);
//  3. items without lexical errors are matched by the ohm grammar on their own,
//     so an error in one item does not hide the others or drop the good ones.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as ohm from 'ohm-js';
import type {
  BinaryOp,
  DimExpr,
  Expr,
  FnDecl,
  Ident,
  IndexItem,
  InputDecl,
  Item,
  KwArg,
  LetStmt,
  ModelDecl,
  ModelStmt,
  Program,
  TrainDecl,
  TrainStmt,
  TypeExpr,
} from './ast.js';
import { didYouMean, type Diagnostic, type Note, type SourceFile, type Span } from './source.js';

// ohm-js's ES module entry is some 45 files; its one-file CommonJS build, the
// same code, loads in about a third of the time (~25 ms less per kiln run).
const ohmjs = createRequire(import.meta.url)('ohm-js') as typeof ohm;

/**
 * Brackets nested deeper than this are rejected before ohm, whose recursion would otherwise
 * overflow the stack (100 levels take about 700 KB of Node's default 984 KB).
 */
export const MAX_NESTING = 64;
/** Invalid characters reported per file; binary garbage would otherwise produce thousands. */
const MAX_CHAR_ERRORS = 10;

export const KEYWORDS: ReadonlySet<string> = new Set([
  'model',
  'fn',
  'param',
  'output',
  'let',
  'return',
  'train',
  'minimize',
  'optimizer',
  'schedule',
  'clip',
  'freeze',
  'true',
  'false',
]);
const ITEM_KEYWORDS = new Set(['fn', 'model', 'train']);

/** `g`: the grammar to match with (tests compare loading it both ways); by default kiln.ohm's. */
export function parse(file: SourceFile, g?: ohm.Grammar): { program: Program; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const items: Item[] = [];
  try {
    parseInto(file, items, diagnostics, g);
  } catch (e) {
    // Last line of defence: a parser bug must not become a stack trace for the user.
    const what = e instanceof RangeError ? 'the input is nested too deeply' : String(e);
    diagnostics.push(mk(file, 0, 0, `internal error while parsing: ${what}`));
  }
  diagnostics.sort((a, b) => a.span.start - b.span.start);
  return { program: { items }, diagnostics };
}

// ---------------------------------------------------------------------------
// Lexer (pre-scan)

type TokKind = 'word' | 'number' | 'string' | 'punct';

interface Token {
  readonly kind: TokKind;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** First token on its line: an item keyword here starts a new item even inside open brackets. */
  readonly lineStart: boolean;
}

const PUNCT3 = ['...'];
const PUNCT2 = ['**', '==', '!=', '<=', '>=', '&&', '||'];
const PUNCT1 = '()[]{},;:=+-*/%@!<>&|?.';

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

function mk(file: SourceFile, start: number, end: number, message: string, notes: Note[] = []): Diagnostic {
  return { span: { file, start, end }, message, notes };
}

function describeChar(cp: number): string {
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  // Control, surrogate and invisible characters would garble the message if quoted.
  const invisible =
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0xa0) ||
    (cp >= 0xd800 && cp <= 0xdfff) ||
    (cp >= 0x2000 && cp <= 0x200f) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0xfeff;
  return invisible ? `unexpected character ${hex}` : `unexpected character '${String.fromCodePoint(cp)}' (${hex})`;
}

/**
 * Tokenises just enough to split items and match brackets. Lexical errors go to `diags`;
 * those that swallow the rest of a line or file (unterminated strings and comments) also
 * go to `swallowing`, since brackets after them cannot be trusted.
 */
function lex(file: SourceFile, diags: Diagnostic[], swallowing: Set<Diagnostic>): Token[] {
  const s = file.text;
  const n = s.length;
  const toks: Token[] = [];
  // A byte-order mark at the very start is whitespace.
  let i = s.charCodeAt(0) === 0xfeff ? 1 : 0;
  let lineStart = true;
  let charErrors = 0;
  const push = (kind: TokKind, start: number, end: number): void => {
    toks.push({ kind, text: s.slice(start, end), start, end, lineStart });
    lineStart = false;
  };
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 10) {
      lineStart = true;
      i++;
    } else if (c === 32 || c === 9 || c === 13) {
      i++;
    } else if (c === 47 && s.charCodeAt(i + 1) === 47) {
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? n : nl;
    } else if (c === 47 && s.charCodeAt(i + 1) === 42) {
      const close = s.indexOf('*/', i + 2);
      if (close < 0) {
        const d = mk(file, i, i + 2, 'unterminated block comment (no matching */)');
        diags.push(d);
        swallowing.add(d);
        break;
      }
      for (let j = i; j < close; j++) if (s.charCodeAt(j) === 10) lineStart = true;
      i = close + 2;
    } else if (c === 34) {
      const start = i++;
      let closed = false;
      while (i < n) {
        const d = s.charCodeAt(i);
        if (d === 10) break;
        if (d === 92 && i + 1 < n && s.charCodeAt(i + 1) !== 10) i += 2;
        else if (d === 34) {
          i++;
          closed = true;
          break;
        } else i++;
      }
      if (!closed) {
        const d = mk(file, start, i, 'unterminated string (a string must end with " on the same line)');
        diags.push(d);
        swallowing.add(d);
      }
      push('string', start, i);
    } else if (isIdentStart(c)) {
      const start = i;
      while (i < n && isIdentPart(s.charCodeAt(i))) i++;
      push('word', start, i);
    } else if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(i + 1)))) {
      // Loose on purpose: the token only serves splitting and error context; ohm decides validity.
      const start = i;
      while (i < n) {
        const d = s.charCodeAt(i);
        const prev = s.charCodeAt(i - 1);
        if (isIdentPart(d) || (d === 46 && s.charCodeAt(i + 1) !== 46)) i++;
        else if ((d === 43 || d === 45) && (prev === 101 || prev === 69) && isDigit(s.charCodeAt(i + 1))) i++;
        else break;
      }
      push('number', start, i);
    } else {
      const three = s.slice(i, i + 3);
      const two = s.slice(i, i + 2);
      if (PUNCT3.includes(three)) {
        push('punct', i, i + 3);
        i += 3;
      } else if (PUNCT2.includes(two)) {
        push('punct', i, i + 2);
        i += 2;
      } else if (PUNCT1.includes(s[i]!)) {
        push('punct', i, i + 1);
        i++;
      } else {
        const cp = s.codePointAt(i)!;
        const len = cp > 0xffff ? 2 : 1;
        if (charErrors++ < MAX_CHAR_ERRORS) diags.push(mk(file, i, i + len, describeChar(cp)));
        i += len;
      }
    }
  }
  return toks;
}

// ---------------------------------------------------------------------------
// Splitting into items and bracket matching

interface Chunk {
  /** Offsets in the file; chunks tile the file. */
  readonly start: number;
  readonly end: number;
  readonly toks: readonly Token[];
}

const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

function split(text: string, toks: readonly Token[]): Chunk[] {
  const chunks: Chunk[] = [];
  let from = 0;
  let fromTok = 0;
  let depth = 0;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const startsItem = t.lineStart || (depth === 0 && ends(toks[i - 1]!));
    if (i > fromTok && t.kind === 'word' && ITEM_KEYWORDS.has(t.text) && startsItem) {
      chunks.push({ start: from, end: t.start, toks: toks.slice(fromTok, i) });
      from = t.start;
      fromTok = i;
      depth = 0;
    }
    if (t.kind === 'punct') {
      if (t.text in OPENERS) depth++;
      else if (t.text in CLOSERS) depth = Math.max(0, depth - 1);
    }
  }
  if (fromTok < toks.length) chunks.push({ start: from, end: text.length, toks: toks.slice(fromTok) });
  return chunks;
}

/** Whether an item may end with this token (so a keyword after it starts a new item, not an operand). */
function ends(t: Token): boolean {
  if (t.kind === 'punct') return t.text === ')' || t.text === ']' || t.text === '}';
  // `fn model(x)`: a keyword wants a name next, so the item keyword after it is that (bad) name.
  return t.kind !== 'word' || !KEYWORDS.has(t.text) || t.text === 'true' || t.text === 'false';
}

/** Reports the first bracket problem of one item (later ones are usually consequences of it). */
function checkBrackets(file: SourceFile, toks: readonly Token[]): Diagnostic | undefined {
  const stack: Token[] = [];
  const opened = (t: Token): Note => ({ message: `the '${t.text}' was opened`, span: tokSpan(file, t) });
  for (const t of toks) {
    if (t.kind !== 'punct') continue;
    if (t.text in OPENERS) {
      stack.push(t);
      if (stack.length > MAX_NESTING) {
        return mk(file, t.start, t.end, `brackets nested too deeply (more than ${MAX_NESTING} levels)`);
      }
    } else if (t.text in CLOSERS) {
      const want = CLOSERS[t.text]!;
      const top = stack[stack.length - 1];
      if (top?.text === want) {
        stack.pop();
        continue;
      }
      if (!top) return mk(file, t.start, t.end, `unmatched '${t.text}'`);
      // If an outer bracket matches, the inner ones were left open; otherwise it is a plain mismatch.
      if (stack.some((o) => o.text === want)) {
        return mk(file, top.start, top.end, `'${top.text}' is never closed`, [
          { message: `it must be closed before the '${t.text}'`, span: tokSpan(file, t) },
        ]);
      }
      return mk(file, t.start, t.end, `mismatched '${t.text}': expected '${OPENERS[top.text]}'`, [opened(top)]);
    }
  }
  const top = stack[stack.length - 1];
  return top ? mk(file, top.start, top.end, `'${top.text}' is never closed`) : undefined;
}

function tokSpan(file: SourceFile, t: Token): Span {
  return { file, start: t.start, end: t.end };
}

// ---------------------------------------------------------------------------
// Driver

function parseInto(file: SourceFile, items: Item[], diags: Diagnostic[], g: ohm.Grammar | undefined): void {
  const lexDiags: Diagnostic[] = [];
  const swallowing = new Set<Diagnostic>();
  const toks = lex(file, lexDiags, swallowing);
  diags.push(...lexDiags);
  for (const chunk of split(file.text, toks)) {
    const inChunk = lexDiags.filter((d) => d.span.start >= chunk.start && d.span.start < chunk.end);
    const bad = inChunk.length > 0;
    const brackets = inChunk.some((d) => swallowing.has(d)) ? undefined : checkBrackets(file, chunk.toks);
    if (brackets) diags.push(brackets);
    // Lexical errors make ohm's view of the item meaningless: report them alone.
    if (bad || brackets) continue;
    parseChunk(file, chunk, items, diags, g ?? kilnGrammar().grammar);
  }
}

function parseChunk(file: SourceFile, chunk: Chunk, items: Item[], diags: Diagnostic[], g: ohm.Grammar): void {
  const text = file.text.slice(chunk.start, chunk.end);
  try {
    const m = g.match(text, 'Item');
    if (!m.failed()) {
      items.push(build(file, chunk.start, g, m, diags));
      return;
    }
    const failure = describeFailure(file, chunk, m);
    diags.push(failure.diag);
    // `fn f(x) = x` followed by junk: keep the complete item in front of the junk, so that
    // later passes do not report a missing fn or model on top of this error.
    if (failure.itemCouldEnd) {
      const prefix = g.match(text.slice(0, m.getRightmostFailurePosition()), 'Item');
      if (prefix.succeeded()) items.push(build(file, chunk.start, g, prefix, diags));
    }
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const first = chunk.toks[0];
    const at = first ? first.start : chunk.start;
    diags.push(
      mk(file, at, first ? first.end : at, 'this item is nested too deeply to parse (simplify the expression)'),
    );
  }
}

// ---------------------------------------------------------------------------
// Turning ohm failures into messages

interface OhmFailure {
  getText(): string;
  readonly type: string;
}

const BINARY_OPS = new Set(['||', '&&', '==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', '@', '**']);
/** What can follow a complete expression: listed by ohm but noise in a message about something else. */
const CONTINUATIONS = new Set([...BINARY_OPS, '?', '.', '[', '(']);
const EXPR_STARTS = new Set(['a name', 'a number', 'a string', 'true', 'false', '(', '[', '-', '!', 'clip']);
const STMT_WORDS = new Set(['param', 'output', 'let']);
const TRAIN_WORDS = ['minimize', 'optimizer', 'schedule', 'clip', 'freeze', 'gradient'];
/** Order of alternatives in messages: what most likely fixes the error first. */
const ORDER = ['=', ':', ')', ']', '}', ','];

function quote(s: string): string {
  return `'${s}'`;
}

function joinOr(xs: readonly string[]): string {
  if (xs.length <= 1) return xs.join('');
  return `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}

function describeTok(t: Token): string {
  const text = t.text.length > 24 ? `${t.text.slice(0, 20)}...` : t.text;
  return quote(text);
}

function describeFailure(
  file: SourceFile,
  chunk: Chunk,
  m: ohm.FailedMatchResult,
): { diag: Diagnostic; itemCouldEnd: boolean } {
  const pos = chunk.start + m.getRightmostFailurePosition();
  const failures = (m as unknown as { getRightmostFailures(): OhmFailure[] }).getRightmostFailures();
  const expected = new Set<string>();
  for (const f of failures) {
    const t = f.getText();
    // `~identPart` after a keyword fails mid-word (`fnord`); the word is handled below.
    if (f.type === 'description' && t.startsWith('not ')) continue;
    expected.add(f.type === 'string' ? quote(t) : t);
  }
  const toks = chunk.toks;
  // The token at (or containing) the failure, and the one before it.
  let k = toks.findIndex((t) => t.end > pos);
  if (k < 0) k = toks.length;
  const found = toks[k];
  const prev = k > 0 ? toks[k - 1] : undefined;
  const at = (t: Token | undefined): Span =>
    t ? { file, start: t.start, end: t.end } : { file, start: prev?.end ?? pos, end: prev?.end ?? pos };
  const itemCouldEnd = expected.delete('end of input');
  const result = (message: string, notes: Note[] = []) => ({ diag: { span: at(found), message, notes }, itemCouldEnd });
  const foundText = found ? `, found ${describeTok(found)}` : '';
  const suggest = (cands: Iterable<string>): Note[] => {
    if (found?.kind !== 'word') return [];
    const s = didYouMean(found.text, cands);
    return s && s !== found.text ? [{ message: `did you mean '${s}'?` }] : [];
  };

  // Anything wrong with the item's first word: the item kind itself is unknown.
  if (k === 0) {
    return result(`expected 'fn', 'model' or 'train'${foundText}`, suggest(ITEM_KEYWORDS));
  }
  // A word that starts with a keyword but is longer (`clipping`): ohm failed inside the word.
  if (found && found.start < pos) {
    const kw = [...KEYWORDS].find((w) => found.text.startsWith(w));
    return result(`unexpected ${describeTok(found)}`, kw ? [{ message: `did you mean '${kw}'?` }] : []);
  }

  const exprExpected = expected.has('a number');
  // Binary operators in the set mean "the expression could go on here".
  const couldContinue = [...BINARY_OPS].some((op) => expected.has(quote(op)));
  for (const e of [...expected]) {
    const raw = e.slice(1, -1);
    if (exprExpected && EXPR_STARTS.has(e.startsWith("'") ? raw : e)) expected.delete(e);
    else if (couldContinue && e.startsWith("'") && CONTINUATIONS.has(raw)) expected.delete(e);
  }
  if (exprExpected) expected.add('an expression');

  // A keyword where a name belongs: `param param: ...`, `fn model(x)`, `y = fn + 1`.
  if (found?.kind === 'word' && KEYWORDS.has(found.text) && (expected.has('a name') || exprExpected)) {
    const next = toks[k + 1];
    const usedAsName = next !== undefined && next.kind === 'punct' && !['{', '}'].includes(next.text);
    if (usedAsName) return result(`'${found.text}' is a keyword and cannot be used as a name`);
  }

  if (expected.size === 1 && (exprExpected || expected.has('a name'))) {
    const what = exprExpected ? 'an expression' : 'a name';
    return result(`expected ${what}${prev ? ` after '${prev.text}'` : ''}${foundText}`);
  }

  // Statement keywords collapse into one phrase.
  const hasStmt = expected.has("'param'") && expected.has("'output'");
  const hasTrain = TRAIN_WORDS.every((w) => expected.has(quote(w)));
  if (hasStmt) for (const w of [...STMT_WORDS, 'a name']) expected.delete(w.startsWith('a ') ? w : quote(w));
  if (hasTrain) for (const w of TRAIN_WORDS) expected.delete(quote(w));
  if (expected.has("'return'")) {
    expected.delete("'let'");
    expected.delete('a name');
  }
  // `f(x y)`: '=' would only make x a keyword argument; the closing bracket is the better hint.
  if (expected.has("'='") && (expected.has("')'") || expected.has("']'"))) expected.delete("'='");
  // ';' is always optional, so suggesting it never helps.
  expected.delete("';'");

  const list = [...expected].sort((a, b) => rank(a) - rank(b));
  if (hasStmt) list.push('a statement (param, output, let or name = expr)');
  if (hasTrain) list.push('a train setting (minimize, optimizer, schedule, clip, freeze or gradient)');

  const notes: Note[] = [];
  if (hasStmt) notes.push(...suggest(STMT_WORDS));
  if (hasTrain) notes.push(...suggest(TRAIN_WORDS));
  // `parm w: f32[3] = zeros` reads as the start of `parm = ...`.
  if (list.length === 1 && list[0] === "'='" && prev?.kind === 'word' && found?.kind === 'word') {
    notes.push(...suggestFor(prev.text, STMT_WORDS));
  }
  // `fn f(x) { let t = x; t }`: the last line reads as the start of `t = ...`.
  if (list.length === 1 && list[0] === "'='" && found?.text === '}' && toks[0]?.text === 'fn' && prev) {
    return result(`expected '=' after '${prev.text}'${foundText}`, [
      { message: "a fn block must end with 'return expr'" },
    ]);
  }
  if (list.length === 1 && list[0] === "'return'" && found?.text === '}') {
    return result("expected 'return': a fn block must end with 'return expr'");
  }
  if (list.length === 1 && list[0] === "'['" && found) {
    return result(`expected '[' after the dtype (a type looks like f32[B, 10])${foundText}`);
  }
  if (list.length === 0) {
    if (itemCouldEnd && found?.kind === 'word' && found.lineStart) {
      return result(`expected 'fn', 'model' or 'train'${foundText}`, suggest(ITEM_KEYWORDS));
    }
    if (found?.text === '&' || found?.text === '|') {
      return result(`unexpected '${found.text}'`, [{ message: `did you mean '${found.text.repeat(2)}'?` }]);
    }
    if (couldContinue) return result(`expected an operator${foundText}`);
    const after = itemCouldEnd ? ` after the end of the ${toks[0]?.text ?? 'item'}` : '';
    return result(`unexpected ${found ? describeTok(found) : 'end of input'}${after}`);
  }
  return result(`expected ${joinOr(list)}${foundText}`, notes);
}

function suggestFor(word: string, cands: Iterable<string>): Note[] {
  const s = didYouMean(word, cands);
  return s && s !== word ? [{ message: `did you mean '${s}'?` }] : [];
}

function rank(e: string): number {
  const i = ORDER.indexOf(e.slice(1, -1));
  return e.startsWith("'") && i >= 0 ? i : ORDER.length;
}

// ---------------------------------------------------------------------------
// Grammar and CST -> AST

// Compiling kiln.ohm takes ohm ~150 ms, a third of a `kiln check`. So the build
// (scripts/copy-assets.mjs) also writes it compiled, as an ohm recipe, to
// kiln.ohm.json beside the compiled parser; that loads in a few ms. The recipe
// records the exact source it was made from and ohm's version, and is used
// only while both still match: an edited kiln.ohm is never shadowed by an old
// recipe. (A copy rather than a hash: as safe, and node:crypto would cost ~4 ms
// to load.) Run from source (vitest) there is no recipe: kiln.ohm is compiled.

/** What kiln.ohm.json holds. */
interface RecipeFile {
  ohm: string;
  source: string;
  recipe: unknown;
}

// ohm-js's typings leave out its recipe API.
type RecipeGrammar = ohm.Grammar & { toRecipe(): string };
const makeRecipe = (ohmjs as unknown as { makeRecipe(recipe: unknown): ohm.Grammar }).makeRecipe;

/** The contents of kiln.ohm.json for this grammar source (run by the build). */
export function grammarRecipe(ohmSource: string): string {
  const recipe = JSON.parse((ohmjs.grammar(ohmSource) as RecipeGrammar).toRecipe()) as unknown;
  const file: RecipeFile = { ohm: ohmjs.version, source: ohmSource, recipe };
  return `${JSON.stringify(file)}\n`;
}

/** A grammar, and whether it came from a recipe rather than compiling kiln.ohm. */
export interface LoadedGrammar {
  grammar: ohm.Grammar;
  fromRecipe: boolean;
}

/**
 * The grammar of `ohmSource`: loaded from `recipeFile` (kiln.ohm.json's contents) if that was
 * made from this very source by this version of ohm, else compiled from the source.
 */
export function loadGrammar(ohmSource: string, recipeFile: string | undefined): LoadedGrammar {
  if (recipeFile !== undefined) {
    try {
      const r = JSON.parse(recipeFile) as Partial<RecipeFile>;
      if (r.ohm === ohmjs.version && r.source === ohmSource) {
        return { grammar: makeRecipe(r.recipe), fromRecipe: true };
      }
    } catch {
      // A damaged recipe is as good as none.
    }
  }
  return { grammar: ohmjs.grammar(ohmSource), fromRecipe: false };
}

let kiln: LoadedGrammar | undefined;
const semanticsOf = new WeakMap<ohm.Grammar, ohm.Semantics>();

/** The grammar of the kiln.ohm beside this module (dsl/ run from source, dist/dsl/ when built). */
export function kilnGrammar(): LoadedGrammar {
  if (!kiln) {
    const source = readFileSync(new URL('./kiln.ohm', import.meta.url), 'utf8');
    let recipe: string | undefined;
    try {
      recipe = readFileSync(new URL('./kiln.ohm.json', import.meta.url), 'utf8');
    } catch {
      recipe = undefined; // not built: compile the source
    }
    kiln = loadGrammar(source, recipe);
  }
  return kiln;
}

/** Per-match state for the semantic actions (they cannot take extra arguments cleanly). */
interface Ctx {
  file: SourceFile;
  base: number;
  diags: Diagnostic[];
}
let ctx: Ctx | undefined;

function build(file: SourceFile, base: number, g: ohm.Grammar, m: ohm.MatchResult, diags: Diagnostic[]): Item {
  const sem = semantics(g);
  ctx = { file, base, diags };
  try {
    return sem(m)['ast']() as Item;
  } finally {
    ctx = undefined;
  }
}

function sp(node: ohm.Node): Span {
  const c = ctx!;
  return { file: c.file, start: c.base + node.source.startIdx, end: c.base + node.source.endIdx };
}

function join(a: Span, b: Span): Span {
  return { file: a.file, start: a.start, end: b.end };
}

// Typed views of the one 'ast' operation.
const ast = (n: ohm.Node): unknown => n['ast']() as unknown;
const expr = (n: ohm.Node): Expr => ast(n) as Expr;
const toIdent = (n: ohm.Node): Ident => ({ name: n.sourceString, span: sp(n) });
const list = <T>(n: ohm.Node): T[] => n.asIteration().children.map((c) => ast(c) as T);
const opt = (n: ohm.Node): Expr | undefined => (n.children.length > 0 ? expr(n.children[0]!) : undefined);
/** Statement lists are `(Stmt | ";")*`: keep the statements. */
const stmts = <T>(n: ohm.Node, rule: string): T[] =>
  n.children.filter((c) => c.ctorName === rule).map((c) => ast(c) as T);

type Arg = { kw: KwArg } | { pos: Expr };

const PREC: Record<string, number> = {
  '||': 1,
  '&&': 2,
  '==': 3,
  '!=': 3,
  '<': 3,
  '<=': 3,
  '>': 3,
  '>=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  '@': 6,
};

/**
 * Groups a flat `a op b op c ...` by precedence (all left-associative), without recursion.
 * `outer` spans include any parentheses around an operand, so `(a + b) * c` spans all of it.
 */
function climb(operands: { e: Expr; outer: Span }[], ops: { op: BinaryOp; span: Span }[]): Expr {
  const out = [operands[0]!];
  const pending: { op: BinaryOp; span: Span }[] = [];
  const reduce = (): void => {
    const o = pending.pop()!;
    const right = out.pop()!;
    const left = out.pop()!;
    const span = join(left.outer, right.outer);
    out.push({ e: { kind: 'binary', op: o.op, left: left.e, right: right.e, span, opSpan: o.span }, outer: span });
  };
  ops.forEach((o, i) => {
    while (pending.length > 0 && PREC[pending[pending.length - 1]!.op]! >= PREC[o.op]!) reduce();
    pending.push(o);
    out.push(operands[i + 1]!);
  });
  while (pending.length > 0) reduce();
  return out[0]!.e;
}

function numberValue(node: ohm.Node): number {
  const v = Number(node.sourceString);
  if (!Number.isFinite(v)) ctx!.diags.push({ span: sp(node), message: 'number is too large', notes: [] });
  return v;
}

function unescape(body: string): string {
  return body.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

function semantics(g: ohm.Grammar): ohm.Semantics {
  const cached = semanticsOf.get(g);
  if (cached) return cached;
  const s = g.createSemantics();
  s.addOperation<unknown>('ast', {
    Item(d) {
      return ast(d);
    },
    ident(_start, _rest): Ident {
      return toIdent(this);
    },
    FnDecl(_kw, name, _lp, params, _comma, _rp, body): FnDecl {
      const b = ast(body) as { body: LetStmt[]; result: Expr };
      return { kind: 'fn', name: toIdent(name), params: list<Ident>(params), ...b, span: sp(this) };
    },
    FnBody_expr(_eq, e) {
      return { body: [], result: expr(e) };
    },
    FnBody_block(_lb, body, _ret, e, _semis, _rb) {
      return { body: stmts<LetStmt>(body, 'LetStmt'), result: expr(e) };
    },
    ModelDecl(_kw, name, _lp, inputs, _comma, _rp, _lb, body, _rb): ModelDecl {
      return {
        kind: 'model',
        name: toIdent(name),
        inputs: list<InputDecl>(inputs),
        body: stmts<ModelStmt>(body, 'ModelStmt'),
        span: sp(this),
      };
    },
    InputDecl(name, _colon, type): InputDecl {
      return { name: toIdent(name), type: ast(type) as TypeExpr, span: sp(this) };
    },
    ModelStmt(st) {
      return ast(st);
    },
    ParamStmt(_kw, name, _colon, type, _eq, init): ModelStmt {
      return { kind: 'param', name: toIdent(name), type: ast(type) as TypeExpr, init: expr(init), span: sp(this) };
    },
    OutputStmt(_kw, name, _eq, e): ModelStmt {
      return { kind: 'output', name: toIdent(name), value: expr(e), span: sp(this) };
    },
    LetStmt_let(_kw, name, _eq, e): LetStmt {
      return { kind: 'let', name: toIdent(name), value: expr(e), span: sp(this) };
    },
    LetStmt_bare(name, _eq, e): LetStmt {
      return { kind: 'let', name: toIdent(name), value: expr(e), span: sp(this) };
    },
    TrainDecl(_kw, name, _lb, body, _rb): TrainDecl {
      return { kind: 'train', model: toIdent(name), body: stmts<TrainStmt>(body, 'TrainStmt'), span: sp(this) };
    },
    TrainStmt_minimize(_kw, name): TrainStmt {
      return { kind: 'minimize', target: toIdent(name), span: sp(this) };
    },
    TrainStmt_optimizer(_kw, e): TrainStmt {
      return { kind: 'optimizer', call: expr(e), span: sp(this) };
    },
    TrainStmt_schedule(_kw, e): TrainStmt {
      return { kind: 'schedule', call: expr(e), span: sp(this) };
    },
    TrainStmt_clip(_kw, e): TrainStmt {
      return { kind: 'clip', call: expr(e), span: sp(this) };
    },
    TrainStmt_freeze(_kw, names): TrainStmt {
      return { kind: 'freeze', names: names.asIteration().children.map(toIdent), span: sp(this) };
    },
    TrainStmt_gradient(_kw, e): TrainStmt {
      return { kind: 'gradient', estimator: expr(e), span: sp(this) };
    },
    Type(dtype, _lb, dims, _comma, _rb): TypeExpr {
      return { dtype: toIdent(dtype), dims: list<DimExpr>(dims), span: sp(this) };
    },
    dim(d): DimExpr {
      if (d.ctorName === 'intLit') {
        const value = Number(d.sourceString);
        if (!Number.isSafeInteger(value))
          ctx!.diags.push({ span: sp(d), message: 'dimension is too large', notes: [] });
        return { kind: 'int', value, span: sp(this) };
      }
      return { kind: 'sym', name: d.sourceString, span: sp(this) };
    },
    Expr_cond(c, _q, t, _colon, e): Expr {
      return { kind: 'ternary', cond: expr(c), then: expr(t), else: expr(e), span: sp(this) };
    },
    Expr(e) {
      return ast(e);
    },
    BinExp(first, ops, rest): Expr {
      const operands = [first, ...rest.children].map((n) => ({ e: expr(n), outer: sp(n) }));
      const os = ops.children.map((o) => ({ op: o.sourceString as BinaryOp, span: sp(o) }));
      return climb(operands, os);
    },
    UnaryExp_op(op, e): Expr {
      return { kind: 'unary', op: op.sourceString as '-' | '!', operand: expr(e), span: sp(this), opSpan: sp(op) };
    },
    UnaryExp_pow(l, op, r): Expr {
      return { kind: 'binary', op: '**', left: expr(l), right: expr(r), span: sp(this), opSpan: sp(op) };
    },
    UnaryExp(e) {
      return ast(e);
    },
    PostfixExp(primary, ops): Expr {
      let target = expr(primary);
      for (const o of ops.children) {
        const span = join(sp(primary), sp(o));
        const alt = o.children[0]!;
        if (alt.ctorName === 'PostfixOp_transpose') target = { kind: 'transpose', target, span };
        else target = { kind: 'index', target, indices: list<IndexItem>(alt.children[1]!), span };
      }
      return target;
    },
    IndexItem_ellipsis(_dots): IndexItem {
      return { kind: 'ellipsis', span: sp(this) };
    },
    IndexItem_slice(start, _colon, end, step): IndexItem {
      const a = opt(start);
      const b = opt(end);
      const c = step.children.length > 0 ? opt(step.children[0]!.children[1]!) : undefined;
      return {
        kind: 'slice',
        ...(a && { start: a }),
        ...(b && { end: b }),
        ...(c && { step: c }),
        span: sp(this),
      };
    },
    IndexItem_single(e): IndexItem {
      return { kind: 'single', expr: expr(e), span: sp(this) };
    },
    Primary(e) {
      return ast(e);
    },
    Primary_paren(_lp, e, _rp): Expr {
      // Parentheses only group: no node of their own (enclosing nodes' spans include them).
      return expr(e);
    },
    Primary_list(_lb, items, _comma, _rb): Expr {
      return { kind: 'list', items: list<Expr>(items), span: sp(this) };
    },
    Primary_number(n): Expr {
      const text = n.sourceString;
      return { kind: 'number', value: numberValue(n), isInt: !/[.eE]/.test(text), span: sp(this) };
    },
    Primary_string(str): Expr {
      return { kind: 'string', value: unescape(str.sourceString.slice(1, -1)), span: sp(this) };
    },
    Primary_true(_t): Expr {
      return { kind: 'bool', value: true, span: sp(this) };
    },
    Primary_false(_f): Expr {
      return { kind: 'bool', value: false, span: sp(this) };
    },
    Primary_name(n): Expr {
      return { kind: 'name', name: n.sourceString, span: sp(this) };
    },
    Call(callee, _lp, argList, _comma, _rp): Expr {
      const args: Expr[] = [];
      const kwargs: KwArg[] = [];
      for (const a of list<Arg>(argList)) {
        if ('kw' in a) kwargs.push(a.kw);
        else {
          if (kwargs.length > 0) {
            ctx!.diags.push({
              span: a.pos.span,
              message: 'positional argument after keyword arguments',
              notes: [{ message: 'positional arguments come first, as in f(x, axis = 0)' }],
            });
          }
          args.push(a.pos);
        }
      }
      return { kind: 'call', callee: toIdent(callee), args, kwargs, span: sp(this) };
    },
    Arg(a): Arg {
      return a.ctorName === 'KwArg' ? { kw: ast(a) as KwArg } : { pos: expr(a) };
    },
    KwArg(name, _eq, e): KwArg {
      return { name: toIdent(name), value: expr(e) };
    },
  });
  semanticsOf.set(g, s);
  return s;
}
