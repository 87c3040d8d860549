// The vector template (targets/wgsl/vector.ts): pure elementwise kernels
// whose innermost extent is a multiple of 4 take 4 points per invocation,
// bindings accessed only contiguously and 4-aligned as array<vec4<...>>, the
// rest (masked, broadcast, strided loads) per point. Which kernels take it,
// and on a device, against the kernel interpreter at aligned and odd sizes,
// with NaN and infinities, i32 and bool values, iota and random counters.

import { describe, expect, it } from 'vitest';
import type { RefTensor } from '../../compiler/interpret.js';
import { type Graph, IRBuilder } from '../../compiler/ir.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import type { KernelProgram } from '../../compiler/kernel/kir.js';
import { compileGraph } from '../../compiler/compile.js';
import { TARGET_LIMITS } from '../../compiler/target.js';
import { type DType, type Shape, evalShape, sym } from '../../compiler/types.js';
import { generateWgsl } from '../../targets/wgsl/codegen.js';
import { mismatch } from '../helpers/random-graph.js';
import { GpuCache, runWebGpuProgram } from '../helpers/webgpu-exec.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';
import { lcg } from '../runtime/helpers.js';

const B = sym('B');
type Node = ReturnType<IRBuilder['input']>;

function graphOf(inputs: readonly { shape: Shape; dtype?: DType }[], f: (b: IRBuilder, xs: Node[]) => Node): Graph {
  const b = new IRBuilder();
  const xs = inputs.map((t, i) => b.input(`x${i}`, { dtype: t.dtype ?? 'f32', shape: t.shape }));
  return { builder: b, inputs: xs as Graph['inputs'], params: [], outputs: [{ name: 'y', node: f(b, xs) }] };
}

const program = (g: Graph): KernelProgram => compileGraph(g, TARGET_LIMITS['webgpu']).fusion.program;
const templates = (g: Graph) => program(g).kernels.map((k) => generateWgsl(k).template);
const codeOf = (g: Graph) => program(g).kernels.map((k) => generateWgsl(k).code);

interface Case {
  readonly name: string;
  readonly graph: Graph;
  /** The template of its (only) kernel. */
  readonly template: 'vector' | 'generic';
  /** Binding declarations the shader must have. */
  readonly decls?: readonly RegExp[];
}

const rowChain = (n: number) =>
  graphOf([{ shape: [B, n] }, { shape: [n] }], (b, [x, y]) => b.bin('mul', b.bin('add', x!, y!), b.bin('max', x!, 0)));

const CASES: readonly Case[] = [
  {
    name: 'rows of 8: every binding vec4',
    graph: rowChain(8),
    template: 'vector',
    decls: [/b0: array<vec4<f32>>/, /b1: array<vec4<f32>>/, /b2: array<vec4<f32>>/],
  },
  { name: 'rows of 7: the generic template', graph: rowChain(7), template: 'generic' },
  {
    name: 'one dimension of 1000 (the innermost loop is p0)',
    graph: graphOf([{ shape: [1000] }, { shape: [1000] }], (b, [x, y]) =>
      b.binary('sub', b.unary('tanh', x!), b.unary('exp', y!)),
    ),
    template: 'vector',
  },
  {
    name: 'one dimension of 1001',
    graph: graphOf([{ shape: [1001] }], (b, [x]) => b.unary('exp', x!)),
    template: 'generic',
  },
  {
    name: 'a broadcast operand: one scalar load for the 4 points',
    graph: graphOf([{ shape: [B, 12] }, { shape: [B, 1] }], (b, [x, z]) =>
      b.binary('div', b.unary('sin', x!), b.expand(z!, [B, 12])),
    ),
    template: 'vector',
    decls: [/b0: array<vec4<f32>>/, /b1: array<f32>/],
  },
  {
    name: 'a padded (masked) operand: scalar loads of the 4 points',
    graph: graphOf([{ shape: [B, 6] }, { shape: [B, 8] }], (b, [x, y]) =>
      b.binary(
        'mul',
        b.pad(
          x!,
          [
            [0, 0],
            [1, 1],
          ],
          -2,
        ),
        y!,
      ),
    ),
    template: 'vector',
    decls: [/b0: array<vec4<f32>>/, /b1: array<f32>/],
  },
  {
    name: 'a transposed (strided) operand: scalar loads',
    graph: graphOf([{ shape: [8, B] }, { shape: [B, 8] }], (b, [x, y]) =>
      b.binary('add', b.permute(x!, [1, 0]), b.unary('neg', y!)),
    ),
    template: 'vector',
    decls: [/b0: array<f32>/, /b1: array<vec4<f32>>/],
  },
  {
    name: 'i32 and bool values with iota: vec4<i32> loads and stores',
    graph: graphOf([{ shape: [B, 16] }, { shape: [B, 16], dtype: 'i32' }], (b, [x, k]) => {
      const i = b.iota([B, 16], 1);
      const big = b.binary('lt', b.cast(i, 'f32'), b.bin('mul', x!, 16));
      return b.binary('add', b.where(big, k!, b.unary('neg', i)), b.iota([B, 16], 0));
    }),
    template: 'vector',
    decls: [/b1: array<vec4<i32>>/, /b2: array<vec4<i32>>/],
  },
  {
    name: 'iota over one dimension of 1000 (pieces of p0 start at multiples of 4)',
    graph: graphOf([{ shape: [1000] }], (b, [x]) => b.binary('add', x!, b.cast(b.iota([1000], 0), 'f32'))),
    template: 'vector',
  },
  {
    name: 'random numbers counted by the global point',
    graph: graphOf([{ shape: [B, 8] }, { shape: [], dtype: 'i32' }], (b, [x, key]) =>
      b.binary('mul', x!, b.rand([B, 8], key!, 7)),
    ),
    template: 'vector',
  },
];

describe('which kernels take the vector template', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_, c) => {
    expect(templates(c.graph)).toEqual([c.template]);
    const [code] = codeOf(c.graph);
    for (const d of c.decls ?? []) expect(code).toMatch(d);
  });

  it('not for kernels with loops or reductions, nor for matmuls', () => {
    const sm = graphOf([{ shape: [B, 8] }], (b, [x]) =>
      b.binary('div', x!, b.expand(b.reduce('sum', x!, [1]), [B, 8])),
    );
    expect(templates(sm)).not.toContain('vector');
    const mm = graphOf([{ shape: [B, 8] }, { shape: [8, 8] }], (b, [x, w]) => b.matmul(x!, w!));
    expect(templates(mm)).not.toContain('vector');
  });
});

/** Inputs with NaN, infinities, signed zeros and ordinary values; i32 inputs small integers. */
function specialInputs(g: Graph, dims: ReadonlyMap<string, number>, seed: number): Map<string, RefTensor> {
  const rnd = lcg(seed);
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1e30, -1e-30];
  return new Map(
    g.inputs.map((n) => {
      const shape = evalShape(n.shape, dims);
      const size = shape.reduce((a, c) => a * c, 1);
      const data = Float64Array.from({ length: size }, () => {
        if (n.dtype !== 'f32') return Math.floor(rnd() * 200) - 100;
        const r = rnd();
        return r < 0.3 ? specials[Math.floor(rnd() * specials.length)]! : Math.fround(r * 4 - 2);
      });
      return [n.name, { dtype: n.dtype, shape, data }];
    }),
  );
}

webgpuSuite('the vector template on a device', () => {
  const cache = new GpuCache(gpuDevice()!);

  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: equals the kernel interpreter (batch 1, 3, 8; NaN and infinities; in 1 and 3 pieces of p0)',
    async (_, c) => {
      const p = program(c.graph);
      for (const batch of [1, 3, 8])
        for (const pieces of [1, 3]) {
          const dims = new Map([['B', batch]]);
          const inputs = specialInputs(c.graph, dims, batch);
          const want = runProgram(p, { inputs, params: new Map(), dims });
          const got = await runWebGpuProgram(cache, p, { inputs, params: new Map(), dims, pieces });
          expect(got.kernels.map((k) => k.template)).toEqual([c.template]);
          for (const [name, t] of want)
            expect(
              mismatch(got.outputs.get(name)!, t, 1e-5),
              `${name}, B = ${batch}, ${pieces} pieces`,
            ).toBeUndefined();
        }
    },
  );
});
