// The front end in one call: source text -> parsed program -> checked models
// and train blocks, with every diagnostic of the file.

import { readFileSync } from 'node:fs';
import type { Program } from './ast.js';
import { type CheckResult, checkProgram } from './check.js';
import { parse } from './parse.js';
import { type Diagnostic, type SourceFile, KilnError, diag } from './source.js';

export interface Compiled {
  readonly file: SourceFile;
  readonly program: Program;
  /** Parse and check diagnostics together, sorted by position. */
  readonly result: CheckResult;
}

/**
 * Parses and checks `text`. Never throws. The checker runs only on a file
 * without syntax errors: the parser drops the items it cannot read, and
 * checking what remains would report their names as unknown.
 */
export function compileSource(path: string, text: string): Compiled {
  const file: SourceFile = { path, text };
  const parsed = parse(file);
  if (parsed.diagnostics.length > 0) {
    return {
      file,
      program: parsed.program,
      result: { models: [], trains: [], diagnostics: sorted(parsed.diagnostics) },
    };
  }
  return { file, program: parsed.program, result: checkProgram(parsed.program, file) };
}

function sorted(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.span.start - b.span.start);
}

/** A file that cannot be read: a KilnError (a user error) whose message is just the reason. */
export class KilnFileError extends KilnError {
  constructor(path: string, reason: string) {
    const file: SourceFile = { path, text: '' };
    super([diag({ file, start: 0, end: 0 }, reason)]);
    this.message = `${path}: error: ${reason}`;
  }
}

/** Reads, parses and checks a .kiln file; throws KilnError with all diagnostics if there are any. */
export function loadKilnFile(path: string): Compiled {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory, not a .kiln file'
          : code === 'EACCES'
            ? 'permission denied'
            : `cannot read the file (${err instanceof Error ? err.message : String(err)})`;
    throw new KilnFileError(path, reason);
  }
  const compiled = compileSource(path, text);
  if (compiled.result.diagnostics.length > 0) throw new KilnError(compiled.result.diagnostics);
  return compiled;
}
