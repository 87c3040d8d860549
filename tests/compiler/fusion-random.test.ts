// The fuzzer that catches wrong-results-with-fusion bugs (Burn #5122 and
// friends): random valid graphs run three ways must agree: the reference
// interpreter on the graph as built, its kernels without any merging, and
// the optimised, fused, memory-planned kernels (also under WebGPU's
// 8-buffer limit).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../compiler/interpret.js';
import { planKernels } from '../../compiler/fusion/plan.js';
import { compileGraph } from '../../compiler/compile.js';
import { TARGET_LIMITS } from '../../compiler/target.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import { applyMemoryPlan, planMemory } from '../../compiler/memory.js';
import type { KernelProgram } from '../../compiler/kernel/kir.js';
import { arbGraph, mismatch, type RandomGraph } from '../helpers/random-graph.js';

function run(p: KernelProgram, r: RandomGraph) {
  return runProgram(p, { inputs: r.inputs, params: new Map(r.params), dims: r.dims });
}

describe('fused vs unfused vs reference on random graphs', () => {
  it('agree on 300 random graphs', () => {
    let kernelsFused = 0;
    let kernelsUnfused = 0;
    fc.assert(
      fc.property(arbGraph(), fc.boolean(), (r, gpu) => {
        const g = r.graph;
        const want = evaluate(
          g.outputs.map((o) => o.node),
          { inputs: r.inputs, params: r.params, dims: r.dims },
        );
        const unfused = planKernels(g, { noMerge: true }).program;
        const fused = compileGraph(g, gpu ? TARGET_LIMITS['webgpu'] : TARGET_LIMITS['wasm']).fusion.program;
        const planned = applyMemoryPlan(fused, planMemory(fused));
        kernelsFused += fused.kernels.length;
        kernelsUnfused += unfused.kernels.length;
        for (const [what, p] of [
          ['unfused', unfused],
          ['fused', planned],
        ] as const) {
          const got = run(p, r);
          g.outputs.forEach((o, i) => {
            const m = mismatch(got.get(o.name)!, want[i]!, 1e-9);
            if (m) throw new Error(`${what} output ${o.name}: ${m}`);
          });
        }
      }),
      { numRuns: 300, seed: 20261123 },
    );
    // Fusion must actually fuse on these graphs, not just agree.
    expect(kernelsFused).toBeLessThan(kernelsUnfused);
  });
});
