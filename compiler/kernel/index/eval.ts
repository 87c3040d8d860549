// Evaluation of index expressions and conditions with loop variables and
// dims bound (the kernel interpreter and tests).

import type { IBool, IExpr, VExpr } from '../kir.js';
import { type BoolFold, type IndexFold, foldBool, foldIndex } from '../walk.js';

export interface IndexEnv {
  readonly vars: ReadonlyMap<string, number>;
  readonly dims: ReadonlyMap<string, number>;
  /** The value of a data-dependent index (before clamping). */
  value?(x: VExpr): number;
}

const EVAL: IndexFold<number, IndexEnv> = {
  leaf(e, env) {
    if (e.k === 'const') return e.v;
    const v = (e.k === 'var' ? env.vars : env.dims).get(e.name);
    if (v === undefined) throw new Error(`unbound index ${e.k} '${e.name}'`);
    return v;
  },
  op(k, a, b) {
    switch (k) {
      case 'add':
        return a + b;
      case 'mul':
        return a * b + 0; // no -0
      case 'div':
        return Math.floor(a / b) + 0;
      case 'mod':
        return a - b * Math.floor(a / b);
    }
  },
  value(e, rec, env) {
    if (!env.value) throw new Error('a data-dependent index needs env.value');
    const hi = rec(e.hi);
    return Math.min(Math.max(Math.trunc(env.value(e.x)), 0), hi - 1);
  },
};

export function evalIndex(e: IExpr, env: IndexEnv): number {
  return foldIndex(e, EVAL, (x) => evalIndex(x, env), env);
}

const EVAL_BOOL: BoolFold<boolean, IndexEnv> = {
  true: () => true,
  le: (c, env) => evalIndex(c.a, env) <= evalIndex(c.b, env),
  and: (c, rec) => rec(c.a) && rec(c.b),
};

export function evalBool(c: IBool, env: IndexEnv): boolean {
  return foldBool(c, EVAL_BOOL, (x) => evalBool(x, env), env);
}
