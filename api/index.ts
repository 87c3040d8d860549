// Kiln as a library: the `kiln` package entry point (package.json
// "exports"). It sits on the front end, the compiler and the code
// generators as the CLI does, and never imports cli/. Source text goes in;
// results come back as data: models and tensors, an artifact in memory,
// a stage's text, and diagnostics (file, line, col, message) rather than
// thrown or printed errors. The runtime is the separate `kiln/runtime`.
//
//   import { check, compile, writeArtifact } from 'kiln';
//   import { loadArtifact } from 'kiln/runtime';
//
//   const r = await compile(source, { file: 'mlp.kiln', target: 'wasm' });
//   if (!r.ok) for (const d of r.diagnostics) console.error(`${d.file}:${d.line}:${d.col}: ${d.message}`);
//   else {
//     const model = await loadArtifact(r.artifact);   // run it here, or
//     await writeArtifact(r.artifact, 'mlp-artifact', { dts: true }); // ship it
//   }
//
//   index.ts        this: the public API
//   source.ts       text -> checked program -> the model picked
//   diagnostics.ts  diagnostics as data
//   check.ts        check: models, tensors and train blocks
//   compile.ts      compile, artifactFiles, artifactTypes, writeArtifact
//   dump.ts         dump: a compiler stage as text
//   stages.ts       the stages' text (shared with `kiln dump`)

export { type CheckResult, type ModelInfo, type ParamInfo, type TensorInfo, type TrainInfo, check } from './check.js';
export {
  type Artifact,
  type CompileOptions,
  type CompileResult,
  type WriteOptions,
  artifactFiles,
  artifactTypes,
  compile,
  writeArtifact,
} from './compile.js';
export type { Diagnostic, DiagnosticNote, Location } from './diagnostics.js';
export { DUMP_ENTRIES, type DumpEntry, type DumpOptions, type DumpResult, STAGES, type Stage, dump } from './dump.js';
export type { Failure, ModelOptions, SourceOptions } from './source.js';
export type { DtsOptions } from '../targets/dts.js';
export type { EntryName, Manifest } from '../runtime/manifest.js';
