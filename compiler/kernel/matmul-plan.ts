// Recognising matmul kernels, for every backend's matmul template: parallel
// [batch.., m, n], reduce stages over k of load(A) * load(B), and loop-free
// map stages (the epilogue) that use the accumulators. A reads (batch, m, k)
// and B reads (batch, k, n) through their own index expressions (transposed
// or div/mod-indexed operands included); neither is written by the kernel,
// so the reduce stages may run before every epilogue stage.

import { aliasSafe, collect, distinctSlots, ivars, writtenSlots } from './affine.js';
import type { Accumulator, Kernel, Loop, VExpr } from './kir.js';

type LoadExpr = Extract<VExpr, { k: 'load' }>;

export interface MatmulPart {
  /** Index of the reduce stage. */
  readonly stage: number;
  readonly k: Loop;
  readonly acc: Accumulator;
  /** A[m, k] (does not mention n). */
  readonly a: LoadExpr;
  /** B[k, n] (does not mention m). */
  readonly b: LoadExpr;
}

export interface MatmulPlan {
  readonly batch: readonly Loop[];
  readonly m: Loop;
  readonly n: Loop;
  readonly parts: readonly MatmulPart[];
  /** Indices of the epilogue (map) stages, in order. */
  readonly maps: readonly number[];
}

function plainOperand(x: VExpr): x is LoadExpr {
  if (x.k !== 'load' || x.dtype !== 'f32' || x.valid.k !== 'true') return false;
  return collect([x]).loads.length === 1; // no gathers in the index
}

/** The matmul plan of `k`, or undefined when its operand pattern is not recognised. */
export function planMatmul(k: Kernel): MatmulPlan | undefined {
  if (k.kind !== 'matmul' || k.parallel.length < 2 || !distinctSlots(k)) return undefined;
  const n = k.parallel[k.parallel.length - 1]!;
  const m = k.parallel[k.parallel.length - 2]!;
  const batch = k.parallel.slice(0, -2);
  if (typeof n.extent === 'number' && n.extent < 8) return undefined;
  if (k.stages[0]?.kind !== 'reduce') return undefined;
  const written = writtenSlots(k);
  const parts: MatmulPart[] = [];
  const maps: number[] = [];
  const batchNames = new Set(batch.map((l) => l.name));
  const within = (x: LoadExpr, allowed: readonly string[]) =>
    [...ivars(x.index)].every((v) => batchNames.has(v) || allowed.includes(v));
  for (const [si, s] of k.stages.entries()) {
    if (s.kind === 'map') {
      if (s.loops.length > 0) return undefined;
      maps.push(si);
      continue;
    }
    const acc = s.accs[0];
    const kl = s.loops[0];
    if (s.loops.length !== 1 || s.accs.length !== 1 || !acc || !kl) return undefined;
    if (acc.fn !== 'sum' || acc.dtype !== 'f32') return undefined;
    const v = acc.value;
    if (v.k !== 'binary' || v.fn !== 'mul' || !plainOperand(v.a) || !plainOperand(v.b)) return undefined;
    const bFirst = ivars(v.a.index).has(n.name);
    const a = bFirst ? v.b : v.a;
    const b = bFirst ? v.a : v.b;
    if (!within(a, [m.name, kl.name]) || !within(b, [n.name, kl.name])) return undefined;
    if (!ivars(a.index).has(kl.name) || !ivars(b.index).has(kl.name) || !ivars(b.index).has(n.name)) return undefined;
    if (written.has(a.buf) || written.has(b.buf)) return undefined;
    parts.push({ stage: si, k: kl, acc, a, b });
  }
  if (!aliasSafe(maps.map((i) => k.stages[i]!))) return undefined;
  return { batch, m, n, parts, maps };
}
