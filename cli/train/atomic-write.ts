// Writes a file (text or bytes) atomically for the CLI: runtime's writer (a
// uniquely named temporary file beside it, synced, renamed into place, the
// directory synced), so readers and a crash never see half of it, with its
// failure as the user's error ("cannot write PATH: why").

import { writeFileAtomic as writeAtomically } from '../../runtime/safetensors-node.js';
import { SafetensorsError } from '../../runtime/safetensors.js';
import { UserError } from '../errors.js';

export function writeFileAtomic(path: string, text: string | Uint8Array): void {
  try {
    writeAtomically(path, typeof text === 'string' ? new TextEncoder().encode(text) : text);
  } catch (e) {
    throw e instanceof SafetensorsError ? new UserError(e.message) : e;
  }
}
