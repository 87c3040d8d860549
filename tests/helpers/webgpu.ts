// The WebGPU device the webgpu test suites share (one per test file), or
// why there is none. Without a device the suites are skipped with a visible
// message, unless KILN_REQUIRE_WEBGPU=1, where they fail instead.

import { describe, it } from 'vitest';
import { requestGpuDevice } from '../../runtime/webgpu/device.js';

interface Acquired {
  readonly device?: GPUDevice;
  readonly reason?: string;
}

/** The runtime's own device request (Dawn in Node, workgroup memory left uninitialised: see runtime/webgpu/device.ts). */
async function acquire(): Promise<Acquired> {
  try {
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
