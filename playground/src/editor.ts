// The code editor: CodeMirror 6 with Kiln highlighting, and the compiler's
// diagnostics as lint marks (underlined spans, gutter markers, messages on
// hover), recomputed as the user types.

import { type Diagnostic, lintGutter, linter } from '@codemirror/lint';
import { EditorView, basicSetup } from 'codemirror';
import { kilnLanguage } from './kiln-mode.js';

export interface EditorOptions {
  readonly parent: HTMLElement;
  readonly text: string;
  /** The text's diagnostics (called after typing stops for `delay` ms). */
  readonly lint: (text: string) => readonly Diagnostic[];
  readonly delay: number;
}

export function createEditor(opts: EditorOptions): EditorView {
  return new EditorView({
    parent: opts.parent,
    doc: opts.text,
    extensions: [
      basicSetup,
      kilnLanguage,
      // Long comment lines wrap: the editor is half the page wide.
      EditorView.lineWrapping,
      lintGutter(),
      linter((view) => [...opts.lint(view.state.doc.toString())], { delay: opts.delay }),
      EditorView.theme({ '&': { height: '100%' }, '.cm-scroller': { overflow: 'auto' } }),
    ],
  });
}

/** Replaces the whole text (a new example, or a shared model). */
export function setText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
