// File-system failures as one-line user errors naming the path.

import { UserError } from '../errors.js';

export function fileError(path: string, e: unknown): UserError {
  const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code: unknown }).code : undefined;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'ENOTREG'
            ? 'not a regular file (a device, FIFO or socket)'
            : e instanceof Error
              ? e.message
              : String(e);
  return new UserError(`cannot read ${path}: ${why}`);
}
