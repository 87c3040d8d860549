// `kiln dump FILE --stage ...`: print a compiler stage. With --train the
// graph is the whole training step (forward, gradients, optimizer update).

import { printTypedAst } from '../../dsl/print-ast.js';
import type { Graph } from '../../compiler/ir.js';
import { printGraph } from '../../compiler/print.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { optimizeGraph, formatPassLog } from '../../compiler/passes/pipeline.js';
import { planKernels } from '../../compiler/fusion/plan.js';
import { TARGET_LIMITS } from '../../compiler/pipeline.js';
import { kernelTable, printKernels } from '../../compiler/kernel/print.js';
import { formatMemoryPlan, planMemory } from '../../compiler/memory.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { buildWasmModule } from '../../targets/wasm/codegen.js';
import { generateWgsl } from '../../targets/wgsl/codegen.js';
import { describeWgsl } from '../../targets/wgsl/describe.js';
import { UserError, UsageError } from '../errors.js';
import { type LoadedModel, loadModel } from '../model.js';
import type { Output } from '../output.js';
import { defaultScalarOutput } from './grad.js';

export const STAGES = ['ast', 'ir', 'grad', 'opt', 'kernels', 'wasm', 'wgsl'] as const;
export type Stage = (typeof STAGES)[number];

export interface DumpOptions {
  readonly stage: string;
  readonly train: boolean;
  readonly model?: string;
  readonly target?: string;
  readonly explainFusion?: boolean;
  readonly passes?: boolean;
  readonly verbose?: boolean;
  readonly dims?: string;
}

/** `B=32,T=8` -> a dims map. */
export function parseDims(s: string | undefined): Map<string, number> | undefined {
  if (s === undefined) return undefined;
  const out = new Map<string, number>();
  for (const part of s.split(',')) {
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--dims expects NAME=SIZE pairs like B=32,T=8, got '${part}'`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** The graph a stage works on: the training step with --train, else the forward pass. */
function stageGraph(lm: LoadedModel, train: boolean): Graph {
  if (!train) return lm.model.lower({ training: false });
  if (!lm.train)
    throw new UserError(`${lm.path}: model '${lm.model.name}' has no train block, so --train has no step to show`);
  try {
    return buildTrainStep(lm.model, lm.train).graph;
  } catch (e) {
    throw new UserError(`${lm.path}: ${(e as Error).message}`);
  }
}

export function dumpCommand(file: string, opts: DumpOptions, out: Output): number {
  if (!(STAGES as readonly string[]).includes(opts.stage))
    throw new UsageError(`unknown stage '${opts.stage}' (expected ${STAGES.join(', ')})`);
  const stage = opts.stage as Stage;
  const dims = parseDims(opts.dims);
  const lm = loadModel(file, opts.model);
  const title = `${opts.train ? 'training step' : 'model'} ${lm.model.name}`;
  switch (stage) {
    case 'ast':
      out.stdout(printTypedAst(lm.loaded.program, lm.loaded.result));
      return 0;
    case 'ir':
      out.stdout(printGraph(stageGraph(lm, opts.train), title));
      return 0;
    case 'grad': {
      if (opts.train) {
        out.stdout(printGraph(stageGraph(lm, true), title));
        return 0;
      }
      const of = defaultScalarOutput(lm, undefined);
      const g = gradientGraph(lm.model.lower({ training: false }), {
        of,
        params: lm.model.params.filter((p) => p.type.dtype === 'f32').map((p) => p.name),
        inputs: [],
      });
      out.stdout(printGraph(g, `gradient of ${lm.model.name}.${of}`));
      return 0;
    }
    case 'opt': {
      const { graph, log } = optimizeGraph(stageGraph(lm, opts.train));
      if (opts.passes) out.stdout(`${formatPassLog(log)}\n`);
      out.stdout(printGraph(graph, `${title} (optimised)`));
      return 0;
    }
    case 'kernels': {
      const target = opts.target ?? 'wasm';
      const limits = TARGET_LIMITS[target];
      if (!limits) throw new UsageError(`unknown target '${target}'`);
      const { graph } = optimizeGraph(stageGraph(lm, opts.train));
      const plan = planKernels(graph, limits);
      out.stdout(`${title}: kernels for target ${target}\n`);
      out.stdout(`${kernelTable(plan.program, dims)}\n`);
      out.stdout(`${formatMemoryPlan(planMemory(plan.program), dims)}\n`);
      if (opts.verbose) out.stdout(`\n${printKernels(plan.program)}\n`);
      if (opts.explainFusion) out.stdout(`\nfusion decisions:\n${plan.explain.map((l) => `  ${l}`).join('\n')}\n`);
      return 0;
    }
    case 'wasm': {
      const { graph } = optimizeGraph(stageGraph(lm, opts.train));
      const program = planKernels(graph, TARGET_LIMITS['wasm']).program;
      const module = buildWasmModule([{ prefix: opts.train ? 'step' : 'fwd', program }], {
        relaxedSimd: false,
        sharedMemory: false,
      });
      out.stdout(module.text());
      return 0;
    }
    case 'wgsl': {
      const { graph } = optimizeGraph(stageGraph(lm, opts.train));
      const program = planKernels(graph, TARGET_LIMITS['webgpu']).program;
      const parts = program.kernels.map((k) => {
        const w = generateWgsl(k);
        return `${describeWgsl(k, w, program)}\n\n${w.code}`;
      });
      out.stdout(`// ${title}: ${program.kernels.length} WGSL shaders (target webgpu)\n\n${parts.join('\n')}`);
      return 0;
    }
  }
}
