// The matmul template (kernels compiler/kernel/matmul-plan.ts recognises):
// each workgroup computes a TM x TN output tile of one batch point with
// TY x TX invocations, each holding a 4 x 4 register block (four vec4
// accumulators per reduce stage). Per k-tile of TK, the invocations stage
// A[TM x TK] and B[TK x TN] in workgroup memory, reading the operands
// through their own index expressions (transposed or div/mod-indexed
// operands work unchanged; consecutive invocations take consecutive
// elements along the operand's contiguous axis), zero past the edges; then
// each accumulates its block from vec4 reads. The epilogue (the map stages)
// is one function applied from the registers to every in-range point.

import { constCoef } from '../../compiler/kernel/affine.js';
import type { Kernel, VExpr } from '../../compiler/kernel/kir.js';
import type { Dim } from '../../compiler/types.js';
import type { MatmulPart, MatmulPlan } from '../../compiler/kernel/matmul-plan.js';
import { Emitter, varName } from './emit.js';
import { WORKGROUP_INDEX, gridLoops, groupsOf, pointCount, unflatten } from './grid.js';
import type { GridEntry } from './grid.js';
import type { Layout } from './layout.js';
import { block, emitStores } from './stages.js';
import type { Built, Limits } from './template.js';

interface Tile {
  /** Invocations along n and m. */
  readonly tx: number;
  readonly ty: number;
  /** The k-tile. */
  readonly tk: number;
}

/** Register block per invocation: 4 x 4. */
const R = 4;

/** Invocations along one side: enough for `extent` (4 points each), at most 16. */
function sideThreads(extent: Dim): number {
  return typeof extent === 'number' ? Math.min(16, nextPow2(Math.ceil(extent / R))) : 16;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The tile for `p` within the limits (small constant sides get small tiles), or undefined. */
function chooseTile(p: MatmulPlan, limits: Limits): Tile | undefined {
  let tx = sideThreads(p.n.extent);
  let ty = sideThreads(p.m.extent);
  while (tx * ty > limits.maxInvocations && tx * ty > 1) {
    if (tx >= ty) tx /= 2;
    else ty /= 2;
  }
  if (tx * ty > limits.maxInvocations) return undefined;
  for (const tk of [16, 8, 4]) if (tk * R * (tx + ty) * 4 <= limits.maxWorkgroupStorage) return { tx, ty, tk };
  return undefined;
}

/** The epilogue function: the map stages at one output point, from the accumulators' values. */
function epilogue(
  em: Emitter,
  k: Kernel,
  p: MatmulPlan,
  gm: string,
): { decl: string[]; call: (accs: string[]) => string } {
  const vars = [...p.batch, p.m, p.n].map((l) => varName(l.name));
  const accs = p.parts.map((part) => `acc${part.acc.id}`);
  const names: Record<string, string> = {};
  [...p.batch, p.m, p.n].forEach((l, i) => (names[`v:${l.name}`] = vars[i]!));
  p.parts.forEach((part, i) => (names[`a:${part.acc.id}`] = accs[i]!));
  em.open(names, true);
  for (const si of p.maps) {
    const s = k.stages[si]!;
    if (s.kind !== 'map') continue;
    em.enterStage(s);
    em.emit(
      ...block(
        '',
        em.scoped({}, () => emitStores(em, s), true),
      ),
    );
  }
  const body = em.close();
  const params = [...vars.map((v) => `${v}: i32`), ...accs.map((a) => `${a}: f32`)].join(', ');
  return {
    decl: block(`fn epilogue(${params})`, body),
    call: (values) => `epilogue(${[...vars.slice(0, p.batch.length), gm, 'gn', ...values].join(', ')});`,
  };
}

/**
 * Loads the operand tile `x` (rows `rows` of the m or n side, `t.tk` of k)
 * into `shared` ([kk][row / 4][row % 4]): `count` elements, `threads` at a
 * time, consecutive invocations along the operand's contiguous axis.
 */
function loadTile(
  em: Emitter,
  x: Extract<VExpr, { k: 'load' }>,
  part: MatmulPart,
  side: {
    readonly loopName: string;
    readonly origin: string;
    readonly extent: string;
    readonly rows: number;
    /** Added to the (piece-local) row to give the loop variable's value: the first p0 of a split dispatch. */
    readonly first?: string;
  },
  shared: string,
  t: Tile,
  threads: number,
  K: string,
): void {
  const count = t.tk * side.rows;
  const kFast = constCoef(x.index, part.k.name) === 1;
  const body = em.scoped({}, () => {
    em.emit(`let e = tid + l * ${threads};`);
    if (kFast) em.emit(`let kk = e % ${t.tk};`, `let rr = e / ${t.tk};`);
    else em.emit(`let rr = e % ${side.rows};`, `let kk = e / ${side.rows};`);
    em.emit(`let gr = ${side.origin} + rr;`, `let gk = k0 + kk;`, 'var v = 0.0;');
    const row = side.first ? `(gr + ${side.first})` : 'gr';
    const load = em.scoped({ [`v:${side.loopName}`]: row, [`v:${part.k.name}`]: 'gk' }, () =>
      em.emit(`v = ${em.v(x).code};`),
    );
    em.emit(...block(`if ((gr < ${side.extent}) & (gk < ${K}))`, load));
    em.emit(`${shared}[kk * ${side.rows / R} + rr / ${R}][rr % ${R}] = v;`);
  });
  em.emit(...block(`for (var l = 0; l < ${count / threads}; l++)`, body));
}

export function buildMatmul(k: Kernel, p: MatmulPlan, layout: Layout, limits: Limits): Built | undefined {
  const t = chooseTile(p, limits);
  if (!t) return undefined;
  const threads = t.tx * t.ty;
  const TM = t.ty * R;
  const TN = t.tx * R;
  const em = new Emitter(k, layout);
  // A split dispatch (split.ts) covers a piece of p0: a batch loop, or m (rows local to the piece, shifted by u.po).
  const [m, ...batch] = gridLoops([p.m, ...p.batch], layout);
  const mFirst = layout.split?.p0 === p.m.name ? 'u.po' : undefined;
  const epi = epilogue(em, k, p, mFirst ? `gm + ${mFirst}` : 'gm');
  const grid: GridEntry[] = [
    ...batch.map((l) => ({ extent: l.extent, per: 1 })),
    { extent: m!.extent, per: TM },
    { extent: p.n.extent, per: TN },
  ];

  em.open();
  const M = em.extent(m!.extent);
  const N = em.extent(p.n.extent);
  em.emit(`let wg = ${WORKGROUP_INDEX};`);
  em.emit(
    `let tilesM = ${groupsOf(em, grid[grid.length - 2]!)};`,
    `let tilesN = ${groupsOf(em, grid[grid.length - 1]!)};`,
  );
  const batches = em.extent(pointCount(batch));
  em.emit(...block(`if (wg >= tilesM * tilesN * ${batches})`, ['return;']));
  em.emit('let tn = wg % tilesN;', 'let tmb = wg / tilesN;', 'let tm = tmb % tilesM;', 'let bt = tmb / tilesM;');
  const batchNames = unflatten(em, 'bt', batch);
  em.emit('let tid = i32(lid);', `let tx = tid % ${t.tx};`, `let ty = tid / ${t.tx};`);
  em.emit(`let m0 = tm * ${TM};`, `let n0 = tn * ${TN};`);
  em.open(batchNames);
  const accs = p.parts.map((part, j) => {
    em.enterStage(k.stages[part.stage]!);
    const c = Array.from({ length: R }, (_, i) => `c${j}_${i}`);
    for (const x of c) em.emit(`var ${x} = vec4<f32>(0.0);`);
    const K = em.bind(em.extent(part.k.extent));
    const tile = em.scoped({}, () => {
      const aSide = { loopName: p.m.name, origin: 'm0', extent: M, rows: TM, ...(mFirst && { first: mFirst }) };
      loadTile(em, part.a, part, aSide, 'As', t, threads, K);
      loadTile(em, part.b, part, { loopName: p.n.name, origin: 'n0', extent: N, rows: TN }, 'Bs', t, threads, K);
      em.emit('workgroupBarrier();');
      const step = [
        `let a = As[kk * ${TM / R} + ty];`,
        `let b = Bs[kk * ${TN / R} + tx];`,
        ...c.map((x, i) => `${x} = ${x} + a.${'xyzw'[i]} * b;`),
      ];
      em.emit(...block(`for (var kk = 0; kk < ${t.tk}; kk++)`, step));
      em.emit('workgroupBarrier();');
    });
    em.emit(...block(`for (var k0 = 0; k0 < ${K}; k0 += ${t.tk})`, tile));
    return c;
  });
  // One call site of the epilogue (rows picked from the registers by select, not by dynamic indexing).
  const rows = accs.map((c, j) => {
    const pick = c.slice(1).reduce((acc, x, i) => `select(${acc}, ${x}, i == ${i + 1})`, c[0]!);
    return `let r${j} = ${pick};`;
  });
  const row = block(`for (var j = 0; j < ${R}; j++)`, [
    `let gn = n0 + tx * ${R} + j;`,
    ...block(`if (gn < ${N})`, [epi.call(accs.map((_, j) => `r${j}[j]`))]),
  ]);
  em.emit(
    ...block(`for (var i = 0; i < ${R}; i++)`, [
      `let gm = m0 + ty * ${R} + i;`,
      ...block(`if (gm < ${M})`, [...rows, ...row]),
    ]),
  );
  const program = em.close();
  const head = em.close();
  return {
    template: 'matmul',
    workgroupSize: threads,
    grid,
    decls: [
      `var<workgroup> As: array<vec4<f32>, ${(t.tk * TM) / R}>;`,
      `var<workgroup> Bs: array<vec4<f32>, ${(t.tk * TN) / R}>;`,
      '',
      ...epi.decl,
    ],
    body: [...head, ...program],
    lib: em.lib,
  };
}
