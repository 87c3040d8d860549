// The front end in one call: source text -> parsed program -> checked models
// and train blocks, with every diagnostic of the file.
//
// dsl/ is the front end: .kiln source in, the models and train blocks the
// compiler consumes (compiler/model.ts) out. Of Kiln's own code it imports
// only compiler/.
//
//   frontend.ts      this: a source text or file to a checked program
//   source.ts        files, spans, diagnostics, "did you mean"
//   kiln.ohm         the grammar
//   parse.ts, ast.ts the parser and the untyped AST it produces
//   check.ts         the checker's entry (checkProgram) and its results
//   fns.ts           the program's fns: names, let order, recursion
//   check-model.ts   one model: planned, lowered in both modes, verified
//   model-plan.ts    a model's names, types and statement order
//   param-init.ts    param initialisers
//   lower.ts         the lowerer: expressions into IR, checked as lowered
//   values.ts        values while checking; the typing of literals
//   operators.ts     operators: their builtins and mismatch messages
//   reporter.ts      the lowerer's errors, with notes through inlined fns
//   check-train.ts   one train block
//   train-calls.ts   its optimizer, schedule and clip calls
//   ast-queries.ts   the names and calls an expression mentions, literals
//   dependencies.ts  the dependency order of statements, cycles
//   print-ast.ts     the typed AST as text (`kiln dump --stage ast`)

import { readFileSync, statSync } from 'node:fs';
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
    // A device or FIFO (/dev/zero) could be read forever: refused before reading.
    const st = statSync(path);
    if (!st.isFile() && !st.isDirectory())
      throw new KilnFileError(path, 'not a regular file (a device, FIFO or socket)');
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KilnFileError) throw err;
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
