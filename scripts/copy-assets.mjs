// Copies non-TypeScript assets the compiled JavaScript loads at run time.
import { cpSync } from 'node:fs';
cpSync('dsl/kiln.ohm', 'dist/dsl/kiln.ohm');
