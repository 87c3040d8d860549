// Evaluation of index expressions and conditions with loop variables and
// dims bound (the kernel interpreter and tests).

import type { IBool, IExpr, VExpr } from '../kir.js';

export interface IndexEnv {
  readonly vars: ReadonlyMap<string, number>;
  readonly dims: ReadonlyMap<string, number>;
  /** The value of a data-dependent index (before clamping). */
  value?(x: VExpr): number;
}

export function evalIndex(e: IExpr, env: IndexEnv): number {
  switch (e.k) {
    case 'const':
      return e.v;
    case 'var':
    case 'dim': {
      const v = (e.k === 'var' ? env.vars : env.dims).get(e.name);
      if (v === undefined) throw new Error(`unbound index ${e.k} '${e.name}'`);
      return v;
    }
    case 'add':
      return evalIndex(e.a, env) + evalIndex(e.b, env);
    case 'mul':
      return evalIndex(e.a, env) * evalIndex(e.b, env) + 0; // no -0
    case 'div':
      return Math.floor(evalIndex(e.a, env) / evalIndex(e.b, env)) + 0;
    case 'mod': {
      const a = evalIndex(e.a, env);
      const b = evalIndex(e.b, env);
      return a - b * Math.floor(a / b);
    }
    case 'value': {
      if (!env.value) throw new Error('a data-dependent index needs env.value');
      const hi = evalIndex(e.hi, env);
      return Math.min(Math.max(Math.trunc(env.value(e.x)), 0), hi - 1);
    }
  }
}

export function evalBool(c: IBool, env: IndexEnv): boolean {
  switch (c.k) {
    case 'true':
      return true;
    case 'le':
      return evalIndex(c.a, env) <= evalIndex(c.b, env);
    case 'and':
      return evalBool(c.a, env) && evalBool(c.b, env);
  }
}
