// Dispatch and index range of the WGSL kernels on a device: i32 index
// arithmetic past 2^24 elements (where f32 would lose integers), grids of
// more than 65535 workgroups (the (x, y) split of the grid ABI) for the
// generic and the per-row templates, and the shaders on a default device
// (Dawn zero-initialising workgroup memory, as the runtime's device does).

import { expect, it } from 'vitest';
import type { RefTensor } from '../../compiler/interpret.js';
import { type Graph, IRBuilder } from '../../compiler/ir.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import type { IExpr, KernelProgram } from '../../compiler/kernel/kir.js';
import { compileGraph } from '../../compiler/compile.js';
import { TARGET_LIMITS } from '../../compiler/target.js';
import { sym } from '../../compiler/types.js';
import { requestGpuDevice } from '../../runtime/webgpu/device.js';
import { mismatch } from '../helpers/random-graph.js';
import { GpuCache, dispatchSize, runWebGpuProgram } from '../helpers/webgpu-exec.js';
import { gpuDevice, webgpuSuite } from '../helpers/webgpu.js';

const v = (name: string): IExpr => ({ k: 'var', name });
const c = (x: number): IExpr => ({ k: 'const', v: x });
const add = (a: IExpr, b: IExpr): IExpr => ({ k: 'add', a, b });
const mul = (a: IExpr, b: IExpr): IExpr => ({ k: 'mul', a, b });

/** out[p0 * D + p1] = p0 * D + p1 and mod[...] = (p0 * D + p1) mod 1000003, over R x D points (D a dim). */
function indexProgram(rows: number): KernelProgram {
  const flat = add(mul(v('p0'), { k: 'dim', name: 'D' }), v('p1'));
  const size = { coef: rows, syms: ['D'] };
  return {
    buffers: [
      { id: 0, dtype: 'i32', size, role: { kind: 'output', name: 'flat' } },
      { id: 1, dtype: 'i32', size, role: { kind: 'output', name: 'mod' } },
    ],
    kernels: [
      {
        name: 'k0',
        kind: 'elementwise',
        buffers: [
          { id: 0, access: 'write' },
          { id: 1, access: 'write' },
        ],
        dims: ['D'],
        scalars: [],
        parallel: [
          { name: 'p0', extent: rows },
          { name: 'p1', extent: { coef: 1, syms: ['D'] } },
        ],
        stages: [
          {
            kind: 'map',
            loops: [],
            stores: [
              { buf: 0, index: flat, value: { k: 'index', i: flat } },
              { buf: 1, index: flat, value: { k: 'index', i: { k: 'mod', a: flat, b: c(1000003) } } },
            ],
          },
        ],
        ops: [],
      },
    ],
    outputs: [
      { name: 'flat', buf: 0, shape: [size], dtype: 'i32' },
      { name: 'mod', buf: 1, shape: [size], dtype: 'i32' },
    ],
    assigns: [],
    scalars: [],
  };
}

const B = sym('B');

webgpuSuite('WGSL dispatch and index range', () => {
  const cache = new GpuCache(gpuDevice()!);

  it('i32 indices past 2^24 elements, over more than 65535 workgroups', async () => {
    const rows = 4100;
    const dims = new Map([['D', 4096]]);
    const program = indexProgram(rows);
    const n = rows * 4096;
    expect(n).toBeGreaterThan(2 ** 24);
    const [x, y] = dispatchSize(cache.shader(program.kernels[0]!), dims);
    expect(x).toBe(65535);
    expect(y).toBe(2);
    const got = await runWebGpuProgram(cache, program, { inputs: new Map(), params: new Map(), dims });
    const flat = got.outputs.get('flat')!.data;
    const mod = got.outputs.get('mod')!.data;
    for (let i = 0; i < n; i++)
      if (flat[i] !== i || mod[i] !== i % 1000003) throw new Error(`element ${i}: ${flat[i]}, ${mod[i]}`);
  });

  it('more than 65535 workgroups with one invocation each', async () => {
    const one = new GpuCache(gpuDevice()!, { maxInvocations: 1 });
    const program = indexProgram(70001);
    const dims = new Map([['D', 1]]);
    expect(dispatchSize(one.shader(program.kernels[0]!), dims)).toEqual([65535, 2]);
    const got = await runWebGpuProgram(one, program, { inputs: new Map(), params: new Map(), dims });
    expect(got.outputs.get('flat')!.data.every((x, i) => x === i)).toBe(true);
  });

  it('a row reduction with a workgroup per row over 70000 rows', async () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [B, 64] });
    const g: Graph = {
      builder: b,
      inputs: [x] as Graph['inputs'],
      params: [],
      outputs: [{ name: 'y', node: b.reduce('sum', x, [1]) }],
    };
    const program = compileGraph(g, TARGET_LIMITS['webgpu']).fusion.program;
    const rows = 70000;
    const dims = new Map([['B', rows]]);
    const k = program.kernels[0]!;
    expect(['reduce', 'rowwise']).toContain(cache.shader(k).template);
    expect(dispatchSize(cache.shader(k), dims)).toEqual([65535, 2]);
    const data = Float64Array.from({ length: rows * 64 }, (_, i) => ((i >> 6) + (i & 63)) % 7);
    const inputs = new Map<string, RefTensor>([['x', { dtype: 'f32', shape: [rows, 64], data }]]);
    const got = (await runWebGpuProgram(cache, program, { inputs, params: new Map(), dims })).outputs.get('y')!;
    for (let r = 0; r < rows; r++) {
      let want = 0;
      for (let j = 0; j < 64; j++) want += (r + j) % 7;
      if (got.data[r] !== want) throw new Error(`row ${r}: ${got.data[r]} vs ${want}`);
    }
  });

  it('the tiled and per-row templates on a default device (workgroup memory zero-initialised)', async () => {
    const { device } = await requestGpuDevice({ zeroWorkgroupMemory: true });
    try {
      const plain = new GpuCache(device);
      const b = new IRBuilder();
      const x = b.input('x', { dtype: 'f32', shape: [B, 70] });
      const w = b.input('w', { dtype: 'f32', shape: [70, 100] });
      const y = b.bin('max', b.matmul(x, w), 0);
      const e = b.unary('exp', y);
      const soft = b.binary('div', e, b.expand(b.reduce('sum', e, [1]), [B, 100]));
      const g: Graph = {
        builder: b,
        inputs: [x, w] as Graph['inputs'],
        params: [],
        outputs: [{ name: 'y', node: soft }],
      };
      const program = compileGraph(g, TARGET_LIMITS['webgpu']).fusion.program;
      const dims = new Map([['B', 5]]);
      let s = 7;
      const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), Math.fround(s / 2 ** 32 - 0.5));
      const inputs = new Map<string, RefTensor>([
        ['x', { dtype: 'f32', shape: [5, 70], data: Float64Array.from({ length: 350 }, rnd) }],
        ['w', { dtype: 'f32', shape: [70, 100], data: Float64Array.from({ length: 7000 }, rnd) }],
      ]);
      const want = runProgram(program, { inputs, params: new Map(), dims }).get('y')!;
      const got = await runWebGpuProgram(plain, program, { inputs, params: new Map(), dims });
      expect(got.kernels.map((k) => k.template)).toEqual(expect.arrayContaining(['matmul', 'rowwise']));
      expect(mismatch(got.outputs.get('y')!, want, 1e-5)).toBeUndefined();
    } finally {
      device.destroy();
    }
  });
});
