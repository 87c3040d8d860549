// Where the lowerer's errors go. Inside inlined fns an error is reported at
// the outermost call (whose arguments made the body fail) with a note per
// call down to the failing expression, and reported once however many times
// the fn is inlined the same way.

import { type Diagnostic, type Note, type Span, diag } from './source.js';

/** One inlined fn call being evaluated. */
export interface Frame {
  readonly fn: string;
  /** The call expression (inside the caller). */
  readonly call: Span;
  /**
   * Where the caret goes when this is the outermost call: its arguments,
   * whose types made the body fail (LANGUAGE.md's example underlines them).
   */
  readonly site: Span;
}

/** What the innermost note points at: "the '@' is at ...". */
export interface Focus {
  readonly label: string;
  readonly span: Span;
}

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly frames: readonly Frame[]) {}

  /**
   * Reports an error at `span`, or, inside inlined fns, at the outermost call
   * site with a note per call. `independent`: the error does not depend on
   * the arguments (an unknown name), so it is reported once, not at every call.
   */
  error(span: Span, message: string, focus?: Focus, independent = false): void {
    if (this.frames.length === 0) {
      this.diagnostics.push(diag(span, message));
      return;
    }
    const f = focus ?? { label: 'error', span };
    const notes: Note[] = this.frames.map((fr, i) => {
      const head = `in fn ${fr.fn}${i === 0 ? ', called here' : ''}`;
      const next = this.frames[i + 1];
      return next
        ? { message: `${head}; it calls ${next.fn}`, span: next.call }
        : { message: `${head}; the ${f.label} is`, span: f.span };
    });
    const site = this.frames[0]!.site;
    const key = [
      independent ? -1 : site.start,
      message,
      ...notes.map((n) => `${n.message}@${n.span?.start ?? -1}`),
    ].join('\n');
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.diagnostics.push(diag(site, message, notes));
  }
}

/** The message of something thrown, for an "internal error" diagnostic. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
