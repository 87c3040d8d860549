import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CheckedModel, CheckResult } from '../../dsl/check.js';
import { compileSource, KilnFileError, loadKilnFile } from '../../dsl/frontend.js';
import { printTypedAst } from '../../dsl/print-ast.js';
import { formatDiagnostic, KilnError } from '../../dsl/source.js';
import { formatType } from '../../compiler/types.js';
import { type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import { printGraph } from '../../compiler/print.js';
import { verifyGraph } from '../../compiler/verify.js';
import { OPTIMIZER_DEFAULTS } from '../../runtime/optimizers/spec.js';
import { expectGolden } from '../golden.js';

const EXAMPLE = readFileSync(new URL('./golden/language-example.kiln', import.meta.url), 'utf8');
const GOLDEN = fileURLToPath(new URL('./golden/semantic-errors.golden', import.meta.url));

function errorsOf(src: string, path = 'test.kiln'): string {
  return compileSource(path, src).result.diagnostics.map(formatDiagnostic).join('\n');
}

/** Checks a source that must be error-free; every model's graphs must verify in both modes. */
function ok(src: string): CheckResult {
  const { result } = compileSource('test.kiln', src);
  expect(result.diagnostics.map(formatDiagnostic).join('\n')).toBe('');
  for (const m of result.models) {
    verifyGraph(m.lower({ training: false }), 'test');
    verifyGraph(m.lower({ training: true }), 'test');
  }
  return result;
}

function model(src: string, name?: string): CheckedModel {
  const r = ok(src);
  const m = name === undefined ? r.models[0] : r.models.find((x) => x.name === name);
  if (!m) throw new Error('no model');
  return m;
}

/** The inferred type of every let/output statement, by name. */
function types(src: string): Record<string, string> {
  const m = model(src);
  const out: Record<string, string> = {};
  for (const [s, t] of m.statementTypes) if (s.kind !== 'param') out[s.name.name] = formatType(t);
  return out;
}

function f32(shape: readonly number[], data: ArrayLike<number>): RefTensor {
  return tensor('f32', shape, data);
}

/** Runs a model's outputs on the reference interpreter. */
function run(
  m: CheckedModel,
  inputs: Record<string, RefTensor>,
  params: Record<string, RefTensor> = {},
  training = false,
): Record<string, RefTensor> {
  const g = m.lower({ training });
  verifyGraph(g, 'test');
  const vals = evaluate(
    g.outputs.map((o) => o.node),
    { inputs: new Map(Object.entries(inputs)), params: new Map(Object.entries(params)) },
  );
  return Object.fromEntries(g.outputs.map((o, i) => [o.name, vals[i]!]));
}

function values(t: RefTensor | undefined): number[] {
  if (!t) throw new Error('missing output');
  return Array.from(t.data);
}

function close(actual: readonly number[], expected: readonly number[], tol = 1e-9): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    expect(Math.abs(a - e), `element ${i}: ${a} vs ${e}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  });
}

// ---------------------------------------------------------------------------

describe('the LANGUAGE.md example', () => {
  it('type-checks: inputs, params, outputs and the train block', () => {
    const r = ok(EXAMPLE);
    const m = r.models[0]!;
    expect(m.name).toBe('mlp');
    expect(m.inputs.map((i) => `${i.name}: ${formatType(i.type)}`)).toEqual(['x: f32[B, 784]', 'y: i32[B]']);
    expect(m.params.map((p) => `${p.name}: ${formatType(p.type)} = ${p.init.kind}`)).toEqual([
      'w1: f32[784, 256] = glorot_uniform',
      'b1: f32[256] = zeros',
      'w2: f32[256, 10] = glorot_uniform',
      'b2: f32[10] = zeros',
    ]);
    expect(m.outputs.map((o) => `${o.name}: ${formatType(o.type)}`)).toEqual(['probs: f32[B, 10]', 'loss: f32[]']);
    expect(m.symbolicDims).toEqual(['B']);
    expect(m.usesRandomness).toBe(false);
    expect(r.trains).toHaveLength(1);
    const t = r.trains[0]!;
    expect(t.model).toBe('mlp');
    expect(t.minimize).toBe('loss');
    expect(t.optimizer.name).toBe('adamw');
    expect(t.optimizer.args).toEqual({ lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8, weight_decay: 1e-4 });
    expect(t.schedule?.name).toBe('warmup_cosine');
    expect(t.schedule?.args).toEqual({ warmup: 100, steps: 5000 });
    expect(t.clip).toMatchObject({ kind: 'global_norm', max: 1 });
    expect(t.freeze).toEqual([]);
  });

  it('computes the MLP on a batch of 2 like a direct computation', () => {
    const m = model(EXAMPLE);
    const B = 2;
    const gen = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
    const x = gen(B * 784, (i) => Math.sin(i * 0.37) * 0.5 + 0.5);
    const w1 = gen(784 * 256, (i) => Math.cos(i * 0.11) * 0.05);
    const b1 = gen(256, (i) => (i % 7) * 0.01 - 0.03);
    const w2 = gen(256 * 10, (i) => Math.sin(i * 0.23) * 0.1);
    const b2 = gen(10, (i) => i * 0.02 - 0.1);
    const y = [3, 7];
    const out = run(
      m,
      { x: f32([B, 784], x), y: tensor('i32', [B], y) },
      { w1: f32([784, 256], w1), b1: f32([256], b1), w2: f32([256, 10], w2), b2: f32([10], b2) },
    );
    const probs: number[] = [];
    let loss = 0;
    for (let r = 0; r < B; r++) {
      const h = gen(256, (j) => {
        let s = b1[j]!;
        for (let k = 0; k < 784; k++) s += x[r * 784 + k]! * w1[k * 256 + j]!;
        return Math.max(s, 0);
      });
      const logits = gen(10, (j) => {
        let s = b2[j]!;
        for (let k = 0; k < 256; k++) s += h[k]! * w2[k * 10 + j]!;
        return s;
      });
      const mx = Math.max(...logits);
      const z = logits.reduce((a, l) => a + Math.exp(l - mx), 0);
      probs.push(...logits.map((l) => Math.exp(l - mx) / z));
      loss += -(logits[y[r]!]! - mx - Math.log(z)) / B;
    }
    close(values(out['probs']), probs);
    close(values(out['loss']), [loss]);
  });

  it('lowers deterministically, with a fresh builder per call', () => {
    const m = model(EXAMPLE);
    const a = m.lower({ training: false });
    const b = m.lower({ training: false });
    expect(a.builder).not.toBe(b.builder);
    expect(printGraph(a)).toBe(printGraph(b));
    expect(a.inputs.map((i) => i.name)).toEqual(['x', 'y']);
    expect(a.params.map((p) => p.name)).toEqual(['w1', 'b1', 'w2', 'b2']);
    expect(a.outputs.map((o) => o.name)).toEqual(['probs', 'loss']);
  });

  it('reproduces the error of LANGUAGE.md exactly', () => {
    const bad = EXAMPLE.replace('  h      = relu(dense(x, w1, b1))\n', '  logits = dense(x, w2, b2)\n').replace(
      '  logits = dense(h, w2, b2)\n',
      '',
    );
    expect(bad.split('\n')[9]).toBe('  logits = dense(x, w2, b2)');
    expect(errorsOf(bad, 'mlp.kiln')).toBe(
      [
        "mlp.kiln:10:18: error: shape mismatch in '@': f32[B, 784] @ f32[256, 10]: inner dimensions 784 and 256 differ",
        '  10 |   logits = dense(x, w2, b2)',
        '     |                  ^^^^^^^^^',
        "  (in fn dense, called here; the '@' is at mlp.kiln:2:23)",
      ].join('\n'),
    );
  });

  it('prints a typed AST dump', () => {
    const { program, result } = compileSource('mlp.kiln', EXAMPLE);
    expect(printTypedAst(program, result)).toBe(
      [
        '// inlined at every call',
        'fn dense(x, w, b) = x @ w + b',
        '',
        'model mlp {',
        '  input  x: f32[B, 784]',
        '  input  y: i32[B]',
        '  param  w1: f32[784, 256] = glorot_uniform',
        '  param  b1: f32[256] = zeros',
        '  param  w2: f32[256, 10] = glorot_uniform',
        '  param  b2: f32[10] = zeros',
        '  let    h: f32[B, 256] = relu(dense(x, w1, b1))',
        '  let    logits: f32[B, 10] = dense(h, w2, b2)',
        '  output probs: f32[B, 10] = softmax(logits, axis = -1)',
        '  output loss: f32[] = mean(softmax_cross_entropy(logits, y))',
        '}',
        '',
        'train mlp {',
        '  minimize  loss',
        '  optimizer adamw(lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-8, weight_decay = 0.0001)',
        '  schedule  warmup_cosine(warmup = 100, steps = 5000)',
        '  clip      global_norm(1)',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('types', () => {
  it('gives literals the dtype of the tensor they meet (weak typing)', () => {
    expect(
      types(`model m(x: f32[3], i: i32[3]) {
        a = x * 2
        b = i + 1
        c = 2 * x + 0.5
        d = i * 3 - 1
        n = 10
        e = x * n
        f = i * n
        k = 1 / 2
        output o1 = 7
        output o2 = 0.25
        output o3 = x > 0
        output o4 = true
        output o5 = -1.5e-3
      }`),
    ).toEqual({
      a: 'f32[3]',
      b: 'i32[3]',
      c: 'f32[3]',
      d: 'i32[3]',
      n: 'i32[]',
      e: 'f32[3]',
      f: 'i32[3]',
      k: 'f32[]',
      o1: 'i32[]',
      o2: 'f32[]',
      o3: 'bool[3]',
      o4: 'bool[]',
      o5: 'f32[]',
    });
  });

  it('folds arithmetic between literals with Python rules', () => {
    const m = model(`model m(x: f32[]) {
      output a = x * (1 / 2)
      output b = x * (7 % -3)
      output c = x * 2 ** 3 ** 2
      output d = x * (-2) ** 2
      output e = x * -2 ** 2
    }`);
    const out = run(m, { x: f32([], [1]) });
    expect(values(out['a'])).toEqual([0.5]);
    expect(values(out['b'])).toEqual([-2]);
    expect(values(out['c'])).toEqual([512]);
    expect(values(out['d'])).toEqual([4]);
    expect(values(out['e'])).toEqual([-4]);
  });

  it('broadcasts with NumPy rules, symbolic dims included', () => {
    expect(
      types(`model m(x: f32[B, 3], v: f32[3], c: f32[B, 1], s: f32[]) {
        a = x + v
        b = x * c
        d = c + v
        e = s - x
        output o = a + b + d + e
      }`),
    ).toMatchObject({ a: 'f32[B, 3]', b: 'f32[B, 3]', d: 'f32[B, 3]', e: 'f32[B, 3]', o: 'f32[B, 3]' });
  });

  it('reshapes with -1 and symbolic dims; shape(x)[i] in shapes and as a value', () => {
    expect(
      types(`model m(x: f32[B, 784], t: f32[B, T, 8]) {
        a = reshape(x, [B, -1, 28])
        b = reshape(x, [-1])
        c = reshape(x, [shape(x)[0], 28, 28])
        d = reshape(t, [B * T, -1])
        e = reshape(t, [shape(t)[0] * shape(t)[1], 8])
        n = shape(x)[1]
        f = x / shape(x)[-1]
        g = reshape(x, [B, 2, -1])
        output o = sum(a)
      }`),
    ).toMatchObject({
      a: 'f32[B, 28, 28]',
      b: 'f32[784*B]',
      c: 'f32[B, 28, 28]',
      d: 'f32[B*T, 8]',
      e: 'f32[B*T, 8]',
      n: 'i32[]',
      f: 'f32[B, 784]',
      g: 'f32[B, 2, 392]',
    });
    const m = model(`model m(x: f32[B, 4]) { output y = x / shape(x)[1] }`);
    close(values(run(m, { x: f32([1, 4], [4, 8, 12, 16]) })['y']), [1, 2, 3, 4]);
  });

  it('indexes: integers, slices, ellipsis, negative indices, tensor indices', () => {
    const src = `model m(x: f32[3, 4], idx: i32[2]) {
      output a = x[1]
      output b = x[:, 1:3]
      output c = x[..., -1]
      output d = x[-1, ::2]
      output e = x[idx]
      output f = x[:, idx]
      output g = x[1:, :-1]
    }`;
    expect(types(src)).toEqual({
      a: 'f32[4]',
      b: 'f32[3, 2]',
      c: 'f32[3]',
      d: 'f32[2]',
      e: 'f32[2, 4]',
      f: 'f32[3, 2]',
      g: 'f32[2, 3]',
    });
    const x = Array.from({ length: 12 }, (_, i) => i);
    const out = run(model(src), { x: f32([3, 4], x), idx: tensor('i32', [2], [2, -3]) });
    expect(values(out['a'])).toEqual([4, 5, 6, 7]);
    expect(values(out['b'])).toEqual([1, 2, 5, 6, 9, 10]);
    expect(values(out['c'])).toEqual([3, 7, 11]);
    expect(values(out['d'])).toEqual([8, 10]);
    expect(values(out['e'])).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
    expect(values(out['f'])).toEqual([2, 1, 6, 5, 10, 9]);
    expect(values(out['g'])).toEqual([4, 5, 6, 8, 9, 10]);
  });

  it('resolves operator precedence and associativity', () => {
    const src = `model m(a: f32[], b: f32[], c: f32[], p: f32[2, 2], q: f32[2, 2], i: i32[]) {
      output o1 = a + b * c
      output o2 = a - b - c
      output o3 = -a ** 2
      output o4 = a ** 2 ** 3
      output o5 = 2 ** -1 * a
      output o6 = p @ q + a
      output o7 = a * p @ q
      output o8 = a < b && b < c || a == c
      output o9 = a > b ? a : b > c ? b : c
      output o10 = !(a < b) == (a >= b)
      output o11 = a / b % c
      output o12 = p.T @ q
      output o13 = i % 3 + 1
      output o14 = -p.T
    }`;
    expect(types(src)).toEqual({
      o1: 'f32[]',
      o2: 'f32[]',
      o3: 'f32[]',
      o4: 'f32[]',
      o5: 'f32[]',
      o6: 'f32[2, 2]',
      o7: 'f32[2, 2]',
      o8: 'bool[]',
      o9: 'f32[]',
      o10: 'bool[]',
      o11: 'f32[]',
      o12: 'f32[2, 2]',
      o13: 'i32[]',
      o14: 'f32[2, 2]',
    });
    const out = run(model(src), {
      a: f32([], [3]),
      b: f32([], [2]),
      c: f32([], [5]),
      p: f32([2, 2], [1, 2, 3, 4]),
      q: f32([2, 2], [0, 1, 1, 0]),
      i: tensor('i32', [], [-7]),
    });
    expect(values(out['o1'])).toEqual([13]);
    expect(values(out['o2'])).toEqual([-4]);
    expect(values(out['o3'])).toEqual([-9]);
    expect(values(out['o4'])).toEqual([6561]);
    expect(values(out['o5'])).toEqual([1.5]);
    expect(values(out['o6'])).toEqual([5, 4, 7, 6]);
    // '@' binds tighter than '*': a * (p @ q)
    expect(values(out['o7'])).toEqual([6, 3, 12, 9]);
    expect(values(out['o8'])).toEqual([0]);
    expect(values(out['o9'])).toEqual([3]);
    expect(values(out['o10'])).toEqual([1]);
    expect(values(out['o11'])).toEqual([1.5]);
    expect(values(out['o12'])).toEqual([3, 1, 4, 2]);
    expect(values(out['o13'])).toEqual([3]);
    expect(values(out['o14'])).toEqual([-1, -3, -2, -4]);
  });

  it('inlines fns: expression and block bodies, nested calls, keyword arguments', () => {
    const src = `
      fn sq(x) = x * x
      fn norm2(v) {
        let t = s + eps()      // statement order is free inside fns too
        let s = sum(sq(v))
        return sqrt(t)
      }
      fn eps() = 0
      fn affine(x, w, b) = x @ w + b
      fn layer(x, w, b) = relu(affine(x, w, b = b))
      model m(x: f32[B, 2], v: f32[3]) {
        param w: f32[2, 3] = ones
        param b: f32[3] = constant(-1)
        output n = norm2(v)
        output h = layer(x, w, b)
      }`;
    expect(types(src)).toEqual({ n: 'f32[]', h: 'f32[B, 3]' });
    const out = run(
      model(src),
      { x: f32([2, 2], [1, 1, 0, 0.5]), v: f32([3], [1, 2, 2]) },
      { w: f32([2, 3], [1, 1, 1, 1, 1, 1]), b: f32([3], [-1, -1, -1]) },
    );
    expect(values(out['n'])).toEqual([3]);
    expect(values(out['h'])).toEqual([1, 1, 1, 0, 0, 0]);
  });

  it('lets statements come in any order', () => {
    const src = `model m(x: f32[2]) {
      output z = y * 2
      y = w + 1
      w = x * x
    }`;
    close(values(run(model(src), { x: f32([2], [2, 3]) })['z']), [10, 20]);
  });

  it('computes gradients, nested ones included', () => {
    const src = `model m(x: f32[3]) {
      param w: f32[3] = zeros
      output g1 = grad(sum(w * w * w), w)
      output g2 = grad(sum(grad(sum(w * w * w), w)), w)
      output gx = grad(sum(x * w), x)
      output pen = sum(grad(mean(x * w), w) ** 2)
    }`;
    expect(types(src)).toEqual({ g1: 'f32[3]', g2: 'f32[3]', gx: 'f32[3]', pen: 'f32[]' });
    const out = run(model(src), { x: f32([3], [1, 2, 3]) }, { w: f32([3], [1, -2, 0.5]) });
    close(values(out['g1']), [3, 12, 0.75]);
    close(values(out['g2']), [6, -12, 3]);
    close(values(out['gx']), [1, -2, 0.5]);
    close(values(out['pen']), [(1 + 4 + 9) / 9]);
  });

  it('grad inside a fn, with respect to a param passed in', () => {
    const src = `fn penalty(l, w) = sum(grad(l, w) ** 2)
      model m(x: f32[2]) {
        param w: f32[2] = ones
        output p = penalty(sum(x * w), w)
      }`;
    close(values(run(model(src), { x: f32([2], [3, 4]) }, { w: f32([2], [1, 1]) })['p']), [25]);
  });

  it('evaluates the ternary elementwise, with literal branches', () => {
    const src = `model m(x: f32[4]) {
      output a = x > 0 ? x : 0
      output b = x > 0 ? 1 : -1
      output c = x > 0 ? 1.5 : x
    }`;
    expect(types(src)).toEqual({ a: 'f32[4]', b: 'i32[4]', c: 'f32[4]' });
    const out = run(model(src), { x: f32([4], [-1, 2, 0, 3]) });
    expect(values(out['a'])).toEqual([0, 2, 0, 3]);
    expect(values(out['b'])).toEqual([-1, 1, -1, 1]);
    expect(values(out['c'])).toEqual([-1, 1.5, 0, 1.5]);
  });

  it('accepts static arguments: axes lists, keepdims, dtypes, shapes, pads, strings', () => {
    expect(
      types(`model m(x: f32[B, 3, 4], i: i32[B], y: f32[4, 5]) {
        a = sum(x, axis = [1, 2], keepdims = true)
        b = mean(x, -1)
        c = cast(i, f32)
        d = transpose(x, [2, 0, 1])
        e = concat([x, x], axis = 1)
        f = stack([y, y], 0)
        g = pad(y, [[1, 1], [0, 2]])
        h = einsum("bij,jk->bik", x, y)
        k = one_hot(i, 10)
        l = leaky_relu(x, alpha = 0.2)
        n = argmax(x, axis = -1)
        o = broadcast_to(y, [2, 4, 5])
        output out = sum(a)
      }`),
    ).toMatchObject({
      a: 'f32[B, 1, 1]',
      b: 'f32[B, 3]',
      c: 'f32[B]',
      d: 'f32[4, B, 3]',
      e: 'f32[B, 6, 4]',
      f: 'f32[2, 4, 5]',
      g: 'f32[6, 7]',
      h: 'f32[B, 3, 5]',
      k: 'f32[B, 10]',
      l: 'f32[B, 3, 4]',
      n: 'i32[B, 3]',
      o: 'f32[2, 4, 5]',
    });
  });

  it('adds @seed to training graphs only when dropout is used', () => {
    const src = `model m(x: f32[B, 4]) {
      output y = dropout(x, 0.5)
      output z = dropout(x, 0.5)
    }`;
    const m = model(src);
    expect(m.usesRandomness).toBe(true);
    expect(m.lower({ training: false }).inputs.map((i) => i.name)).toEqual(['x']);
    const g = m.lower({ training: true });
    expect(g.inputs.map((i) => i.name)).toEqual(['x', '@seed']);
    // Two dropout sites draw different masks.
    expect(g.outputs[0]!.node.id).not.toBe(g.outputs[1]!.node.id);
    expect(
      model(EXAMPLE)
        .lower({ training: true })
        .inputs.map((i) => i.name),
    ).toEqual(['x', 'y']);
  });

  it('parses initialisers into InitSpecs', () => {
    const m = model(`model m(x: f32[2]) {
      param a: f32[2] = normal(std = 0.02)
      param b: f32[2] = normal
      param c: f32[2] = uniform(-0.1, hi = 0.1)
      param d: f32[2] = constant(0.5)
      param e: i32[2] = constant(-3)
      param f: f32[2, 2] = he_normal
      output y = x
    }`);
    expect(m.params.map((p) => p.init)).toEqual([
      { kind: 'normal', std: 0.02 },
      { kind: 'normal', std: 1 },
      { kind: 'uniform', lo: -0.1, hi: 0.1 },
      { kind: 'constant', value: 0.5 },
      { kind: 'constant', value: -3 },
      { kind: 'he_normal' },
    ]);
  });

  it('reads train blocks: lookahead, schedules, clipping by value, freeze', () => {
    const r = ok(`model m(x: f32[B, 2]) {
        param w: f32[2] = zeros
        param v: f32[2] = zeros
        output loss = mean(x * w + v)
      }
      train m {
        freeze w
        minimize loss
        optimizer lookahead(momentum(lr = 0.1, nesterov = true, cautious = true), k = 6, alpha = 0.5)
        schedule cosine(steps = 100)
        clip value(0.5)
        freeze v
      }`);
    expect(r.trains[0]).toMatchObject({
      minimize: 'loss',
      optimizer: {
        name: 'lookahead',
        args: { k: 6, alpha: 0.5 },
        inner: { name: 'momentum', args: { lr: 0.1, nesterov: true, cautious: true } },
      },
      schedule: { name: 'cosine', args: { steps: 100 } },
      clip: { kind: 'value', max: 0.5 },
      freeze: ['w', 'v'],
    });
  });

  it('checks several models and train blocks in one file', () => {
    const r = ok(`model a(x: f32[2]) { output l = sum(x) }
      model b(x: f32[2]) { param w: f32[2] = ones; output l = sum(x * w) }
      train b { minimize l; optimizer sgd(lr = 0.1) }
      train a { minimize l; optimizer adam }`);
    expect(r.models.map((m) => m.name)).toEqual(['a', 'b']);
    expect(r.trains.map((t) => `${t.model}:${t.optimizer.name}`)).toEqual(['b:sgd', 'a:adam']);
  });
});

// ---------------------------------------------------------------------------

const HEAD = 'model m(x: f32[B, 4], i: i32[B]) {\n  param w: f32[4, 2] = zeros\n';

/** Each case: what it exercises, and a bad source. Keep appending (renumbering rewrites the golden). */
const CASES: readonly [string, string][] = [
  ['unknown name with did-you-mean', EXAMPLE.replace('logits = dense(h, w2, b2)', 'logits = dense(h, w3, b2)')],
  ['misspelled builtin', EXAMPLE.replace('softmax(logits, axis = -1)', 'sofmax(logits, axis = -1)')],
  ["shape mismatch in '@' inside an inlined fn", EXAMPLE.replace('dense(h, w2, b2)', 'dense(x, w2, b2)')],
  [
    'shape mismatch inside a nested fn call chain',
    'fn inner(a, b) = a @ b\nfn mid(a, b) = relu(inner(a, b))\nfn outer(a, b) = mid(a, b) * 2\n' +
      'model m(x: f32[B, 3]) {\n  param w: f32[4, 5] = zeros\n  output y = outer(x, w)\n}\n',
  ],
  ["broadcast mismatch in '+'", `${HEAD}  output y = x + sum(w, axis = 1, keepdims = true)\n}\n`],
  ['int/float mixing without cast', `${HEAD}  output y = x[:, 0] + i\n}\n`],
  ['float literal meeting an i32', `${HEAD}  output y = i * 0.5\n}\n`],
  ['condition of ?: is not bool', `${HEAD}  output y = x ? x : 0\n}\n`],
  ['direct recursion', 'fn f(x) = f(x - 1) + 1\nmodel m(x: f32[2]) {\n  output y = f(x)\n}\n'],
  [
    'mutual recursion',
    'fn even(x) = odd(x) * 2\nfn odd(x) {\n  let t = even(x)\n  return t\n}\nmodel m(x: f32[2]) {\n  output y = odd(x)\n}\n',
  ],
  ['cycle between statements', `${HEAD}  a = b + x\n  b = relu(c)\n  c = a * 2\n  output y = a\n}\n`],
  ['duplicate name', `${HEAD}  param x: f32[4] = zeros\n  output y = x\n}\n`],
  ['reassignment', `${HEAD}  h = x * 2\n  h = x * 3\n  output y = h\n}\n`],
  ['unknown keyword argument', `${HEAD}  output y = sum(x, axes = 1)\n}\n`],
  ['missing required argument', `${HEAD}  output y = maximum(x)\n}\n`],
  ['too many arguments', `${HEAD}  output y = relu(x, 0.1)\n}\n`],
  ['non-scalar minimize target', EXAMPLE.replace('minimize  loss', 'minimize  probs')],
  [
    'unknown param in freeze',
    EXAMPLE.replace('clip      global_norm(1.0)', 'clip      global_norm(1.0)\n  freeze    w1, b3'),
  ],
  ['unknown model in train', EXAMPLE.replace('train mlp', 'train mpl')],
  ['unknown optimizer', EXAMPLE.replace('optimizer adamw(', 'optimizer adamm(')],
  ['hyperparameter out of range', EXAMPLE.replace('b2 = 0.999', 'b2 = 1.5')],
  ['negative learning rate', EXAMPLE.replace('lr = 1e-3', 'lr = -1e-3')],
  ['unknown initialiser', `${HEAD.replace('zeros', 'glorot')}  output y = x @ w\n}\n`],
  [
    'initialiser arguments',
    `${HEAD}  param v: f32[2] = uniform(0.1)\n  param u: i32[2] = normal(std = 0.1)\n  output y = x @ w\n}\n`,
  ],
  ['unknown dtype f64', 'model m(x: f64[B, 4]) {\n  output y = cast(x, f64)\n}\n'],
  ['model without output', 'model m(x: f32[B, 4]) {\n  h = relu(x)\n}\n'],
  [
    'symbolic dimension in a param type',
    'model m(x: f32[B, 4]) {\n  param w: f32[B, 4] = zeros\n  output y = x * w\n}\n',
  ],
  ['grad of a non-scalar', `${HEAD}  output g = grad(x @ w, w)\n}\n`],
  ['grad with respect to an intermediate', `${HEAD}  h = x @ w\n  output g = grad(sum(h), h)\n}\n`],
  [
    'two independent errors in one file',
    'fn dense(x, w, b) = x @ w + b\nmodel m(x: f32[B, 4]) {\n  param w: f32[4, 2] = zeros\n  param b: f32[3] = zeros\n' +
      '  h = dense(x, w, b)\n  output y = sum(h, axis = z)\n}\n',
  ],
  ['static argument given a tensor', `${HEAD}  output y = sum(x, axis = i)\n}\n`],
  ['shape(x)[i] of a symbolic dimension as a value', `${HEAD}  output y = x * shape(x)[0]\n}\n`],
  ['index out of range and symbolic axis', `${HEAD}  a = w[4]\n  output y = x[0]\n}\n`],
  ['list or dtype where a tensor is expected', `${HEAD}  a = [1, 2]\n  output y = x * f32\n}\n`],
  [
    'bad train block statements',
    EXAMPLE.replace('minimize  loss', 'minimize  h').replace('global_norm(1.0)', 'global_norm(-1)'),
  ],
  [
    'bad optimizer arguments',
    EXAMPLE.replace('adamw(lr = 1e-3, b1 = 0.9', 'adamw(lr = 1e-3, beta1 = 0.9, amsgrad = 1').replace(
      'schedule  warmup_cosine',
      'schedule  warmup_cosin',
    ),
  ],
  ['sgd without lr, optimizer twice', EXAMPLE.replace('  schedule', '  optimizer sgd(momentum = 0.9)\n  schedule')],
  ['errors in one fn reported once for two calls', `fn f(a) = a * q\n${HEAD}  output y = f(x) + f(x)\n}\n`],
  ['calling a value and using a fn as a value', `fn f(a) = a\n${HEAD}  h = x * 2\n  output y = h(x) + f\n}\n`],
  ['fn argument count', 'fn f(a, b) = a + b\nmodel m(x: f32[2]) {\n  output y = f(x) + f(x, x, x) + f(x, c = x)\n}\n'],
  ['reshape to an impossible shape', `${HEAD}  output y = reshape(x, [3, -1])\n}\n`],
  [
    'unknown name inside a fn block',
    'fn f(a) {\n  let t = a * 2\n  return t + u\n}\nmodel m(x: f32[2]) {\n  output y = f(x)\n}\n',
  ],
  ['minimize an i32 output', `${HEAD}  output n = sum(i)\n}\ntrain m {\n  minimize n\n  optimizer sgd(lr = 0.1)\n}\n`],
  ['train block without minimize or optimizer', `${HEAD}  output l = sum(x)\n}\ntrain m {\n  freeze w\n}\n`],
  [
    'duplicate fn and model',
    'fn f(a) = a\nfn f(a) = a * 2\nmodel m(x: f32[2]) { output y = f(x) }\nmodel m(x: f32[2]) { output y = x }\n',
  ],
  ['fn named like a builtin', 'fn relu(a) = a\nmodel m(x: f32[2]) { output y = relu(x) }\n'],
  ['a symbolic dimension name reused for a value', 'model m(x: f32[B, 2]) {\n  B = 3\n  output y = x * B\n}\n'],
  [
    'the same bad call at two sites is reported at both',
    'fn f(a, b) = a @ b\nmodel m(x: f32[2, 3]) {\n  a = f(x, x)\n  output y = f(x, x) + a\n}\n',
  ],
  [
    'grad of a bool, with respect to an i32 input',
    `${HEAD}  output g = grad(true, x)\n  output h = grad(sum(x), i)\n}\n`,
  ],
  ['.T of a vector', `${HEAD}  output y = w[0, :].T\n}\n`],
  [
    'gradient noise out of range',
    EXAMPLE.replace(
      'adamw(lr = 1e-3, b1 = 0.9',
      'adamw(lr = 1e-3, grad_noise = -0.01, grad_noise_gamma = -1, b1 = 0.9',
    ),
  ],
  [
    'grad_noise_gamma without grad_noise',
    EXAMPLE.replace('adamw(lr = 1e-3, b1', 'adamw(lr = 1e-3, grad_noise_gamma = 0.6, b1'),
  ],
];

describe('semantic errors', () => {
  it('match the golden file', () => {
    const out: string[] = [];
    CASES.forEach(([what, text], i) => {
      const path = `bad/${String(i + 1).padStart(2, '0')}.kiln`;
      const { result } = compileSource(path, text);
      expect(result.diagnostics.length, what).toBeGreaterThan(0);
      out.push(`=== ${path}: ${what}`, text.trimEnd(), '---', ...result.diagnostics.map(formatDiagnostic), '');
    });
    expectGolden(GOLDEN, out.join('\n'));
  });

  it('accept gradient noise among the optimizer arguments', () => {
    const src = EXAMPLE.replace(
      'adamw(lr = 1e-3, b1',
      'adamw(lr = 1e-3, grad_noise = 0.01, grad_noise_gamma = 0.6, b1',
    );
    const { result } = compileSource('t.kiln', src);
    expect(result.diagnostics).toEqual([]);
    expect(result.trains[0]!.optimizer.args).toMatchObject({ grad_noise: 0.01, grad_noise_gamma: 0.6 });
  });

  it("accept every optimizer of the spec with every hyperparameter written, and check each one's kind", () => {
    const msg = (call: string) =>
      compileSource('t.kiln', EXAMPLE.replace(/optimizer .*\n/, `optimizer ${call}\n`)).result.diagnostics.map(
        (d) => d.message,
      );
    for (const [name, table] of Object.entries(OPTIMIZER_DEFAULTS)) {
      const written = Object.entries(table).map(([k, d]) => `${k} = ${d === 'required' || d === undefined ? 0.1 : d}`);
      expect(msg(`${name}(${[...written, 'cautious = true', 'ema = 0.5'].join(', ')})`), name).toEqual([]);
      for (const [k, d] of Object.entries(table)) {
        const lr = k === 'lr' ? '' : 'lr = 0.1, ';
        expect(msg(`${name}(${lr}${k} = ${typeof d === 'boolean' ? 1 : true})`), `${name} ${k}`).toContain(
          `${k} of ${name} must be ${typeof d === 'boolean' ? 'true or false' : 'a number'}`,
        );
      }
    }
  });

  it('phrase the common mistakes as documented', () => {
    const msg = (src: string) => compileSource('t.kiln', src).result.diagnostics.map((d) => d.message);
    expect(msg(CASES[0]![1])).toEqual(["unknown name 'w3'; did you mean 'w2'?"]);
    expect(msg(`${HEAD}  output y = sum(x, axes = 1)\n}\n`)).toEqual([
      "unknown argument 'axes' for sum; did you mean 'axis'?",
    ]);
    expect(msg(`${HEAD}  output y = i * 0.5\n}\n`)).toEqual(['cannot mix i32 with float literal 0.5']);
    expect(msg(`${HEAD}  output y = sum(x, axis = i)\n}\n`)).toEqual(['axis must be a constant integer']);
    expect(msg('model m(x: f64[B]) { output y = x }')).toEqual(["unknown dtype 'f64'; expected f32, i32 or bool"]);
    expect(msg('model m(x: f32[B]) { param w: f32[B] = zeros; output y = x * w }')).toEqual([
      "param 'w' has a symbolic dimension B; params must have static shapes",
    ]);
  });

  it('report each error of a file, none of them cascades', () => {
    const src = `${HEAD}  a = x @ q\n  b = relu(a) + a\n  c = b * 2\n  output y = c + sofmax(x)\n  output z = i + 0.5\n}\n`;
    expect(compileSource('t.kiln', src).result.diagnostics.map((d) => d.message)).toEqual([
      "unknown name 'q'",
      "unknown function 'sofmax'; did you mean 'softmax'?",
      'cannot mix i32 with float literal 0.5',
    ]);
  });

  it('leave models with errors out of the result, keeping the good ones', () => {
    const { result } = compileSource(
      't.kiln',
      'model good(x: f32[2]) { output y = x }\nmodel bad(x: f32[2]) { output y = x + q }\n',
    );
    expect(result.models.map((m) => m.name)).toEqual(['good']);
    expect(result.diagnostics).toHaveLength(1);
  });
});

describe('the front end', () => {
  it('throws KilnError with every diagnostic, and a clean error for a missing file', () => {
    expect(() => loadKilnFile('/nonexistent/dir/model.kiln')).toThrow(KilnFileError);
    try {
      loadKilnFile('/nonexistent/dir/model.kiln');
    } catch (e) {
      expect(e).toBeInstanceOf(KilnError);
      expect((e as Error).message).toBe('/nonexistent/dir/model.kiln: error: no such file');
    }
    const path = fileURLToPath(new URL('./golden/language-example.kiln', import.meta.url));
    expect(loadKilnFile(path).result.models.map((m) => m.name)).toEqual(['mlp']);
  });

  it('reports syntax errors without checking', () => {
    const { result } = compileSource('t.kiln', 'fn f(x) = x *\nmodel m(x: f32[2]) { output y = f(x) }\n');
    expect(result.diagnostics.map((d) => d.message)).toEqual(["expected an expression after '*'"]);
    expect(result.models).toEqual([]);
  });

  it('checks long operator chains without overflowing the stack', () => {
    const chain = Array.from({ length: 3000 }, () => 'x').join(' + ');
    const m = model(`model m(x: f32[2]) { output y = ${chain} }`);
    close(values(run(m, { x: f32([2], [1, 2]) })['y']), [3000, 6000]);
  });

  it('gives up on exponential inlining with one error', () => {
    const fns = Array.from({ length: 30 }, (_, k) => `fn f${k + 1}(x) = f${k}(x) + f${k}(x * 2)`).join('\n');
    const { result } = compileSource('t.kiln', `fn f0(x) = x\n${fns}\nmodel m(x: f32[2]) { output y = f30(x) }`);
    expect(result.diagnostics.map((d) => d.message)).toEqual([
      'inlining fn f30 takes more than 20000 fn calls (fns are inlined at every call)',
    ]);
  });

  it('never throws on token soup', () => {
    const tokens = [
      'model m(x: f32[B, 3]) {',
      'fn f(a) =',
      'fn g(a, b) { let t = a',
      'return t }',
      'train m {',
      'minimize',
      'optimizer',
      'freeze',
      'param w: f32[3] =',
      'output',
      'y =',
      'x',
      'w',
      'f(x)',
      'g(x, w)',
      '+',
      '@',
      '*',
      '?',
      ':',
      '[',
      ']',
      '(',
      ')',
      '{',
      '}',
      ',',
      '-1',
      '0.5',
      'sum(x, axis = 0)',
      'reshape(x, [B, -1])',
      'grad(sum(x), w)',
      'shape(x)[0]',
      'x[..., 1:2]',
      'zeros',
      'adam(lr = 1)',
      'true',
      'cast(x, i32)',
      'dropout(x, 0.5)',
      'x.T',
      'i32[B]',
      '\n',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 40 }), (ts) => {
        const { result } = compileSource('fuzz.kiln', ts.join(' '));
        for (const d of result.diagnostics) expect(d.message).not.toMatch(/internal error/);
        for (const m of result.models) verifyGraph(m.lower({ training: true }), 'fuzz');
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on mutated valid models', () => {
    const base = `fn dense(x, w, b) = x @ w + b
model m(x: f32[B, 4], y: i32[B]) {
  param w: f32[4, 3] = glorot_uniform
  param b: f32[3] = zeros
  h = relu(dense(x, w, b))
  output p = softmax(h, axis = -1)
  output loss = mean(softmax_cross_entropy(h, y))
  output g = grad(loss, w)
}
train m { minimize loss; optimizer adam(lr = 1e-3) }
`;
    const words = ['x', 'y', 'w', 'b', 'h', 'loss', '1', '-1', '0.5', 'B', 'f32', 'i32', 'p', 'dense', 'grad', '[0]'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: base.length }), fc.constantFrom(...words), (pos, w) => {
        const text = base.slice(0, pos) + w + base.slice(pos);
        const { result } = compileSource('mut.kiln', text);
        for (const d of result.diagnostics) expect(d.message).not.toMatch(/internal error/);
        for (const m of result.models) verifyGraph(m.lower({ training: true }), 'mut');
      }),
      { numRuns: 400 },
    );
  });
});
