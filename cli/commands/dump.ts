// `kiln dump FILE --stage ...`: print a compiler stage. With --train the
// graph is the whole training step (forward, gradients, optimizer update);
// with --entry jvp or vjp, the model's forward or reverse derivative (the
// program of that artifact entry).

import { printTypedAst } from '../../dsl/print-ast.js';
import { type Compilation, type ProgramStages, compile } from '../../compiler/compile.js';
import { kernelTable, printKernels } from '../../compiler/kernel/print.js';
import { formatMemoryPlan } from '../../compiler/memory.js';
import { formatPassLog } from '../../compiler/passes/pipeline.js';
import { printGraph } from '../../compiler/print.js';
import { type ProgramName, type TargetName, isTargetName } from '../../compiler/target.js';
import { loadTarget } from '../../targets/index.js';
import { UserError, UsageError } from '../errors.js';
import { type LoadedModel, defaultScalarOutput, loadModel } from '../model.js';
import type { Output } from '../output.js';

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
  /** run | step | jvp | vjp (step is --train). */
  readonly entry?: string;
}

const ENTRIES = ['run', 'step', 'jvp', 'vjp'] as const;
type Entry = (typeof ENTRIES)[number];

/** --entry, or step with --train; bad usage for an unknown name or both disagreeing. */
function entryOf(opts: DumpOptions): Entry {
  if (opts.entry === undefined) return opts.train ? 'step' : 'run';
  if (!(ENTRIES as readonly string[]).includes(opts.entry))
    throw new UsageError(`--entry: unknown entry '${opts.entry}' (expected ${ENTRIES.join(', ')})`);
  if (opts.train && opts.entry !== 'step') throw new UsageError(`--train shows the step entry, not ${opts.entry}`);
  return opts.entry as Entry;
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

function shown(lm: LoadedModel, entry: Entry, target: TargetName): Shown {
  if (entry === 'run') {
    const compilation = compile(lm.model, undefined, { target });
    return { compilation, program: 'fwd', stages: compilation.forward };
  }
  if (entry === 'jvp' || entry === 'vjp') {
    const compilation = compile(lm.model, undefined, { target });
    return { compilation, program: entry, stages: compilation[entry] };
  }
  if (!lm.train)
    throw new UserError(`${lm.path}: model '${lm.model.name}' has no train block, so --train has no step to show`);
  const compilation = compile(lm.model, lm.train, { target });
  const step = compilation.step!;
  if (step.kind === 'unavailable') throw new UserError(`${lm.path}: ${step.reason}`);
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

export async function dumpCommand(file: string, opts: DumpOptions, out: Output): Promise<number> {
  if (!(STAGES as readonly string[]).includes(opts.stage))
    throw new UsageError(`unknown stage '${opts.stage}' (expected ${STAGES.join(', ')})`);
  const stage = opts.stage as Stage;
  const dims = parseDims(opts.dims);
  const entry = entryOf(opts);
  const lm = loadModel(file, opts.model);
  const est = lm.train?.gradient;
  const fwd =
    entry === 'step' && est?.kind === 'forward'
      ? ` (forward gradient, ${est.directions} direction${est.directions === 1 ? '' : 's'})`
      : '';
  const what = { run: 'model', step: 'training step', jvp: 'jvp of model', vjp: 'vjp of model' }[entry];
  const title = `${what} ${lm.model.name}${fwd}`;
  switch (stage) {
    case 'ast':
      out.stdout(printTypedAst(lm.loaded.program, lm.loaded.result));
      return 0;
    case 'ir': {
      const s = shown(lm, entry, 'wasm');
      out.stdout(printGraph(s.stages.ir, s.plain ? refreshTitle(title, s.plain.every, s.plain.roots) : title));
      if (s.plain) out.stdout(printGraph(s.plain.stages.ir, plainTitle(title, s.plain.every, s.plain.roots)));
      return 0;
    }
    case 'grad': {
      if (entry !== 'run') {
        const s = shown(lm, entry, 'wasm');
        out.stdout(printGraph(s.stages.ir, s.plain ? refreshTitle(title, s.plain.every, s.plain.roots) : title));
        if (s.plain) out.stdout(printGraph(s.plain.stages.ir, plainTitle(title, s.plain.every, s.plain.roots)));
        return 0;
      }
      const of = defaultScalarOutput(lm, undefined);
      const g = compile(lm.model, undefined, { grad: { of, inputs: [] } }).grad!;
      out.stdout(printGraph(g, `gradient of ${lm.model.name}.${of}`));
      return 0;
    }
    case 'opt': {
      const s = shown(lm, entry, 'wasm');
      const sections = [
        { stages: s.stages, title: s.plain ? refreshTitle(title, s.plain.every, s.plain.roots) : title },
        ...(s.plain ? [{ stages: s.plain.stages, title: plainTitle(title, s.plain.every, s.plain.roots) }] : []),
      ];
      for (const { stages, title: t } of sections) {
        const { graph, passes } = stages.optimised;
        if (opts.passes) out.stdout(`${formatPassLog(passes)}\n`);
        out.stdout(printGraph(graph, `${t} (optimised)`));
      }
      return 0;
    }
    case 'kernels': {
      const target = opts.target ?? 'wasm';
      if (!isTargetName(target)) throw new UsageError(`unknown target '${target}'`);
      const s = shown(lm, entry, target);
      const sections = [
        { stages: s.stages, title: s.plain ? refreshTitle(title, s.plain.every, s.plain.roots) : title },
        ...(s.plain ? [{ stages: s.plain.stages, title: plainTitle(title, s.plain.every, s.plain.roots) }] : []),
      ];
      sections.forEach(({ stages: { fusion, memory }, title: t }, i) => {
        out.stdout(`${i > 0 ? '\n' : ''}${t}: kernels for target ${target}\n`);
        out.stdout(`${kernelTable(fusion.program, dims)}\n`);
        out.stdout(`${formatMemoryPlan(memory, dims)}\n`);
        if (opts.verbose) out.stdout(`\n${printKernels(fusion.program)}\n`);
        if (opts.explainFusion) out.stdout(`\nfusion decisions:\n${fusion.explain.map((l) => `  ${l}`).join('\n')}\n`);
      });
      return 0;
    }
    case 'wasm': {
      const { compilation, program, plain } = shown(lm, entry, 'wasm');
      // The module as one thread runs it, without relaxed SIMD or a declared memory maximum.
      const target = await loadTarget({ name: 'wasm', relaxedSimd: false, threads: false, memoryMaximum: false });
      out.stdout(compilation.code(target, plain ? ['step', 'step_plain'] : [program]).listing());
      return 0;
    }
    case 'wgsl': {
      const { compilation, program, stages, plain } = shown(lm, entry, 'webgpu');
      const code = compilation.code(await loadTarget({ name: 'webgpu' }), plain ? ['step', 'step_plain'] : [program]);
      const n = stages.fusion.program.kernels.length + (plain?.stages.fusion.program.kernels.length ?? 0);
      out.stdout(`// ${title}: ${n} WGSL shaders (target webgpu)\n\n${code.listing()}`);
      return 0;
    }
  }
}
