// How the CLI reports failures: user errors get a clear message and exit 1,
// bad usage exits 2, and nothing ever prints a stack trace unless KILN_DEBUG
// is set.

import { KilnError } from '../dsl/source.js';
import { SafetensorsError } from '../runtime/safetensors.js';
import { InputError } from '../compiler/bind.js';

/** A mistake of the user's (a bad file, a missing tensor, ...), not of Kiln's. */
export class UserError extends Error {
  override name = 'UserError';
}

/** Bad command-line usage (exit status 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function isUserError(e: unknown): boolean {
  return e instanceof UserError || e instanceof KilnError || e instanceof SafetensorsError || e instanceof InputError;
}

/**
 * The engine could not allocate a tensor: a model too large for this process at these shapes (the
 * reference interpreter's float64 tensors have no fixed limit to check against beforehand), not a bug.
 */
function outOfMemory(e: unknown): e is RangeError {
  return (
    e instanceof RangeError &&
    /allocation failed|invalid typed array length|invalid array buffer length|array buffer allocation/i.test(e.message)
  );
}

/** Prints an error and returns the exit status for it. */
export function reportError(e: unknown, stderr: (s: string) => void): number {
  if (e instanceof UsageError) {
    stderr(`kiln: ${e.message}\n`);
    return 2;
  }
  if (e instanceof KilnError) {
    stderr(`${e.message}\n${e.diagnostics.length} error${e.diagnostics.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  if (isUserError(e)) {
    stderr(`error: ${(e as Error).message}\n`);
    return 1;
  }
  if (outOfMemory(e)) {
    stderr(
      `error: out of memory (${e.message}): the model's tensors at these shapes do not fit in this process; \`kiln check\` estimates them, and a smaller batch needs less\n`,
    );
    return 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  stderr(`kiln: internal error: ${msg}\n(this is a bug in Kiln; set KILN_DEBUG=1 for details)\n`);
  if (process.env['KILN_DEBUG'] && e instanceof Error && e.stack) stderr(`${e.stack}\n`);
  return 70;
}
