// Diagnostics as data: where (file, 1-based line and column), what, and the
// text the CLI prints for it, so a caller can show errors its own way.

import { type Diagnostic as SourceDiagnostic, type Span, formatDiagnostic, lineCol } from '../dsl/source.js';

/** A place in a source file: 1-based line and column (UTF-16 code units). */
export interface Location {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** A note on a diagnostic, e.g. the inlined fn call an error happened in. */
export interface DiagnosticNote {
  readonly message: string;
  /** Where the note points, when it points somewhere. */
  readonly location?: Location;
}

/** An error in a Kiln source: its start (file, line, col), its end, the message, notes. */
export interface Diagnostic extends Location {
  readonly severity: 'error';
  /** Where the underlined range ends (exclusive). */
  readonly endLine: number;
  readonly endCol: number;
  readonly message: string;
  readonly notes: readonly DiagnosticNote[];
  /** As `kiln check` prints it: `file:line:col: error: message`, the source line underlined, the notes. */
  readonly text: string;
}

function location(span: Span): Location {
  return { file: span.file.path, ...lineCol(span.file, span.start) };
}

/** The front end's diagnostic as data. */
export function toDiagnostic(d: SourceDiagnostic): Diagnostic {
  const end = lineCol(d.span.file, d.span.end);
  return {
    severity: 'error',
    ...location(d.span),
    endLine: end.line,
    endCol: end.col,
    message: d.message,
    notes: d.notes.map((n) => ({ message: n.message, ...(n.span && { location: location(n.span) }) })),
    text: formatDiagnostic(d),
  };
}
