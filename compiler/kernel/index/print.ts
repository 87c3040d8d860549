// Text of index expressions, conditions and (for data-dependent indices)
// value expressions: for dumps, generated code comments and structural keys.

import type { IBool, IExpr, VExpr } from '../kir.js';
import { ic, isFalse } from './atoms.js';
import { type BoolFold, foldBool } from '../walk.js';

const P_ADD = 1;
const P_MUL = 2;
const P_ATOM = 3;

const paren = (s: string, yes: boolean): string => (yes ? `(${s})` : s);

/** e without its negative sign (for `a - b` and `-b`), or undefined when e is not negative. */
function negated(e: IExpr): IExpr | undefined {
  if (e.k === 'const' && e.v < 0) return ic(-e.v);
  if (e.k === 'mul' && e.b.k === 'const' && e.b.v < 0) return e.b.v === -1 ? e.a : { k: 'mul', a: e.a, b: ic(-e.b.v) };
  return undefined;
}

/** C-like text with `/` (floor division) and `%` (floored modulo), minimal parentheses. */
export function printIndex(e: IExpr): string {
  return pr(e, 0);
}

function pr(e: IExpr, prec: number): string {
  switch (e.k) {
    case 'const':
      return paren(String(e.v), e.v < 0 && prec >= P_ATOM);
    case 'var':
    case 'dim':
      return e.name;
    case 'add': {
      const n = negated(e.b);
      const s = n ? `${pr(e.a, P_ADD)} - ${pr(n, P_MUL)}` : `${pr(e.a, P_ADD)} + ${pr(e.b, P_MUL)}`;
      return paren(s, prec > P_ADD);
    }
    case 'mul': {
      const n = negated(e);
      if (n) return paren(`-${pr(n, P_MUL)}`, prec > P_MUL);
      // (x / 4)*3 rather than the equivalent but misleading x / 4*3
      const left = e.a.k === 'div' || e.a.k === 'mod' ? `(${pr(e.a, 0)})` : pr(e.a, P_MUL);
      return paren(`${left}*${pr(e.b, P_ATOM)}`, prec > P_MUL);
    }
    case 'div':
    case 'mod':
      return paren(`${pr(e.a, P_MUL)} ${e.k === 'div' ? '/' : '%'} ${pr(e.b, P_ATOM)}`, prec > P_MUL);
    case 'value':
      return `clamp(${printValue(e.x)}, ${pr(e.hi, 0)})`;
  }
}

const PRINT_BOOL: BoolFold<string, undefined> = {
  true: () => 'true',
  le: (c) => (isFalse(c) ? 'false' : `${pr(c.a, P_ADD)} <= ${pr(c.b, P_ADD)}`),
  and: (c, rec) => `${rec(c.a)} && ${rec(c.b)}`,
};

export function printBool(c: IBool): string {
  return foldBool(c, PRINT_BOOL, printBool, undefined);
}

const valueText = new WeakMap<VExpr, string>();

/** A compact text of a value expression (for data-dependent indices in dumps and keys). */
export function printValue(x: VExpr): string {
  const hit = valueText.get(x);
  if (hit !== undefined) return hit;
  let s: string;
  switch (x.k) {
    case 'load': {
      const body = `b${x.buf}[${printIndex(x.index)}]`;
      s = x.valid.k === 'true' ? body : `(${printBool(x.valid)} ? ${body} : ${x.fill})`;
      break;
    }
    case 'const':
      s = `${x.v}:${x.dtype}`;
      break;
    case 'scalar':
      s = `$${x.name}`;
      break;
    case 'index':
      s = `index(${printIndex(x.i)})`;
      break;
    case 'unary':
      s = `${x.fn}(${printValue(x.x)})`;
      break;
    case 'binary':
      s = `${x.fn}(${printValue(x.a)}, ${printValue(x.b)})`;
      break;
    case 'where':
      s = `where(${printValue(x.c)}, ${printValue(x.a)}, ${printValue(x.b)})`;
      break;
    case 'cast':
      s = `${x.dtype}(${printValue(x.x)})`;
      break;
    case 'rand':
      s = `rand(${printValue(x.key)}, ${x.salt}, ${printIndex(x.i)})`;
      break;
    case 'acc':
      s = `acc${x.id}`;
      break;
  }
  valueText.set(x, s);
  return s;
}
