// The traversal primitives of compiler/kernel/walk.ts against the kernel IR's
// own shape: every object-valued field of a node is an operand (so a new
// operand, or a new kind of node, that the primitives miss fails here), each
// reached as the right sort (value, index expression or mask), in field
// order; rebuilding puts each result in its field; visits reach every node.
// Nodes: one of every kind (the record below must list each kind, so a new
// one has to be added) and the kernels of random graphs.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planKernels } from '../../compiler/fusion/plan.js';
import { printKernel } from '../../compiler/kernel/print.js';
import type { IBool, IExpr, Stage, VExpr } from '../../compiler/kernel/kir.js';
import {
  type OperandFns,
  VExprRewriter,
  childValues,
  collectLoads,
  forEachValue,
  mapBoolOperands,
  mapIndexOperands,
  mapOperands,
  sharedValues,
  visitor,
} from '../../compiler/kernel/walk.js';
import { arbGraph } from '../helpers/random-graph.js';

type Sort = 'v' | 'i' | 'b';
type Any = VExpr | IExpr | IBool;

const i0: IExpr = { k: 'var', name: 'p0' };
const two: IExpr = { k: 'const', v: 2 };
const f1: VExpr = { k: 'const', v: 1, dtype: 'f32' };
const key: VExpr = { k: 'scalar', name: '@seed', dtype: 'i32' };
const mask: IBool = { k: 'and', a: { k: 'le', a: two, b: i0 }, b: { k: 'true' } };
const gather: IExpr = { k: 'value', x: { k: 'index', i: i0 }, hi: { k: 'dim', name: 'B' } };

/** One node of every VExpr kind (a mapped type: a new kind must be added here). */
const EVERY_KIND: { readonly [K in VExpr['k']]: Extract<VExpr, { k: K }> } = {
  load: { k: 'load', buf: 0, index: { k: 'add', a: gather, b: two }, valid: mask, fill: 0, dtype: 'f32' },
  const: { k: 'const', v: 2, dtype: 'i32' },
  scalar: { k: 'scalar', name: 'lr', dtype: 'f32' },
  index: { k: 'index', i: { k: 'mod', a: i0, b: two } },
  unary: { k: 'unary', fn: 'exp', x: f1, dtype: 'f32' },
  binary: { k: 'binary', fn: 'add', a: f1, b: { k: 'acc', id: 0, dtype: 'f32' }, dtype: 'f32' },
  where: { k: 'where', c: { k: 'const', v: 1, dtype: 'bool' }, a: f1, b: f1, dtype: 'f32' },
  cast: { k: 'cast', x: { k: 'index', i: gather }, dtype: 'f32' },
  rand: { k: 'rand', key, salt: 3, i: { k: 'div', a: i0, b: two } },
  acc: { k: 'acc', id: 1, dtype: 'f32' },
};

const I_KINDS: { readonly [K in IExpr['k']]: true } = {
  const: true,
  var: true,
  dim: true,
  add: true,
  mul: true,
  div: true,
  mod: true,
  value: true,
};

/** The sort of a field's value, from the IR's declaration (kir.ts), independent of walk.ts. */
function fieldSort(parent: Sort, node: Any, field: string): Sort {
  if (parent === 'v') return field === 'valid' ? 'b' : field === 'index' || field === 'i' ? 'i' : 'v';
  if (parent === 'i') return field === 'x' ? 'v' : 'i';
  return node.k === 'le' ? 'i' : 'b';
}

/** Object-valued fields of a node, in field order, with their sorts. */
function fields(sort: Sort, node: Any): [Sort, Any][] {
  return Object.entries(node)
    .filter(([, val]) => typeof val === 'object' && val !== null)
    .map(([f, val]) => [fieldSort(sort, node, f), val as Any]);
}

/** Operand functions recording what they are given and returning `swap`'s replacement. */
function recorder(swap: (s: Sort, x: Any) => Any = (_, x) => x) {
  const seen: [Sort, Any][] = [];
  const fns: OperandFns = {
    v: (x) => (seen.push(['v', x]), swap('v', x) as VExpr),
    i: (e) => (seen.push(['i', e]), swap('i', e) as IExpr),
    b: (c) => (seen.push(['b', c]), swap('b', c) as IBool),
  };
  return { seen, fns };
}

const mapBy = (sort: Sort, node: Any, fns: OperandFns, copy = false): Any =>
  sort === 'v'
    ? mapOperands(node as VExpr, fns, copy)
    : sort === 'i'
      ? mapIndexOperands(node as IExpr, fns, copy)
      : mapBoolOperands(node as IBool, fns);

/** Every node below (and including) `node`, each object once, by the IR's declared fields. */
function allNodes(sort: Sort, node: Any, out = new Map<Any, Sort>()): Map<Any, Sort> {
  if (out.has(node)) return out;
  out.set(node, sort);
  for (const [s, c] of fields(sort, node)) allNodes(s, c, out);
  return out;
}

function checkOperands(sort: Sort, node: Any): void {
  const want = fields(sort, node);
  // Visiting: every operand, as its sort, in field order; nothing rebuilt.
  const r = recorder();
  expect(mapBy(sort, node, r.fns)).toBe(node);
  expect(r.seen).toEqual(want);
  for (let j = 0; j < want.length; j++) expect(r.seen[j]![1]).toBe(want[j]![1]);
  // Rebuilding: each result lands in the field its operand came from.
  const made: Any[] = [];
  const mark = (s: Sort): Any => {
    const m: Any = s === 'b' ? { k: 'true' } : s === 'i' ? { k: 'const', v: made.length } : { ...f1 };
    made.push(m);
    return m;
  };
  const rebuilt = mapBy(sort, node, recorder(mark).fns);
  if (want.length === 0) expect(rebuilt).toBe(node);
  else expect(rebuilt).not.toBe(node);
  const got = fields(sort, rebuilt);
  expect(got.map(([s]) => s)).toEqual(want.map(([s]) => s));
  got.forEach(([, x], j) => expect(x).toBe(made[j]));
  for (const [f, val] of Object.entries(node))
    if (typeof val !== 'object') expect((rebuilt as unknown as Record<string, unknown>)[f]).toBe(val);
  // Copying: a new node for every value node with operands, and for gathers.
  const copied = mapBy(sort, node, recorder().fns, true);
  expect(copied).toEqual(node);
  const copies = want.length > 0 && (sort === 'v' || node.k === 'value');
  if (copies) expect(copied).not.toBe(node);
  else expect(copied).toBe(node);
}

/** The value nodes below value node `x` up to the next value nodes, through index expressions and masks (every path). */
function valuesBelow(x: VExpr): VExpr[] {
  const out: VExpr[] = [];
  const walk = (sort: Sort, n: Any): void => {
    for (const [s, c] of fields(sort, n))
      if (s === 'v') out.push(c as VExpr);
      else walk(s, c);
  };
  walk('v', x);
  return out;
}

function checkTree(roots: readonly VExpr[]): void {
  const nodes = new Map<Any, Sort>();
  for (const x of roots) allNodes('v', x, nodes);
  for (const [node, sort] of nodes) checkOperands(sort, node);
  const values = [...nodes].filter(([, s]) => s === 'v').map(([x]) => x as VExpr);
  for (const x of values) expect(childValues(x)).toEqual(valuesBelow(x));
  // forEachValue: every value node once first, then once per further reference (operands are entered once).
  const refs = new Map<VExpr, number>();
  for (const x of [...roots, ...values.flatMap(valuesBelow)]) refs.set(x, (refs.get(x) ?? 0) + 1);
  const first: VExpr[] = [];
  const again = new Map<VExpr, number>();
  forEachValue(roots, (x, a) => {
    if (a) again.set(x, (again.get(x) ?? 0) + 1);
    else first.push(x);
  });
  expect(first.length).toBe(values.length);
  expect(new Set(first)).toEqual(new Set(values));
  for (const x of values) expect(again.get(x) ?? 0).toBe(refs.get(x)! - 1);
  expect(sharedValues(roots)).toEqual(new Set(values.filter((x) => refs.get(x)! > 1)));
}

describe('kernel IR traversal primitives', () => {
  it('know the operands of every kind of value node', () => {
    for (const x of Object.values(EVERY_KIND)) checkOperands('v', x);
    checkTree(Object.values(EVERY_KIND));
  });

  it('know the operands of every kind of index expression and mask', () => {
    const sub: IExpr = { k: 'add', a: i0, b: two };
    const cases: { [K in IExpr['k']]: Extract<IExpr, { k: K }> } = {
      const: { k: 'const', v: 1 },
      var: { k: 'var', name: 'r0' },
      dim: { k: 'dim', name: 'B' },
      add: { k: 'add', a: sub, b: gather },
      mul: { k: 'mul', a: sub, b: two },
      div: { k: 'div', a: sub, b: two },
      mod: { k: 'mod', a: gather, b: two },
      value: { k: 'value', x: EVERY_KIND.rand, hi: sub },
    };
    expect(Object.keys(cases)).toEqual(Object.keys(I_KINDS));
    for (const e of Object.values(cases)) checkOperands('i', e);
    for (const c of [mask, mask.a, { k: 'true' } as const]) checkOperands('b', c);
  });

  it('visit and rebuild the kernels of random graphs', () => {
    let nodes = 0;
    fc.assert(
      fc.property(arbGraph(), (r) => {
        const { program } = planKernels(r.graph);
        for (const k of program.kernels) {
          const roots = k.stages.flatMap((s): VExpr[] =>
            s.kind === 'reduce'
              ? s.accs.map((a) => a.value)
              : s.stores.flatMap((st) => [st.value, { k: 'index', i: st.index }]),
          );
          checkTree(roots);
          nodes += roots.length;
          // An identity rewrite copies every computed node and keeps the tree's shape and sharing.
          const rw = new VExprRewriter((v) => v);
          const stages: Stage[] = k.stages.map((s) => rw.stage(s));
          expect(printKernel({ ...k, stages }, program)).toBe(printKernel(k, program));
          const loads = collectLoads(stages);
          expect(loads.length).toBe(collectLoads(k.stages).length);
          expect(loads.some((l) => new Set(collectLoads(k.stages)).has(l))).toBe(false);
        }
      }),
      { numRuns: 60, seed: 20261206 },
    );
    expect(nodes).toBeGreaterThan(100);
  });

  it('a visitor enters index expressions and masks it is not given', () => {
    const got: string[] = [];
    visitor({ v: (x) => got.push(x.k) }).v(EVERY_KIND.load);
    expect(got).toEqual(['load']);
    got.length = 0;
    mapOperands(EVERY_KIND.load, visitor({ v: (x) => got.push(x.k) }));
    expect(got).toEqual(['index']);
    const sides: IExpr[] = [];
    mapOperands(EVERY_KIND.load, visitor({ i: (e) => sides.push(e) }));
    expect(sides).toEqual([EVERY_KIND.load.index, two, i0]);
  });
});
