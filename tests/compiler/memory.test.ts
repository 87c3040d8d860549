import { describe, expect, it } from 'vitest';
import { type RefTensor, tensor } from '../../compiler/interpret.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import type { IExpr, Kernel, KernelBuffer, KernelProgram, ProgramBuffer, VExpr } from '../../compiler/kernel/kir.js';
import {
  type MemoryPlan,
  applyMemoryPlan,
  evalPoly,
  formatMemoryPlan,
  formatPoly,
  planMemory,
  poly,
  polyAdd,
  polyScale,
} from '../../compiler/memory.js';
import { type Dim, sym } from '../../compiler/types.js';

// ---------------------------------------------------------------- builders

const i: IExpr = { k: 'var', name: 'i' };
const ld = (slot: number): VExpr => ({ k: 'load', buf: slot, index: i, valid: { k: 'true' }, fill: 0, dtype: 'f32' });
const cst = (v: number): VExpr => ({ k: 'const', v, dtype: 'f32' });
const add = (a: VExpr, b: VExpr): VExpr => ({ k: 'binary', fn: 'add', a, b, dtype: 'f32' });
const mul = (a: VExpr, b: VExpr): VExpr => ({ k: 'binary', fn: 'mul', a, b, dtype: 'f32' });

/**
 * An elementwise kernel over `n` elements: buffers[slot] as given; the
 * value is computed from loads of the read slots (in order).
 */
function ew(
  name: string,
  n: Dim,
  slots: [number, KernelBuffer['access']][],
  f: (...loads: VExpr[]) => VExpr,
  store: number = slots.findIndex(([, a]) => a !== 'read'),
): Kernel {
  const loads = slots.flatMap(([, a], s) => (a === 'write' ? [] : [ld(s)]));
  return {
    name,
    kind: 'elementwise',
    buffers: slots.map(([id, access]) => ({ id, access })),
    dims: typeof n === 'number' ? [] : [...n.syms],
    scalars: [],
    parallel: [{ name: 'i', extent: n }],
    stages: [{ kind: 'map', loops: [], stores: [{ buf: store, index: i, value: f(...loads) }] }],
    ops: [],
  };
}

const temp = (id: number, size: Dim = 4): ProgramBuffer => ({ id, dtype: 'f32', size, role: { kind: 'temp' } });
const input = (id: number, name: string, size: Dim = 4): ProgramBuffer => ({
  id,
  dtype: 'f32',
  size,
  role: { kind: 'input', name },
});
const output = (id: number, name: string, size: Dim = 4): ProgramBuffer => ({
  id,
  dtype: 'f32',
  size,
  role: { kind: 'output', name },
});

/** x -> t1 -> t2 -> ... -> t_n -> y, each step t_{j+1} = t_j * 2 + j. */
function chain(n: number, size: Dim = 4): KernelProgram {
  const buffers = [
    input(0, 'x', size),
    ...Array.from({ length: n }, (_, j) => temp(j + 1, size)),
    output(n + 1, 'y', size),
  ];
  const kernels = Array.from({ length: n + 1 }, (_, j) =>
    ew(
      `k${j}`,
      size,
      [
        [j, 'read'],
        [j + 1, 'write'],
      ],
      (a) => add(mul(a!, cst(2)), cst(j)),
    ),
  );
  return {
    buffers,
    kernels,
    outputs: [{ name: 'y', buf: n + 1, shape: [size], dtype: 'f32' }],
    assigns: [],
    scalars: [],
  };
}

function runBoth(p: KernelProgram, plan: MemoryPlan, inputs: Record<string, RefTensor>, dims?: Map<string, number>) {
  const go = (q: KernelProgram) => {
    const r = runProgram(q, { inputs: new Map(Object.entries(inputs)), params: new Map(), ...(dims ? { dims } : {}) });
    return Object.fromEntries([...r].map(([k, t]) => [k, [...t.data]]));
  };
  return { plain: go(p), planned: go(applyMemoryPlan(p, plan)) };
}

const x4 = tensor('f32', [4], [1, 2, 3, 4]);
const B = sym('B');

// ---------------------------------------------------------------- tests

describe('planMemory', () => {
  it('reuses storage along a chain of temps: peak below the sum', () => {
    const p = chain(3);
    const plan = planMemory(p);
    // t1 [0..1], t2 [1..2], t3 [2..3]: t3 takes t1's storage.
    expect([...plan.storageOf]).toEqual([
      [0, 0],
      [4, 4],
      [1, 1],
      [2, 2],
      [3, 1],
    ]);
    expect(plan.storages.map((s) => [s.id, s.buffers])).toEqual([
      [0, [0]],
      [1, [1, 3]],
      [2, [2]],
      [4, [4]],
    ]);
    expect(plan.peakBytes(new Map())).toBe(64);
    expect(evalPoly(plan.unshared, new Map())).toBe(80);
    const { plain, planned } = runBoth(p, plan, { x: x4 });
    expect(planned).toEqual(plain);
    expect(plain['y']).toEqual([27, 43, 59, 75]); // ((2x * 2 + 1) * 2 + 2) * 2 + 3
  });

  it('a long chain ping-pongs between two storages', () => {
    const p = chain(8);
    const plan = planMemory(p);
    const temps = plan.storages.filter((s) => s.id !== 0 && s.id !== 9);
    expect(temps.map((s) => s.buffers)).toEqual([
      [1, 3, 5, 7],
      [2, 4, 6, 8],
    ]);
    const { plain, planned } = runBoth(p, plan, { x: x4 });
    expect(planned).toEqual(plain);
  });

  it('does not share overlapping lifetimes', () => {
    // As chain(3), but the last kernel also reads t1: t1 lives [0..3].
    const p0 = chain(3);
    const k3 = ew(
      'k3',
      4,
      [
        [3, 'read'],
        [1, 'read'],
        [4, 'write'],
      ],
      (a, b) => add(a!, b!),
    );
    const p = { ...p0, kernels: [...p0.kernels.slice(0, 3), k3] };
    const plan = planMemory(p);
    expect(plan.storages).toHaveLength(5);
    expect([...plan.storageOf].every(([b, s]) => b === s)).toBe(true);
    expect(plan.lifetimes.get(1)).toEqual([0, 3]);
    expect(plan.peakBytes(new Map())).toBe(evalPoly(plan.unshared, new Map()));
  });

  it('shares only equal element counts (symbolic sizes compared as dims)', () => {
    const p0 = chain(3, { coef: 4, syms: ['B'] });
    const plan0 = planMemory(p0);
    expect(plan0.storageOf.get(3)).toBe(1);
    expect(formatPoly(plan0.peak)).toBe('64*B');
    expect(plan0.peakBytes(new Map([['B', 2]]))).toBe(128);
    const dims = new Map([['B', 2]]);
    const { plain, planned } = runBoth(p0, plan0, { x: tensor('f32', [8], [1, 2, 3, 4, 5, 6, 7, 8]) }, dims);
    expect(planned).toEqual(plain);
    // t3 of a different size: no sharing.
    const p1 = { ...p0, buffers: p0.buffers.map((b) => (b.id === 3 ? temp(3, { coef: 4, syms: ['T'] }) : b)) };
    expect(planMemory(p1).storageOf.get(3)).toBe(3);
    // Different dtypes of the same element size may share.
    const p2 = { ...p0, buffers: p0.buffers.map((b) => (b.id === 3 ? { ...b, dtype: 'i32' as const } : b)) };
    expect(planMemory(p2).storageOf.get(3)).toBe(1);
  });

  it('never reuses inputs, params or outputs; outputs and assign sources live to the end', () => {
    // k0: t1 = x + 1; k1: y = t1 * 2; k2: t3 = y + 1; k3: t5 = t3 * 3 (unused); w <- t3 (assign)
    const buffers: ProgramBuffer[] = [
      input(0, 'x'),
      temp(1),
      output(2, 'y'),
      temp(3),
      { id: 4, dtype: 'f32', size: 4, role: { kind: 'param', name: 'w' } },
      temp(5),
    ];
    const kernels = [
      ew(
        'k0',
        4,
        [
          [0, 'read'],
          [1, 'write'],
        ],
        (a) => add(a!, cst(1)),
      ),
      ew(
        'k1',
        4,
        [
          [1, 'read'],
          [2, 'write'],
        ],
        (a) => mul(a!, cst(2)),
      ),
      ew(
        'k2',
        4,
        [
          [2, 'read'],
          [3, 'write'],
        ],
        (a) => add(a!, cst(1)),
      ),
      ew(
        'k3',
        4,
        [
          [3, 'read'],
          [5, 'write'],
        ],
        (a) => mul(a!, cst(3)),
      ),
    ];
    const p: KernelProgram = {
      buffers,
      kernels,
      outputs: [{ name: 'y', buf: 2, shape: [4], dtype: 'f32' }],
      assigns: [{ target: 'w', buf: 3 }],
      scalars: [],
    };
    const plan = planMemory(p);
    expect(plan.lifetimes.get(3)).toEqual([2, 4]); // an assign source: to the end (kernel count)
    // t1 is dead after k1, so t3 takes its storage; t3 then lives to the end, so t5 cannot.
    expect(plan.storageOf.get(3)).toBe(1);
    expect(plan.storageOf.get(5)).toBe(5);
    for (const id of [0, 2, 4]) expect(plan.storages.find((s) => s.id === id)!.buffers).toEqual([id]);
    const run = (q: KernelProgram) => {
      const params = new Map([['w', tensor('f32', [4], [0, 0, 0, 0])]]);
      const r = runProgram(q, { inputs: new Map([['x', x4]]), params });
      return [[...r.get('y')!.data], [...params.get('w')!.data]];
    };
    expect(run(applyMemoryPlan(p, plan))).toEqual(run(p));
    expect(run(p)).toEqual([
      [4, 6, 8, 10],
      [5, 7, 9, 11],
    ]);
  });

  it('a temp first accessed by a read (accumulation into zeros) gets a fresh storage', () => {
    // k0: t1 = x * 2; k1: t2 = t1 + 1; k2: t3 += t2 (readwrite); k3: y = t3
    const buffers = [input(0, 'x'), temp(1), temp(2), temp(3), output(4, 'y')];
    const kernels = [
      ew(
        'k0',
        4,
        [
          [0, 'read'],
          [1, 'write'],
        ],
        (a) => mul(a!, cst(2)),
      ),
      ew(
        'k1',
        4,
        [
          [1, 'read'],
          [2, 'write'],
        ],
        (a) => add(a!, cst(1)),
      ),
      ew(
        'k2',
        4,
        [
          [2, 'read'],
          [3, 'readwrite'],
        ],
        (a, b) => add(b!, a!),
        1,
      ),
      ew(
        'k3',
        4,
        [
          [3, 'read'],
          [4, 'write'],
        ],
        (a) => a!,
      ),
    ];
    const p: KernelProgram = {
      buffers,
      kernels,
      outputs: [{ name: 'y', buf: 4, shape: [4], dtype: 'f32' }],
      assigns: [],
      scalars: [],
    };
    const plan = planMemory(p);
    expect(plan.storageOf.get(3)).toBe(3);
    const { plain, planned } = runBoth(p, plan, { x: x4 });
    expect(plain['y']).toEqual([3, 5, 7, 9]);
    expect(planned).toEqual(plain);
    // Sharing t1's storage anyway would read t1's stale values: the differential run shows it.
    const bad: MemoryPlan = { ...plan, storageOf: new Map([...plan.storageOf, [3, 1]]) };
    expect(runBoth(p, bad, { x: x4 }).planned).not.toEqual(plain);
  });

  it('is deterministic', () => {
    const p = chain(6);
    expect([...planMemory(p).storageOf]).toEqual([...planMemory(p).storageOf]);
  });

  it('accounts bytes per kernel (each buffer once, 4 bytes per element)', () => {
    const p = chain(2, { coef: 4, syms: ['B'] });
    const plan = planMemory(p);
    expect(plan.perKernel.map((k) => [k.kernel, formatPoly(k.bytesRead), formatPoly(k.bytesWritten)])).toEqual([
      ['k0', '16*B', '16*B'],
      ['k1', '16*B', '16*B'],
      ['k2', '16*B', '16*B'],
    ]);
  });

  it('formats the plan, symbolically or with dims', () => {
    const p = chain(3, { coef: 4, syms: ['B'] });
    const plan = planMemory(p);
    expect(formatMemoryPlan(plan)).toBe(
      [
        'memory plan: 4 storages for 5 buffers, 64*B bytes (without reuse 80*B)',
        '  storage  bytes  buffers (temps: [first..last] kernel)',
        '  s0       16*B   x (input)',
        '  s1       16*B   t1 [0..1], t3 [2..3]',
        '  s2       16*B   t2 [1..2]',
        '  s4       16*B   y (output)',
        '  kernel  read  written',
        '  k0      16*B  16*B',
        '  k1      16*B  16*B',
        '  k2      16*B  16*B',
        '  k3      16*B  16*B',
        '',
      ].join('\n'),
    );
    expect(formatMemoryPlan(plan, new Map([['B', 10]]))).toContain('640 bytes (without reuse 800)');
  });
});

describe('polynomials', () => {
  it('add, scale, evaluate and format', () => {
    const p = polyAdd(poly(B), poly(10), polyScale(poly(3), { coef: 2, syms: ['B', 'T'] }), poly(B));
    expect(formatPoly(p)).toBe('6*B*T + 2*B + 10');
    expect(
      evalPoly(
        p,
        new Map([
          ['B', 2],
          ['T', 5],
        ]),
      ),
    ).toBe(74);
    expect(formatPoly(polyAdd(poly(B), polyScale(poly(B), -1)))).toBe('0');
    expect(formatPoly(polyAdd(poly(4), polyScale(poly(B), -1)))).toBe('-B + 4');
  });
});
