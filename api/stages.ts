// A compiler stage of a checked model as text: what `kiln dump` prints and
// the library's `dump` returns. With the `step` entry the graph is the whole
// training step (forward, gradients, optimizer update); with `jvp` or `vjp`,
// the model's forward or reverse derivative (the program of that artifact
// entry).

import type { Program } from '../dsl/ast.js';
import type { CheckResult, CheckedModel, CheckedTrain } from '../dsl/check.js';
import { printTypedAst } from '../dsl/print-ast.js';
import { type Compilation, type ProgramStages, compile } from '../compiler/compile.js';
import { kernelTable, printKernels } from '../compiler/kernel/print.js';
import { formatMemoryPlan } from '../compiler/memory.js';
import { formatPassLog } from '../compiler/passes/pipeline.js';
import { printGraph } from '../compiler/print.js';
import type { ProgramName, TargetName } from '../compiler/target.js';
import { loadTarget } from '../targets/index.js';

export const STAGES = ['ast', 'ir', 'grad', 'opt', 'kernels', 'wasm', 'wgsl'] as const;
export type Stage = (typeof STAGES)[number];

export const DUMP_ENTRIES = ['run', 'step', 'jvp', 'vjp'] as const;
export type DumpEntry = (typeof DUMP_ENTRIES)[number];

/** A model as the front end checked it, with its file's program (for the `ast` stage). */
export interface StageModel {
  readonly model: CheckedModel;
  readonly train: CheckedTrain | undefined;
  readonly program: Program;
  readonly result: CheckResult;
}

export interface StageOptions {
  readonly stage: Stage;
  readonly entry: DumpEntry;
  /** kernels: whose limits to plan for (default wasm). */
  readonly target?: TargetName;
  /** kernels: sizes at these symbolic dimensions. */
  readonly dims?: ReadonlyMap<string, number>;
  /** kernels: every kernel as loop-nest pseudo-code. */
  readonly verbose?: boolean;
  /** kernels: why values were materialised and merges refused. */
  readonly explainFusion?: boolean;
  /** opt: what each rewrite pass did. */
  readonly passes?: boolean;
  /** grad of the run entry: the scalar output (default: the train block's minimize, or the only scalar f32 output). */
  readonly of?: string;
}

/** A stage the model cannot show (no train block, a step that cannot be built, no scalar output): a user error. */
export class StageError extends Error {
  override name = 'StageError';
}

/** The program a stage shows: the training step with --train, else the forward pass. */
interface Shown {
  readonly compilation: Compilation;
  readonly program: ProgramName;
  readonly stages: ProgramStages;
  /** A curvature optimizer's step without a refresh (`step_plain`), shown after the refreshing one. */
  readonly plain?: { readonly stages: ProgramStages; readonly every: string; readonly roots?: true };
}

/** The title of the plain step's section (`roots`: shampoo's inverse roots are what a refresh recomputes). */
const plainTitle = (title: string, every: string, roots?: true) =>
  `${title}, plain (no ${roots ? 'inverse-root' : 'curvature'} refresh: steps t with (t - 1) % ${every} != 0, program step_plain)`;
/** The refreshing step's title, when there is a plain one. */
const refreshTitle = (title: string, every: string, roots?: true) =>
  `${title}, refreshing the ${roots ? 'inverse roots' : 'curvature estimate'} (steps t with (t - 1) % ${every} == 0)`;

function shown(m: StageModel, entry: DumpEntry, target: TargetName): Shown {
  if (entry === 'run') {
    const compilation = compile(m.model, undefined, { target });
    return { compilation, program: 'fwd', stages: compilation.forward };
  }
  if (entry === 'jvp' || entry === 'vjp') {
    const compilation = compile(m.model, undefined, { target });
    return { compilation, program: entry, stages: compilation[entry] };
  }
  if (!m.train) throw new StageError(`model '${m.model.name}' has no train block, so it has no training step to show`);
  const compilation = compile(m.model, m.train, { target });
  const step = compilation.step!;
  if (step.kind === 'unavailable') throw new StageError(step.reason);
  const every = step.step.plain?.every;
  return {
    compilation,
    program: 'step',
    stages: step.stages,
    ...(step.plain &&
      every !== undefined && {
        plain: { stages: step.plain, every, ...(step.step.plain?.roots && { roots: true as const }) },
      }),
  };
}

/** The train block's minimize, else the model's only scalar f32 output. */
function scalarOutput(m: StageModel): string {
  const scalars = m.model.outputs.filter((o) => o.type.dtype === 'f32' && o.type.shape.length === 0);
  const name = m.train?.minimize ?? (scalars.length === 1 ? scalars[0]!.name : undefined);
  if (name === undefined)
    throw new StageError(
      `model '${m.model.name}' has no train block and ${scalars.length === 0 ? 'no' : 'several'} scalar f32 outputs, so the gradient of which is not known`,
    );
  return name;
}

/** The text of one stage of one entry of a model. */
export async function renderStage(m: StageModel, opts: StageOptions): Promise<string> {
  const { entry } = opts;
  const est = m.train?.gradient;
  const fwd =
    entry === 'step' && est?.kind === 'forward'
      ? ` (forward gradient, ${est.directions} direction${est.directions === 1 ? '' : 's'})`
      : '';
  const what = { run: 'model', step: 'training step', jvp: 'jvp of model', vjp: 'vjp of model' }[entry];
  const title = `${what} ${m.model.name}${fwd}`;
  const sections = (s: Shown, suffix = '') => [
    { stages: s.stages, title: (s.plain ? refreshTitle(title, s.plain.every, s.plain.roots) : title) + suffix },
    ...(s.plain ? [{ stages: s.plain.stages, title: plainTitle(title, s.plain.every, s.plain.roots) + suffix }] : []),
  ];
  switch (opts.stage) {
    case 'ast':
      return printTypedAst(m.program, m.result);
    case 'ir':
      return sections(shown(m, entry, 'wasm'))
        .map((x) => printGraph(x.stages.ir, x.title))
        .join('');
    case 'grad': {
      if (entry !== 'run')
        return sections(shown(m, entry, 'wasm'))
          .map((x) => printGraph(x.stages.ir, x.title))
          .join('');
      const of = opts.of ?? scalarOutput(m);
      const g = compile(m.model, undefined, { grad: { of, inputs: [] } }).grad!;
      return printGraph(g, `gradient of ${m.model.name}.${of}`);
    }
    case 'opt':
      return sections(shown(m, entry, 'wasm'), ' (optimised)')
        .map(({ stages, title: t }) => {
          const { graph, passes } = stages.optimised;
          return (opts.passes ? `${formatPassLog(passes)}\n` : '') + printGraph(graph, t);
        })
        .join('');
    case 'kernels': {
      const target = opts.target ?? 'wasm';
      return sections(shown(m, entry, target))
        .map(({ stages: { fusion, memory }, title: t }, i) =>
          [
            `${i > 0 ? '\n' : ''}${t}: kernels for target ${target}\n`,
            `${kernelTable(fusion.program, opts.dims)}\n`,
            `${formatMemoryPlan(memory, opts.dims)}\n`,
            opts.verbose ? `\n${printKernels(fusion.program)}\n` : '',
            opts.explainFusion ? `\nfusion decisions:\n${fusion.explain.map((l) => `  ${l}`).join('\n')}\n` : '',
          ].join(''),
        )
        .join('');
    }
    case 'wasm': {
      const { compilation, program, plain } = shown(m, entry, 'wasm');
      // The module as one thread runs it, without relaxed SIMD or a declared memory maximum.
      const target = await loadTarget({ name: 'wasm', relaxedSimd: false, threads: false, memoryMaximum: false });
      return compilation.code(target, plain ? ['step', 'step_plain'] : [program]).listing();
    }
    case 'wgsl': {
      const { compilation, program, stages, plain } = shown(m, entry, 'webgpu');
      const code = compilation.code(await loadTarget({ name: 'webgpu' }), plain ? ['step', 'step_plain'] : [program]);
      const n = stages.fusion.program.kernels.length + (plain?.stages.fusion.program.kernels.length ?? 0);
      return `// ${title}: ${n} WGSL shaders (target webgpu)\n\n${code.listing()}`;
    }
  }
}
