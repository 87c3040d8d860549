// Checks of a command's output files before any work starts: the directory
// of each exists and is writable, no output is a directory, and none
// resolves (through symbolic links) to a file the command reads or into the
// artifact directory it runs, so a run never overwrites its own inputs.

import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError, UserError } from './errors.js';

/** The canonical path of `p`, which may not exist yet (its directory must). */
function canonical(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return join(realpathSync(dirname(resolve(p))), basename(p));
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `out` (a file the command will write) against the paths it reads: `reads`
 * (files; undefined entries are skipped) and `file`, the model (a source
 * file or an artifact directory, which no output may land in). `flag` is
 * the option that named `out`, for the messages.
 */
export function checkOutputPath(
  out: string,
  file: string,
  reads: readonly (string | undefined)[],
  flag = '--out',
): void {
  const dir = dirname(resolve(out));
  if (!isDir(dir)) throw new UserError(`cannot write ${out}: the directory ${dirname(out)} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UserError(`cannot write ${out}: the directory ${dirname(out)} is not writable`);
  }
  if (isDir(out)) throw new UserError(`cannot write ${out}: it is a directory`);
  const target = canonical(out);
  if (isDir(file) && dirname(target) === canonical(file))
    throw new UsageError(`${flag} ${out} is inside the artifact ${file}; write the results elsewhere`);
  for (const r of [file, ...reads]) {
    if (r === undefined) continue;
    let same = false;
    try {
      same = canonical(r) === target;
    } catch {
      // an input that does not exist is reported when it is read
    }
    if (same) throw new UsageError(`${flag} ${out} would overwrite ${r}, which this command reads`);
  }
}
