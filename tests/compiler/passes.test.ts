import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { type EvalEnv, type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import {
  BINARY_FNS,
  type BinaryFn,
  type Graph,
  IRBuilder,
  IRError,
  type Node,
  type NodeOf,
  UNARY_FNS,
  type UnaryFn,
  topoSort,
} from '../../compiler/ir.js';
import { FOLD_RULES, STRIP_STOP_GRADIENT_RULES } from '../../compiler/passes/fold.js';
import { formatPassLog, optimizeGraph } from '../../compiler/passes/pipeline.js';
import { type Rule, rewriteGraph } from '../../compiler/passes/rewrite.js';
import { SIMPLIFY_RULES } from '../../compiler/passes/simplify.js';
import { printGraph } from '../../compiler/print.js';
import { type DType, type Shape, evalShape, sym } from '../../compiler/types.js';
import { randomTensor, rng } from '../helpers/finite-diff.js';
import { type RandomGraph, arbGraph, evalClose, generateGraph, mismatch } from '../helpers/random-graph.js';

const B = sym('B');
const f32 = (...shape: Shape) => ({ dtype: 'f32' as const, shape });
const i32 = (...shape: Shape) => ({ dtype: 'i32' as const, shape });
const bool = (...shape: Shape) => ({ dtype: 'bool' as const, shape });

/** A graph of the named outputs; inputs and params are the leaves they reach, in creation order. */
function mk(build: (b: IRBuilder) => Record<string, Node>): Graph {
  const b = new IRBuilder();
  const outs = build(b);
  const leaves = topoSort(Object.values(outs));
  return {
    builder: b,
    inputs: leaves.filter((n): n is NodeOf<'input'> => n.op === 'input'),
    params: leaves.filter((n): n is NodeOf<'param'> => n.op === 'param'),
    outputs: Object.entries(outs).map(([name, node]) => ({ name, node })),
  };
}

const rulesNamed = (...names: string[]): Rule[] => {
  const all = [...FOLD_RULES, ...SIMPLIFY_RULES, ...STRIP_STOP_GRADIENT_RULES];
  return names.map((n) => all.find((r) => r.name === n) ?? IRError.throw(`no rule ${n}`));
};

/** Random tensors for every leaf (B = 3); f32 in [-2, 2], i32 in [-5, 5], bool. */
function envFor(g: Graph, seed = 1): EvalEnv & { dims: Map<string, number> } {
  const dims = new Map([['B', 3]]);
  const r = rng(seed);
  const make = (n: Node): RefTensor => {
    const shape = evalShape(n.shape, dims);
    if (n.dtype === 'f32') return randomTensor(shape, r, -2, 2);
    const count = shape.reduce((a, d) => a * d, 1);
    return tensor(
      n.dtype,
      shape,
      Array.from({ length: count }, () => (n.dtype === 'i32' ? Math.floor(r() * 11) - 5 : r() < 0.5 ? 1 : 0)),
    );
  };
  return {
    inputs: new Map(g.inputs.map((n) => [n.name, make(n)])),
    params: new Map(g.params.map((n) => [n.name, make(n)])),
    dims,
  };
}

/** Asserts that two graphs with the same interface compute the same outputs (NaN == NaN). */
function expectSameValues(a: Graph, b: Graph, env: EvalEnv = envFor(a), tol = 0): void {
  const va = evaluate(
    a.outputs.map((o) => o.node),
    env,
  );
  const vb = evaluate(
    b.outputs.map((o) => o.node),
    env,
  );
  va.forEach((t, i) => {
    const why = mismatch(t, vb[i]!, tol);
    if (why) throw new Error(`output ${a.outputs[i]!.name}: ${why}\nbefore:\n${printGraph(a)}after:\n${printGraph(b)}`);
  });
}

/**
 * Rewrites `g` with `rules`, checks the values are unchanged on random
 * inputs, and returns the printed graph before and after.
 */
function rewrite(g: Graph, rules: readonly Rule[], pass = 'test'): { before: string; after: string; fired: object } {
  const r = rewriteGraph(g, rules, pass);
  expectSameValues(g, r.graph);
  return { before: printGraph(g), after: printGraph(r.graph), fired: Object.fromEntries(r.fired) };
}

/** The printed graph of `body` lines. */
const printed = (...lines: string[]) => `graph {\n${lines.map((l) => `  ${l}`).join('\n')}\n}\n`;

// ---------------------------------------------------------------- engine

describe('rewrite engine', () => {
  it('rebuilds into a fresh builder: dead nodes go, unused inputs and params stay in order', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32(3));
    const unused = b.input('unused', f32(2));
    const w = b.param('w', f32(3));
    const v = b.param('v', i32());
    b.unary('exp', x); // dead
    const y = b.binary('add', x, w);
    b.unary('sin', y); // dead
    const g: Graph = {
      builder: b,
      inputs: [x, unused] as NodeOf<'input'>[],
      params: [w, v] as NodeOf<'param'>[],
      outputs: [{ name: 'y', node: y }],
    };
    const r = rewriteGraph(g, [], 'dce');
    expect(r.graph.builder).not.toBe(b);
    expect(r.graph.builder.size).toBe(5);
    expect(printGraph(r.graph)).toBe(
      printed(
        '%0 = input[x]() : f32[3]',
        '%1 = input[unused]() : f32[2]',
        '%2 = param[w]() : f32[3]',
        '%3 = param[v]() : i32[]',
        '%4 = add(%0, %2) : f32[3]  // y',
        'output y = %4',
      ),
    );
    expect(r.fired.size).toBe(0);
  });

  it('CSE: a + b and b + a become one node after canonical ordering', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(2));
      const y = b.input('y', f32(2));
      return { s: b.binary('mul', b.binary('add', x, y), b.binary('add', y, x)) };
    });
    const r = rewrite(g, rulesNamed('canonical-order'));
    expect(r.before).toContain('add(%0, %1)');
    expect(r.before).toContain('add(%1, %0)');
    expect(r.after).toBe(
      printed(
        '%0 = input[x]() : f32[2]',
        '%1 = input[y]() : f32[2]',
        '%2 = add(%0, %1) : f32[2]',
        '%3 = mul(%2, %2) : f32[2]  // s',
        'output s = %3',
      ),
    );
    expect(r.fired).toEqual({ 'canonical-order': 1 });
  });

  it('keeps assign nodes, output names and several names for one node', () => {
    const g = mk((b) => {
      const w = b.param('w', f32(2));
      const u = b.assign('w', b.binary('sub', w, b.bin('mul', w, 1)));
      return { update: u, same: u, w };
    });
    const r = rewrite(g, SIMPLIFY_RULES);
    expect(r.after).toBe(
      printed(
        '%0 = param[w]() : f32[2]  // w',
        '%1 = const[0]() : f32[]',
        '%2 = reshape(%1) : f32[1]',
        '%3 = expand(%2) : f32[2]',
        '%4 = assign[w](%3) : f32[2]  // update',
        'output update = %4',
        'output same = %4',
        'output w = %0',
      ),
    );
  });

  it('runs rules to a fixpoint at a node', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(2));
      return { y: b.unary('neg', b.unary('neg', b.unary('neg', b.unary('neg', b.unary('neg', x))))) };
    });
    const r = rewrite(g, rulesNamed('double-negation'));
    expect(r.after).toBe(printed('%0 = input[x]() : f32[2]', '%1 = neg(%0) : f32[2]  // y', 'output y = %1'));
  });

  it('sweeps the whole graph again when a rule builds nodes other rules simplify', () => {
    // cos(x) -> sin(neg(neg(x))): the inner nodes are new, simplified in the next sweep.
    const odd: Rule = {
      name: 'cos-to-sin',
      apply: (n, b) =>
        n.op === 'unary' && n.fn === 'cos' ? b.unary('sin', b.unary('neg', b.unary('neg', n.inputs[0]!))) : undefined,
    };
    const g = mk((b) => ({ y: b.unary('cos', b.input('x', f32(2))) }));
    const r = rewriteGraph(g, [odd, ...rulesNamed('double-negation')], 'two-sweeps');
    expect(printGraph(r.graph)).toBe(
      printed('%0 = input[x]() : f32[2]', '%1 = sin(%0) : f32[2]  // y', 'output y = %1'),
    );
    expect(Object.fromEntries(r.fired)).toEqual({ 'cos-to-sin': 1, 'double-negation': 1 });
  });

  it('stops a rule cycle at one node with an IRError naming the rules', () => {
    const flip: Rule = {
      name: 'flip',
      apply: (n, b) => (n.op === 'binary' && n.fn === 'add' ? b.binary('add', n.inputs[1]!, n.inputs[0]!) : undefined),
    };
    const g = mk((b) => ({ y: b.binary('add', b.input('x', f32(2)), b.input('z', f32(2))) }));
    expect(() => rewriteGraph(g, [flip], 'cyclic')).toThrow(/\[cyclic\] rules do not converge.*flip -> flip/);
  });

  it('stops rules that undo each other across sweeps', () => {
    // sin(x) -> sin(neg(neg(x))) unless x is a neg; double negation undoes it in the next sweep.
    const wrap: Rule = {
      name: 'wrap',
      apply: (n, b) =>
        n.op === 'unary' && n.fn === 'sin' && !(n.inputs[0]!.op === 'unary' && n.inputs[0]!.fn === 'neg')
          ? b.unary('sin', b.unary('neg', b.unary('neg', n.inputs[0]!)))
          : undefined,
    };
    const g = mk((b) => ({ y: b.unary('sin', b.input('x', f32(2))) }));
    expect(() => rewriteGraph(g, [wrap, ...rulesNamed('double-negation')], 'ping-pong', { maxSweeps: 5 })).toThrow(
      /\[ping-pong\] no fixpoint after 5 sweeps; still firing: (wrap, double-negation|double-negation, wrap)/,
    );
  });

  it('rejects a rule whose replacement has another type', () => {
    const transpose: Rule = {
      name: 'bad-transpose',
      apply: (n, b) => (n.op === 'unary' && n.fn === 'neg' ? b.permute(n.inputs[0]!, [1, 0]) : undefined),
    };
    const g = mk((b) => ({ y: b.unary('neg', b.input('x', f32(2, 3))) }));
    expect(() => rewriteGraph(g, [transpose], 'broken')).toThrow(
      /\[broken\] rule 'bad-transpose' replaced a node of type f32\[2, 3\] by one of type f32\[3, 2\]/,
    );
  });

  it('runs the verifier after the pass: a forged node of the wrong shape is caught', () => {
    // Claims f32[2, 3] but is exp of an f32[3, 2]: only the verifier can tell.
    const forge: Rule = {
      name: 'forge',
      apply: (n, b) =>
        n.op === 'unary' && n.fn === 'neg'
          ? ({ ...n, fn: 'exp', id: 1_000_000, inputs: [b.permute(n.inputs[0]!, [1, 0])] } as Node)
          : undefined,
    };
    const g = mk((b) => ({ y: b.unary('neg', b.input('x', f32(2, 3))) }));
    expect(() => rewriteGraph(g, [forge], 'forged')).toThrow(
      /\[forged\] node 1000000 records f32\[2, 3\] but its op gives f32\[3, 2\]/,
    );
  });
});

// ---------------------------------------------------------------- constant folding

describe('fold-constants', () => {
  it('folds elementwise ops of broadcast constants into a broadcast constant', () => {
    const g = mk((b) => ({
      y: b.bin('add', b.unary('exp', b.full(0, 'f32', [2, 3])), b.bin('mul', b.const(2, 'f32'), 3)),
    }));
    const r = rewrite(g, FOLD_RULES);
    expect(r.before).toContain('exp(');
    expect(r.after).toBe(
      printed(
        '%0 = const[7]() : f32[]',
        '%1 = reshape(%0) : f32[1, 1]',
        '%2 = expand(%1) : f32[2, 3]  // y',
        'output y = %2',
      ),
    );
    // The folded 2 * 3 is a scalar whose reshape/expand (from b.bin's broadcast) is already canonical.
    expect(r.fired).toEqual({ 'fold-elementwise': 3 });
  });

  it('folds with the interpreter semantics: i32 wrapping, floor division and modulo, ties to even, NaN', () => {
    const folded = (build: (b: IRBuilder) => Node): string =>
      rewrite(
        mk((b) => ({ y: build(b) })),
        FOLD_RULES,
      ).after.split('\n')[1]!;
    expect(folded((b) => b.bin('add', b.const(2147483647, 'i32'), 1))).toBe(
      '  %0 = const[-2147483648]() : i32[]  // y',
    );
    expect(folded((b) => b.bin('div', b.const(-7, 'i32'), 2))).toBe('  %0 = const[-4]() : i32[]  // y');
    expect(folded((b) => b.bin('div', b.const(-7, 'i32'), 0))).toBe('  %0 = const[0]() : i32[]  // y');
    expect(folded((b) => b.bin('mod', b.const(-7, 'i32'), 3))).toBe('  %0 = const[2]() : i32[]  // y');
    expect(folded((b) => b.bin('mod', b.const(7, 'f32'), -3))).toBe('  %0 = const[-2]() : f32[]  // y');
    expect(folded((b) => b.unary('round', b.const(2.5, 'f32')))).toBe('  %0 = const[2]() : f32[]  // y');
    expect(folded((b) => b.bin('max', b.const(NaN, 'f32'), 1))).toBe('  %0 = const[NaN]() : f32[]  // y');
    expect(folded((b) => b.bin('pow', b.const(1, 'f32'), NaN))).toBe('  %0 = const[NaN]() : f32[]  // y');
    expect(folded((b) => b.unary('neg', b.const(0, 'f32')))).toBe('  %0 = const[-0]() : f32[]  // y');
    expect(folded((b) => b.cast(b.const(-2.7, 'f32'), 'i32'))).toBe('  %0 = const[-2]() : i32[]  // y');
    expect(folded((b) => b.cast(b.const(NaN, 'f32'), 'bool'))).toBe('  %0 = const[1]() : bool[]  // y');
    expect(folded((b) => b.bin('lt', b.const(1, 'f32'), 2))).toBe('  %0 = const[1]() : bool[]  // y');
    expect(folded((b) => b.where(b.const(0, 'bool'), b.const(1, 'i32'), b.const(5, 'i32')))).toBe(
      '  %0 = const[5]() : i32[]  // y',
    );
  });

  it('agrees with the interpreter on every unary and binary op (property)', () => {
    const values = fc.oneof(
      fc.double({ noDefaultInfinity: false }),
      fc.constantFrom(0, -0, 1, -1, 0.5, 2.5, -2.5, NaN, Infinity, -Infinity),
      fc.integer({ min: -2147483648, max: 2147483647 }),
    );
    const unaryOk = (fn: UnaryFn, t: DType) =>
      fn === 'not' ? t === 'bool' : fn === 'neg' || fn === 'abs' ? t !== 'bool' : t === 'f32';
    const binaryOk = (fn: BinaryFn, t: DType) =>
      fn === 'and' || fn === 'or' ? t === 'bool' : fn === 'eq' || fn === 'ne' || t !== 'bool';
    fc.assert(
      fc.property(
        fc.constantFrom<DType>('f32', 'i32', 'bool'),
        fc.constantFrom<UnaryFn | BinaryFn>(...UNARY_FNS, ...BINARY_FNS),
        values,
        values,
        (t, fn, x, y) => {
          const isUnary = (UNARY_FNS as readonly string[]).includes(fn);
          if (isUnary ? !unaryOk(fn as UnaryFn, t) : !binaryOk(fn as BinaryFn, t)) return;
          const g = mk((b) => {
            const a = b.full(x, t, [2]);
            const c = b.full(y, t, [2]);
            return { y: isUnary ? b.unary(fn as UnaryFn, a) : b.binary(fn as BinaryFn, a, c) };
          });
          const r = rewriteGraph(g, FOLD_RULES, 'fold');
          expect(topoSort([r.graph.outputs[0]!.node]).every((n) => n.op !== 'unary' && n.op !== 'binary')).toBe(true);
          const env = { inputs: new Map(), params: new Map() };
          const [before] = evaluate([g.outputs[0]!.node], env);
          const [after] = evaluate([r.graph.outputs[0]!.node], env);
          // Bit-exact, including the sign of zero.
          expect([...after!.data].map((v) => Object.is(v, before!.data[0]))).toEqual([true, true]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('folds casts and where, but never iota, rand or inputs', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(3));
      const io = b.iota([3], 0);
      return {
        c: b.cast(b.full(3.7, 'f32', [3]), 'i32'),
        w: b.where(b.full(1, 'bool', [3]), x, b.full(2, 'f32', [3])),
        i: b.bin('add', io, 1),
        r: b.bin('mul', b.rand([3], b.const(1, 'i32'), 0), 0),
      };
    });
    const r = rewrite(g, FOLD_RULES);
    expect(r.after).toContain('const[3]() : i32[]');
    expect(r.after).toContain('where('); // a constant condition alone is simplify's business
    expect(r.after).toContain('add(');
    expect(r.after).toContain('mul(');
    expect(r.fired).toEqual({ 'fold-elementwise': 1 });
  });

  it('folds reductions of constants over static axes: sum c*n, prod c^n, max/min c, empty axes', () => {
    const g = mk((b) => {
      const c = b.full(1.5, 'f32', [2, 3, 4]);
      const k = b.full(3, 'i32', [5, 2]);
      const empty = b.full(Infinity, 'f32', [0, 3]);
      return {
        sum: b.reduce('sum', c, [0, 2]),
        prod: b.reduce('prod', c, [1]),
        max: b.reduce('max', c, [0, 1, 2]),
        isum: b.reduce('sum', k, [0]),
        iprod: b.reduce('prod', k, [0, 1]),
        esum: b.reduce('sum', empty, [0]),
        emax: b.reduce('max', empty, [0]),
        eprod: b.reduce('prod', empty, [0]),
      };
    });
    const r = rewrite(g, FOLD_RULES);
    for (const c of ['12', '3.375', '1.5', '15', '59049', '0', '-Infinity'])
      expect(r.after).toContain(`const[${c}]() : ${c === '15' || c === '59049' ? 'i32' : 'f32'}[]`);
    expect(r.after).not.toContain('reduce');
  });

  it('does not fold a sum over a symbolic axis (its size is unknown)', () => {
    const g = mk((b) => ({
      y: b.reduce('sum', b.full(2, 'f32', [B, 3]), [0]),
      m: b.reduce('max', b.full(2, 'f32', [B, 3]), [0]),
    }));
    const r = rewrite(g, FOLD_RULES);
    expect(r.after).toContain('reduce_sum[axes=[0]]');
    // max over B is not folded either: B may be 0 (max of nothing is -inf).
    expect(r.after).toContain('reduce_max[axes=[0]]');
  });

  it('folds views and data movement of constants', () => {
    const g = mk((b) => {
      const c = b.full(2, 'f32', [2, 3]);
      return {
        permute: b.permute(c, [1, 0]),
        slice: b.slice(c, [
          { start: 1, size: 1, step: 1 },
          { start: 0, size: 2, step: 2 },
        ]),
        pad: b.pad(
          c,
          [
            [1, 0],
            [0, 2],
          ],
          2,
        ),
        concat: b.concat([c, b.full(2, 'f32', [1, 3])], 0),
        gather: b.gather(c, b.input('i', i32(4)), 1),
        stop: b.stopGradient(c),
      };
    });
    const r = rewrite(g, FOLD_RULES);
    expect(r.after).toBe(
      printed(
        '%0 = input[i]() : i32[4]',
        '%1 = const[2]() : f32[]',
        '%2 = reshape(%1) : f32[1, 1]',
        '%3 = expand(%2) : f32[2, 3]  // stop',
        '%4 = expand(%2) : f32[3, 2]  // permute',
        '%5 = expand(%2) : f32[1, 2]  // slice',
        '%6 = expand(%2) : f32[3, 5]  // pad',
        '%7 = expand(%2) : f32[3, 3]  // concat',
        '%8 = expand(%2) : f32[2, 4]  // gather',
        'output permute = %4',
        'output slice = %5',
        'output pad = %6',
        'output concat = %7',
        'output gather = %8',
        'output stop = %3',
      ),
    );
  });

  it('leaves pads with another value, concats of different constants and reshaped broadcasts alone', () => {
    const g = mk((b) => {
      const c = b.full(2, 'f32', [2, 3]);
      return {
        pad: b.pad(
          c,
          [
            [1, 0],
            [0, 0],
          ],
          0,
        ),
        concat: b.concat([c, b.full(1, 'f32', [2, 3])], 0),
        canonical: c,
      };
    });
    const r = rewrite(g, FOLD_RULES);
    expect(r.after).toContain('pad[');
    expect(r.after).toContain('concat[');
    expect(r.fired).toEqual({});
  });
});

// ---------------------------------------------------------------- simplification

describe('simplify', () => {
  const x23 = (b: IRBuilder) => b.input('x', f32(2, 3));

  it('add-zero and mul-one: x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1 -> x', () => {
    const g = mk((b) => {
      const x = x23(b);
      return {
        a: b.bin('add', x, 0),
        b: b.bin('add', 0, x),
        c: b.bin('sub', x, 0),
        d: b.bin('mul', x, 1),
        e: b.bin('mul', b.full(1, 'f32', [2, 3]), x),
        f: b.bin('div', x, 1),
      };
    });
    const r = rewrite(g, rulesNamed('add-zero', 'mul-one'));
    expect(r.after).toBe(
      printed('%0 = input[x]() : f32[2, 3]  // a', ...['a', 'b', 'c', 'd', 'e', 'f'].map((o) => `output ${o} = %0`)),
    );
    expect(r.fired).toEqual({ 'add-zero': 3, 'mul-one': 3 });
  });

  it('sub-self: x - x -> 0 (assumes x finite), also on i32', () => {
    const g = mk((b) => ({
      f: b.binary('sub', x23(b), x23(b)),
      i: b.binary('sub', b.input('k', i32(2)), b.input('k', i32(2))),
    }));
    const r = rewrite(g, rulesNamed('sub-self'));
    expect(r.before).toContain('sub(%0, %0)');
    expect(r.after).toContain('const[0]() : f32[]');
    expect(r.after).toContain('const[0]() : i32[]');
    expect(r.after).not.toContain('sub');
  });

  it('mul-neg-one: x * -1 -> neg x; mul-zero-int: k * 0 -> 0 on i32 only', () => {
    const g = mk((b) => {
      const x = x23(b);
      const k = b.input('k', i32(2));
      return { n: b.bin('mul', x, -1), m: b.bin('mul', -1, k), z: b.bin('mul', k, 0), f: b.bin('mul', x, 0) };
    });
    const r = rewrite(g, rulesNamed('mul-neg-one', 'mul-zero-int'));
    expect(r.after).toContain('neg(%0) : f32[2, 3]  // n');
    expect(r.after).toContain('neg(%1) : i32[2]  // m');
    expect(r.after).toMatch(/expand\(%\d+\) : i32\[2\] {2}\/\/ z/);
    expect(r.after).toMatch(/mul\(%0, %\d+\) : f32\[2, 3\] {2}\/\/ f/);
  });

  it('div-pow2: x / 4 -> x * 0.25 (exact); x / 3 stays a division', () => {
    const g = mk((b) => ({ q: b.bin('div', x23(b), 4), t: b.bin('div', x23(b), 3) }));
    const r = rewrite(g, rulesNamed('div-pow2'));
    expect(r.after).toContain('const[0.25]()');
    expect(r.after).toMatch(/mul\(%0, %\d+\) : f32\[2, 3\] {2}\/\/ q/);
    expect(r.after).toMatch(/div\(%0, %\d+\) : f32\[2, 3\] {2}\/\/ t/);
  });

  it('pow-small: pow(x, 0) -> 1, pow(x, 1) -> x, pow(x, 2) -> x * x', () => {
    const g = mk((b) => ({ p0: b.bin('pow', x23(b), 0), p1: b.bin('pow', x23(b), 1), p2: b.bin('pow', x23(b), 2) }));
    const r = rewrite(g, rulesNamed('pow-small'));
    expect(r.after).toBe(
      printed(
        '%0 = input[x]() : f32[2, 3]  // p1',
        '%1 = const[1]() : f32[]',
        '%2 = reshape(%1) : f32[1, 1]',
        '%3 = expand(%2) : f32[2, 3]  // p0',
        '%4 = mul(%0, %0) : f32[2, 3]  // p2',
        'output p0 = %3',
        'output p1 = %0',
        'output p2 = %4',
      ),
    );
  });

  it('add-neg: x + -y -> x - y, -x + y -> y - x, x - -y -> x + y', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(2));
      const y = b.input('y', f32(2));
      const ny = b.unary('neg', y);
      const nx = b.unary('neg', x);
      return { a: b.binary('add', x, ny), b: b.binary('add', nx, y), c: b.binary('sub', x, ny) };
    });
    const r = rewrite(g, rulesNamed('add-neg'));
    expect(r.after).toBe(
      printed(
        '%0 = input[x]() : f32[2]',
        '%1 = input[y]() : f32[2]',
        '%2 = sub(%0, %1) : f32[2]  // a',
        '%3 = sub(%1, %0) : f32[2]  // b',
        '%4 = add(%0, %1) : f32[2]  // c',
        'output a = %2',
        'output b = %3',
        'output c = %4',
      ),
    );
  });

  it('double-negation, exp-log (documented domain assumptions), abs-chain, round-rounded', () => {
    const g = mk((b) => {
      const x = x23(b);
      const p = b.input('p', bool(2));
      const pos = b.bin('add', b.binary('mul', x, x), 1);
      return {
        neg: b.unary('neg', b.unary('neg', x)),
        not: b.unary('not', b.unary('not', p)),
        explog: b.unary('exp', b.unary('log', pos)),
        logexp: b.unary('log', b.unary('exp', x)),
        absabs: b.unary('abs', b.unary('abs', x)),
        absneg: b.unary('abs', b.unary('neg', x)),
        floorround: b.unary('floor', b.unary('round', x)),
      };
    });
    const r = rewriteGraph(g, rulesNamed('double-negation', 'exp-log', 'abs-chain', 'round-rounded'), 'test');
    expectSameValues(g, r.graph, envFor(g), 1e-15); // exp(log(x)) and log(exp(x)) may move the last bit
    const after = printGraph(r.graph);
    for (const o of ['neg', 'logexp']) expect(after).toContain(`output ${o} = %0`);
    expect(after).toContain('output not = %1');
    expect(after).toMatch(/%(\d+) = add\(.*\/\/ explog/);
    expect(after).toMatch(/%\d+ = abs\(%0\) : f32\[2, 3\] {2}\/\/ absabs/);
    expect(after).toContain('output absneg = %');
    expect(after).not.toContain('neg(');
    expect(after).not.toContain('floor(');
    expect(Object.fromEntries(r.fired)).toEqual({
      'double-negation': 2,
      'exp-log': 2,
      'abs-chain': 2,
      'round-rounded': 1,
    });
  });

  it('idempotent, compare-self (only x < x on f32: NaN), logic-const', () => {
    const g = mk((b) => {
      const x = x23(b);
      const k = b.input('k', i32(2));
      const p = b.input('p', bool(2));
      return {
        max: b.binary('max', x, x),
        and: b.binary('and', p, p),
        lt: b.binary('lt', x, x),
        eqf: b.binary('eq', x, x),
        eqi: b.binary('eq', k, k),
        nei: b.binary('ne', k, k),
        t: b.bin('and', p, 1),
        f: b.bin('and', p, 0),
        o: b.bin('or', p, 0),
        o1: b.bin('or', 1, p),
      };
    });
    const r = rewrite(g, rulesNamed('idempotent', 'compare-self', 'logic-const'));
    expect(r.after).toContain('output max = %0');
    expect(r.after).toContain('output and = %2');
    expect(r.after).toMatch(/eq\(%0, %0\) : bool\[2, 3\] {2}\/\/ eqf/);
    expect(r.after).toContain('output t = %2');
    expect(r.after).toContain('output o = %2');
    expect(r.fired).toEqual({ idempotent: 2, 'compare-self': 3, 'logic-const': 4 });
  });

  it('where: constant condition, equal branches, negated condition, bool branches', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(2));
      const y = b.input('y', f32(2));
      const c = b.input('c', bool(2));
      return {
        t: b.where(b.full(1, 'bool', [2]), x, y),
        f: b.where(b.full(0, 'bool', [2]), x, y),
        same: b.where(c, y, y),
        not: b.where(b.unary('not', c), x, y),
        id: b.where(c, b.full(1, 'bool', [2]), b.full(0, 'bool', [2])),
        inv: b.where(c, b.full(0, 'bool', [2]), b.full(1, 'bool', [2])),
      };
    });
    const r = rewrite(g, rulesNamed('where'));
    expect(r.after).toBe(
      printed(
        '%0 = input[x]() : f32[2]  // t',
        '%1 = input[y]() : f32[2]  // f',
        '%2 = input[c]() : bool[2]  // id',
        '%3 = not(%2) : bool[2]  // inv',
        '%4 = where(%2, %1, %0) : f32[2]  // not',
        'output t = %0',
        'output f = %1',
        'output same = %1',
        'output not = %4',
        'output id = %2',
        'output inv = %3',
      ),
    );
  });

  it('where: a nested where under the opposite strict comparison (relu derivatives), NaN included', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(6));
      const p = b.input('p', f32(6));
      const q = b.input('q', f32(6));
      const zero = b.full(0, 'f32', [6]);
      const pos = b.binary('lt', zero, x);
      const neg = b.binary('lt', x, zero);
      return {
        inner: b.where(pos, b.where(neg, p, q), zero),
        outer: b.where(neg, zero, b.where(pos, q, zero)),
        kept: b.where(neg, p, b.where(pos, q, x)),
        same: b.where(pos, b.where(pos, p, q), zero),
      };
    });
    const r = rewriteGraph(g, rulesNamed('where'), 'test');
    const out = (name: string) => r.graph.outputs.find((o) => o.name === name)!.node;
    // inner and outer both become where(0 < x, q, 0), one node; kept and same are not rewritten
    expect(out('inner')).toBe(out('outer'));
    expect(out('inner').op).toBe('where');
    expect(out('inner').inputs.map((n) => n.op)).toEqual(['binary', 'input', 'expand']);
    expect(out('kept').inputs[2]!.op).toBe('where');
    expect(out('same').inputs[1]!.op).toBe('where');
    const env = {
      inputs: new Map([
        ['x', tensor('f32', [6], [NaN, -0, 0, -1, 2, Infinity])],
        ['p', tensor('f32', [6], [1, 2, 3, 4, 5, 6])],
        ['q', tensor('f32', [6], [NaN, 7, 8, 9, 10, 11])],
      ]),
      params: new Map(),
    };
    expectSameValues(g, r.graph, env);
  });

  it('cast-cast: only where the middle type loses nothing', () => {
    const g = mk((b) => {
      const p = b.input('p', bool(2));
      const k = b.input('k', i32(2));
      return {
        bif: b.cast(b.cast(p, 'i32'), 'f32'),
        bfb: b.cast(b.cast(p, 'f32'), 'bool'),
        ifb: b.cast(b.cast(k, 'f32'), 'bool'),
        ifi: b.cast(b.cast(k, 'f32'), 'i32'), // f32 rounds above 2^24: kept
      };
    });
    const r = rewrite(g, rulesNamed('cast-cast'));
    expect(r.after).toBe(
      printed(
        '%0 = input[p]() : bool[2]  // bfb',
        '%1 = input[k]() : i32[2]',
        '%2 = cast(%0) : f32[2]  // bif',
        '%3 = cast(%1) : f32[2]',
        '%4 = cast(%1) : bool[2]  // ifb',
        '%5 = cast(%3) : i32[2]  // ifi',
        'output bif = %2',
        'output bfb = %0',
        'output ifb = %4',
        'output ifi = %5',
      ),
    );
  });

  it('reshape and permute chains collapse; a permute of unit axes is a reshape', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(2, 3, 4));
      return {
        rr: b.reshape(b.reshape(b.reshape(x, [6, 4]), [24]), [4, 6]),
        back: b.reshape(b.reshape(x, [24]), [2, 3, 4]),
        pp: b.permute(b.permute(x, [1, 2, 0]), [1, 0, 2]),
        ident: b.permute(b.permute(x, [1, 2, 0]), [2, 0, 1]),
        unit: b.permute(b.reshape(x, [2, 1, 12]), [1, 0, 2]),
      };
    });
    const r = rewrite(g, rulesNamed('reshape-reshape', 'permute-permute', 'permute-unit-axes'));
    expect(r.after).toBe(
      printed(
        '%0 = input[x]() : f32[2, 3, 4]  // back',
        '%1 = reshape(%0) : f32[4, 6]  // rr',
        '%2 = permute[[2, 1, 0]](%0) : f32[4, 3, 2]  // pp',
        '%3 = reshape(%0) : f32[1, 2, 12]  // unit',
        'output rr = %1',
        'output back = %0',
        'output pp = %2',
        'output ident = %0',
        'output unit = %3',
      ),
    );
  });

  it('expand-expand, slice-slice, pad-pad (same value only)', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(1, 10));
      return {
        ee: b.expand(b.expand(b.reshape(x, [1, 1, 10]), [3, 1, 10]), [3, 2, 10]),
        ss: b.slice(
          b.slice(x, [
            { start: 0, size: 1, step: 1 },
            { start: 1, size: 4, step: 2 },
          ]),
          [
            { start: 0, size: 1, step: 1 },
            { start: 1, size: 2, step: 2 },
          ],
        ),
        pp: b.pad(
          b.pad(
            x,
            [
              [0, 1],
              [2, 0],
            ],
            1,
          ),
          [
            [1, 0],
            [0, 3],
          ],
          1,
        ),
        mixed: b.pad(
          b.pad(
            x,
            [
              [0, 1],
              [2, 0],
            ],
            1,
          ),
          [
            [1, 0],
            [0, 3],
          ],
          0,
        ),
      };
    });
    const r = rewrite(g, rulesNamed('expand-expand', 'slice-slice', 'pad-pad'));
    expect(r.after).toContain('expand(%1) : f32[3, 2, 10]  // ee');
    expect(r.after).toContain('slice[[0:+1:1, 3:+2:4]](%0) : f32[1, 2]  // ss');
    expect(r.after).toContain('pad[[[1, 1], [2, 3]] value=1](%0) : f32[3, 15]  // pp');
    expect(r.after).toMatch(/pad\[\[\[1, 0\], \[0, 3\]\] value=0\]\(%\d+\) : f32\[3, 15\] {2}\/\/ mixed/);
    expect(r.fired).toEqual({ 'expand-expand': 1, 'slice-slice': 1, 'pad-pad': 1 });
  });

  it('reduce-unit-axes, reduce-reduce (max/min and i32 only), reduce-of-expand (max/min)', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(2, 1, 3));
      const k = b.input('k', i32(2, 3));
      const e = b.expand(x, [2, 4, 3]);
      return {
        unit: b.reduce('sum', x, [1]),
        part: b.reduce('max', x, [0, 1]),
        mm: b.reduce('max', b.reduce('max', x, [0]), [2]),
        ss: b.reduce('sum', b.reduce('sum', x, [0]), [2]), // f32 sums keep their order
        ii: b.reduce('sum', b.reduce('sum', k, [0]), [1]),
        me: b.reduce('min', e, [1, 2]),
      };
    });
    const r = rewrite(g, rulesNamed('reduce-unit-axes', 'reduce-reduce', 'reduce-of-expand'));
    expect(r.after).toBe(
      printed(
        '%0 = input[x]() : f32[2, 1, 3]  // unit',
        '%1 = input[k]() : i32[2, 3]',
        '%2 = reduce_max[axes=[0]](%0) : f32[1, 1, 3]  // part',
        '%3 = reduce_max[axes=[0, 2]](%0) : f32[1, 1, 1]  // mm',
        '%4 = reduce_sum[axes=[0]](%0) : f32[1, 1, 3]',
        '%5 = reduce_sum[axes=[2]](%4) : f32[1, 1, 1]  // ss',
        '%6 = reduce_sum[axes=[0, 1]](%1) : i32[1, 1]  // ii',
        '%7 = reduce_min[axes=[2]](%0) : f32[2, 1, 1]  // me',
        'output unit = %0',
        'output part = %2',
        'output mm = %3',
        'output ss = %5',
        'output ii = %6',
        'output me = %7',
      ),
    );
  });

  it('reduce-through-reshape: only when the reshape leaves the reduced axes whole', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(B, 6, 5));
      const split = b.reshape(x, [B, 2, 3, 5]);
      return {
        last: b.reduce('sum', split, [3]), // 5 is an axis of x: moves
        first: b.reduce('max', split, [0, 3]), // B and 5 too
        inner: b.reduce('sum', split, [2]), // 3 is part of x's 6: stays
      };
    });
    const r = rewrite(g, rulesNamed('reduce-through-reshape'));
    expect(r.after).toBe(
      printed(
        '%0 = input[x]() : f32[B, 6, 5]',
        '%1 = reshape(%0) : f32[B, 2, 3, 5]',
        '%2 = reduce_sum[axes=[2]](%0) : f32[B, 6, 1]',
        '%3 = reshape(%2) : f32[B, 2, 3, 1]  // last',
        '%4 = reduce_max[axes=[0, 2]](%0) : f32[1, 6, 1]',
        '%5 = reshape(%4) : f32[1, 2, 3, 1]  // first',
        '%6 = reduce_sum[axes=[2]](%1) : f32[B, 2, 1, 5]  // inner',
        'output last = %3',
        'output first = %5',
        'output inner = %6',
      ),
    );
  });

  it('strip-stop-gradient is its own pass', () => {
    const g = mk((b) => ({ y: b.unary('exp', b.stopGradient(b.input('x', f32(2)))) }));
    expect(rewrite(g, SIMPLIFY_RULES).after).toContain('stop_gradient');
    expect(rewrite(g, STRIP_STOP_GRADIENT_RULES).after).toBe(
      printed('%0 = input[x]() : f32[2]', '%1 = exp(%0) : f32[2]  // y', 'output y = %1'),
    );
  });

  it('keeps symbolic shapes valid', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(B, 1, 4));
      return {
        y: b.reduce('sum', b.permute(b.reshape(b.bin('mul', x, 1), [B, 4, 1]), [0, 2, 1]), [1]),
        z: b.slice(
          b.slice(x, [
            { start: 0, size: B, step: 1 },
            { start: 0, size: 1, step: 1 },
            { start: 1, size: 3, step: 1 },
          ]),
          [
            { start: 0, size: B, step: 1 },
            { start: 0, size: 1, step: 1 },
            { start: 1, size: 1, step: 2 },
          ],
        ),
      };
    });
    const r = rewrite(g, SIMPLIFY_RULES);
    expect(r.after).toBe(
      printed(
        '%0 = input[x]() : f32[B, 1, 4]  // y',
        '%1 = slice[[0:+B:1, 0:+1:1, 2:+1:2]](%0) : f32[B, 1, 1]  // z',
        'output y = %0',
        'output z = %1',
      ),
    );
  });
});

// ---------------------------------------------------------------- pipeline

describe('optimizeGraph', () => {
  it('runs the passes in order, to a fixpoint, and logs each', () => {
    const g = mk((b) => {
      const x = b.input('x', f32(2));
      const w = b.param('w', f32(2));
      const one = b.bin('sub', b.const(3, 'f32'), 2); // folds to 1, then x * 1 -> x
      const zero = b.binary('sub', w, w); // simplifies to 0, then exp(0) folds to 1 in round 2
      return { y: b.binary('mul', b.bin('mul', b.stopGradient(x), one), b.unary('exp', zero)) };
    });
    const { graph, log } = optimizeGraph(g);
    expectSameValues(g, graph);
    expect(printGraph(graph)).toBe(
      printed('%0 = input[x]() : f32[2]  // y', '%1 = param[w]() : f32[2]', 'output y = %0'),
    );
    expect(log.map((r) => r.pass)).toEqual([
      'cse-dce',
      'strip-stop-gradient',
      'fold-constants',
      'simplify',
      'fold-constants',
      'simplify',
      'fold-constants',
      'simplify',
    ]);
    expect(log[0]).toMatchObject({ pass: 'cse-dce', nodesBefore: log[0]!.nodesAfter, fired: {} });
    expect(log[1]!.fired).toEqual({ 'strip-stop-gradient': 1 });
    expect(log.at(-1)!.nodesAfter).toBe(2);
    expect(formatPassLog(log)).toMatch(
      /^cse-dce {14}\d+ -> \d+\nstrip-stop-gradient {2}\d+ -> \d+ {2}strip-stop-gradient x1\nfold-constants {7}\d+ -> \d+ {2}fold-/,
    );
  });

  it('verifies after every pass (errors name the pass)', () => {
    const g: Graph = { ...mk((b) => ({ y: b.input('x', f32(2)) })), inputs: [] };
    expect(() => optimizeGraph(g)).toThrow(/\[cse-dce\] input 'x' is used but not declared/);
  });
});

// ---------------------------------------------------------------- differential

/** The graph plus `loss` (the sum of its first output) and the gradients of loss by every f32 leaf. */
function withGradients(r: RandomGraph): Graph {
  const g = r.graph;
  const b = g.builder;
  const out = g.outputs[0]!.node;
  const loss = b.reshape(
    b.reduce(
      'sum',
      out,
      out.shape.map((_d, i) => i),
    ),
    [],
  );
  const names = (ns: readonly { name: string; dtype: DType }[]) =>
    ns.filter((n) => n.dtype === 'f32').map((n) => n.name);
  return gradientGraph(
    { ...g, outputs: [...g.outputs, { name: 'loss', node: loss }] },
    { of: 'loss', params: names(g.params), inputs: names(g.inputs) },
  );
}

describe('differential: optimized graphs compute the same values', () => {
  it('evalClose compares with NaN equality and a relative tolerance', () => {
    const t = (...v: number[]) => tensor('f32', [v.length], v);
    expect(evalClose(t(1, NaN), t(1, NaN), 1e-9)).toBe(true);
    expect(evalClose(t(1e6), t(1e6 + 1e-4), 1e-9)).toBe(true);
    expect(evalClose(t(1e6), t(1e6 + 1e-2), 1e-9)).toBe(false);
    expect(evalClose(t(NaN), t(0), 1e-9)).toBe(false);
    expect(evalClose(t(1, 2), tensor('f32', [1, 2], [1, 2]), 1e-9)).toBe(false);
    expect(mismatch(tensor('i32', [1], [1]), tensor('i32', [1], [2]), 1)).toBe('element 0: 1 vs 2');
  });

  it('on 300 random graphs and their gradient graphs', () => {
    let fired = 0;
    fc.assert(
      fc.property(arbGraph(), (r) => {
        const env = { inputs: r.inputs, params: r.params, dims: r.dims };
        for (const g of [r.graph, withGradients(r)]) {
          const { graph, log } = optimizeGraph(g);
          expectSameValues(g, graph, env, 1e-9);
          fired += log.reduce((a, p) => a + Object.keys(p.fired).length, 0);
        }
      }),
      { numRuns: 300 },
    );
    expect(fired).toBeGreaterThan(300); // the generator does exercise the rules
  });

  it('catches plausible rule bugs (the harness has teeth)', () => {
    const bugs: Rule[] = [
      {
        // Canonical order applied to sub and div as if they commuted.
        name: 'sub-div-commute',
        apply: (n, b) =>
          n.op === 'binary' && (n.fn === 'sub' || n.fn === 'div') && n.inputs[0]!.id > n.inputs[1]!.id
            ? b.binary(n.fn, n.inputs[1]!, n.inputs[0]!)
            : undefined,
      },
      {
        // permute(permute(x, p), q) composed the wrong way round (q[p[i]] instead of p[q[i]]).
        name: 'permute-compose-backwards',
        apply: (n, b) => {
          const inner = n.inputs[0];
          if (n.op !== 'permute' || inner?.op !== 'permute') return undefined;
          return b.permute(
            inner.inputs[0]!,
            inner.perm.map((p) => n.perm[p]!),
          );
        },
      },
    ];
    for (const bug of bugs) {
      let caught = 0;
      for (let s = 0; s < 200; s++) {
        const r = generateGraph({ seed: s, steps: 20, dataSeed: s });
        let wrong: Graph;
        try {
          wrong = rewriteGraph(r.graph, [bug, ...SIMPLIFY_RULES], bug.name).graph;
        } catch (e) {
          if (!(e instanceof IRError)) throw e;
          caught++; // the engine's type check or the verifier
          continue;
        }
        const before = evaluate(
          r.graph.outputs.map((o) => o.node),
          r,
        );
        const after = evaluate(
          wrong.outputs.map((o) => o.node),
          r,
        );
        if (before.some((t, i) => !evalClose(t, after[i]!, 1e-9))) caught++;
      }
      expect(caught, bug.name).toBeGreaterThan(0);
    }
  });
});
