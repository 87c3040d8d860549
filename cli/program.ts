// The `kiln` command line as commander sees it: every command, its options and
// its help, dispatched to one module per command, and one place that turns
// errors into messages and exit statuses (0 ok, 1 user error, 2 bad usage).
// A command's module is imported only when that command runs, so `kiln
// check` never loads the compiler's back ends, binaryen or the runtime.
// main.ts runs this for every command line but a plain `kiln check FILE...`.

import { Command, CommanderError, Option } from 'commander';
import type { CompileOptions } from './commands/compile.js';
import type { DumpOptions } from './commands/dump.js';
import type { ExportOptions } from './commands/export.js';
import type { GradOptions } from './commands/grad.js';
import type { InitOptions } from './commands/init.js';
import type { AttributeOptions } from './commands/attribute.js';
import { ATTRIBUTION_METHODS } from '../runtime/attribution.js';
import type { LensOptions } from './commands/lens.js';
import type { RunOptions } from './commands/run.js';
import type { TrainOptions } from './commands/train.js';
import { reportError } from './errors.js';
import {
  DEFAULT_TARGET,
  TARGETS,
  nonNegativeInt,
  parseSeed,
  positiveInt,
  positiveNumber,
  threadCount,
} from './options.js';
import type { Output } from './output.js';
import { allowNonfinite } from './data/finite.js';
import { useModelIds } from './data/ids.js';

function buildProgram(out: Output, setStatus: (n: number) => void): Command {
  const program = new Command('kiln')
    .description('Compile small differentiable models into fused kernels')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr })
    .showHelpAfterError('(run kiln --help for usage)')
    .option(
      '--allow-nonfinite',
      'compute with NaN and ±Inf in data, inputs and params (IEEE 754) instead of refusing them',
    );

  const modelOpt = () =>
    new Option('--model <name>', 'which model of the file (default: the only one, or the first trained)');
  const targetOpt = () =>
    new Option('--target <target>', 'where kernels run').choices([...TARGETS]).default(DEFAULT_TARGET);
  const seedOpt = () =>
    new Option('--seed <n>', 'seed for initialisation and randomness').argParser(parseSeed).default(0);
  const f64Opt = () => new Option('--f64', 'write f32 results as F64 (full reference precision)');
  // --inputs of every command that runs a model: any DATA form, --limit and
  // the columns of .csv data (commands/inputs.ts).
  const withInputs = (cmd: Command): Command =>
    cmd
      .addOption(
        new Option(
          '--inputs <data>',
          'inputs: .safetensors named like the model inputs, or any DATA form of train (e.g. fashion-mnist:test)',
        ).makeOptionMandatory(),
      )
      .option('--limit <n>', 'only the first n examples of the inputs', positiveInt('--limit'))
      .option('--x-cols <cols>', '.csv inputs: feature columns (names, 0-based indices, ranges like 1-784)')
      .option(
        '--y-col <col>',
        '.csv inputs: the label column (default: named like the label input, label, or the last)',
      );
  const threadsOpt = () =>
    new Option('--threads <n>', 'wasm: threads to run kernels on (default: the available cores)').argParser(
      threadCount,
    );

  program
    .command('check')
    .description("parse and type-check; print each model's inputs, params and outputs")
    .argument('<files...>', '.kiln sources (each reported under its name when there are several)')
    .action(async (files: string[]) => {
      const { checkCommand } = await import('./commands/check.js');
      setStatus(await checkCommand(files, out));
    });

  program
    .command('dump')
    .description('print a compiler stage')
    .argument('<file>', '.kiln source')
    .requiredOption('--stage <stage>', 'ast | ir | grad | opt | kernels | wasm | wgsl')
    .option('--train', 'the whole training step: forward, gradients and optimizer update', false)
    .option('--entry <entry>', 'the program of an artifact entry: run (default), step (as --train), jvp, vjp')
    .option('--explain-fusion', 'kernels: say why values were materialised and merges refused', false)
    .option('--passes', 'opt: print what each rewrite pass did', false)
    .option('--verbose', 'kernels: print every kernel as loop-nest pseudo-code', false)
    .option('--dims <sizes>', 'kernels: evaluate sizes at these symbolic dimensions, e.g. B=128')
    .addOption(
      new Option('--target <target>', 'kernels: whose limits to plan for').choices(['wasm', 'webgpu']).default('wasm'),
    )
    .addOption(modelOpt())
    .action(async (file: string, o: DumpOptions) => {
      const { dumpCommand } = await import('./commands/dump.js');
      setStatus(await dumpCommand(file, o, out));
    });

  program
    .command('init')
    .description('write initial parameters')
    .argument('<file>', '.kiln source')
    .requiredOption('-o, --out <params>', 'output .safetensors file')
    .addOption(modelOpt())
    .addOption(seedOpt())
    .action(async (file: string, o: InitOptions) => {
      const { initCommand } = await import('./commands/init.js');
      setStatus(initCommand(file, o, out));
    });

  withInputs(
    program
      .command('run')
      .description('forward pass: every output, to a file or summarised')
      .argument('<file>', '.kiln source or compiled artifact directory'),
  )
    .option('--params <p>', 'parameters as .safetensors (default: initialised with --seed)')
    .option('--out <out>', 'write the outputs to this .safetensors file')
    .addOption(modelOpt())
    .addOption(targetOpt())
    .addOption(seedOpt())
    .addOption(f64Opt())
    .addOption(threadsOpt())
    .action(async (file: string, o: RunOptions) => {
      const { runCommand } = await import('./commands/run.js');
      setStatus(await runCommand(file, o, out));
    });

  withInputs(
    program
      .command('grad')
      .description('a scalar output and its gradient w.r.t. every param (and input)')
      .argument('<file>', '.kiln source'),
  )
    .requiredOption('--out <g>', 'write the value and gradients to this .safetensors file')
    .option('--params <p>', 'parameters as .safetensors (default: initialised with --seed)')
    .option('--of <name>', "the scalar output (default: the train block's minimize)")
    .option('--wrt-inputs', 'also differentiate with respect to the f32 inputs', false)
    .addOption(modelOpt())
    .addOption(targetOpt())
    .addOption(seedOpt())
    .addOption(f64Opt())
    .addOption(threadsOpt())
    .action(async (file: string, o: GradOptions) => {
      const { gradCommand } = await import('./commands/grad.js');
      setStatus(await gradCommand(file, o, out));
    });

  for (const [kind, given, what] of [
    ['jvp', 'tangents', 'forward derivative: every output and jvp.<output>, along tangents'],
    ['vjp', 'cotangents', 'reverse derivative: vjp.<param> and vjp.<input>, of cotangents'],
  ] as const)
    withInputs(
      program
        .command(kind)
        .description(what)
        .argument('<file>', '.kiln source or compiled artifact directory (compiled with --entries ...,' + kind + ')'),
    )
      .requiredOption(
        `--${given} <file>`,
        kind === 'jvp'
          ? 'tangents as .safetensors, named like the f32 inputs and params (a missing one is zero)'
          : 'cotangents as .safetensors, named like the f32 outputs (a missing one is zero)',
      )
      .option('--params <p>', 'parameters as .safetensors (default: initialised with --seed)')
      .option('--out <out>', 'write the results to this .safetensors file (default: print a summary)')
      .addOption(modelOpt())
      .addOption(targetOpt())
      .addOption(seedOpt())
      .addOption(f64Opt())
      .addOption(threadsOpt())
      .action(async (file: string, o: LensOptions) => {
        const { lensCommand } = await import('./commands/lens.js');
        setStatus(await lensCommand(kind, file, o, out));
      });

  withInputs(
    program
      .command('attribute')
      .description('input attribution: which input elements the score of an output depends on, per example')
      .argument('<file>', '.kiln source or compiled artifact directory (compiled with --entries attribute)'),
  )
    .requiredOption('--wrt <input>', 'the f32 input to attribute')
    .requiredOption('--of <output>', 'the output whose score is attributed: [B, C] (a class per example) or [B]')
    .addOption(new Option('--method <m>', 'the attribution method').choices(ATTRIBUTION_METHODS).makeOptionMandatory())
    .option('--class <k>', "the class K of a [B, C] output (default: each example's argmax)", nonNegativeInt('--class'))
    .option('--steps <n>', 'integrated_gradients: Riemann points (default 50)', positiveInt('--steps'))
    .option('--samples <n>', 'smoothgrad, expected_gradients: samples (default 50)', positiveInt('--samples'))
    .option('--noise <s>', 'smoothgrad: noise level, times max(x) - min(x) (default 0.15)', positiveNumber('--noise'))
    .option('--baseline <b>', 'integrated_gradients: zeros (default) or a .safetensors x0; expected_gradients: DATA')
    .option('--layer <name>', 'grad_cam: the convolutional layer (a named value of the model, [B, C, H, W])')
    .option('--params <p>', 'parameters as .safetensors (default: initialised with --seed)')
    .option('--out <out>', 'write attr.<input> to this .safetensors file (default: print a summary)')
    .option('--png <dir>', 'write one heat map per example (image-shaped inputs)')
    .addOption(modelOpt())
    .addOption(targetOpt())
    .addOption(seedOpt())
    .addOption(f64Opt())
    .addOption(threadsOpt())
    .action(async (file: string, o: AttributeOptions) => {
      const { attributeCommand } = await import('./commands/attribute.js');
      setStatus(await attributeCommand(file, o, out));
    });

  program
    .command('compile')
    .description('write an artifact that the runtime loads without the compiler')
    .argument('<file>', '.kiln source')
    .requiredOption('-o, --out <dir>', 'artifact directory (created if needed)')
    .addOption(
      new Option('--target <target>', 'where the kernels will run').choices(['wasm', 'webgpu']).default(DEFAULT_TARGET),
    )
    .option('--relaxed-simd', 'use relaxed SIMD (fused multiply-add); needs an engine that has it', false)
    .option('--no-threads', 'build for one thread (no shared memory, no worker threads)')
    .option(
      '--entries <list>',
      'what the artifact can do, comma-separated: run, step, jvp, vjp, attribute (default: run, and step for a trained model)',
    )
    .option('--grad-cam <layer>', "compile the model's Grad-CAM view through this layer instead (with --of)")
    .option('--of <output>', '--grad-cam: the output whose score is attributed')
    .option('--dts [path]', "also write the artifact's TypeScript declarations (default: DIR/model.d.ts)")
    .addOption(modelOpt())
    .addOption(seedOpt())
    .action(async (file: string, o: CompileOptions) => {
      const { compileCommand } = await import('./commands/compile.js');
      setStatus(await compileCommand(file, o, out));
    });

  program
    .command('export')
    .description('write the forward graph as an ONNX model (opset 18, params as initializers)')
    .argument('<file>', '.kiln source')
    .requiredOption('--onnx <out>', 'output .onnx file')
    .option('--params <p>', 'parameters as .safetensors (default: initialised with --seed)')
    .addOption(modelOpt())
    .addOption(seedOpt())
    .action(async (file: string, o: ExportOptions) => {
      const { exportCommand } = await import('./commands/export.js');
      setStatus(exportCommand(file, o, out));
    });

  program
    .command('train')
    .description('train a model on data')
    .argument('<file>', '.kiln source or compiled artifact directory')
    .requiredOption(
      '--data <data>',
      'training data: a .safetensors or .csv file, a directory of .npy or IDX files, or fashion-mnist',
    )
    .option('--eval <data>', 'held-out data (any form; fashion-mnist means its test set): loss and accuracy per epoch')
    .addOption(new Option('--steps <n>', 'training steps in all').argParser(positiveInt('--steps')).conflicts('epochs'))
    .addOption(new Option('--epochs <n>', 'passes over the data in all (default 1)').argParser(positiveInt('--epochs')))
    .addOption(new Option('--batch <b>', 'examples per step').argParser(positiveInt('--batch')).default(32))
    .option('--no-shuffle', 'take batches in order (the last partial batch included)')
    .addOption(new Option('--lr <x>', "learning rate (instead of the train block's)").argParser(positiveNumber('--lr')))
    .option('--params-in <p>', 'start from these params (and optimizer state) instead of initialising')
    .option('--params-out <p>', 'write the final params to this .safetensors file')
    .option('--eval-params', "--params-out writes the evaluation point (schedule_free_adamw's x) instead")
    .option('--checkpoint <dir>', 'save params, optimizer state and position here every epoch (atomically)')
    .option('--resume', 'continue the run saved in --checkpoint, exactly as if never stopped')
    .option('--log <file>', 'write one JSON line per step and per epoch (.jsonl)')
    .option('--plot <file>', 'draw the loss and accuracy curves as an SVG file')
    .option('--x-cols <cols>', '.csv data: feature columns (names, 0-based indices, ranges like 1-784)')
    .option('--y-col <col>', '.csv data: the label column (default: named like the label input, label, or the last)')
    .addOption(modelOpt())
    .addOption(targetOpt())
    .addOption(seedOpt())
    .addOption(threadsOpt())
    .action(async (file: string, o: TrainOptions, cmd: Command) => {
      // A resumed run takes its settings from the checkpoint unless typed.
      const explicit = new Set(
        cmd.options.map((opt) => opt.attributeName()).filter((k) => cmd.getOptionValueSource(k) === 'cli'),
      );
      const { trainCommand } = await import('./commands/train.js');
      setStatus(await trainCommand(file, { ...o, explicit }, out));
    });
  return program;
}

/** Runs the CLI with the given arguments; returns the exit status. */
export async function runProgram(argv: readonly string[], out: Output): Promise<number> {
  let status = 0;
  const program = buildProgram(out, (n) => (status = n));
  allowNonfinite(argv.includes('--allow-nonfinite'));
  useModelIds(undefined);
  // Bare `kiln` is bad usage: the help goes to stderr, exit 2 (CLI.md v1.1).
  if (argv.length === 0) {
    out.stderr(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
        return 0;
      return 2;
    }
    return reportError(e, out.stderr);
  }
}
