// Getting a WebGPU device: `navigator.gpu` in browsers (and in any engine
// that has it), the `webgpu` npm package (Dawn) in Node.
//
// Dawn in Node finds Vulkan drivers through the Vulkan loader. A machine
// without a GPU can still run WebGPU on SwiftShader, the CPU Vulkan driver
// Debian's `chromium` package ships; when no adapter is found and
// VK_ICD_FILENAMES is unset, we point it at that driver and ask once more.

import { KilnRuntimeError } from '../validate.js';

/** The Vulkan driver (ICD) file of Debian's chromium package: SwiftShader, on the CPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface GpuHandle {
  readonly device: GPUDevice;
  readonly adapterInfo: string;
  /** Where the device came from: the browser's `navigator.gpu` or Dawn in Node. */
  readonly source: 'navigator' | 'dawn';
}

interface NodeProcess {
  readonly env: Record<string, string | undefined>;
  readonly versions?: { readonly node?: string };
}

function nodeProcess(): NodeProcess | undefined {
  const p = (globalThis as { process?: NodeProcess }).process;
  return p?.versions?.node ? p : undefined;
}

/** Limits we ask for: the adapter's own, where they exceed WebGPU's defaults. */
function wantedLimits(adapter: GPUAdapter): Record<string, number> {
  const names = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxStorageBuffersPerShaderStage',
  ] as const;
  const out: Record<string, number> = {};
  for (const n of names) out[n] = adapter.limits[n];
  return out;
}

function describe(adapter: GPUAdapter): string {
  const i = adapter.info;
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s) => s && s.length > 0);
  return parts.length > 0 ? parts.join(' ') : 'unknown adapter';
}

async function fromGpu(gpu: GPU, source: GpuHandle['source']): Promise<GpuHandle | undefined> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return undefined;
  const device = await adapter.requestDevice({ requiredLimits: wantedLimits(adapter) });
  return { device, adapterInfo: describe(adapter), source };
}

let dawn: Promise<{ create: (opts: string[]) => GPU }> | undefined;
/** Dawn's instances, by flags: each must outlive every device made from it (a collected instance crashes the process at exit). */
const dawnInstances = new Map<string, GPU>();

/**
 * Kiln's shaders never read workgroup memory before writing it, so Dawn's
 * zero-initialisation of it is wasted work, and on SwiftShader it makes
 * every pipeline that uses workgroup memory take seconds to compile.
 */
const FAST_FLAGS = ['enable-dawn-features=disable_workgroup_init'];

async function dawnGpu(fresh: boolean, flags: readonly string[]): Promise<GPU> {
  const key = flags.join(' ');
  const have = dawnInstances.get(key);
  if (have && !fresh) return have;
  // A variable specifier: bundlers for the browser must not follow it.
  const specifier = 'webgpu';
  dawn ??= import(/* @vite-ignore */ specifier) as Promise<{ create: (opts: string[]) => GPU }>;
  let mod: { create: (opts: string[]) => GPU };
  try {
    mod = await dawn;
  } catch (e) {
    dawn = undefined;
    throw new KilnRuntimeError(
      `WebGPU in Node needs the 'webgpu' package (Dawn), which did not load: ${(e as Error).message}`,
    );
  }
  const instance = mod.create([...flags]);
  dawnInstances.set(key, instance);
  return instance;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    const fs = await import('node:fs');
    return fs.existsSync(path);
  } catch {
    return false;
  }
}

/**
 * A new WebGPU device, or a KilnRuntimeError saying why there is none and
 * what to install. `zeroWorkgroupMemory` keeps Dawn's default (WGSL's
 * zero-initialised workgroup memory, as browsers do), for tests.
 */
export async function requestGpuDevice(opts: { zeroWorkgroupMemory?: boolean } = {}): Promise<GpuHandle> {
  const flags = opts.zeroWorkgroupMemory ? [] : FAST_FLAGS;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    const h = await fromGpu(nav.gpu, 'navigator');
    if (h) return h;
    throw new KilnRuntimeError('WebGPU is available but no adapter was found (navigator.gpu.requestAdapter gave null)');
  }
  const proc = nodeProcess();
  if (!proc) throw new KilnRuntimeError('this JavaScript engine has no WebGPU (no navigator.gpu)');
  const first = await fromGpu(await dawnGpu(false, flags), 'dawn');
  if (first) return first;
  if (proc.env['VK_ICD_FILENAMES'] === undefined && (await fileExists(SWIFTSHADER_ICD))) {
    proc.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
    const retry = await fromGpu(await dawnGpu(true, flags), 'dawn');
    if (retry) return retry;
  }
  throw new KilnRuntimeError(
    "no WebGPU adapter found. Without a GPU, WebGPU runs on SwiftShader: install Debian's chromium and libvulkan1 " +
      `(apt-get install -y chromium libvulkan1) and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`,
  );
}

/** A use of the process's shared device; `release()` destroys it after the last user. */
export interface GpuLease {
  readonly handle: GpuHandle;
  release(): void;
}

let shared: { handle: Promise<GpuHandle>; users: number } | undefined;

/**
 * The device every model of this process shares (so compiled pipelines are
 * shared too: building them is the slow part of loading a model), created
 * on first use and destroyed when the last lease is released or it is lost.
 */
export async function leaseGpuDevice(): Promise<GpuLease> {
  if (!shared) {
    const entry = { handle: requestGpuDevice(), users: 0 };
    shared = entry;
    entry.handle.then(
      (h) =>
        void h.device.lost.then(() => {
          if (shared === entry) shared = undefined;
        }),
      () => {
        if (shared === entry) shared = undefined;
      },
    );
  }
  const entry = shared;
  entry.users++;
  let handle: GpuHandle;
  try {
    handle = await entry.handle;
  } catch (e) {
    entry.users--;
    throw e;
  }
  let released = false;
  return {
    handle,
    release: () => {
      if (released) return;
      released = true;
      if (--entry.users === 0) {
        if (shared === entry) shared = undefined;
        handle.device.destroy();
      }
    },
  };
}
