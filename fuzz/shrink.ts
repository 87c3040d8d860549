// Greedy delta debugging over a generated program's text: remove lines
// (statements, outputs, params, the train block), drop model inputs, replace
// a statement's expression by a name it uses, drop terms of a sum, and
// shrink dimensions. A candidate is kept only when it is smaller and
// `stillFails` says it still checks and fails the same way; passes repeat
// until none makes progress or the budget of tries is spent.

export interface ShrinkResult {
  readonly source: string;
  /** Candidates tried. */
  readonly tries: number;
}

/** Smaller is simpler: characters, plus the dimensions (so shrinking a 5 to a 1 is progress). */
export function cost(source: string): number {
  let dims = 0;
  for (const m of source.matchAll(/(?:f32|i32|bool)\[([^\]]*)\]/g))
    for (const d of m[1]!.split(',')) dims += Number(d.trim()) || 0;
  return source.length + dims;
}

/** Splits `text` at top-level (paren/bracket depth 0) occurrences of `sep`. */
export function splitTop(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      parts.push(text.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function* lineRemovals(src: string): Generator<string> {
  const lines = src.split('\n');
  const trainAt = lines.findIndex((l) => l.startsWith('train '));
  if (trainAt >= 0) yield lines.slice(0, trainAt).join('\n').trimEnd() + '\n';
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (l.trim() === '' || l.trim() === '}' || l.startsWith('model ') || l.startsWith('train ')) continue;
    yield [...lines.slice(0, i), ...lines.slice(i + 1)].join('\n');
  }
}

function* inputRemovals(src: string): Generator<string> {
  const m = /^model (\w+)\((.*)\) \{$/m.exec(src);
  if (!m) return;
  const decls = splitTop(m[2]!, ', ');
  for (let i = 0; i < decls.length; i++) {
    const rest = decls.filter((_, j) => j !== i).join(', ');
    yield src.replace(m[0], `model ${m[1]}(${rest}) {`);
  }
}

function* simplifications(src: string): Generator<string> {
  const lines = src.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*(?:output\s+)?\w+ = )(.*)$/.exec(lines[i]!);
    if (!m || lines[i]!.trimStart().startsWith('param ')) continue;
    const [, lhs, rhs] = m as unknown as [string, string, string];
    const at = (r: string) => [...lines.slice(0, i), lhs + r, ...lines.slice(i + 1)].join('\n');
    const terms = splitTop(rhs, ' + ');
    if (terms.length > 1) for (let t = 0; t < terms.length; t++) yield at(terms.filter((_, j) => j !== t).join(' + '));
    const names = [...new Set(rhs.match(/\b[vxwc]\d+\b/g) ?? [])];
    for (const n of names) if (n !== rhs) yield at(n);
    // Unwrap one call: f(a, ...) -> a.
    const call = /^(\w+)\((.*)\)$/.exec(rhs);
    if (call) {
      const first = splitTop(call[2]!, ', ')[0]!;
      if (first !== rhs) yield at(first);
    }
  }
}

function* dimShrinks(src: string): Generator<string> {
  const dims = new Set<number>();
  for (const m of src.matchAll(/(?:f32|i32|bool)\[([^\]]*)\]/g))
    for (const d of m[1]!.split(',')) if (Number(d.trim()) > 1) dims.add(Number(d.trim()));
  for (const d of [...dims].sort((a, b) => b - a))
    for (const to of [1, d - 1]) {
      // Everywhere at once (shapes that must agree stay agreeing), in types only.
      yield src.replace(/(?:f32|i32|bool)\[[^\]]*\]/g, (t) => t.replace(new RegExp(`\\b${d}\\b`, 'g'), String(to)));
    }
}

/** `v2 = x0` (left by the simplifications): drop it and use `x0` for `v2`. */
function* aliasInlines(src: string): Generator<string> {
  for (const m of src.matchAll(/^ {2}(\w+) = (\w+)$/gm)) {
    const [line, alias, name] = m as unknown as [string, string, string];
    yield src.replace(`${line}\n`, '').replace(new RegExp(`\\b${alias}\\b`, 'g'), name);
  }
}

const PASSES = [lineRemovals, inputRemovals, simplifications, aliasInlines, dimShrinks];

export async function shrink(
  source: string,
  stillFails: (candidate: string) => Promise<boolean>,
  maxTries = 400,
): Promise<ShrinkResult> {
  let best = source;
  let tries = 0;
  let progress = true;
  while (progress && tries < maxTries) {
    progress = false;
    for (const pass of PASSES) {
      // Repeat the pass on each smaller program until none of its candidates fails.
      let again = true;
      while (again && tries < maxTries) {
        again = false;
        for (const cand of pass(best)) {
          if (tries >= maxTries) break;
          if (cand === best || cost(cand) >= cost(best)) continue;
          tries++;
          if (await stillFails(cand)) {
            best = cand;
            again = progress = true;
            break;
          }
        }
      }
    }
  }
  return { source: best, tries };
}
