// The decomposition table: every composite builtin of the language
// (LANGUAGE.md, Builtins) as a validate/lower pair over IR primitives, plus
// the operator builtins the checker maps syntax to (`add` for `+`, `matmul`
// for `@`, `ternary` for `?:`, `transpose_last2` for `.T`) and indexing.
// Definitions live by family in compiler/builtins/; this file assembles them.

import type { BuiltinDef } from './builtin.js';
import { ELEMENTWISE } from './builtins/elementwise.js';
import { LINALG } from './builtins/linalg.js';
import { LOSSES } from './builtins/losses.js';
import { NEURAL } from './builtins/neural.js';
import { REDUCTIONS } from './builtins/reductions.js';
import { SHAPE } from './builtins/shape.js';

export { type IndexSpec, lowerIndex, validateIndex } from './builtins/shape.js';

function table(defs: readonly BuiltinDef[]): ReadonlyMap<string, BuiltinDef> {
  const m = new Map<string, BuiltinDef>();
  for (const d of defs) {
    if (m.has(d.name)) throw new Error(`builtin '${d.name}' is defined twice`);
    m.set(d.name, d);
  }
  return m;
}

export const BUILTINS: ReadonlyMap<string, BuiltinDef> = table([
  ...ELEMENTWISE,
  ...REDUCTIONS,
  ...SHAPE,
  ...LINALG,
  ...NEURAL,
  ...LOSSES,
]);
