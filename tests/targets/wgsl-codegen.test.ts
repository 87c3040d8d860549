// The WGSL code generator: the ABI (bindings, uniform layout, grid), which
// template each kernel takes, the limits, golden WGSL of four small kernels,
// and on a device: odd sizes, transposed and batched matmuls, random matmul
// shapes and random graphs against the kernel interpreter.
//
// Tolerances as in wgsl-examples.test.ts: 1e-5 for single ops and short
// sums, 1e-4 for matmuls (f32 sums of up to 129 products), 1e-3 on random
// graphs (chains of up to 20 ops with sums of up to 384 terms).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RefTensor } from '../../compiler/interpret.js';
import { type Graph, IRBuilder } from '../../compiler/ir.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import type { Kernel, KernelProgram } from '../../compiler/kernel/kir.js';
import { planMatmul } from '../../compiler/kernel/matmul-plan.js';
import { compileGraph } from '../../compiler/compile.js';
import { TARGET_LIMITS } from '../../compiler/target.js';
import { initialState, stepScalars } from '../../compiler/train-reference.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { loadKilnFile } from '../../dsl/frontend.js';
import { type DType, type Shape, evalShape, sym } from '../../compiler/types.js';
import { kernelAbi } from '../../targets/wasm/abi.js';
import { type WgslOptions, generateWgsl } from '../../targets/wgsl/codegen.js';
import { layoutOf } from '../../targets/wgsl/layout.js';
import { expectGolden } from '../golden.js';
import { arbGraph, mismatch } from '../helpers/random-graph.js';
import { GpuCache, runWebGpuProgram } from '../helpers/webgpu-exec.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';
import { lcg } from '../runtime/helpers.js';

const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.kiln'))
  .map((f) => join('examples', f));

const B = sym('B');
const f32 = (shape: Shape) => ({ dtype: 'f32' as const, shape });
const webgpu = (g: Graph) => compileGraph(g, TARGET_LIMITS['webgpu']).fusion.program;

/** A graph from a builder callback: its inputs (x0, x1, ...) and one output `y`. */
function graphOf(
  shapes: readonly Shape[],
  f: (b: IRBuilder, xs: ReturnType<IRBuilder['input']>[]) => ReturnType<IRBuilder['input']>,
): Graph {
  const b = new IRBuilder();
  const xs = shapes.map((s, i) => b.input(`x${i}`, f32(s)));
  return { builder: b, inputs: xs as Graph['inputs'], params: [], outputs: [{ name: 'y', node: f(b, xs) }] };
}

const programs = new Map<string, KernelProgram>();

/** The example's training step with the webgpu limits (computed once: the middle end takes seconds on attention). */
function trainStepProgram(file: string): KernelProgram {
  const hit = programs.get(file);
  if (hit) return hit;
  const p = buildProgram(file);
  programs.set(file, p);
  return p;
}

function buildProgram(file: string): KernelProgram {
  const { result } = loadKilnFile(file);
  const t = result.trains[0]!;
  const model = result.models.find((m) => m.name === t.model)!;
  return webgpu(buildTrainStep(model, t).graph);
}

/** Bytes of workgroup memory a shader declares. */
function workgroupBytes(code: string): number {
  let n = 0;
  for (const m of code.matchAll(/var<workgroup> \w+: array<(u32|f32|i32|vec4<f32>), (\d+)>/g))
    n += Number(m[2]) * (m[1] === 'vec4<f32>' ? 16 : 4);
  return n;
}

// ---------------------------------------------------------------- ABI

describe('the ABI', () => {
  const kernel: Kernel = {
    name: 'k0',
    kind: 'elementwise',
    buffers: [
      { id: 4, access: 'read' },
      { id: 9, access: 'write' },
      { id: 4, access: 'write' },
    ],
    dims: ['N', 'M'],
    scalars: ['@lr', '@seed'],
    parallel: [{ name: 'p0', extent: { coef: 2, syms: ['N'] } }],
    stages: [
      {
        kind: 'map',
        loops: [],
        stores: [
          {
            buf: 1,
            index: { k: 'var', name: 'p0' },
            value: {
              k: 'rand',
              key: { k: 'scalar', name: '@seed', dtype: 'i32' },
              salt: 3,
              i: { k: 'var', name: 'p0' },
            },
          },
          {
            buf: 2,
            index: { k: 'var', name: 'p0' },
            value: {
              k: 'binary',
              fn: 'mul',
              a: { k: 'load', buf: 0, index: { k: 'var', name: 'p0' }, valid: { k: 'true' }, fill: 0, dtype: 'f32' },
              b: { k: 'scalar', name: '@lr', dtype: 'f32' },
              dtype: 'f32',
            },
          },
        ],
      },
    ],
    ops: [],
  };
  const w = generateWgsl(kernel);

  it('binds a program buffer once, with the union of its slots’ access', () => {
    expect(w.bindings).toEqual([
      { buf: 4, access: 'readwrite' },
      { buf: 9, access: 'readwrite' },
    ]);
    expect(w.code).toContain('@group(0) @binding(0) var<storage, read_write> b0: array<f32>;');
  });

  it('puts dims (i32) then scalars (f32, or i32 as scalarDTypes says) in a 16-byte padded uniform', () => {
    expect(w.uniform).toEqual({ binding: 2, bytes: 32 });
    expect(w.code).toMatch(
      /struct Args \{\n {2}d0: i32, \/\/ dim N\n {2}d1: i32, \/\/ dim M\n {2}s0: f32, \/\/ scalar @lr\n {2}s1: i32, \/\/ scalar @seed\n/,
    );
    // Then the fields of a split dispatch (targets/wgsl/split.ts): both bindings advance 1 element per p0.
    expect(w.code).toMatch(/ {2}pn: i32, \/\/ dim #p0n\n {2}po: i32, .*\n {2}o0: i32, .*\n {2}o1: i32, .*\n/);
    expect(w.split).toEqual({ extent: { coef: 2, syms: ['N'] }, at: 16, strides: [1, 1], step: 1 });
  });

  it('describes the grid as ceil(extent / per) per entry', () => {
    expect(w.template).toBe('generic');
    expect(w.grid).toEqual([{ extent: { coef: 2, syms: ['N'] }, per: 256, p0: true }]);
  });

  it('records how each binding advances with p0 (split dispatches), or that it is bound whole', () => {
    // By program buffer: inputs x0, x1, ... and the output.
    const strides = (g: Graph) => {
      const p = webgpu(g);
      return p.kernels.map((k) => {
        const w = generateWgsl(k);
        const name = (buf: number) => {
          const r = p.buffers.find((b) => b.id === buf)!.role;
          return r.kind === 'temp' ? `t${buf}` : r.name;
        };
        return Object.fromEntries(w.bindings.map((b, i) => [name(b.buf), w.split?.strides[i] ?? 'whole']));
      });
    };
    const mm = graphOf([[B, 16], [16, 8], [8]], (b, [x, w, bias]) => b.bin('add', b.matmul(x!, w!), bias!));
    expect(strides(mm)).toEqual([{ x0: 16, x1: 'whole', x2: 'whole', y: 8 }]);
    const bmm = graphOf(
      [
        [B, 4, 16],
        [B, 16, 8],
      ],
      (b, [x, w]) => b.matmul(x!, w!),
    );
    expect(strides(bmm)).toEqual([{ x0: 64, x1: 128, y: 32 }]);
    const col = graphOf([[B, 3]], (b, [x]) => b.reduce('sum', x!, [0]));
    expect(strides(col)).toEqual([{ x0: 'whole', y: 1 }]);
    const rows = graphOf([[B, 5]], (b, [x]) => b.reduce('max', x!, [1]));
    expect(strides(rows)).toEqual([{ x0: 5, y: 1 }]);
  });

  it('passes every example kernel’s scalars with the same types as the wasm backend', () => {
    const uniformTypes = (k: Kernel) =>
      (layoutOf(k).uniform?.fields ?? []).filter((f) => f.kind === 'scalar').map((f) => f.type);
    const wasmTypes = (k: Kernel) => [...kernelAbi(k, false).scalars.values()].map((s) => s.dtype);
    let scalars = 0;
    for (const file of EXAMPLES)
      for (const k of trainStepProgram(file).kernels) {
        expect(uniformTypes(k), `${file} ${k.name}`).toEqual(wasmTypes(k));
        scalars += k.scalars.length;
      }
    expect(scalars).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- templates and limits

describe('templates', () => {
  const mlp = trainStepProgram('examples/mlp.kiln');

  it('the MLP training step: every matmul kernel tiled, long reductions per workgroup', () => {
    const counts: Record<string, number> = {};
    for (const k of mlp.kernels) {
      const w = generateWgsl(k);
      counts[w.template] = (counts[w.template] ?? 0) + 1;
      if (planMatmul(k)) expect(w.template, k.name).toBe('matmul');
    }
    // The loss's row-wise kernel has rows of 10: one invocation per row.
    expect(counts).toEqual({ matmul: 5, reduce: 3, generic: 1 });
  });

  it('a short row stays on the generic path; a long or symbolic one takes a workgroup per row', () => {
    const softmax = (n: number | typeof B) =>
      webgpu(
        graphOf([[B, n]], (b, [x]) => {
          const e = b.unary('exp', x!);
          return b.binary('div', e, b.expand(b.reduce('sum', e, [1]), [B, n]));
        }),
      ).kernels.map((k) => generateWgsl(k).template);
    expect(softmax(10)).toContain('generic');
    expect(softmax(10)).not.toContain('rowwise');
    expect(softmax(1000)).toContain('rowwise');
  });

  it.each([
    [64, 2048],
    [32, 1024],
    [1, 16384],
  ])('every example kernel fits maxInvocations %i and %i bytes of workgroup memory', (inv, bytes) => {
    const opts: WgslOptions = { maxInvocations: inv, maxWorkgroupStorage: bytes };
    for (const file of EXAMPLES)
      for (const k of trainStepProgram(file).kernels) {
        const w = generateWgsl(k, opts);
        expect(w.workgroupSize, `${file} ${k.name}`).toBeLessThanOrEqual(inv);
        expect(w.code).toContain(`@workgroup_size(${w.workgroupSize})`);
        expect(workgroupBytes(w.code), `${file} ${k.name}`).toBeLessThanOrEqual(bytes);
      }
  });
});

// ---------------------------------------------------------------- golden WGSL

describe('golden WGSL', () => {
  const wgsl = (g: Graph) =>
    webgpu(g)
      .kernels.map((k) => generateWgsl(k).code)
      .join('\n// ----------------------------------------------------------------\n\n');

  it('an elementwise chain (the vector template: vec4 loads and stores, 4 points per invocation)', () => {
    const g = graphOf([[B, 8], [8]], (b, [x, y]) => b.bin('mul', b.bin('add', x!, y!), b.bin('max', x!, 0)));
    expectGolden('tests/targets/golden/elementwise.wgsl', wgsl(g));
  });

  it('an elementwise chain with a broadcast operand (its one scalar load shared by the 4 points)', () => {
    const g = graphOf(
      [
        [B, 8],
        [B, 1],
      ],
      (b, [x, z]) => b.bin('sub', b.unary('exp', x!), b.expand(z!, [B, 8])),
    );
    expectGolden('tests/targets/golden/elementwise-broadcast.wgsl', wgsl(g));
  });

  it('an elementwise chain over odd rows (the generic template, one point per invocation)', () => {
    const g = graphOf([[B, 7], [7]], (b, [x, y]) => b.bin('mul', b.bin('add', x!, y!), b.bin('max', x!, 0)));
    expectGolden('tests/targets/golden/elementwise-odd.wgsl', wgsl(g));
  });

  it('a row-wise softmax (a workgroup per row)', () => {
    const g = graphOf([[B, 256]], (b, [x]) => {
      const m = b.reduce('max', x!, [1]);
      const e = b.unary('exp', b.binary('sub', x!, b.expand(m, [B, 256])));
      return b.binary('div', e, b.expand(b.reduce('sum', e, [1]), [B, 256]));
    });
    expectGolden('tests/targets/golden/softmax.wgsl', wgsl(g));
  });

  it('a small matmul with a bias and relu epilogue', () => {
    const g = graphOf([[B, 16], [16, 8], [8]], (b, [x, w, bias]) =>
      b.bin('max', b.bin('add', b.matmul(x!, w!), bias!), 0),
    );
    expectGolden('tests/targets/golden/matmul.wgsl', wgsl(g));
  });

  it('a column sum over a symbolic batch', () => {
    const g = graphOf([[B, 3]], (b, [x]) => b.reduce('sum', x!, [0]));
    expectGolden('tests/targets/golden/column-sum.wgsl', wgsl(g));
  });
});

// ---------------------------------------------------------------- on a device

function randomInputs(g: Graph, dims: ReadonlyMap<string, number>, seed: number): Map<string, RefTensor> {
  const rnd = lcg(seed);
  return new Map(
    g.inputs.map((n) => {
      const shape = evalShape(n.shape, dims);
      const size = shape.reduce((a, c) => a * c, 1);
      return [
        n.name,
        { dtype: n.dtype, shape, data: Float64Array.from({ length: size }, () => Math.fround(rnd() * 2 - 1)) },
      ];
    }),
  );
}

webgpuSuite('WGSL kernels vs the kernel interpreter', () => {
  const cache = new GpuCache(gpuDevice()!);

  async function disagreement(
    program: KernelProgram,
    inputs: ReadonlyMap<string, RefTensor>,
    params: ReadonlyMap<string, RefTensor>,
    dims: ReadonlyMap<string, number>,
    tol: number,
    c: GpuCache = cache,
  ): Promise<string | undefined> {
    const want = new Map(params);
    const out = runProgram(program, { inputs, params: want, dims });
    const got = await runWebGpuProgram(c, program, { inputs, params, dims });
    for (const [name, t] of out) {
      const m = mismatch(got.outputs.get(name)!, t, tol);
      if (m) return `output ${name}: ${m}`;
    }
    for (const [name, t] of want) {
      const m = mismatch(got.params.get(name)!, t, tol);
      if (m) return `param ${name}: ${m}`;
    }
    return undefined;
  }

  const runGraph = (g: Graph, dims: ReadonlyMap<string, number>, tol: number, seed: number) =>
    disagreement(webgpu(g), randomInputs(g, dims, seed), new Map(), dims, tol);

  it('the golden kernels compile cleanly and compute the interpreter’s results', async () => {
    const dims = new Map([['B', 5]]);
    const gs = [
      graphOf([[B, 256]], (b, [x]) => {
        const m = b.reduce('max', x!, [1]);
        const e = b.unary('exp', b.binary('sub', x!, b.expand(m, [B, 256])));
        return b.binary('div', e, b.expand(b.reduce('sum', e, [1]), [B, 256]));
      }),
      graphOf([[B, 3]], (b, [x]) => b.reduce('sum', x!, [0])),
    ];
    for (const g of gs) expect(await runGraph(g, dims, 1e-5, 1)).toBeUndefined();
  });

  it.each([1, 3, 7, 129, 1000])('elementwise chain and reductions over %i elements', async (n) => {
    const chain = graphOf([[n], [n]], (b, [x, y]) =>
      b.bin(
        'add',
        b.binary('mul', b.unary('tanh', x!), b.unary('exp', y!)),
        b.unary('sqrt', b.bin('add', b.binary('mul', x!, x!), 1)),
      ),
    );
    expect(await runGraph(chain, new Map(), 1e-5, n)).toBeUndefined();
    for (const fn of ['sum', 'max', 'min', 'prod'] as const) {
      const tol = fn === 'prod' ? 1e-4 : 1e-5;
      const red = graphOf([[3, n]], (b, [x]) => b.reduce(fn, b.unary('sin', x!), [1]));
      expect(await runGraph(red, new Map(), tol, n), fn).toBeUndefined();
      const col = graphOf([[n, 5]], (b, [x]) => b.reduce(fn, x!, [0]));
      expect(await runGraph(col, new Map(), tol, n), `${fn} over columns`).toBeUndefined();
      const all = graphOf([[B, n]], (b, [x]) => b.reduce(fn, b.unary('cos', x!), [0, 1]));
      expect(await runGraph(all, new Map([['B', 3]]), tol, n), `${fn} over everything`).toBeUndefined();
    }
  });

  it.each([1, 3, 7, 129, 300])('row softmax and layer norm of width %i, batch 1, 3, 5', async (n) => {
    for (const batch of [1, 3, 5]) {
      const g = graphOf([[B, n]], (b, [x]) => {
        const m = b.reduce('max', x!, [1]);
        const e = b.unary('exp', b.binary('sub', x!, b.expand(m, [B, n])));
        return b.binary('div', e, b.expand(b.reduce('sum', e, [1]), [B, n]));
      });
      expect(await runGraph(g, new Map([['B', batch]]), 1e-5, n + batch)).toBeUndefined();
      const ln = graphOf([[B, n]], (b, [x]) => {
        const mean = b.bin('mul', b.reduce('sum', x!, [1]), 1 / n);
        const d = b.binary('sub', x!, b.expand(mean, [B, n]));
        const v = b.bin('mul', b.reduce('sum', b.binary('mul', d, d), [1]), 1 / n);
        return b.binary('mul', d, b.expand(b.unary('recip', b.unary('sqrt', b.bin('add', v, 1e-5))), [B, n]));
      });
      expect(await runGraph(ln, new Map([['B', batch]]), 1e-4, n * 7 + batch)).toBeUndefined();
    }
  });

  const sizes = [1, 3, 7, 129];
  it.each(sizes.flatMap((m) => sizes.map((n) => [m, n] as const)))(
    'matmul %i x 7 @ 7 x %i with bias and relu',
    async (m, n) => {
      const g = graphOf([[m, 7], [7, n], [n]], (b, [x, w, bias]) =>
        b.bin('max', b.bin('add', b.matmul(x!, w!), bias!), 0),
      );
      expect(await runGraph(g, new Map(), 1e-5, m * 131 + n)).toBeUndefined();
    },
  );

  it.each([
    [1, 1, 1],
    [3, 129, 7],
    [129, 3, 129],
    [5, 64, 33],
    [66, 17, 40],
  ])('matmul %i x %i @ %i x ... with transposed operands (A^T, B^T), batched', async (m, k, n) => {
    const swap = (b: IRBuilder, x: ReturnType<IRBuilder['input']>) => b.permute(x, [1, 0]);
    const cases: [string, Graph][] = [
      [
        'A^T B',
        graphOf(
          [
            [k, m],
            [k, n],
          ],
          (b, [x, w]) => b.matmul(swap(b, x!), w!),
        ),
      ],
      [
        'A B^T',
        graphOf(
          [
            [m, k],
            [n, k],
          ],
          (b, [x, w]) => b.matmul(x!, swap(b, w!)),
        ),
      ],
      [
        'A^T B^T',
        graphOf(
          [
            [k, m],
            [n, k],
          ],
          (b, [x, w]) => b.matmul(swap(b, x!), swap(b, w!)),
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
    for (const [what, g] of cases)
      expect(await runGraph(g, new Map([['B', 2]]), 1e-4, m + k + n), what).toBeUndefined();
  });

  it('random matmul shapes, layouts and epilogues through the tiled template', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          m: fc.integer({ min: 2, max: 150 }),
          k: fc.integer({ min: 2, max: 70 }),
          n: fc.integer({ min: 8, max: 150 }),
          ta: fc.boolean(),
          tb: fc.boolean(),
          batch: fc.integer({ min: 0, max: 2 }),
          epilogue: fc.constantFrom('none', 'bias-relu', 'tanh-scale'),
        }),
        async ({ m, k, n, ta, tb, batch, epilogue }) => {
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
          const program = webgpu(g);
          expect(program.kernels.some((kk) => generateWgsl(kk).template === 'matmul')).toBe(true);
          const msg = await runGraph(g, new Map(), 1e-4, m * 7 + n);
          if (msg) throw new Error(msg);
        },
      ),
      { numRuns: 25, seed: 424242 },
    );
  });

  it('a matmul with a gathered operand falls back to the generic template', async () => {
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
    const program = webgpu(g);
    const inputs = randomInputs(g, new Map(), 3);
    inputs.set('i', { dtype: 'i32', shape: [4], data: Float64Array.from([3, 0, 9, -2]) });
    expect(await disagreement(program, inputs, new Map(), new Map(), 1e-5)).toBeUndefined();
  });

  it('the MLP training step within small limits (64 invocations, 2 KiB of workgroup memory)', async () => {
    const small = new GpuCache(gpuDevice()!, { maxInvocations: 64, maxWorkgroupStorage: 2048 });
    const { result } = loadKilnFile('examples/mlp.kiln');
    const t = result.trains[0]!;
    const model = result.models.find((mm) => mm.name === t.model)!;
    const step = buildTrainStep(model, t);
    const program = webgpu(step.graph);
    const dims = new Map([['B', 37]]);
    const rnd = lcg(5);
    const tensors = (decls: readonly { name: string; type: { dtype: DType; shape: Shape } }[]) =>
      new Map(
        decls.map((d) => {
          const shape = evalShape(d.type.shape, dims);
          const n = shape.reduce((a, c) => a * c, 1);
          const data = Float64Array.from({ length: n }, () =>
            d.type.dtype === 'f32' ? Math.fround(rnd() * 2 - 1) : Math.floor(rnd() * 10),
          );
          return [d.name, { dtype: d.type.dtype, shape, data } as RefTensor] as const;
        }),
      );
    const params = new Map([...tensors(model.params), ...initialState(step)]);
    const inputs = tensors(model.inputs);
    const scalars = new Map(Object.entries(stepScalars(step, 1)));
    const want = new Map(params);
    runProgram(program, { inputs, params: want, dims, scalars });
    const got = await runWebGpuProgram(small, program, { inputs, params, dims, scalars });
    for (const [name, w] of want) expect(mismatch(got.params.get(name)!, w, 2e-3), name).toBeUndefined();
  });

  it('random graphs agree with the kernel interpreter', async () => {
    await fc.assert(
      fc.asyncProperty(arbGraph(), async (r) => {
        const program = webgpu(r.graph);
        const inputs = new Map([...r.inputs].map(([k, t]) => [k, { ...t, data: t.data.map(Math.fround) }]));
        const params = new Map([...r.params].map(([k, t]) => [k, { ...t, data: t.data.map(Math.fround) }]));
        const m = await disagreement(program, inputs, params, r.dims, 1e-3);
        if (m) throw new Error(m);
      }),
      { numRuns: 100, seed: 20261124 },
    );
  });
});
