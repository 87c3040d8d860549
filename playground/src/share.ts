// Sharing a model through the URL: its source text, compressed, in the hash.

import { compressToEncodedURIComponent, decompressFromEncodedURIComponent } from 'lz-string';

const KEY = '#code=';

export function shareHash(source: string): string {
  return `${KEY}${compressToEncodedURIComponent(source)}`;
}

/** The source in a hash made by shareHash, if it holds one. */
export function sourceOfHash(hash: string): string | undefined {
  if (!hash.startsWith(KEY)) return undefined;
  const text = decompressFromEncodedURIComponent(hash.slice(KEY.length));
  return text || undefined;
}
