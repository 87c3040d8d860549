// What `kiln dump --stage kernels` shows, for the page: the fused kernels of
// the training step (or of the forward pass, for a model without a train
// block) with their memory plan, and one kernel's pseudo-code and target code
// (its WGSL shader, or its function of the WebAssembly module as WAT).

import { type Compilation, type ProgramStages, compile } from '../../compiler/compile.js';
import type { Kernel } from '../../compiler/kernel/kir.js';
import { kernelTable, printKernel } from '../../compiler/kernel/print.js';
import { formatMemoryPlan } from '../../compiler/memory.js';
import type { ModelContract, TrainContract } from '../../compiler/model.js';
import type { ProgramName, Target, TargetName } from '../../compiler/target.js';
import { loadTarget } from '../../targets/index.js';

export interface KernelView {
  readonly compilation: Compilation;
  /** The program shown: the training step when there is one, else the forward pass. */
  readonly program: ProgramName;
  readonly stages: ProgramStages;
  /** The kernel table and memory plan, as `kiln dump --stage kernels`. */
  readonly text: string;
  readonly kernels: readonly Kernel[];
}

export function kernelView(model: ModelContract, train: TrainContract | undefined, target: TargetName): KernelView {
  const compilation = compile(model, train, { target });
  const step = compilation.step;
  const built = step?.kind === 'built' ? step : undefined;
  const program: ProgramName = built ? 'step' : 'fwd';
  const stages = built ? built.stages : compilation.forward;
  const what = built ? 'training step' : 'model';
  const why = step?.kind === 'unavailable' ? `(no training step: ${step.reason})\n` : '';
  const text =
    `${why}${what} ${model.name}: kernels for target ${target}\n` +
    `${kernelTable(stages.fusion.program)}\n${formatMemoryPlan(stages.memory)}\n`;
  return { compilation, program, stages, text, kernels: stages.fusion.program.kernels };
}

/** The function `$name` of a WAT listing, up to the next top-level form. */
function watFunction(listing: string, exportName: string): string {
  const exported = new RegExp(`\\(export "${exportName}" \\(func (\\$[^)\\s]+)\\)\\)`).exec(listing);
  if (!exported) return `;; no export ${exportName}\n`;
  const start = listing.indexOf(`\n (func ${exported[1]!} `);
  if (start < 0) return `;; no function ${exported[1]!}\n`;
  const next = listing.indexOf('\n (', start + 1);
  return `;; ${exportName}\n${listing.slice(start + 1, next < 0 ? undefined : next)}\n`;
}

/** The view's target's code generator. */
function generator(view: KernelView): Promise<Target> {
  return loadTarget(
    view.compilation.target === 'wasm'
      ? { name: 'wasm', relaxedSimd: false, threads: false, memoryMaximum: false }
      : { name: 'webgpu' },
  );
}

/**
 * One kernel: its pseudo-code (`kiln dump --stage kernels --verbose`) and its WGSL shader or
 * WebAssembly function (WAT). The kernel is compiled alone, as a program of one kernel: code
 * generation is per kernel, and printing the whole module of a CNN's step takes seconds.
 */
export async function kernelCode(view: KernelView, kernel: Kernel): Promise<string> {
  const program = view.stages.fusion.program;
  const code = (await generator(view)).generate([{ prefix: view.program, program: { ...program, kernels: [kernel] } }]);
  const entry = code.kernel(view.program, kernel).entry;
  const target =
    view.compilation.target === 'webgpu'
      ? `// ${entry}\n${(JSON.parse(new TextDecoder().decode(code.bytes)) as { shaders: Record<string, string> }).shaders[entry] ?? '// (no shader)'}`
      : watFunction(code.listing(), entry);
  return `${printKernel(kernel, program)}\n${target}`;
}
