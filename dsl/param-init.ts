// Param initialisers (LANGUAGE.md, Params): `zeros`, `normal(std = 0.1)`,
// `uniform(lo, hi)`, ... with literal arguments, checked against the param's
// dtype by running the initialiser module's own rules (compiler/init.ts).

import type { Expr, Ident, KwArg, ParamStmt } from './ast.js';
import { literalNumber } from './ast-queries.js';
import { errorText } from './reporter.js';
import { type Span, closest } from './source.js';
import { type InitSpec, initParam } from '../compiler/init.js';
import type { TensorType } from '../compiler/types.js';

const INITIALISERS: ReadonlyMap<string, readonly { name: string; default?: number }[]> = new Map([
  ['zeros', []],
  ['ones', []],
  ['constant', [{ name: 'value' }]],
  ['normal', [{ name: 'std', default: 1 }]],
  ['uniform', [{ name: 'lo' }, { name: 'hi' }]],
  ['glorot_uniform', []],
  ['glorot_normal', []],
  ['he_uniform', []],
  ['he_normal', []],
]);

/**
 * The initialiser of param `p` (of type `type`, when it has one), or
 * undefined after reporting what is wrong with it.
 */
export function resolveInit(
  p: ParamStmt,
  type: TensorType | undefined,
  error: (span: Span, message: string) => void,
): InitSpec | undefined {
  const e = p.init;
  const fail = (span: Span, msg: string): undefined => {
    error(span, msg);
    return undefined;
  };
  let name: Ident;
  let args: readonly Expr[] = [];
  let kwargs: readonly KwArg[] = [];
  if (e.kind === 'name') name = { name: e.name, span: e.span };
  else if (e.kind === 'call') {
    name = e.callee;
    args = e.args;
    kwargs = e.kwargs;
  } else
    return fail(
      e.span,
      'expected an initialiser: zeros, ones, constant(v), normal(std = 1.0), uniform(lo, hi), glorot_uniform, glorot_normal, he_uniform or he_normal',
    );
  const specs = INITIALISERS.get(name.name);
  if (!specs) {
    const hint = closest(name.name, INITIALISERS.keys());
    return fail(name.span, `unknown initialiser '${name.name}'${hint ? `; did you mean '${hint}'?` : ''}`);
  }
  const values = new Map<string, number>();
  let ok = true;
  args.forEach((a, i) => {
    const s = specs[i];
    if (!s) {
      if (i === specs.length) {
        ok = false;
        error(
          a.span,
          `${name.name} takes ${specs.length} argument${specs.length === 1 ? '' : 's'}, got ${args.length}`,
        );
      }
      return;
    }
    const v = literalNumber(a);
    if (v === undefined) {
      ok = false;
      error(a.span, `the ${s.name} of ${name.name} must be a number literal`);
    } else values.set(s.name, v);
  });
  for (const kw of kwargs) {
    const s = specs.find((x) => x.name === kw.name.name);
    if (!s) {
      ok = false;
      const hint = closest(
        kw.name.name,
        specs.map((x) => x.name),
      );
      error(
        kw.name.span,
        `unknown argument '${kw.name.name}' for ${name.name}${hint ? `; did you mean '${hint}'?` : ''}`,
      );
      continue;
    }
    if (values.has(s.name)) {
      ok = false;
      error(kw.name.span, `argument '${s.name}' of ${name.name} is given twice`);
      continue;
    }
    const v = literalNumber(kw.value);
    if (v === undefined) {
      ok = false;
      error(kw.value.span, `the ${s.name} of ${name.name} must be a number literal`);
    } else values.set(s.name, v);
  }
  for (const s of specs) {
    if (!values.has(s.name)) {
      if (s.default !== undefined) values.set(s.name, s.default);
      else {
        ok = false;
        const form = `${name.name}(${specs.map((x) => x.name).join(', ')})`;
        error(e.span, `missing argument '${s.name}' for ${name.name}: write ${form}`);
      }
    }
  }
  if (!ok) return undefined;
  const v = (k: string) => values.get(k)!;
  let spec: InitSpec;
  switch (name.name) {
    case 'constant':
      spec = { kind: 'constant', value: v('value') };
      break;
    case 'normal':
      spec = { kind: 'normal', std: v('std') };
      break;
    case 'uniform':
      spec = { kind: 'uniform', lo: v('lo'), hi: v('hi') };
      break;
    case 'zeros':
    case 'ones':
    case 'glorot_uniform':
    case 'glorot_normal':
    case 'he_uniform':
    case 'he_normal':
      spec = { kind: name.name };
      break;
    default:
      return fail(name.span, `unknown initialiser '${name.name}'`);
  }
  if (type) {
    // The initialiser module owns the rules (dtype fit, argument ranges); an empty tensor runs them cheaply.
    try {
      initParam(spec, [0], type.dtype, 0, p.name.name);
    } catch (err) {
      return fail(e.span, errorText(err));
    }
  }
  return spec;
}
