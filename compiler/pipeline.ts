// The middle end in one call: optimise the graph (named rewrite passes,
// each verified), plan kernels (fusion), and plan memory. Both code
// generators start from what this returns.

import type { Graph } from './ir.js';
import { type PassReport, optimizeGraph } from './passes/pipeline.js';
import { type FusionPlan, type PlanOptions, planKernels } from './fusion/plan.js';

export interface Compiled {
  /** The optimised graph the kernels compute. */
  readonly graph: Graph;
  readonly passes: readonly PassReport[];
  readonly fusion: FusionPlan;
}

/** Per-target limits of the fusion planner. */
export const TARGET_LIMITS: Readonly<Record<string, PlanOptions>> = {
  reference: {},
  wasm: {},
  // WebGPU guarantees 8 storage buffers per shader stage.
  webgpu: { maxBuffers: 8 },
};

export function compileGraph(g: Graph, opts: PlanOptions = {}): Compiled {
  const { graph, log } = optimizeGraph(g);
  return { graph, passes: log, fusion: planKernels(graph, opts) };
}
