// What a campaign reached beyond builtins: the op pairs fused together (a
// producer inlined into its consumer's kernel, `exp>reduce_sum`, or two
// kernels merged into one, `mul+reduce_sum`) and the kernel templates (the
// fusion planner's kernel kind and the shape of its stages: `rowwise:rm` =
// reduce stages then map stages, `reduce:rmrm+` = longer alternations), over
// every kernel program a program compiles to.

import type { KernelProgram } from '../compiler/kernel/kir.js';

export interface KernelCoverage {
  readonly pairs: readonly string[];
  readonly templates: readonly string[];
}

/**
 * A kernel's template: its kind and its stages in order (r: reduce, m: map), runs of one kind
 * written once and cut after four runs (`+`), so templates are a small, fixed set.
 */
export function kernelTemplate(k: KernelProgram['kernels'][number]): string {
  const runs = k.stages
    .map((s) => (s.kind === 'reduce' ? 'r' : 'm'))
    .join('')
    .replace(/(.)\1+/g, '$1');
  return `${k.kind}:${runs.length > 4 ? `${runs.slice(0, 4)}+` : runs}`;
}

/** The distinct fused pairs and kernel templates of `programs`. */
export function kernelCoverage(programs: readonly KernelProgram[]): KernelCoverage {
  const pairs = new Set<string>();
  const templates = new Set<string>();
  for (const p of programs)
    for (const k of p.kernels) {
      templates.add(kernelTemplate(k));
      for (const f of k.fused ?? []) pairs.add(f);
    }
  return { pairs: [...pairs].sort(), templates: [...templates].sort() };
}

/** Counts of how many programs reached each key. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(keys: readonly string[]): void {
    for (const k of keys) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
  /** Keys rarest first (ties by name). */
  rarest(): [string, number][] {
    return [...this.counts].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  }
}
