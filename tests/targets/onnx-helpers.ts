// Running an exported .onnx model on onnxruntime (the wasm build of
// onnxruntime-web, which runs in Node without native binaries or downloads)
// and comparing its outputs with the float64 reference interpreter.

import * as ort from 'onnxruntime-web';
import type { RefTensor } from '../../compiler/interpret.js';
import type { DType } from '../../compiler/types.js';

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

const ORT_TYPE = { f32: 'float32', i32: 'int32', bool: 'bool' } as const;

function toOrt(t: RefTensor): ort.Tensor {
  const dims = [...t.shape];
  switch (t.dtype) {
    case 'f32':
      return new ort.Tensor('float32', Float32Array.from(t.data), dims);
    case 'i32':
      return new ort.Tensor('int32', Int32Array.from(t.data), dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(t.data), dims);
  }
}

export interface OrtResult {
  readonly type: string;
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

export interface OrtRun {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** One result per feed set, by output name. */
  readonly results: readonly ReadonlyMap<string, OrtResult>[];
}

/**
 * Loads `bytes` once and runs it on each feed set. `optimization`: the
 * session's graph rewrites; 'all' (onnxruntime's default, what a deployment
 * gets) costs about 50 ms a session, 'basic' a tenth of that.
 */
export async function runOnnx(
  bytes: Uint8Array,
  feeds: readonly ReadonlyMap<string, RefTensor>[],
  optimization: 'basic' | 'all' = 'all',
): Promise<OrtRun> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: optimization });
  try {
    const results: Map<string, OrtResult>[] = [];
    for (const f of feeds) {
      const out = await session.run(Object.fromEntries([...f].map(([k, v]) => [k, toOrt(v)])));
      results.push(
        new Map(
          Object.entries(out).map(([k, v]) => [
            k,
            { type: v.type, shape: [...v.dims], data: Array.from(v.data as ArrayLike<number | boolean>, Number) },
          ]),
        ),
      );
    }
    return { inputNames: session.inputNames, outputNames: session.outputNames, results };
  } finally {
    await session.release();
  }
}

/**
 * The first difference between onnxruntime's `got` and the reference's
 * `want` beyond `tol` (|got - want| <= tol * max(1, |want|) for f32; i32
 * and bool exact), or undefined when they agree.
 */
export function mismatch(what: string, got: OrtResult | undefined, want: RefTensor, tol: number): string | undefined {
  if (!got) return `${what}: onnxruntime has no such output`;
  if (got.type !== ORT_TYPE[want.dtype as DType]) return `${what}: type ${got.type}, want ${want.dtype}`;
  if (got.shape.join(',') !== want.shape.join(','))
    return `${what}: shape [${got.shape.join(', ')}], want [${want.shape.join(', ')}]`;
  for (let i = 0; i < want.data.length; i++) {
    const a = got.data[i]!;
    const b = want.data[i]!;
    if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
    if (want.dtype === 'f32' && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b))) continue;
    return `${what}[${i}]: onnxruntime ${a}, reference ${b} (|diff| ${Math.abs(a - b)}, tol ${tol})`;
  }
  return undefined;
}
