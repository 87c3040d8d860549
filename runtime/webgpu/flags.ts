// WebGPU's numeric flags (spec constants: Dawn in Node defines no
// GPUBufferUsage / GPUShaderStage / GPUMapMode globals) and dispatch limit.

export const MAP_READ = 0x1;
export const COPY_SRC = 0x4;
export const COPY_DST = 0x8;
export const UNIFORM = 0x40;
export const STORAGE = 0x80;
/** GPUShaderStage.COMPUTE */
export const COMPUTE = 0x4;
/** GPUMapMode.READ */
export const MAP_MODE_READ = 0x1;
/** WebGPU's maxComputeWorkgroupsPerDimension default. */
export const MAX_GROUPS_PER_DIM = 65535;
