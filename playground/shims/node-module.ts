// node:module in the playground's bundle: dsl/parse.ts loads ohm-js through
// createRequire (its one-file CommonJS build starts faster in Node); in the
// bundle that is ohm-js's ES module. binaryen imports node:module only in Node.

import * as ohm from 'ohm-js';

export function createRequire(_from: string | URL): (id: string) => unknown {
  return (id) => {
    if (id === 'ohm-js') return ohm;
    throw new Error(`require('${id}') is not available in the browser`);
  };
}
