// The Kiln runtime: loads an artifact written by `kiln compile` and runs it,
// with no part of the compiler. An ES module that works unchanged in Node and
// in browsers.
//
//   const m = await loadModel('model/');           // a directory or a URL
//   const t = await loadModel<Mlp>('model/');       // typed by `kiln compile --dts` (ModelTypes)
//   const { probs } = await m.run({ x: { data: xs, shape: [32, 784] } });
//   const loss = await m.step({ x, y });            // one fused training step
//   const { 'jvp.probs': dp } = await m.jvp({ x, y }, { x: dx }); // derivatives,
//   const { 'vjp.w1': gw } = await m.vjp({ x, y }, { probs: u }); // if compiled in
//   const { attr } = await m.attribute({ x }, { method: 'saliency', wrt: 'x', of: 'probs' });
//   m.setHyperparameter('lr', 1e-4);
//   const saved = m.getParams();                    // params and optimizer state
//   m.dispose();                                    // stops the worker threads

export {
  type ArtifactFiles,
  type ArtifactSources,
  type LoadOptions,
  Model,
  type ModelTypes,
  loadArtifact,
  loadModel,
  stepSeed,
} from './model.js';
export type { Tensor, TensorData } from './executor.js';
export { LensArgumentError } from './lens.js';
export {
  ATTRIBUTION_METHODS,
  type Attribution,
  AttributionError,
  type AttributionMethod,
  type AttributionOptions,
} from './attribution.js';
export { COTANGENT, JVP, TANGENT, VJP, type LensKind } from './lens-interface.js';
export { ArtifactError, KilnRuntimeError, MANIFEST_FORMAT, MANIFEST_VERSION, validateManifest } from './validate.js';
export type * from './manifest.js';
export { ENTRY_NAMES } from './manifest.js';
export type { HyperValue } from './optimizers/spec.js';
