// Syntax highlighting of Kiln for CodeMirror: a small stream tokenizer (the
// language's tokens are few: see docs/LANGUAGE.md and dsl/kiln.ohm).

import { StreamLanguage, type StringStream } from '@codemirror/language';
import { KEYWORDS } from '../../dsl/parse.js';

const DTYPES = new Set(['f32', 'i32', 'bool']);
const BLOCK_WORDS = new Set(['model', 'fn', 'train']);

interface State {
  /** Inside a block comment. */
  comment: boolean;
  /** The previous word was model, fn or train: this word is defined. */
  defining: boolean;
}

function token(stream: StringStream, state: State): string | null {
  if (state.comment) {
    if (stream.skipTo('*/')) {
      stream.match('*/');
      state.comment = false;
    } else stream.skipToEnd();
    return 'comment';
  }
  if (stream.eatSpace()) return null;
  if (stream.match('//')) {
    stream.skipToEnd();
    return 'comment';
  }
  if (stream.match('/*')) {
    state.comment = true;
    return 'comment';
  }
  if (stream.match(/^"(?:[^"\\]|\\.)*"?/)) return 'string';
  if (stream.match(/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/)) return 'number';
  const word = stream.match(/^[A-Za-z_]\w*/) as RegExpMatchArray | null;
  if (word) {
    const w = word[0];
    const defining = state.defining;
    state.defining = BLOCK_WORDS.has(w);
    if (w === 'true' || w === 'false') return 'atom';
    if (KEYWORDS.has(w)) return 'keyword';
    if (DTYPES.has(w)) return 'typeName';
    if (defining) return 'variableName.definition';
    if (stream.match(/^\s*\(/, false)) return 'variableName.function';
    return 'variableName';
  }
  if (stream.match(/^(?:->|[-+*/@^<>=!&|%]+)/)) return 'operator';
  stream.next();
  return null;
}

export const kilnLanguage = StreamLanguage.define<State>({
  name: 'kiln',
  startState: () => ({ comment: false, defining: false }),
  copyState: (s) => ({ ...s }),
  token,
  languageData: { commentTokens: { line: '//', block: { open: '/*', close: '*/' } } },
});
