// Copies non-TypeScript assets the compiled JavaScript loads at run time, and
// precompiles the grammar (dist/dsl/kiln.ohm.json, see "Grammar" in dsl/parse.ts)
// so that the built CLI does not compile kiln.ohm on every run.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { grammarRecipe } from '../dist/dsl/parse.js';

cpSync('dsl/kiln.ohm', 'dist/dsl/kiln.ohm');
writeFileSync('dist/dsl/kiln.ohm.json', grammarRecipe(readFileSync('dist/dsl/kiln.ohm', 'utf8')));
