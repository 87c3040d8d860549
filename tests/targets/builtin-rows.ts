// The builtin table the backend suites share (tests/targets/builtins-wasm.test.ts
// and builtins-webgpu.test.ts): for every builtin, a tiny model using it, the
// sizes to try, input domains, and f32 tolerances against the float64
// reference (forward and, when it has a gradient, of sum(out * y)).

import type { RefTensor } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/ir.js';
import { jvpGraph } from '../../compiler/lens.js';
import { compileSource } from '../../dsl/frontend.js';
import { evalShape } from '../../compiler/types.js';
import { lcg } from '../runtime/helpers.js';

export const EXACT = 1e-5;
export const TRANS = 1e-4;
export const LINALG = 2e-3;

export interface Row {
  /** The builtins (BUILTINS keys) the row exercises. */
  readonly covers: readonly string[];
  /** The model's parameter list; `N` is replaced by each size of `sizes`. */
  readonly sig: string;
  /** The body's statements before the outputs; its last `out = ...` is the result (renamed `res`). */
  readonly body: string;
  /** Forward tolerance. */
  readonly tol: number;
  /** Gradient tolerance; absent: `out` is not differentiable (no `loss`, no gradient). */
  readonly gtol?: number;
  /** Inputs drawn from (0.1, 3) instead of (-2, 2). */
  readonly pos?: readonly string[];
  /** Inputs drawn from (-0.9, 0.9). */
  readonly unit?: readonly string[];
  /** Upper bound (exclusive) of i32 inputs (default 4). */
  readonly ints?: number;
  /** Element counts substituted for `N` (default [7]). */
  readonly sizes?: readonly number[];
  /** Name used in test titles (default covers[0]). */
  readonly label?: string;
}

export const ODD = [1, 3, 7, 129];
const ew = (f: string, tol: number, gtol: number | undefined, extra: Partial<Row> = {}): Row => ({
  covers: [f],
  sig: 'x: f32[B, N], y: f32[B, N]',
  body: `out = ${f}(x)`,
  tol,
  ...(gtol !== undefined && { gtol }),
  sizes: ODD,
  ...extra,
});

export const ROWS: readonly Row[] = [
  // ------------------------------------------------------------ elementwise unary
  ew('exp', TRANS, TRANS),
  ew('log', TRANS, TRANS, { pos: ['x'] }),
  ew('log1p', TRANS, TRANS, { pos: ['x'] }),
  ew('expm1', TRANS, TRANS),
  ew('sqrt', TRANS, TRANS, { pos: ['x'] }),
  ew('rsqrt', TRANS, TRANS, { pos: ['x'] }),
  ew('abs', EXACT, EXACT),
  ew('sign', EXACT, undefined),
  ew('floor', EXACT, undefined),
  ew('ceil', EXACT, undefined),
  ew('round', EXACT, undefined),
  ew('sin', TRANS, TRANS),
  ew('cos', TRANS, TRANS),
  ew('tanh', TRANS, TRANS),
  ew('erf', TRANS, TRANS),
  ew('sigmoid', TRANS, TRANS),
  ew('relu', EXACT, EXACT),
  ew('leaky_relu', EXACT, EXACT, { body: 'out = leaky_relu(x, alpha = 0.2)', label: 'leaky_relu (alpha)' }),
  ew('leaky_relu', EXACT, EXACT),
  ew('elu', TRANS, TRANS),
  ew('gelu', TRANS, TRANS),
  ew('gelu_tanh', TRANS, TRANS),
  ew('silu', TRANS, TRANS),
  ew('softplus', TRANS, TRANS),
  ew('stop_gradient', EXACT, EXACT, { body: 'out = stop_gradient(x) * x' }),
  ew('neg', EXACT, EXACT, { body: 'out = -x' }),
  ew('cast', EXACT, undefined, { body: 'out = cast(x * 3.0, i32)', label: 'cast f32 -> i32' }),
  ew('cast', EXACT, EXACT, { body: 'out = cast(x > 0.0, f32) * x', label: 'cast bool -> f32' }),
  ew('cast', EXACT, undefined, {
    sig: 'x: i32[B, N], y: f32[B, N]',
    body: 'out = cast(x, f32) * 0.5',
    label: 'cast i32 -> f32',
  }),
  // ------------------------------------------------------------ binary and operators
  ...(
    [
      ['add', 'x + z', EXACT],
      ['sub', 'x - z', EXACT],
      ['mul', 'x * z', EXACT],
      ['div', 'x / z', EXACT],
      ['maximum', 'maximum(x, z)', EXACT],
      ['minimum', 'minimum(x, z)', EXACT],
    ] as const
  ).map(([f, e, tol]): Row => ({
    covers: [f],
    sig: 'x: f32[B, N], z: f32[B, N], y: f32[B, N]',
    body: `out = ${e}`,
    tol,
    gtol: tol,
    sizes: ODD,
    ...(f === 'div' && { pos: ['z'] }),
  })),
  {
    covers: ['add', 'mul'],
    label: 'broadcast add/mul [B, N] with [N] and scalar',
    sig: 'x: f32[B, N], z: f32[N], y: f32[B, N]',
    body: 'out = (x + z) * z * 2.0 - 1.0',
    tol: EXACT,
    gtol: TRANS,
    sizes: ODD,
  },
  {
    covers: ['mod'],
    sig: 'x: f32[B, N], z: f32[B, N], y: f32[B, N]',
    body: 'out = x % z',
    tol: EXACT,
    gtol: EXACT,
    pos: ['z'],
    sizes: ODD,
  },
  {
    covers: ['pow'],
    sig: 'x: f32[B, N], z: f32[B, N], y: f32[B, N]',
    body: 'out = pow(x, z)',
    tol: TRANS,
    gtol: TRANS,
    pos: ['x'],
    unit: ['z'],
    sizes: ODD,
  },
  {
    covers: ['pow'],
    label: '** operator',
    sig: 'x: f32[B, N], z: f32[B, N], y: f32[B, N]',
    body: 'out = x ** z',
    tol: TRANS,
    gtol: TRANS,
    pos: ['x'],
    unit: ['z'],
    sizes: ODD,
  },
  ew('clip', EXACT, EXACT, { body: 'out = clip(x, -0.5, 1.0)' }),
  {
    covers: ['where', 'gt'],
    sig: 'x: f32[B, N], z: f32[B, N], y: f32[B, N]',
    body: 'out = where(x > z, x * 2.0, z)',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['ternary', 'lt'],
    label: 'c ? a : b',
    sig: 'x: f32[B, N], z: f32[B, N], y: f32[B, N]',
    body: 'out = x < z ? x * z : x - z',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  ...(
    [
      ['lt', '<'],
      ['le', '<='],
      ['gt', '>'],
      ['ge', '>='],
      ['eq', '=='],
      ['ne', '!='],
    ] as const
  ).map(([f, op]): Row => ({
    covers: [f],
    sig: 'x: f32[B, N], z: f32[B, N], k: i32[B, N], j: i32[B, N]',
    body: `out = cast(x ${op} z, f32) + cast(k ${op} j, f32) * 2.0`,
    tol: EXACT,
    sizes: ODD,
  })),
  {
    covers: ['and', 'or', 'not'],
    label: '&& || !',
    sig: 'x: f32[B, N], z: f32[B, N]',
    body: 'a = x > 0.0\n  c = z > 0.0\n  out = cast(a && c, f32) + cast(a || c, f32) * 2.0 + cast(!a, f32) * 4.0',
    tol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['add', 'sub', 'mul', 'div', 'mod', 'maximum', 'minimum', 'neg'],
    label: 'i32 arithmetic',
    sig: 'k: i32[B, N], j: i32[B, N]',
    body: 'out = (k + j) * j - k / (j + 1) + k % (j + 1) + maximum(k, j) - minimum(k, j) + -k',
    tol: EXACT,
    ints: 9,
    sizes: ODD,
  },
  // ------------------------------------------------------------ reductions
  ...(['sum', 'mean', 'max', 'min', 'logsumexp', 'var', 'std'] as const).flatMap((f): Row[] => [
    {
      covers: [f],
      label: `${f} (all axes)`,
      sig: 'x: f32[B, N], y: f32[]',
      body: `out = ${f}(x)`,
      tol: TRANS,
      gtol: TRANS,
      sizes: ODD,
    },
    {
      covers: [f],
      label: `${f} (axis = -1)`,
      sig: 'x: f32[B, N], y: f32[B]',
      body: `out = ${f}(x, axis = -1)`,
      tol: TRANS,
      gtol: TRANS,
      // std over one element has zero variance: d sqrt(0) is 0/0, which the
      // reference gives as NaN and the wasm and WGSL kernels as 0; not compared.
      sizes: f === 'std' ? [3, 7, 129] : ODD,
    },
    {
      covers: [f],
      label: `${f} (axis = 0, keepdims)`,
      sig: 'x: f32[B, 3, N], y: f32[1, 3, N]',
      body: `out = ${f}(x, axis = 0, keepdims = true)`,
      tol: TRANS,
      gtol: TRANS,
      sizes: [1, 7],
    },
    {
      covers: [f],
      label: `${f} (axis = [0, 2])`,
      sig: 'x: f32[B, 3, N], y: f32[3]',
      body: `out = ${f}(x, axis = [0, 2])`,
      tol: TRANS,
      gtol: TRANS,
      sizes: [1, 7],
    },
  ]),
  {
    covers: ['prod'],
    sig: 'x: f32[B, N], y: f32[B]',
    body: 'out = prod(x, axis = 1)',
    tol: TRANS,
    gtol: TRANS,
    unit: ['x'],
    sizes: [1, 3, 7],
  },
  {
    covers: ['prod'],
    label: 'prod (all axes, keepdims)',
    sig: 'x: f32[B, N], y: f32[1, 1]',
    body: 'out = prod(x * 0.5 + 1.0, keepdims = true)',
    tol: TRANS,
    gtol: TRANS,
    unit: ['x'],
    sizes: [1, 3, 7],
  },
  ...(['argmax', 'argmin'] as const).flatMap((f): Row[] => [
    {
      covers: [f],
      label: `${f} (axis = -1)`,
      sig: 'x: f32[B, N]',
      body: `out = ${f}(x, axis = -1)`,
      tol: 0,
      sizes: ODD,
    },
    { covers: [f], label: `${f} (axis = 0)`, sig: 'x: f32[B, N]', body: `out = ${f}(x, axis = 0)`, tol: 0, sizes: ODD },
    { covers: [f], label: `${f} (all axes)`, sig: 'x: f32[B, N]', body: `out = ${f}(x)`, tol: 0, sizes: ODD },
  ]),
  // ------------------------------------------------------------ shape
  {
    covers: ['reshape'],
    sig: 'x: f32[B, 3, N], y: f32[B, 3, N]',
    body: 'r = reshape(x, [-1, N]) * 2.0\n  out = reshape(r, [B, 3, N])',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['transpose'],
    sig: 'x: f32[B, 3, N], y: f32[N, B, 3]',
    body: 'out = transpose(x, [2, 0, 1])',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['transpose_last2'],
    label: '.T',
    sig: 'x: f32[B, 3, N], y: f32[B, N, 3]',
    body: 'out = x.T',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['broadcast_to'],
    sig: 'x: f32[1, N], y: f32[B, 3, N]',
    body: 'out = broadcast_to(x, [B, 3, N])',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['concat'],
    sig: 'x: f32[B, N], z: f32[B, 3], y: f32[B, N]',
    body: 'c = concat([x, z], 1)\n  out = c[:, 0:N] + c[:, N:]',
    tol: EXACT,
    gtol: EXACT,
    sizes: [1, 3],
  },
  {
    covers: ['concat'],
    label: 'concat (axis 0)',
    sig: 'x: f32[3, N], z: f32[2, N], y: f32[5, N]',
    body: 'out = concat([x, z], 0)',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['stack'],
    sig: 'x: f32[B, N], z: f32[B, N], y: f32[B, 2, N]',
    body: 'out = stack([x, z * 2.0], 1)',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['pad'],
    sig: 'x: f32[B, 3, N], y: f32[B, 4, {N+5}]',
    body: 'out = pad(x, [[0, 0], [1, 0], [2, 3]])',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['take'],
    label: 'take (axis 0, embedding)',
    sig: 'e: f32[5, N], k: i32[B, 3], y: f32[B, 3, N]',
    body: 'out = take(e, k, 0)',
    tol: EXACT,
    gtol: EXACT,
    ints: 5,
    sizes: ODD,
  },
  {
    covers: ['take'],
    label: 'take (axis 1)',
    sig: 'x: f32[B, N], k: i32[4], y: f32[B, 4]',
    body: 'out = take(x, k, 1)',
    tol: EXACT,
    gtol: EXACT,
    ints: 1,
    sizes: [1, 3],
  },
  {
    covers: ['roll'],
    label: 'roll (symbolic batch axis)',
    sig: 'x: f32[B, N], y: f32[B, N]',
    body: 'out = roll(x, 1)',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['roll'],
    label: 'roll (axis 1, negative shift)',
    sig: 'x: f32[B, N], y: f32[B, N]',
    body: 'out = roll(x, -2, axis = 1)',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  {
    covers: ['one_hot'],
    sig: 'k: i32[B], x: f32[B, N], y: f32[B, N]',
    body: 'out = one_hot(k, N) * x',
    tol: EXACT,
    gtol: EXACT,
    ints: 1,
    sizes: [1, 3, 7],
  },
  {
    covers: [],
    label: 'indexing and slicing',
    sig: 'x: f32[B, 3, N], y: f32[B, 2]',
    body: 'out = x[:, 1:3, 0] + x[..., -1][:, 0:2] + x[:, 0:1, -1] + shape(x)[2]',
    tol: EXACT,
    gtol: EXACT,
    sizes: ODD,
  },
  // ------------------------------------------------------------ linear algebra
  {
    covers: ['matmul'],
    label: '@',
    sig: 'x: f32[B, N], w: f32[N, 3], y: f32[B, 3]',
    body: 'out = x @ w',
    tol: TRANS,
    gtol: LINALG,
    sizes: ODD,
  },
  {
    covers: ['matmul'],
    label: 'matmul (batched, broadcast)',
    sig: 'x: f32[B, 3, N], w: f32[N, 5], y: f32[B, 3, 5]',
    body: 'out = matmul(x, w)',
    tol: TRANS,
    gtol: LINALG,
    sizes: ODD,
  },
  {
    covers: ['matmul'],
    label: 'matmul (vector)',
    sig: 'x: f32[N], w: f32[N, B], y: f32[B]',
    body: 'out = x @ w',
    tol: TRANS,
    gtol: LINALG,
    sizes: ODD,
  },
  {
    covers: ['dot'],
    sig: 'x: f32[N], z: f32[N], y: f32[]',
    body: 'out = dot(x, z)',
    tol: TRANS,
    gtol: LINALG,
    sizes: ODD,
  },
  {
    covers: ['einsum'],
    sig: 'x: f32[B, 3, N], w: f32[B, N, 5], y: f32[B, 3, 5]',
    body: 'out = einsum("bij,bjk->bik", x, w)',
    tol: TRANS,
    gtol: LINALG,
    sizes: ODD,
  },
  {
    covers: ['einsum'],
    label: 'einsum (reduce, transpose)',
    sig: 'x: f32[B, N], w: f32[N, 3], y: f32[3, B]',
    body: 'out = einsum("bn,nk->kb", x, w)',
    tol: TRANS,
    gtol: LINALG,
    sizes: ODD,
  },
  // ------------------------------------------------------------ neural
  ...(['softmax', 'log_softmax'] as const).flatMap((f): Row[] => [
    { ...ew(f, TRANS, TRANS), label: `${f} (last axis)` },
    {
      covers: [f],
      label: `${f} (axis = 0)`,
      sig: 'x: f32[B, N], y: f32[B, N]',
      body: `out = ${f}(x, axis = 0)`,
      tol: TRANS,
      gtol: TRANS,
      sizes: ODD,
    },
  ]),
  {
    covers: ['layer_norm'],
    sig: 'x: f32[B, N], g: f32[N], b: f32[N], y: f32[B, N]',
    body: 'out = layer_norm(x, g, b)',
    tol: TRANS,
    gtol: LINALG,
    sizes: [3, 7, 129],
  },
  {
    covers: ['rms_norm'],
    sig: 'x: f32[B, N], g: f32[N], y: f32[B, N]',
    body: 'out = rms_norm(x, g, eps = 1e-5)',
    tol: TRANS,
    gtol: LINALG,
    sizes: ODD,
  },
  ew('dropout', EXACT, EXACT, { body: 'out = dropout(x, 0.5)', label: 'dropout (identity outside training)' }),
  ew('rand_like', EXACT, EXACT, { body: 'out = x * rand_like(x)', label: 'rand_like (key 0 outside training)' }),
  {
    covers: ['conv2d'],
    label: 'conv2d (defaults)',
    sig: 'x: f32[B, 2, 5, N], w: f32[3, 2, 3, 1], y: f32[B, 3, 3, N]',
    body: 'out = conv2d(x, w)',
    tol: TRANS,
    gtol: LINALG,
    sizes: [1, 7],
  },
  {
    covers: ['conv2d'],
    label: 'conv2d (stride 2, padding 1)',
    sig: 'x: f32[B, 2, 7, 7], w: f32[3, 2, 3, 3], y: f32[B, 3, 4, 4]',
    body: 'out = conv2d(x, w, stride = 2, padding = 1)',
    tol: TRANS,
    gtol: LINALG,
  },
  {
    covers: ['conv2d'],
    label: 'conv2d (dilation 2, padding 2)',
    sig: 'x: f32[B, 1, 7, 7], w: f32[2, 1, 3, 3], y: f32[B, 2, 7, 7]',
    body: 'out = conv2d(x, w, padding = 2, dilation = 2)',
    tol: TRANS,
    gtol: LINALG,
  },
  {
    covers: ['conv2d'],
    label: 'conv2d (groups 2)',
    sig: 'x: f32[B, 4, 5, 5], w: f32[6, 2, 3, 3], y: f32[B, 6, 3, 3]',
    body: 'out = conv2d(x, w, groups = 2)',
    tol: TRANS,
    gtol: LINALG,
  },
  {
    covers: ['max_pool2d'],
    sig: 'x: f32[B, 2, 6, 6], y: f32[B, 2, 3, 3]',
    body: 'out = max_pool2d(x, 2)',
    tol: EXACT,
    gtol: EXACT,
  },
  {
    covers: ['max_pool2d'],
    label: 'max_pool2d (size 3, stride 2, padding 1)',
    sig: 'x: f32[B, 2, 7, 7], y: f32[B, 2, 4, 4]',
    body: 'out = max_pool2d(x, 3, stride = 2, padding = 1)',
    tol: EXACT,
    gtol: EXACT,
  },
  {
    covers: ['avg_pool2d'],
    sig: 'x: f32[B, 2, 6, 6], y: f32[B, 2, 3, 3]',
    body: 'out = avg_pool2d(x, 2)',
    tol: EXACT,
    gtol: EXACT,
  },
  {
    covers: ['avg_pool2d'],
    label: 'avg_pool2d (size 3, stride 2, padding 1)',
    sig: 'x: f32[B, 2, 7, 7], y: f32[B, 2, 4, 4]',
    body: 'out = avg_pool2d(x, 3, stride = 2, padding = 1)',
    tol: EXACT,
    gtol: EXACT,
  },
  // ------------------------------------------------------------ losses
  ...(['mse', 'mae', 'sigmoid_binary_cross_entropy'] as const).map((f): Row => ({
    covers: [f],
    sig: 'x: f32[B, N], t: f32[B, N], y: f32[B, N]',
    body: `out = ${f}(x, t)`,
    tol: TRANS,
    gtol: TRANS,
    sizes: ODD,
    ...(f === 'sigmoid_binary_cross_entropy' && { unit: ['t'] }),
  })),
  {
    covers: ['huber'],
    sig: 'x: f32[B, N], t: f32[B, N], y: f32[B, N]',
    body: 'out = huber(x, t, delta = 0.5)',
    tol: TRANS,
    gtol: TRANS,
    sizes: ODD,
  },
  {
    covers: ['huber'],
    label: 'huber (default delta, broadcast target)',
    sig: 'x: f32[B, N], t: f32[N], y: f32[B, N]',
    body: 'out = huber(x, t)',
    tol: TRANS,
    gtol: TRANS,
    sizes: ODD,
  },
  {
    covers: ['softmax_cross_entropy'],
    label: 'softmax_cross_entropy (i32 labels)',
    sig: 'x: f32[B, N], k: i32[B], y: f32[B]',
    body: 'out = softmax_cross_entropy(x, k)',
    tol: TRANS,
    gtol: TRANS,
    ints: 1,
    sizes: [1, 3, 7, 129],
  },
  {
    covers: ['softmax_cross_entropy'],
    label: 'softmax_cross_entropy (f32 probabilities)',
    sig: 'x: f32[B, N], t: f32[B, N], y: f32[B]',
    body: 'out = softmax_cross_entropy(x, softmax(t))',
    tol: TRANS,
    gtol: TRANS,
    sizes: ODD,
  },
];

/** BUILTINS names no row names, with the reason. */
export const EXCLUDED: ReadonlyMap<string, string> = new Map([]);

// ---------------------------------------------------------------- harness

export function rowLabel(r: Row): string {
  return r.label ?? r.covers[0]!;
}

/** The row's model source for element count `n`. */
export function source(r: Row, n: number): string {
  const sub = (s: string) =>
    s.replace(/\{N\+(\d+)\}/g, (_, k: string) => String(n + Number(k))).replace(/\bN\b/g, String(n));
  const body = sub(r.body).replace(/(^|\n\s*)out = /, '$1res = ');
  const loss = r.gtol !== undefined ? '\n  output loss = sum(out * y)' : '';
  return `model m(${sub(r.sig)}) {\n  ${body}\n  output out = res${loss}\n}\n`;
}

export function compileRow(r: Row, n: number) {
  const src = source(r, n);
  const { result } = compileSource(`${rowLabel(r)}.kiln`, src);
  if (result.diagnostics.length > 0) throw new Error(`${src}\n${result.diagnostics.map((d) => d.message).join('\n')}`);
  return result.models[0]!;
}

export type Model = ReturnType<typeof compileRow>;

/** f32-exact random inputs in the row's domains (i32 in [0, ints)). */
export function inputsFor(r: Row, model: Model, b: number, seed: number): Map<string, RefTensor> {
  const rnd = lcg(seed);
  const dims = new Map(model.symbolicDims.map((s) => [s, b]));
  return new Map(
    model.inputs.map((d) => {
      const shape = evalShape(d.type.shape, dims);
      const size = shape.reduce((a, c) => a * c, 1);
      const draw = (): number => {
        if (d.type.dtype === 'i32') return Math.floor(rnd() * (r.ints ?? 4));
        if (d.type.dtype === 'bool') return rnd() < 0.5 ? 0 : 1;
        if (r.pos?.includes(d.name)) return Math.fround(0.1 + rnd() * 2.9);
        if (r.unit?.includes(d.name)) return Math.fround(rnd() * 1.8 - 0.9);
        return Math.fround(rnd() * 4 - 2);
      };
      const data = Float64Array.from({ length: size }, draw);
      return [d.name, { dtype: d.type.dtype, shape, data }];
    }),
  );
}

/**
 * `inputs` plus `tangent.<name>` for every f32 input (uniform in (-1, 1),
 * f32-exact): the extra inputs of the row's jvp graph (compiler/lens.ts).
 */
export function withTangents(
  model: Model,
  inputs: ReadonlyMap<string, RefTensor>,
  seed: number,
): Map<string, RefTensor> {
  const rnd = lcg(seed);
  const out = new Map(inputs);
  for (const d of model.inputs) {
    const x = inputs.get(d.name);
    if (d.type.dtype !== 'f32' || !x) continue;
    const data = Float64Array.from({ length: x.data.length }, () => Math.fround(rnd() * 2 - 1));
    out.set(`tangent.${d.name}`, { dtype: 'f32', shape: x.shape, data });
  }
  return out;
}

/** The row's jvp graph with only the directional derivatives (`jvp.res`, `jvp.loss`) as outputs. */
export function jvpOnly(g: Graph): Graph {
  const j = jvpGraph(g);
  return { ...j, outputs: j.outputs.filter((o) => o.name.startsWith('jvp.')) };
}
