// The wasm code generator against the kernel interpreter (the oracle): every
// example's forward pass, gradients and training steps, random graphs, odd
// sizes, and golden WAT of three small kernels. Each program also runs with
// every kernel split into random sub-ranges [begin, end).
//
// Tolerances (relative, absolute below magnitude 1, as `mismatch` measures):
// the interpreter computes in float64, the kernels in float32, so
// - 1e-4 for forward passes and gradients: f32 sums of up to a few hundred
//   terms (about 2^-24 * sqrt(n) relative each) and the math library's
//   1-2 ulp (targets/wasm/math.ts) through a few ops;
// - 2e-3 for training steps: Adam divides by sqrt(v) + eps, which amplifies
//   the gradients' f32 error for tiny second moments;
// - 1e-3 on random graphs: chains of up to 20 ops, clamped to |x| <= 8, with
//   sums of up to 384 terms and transcendental functions in between.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import type { RefTensor } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/ir.js';
import { IRBuilder } from '../../compiler/ir.js';
import { vdtype } from '../../compiler/kernel/abi.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import type { IExpr, Kernel, KernelProgram, Stage, VExpr } from '../../compiler/kernel/kir.js';
import { planMatmul } from '../../compiler/kernel/matmul-plan.js';
import type { BinaryFn, UnaryFn } from '../../compiler/ir.js';
import type { DType } from '../../compiler/types.js';
import { compileGraph } from '../../compiler/compile.js';
import { initialState, stepScalars } from '../../compiler/train-reference.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { loadKilnFile } from '../../dsl/frontend.js';
import { type Shape, sym } from '../../compiler/types.js';
import { readWasmMemory } from '../../runtime/layout.js';
import { buildWasmModule } from '../../targets/wasm/codegen.js';
import { coalesceShortInner } from '../../targets/wasm/coalesce.js';
import { probeRelaxedSimd } from '../../targets/wasm/features.js';
import { planVectors } from '../../targets/wasm/simd.js';
import { expectGolden } from '../golden.js';
import { arbGraph, mismatch } from '../helpers/random-graph.js';
import { runWasmProgram } from '../helpers/wasm-exec.js';
import { dimsOf, randomTensors } from '../helpers/random-tensors.js';
import { lcg } from '../runtime/helpers.js';

const RELAXED = probeRelaxedSimd();

const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));

interface Case {
  readonly program: KernelProgram;
  readonly inputs: ReadonlyMap<string, RefTensor>;
  readonly params: ReadonlyMap<string, RefTensor>;
  readonly dims: ReadonlyMap<string, number>;
  readonly scalars?: ReadonlyMap<string, number>;
}

/**
 * Runs `c` through the interpreter and the wasm module (whole ranges, then
 * random sub-ranges) and returns the first disagreement beyond `tol`.
 */
function disagreement(c: Case, tol: number, seed: number, opts: { relaxed?: boolean } = {}): string | undefined {
  const interpParams = new Map(c.params);
  const want = runProgram(c.program, {
    inputs: c.inputs,
    params: interpParams,
    dims: c.dims,
    ...(c.scalars && { scalars: c.scalars }),
  });
  const mod = buildWasmModule([{ prefix: 'p', program: c.program }], {
    relaxedSimd: opts.relaxed ?? false,
    sharedMemory: false,
  });
  const env = { inputs: c.inputs, params: c.params, dims: c.dims, ...(c.scalars && { scalars: c.scalars }) };
  for (const pieces of [undefined, { rng: lcg(seed), max: 3 }]) {
    const got = runWasmProgram(mod, 'p', c.program, env, pieces ? { pieces } : {});
    const how = pieces ? 'in sub-ranges' : 'whole';
    for (const [name, t] of want) {
      const m = mismatch(got.outputs.get(name)!, t, tol);
      if (m) return `output ${name} (${how}): ${m}`;
    }
    for (const [name, t] of interpParams) {
      const m = mismatch(got.params.get(name)!, t, tol);
      if (m) return `param ${name} (${how}): ${m}`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- examples

describe.each(EXAMPLES)('%s: wasm kernels vs the kernel interpreter', (file) => {
  const { result } = loadKilnFile(file);
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;

  it.each([1, 3, 5])('forward, batch %i', (b) => {
    const dims = new Map([...model.symbolicDims].map((s) => [s, b]));
    const g = model.lower({ training: false });
    const inputs = randomTensors(model.inputs, dims, 1 + b);
    const params = randomTensors(model.params, dims, 2 + b);
    const c = {
      program: compileGraph(g).fusion.program,
      inputs,
      params,
      dims: dimsOf(g, new Map([...inputs, ...params])),
    };
    expect(disagreement(c, 1e-4, b)).toBeUndefined();
  });

  it('gradient', () => {
    const dims = new Map([...model.symbolicDims].map((s) => [s, 3]));
    const g = gradientGraph(model.lower({ training: false }), {
      of: train.minimize,
      params: model.params.filter((p) => p.type.dtype === 'f32').map((p) => p.name),
      inputs: [],
    });
    const inputs = randomTensors(model.inputs, dims, 3);
    const params = randomTensors(model.params, dims, 4);
    const c = {
      program: compileGraph(g).fusion.program,
      inputs,
      params,
      dims: dimsOf(g, new Map([...inputs, ...params])),
    };
    expect(disagreement(c, 1e-4, 7)).toBeUndefined();
  });

  it('training step', () => {
    const dims = new Map([...model.symbolicDims].map((s) => [s, 4]));
    const step = buildTrainStep(model, train);
    const params = new Map([...randomTensors(model.params, dims, 5), ...initialState(step)]);
    const inputs = randomTensors(model.inputs, dims, 11);
    const scalars = new Map(Object.entries(stepScalars(step, 1)));
    if (step.graph.inputs.some((n) => n.name === '@seed')) scalars.set('@seed', 7);
    const program = compileGraph(step.graph).fusion.program;
    const c = { program, inputs, params, scalars, dims: dimsOf(step.graph, new Map([...inputs, ...params])) };
    expect(disagreement(c, 2e-3, 9)).toBeUndefined();
  });
});

// ---------------------------------------------------------------- random graphs

describe('random graphs', () => {
  it('agree with the kernel interpreter on 120 random graphs', () => {
    fc.assert(
      fc.property(arbGraph(), (r) => {
        const program = compileGraph(r.graph).fusion.program;
        const inputs = new Map([...r.inputs].map(([k, t]) => [k, { ...t, data: t.data.map(Math.fround) }]));
        const params = new Map([...r.params].map(([k, t]) => [k, { ...t, data: t.data.map(Math.fround) }]));
        const m = disagreement({ program, inputs, params, dims: r.dims }, 1e-3, 3);
        if (m) throw new Error(m);
      }),
      { numRuns: 120, seed: 20261124 },
    );
  });
});

// ---------------------------------------------------------------- odd sizes

const f32 = (shape: Shape) => ({ dtype: 'f32' as const, shape });

/** A graph from a builder callback: its inputs (x0, x1, ...) and one output `y`. */
function graphOf(
  shapes: readonly Shape[],
  f: (b: IRBuilder, xs: ReturnType<IRBuilder['input']>[]) => ReturnType<IRBuilder['input']>,
): Graph {
  const b = new IRBuilder();
  const xs = shapes.map((s, i) => b.input(`x${i}`, f32(s)));
  return { builder: b, inputs: xs as Graph['inputs'], params: [], outputs: [{ name: 'y', node: f(b, xs) }] };
}

function runGraph(
  g: Graph,
  dims: ReadonlyMap<string, number>,
  tol: number,
  seed: number,
  relaxed = false,
): string | undefined {
  const inputs = randomTensors(
    g.inputs.map((n) => ({ name: n.name, type: { dtype: n.dtype, shape: n.shape } })),
    dims,
    seed,
  );
  return disagreement({ program: compileGraph(g).fusion.program, inputs, params: new Map(), dims }, tol, seed, {
    relaxed,
  });
}

const B = sym('B');

describe('odd sizes', () => {
  it.each([1, 3, 7, 129])('elementwise chain and reductions over %i elements', (n) => {
    const chain = graphOf([[n], [n]], (b, [x, y]) =>
      b.bin(
        'add',
        b.binary('mul', b.unary('tanh', x!), b.unary('exp', y!)),
        b.unary('sqrt', b.bin('add', b.binary('mul', x!, x!), 1)),
      ),
    );
    expect(runGraph(chain, new Map(), 1e-5, n)).toBeUndefined();
    for (const fn of ['sum', 'max', 'min'] as const) {
      const red = graphOf([[3, n]], (b, [x]) => b.reduce(fn, b.unary('sin', x!), [1]));
      expect(runGraph(red, new Map(), 1e-5, n), fn).toBeUndefined();
      const col = graphOf([[n, 5]], (b, [x]) => b.reduce(fn, x!, [0]));
      expect(runGraph(col, new Map(), 1e-5, n), `${fn} over columns`).toBeUndefined();
    }
  });

  it.each([1, 3, 7, 129])('row softmax of width %i, batch 1, 3, 5', (n) => {
    for (const batch of [1, 3, 5]) {
      const g = graphOf([[B, n]], (b, [x]) => {
        const m = b.reduce('max', x!, [1]);
        const e = b.unary('exp', b.binary('sub', x!, b.expand(m, [B, n])));
        return b.binary('div', e, b.expand(b.reduce('sum', e, [1]), [B, n]));
      });
      expect(runGraph(g, new Map([['B', batch]]), 1e-5, n + batch)).toBeUndefined();
    }
  });

  const sizes = [1, 3, 7, 129];
  it.each(sizes.flatMap((m) => sizes.map((n) => [m, n] as const)))(
    'matmul %i x 7 @ 7 x %i with bias and relu',
    (m, n) => {
      const g = graphOf([[m, 7], [7, n], [n]], (b, [x, w, bias]) =>
        b.bin('max', b.bin('add', b.matmul(x!, w!), bias!), 0),
      );
      expect(runGraph(g, new Map(), 1e-5, m * 131 + n)).toBeUndefined();
    },
  );

  it.each([
    [1, 1, 1],
    [3, 129, 7],
    [129, 3, 129],
    [5, 64, 33],
    [66, 17, 40],
  ])('matmul %i x %i @ %i x ... with transposed operands (A^T, B^T), batched', (m, k, n) => {
    const cases: [string, Graph][] = [
      [
        'A^T B',
        graphOf(
          [
            [k, m],
            [k, n],
          ],
          (b, [x, w]) => b.matmul(b.permute(x!, [1, 0]), w!),
        ),
      ],
      [
        'A B^T',
        graphOf(
          [
            [m, k],
            [n, k],
          ],
          (b, [x, w]) => b.matmul(x!, b.permute(w!, [1, 0])),
        ),
      ],
      [
        'A^T B^T',
        graphOf(
          [
            [k, m],
            [n, k],
          ],
          (b, [x, w]) => b.matmul(b.permute(x!, [1, 0]), b.permute(w!, [1, 0])),
        ),
      ],
      [
        'batched',
        graphOf(
          [
            [3, m, k],
            [3, k, n],
          ],
          (b, [x, w]) => b.matmul(x!, w!),
        ),
      ],
      [
        'batched, B broadcast',
        graphOf(
          [
            [B, m, k],
            [k, n],
          ],
          (b, [x, w]) => b.matmul(x!, b.expand(b.reshape(w!, [1, k, n]), [B, k, n])),
        ),
      ],
    ];
    for (const [what, g] of cases) expect(runGraph(g, new Map([['B', 2]]), 1e-4, m + k + n), what).toBeUndefined();
  });

  it('random matmul shapes, layouts and epilogues through the register-blocked template', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 2, max: 70 }),
          k: fc.integer({ min: 2, max: 40 }),
          n: fc.integer({ min: 8, max: 40 }),
          ta: fc.boolean(),
          tb: fc.boolean(),
          batch: fc.integer({ min: 0, max: 2 }),
          epilogue: fc.constantFrom('none', 'bias-relu', 'tanh-scale'),
        }),
        ({ m, k, n, ta, tb, batch, epilogue }) => {
          const lead = batch === 0 ? [] : [batch + 1];
          const aShape = ta ? [...lead, k, m] : [...lead, m, k];
          const bShape = tb ? [...lead, n, k] : [...lead, k, n];
          const swap = (x: Parameters<IRBuilder['permute']>[0], b: IRBuilder) =>
            b.permute(x, lead.length === 0 ? [1, 0] : [0, 2, 1]);
          const g = graphOf([aShape, bShape, [n]], (b, [x, w, bias]) => {
            const y = b.matmul(ta ? swap(x!, b) : x!, tb ? swap(w!, b) : w!);
            if (epilogue === 'bias-relu') return b.bin('max', b.bin('add', y, bias!), 0);
            if (epilogue === 'tanh-scale') return b.bin('mul', b.unary('tanh', y), 0.5);
            return y;
          });
          const program = compileGraph(g).fusion.program;
          expect(program.kernels.some((kk) => planMatmul(kk) !== undefined)).toBe(true);
          const msg = runGraph(g, new Map(), 1e-4, m * 7 + n);
          if (msg) throw new Error(msg);
        },
      ),
      { numRuns: 40, seed: 424242 },
    );
  });

  it('a shared memory gives the same results', () => {
    const g = graphOf(
      [
        [5, 33],
        [33, 9],
      ],
      (b, [x, w]) => b.unary('tanh', b.matmul(x!, w!)),
    );
    const program = compileGraph(g).fusion.program;
    const inputs = randomTensors(
      g.inputs.map((n) => ({ name: n.name, type: { dtype: n.dtype, shape: n.shape } })),
      new Map(),
      5,
    );
    const want = runProgram(program, { inputs, params: new Map() });
    const mod = buildWasmModule([{ prefix: 'p', program }], { relaxedSimd: false, sharedMemory: true, maxPages: 1024 });
    const got = runWasmProgram(
      mod,
      'p',
      program,
      { inputs, params: new Map(), dims: new Map() },
      { shared: true, maxPages: 1024 },
    );
    expect(mismatch(got.outputs.get('y')!, want.get('y')!, 1e-5)).toBeUndefined();
  });

  it.runIf(RELAXED)('relaxed SIMD (fused multiply-add) agrees too', () => {
    const g = graphOf([[67, 129], [129, 33], [33]], (b, [x, w, bias]) =>
      b.unary('tanh', b.bin('add', b.matmul(x!, w!), bias!)),
    );
    expect(runGraph(g, new Map(), 1e-4, 1, true)).toBeUndefined();
    const { result } = loadKilnFile('examples/attention.kiln');
    const model = result.models[0]!;
    const dims = new Map([...model.symbolicDims].map((s) => [s, 3]));
    const gg = model.lower({ training: false });
    const inputs = randomTensors(model.inputs, dims, 1);
    const params = randomTensors(model.params, dims, 2);
    const c = {
      program: compileGraph(gg).fusion.program,
      inputs,
      params,
      dims: dimsOf(gg, new Map([...inputs, ...params])),
    };
    expect(disagreement(c, 1e-4, 1, { relaxed: true })).toBeUndefined();
  });
});

// ---------------------------------------------------------------- templates and vectorisation

describe('template choice', () => {
  const mlp = (() => {
    const { result } = loadKilnFile('examples/mlp.kiln');
    const t = result.trains[0]!;
    return compileGraph(buildTrainStep(result.models[0]!, t).graph).fusion.program;
  })();

  it('every matmul kernel of the MLP training step takes the register-blocked template and a scratch area', () => {
    const mms = mlp.kernels.filter((k) => k.kind === 'matmul');
    expect(mms.length).toBeGreaterThan(0);
    for (const k of mms) expect(planMatmul(k), k.name).toBeDefined();
    const mod = buildWasmModule([{ prefix: 'step', program: mlp }], { relaxedSimd: false, sharedMemory: false });
    for (const k of mms) expect(mod.scratch.get(`step.${k.name}`)).toBe(`step_${k.name}_scratch_bytes`);
    for (const k of mlp.kernels) expect(mod.entries.get(`step.${k.name}`)).toBe(`step_${k.name}`);
  });

  it('every MLP kernel vectorises: rows of row-wise kernels, the parallel loop of column reductions', () => {
    for (const k of mlp.kernels) {
      const plan = planVectors(k);
      expect(planMatmul(k) !== undefined || plan.parallel || plan.inner.some((x) => x), k.name).toBe(true);
      if (k.kind === 'rowwise')
        expect(
          plan.inner.some((x) => x),
          k.name,
        ).toBe(true);
      if (k.kind === 'reduce' && k.parallel.length > 0) expect(plan.parallel, k.name).toBe(true);
    }
    const ew = compileGraph(graphOf([[B, 16], [16]], (b, [x, y]) => b.bin('mul', x!, y!))).fusion.program;
    expect(planVectors(ew.kernels[0]!).parallel).toBe(true);
  });

  it("a max pool's gradient coalesces its 2-point innermost loop with the next and vectorises it", () => {
    const { result } = loadKilnFile('examples/fashion_cnn.kiln');
    const t = result.trains[0]!;
    const program = compileGraph(buildTrainStep(result.models[0]!, t).graph).fusion.program;
    const short = program.kernels.filter((k) => k.parallel.length >= 3 && k.parallel.at(-1)!.extent === 2);
    expect(short.length).toBeGreaterThanOrEqual(2); // the two pools' gradients
    for (const k of short) {
      expect(planVectors(k).parallel, k.name).toBe(false);
      const merged = coalesceShortInner(k);
      expect(merged.parallel.length, k.name).toBe(k.parallel.length - 1);
      expect(planVectors(merged).parallel, k.name).toBe(true);
    }
  });

  it('falls back to the generic template for a matmul with a gathered operand', () => {
    const b = new IRBuilder();
    const x = b.input('x', f32([4, 8]));
    const idx = b.input('i', { dtype: 'i32', shape: [4] });
    const w = b.input('w', f32([8, 16]));
    const g: Graph = {
      builder: b,
      inputs: [x, idx, w] as Graph['inputs'],
      params: [],
      outputs: [{ name: 'y', node: b.matmul(b.gather(x, idx, 0), w) }],
    };
    const program = compileGraph(g).fusion.program;
    const dims = new Map<string, number>();
    const inputs = randomTensors(
      g.inputs.map((n) => ({ name: n.name, type: { dtype: n.dtype, shape: n.shape } })),
      dims,
      3,
    );
    expect(disagreement({ program, inputs, params: new Map(), dims }, 1e-5, 3)).toBeUndefined();
  });
});

// ---------------------------------------------------------------- golden WAT

describe('golden WAT', () => {
  const wat = (g: Graph) =>
    buildWasmModule([{ prefix: 'g', program: compileGraph(g).fusion.program }], {
      relaxedSimd: false,
      sharedMemory: false,
    }).text();

  it('an elementwise chain', () => {
    const g = graphOf([[B, 8], [8]], (b, [x, y]) => b.bin('mul', b.bin('add', x!, y!), b.bin('max', x!, 0)));
    expectGolden('tests/targets/golden/elementwise.wat', wat(g));
  });

  it('a row-wise softmax', () => {
    const g = graphOf([[B, 10]], (b, [x]) => {
      const m = b.reduce('max', x!, [1]);
      const e = b.unary('exp', b.binary('sub', x!, b.expand(m, [B, 10])));
      return b.binary('div', e, b.expand(b.reduce('sum', e, [1]), [B, 10]));
    });
    expectGolden('tests/targets/golden/softmax.wat', wat(g));
  });

  it('a small matmul with a bias and relu epilogue', () => {
    const g = graphOf([[B, 16], [16, 8], [8]], (b, [x, w, bias]) =>
      b.bin('max', b.bin('add', b.matmul(x!, w!), bias!), 0),
    );
    expectGolden('tests/targets/golden/matmul.wat', wat(g));
  });

  it('reports where its data ends, as the binary says (the memory base of an artifact)', () => {
    const g = graphOf(
      [
        [B, 16],
        [16, 8],
      ],
      (b, [x, w]) => b.unary('exp', b.matmul(x!, w!)),
    );
    const mod = buildWasmModule([{ prefix: 'g', program: compileGraph(g).fusion.program }], {
      relaxedSimd: false,
      sharedMemory: true,
      maxPages: 32768,
    });
    expect(mod.dataEnd).toBe(readWasmMemory(mod.binary).dataEnd);
  });
});

// ---------------------------------------------------------------- scalar semantics, hand-built kernels

describe('scalar semantics on special values (vector body and scalar tail)', () => {
  const p0: IExpr = { k: 'var', name: 'p0' };
  const ld = (buf: number, dtype: DType): VExpr => ({
    k: 'load',
    buf,
    index: p0,
    valid: { k: 'true' },
    fill: 0,
    dtype,
  });
  const COMPARE = new Set<BinaryFn>(['lt', 'le', 'eq', 'ne', 'and', 'or']);
  const un = (fn: UnaryFn, x: VExpr): VExpr => ({ k: 'unary', fn, x, dtype: fn === 'not' ? 'bool' : vdtype(x) });
  const bin = (fn: BinaryFn, a: VExpr, b: VExpr): VExpr => ({
    k: 'binary',
    fn,
    a,
    b,
    dtype: COMPARE.has(fn) ? 'bool' : vdtype(a),
  });

  /** out[i] = f(a[i], b[i]) over n elements, as one elementwise kernel (or stage-loop `shape`). */
  function check(dtype: DType, a: number[], b: number[], f: (x: VExpr, y: VExpr) => VExpr): void {
    const n = a.length;
    const value = f(ld(0, dtype), ld(1, dtype));
    const out = vdtype(value);
    const kernel: Kernel = {
      name: 'k0',
      kind: 'elementwise',
      buffers: [
        { id: 0, access: 'read' },
        { id: 1, access: 'read' },
        { id: 2, access: 'write' },
      ],
      dims: [],
      scalars: [],
      parallel: [{ name: 'p0', extent: n }],
      stages: [{ kind: 'map', loops: [], stores: [{ buf: 2, index: p0, value }] }],
      ops: [],
    };
    const program: KernelProgram = {
      buffers: [
        { id: 0, dtype, size: n, role: { kind: 'input', name: 'a' } },
        { id: 1, dtype, size: n, role: { kind: 'input', name: 'b' } },
        { id: 2, dtype: out, size: n, role: { kind: 'output', name: 'y' } },
      ],
      kernels: [kernel],
      outputs: [{ name: 'y', buf: 2, shape: [n], dtype: out }],
      assigns: [],
      scalars: [],
    };
    expect(planVectors(kernel).parallel).toBe(n >= 4);
    const t = (data: number[]) => ({ dtype, shape: [n], data: Float64Array.from(data) });
    const inputs = new Map([
      ['a', t(a)],
      ['b', t(b)],
    ]);
    expect(disagreement({ program, inputs, params: new Map(), dims: new Map() }, 1e-6, 1)).toBeUndefined();
  }

  const I32_MIN = -2147483648;
  const ia = [7, -7, 7, -7, I32_MIN, I32_MIN, 5, 0, -1, 3, 2];
  const ib = [2, 2, -2, -2, -1, 1, 0, 0, -1, -3, 31];

  it.each(['div', 'mod', 'pow', 'max', 'min', 'add', 'sub', 'mul', 'lt', 'le', 'eq', 'ne'] as const)('i32 %s', (fn) => {
    check('i32', ia, ib, (x, y) => bin(fn, x, y));
  });

  it('i32 neg and abs wrap', () => {
    check('i32', ia, ib, (x) => un('neg', x));
    check('i32', ia, ib, (x) => un('abs', x));
  });

  const fa = [0.5, -0.5, 1.5, 2.5, -2.5, 5.25, -5.25, NaN, Infinity, -Infinity, 0, -0, 1e30];
  const fb = [2, 2, -2, 0, 3, -2, 2, 1, 1, 2, -0, 0, NaN].map(Math.fround);

  it.each(['max', 'min', 'mod', 'div', 'lt', 'le', 'eq', 'ne', 'and', 'or', 'pow'] as const)('f32 %s', (fn) => {
    check('f32', fa, fb, (x, y) => bin(fn, x, y));
  });

  it.each(['round', 'floor', 'ceil', 'abs', 'neg', 'recip', 'sqrt', 'not'] as const)('f32 %s', (fn) => {
    check('f32', fa, fb, (x) => un(fn, x));
  });

  it.each(['i32', 'bool', 'f32'] as const)('casts of f32 (NaN, inf, huge) to %s', (to) => {
    check('f32', [...fa, 3e9, -3e9, 2147483520], [...fb, 0, 0, 0], (x) => ({ k: 'cast', x, dtype: to }));
  });

  it('where on f32 and i32 conditions, and rand', () => {
    check('f32', fa, fb, (x, y) => ({ k: 'where', c: bin('lt', x, y), a: x, b: y, dtype: 'f32' }));
    check('i32', ia, ib, (x, y) => ({ k: 'where', c: { k: 'cast', x, dtype: 'bool' }, a: y, b: x, dtype: 'i32' }));
    check('i32', ia, ib, (x) => ({ k: 'rand', key: x, salt: 12345, i: p0 }));
  });

  it('a value read again after a later stage stores it is read anew', () => {
    const old = ld(0, 'f32');
    const stages: Stage[] = [
      { kind: 'map', loops: [], stores: [{ buf: 1, index: p0, value: old }] },
      {
        kind: 'map',
        loops: [],
        stores: [{ buf: 0, index: p0, value: bin('add', old, { k: 'const', v: 1, dtype: 'f32' }) }],
      },
      { kind: 'map', loops: [], stores: [{ buf: 2, index: p0, value: bin('mul', old, old) }] },
    ];
    const n = 9;
    const program: KernelProgram = {
      buffers: [
        { id: 0, dtype: 'f32', size: n, role: { kind: 'param', name: 'w' } },
        { id: 1, dtype: 'f32', size: n, role: { kind: 'output', name: 'before' } },
        { id: 2, dtype: 'f32', size: n, role: { kind: 'output', name: 'after' } },
      ],
      kernels: [
        {
          name: 'k0',
          kind: 'elementwise',
          buffers: [
            { id: 0, access: 'readwrite' },
            { id: 1, access: 'write' },
            { id: 2, access: 'write' },
          ],
          dims: [],
          scalars: [],
          parallel: [{ name: 'p0', extent: n }],
          stages,
          ops: [],
        },
      ],
      outputs: [
        { name: 'before', buf: 1, shape: [n], dtype: 'f32' },
        { name: 'after', buf: 2, shape: [n], dtype: 'f32' },
      ],
      assigns: [{ target: 'w', buf: 0 }],
      scalars: [],
    };
    const params = new Map([
      ['w', { dtype: 'f32' as const, shape: [n], data: Float64Array.from({ length: n }, (_, i) => i) }],
    ]);
    expect(disagreement({ program, inputs: new Map(), params, dims: new Map() }, 0, 1)).toBeUndefined();
  });
});
