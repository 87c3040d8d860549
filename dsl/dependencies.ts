// Statement order: statements inside models and fn blocks may be written in
// any order, so they are evaluated in dependency order (source order among
// independent ones, so lowering is deterministic); a cycle is an error
// naming it. Also used for the call graph of fns (recursion).

import type { Expr, Ident } from './ast.js';
import { namesIn } from './ast-queries.js';

/**
 * Dependency order of named statements. Returns the evaluation order (each
 * statement after the ones it mentions; otherwise source order) and the
 * cycles found, each as a list of statement indices in dependency order.
 */
export function dependencyOrder(deps: readonly (readonly number[])[]): { order: number[]; cycles: number[][] } {
  const n = deps.length;
  const state = new Array<0 | 1 | 2>(n).fill(0); // 0 new, 1 on the stack, 2 done
  const order: number[] = [];
  const cycles: number[][] = [];
  for (let root = 0; root < n; root++) {
    if (state[root] !== 0) continue;
    const stack: { node: number; next: number }[] = [{ node: root, next: 0 }];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const ds = deps[top.node]!;
      if (top.next < ds.length) {
        const d = ds[top.next++]!;
        if (state[d] === 0) {
          state[d] = 1;
          stack.push({ node: d, next: 0 });
        } else if (state[d] === 1) {
          const from = stack.findIndex((f) => f.node === d);
          cycles.push(stack.slice(from).map((f) => f.node));
        }
      } else {
        state[top.node] = 2;
        order.push(top.node);
        stack.pop();
      }
    }
  }
  return { order, cycles };
}

export function cycleMessage(names: readonly string[]): string {
  if (names.length === 1) return `'${names[0]}' depends on itself`;
  return `cycle between statements: ${[...names, names[0]!].join(' -> ')}`;
}

/** The evaluation order and cycles of named statements (each name defined once), by the names each mentions. */
export function statementOrder(stmts: readonly { readonly name: Ident; readonly value: Expr }[]): {
  order: number[];
  cycles: number[][];
} {
  const index = new Map(stmts.map((s, i) => [s.name.name, i]));
  const deps = stmts.map((s) => [...new Set(namesIn(s.value))].flatMap((n) => (index.has(n) ? [index.get(n)!] : [])));
  return dependencyOrder(deps);
}
