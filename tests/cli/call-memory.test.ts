// A call too big for wasm's 4 GiB (CLI.md v1.1): run, grad, jvp, vjp and
// attribute refuse it before loading the model, with the figures of the
// program they run at the batch their inputs bind, and write nothing. The
// figures are checked against the runtime's own layout of the same call
// (which refuses before allocating too, with its single figure); the
// estimate's edges are unit-tested on hand-made manifests, as a call just
// under 4 GiB would allocate gigabytes.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileSource } from '../../dsl/frontend.js';
import { type GradRequest, compile } from '../../compiler/compile.js';
import { buildArtifact } from '../../targets/artifact.js';
import { wasmTarget } from '../../targets/wasm/target.js';
import type { EntryName, Manifest, ProgramSpec } from '../../runtime/manifest.js';
import { loadArtifact } from '../../runtime/model.js';
import { encodeSafetensors } from '../../runtime/safetensors.js';
import type { Tensor } from '../../runtime/executor.js';
import { refuseCall } from '../../cli/commands/common.js';
import {
  WASM_MAX_BYTES,
  callEstimate,
  compilationSizer,
  estimateOverLimit,
  largestBatch,
  manifestSizer,
} from '../../cli/memory-estimate.js';
import { kiln, tempDir } from './helpers.js';

// Ten numbers per example become a [B, 100000, 1000] matmul result: 12.8 GB at batch 32.
// w has a batch axis of its own: a 2-D w would fold the batch into the matmul's rows, whose gradient
// then sums over k = B*100000, and the matmul's scratch area (not in the CLI's figures) grows with k.
const WIDE = `model h(x: f32[B, 10]) {
  param w: f32[1, 10, 1000] = glorot_uniform
  big = relu(broadcast_to(reshape(x, [B, 1, 10]), [B, 100000, 10]) @ w)
  output score = sum(sum(big, axis = 2), axis = 1)
  output loss = mean(score)
}
`;
const X: Tensor = { data: new Float32Array(32 * 10), shape: [32, 10] };

/** `error: model 'h' needs T GB for its WORD (params 40.0 KB, activations A GB at batch 32); ...`: T and A. */
function refusal(stderr: string, word: string): { total: number; activations: number } {
  const m = new RegExp(
    `^error: model 'h' needs (\\d+\\.\\d) GB for its ${word} \\(params 40\\.0 KB, activations (\\d+\\.\\d) GB at batch 32\\); wasm memory is at most 4 GiB\\n$`,
  ).exec(stderr);
  expect(m, stderr).not.toBeNull();
  return { total: Number(m![1]), activations: Number(m![2]) };
}

/** The runtime's figure for the same call, in GB: its layout refuses before allocating, naming the MiB it needs. */
async function runtimeGB(
  call: 'run' | 'jvp' | 'vjp',
  compiled: { grad?: GradRequest; entries?: EntryName[] },
): Promise<number> {
  const { result } = compileSource('h.kiln', WIDE);
  const c = compile(result.models[0]!, undefined, { target: 'wasm', ...(compiled.grad && { grad: compiled.grad }) });
  const gen = wasmTarget({ relaxedSimd: false, threads: false });
  const model = await loadArtifact(
    buildArtifact(c, gen, { seed: 0, ...(compiled.entries && { entries: compiled.entries }) }),
    { threads: 1 },
  );
  try {
    const pending = call === 'run' ? model.run({ x: X }) : model[call]({ x: X });
    const e = await pending.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    const m = /this call needs (\d+\.\d) MiB/.exec(e?.message ?? '');
    expect(m, e?.message).not.toBeNull();
    return (Number(m![1]) * 2 ** 20) / 1e9;
  } finally {
    model.dispose();
  }
}

/** The refusal's one-decimal GB against the runtime's figure (which adds the code's data and scratch areas). */
function expectNear(refused: number, runtime: number): void {
  expect(Math.abs(refused - runtime)).toBeLessThanOrEqual(0.06);
}

describe('a call over 4 GiB', () => {
  let dir = '';
  let src = '';
  let data = '';
  let art = '';
  beforeAll(async () => {
    dir = tempDir();
    src = join(dir, 'h.kiln');
    writeFileSync(src, WIDE);
    data = join(dir, 'x.safetensors');
    writeFileSync(data, encodeSafetensors({ x: { dtype: 'F32', shape: [32, 10], data: X.data as Float32Array } }));
    art = join(dir, 'art');
    const c = await kiln('compile', src, '-o', art, '--entries', 'run,jvp,vjp');
    expect(c.status, c.stderr).toBe(0);
  });

  /** Runs the command with `--out`; expects the refusal, nothing written, and returns its figures. */
  async function refused(word: string, ...args: string[]) {
    const out = join(dir, `${args[0]}-out.safetensors`);
    const r = await kiln(...args, '--out', out);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
    const f = refusal(r.stderr, word);
    // params + activations = total, to the rounding of each.
    expect(Math.abs(f.total - f.activations - 40e3 / 1e9)).toBeLessThanOrEqual(0.1);
    return f;
  }

  it('kiln run refuses the forward pass, from a source and from an artifact', async () => {
    const fromSource = await refused('forward pass', 'run', src, '--inputs', data);
    expect(fromSource.activations).toBe(12.8);
    expectNear(fromSource.total, await runtimeGB('run', {}));
    const fromArtifact = await refused('forward pass', 'run', art, '--inputs', data);
    expect(fromArtifact).toEqual(fromSource);
  });

  it('kiln run --target reference: out of memory is a user error, not an internal one', async () => {
    const out = join(dir, 'ref-out.safetensors');
    const r = await kiln('run', src, '--target', 'reference', '--inputs', data, '--out', out);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^error: out of memory \(.+\): the model's tensors at these shapes do not fit in this process; .*\n$/,
    );
    expect(r.stderr).not.toMatch(/internal error/);
    expect(existsSync(out)).toBe(false);
  });

  it('kiln grad refuses the gradient program', async () => {
    const f = await refused('gradient program', 'grad', src, '--inputs', data, '--of', 'loss');
    expectNear(f.total, await runtimeGB('run', { grad: { of: 'loss', inputs: [] } }));
    // The gradient needs more than the forward pass it differentiates.
    expect(f.activations).toBeGreaterThan(12.8);
  });

  it('kiln vjp and jvp refuse their programs, from a source and from an artifact', async () => {
    const cot = join(dir, 'cot.safetensors');
    writeFileSync(cot, encodeSafetensors({ loss: { dtype: 'F32', shape: [], data: new Float32Array([1]) } }));
    const vjp = await refused('vjp program', 'vjp', src, '--inputs', data, '--cotangents', cot);
    expectNear(vjp.total, await runtimeGB('vjp', { entries: ['vjp'] }));
    expect(await refused('vjp program', 'vjp', art, '--inputs', data, '--cotangents', cot)).toEqual(vjp);
    const tan = join(dir, 'tan.safetensors');
    writeFileSync(tan, encodeSafetensors({ x: { dtype: 'F32', shape: [32, 10], data: new Float32Array(320) } }));
    const jvp = await refused('jvp program', 'jvp', src, '--inputs', data, '--tangents', tan);
    expectNear(jvp.total, await runtimeGB('jvp', { entries: ['jvp'] }));
  });

  it('kiln attribute refuses the forward pass at the examples given', async () => {
    const args = ['--inputs', data, '--wrt', 'x', '--of', 'score', '--method', 'saliency'];
    const f = await refused('forward pass', 'attribute', src, ...args);
    expect(f.activations).toBe(12.8);
  });

  it('--limit binds the batch: fewer examples, a smaller figure', async () => {
    const r = await kiln('run', src, '--inputs', data, '--limit', '16');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('needs 6.4 GB for its forward pass (params 40.0 KB, activations 6.4 GB at batch 16)');
  });
});

// ------------------------------------------------------------ the estimate, on hand-made manifests

/**
 * A forward pass of x: f32[B, 4] -> y: f32[B, n] through a temp of
 * [B, n] (sharing its storage with a second temp) and param w: f32[4, n],
 * with optimizer state `w.m`.
 */
function manifestOf(n: number): Manifest {
  const B = { coef: 1, syms: ['B'] };
  const Bn = { coef: n, syms: ['B'] };
  const forward: ProgramSpec = {
    buffers: [
      { id: 0, dtype: 'f32', size: { coef: 4, syms: ['B'] }, role: { kind: 'input', name: 'x' }, storage: 0 },
      { id: 1, dtype: 'f32', size: 4 * n, role: { kind: 'param', name: 'w' }, storage: 1 },
      { id: 2, dtype: 'f32', size: Bn, role: { kind: 'temp' }, storage: 2 },
      { id: 3, dtype: 'f32', size: Bn, role: { kind: 'temp' }, storage: 2 },
      { id: 4, dtype: 'f32', size: Bn, role: { kind: 'output', name: 'y' }, storage: 4 },
    ],
    kernels: [],
    outputs: [{ name: 'y', buf: 4 }],
    assigns: [],
    scalars: [],
    zeroed: [],
  };
  return {
    format: 'kiln-artifact',
    version: 1,
    model: 'm',
    target: 'wasm',
    files: { code: 'model.wasm', params: 'params.safetensors' },
    memory: { base: 1024 },
    inputs: [{ name: 'x', dtype: 'f32', shape: [B, 4] }],
    outputs: [{ name: 'y', dtype: 'f32', shape: [B, n] }],
    params: [
      { name: 'w', dtype: 'f32', shape: [4, n], role: 'param' },
      { name: 'w.m', dtype: 'f32', shape: [4, n], role: 'state' },
    ],
    forward,
    features: [],
  };
}

describe('the estimate of a call', () => {
  it("counts a manifest's params, optimizer state and the call's storages (shared ones once)", () => {
    const m = manifestSizer(manifestOf(1000));
    const e = callEstimate(m, 'forward', new Map([['B', 8]]), 8);
    expect(e).toEqual({ params: 16000, state: 16000, activations: 4 * (8 * 4 + 2 * 8 * 1000), batch: 8 });
  });

  it('is undefined for a program the model lacks or a dim the inputs leave unbound', () => {
    const m = manifestSizer(manifestOf(1000));
    expect(callEstimate(m, 'vjp', new Map([['B', 8]]), 8)).toBeUndefined();
    expect(callEstimate(m, 'forward', new Map(), undefined)).toBeUndefined();
  });

  it("gives a source's figures before its code is made, as its artifact's manifest gives them", () => {
    const { result } = compileSource('h.kiln', `${WIDE}train h { minimize loss; optimizer adam(lr = 1e-3) }\n`);
    const c = compile(result.models[0]!, result.trains[0], { target: 'wasm' });
    const entries: EntryName[] = ['run', 'step', 'jvp', 'vjp'];
    const gen = wasmTarget({ relaxedSimd: false, threads: false });
    const fromManifest = manifestSizer(buildArtifact(c, gen, { seed: 0, entries }).manifest);
    const fromSource = compilationSizer(c, entries);
    expect(fromSource.resident).toEqual({ params: 40000, state: 80000 });
    expect(fromSource.resident).toEqual(fromManifest.resident);
    expect(fromSource.inputs.map((i) => i.name)).toEqual(fromManifest.inputs.map((i) => i.name));
    const dims = new Map([['B', 32]]);
    for (const p of ['forward', 'train', 'jvp', 'vjp'] as const) {
      expect(fromSource.callBytes(p, dims).length, p).toBeGreaterThan(0);
      expect(fromSource.callBytes(p, dims), p).toEqual(fromManifest.callBytes(p, dims));
    }
  });

  it('refuses over 4 GiB, not at it', () => {
    const at = { params: 1024, state: 0, activations: WASM_MAX_BYTES - 1024, batch: 32 };
    expect(estimateOverLimit('m', 'forward pass', at)).toBeUndefined();
    expect(estimateOverLimit('m', 'forward pass', { ...at, activations: at.activations + 4 })).toBe(
      "model 'm' needs 4.3 GB for its forward pass (params 1.0 KB, activations 4.3 GB at batch 32); wasm memory is at most 4 GiB",
    );
    expect(estimateOverLimit('m', 'vjp program', { ...at, activations: 5e9, batch: undefined })).toBe(
      "model 'm' needs 5.0 GB for its vjp program (params 1.0 KB, activations 5.0 GB); wasm memory is at most 4 GiB",
    );
  });

  it('refuses a call from the batch its inputs bind, and not one batch under the limit', () => {
    // Per example 4 * (4 + 2n) bytes; params and state 2 * 16n.
    const n = 1_000_000;
    const m = manifestSizer(manifestOf(n));
    const perExample = 4 * (4 + 2 * n);
    const fixed = 2 * 16 * n;
    const most = Math.floor((WASM_MAX_BYTES - fixed) / perExample);
    const x = (b: number): Tensor => ({ data: new Float32Array(b * 4), shape: [b, 4] });
    expect(() => refuseCall(m, 'forward', 'forward pass', { x: x(most) })).not.toThrow();
    expect(() => refuseCall(m, 'forward', 'forward pass', { x: x(most + 1) })).toThrow(
      `model 'm' needs 4.3 GB for its forward pass (params 16.0 MB, optimizer state 16.0 MB, activations 4.3 GB at batch ${most + 1})`,
    );
    // A wrong input is left to the runtime, which names it.
    expect(() =>
      refuseCall(m, 'forward', 'forward pass', { x: { data: new Float32Array(3), shape: [1, 3] } }),
    ).not.toThrow();
    // Attribution's calls and evaluation's batches: the largest that fits.
    expect(largestBatch(m, 'forward', new Map(), 1, 4096)).toBe(most);
    expect(largestBatch(m, 'forward', new Map(), 1, 100)).toBe(100);
    expect(largestBatch({ ...m, target: 'webgpu' }, 'forward', new Map(), 1, 4096)).toBe(4096);
  });
});
