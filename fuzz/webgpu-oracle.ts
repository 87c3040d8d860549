// The webgpu oracle (issue #19): the program compiled for the webgpu target
// and run by the runtime's WebGPU backend (Dawn in Node; SwiftShader without
// a GPU). runOracles with `target: 'webgpu'` puts this model where the wasm
// one goes, so its forward outputs and one training step meet the same
// comparisons (compare.ts), reported as 'webgpu' failures.
//
// A program the target cleanly refuses (a KilnError or KilnRuntimeError for
// a device limit, say) is not a failure: the stage throws a Refusal, and the
// program is skipped and counted. Errors that mean the generated code was
// bad (a shader that does not compile, a kernel the device rejects, a lost
// device) are crashes, though the runtime raises them as KilnRuntimeError.

import type { CheckedModel, CheckedTrain } from '../dsl/check.js';
import { compile } from '../compiler/compile.js';
import { buildArtifact } from '../targets/artifact.js';
import { wgslTarget } from '../targets/wgsl/target.js';
import type { KernelProgram } from '../compiler/kernel/kir.js';
import { type Model, loadArtifact } from '../runtime/index.js';
import { type GpuHandle, type GpuLease, leaseGpuDevice } from '../runtime/webgpu/device.js';
import { type ModelSide, type Stage, crash, isCleanError, kernelPrograms } from './compare.js';

/** Runtime errors that report bad generated code or a broken device, not a limit of the target. */
const NOT_A_REFUSAL =
  /does not compile cleanly|cannot run on this device|the GPU rejected the work|device was lost|reading results back/;

/** The webgpu target cleanly refused the program at `where`; not a failure. */
export class Refusal extends Error {
  override name = 'Refusal';
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`webgpu ${where}: ${reason}`);
  }
}

const webgpuStage: Stage = async (where, f) => {
  try {
    return await f();
  } catch (e) {
    if (isCleanError(e) && !NOT_A_REFUSAL.test((e as Error).message))
      throw new Refusal(where, (e as Error).message.split('\n')[0]!);
    return crash(`webgpu ${where}`, e);
  }
};

/** webgpu: every value that differs is a 'webgpu' failure, at `forward …` or `train …`; crashes at `webgpu …`. */
export const WEBGPU_SIDE: ModelSide = {
  differs: (what, where, detail) => ({ kind: 'webgpu', where: `${what} ${where}`, detail }),
  stage: webgpuStage,
};

let held: Promise<GpuLease> | undefined;
let served = 0;

/**
 * Programs one device serves before it is made anew: the runtime keeps every compiled pipeline
 * as long as its device lives, and a campaign's programs rarely share a shader, so one device
 * for the whole campaign grows without bound.
 */
export const RENEW_DEVICE_AFTER = 100;

/**
 * The process's shared WebGPU device, leased and held for RENEW_DEVICE_AFTER calls (a program
 * each): every model leases it too, so it is not destroyed and made again per program. A lost
 * device is leased anew on the next call. Rejects (with the runtime's reason) where there is
 * no WebGPU: that is no refusal.
 */
export async function webgpuDevice(): Promise<GpuHandle> {
  if (held && ++served > RENEW_DEVICE_AFTER) {
    // Released before the next lease, so that one makes a new device (once the models still
    // using this one are disposed: none, between programs).
    const old = held;
    held = undefined;
    await old.then(
      (l) => l.release(),
      () => undefined,
    );
  }
  if (!held) {
    served = 0;
    const p = leaseGpuDevice();
    held = p;
    p.then(
      (l) =>
        void l.handle.device.lost.then(() => {
          if (held === p) held = undefined;
        }),
      () => {
        if (held === p) held = undefined;
      },
    );
  }
  return (await held).handle;
}

/**
 * The program as a webgpu artifact (params seeded 1, as the wasm oracle's), loaded on the shared
 * device: call webgpuDevice first (a model loaded without it held makes and destroys its own device).
 * Its kernel programs (webgpu's fusion, not wasm's) are told to `onKernels`, for coverage.
 */
export async function loadWebGpu(
  model: CheckedModel,
  train: CheckedTrain | undefined,
  onKernels?: (programs: readonly KernelProgram[]) => void,
): Promise<Model> {
  const c = compile(model, train, { target: 'webgpu' });
  onKernels?.(kernelPrograms(c));
  return loadArtifact(buildArtifact(c, wgslTarget, { seed: 1 }));
}
