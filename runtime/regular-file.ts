// Node only: reads a file that is a regular file. A device (/dev/zero), FIFO
// or socket given where data is expected could be read forever, so it is
// refused before any byte is read, as a directory is.

import { readFileSync, statSync } from 'node:fs';

/** An fs-style error (with `code`) for a path that is not a regular file. */
class NotRegularFile extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The bytes of the regular file at `path`; fs errors (ENOENT, EACCES, ...) pass through. */
export function readRegularFile(path: string): Buffer {
  const st = statSync(path);
  if (st.isDirectory()) throw new NotRegularFile('is a directory', 'EISDIR');
  if (!st.isFile()) throw new NotRegularFile('not a regular file (a device, FIFO or socket)', 'ENOTREG');
  return readFileSync(path);
}
