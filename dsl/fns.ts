// The program's fns, checked once before any model: duplicate and reserved
// names, single assignment, the order of each body's lets, and recursion
// (fns are inlined at every call, so a recursive one never ends). A fn found
// bad is reported here once; the lowerer treats its calls as poison.

import type { FnDecl, Program } from './ast.js';
import { callsIn } from './ast-queries.js';
import { cycleMessage, dependencyOrder, statementOrder } from './dependencies.js';
import { type Diagnostic, type Note, type Span, diag } from './source.js';
import { BUILTINS } from '../compiler/decompose.js';

export interface FnInfo {
  readonly decl: FnDecl;
  /** Evaluation order of the body's lets (indices into decl.body); first definitions only. */
  readonly order: readonly number[];
  /** Recursive, or with a cycle among its lets: reported once; calls are poison. */
  bad: boolean;
}

/** Calls the checker handles itself instead of the builtin table. */
export const SPECIAL_FORMS: readonly string[] = ['grad', 'jvp', 'shape'];

/** Checks every fn declaration of `program`, reporting into `out`; the fns by name (first declarations). */
export function checkFns(program: Program, out: Diagnostic[]): Map<string, FnInfo> {
  const error = (span: Span, message: string, notes: readonly Note[] = []) => out.push(diag(span, message, notes));
  const fns = new Map<string, FnInfo>();
  const decls = program.items.filter((i): i is FnDecl => i.kind === 'fn');
  for (const d of decls) {
    const name = d.name.name;
    const prev = fns.get(name);
    if (prev) {
      error(d.name.span, `duplicate fn '${name}'`, [{ message: 'first defined', span: prev.decl.name.span }]);
      continue;
    }
    if (BUILTINS.has(name) || SPECIAL_FORMS.includes(name)) {
      error(d.name.span, `fn '${name}' has the name of a builtin; choose another name`);
      continue;
    }
    fns.set(name, checkBody(d, error));
  }
  markRecursion(fns, error);
  return fns;
}

/** A fn's parameters and lets: each name once, the lets in dependency order. */
function checkBody(d: FnDecl, error: (span: Span, message: string, notes?: readonly Note[]) => void): FnInfo {
  const name = d.name.name;
  let bad = false;
  const seen = new Map<string, Span>();
  for (const p of d.params) {
    const first = seen.get(p.name);
    if (first) {
      bad = true;
      error(p.span, `duplicate name '${p.name}' in fn ${name}`, [{ message: 'first defined', span: first }]);
    } else seen.set(p.name, p.span);
  }
  const firstLets: number[] = [];
  d.body.forEach((l, i) => {
    const first = seen.get(l.name.name);
    if (first) {
      bad = true;
      const param = d.params.some((p) => p.name === l.name.name);
      error(
        l.name.span,
        param
          ? `duplicate name '${l.name.name}': it is a parameter of fn ${name}`
          : `'${l.name.name}' is assigned twice; names are single-assignment`,
        [{ message: 'first defined', span: first }],
      );
    } else {
      seen.set(l.name.name, l.name.span);
      firstLets.push(i);
    }
  });
  const { order, cycles } = statementOrder(firstLets.map((i) => d.body[i]!));
  for (const c of cycles) {
    bad = true;
    const stmts = c.map((k) => d.body[firstLets[k]!]!);
    error(stmts[0]!.span, cycleMessage(stmts.map((s) => s.name.name)));
  }
  return { decl: d, order: order.map((k) => firstLets[k]!), bad };
}

/** Recursion, direct or mutual: reported at a call of each cycle, whose fns become bad. */
function markRecursion(fns: ReadonlyMap<string, FnInfo>, error: (span: Span, message: string) => void): void {
  const names = [...fns.keys()];
  const index = new Map(names.map((n, i) => [n, i]));
  const callSites = names.map((n) => {
    const d = fns.get(n)!.decl;
    return [...d.body.map((l) => l.value), d.result].flatMap(callsIn).filter((c) => index.has(c.name));
  });
  const deps = callSites.map((cs) => [...new Set(cs.map((c) => index.get(c.name)!))]);
  const { cycles } = dependencyOrder(deps);
  for (const c of cycles) {
    const chain = c.map((i) => names[i]!);
    const last = chain[chain.length - 1]!;
    const site = callSites[index.get(last)!]!.find((s) => s.name === chain[0])!;
    for (const n of chain) fns.get(n)!.bad = true;
    error(
      site.span,
      chain.length === 1
        ? `recursive call to fn ${last}: fns are inlined at every call, so they cannot call themselves`
        : `recursive call: ${[...chain, chain[0]].join(' -> ')}; fns are inlined at every call, so they cannot recurse`,
    );
  }
}
