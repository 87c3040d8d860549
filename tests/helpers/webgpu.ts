// The WebGPU device the webgpu test suites share (one per test file), or
// why there is none. Without a device the suites are skipped with a visible
// message, unless KILN_REQUIRE_WEBGPU=1, where they fail instead.

import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import { SWIFTSHADER_ICD, requestGpuDevice } from '../../runtime/webgpu/device.js';

interface Acquired {
  readonly device?: GPUDevice;
  readonly reason?: string;
}

type Dawn = { create: (flags: string[]) => GPU };

/** Keeps Dawn's instance alive as long as its device (a collected instance crashes the process at exit). */
let instance: GPU | undefined;

/**
 * Dawn in Node with workgroup memory left uninitialised: on SwiftShader,
 * Dawn's zero-initialisation of workgroup memory makes every pipeline that
 * uses it take seconds to compile, and no kiln shader reads workgroup memory
 * before writing it. (One test checks the shaders on a default device too.)
 */
async function dawnDevice(): Promise<GPUDevice | undefined> {
  const specifier = 'webgpu';
  const mod = (await import(/* @vite-ignore */ specifier)) as Dawn;
  const adapter = async () => {
    instance = mod.create(['enable-dawn-features=disable_workgroup_init']);
    return instance.requestAdapter({ powerPreference: 'high-performance' });
  };
  let a = await adapter();
  if (!a && process.env['VK_ICD_FILENAMES'] === undefined && existsSync(SWIFTSHADER_ICD)) {
    process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
    a = await adapter();
  }
  if (!a) return undefined;
  const limits: Record<string, number> = {};
  for (const n of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize'] as const)
    limits[n] = a.limits[n];
  return a.requestDevice({ requiredLimits: limits });
}

async function acquire(): Promise<Acquired> {
  try {
    const d = await dawnDevice().catch(() => undefined);
    if (d) return { device: d };
    return { device: (await requestGpuDevice()).device };
  } catch (e) {
    return { reason: e instanceof Error ? e.message : String(e) };
  }
}

const acquired: Acquired = await acquire();

/** The shared device, or undefined when this machine has no WebGPU. */
export function gpuDevice(): GPUDevice | undefined {
  return acquired.device;
}

/** Why there is no device ('' when there is one). */
export function noGpuReason(): string {
  return acquired.reason ?? '';
}

const required = () => process.env['KILN_REQUIRE_WEBGPU'] === '1';

/**
 * `describe(title, body)` when there is a device. Without one: a failing
 * test when KILN_REQUIRE_WEBGPU=1, else the suite skipped with a console message.
 */
export function webgpuSuite(title: string, body: () => void): void {
  if (acquired.device) {
    describe(title, body);
    return;
  }
  if (required()) {
    describe(title, () => {
      it('has a WebGPU device (KILN_REQUIRE_WEBGPU=1)', () => {
        throw new Error(`no WebGPU device: ${acquired.reason}`);
      });
    });
    return;
  }
  console.warn(`[webgpu] skipping '${title}': no WebGPU device (${acquired.reason})`);
  describe.skip(title, body);
}
