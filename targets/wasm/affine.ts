// Moved to compiler/kernel/affine.ts (backend-neutral: the WGSL code
// generator uses it too); re-exported so the wasm emitters keep their imports.

export * from '../../compiler/kernel/affine.js';
