// Bugs the fuzzing campaign found (issue #19), each as its shrunk reproducer
// (fuzz-out/<kind>-<seed>.kiln, the seed of the program that found it).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../compiler/compile.js';
import { evaluate } from '../../compiler/interpret.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { initialState, referenceTrainStep, stepRefreshes, stepScalars } from '../../compiler/train-reference.js';
import { loadArtifact, stepSeed } from '../../runtime/index.js';
import { kernelPrograms } from '../../fuzz/compare.js';
import { runOracles } from '../../fuzz/oracles.js';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import { kiln, tempDir } from '../cli/helpers.js';
import { artifactFor, expectAllClose, refMap } from '../runtime/helpers.js';
import { relativeError } from '../helpers/shampoo-reference.js';
import { webgpuSuite } from '../helpers/webgpu.js';
import { wgslTarget } from '../../targets/wgsl/target.js';

function checked(src: string) {
  const { result } = compileSource('repro.kiln', src);
  expect(result.diagnostics).toEqual([]);
  return { model: result.models[0]!, train: result.trains[0] };
}

/**
 * Three fused wasm steps of a model without inputs against referenceTrainStep
 * (curvature refreshes as the runtime schedules them): the loss within rtol
 * 1e-4 / atol 1e-6, every param and state tensor within rtol 1e-3 / atol 2e-5,
 * except, with `roots`, Shampoo's inverse roots (`.Hinv`, `.Linv`, `.Rinv`):
 * within that relative Frobenius error (f32's accuracy grows with the
 * condition number; the README states it).
 */
async function expectTrainsAsReference(src: string, roots?: number): Promise<void> {
  const { model, train } = checked(src);
  const step = buildTrainStep(model, train!);
  const m = await loadArtifact(artifactFor(model, train, { seed: 1, threads: false }), { threads: 1 });
  try {
    let params = new Map([...refMap(await m.getParams({ state: false })), ...initialState(step)]);
    for (let t = 1; t <= 3; t++) {
      const loss = await m.step({});
      const ref = referenceTrainStep(step, {
        params,
        batch: new Map(),
        scalars: stepScalars(step, t),
        seed: stepSeed(0, t),
        ...(step.plain && { refresh: stepRefreshes(step, t) }),
      });
      expectAllClose(`loss at step ${t}`, [loss], [ref.loss], 1e-4, 1e-6);
      params = ref.params;
      const got = await m.getParams();
      for (const [name, want] of params)
        if (roots !== undefined && /\.(H|L|R)inv$/.test(name))
          expect(relativeError([...got[name]!.data], [...want.data]), `${name} after step ${t}`).toBeLessThan(roots);
        else expectAllClose(`${name} after step ${t}`, got[name]!.data, want.data, 1e-3, 2e-5);
    }
  } finally {
    m.dispose();
  }
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

describe('fixed (training)', () => {
  // crash-891711998, crash-1393694433, crash-668204536: referenceTrainStep
  // had the same fault as crash-3040267739 (B reaches the step only through
  // a shape, or through a jvp whose value does not depend on B's input).
  for (const [name, src] of [
    [
      'crash-891711998',
      `model m(x1: f32[B, 1, 1, 1], x4: f32[1, 1]) {
  v5 = broadcast_to(x4, [B, 2, 3])
  output loss = mean(tanh(v5))
}

train m {
  minimize loss
  optimizer adabound(lr = 0.001)
}
`,
    ],
    [
      'crash-1393694433',
      `model m(x1: f32[B]) {
  param w3: f32[] = he_uniform
  v5 = jvp(tanh(x1), w3, tanh(w3))
  output loss = mean(tanh(v5))
}

train m {
  minimize loss
  optimizer lamb(lr = 0.01)
}
`,
    ],
  ] as const)
    it(`${name}: a training step whose B is bound only by an unread input matches the reference`, async () => {
      expect(await runOracles({ source: src, dataSeed: 1, batch: 3 })).toBeUndefined();
    });

  // crash-1928683197: an sgd update inlined the gradient of stack([w, tanh(w)]),
  // which reads w at other indices than the update writes it (IRError
  // "in-place hazard"); the planner now gives such an input a buffer first.
  it('crash-1928683197: an sgd step over stack([w, tanh(w)]) matches the reference', async () => {
    const src = `model m() {
  param w1: f32[2] = uniform(0.5, 1.5)
  v7 = stack([w1, tanh(w1)], 0)
  output loss = mean(tanh(v7))
}

train m {
  minimize loss
  optimizer sgd(lr = 0.001)
}
`;
    await expectTrainsAsReference(src);
  });

  // train-580289919: a gradient of norm about 100 (behind layer_norm at zero
  // variance) makes H = eps·I + g·gᵀ's condition number 1e8; in f32 its small
  // eigenvalues round below zero and the Newton iteration for H^(−1/2)
  // diverged (the first step moved w5 by 0.066, not 0.0003). The root's
  // damping is now floored at 1e-6·‖H‖_F (compiler/optimizers/shampoo.ts ROOT_FLOOR).
  const SHAMPOO_LARGE_GRADIENT = `model m() {
  param w5: f32[5] = zeros
  param w7: f32[5] = ones
  param w8: f32[5] = zeros
  param w10: f32[5, 5] = uniform(-0.5, 0.5)
  v9 = layer_norm(w5, w7, w8)
  v11 = clip(v9, -3.0, 3.0) @ w10
  output loss = mean(tanh(clip(v11, -20.0, 20.0)))
}

train m {
  minimize loss
  optimizer shampoo(lr = 0.001)
}
`;

  it('train-580289919: shampoo at condition number 1e8 (oracles)', async () => {
    expect(await runOracles({ source: SHAMPOO_LARGE_GRADIENT, dataSeed: 580289919, batch: 4 })).toBeUndefined();
  });

  it('train-580289919: three shampoo steps match the reference: params, statistics, roots to 1%', async () => {
    await expectTrainsAsReference(SHAMPOO_LARGE_GRADIENT, 1e-2);
  });
});

describe('fixed: in-place hazards in training steps', () => {
  // These steps' fusion planning threw IRError "in-place hazard" (a kernel that
  // updates a param or state in place read its old value at other indices, or
  // after the group's map stage stored it: compiler/fusion/plan.ts checkHazards,
  // from buildRoot or mergeCycles). The planner now gives the offending inlined
  // value a buffer of its own and plans again; each step matches the reference.
  // crash-2661944424 was found with w2 = constant(0.5): layer_norm's variance
  // is then near its eps after two steps, where f32 and f64 Hessian estimates
  // differ by 0.4% in their own right; a uniform init keeps the check tight.
  it.each([
    [
      'crash-2063177555: schedule_free_adamw step over softmax_cross_entropy',
      `model m() {
  param w6: f32[2, 2] = uniform(-1.0, 1.0)
  v8 = softmax_cross_entropy(w6, softmax(tanh(w6)))
  output loss = mean(tanh(v8))
}

train m {
  minimize loss
  optimizer schedule_free_adamw(lr = 0.01)
}
`,
    ],
    [
      'crash-2768328199: an ademamix step over softmax(w)',
      `model m() {
  param w12: f32[2, 2] = he_uniform
  output loss = mean(tanh(softmax(w12)))
}

train m {
  minimize loss
  optimizer ademamix(lr = 0.01)
}
`,
    ],
    [
      'crash-2790843082: sophia step over var',
      `model m() {
  param w1: f32[2, 2] = glorot_uniform
  v15 = var(clip(w1, -10.0, 10.0), axis = 1)
  output loss = mean(tanh(clip(v15, -20.0, 20.0)))
}

train m {
  minimize loss
  optimizer sophia(lr = 0.001)
}
`,
    ],
    [
      'crash-2661944424: adahessian step over layer_norm',
      `model m() {
  param w2: f32[2, 2, 2] = uniform(-1.0, 1.0)
  param w9: f32[2] = uniform(0.5, 1.5)
  param w10: f32[2] = zeros
  output loss = mean(tanh(layer_norm(w2, w9, w10)))
}

train m {
  minimize loss
  optimizer adahessian(lr = 0.001)
}
`,
    ],
    [
      // The update group of madgrad's in-place states over a log_softmax's gradient spans two
      // shapes (IRError "in-place updates over different shapes depend on each other"): the
      // planner now gives the member's widest inlined input a buffer first, as for hazards.
      'crash-284312897: madgrad step over log_softmax of a 4-D param',
      `model m() {
  param w12: f32[2, 2, 2, 2] = he_uniform
  v14 = log_softmax(w12, axis = 3)
  output loss = mean(tanh(v14))
}

train m {
  minimize loss
  optimizer madgrad(lr = 0.01)
}
`,
    ],
    [
      // Found by the second wasm campaign (seed 102): sophia's update of w2 and of its state form a
      // cycle of two loop-free elementwise kernels, merged into one, where the state's update reads
      // w2[0] inline for every element while w2's update writes w2[i]. The planner looked for the
      // member to give a buffer only among those with a reduction or a loop; now any member with an
      // inlined input will do.
      'crash-1365092228: sophia step over a slice of the param',
      `model m() {
  param w2: f32[1, 2] = ones
  v6 = w2[..., 0]
  output loss = mean(tanh(clip(v6, -20.0, 20.0)))
}

train m {
  minimize loss
  optimizer sophia(lr = 0.01)
}
`,
    ],
  ] as const)('%s matches the reference', async (_name, src) => {
    await expectTrainsAsReference(src);
  });

  // kernels-3722328007, kernels-2521184576: the kernel-interpreter oracle's first finds. A concat's
  // (or a pad's) masked read of a value merged into its producer's kernel stayed a load, in the map
  // stage that stores it: it read the buffer before the store (silu's gradient through a concat,
  // a padded max pool's). Merging now forwards it as a select.
  it.each([
    [
      'kernels-3722328007',
      3722328007,
      4,
      `model m(x4: f32[2, 1, 1, 1]) {
  v5 = silu(x4)
  v7 = concat([v5, x4], 0)
  v8 = grad(mean(tanh(v7)), x4)
  output out0 = v8
}
`,
    ],
    [
      'kernels-2521184576',
      2521184576,
      1,
      `model m(x1: f32[B, 2, 2, 2], x5: f32[B, 2, 1, 1]) {
  v2 = max_pool2d(x1, 2, padding = 1)
  v6 = cast(v2 <= 0.0, f32) * v2
  v7 = x5 > 0.0 ? v2 : v6
  v8 = pad(v7, [[0, 0], [0, 0], [1, 1], [0, 2]])
  v9 = grad(sum(sin(v8)), x1)
  output out0 = v9
}
`,
    ],
  ] as const)('%s: a masked read of a merged producer sees its value', async (_name, seed, batch, src) => {
    expect(await runOracles({ source: src, dataSeed: seed, batch })).toBeUndefined();
  });

  // fdiff-4117730574, the finite-difference oracle's first find: pow's derivative in x, y x^(y-1),
  // had its exponent made 1 wherever y = 0 (so 0 * 0^-1 is not NaN), so that derivative's own
  // derivative in y at y = 0 was x^0 = 1 instead of x^-1: a gradient of a gradient through pow with
  // a zero exponent came out x times too large, in reverse and forward mode alike (so the
  // forward-vs-reverse oracle agreed with it). The exponent is now made 1 only where x = y = 0.
  it('fdiff-4117730574: the second derivative of pow(x, y) in x then y at y = 0 is 1/x', () => {
    const { model } = checked(`model m() {
  param w: f32[3] = ones
  param e: f32[3] = zeros
  param z: f32[3] = zeros
  d = grad(sum(pow(w * w + 1.0, e)), w)
  output loss = sum(d)
  output via_jvp = sum(jvp(d, e, e * 0.0 + 1.0))
  output at_zero = grad(sum(pow(z, e)), z)
}
`);
    const outs = compile(model, undefined, { grad: { of: 'loss', inputs: [] } }).forward.ir.outputs;
    const three = (v: number) => ({ dtype: 'f32' as const, shape: [3], data: new Float64Array(3).fill(v) });
    const env = {
      inputs: new Map(),
      params: new Map([
        ['w', three(1)],
        ['e', three(0)],
        ['z', three(0)],
      ]),
      dims: new Map(),
    };
    const got = new Map(
      evaluate(
        outs.map((o) => o.node),
        env,
      ).map((t, i) => [outs[i]!.name, [...t.data]]),
    );
    // d/de of e (w^2+1)^(e-1) 2w at e = 0, w = 1: 2w / (w^2 + 1) = 1.
    expect(got.get('grad.e')).toEqual([1, 1, 1]);
    expect(got.get('loss')).toEqual([0]);
    const fwd = compile(model, undefined).ir;
    const forward = (name: string) => [...evaluate([fwd.outputs.find((o) => o.name === name)!.node], env)[0]!.data];
    expect(forward('via_jvp')).toEqual([3]);
    // The guard still holds where x = y = 0: 0 * 0^-1 is 0, not NaN.
    expect(forward('at_zero')).toEqual([0, 0, 0]);
  });
});

// webgpu-3481359753 (the second webgpu campaign): WebGPU's 8-buffer limit
// split the loss into two kernels, the first with four reductions in a row
// (reduce:rmrmrmrm). The WGSL emitter judged index bounds with one range
// context for the whole kernel, in which a later stage's r0_1 (0..3) stood for
// every stage's: so in the first stage (r0_1 in 0..7) the second half of
// concat([x1, x1], 1), read where 4 <= r0_1, was "never" read, and the loss
// came out without it. Ranges are now per stage (targets/wgsl/emit.ts
// enterStage; also split.ts and compiler/kernel/refine-loops.ts).
const FOUR_REDUCTIONS_IN_ONE_KERNEL = `model m(x1: f32[B, 4]) {
  param w2: f32[4, 4] = uniform(-1.0, 1.0)
  param w8: f32[4] = he_uniform
  param w13: f32[4, 1] = uniform(-1.0, 1.0)
  v6 = concat([x1, x1], 1)
  v7 = cos(v6)
  output out2 = v6
  output loss = mean(tanh(clip(w13, -20.0, 20.0))) + mean(tanh(v7)) + mean(tanh(v6)) + mean(w2 * w2) * 0.1 + mean(w8 * w8) * 0.1 + mean(w13 * w13) * 0.1
}

train m {
  minimize loss
  optimizer rmsprop(lr = 0.001)
}
`;

describe('fixed: webgpu code', () => {
  it('webgpu-3481359753: a stage reads both halves of a concat though a later stage reuses its loop name over 0..3', () => {
    // Without out2 the forward pass has the same split: its loss kernel k0 reduces straight from x1.
    const { model } = checked(FOUR_REDUCTIONS_IN_ONE_KERNEL.replace('  output out2 = v6\n', ''));
    const c = compile(model, undefined, { target: 'webgpu' });
    const listing = wgslTarget.generate([{ prefix: 'fwd', program: c.forward.fusion.program }]).listing();
    const first = listing.slice(0, listing.indexOf('// kernel k1'));
    // The reductions of tanh(cos(v6)) and tanh(v6) each read x1 at r0_1 (first half) and at r0_1 - 4 (second).
    expect(first.match(/b0\[\(\(r0_0 \* 4\) \+ r0_1\)\]/g)?.length).toBe(2);
    expect(first.match(/b0\[\(\(\(r0_0 \* 4\) \+ r0_1\) - 4\)\]/g)?.length).toBe(2);
  });
});

// Two more of that campaign, the same bug: a concat along dim 0 and a pad, each
// read in a stage of a kernel that a later stage's loop of the same name but
// a smaller extent shared.
const SAME_BUG = [
  {
    seed: 4119663683,
    batch: 4,
    source: `model m(x0: f32[3, 3], x6: f32[B]) {
  v4 = concat([x0, x0], 0)
  v11 = broadcast_to(x6, [3, B])
  output out1 = v4
  output loss = mean(tanh(v11)) + mean(tanh(v4))
}

train m {
  minimize loss
  optimizer adabelief(lr = 0.01)
}
`,
  },
  {
    seed: 634583165,
    batch: 2,
    source: `model m(x0: f32[B, 1, 5]) {
  param w4: f32[8, 2] = uniform(-0.5, 0.5)
  v1 = pad(x0, [[0, 0], [0, 0], [2, 1]])
  v5 = matmul(v1, w4)
  output out1 = v1
  output loss = mean(tanh(clip(v5, -20.0, 20.0))) + mean(tanh(v1))
}

train m {
  minimize loss
  optimizer momentum(lr = 0.001)
}
`,
  },
];

// crash-2577206060 (the webgpu campaign of seed 44): sophia's four in-place updates (w4, w7 and
// their states) depend on each other, so the planner merged them into one kernel regardless of
// WebGPU's 8-buffer limit: 13 to 15 bindings, which the device refused (its limit is 12). Such a
// group now gives a member's inlined input a buffer first (compiler/fusion/plan.ts mergeCycles).
const SOPHIA_OVER_RMS_NORM = `model m() {
  param w4: f32[1] = ones
  param w7: f32[1] = uniform(0.5, 1.5)
  v8 = rms_norm(w4, w7, eps = 1e-3)
  output loss = mean(tanh(v8))
}

train m {
  minimize loss
  optimizer sophia(lr = 0.01)
}
`;

describe('fixed: webgpu kernels within the 8-buffer limit', () => {
  it('crash-2577206060: in-place updates that depend on each other bind at most 8 buffers', () => {
    const { model, train } = checked(SOPHIA_OVER_RMS_NORM);
    const programs = kernelPrograms(compile(model, train, { target: 'webgpu' }));
    expect(programs).toHaveLength(3); // forward, refreshing step, plain step
    for (const k of programs.flatMap((p) => p.kernels)) expect(k.buffers.length, k.name).toBeLessThanOrEqual(8);
  });
});

webgpuSuite('fixed: webgpu runs', () => {
  it('crash-2577206060: the sophia step runs on webgpu and matches the reference (oracles)', async () => {
    expect(
      await runOracles({ source: SOPHIA_OVER_RMS_NORM, dataSeed: 2577206060, batch: 1 }, { target: 'webgpu' }),
    ).toBeUndefined();
  });

  it.each(SAME_BUG)("webgpu-$seed: the training step's loss matches the reference (oracles)", async (c) => {
    expect(
      await runOracles({ source: c.source, dataSeed: c.seed, batch: c.batch }, { target: 'webgpu' }),
    ).toBeUndefined();
  });

  it('webgpu-3481359753: the loss over four reductions in one kernel matches the reference (oracles)', async () => {
    expect(
      await runOracles({ source: FOUR_REDUCTIONS_IN_ONE_KERNEL, dataSeed: 3481359753, batch: 2 }, { target: 'webgpu' }),
    ).toBeUndefined();
  });
});
