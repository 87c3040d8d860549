// The `kiln` command line (../shared/CLI.md): main() runs one command line and
// returns its exit status (0 ok, 1 user error, 2 bad usage). program.ts
// defines the commands with commander and imports a command's module only
// when that command runs. Beside them: commands/ (one module per command,
// common.ts for those that run a model), data/ (the datasets `kiln train`
// reads), train/ (its loop, trainers, checkpoints, progress and plots).

import { type Output, processOutput } from './output.js';

/** Runs the CLI with the given arguments; returns the exit status. */
export async function main(argv: readonly string[], out: Output = processOutput): Promise<number> {
  // A plain `kiln check FILE...` skips loading and setting up commander
  // (~12 ms): with arguments that are no options, program.ts would run
  // exactly this, errors included (tests/cli/check.test.ts compares the two).
  const [command, ...files] = argv;
  if (command === 'check' && files.length > 0 && files.every((f) => !f.startsWith('-'))) {
    try {
      const { checkCommand } = await import('./commands/check.js');
      return await checkCommand(files, out);
    } catch (e) {
      const { reportError } = await import('./errors.js');
      return reportError(e, out.stderr);
    }
  }
  const { runProgram } = await import('./program.js');
  return runProgram(argv, out);
}
