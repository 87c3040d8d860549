// Source files, spans and diagnostics: every error the compiler reports about
// a .kiln file goes through here, so they all look the same.

export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** A half-open range of character offsets in one source file. */
export interface Span {
  readonly file: SourceFile;
  readonly start: number;
  readonly end: number;
}

export interface Note {
  readonly message: string;
  readonly span?: Span;
}

export interface Diagnostic {
  readonly message: string;
  readonly span: Span;
  readonly notes: readonly Note[];
}

/** Thrown for one user error; collected by passes that report several. */
export class KilnError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'KilnError';
  }
}

export function diag(span: Span, message: string, notes: readonly Note[] = []): Diagnostic {
  return { span, message, notes };
}

export function lineCol(file: SourceFile, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, file.text.length);
  for (let i = 0; i < end; i++) {
    if (file.text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

export function formatLocation(span: Span): string {
  const { line, col } = lineCol(span.file, span.start);
  return `${span.file.path}:${line}:${col}`;
}

/** Printable form of a source line: control characters shown as '?', so garbage input stays readable. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?').replace(/\t/g, ' ');
}

export function formatDiagnostic(d: Diagnostic): string {
  const { file, start } = d.span;
  const { line, col } = lineCol(file, start);
  const lineStart = start - (col - 1);
  let lineEnd = file.text.indexOf('\n', lineStart);
  if (lineEnd < 0) lineEnd = file.text.length;
  const src = printable(file.text.slice(lineStart, lineEnd).replace(/\r$/, ''));
  const width = Math.max(1, Math.min(d.span.end, lineEnd) - start);
  const gutter = String(line);
  const pad = ' '.repeat(gutter.length);
  const out = [
    `${formatLocation(d.span)}: error: ${d.message}`,
    `  ${gutter} | ${src}`,
    `  ${pad} | ${' '.repeat(col - 1)}${'^'.repeat(width)}`,
  ];
  for (const n of d.notes) out.push(`  (${n.message}${n.span ? ` at ${formatLocation(n.span)}` : ''})`);
  return out.join('\n');
}

/** Damerau-free Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagPrev = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diagPrev + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagPrev = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a small edit distance, if any. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = name.length <= 3 ? 1 : name.length <= 6 ? 2 : 3;
  return bestD <= limit ? best : undefined;
}

/**
 * "Did you mean" with two refinements: no suggestion for one-letter names
 * (every one-letter name is one edit from any other), and a unique-enough
 * prefix counts (`glorot` -> `glorot_uniform`).
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  if (name.length <= 1) return undefined;
  const list = [...candidates];
  return didYouMean(name, list) ?? (name.length >= 3 ? list.find((c) => c.startsWith(name)) : undefined);
}

/** The source text a span covers. */
export function spanText(s: Span): string {
  return s.file.text.slice(s.start, s.end);
}

/** The smallest span covering both (of one file). */
export function joinSpans(a: Span, b: Span): Span {
  return { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}
