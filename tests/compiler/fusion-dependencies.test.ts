// The fusion planner's bookkeeping against the plain definitions it
// replaces: dependency edges, stable topological order and reachability
// (KernelDependencies, kept up to date as kernels merge) against pairwise
// dependsOn and graph walks on random kernels; and kernels reused across
// planning attempts (DraftCache) against rebuilding every kernel.

import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BufferAccess, KernelDependencies, dependsOn } from '../../compiler/fusion/dependencies.js';
import { DraftCache, type NamedBuffers, type RootBuffers } from '../../compiler/fusion/draft-cache.js';
import type { DraftKernel } from '../../compiler/fusion/kernel-builder.js';
import { type PlanOptions, planKernels } from '../../compiler/fusion/plan.js';
import { optimizeGraph } from '../../compiler/passes/pipeline.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { type Graph, IRBuilder } from '../../compiler/ir.js';
import { arbGraph } from '../helpers/random-graph.js';

// ---------------------------------------------------------------- dependencies

interface Kernel extends BufferAccess {
  readonly name: string;
}

const BUFFERS = 8;
/** Buffers 0..2 are params (read as their old or new version). */
const isParam = (buf: number) => buf < 3;

const arbKernel = fc.record({
  reads: fc.uniqueArray(fc.record({ buf: fc.nat(BUFFERS - 1), old: fc.boolean() }), {
    selector: (r) => r.buf,
    maxLength: 3,
  }),
  writes: fc.uniqueArray(fc.nat(BUFFERS - 1), { maxLength: 2 }),
});

const arbKernels = fc.array(arbKernel, { minLength: 2, maxLength: 12 }).map((ks) =>
  ks.map((k, i): Kernel => ({
    name: `k${i}`,
    reads: new Map(k.reads.map((r) => [r.buf, new Set([r.old ? 'old' : 'new'] as const)])),
    writes: new Set(k.writes),
  })),
);

/** Is there a path from -> ... -> to? A walk over every pair, as the planner once did. */
function walkReaches(from: Kernel, to: Kernel, ks: readonly Kernel[]): boolean {
  const seen = new Set<Kernel>();
  const stack = [from];
  while (stack.length > 0) {
    const k = stack.pop()!;
    for (const d of ks) {
      if (d === k || seen.has(d) || !dependsOn(d, k, isParam)) continue;
      if (d === to) return true;
      seen.add(d);
      stack.push(d);
    }
  }
  return false;
}

/** Is there a path a -> x -> ... -> b through a third kernel x? */
function walkReachesVia(a: Kernel, b: Kernel, ks: readonly Kernel[]): boolean {
  return ks.some(
    (x) => x !== a && x !== b && walkReaches(a, x, ks) && (dependsOn(b, x, isParam) || walkReaches(x, b, ks)),
  );
}

/** Repeatedly the first kernel that depends on no other remaining one, until none is left or all wait. */
function scanOrder(ks: readonly Kernel[]): Kernel[] {
  const out: Kernel[] = [];
  const left = [...ks];
  for (;;) {
    const i = left.findIndex((k) => !left.some((o) => o !== k && dependsOn(k, o, isParam)));
    if (i < 0) return out;
    out.push(left.splice(i, 1)[0]!);
  }
}

function union(a: Kernel, b: Kernel): Kernel {
  const reads = new Map<number, Set<'old' | 'new'>>();
  for (const k of [a, b]) for (const [buf, v] of k.reads) reads.set(buf, new Set([...(reads.get(buf) ?? []), ...v]));
  return { name: `(${a.name}+${b.name})`, reads, writes: new Set([...a.writes, ...b.writes]) };
}

function expectAgreement(deps: KernelDependencies<Kernel>, ks: readonly Kernel[], acyclic: boolean): void {
  for (const a of ks)
    for (const b of ks) {
      if (a === b) continue;
      expect(deps.dependsOn(a, b), `${a.name} depends on ${b.name}`).toBe(dependsOn(a, b, isParam));
      if (!acyclic) continue;
      expect(deps.reaches(a, b), `${a.name} reaches ${b.name}`).toBe(walkReaches(a, b, ks));
      expect(deps.reachesVia(a, b), `${a.name} reaches ${b.name} via another`).toBe(walkReachesVia(a, b, ks));
    }
  const rotated = [...ks.slice(1), ks[0]!];
  for (const order of [ks, rotated])
    expect(deps.order(order).map((k) => k.name)).toEqual(scanOrder(order).map((k) => k.name));
}

describe('kernel dependencies', () => {
  it('edges, order and reachability agree with pairwise checks and walks, also as kernels merge', () => {
    let merges = 0;
    let cyclic = 0;
    fc.assert(
      fc.property(arbKernels, fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }), (initial, picks) => {
        let ks = initial;
        const deps = new KernelDependencies(ks, isParam);
        const acyclic = scanOrder(ks).length === ks.length;
        if (!acyclic) cyclic++;
        expectAgreement(deps, ks, acyclic);
        if (!acyclic) return;
        for (const [i, j] of picks) {
          if (ks.length < 2) break;
          const a = ks[i % ks.length]!;
          const b = ks[j % ks.length]!;
          // The planner's merges: no path between the two through a third kernel.
          if (a === b || walkReachesVia(a, b, ks) || walkReachesVia(b, a, ks)) continue;
          const merged = union(a, b);
          deps.merge(a, b, merged);
          ks = [...ks.filter((k) => k !== a && k !== b), merged];
          merges++;
          expectAgreement(deps, ks, true);
        }
      }),
      { numRuns: 400, seed: 7031 },
    );
    // Both kinds of kernel sets, and merges, were actually exercised.
    expect(merges).toBeGreaterThan(200);
    expect(cyclic).toBeGreaterThan(20);
    expect(cyclic).toBeLessThan(380);
  });
});

// ---------------------------------------------------------------- reuse across attempts

/** The plan as text, or the error it stops with. */
function planText(g: Graph, opts: PlanOptions): string {
  try {
    const plan = planKernels(g, opts);
    return `${JSON.stringify(plan.program)}\n${plan.explain.join('\n')}`;
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** True when planning had to materialise a node after a failed attempt (and so reused kernels). */
const retried = (plan: string) => plan.includes(': split: ');

/** What an attempt's buffers answer, as plain tables (buffer id and name per node id). */
interface Answers {
  readonly homes: Readonly<Record<number, readonly [number, string]>>;
  readonly materialized: readonly number[];
  readonly rowLocal: readonly number[];
  readonly targets: readonly number[];
}

/** An attempt's buffers that answer so. */
function fakeBuffers(t: Answers): NamedBuffers {
  const names = new Map(Object.values(t.homes).map(([id, name]) => [id, name]));
  return {
    homeOf: (n) => t.homes[n.id]?.[0],
    home: (n) => t.homes[n.id]![0],
    nameOf: (buf) => names.get(buf)!,
    isMaterialized: (n) => t.materialized.includes(n.id),
    isRowLocal: (n) => t.rowLocal.includes(n.id),
    targetsOf: () => t.targets,
    checkOf: () => undefined,
  };
}

describe('draft cache', () => {
  const b = new IRBuilder();
  const x = b.input('x', { dtype: 'f32', shape: [4] });
  const w = b.param('w', { dtype: 'f32', shape: [4] });
  const y = b.binary('mul', x, w);
  const root = b.unary('exp', y);
  /** A stand-in for building root's kernel: asks what the planner's builder asks, records the answers. */
  const build = (bufs: RootBuffers): DraftKernel => {
    const slots = [...bufs.targetsOf(root)];
    for (const n of [y, x, w])
      if (bufs.isMaterialized(n) || n.op !== 'binary') slots.push(bufs.home(n));
      else bufs.isRowLocal(n);
    return {
      root,
      kind: 'elementwise',
      parallel: [],
      stages: [],
      slots,
      reads: new Map(slots.slice(1).map((s) => [s, new Set(['new'] as const)])),
      writes: new Set(slots.slice(0, 1)),
      scalars: new Set(),
      ops: [],
      fused: [],
      stageNodes: [],
    };
  };
  const first: Answers = {
    homes: { [x.id]: [0, 'input x'], [w.id]: [1, 'param w'], [root.id]: [2, 'temp #3'] },
    materialized: [],
    rowLocal: [],
    targets: [2],
  };

  it('reuses a draft when every answer is the same, with buffer ids translated by name', () => {
    const cache = new DraftCache();
    let builds = 0;
    const counted = (bufs: RootBuffers) => (builds++, build(bufs));
    const d0 = cache.draft(root, fakeBuffers(first), counted);
    expect(d0.slots).toEqual([2, 0, 1]);
    // A temp before this one renumbers it: same answers by name, so reused and translated.
    const renumbered: Answers = { ...first, homes: { ...first.homes, [root.id]: [3, 'temp #3'] }, targets: [3] };
    const d1 = cache.draft(root, fakeBuffers(renumbered), counted);
    expect(builds).toBe(1);
    expect(d1.slots).toEqual([3, 0, 1]);
    expect([...d1.writes]).toEqual([3]);
    expect([...d1.reads.keys()]).toEqual([0, 1]);
  });

  it('rebuilds a draft when an answer differs', () => {
    const changes: Partial<Answers>[] = [
      { materialized: [y.id], homes: { ...first.homes, [y.id]: [4, 'temp #2'] } },
      { rowLocal: [y.id] },
      { homes: { ...first.homes, [w.id]: [1, 'output w'] } },
      { targets: [2, 0] },
      { targets: [1] },
    ];
    for (const change of changes) {
      const cache = new DraftCache();
      let builds = 0;
      const counted = (bufs: RootBuffers) => (builds++, build(bufs));
      const changed: Answers = { ...first, ...change };
      cache.draft(root, fakeBuffers(first), counted);
      const d = cache.draft(root, fakeBuffers(changed), counted);
      expect(builds, JSON.stringify(change)).toBe(2);
      expect(d).toEqual(build(fakeBuffers(changed)));
    }
  });
});

describe('kernels reused across planning attempts', () => {
  it('are the kernels a rebuild gives, on random graphs under tight buffer limits', () => {
    let replanned = 0;
    fc.assert(
      fc.property(arbGraph({ maxSteps: 30 }), fc.integer({ min: 3, max: 8 }), (r, maxBuffers) => {
        const g = optimizeGraph(r.graph).graph;
        const plan = planText(g, { maxBuffers });
        expect(plan).toBe(planText(g, { maxBuffers, noReuse: true }));
        if (retried(plan)) replanned++;
      }),
      { numRuns: 120, seed: 4242 },
    );
    expect(replanned).toBeGreaterThan(8);
  });

  it('are the kernels a rebuild gives, for every example training step', () => {
    let replanned = 0;
    for (const file of readdirSync('examples').filter((f) => f.endsWith('.kiln'))) {
      const { result } = compileSource(file, readFileSync(`examples/${file}`, 'utf8'));
      const train = result.trains[0]!;
      const model = result.models.find((m) => m.name === train.model)!;
      const g = optimizeGraph(buildTrainStep(model, train).graph).graph;
      for (const maxBuffers of [Infinity, 5]) {
        const plan = planText(g, { maxBuffers });
        expect(plan, `${file}, ${maxBuffers} buffers`).toBe(planText(g, { maxBuffers, noReuse: true }));
        if (maxBuffers === Infinity && retried(plan)) replanned++;
      }
    }
    expect(replanned).toBeGreaterThan(3);
  });
});
