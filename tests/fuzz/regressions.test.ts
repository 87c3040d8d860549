// Bugs the fuzzing campaign found (issue #19), each as its shrunk reproducer
// (fuzz-out/<kind>-<seed>.kiln, the seed of the program that found it).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import { compileSource } from '../../dsl/frontend.js';
import { buildArtifact } from '../../targets/artifact.js';
import { wasmTarget } from '../../targets/wasm/target.js';
import { runOracles } from '../../fuzz/oracles.js';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from '../cli/helpers.js';

function checked(src: string) {
  const { result } = compileSource('repro.kiln', src);
  expect(result.diagnostics).toEqual([]);
  return { model: result.models[0]!, train: result.trains[0] };
}

describe('fixed', () => {
  // crash-3040267739: the reference interpreter bound B only from the inputs
  // the outputs read, so a B that only a shape uses was "not bound" (an
  // internal error of `kiln run --target reference`).
  const B_ONLY_IN_A_SHAPE = `model m(x0: f32[1], x5: f32[B]) {
  v11 = broadcast_to(x0, [B, 2])
  output out0 = v11
}
`;

  it('crash-3040267739: a symbolic dim read only by broadcast_to binds from its input (oracles)', async () => {
    expect(await runOracles({ source: B_ONLY_IN_A_SHAPE, dataSeed: 1, batch: 4 })).toBeUndefined();
  });

  it('crash-3040267739: kiln run --target reference binds it too', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'm.kiln'), B_ONLY_IN_A_SHAPE);
    writeFileSync(
      join(dir, 'in.safetensors'),
      encodeSafetensors({
        x0: { dtype: 'F32', shape: [1], data: Float32Array.of(0.5) },
        x5: { dtype: 'F32', shape: [3], data: new Float32Array(3) },
      }),
    );
    const r = await kiln('run', join(dir, 'm.kiln'), '--target', 'reference', '--inputs', join(dir, 'in.safetensors'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^out0: f32\[3, 2\] = \[0\.50*, 0\.50*, 0\.50*/);
  });
});

describe('known bugs, not fixed yet (remove .fails when fixed)', () => {
  // crash-2063177555 and crash-2661944424: fusion planning of a training step
  // throws IRError "in-place hazard: a kernel reads the old value of buffer N
  // after storing it" (compiler/fusion/plan.ts checkHazards, via mergeCycles).
  it.fails('crash-2063177555: schedule_free_adamw step over softmax_cross_entropy compiles', () => {
    const { model, train } = checked(`model m() {
  param w6: f32[2, 2] = uniform(-1.0, 1.0)
  v8 = softmax_cross_entropy(w6, softmax(tanh(w6)))
  output loss = mean(tanh(v8))
}

train m {
  minimize loss
  optimizer schedule_free_adamw(lr = 0.01)
}
`);
    buildArtifact(compile(model, train, { target: 'wasm' }), wasmTarget({ relaxedSimd: false, threads: false }), {
      seed: 1,
    });
  });

  it.fails('crash-2661944424: adahessian step over layer_norm compiles', () => {
    const { model, train } = checked(`model m() {
  param w2: f32[2, 2, 2] = constant(0.5)
  param w9: f32[2] = uniform(0.5, 1.5)
  param w10: f32[2] = zeros
  output loss = mean(tanh(layer_norm(w2, w9, w10)))
}

train m {
  minimize loss
  optimizer adahessian(lr = 0.001)
}
`);
    buildArtifact(compile(model, train, { target: 'wasm' }), wasmTarget({ relaxedSimd: false, threads: false }), {
      seed: 1,
    });
  });
});
