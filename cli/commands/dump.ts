// `kiln dump FILE --stage ...`: print a compiler stage.

import { printTypedAst } from '../../dsl/print-ast.js';
import { printGraph } from '../../compiler/print.js';
import { gradientGraph } from '../../compiler/gradient-graph.js';
import { UserError, UsageError } from '../errors.js';
import { loadModel } from '../model.js';
import type { Output } from '../output.js';
import { defaultScalarOutput } from './grad.js';

export const STAGES = ['ast', 'ir', 'grad', 'opt', 'kernels', 'wasm', 'wgsl'] as const;
export type Stage = (typeof STAGES)[number];

export interface DumpOptions {
  readonly stage: string;
  readonly train: boolean;
  readonly model?: string;
}

export function dumpCommand(file: string, opts: DumpOptions, out: Output): number {
  if (!(STAGES as readonly string[]).includes(opts.stage))
    throw new UsageError(`unknown stage '${opts.stage}' (expected ${STAGES.join(', ')})`);
  const stage = opts.stage as Stage;
  const lm = loadModel(file, opts.model);
  switch (stage) {
    case 'ast':
      out.stdout(printTypedAst(lm.loaded.program, lm.loaded.result));
      return 0;
    case 'ir':
      out.stdout(printGraph(lm.model.lower({ training: opts.train }), `model ${lm.model.name}`));
      return 0;
    case 'grad': {
      const of = defaultScalarOutput(lm, undefined);
      const frozen = new Set(opts.train ? (lm.train?.freeze ?? []) : []);
      const g = gradientGraph(lm.model.lower({ training: opts.train }), {
        of,
        params: lm.model.params.map((p) => p.name).filter((p) => !frozen.has(p)),
        inputs: [],
      });
      out.stdout(printGraph(g, `${opts.train ? 'training step' : 'gradient'} of ${lm.model.name}.${of}`));
      return 0;
    }
    case 'opt':
    case 'kernels':
    case 'wasm':
    case 'wgsl':
      throw new UserError(
        `stage '${stage}' is not built yet: the middle end and code generators come in later releases`,
      );
  }
}
