// `jvp(expr, name, tangent)` in the language: types, values (by hand, and
// nested with grad both ways) and the errors of a wrong call.

import { describe, expect, it } from 'vitest';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import { type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import { formatType } from '../../compiler/types.js';
import { verifyGraph } from '../../compiler/verify.js';

function checked(src: string) {
  const { result } = compileSource('test.kiln', src);
  return { errors: result.diagnostics.map(formatDiagnostic).join('\n'), model: result.models[0] };
}

function run(src: string, inputs: Record<string, RefTensor>, params: Record<string, RefTensor> = {}) {
  const { errors, model } = checked(src);
  expect(errors).toBe('');
  const g = model!.lower({ training: false });
  verifyGraph(g, 'test');
  const vals = evaluate(
    g.outputs.map((o) => o.node),
    { inputs: new Map(Object.entries(inputs)), params: new Map(Object.entries(params)) },
  );
  return Object.fromEntries(g.outputs.map((o, i) => [o.name, { type: formatType(o.node), data: [...vals[i]!.data] }]));
}

const f32 = (shape: number[], data: number[]) => tensor('f32', shape, data);

function close(actual: readonly number[], expected: readonly number[], tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) =>
    expect(Math.abs(a - expected[i]!), `element ${i}: ${a} vs ${expected[i]}`).toBeLessThan(tol),
  );
}

describe('jvp in the language', () => {
  it('is the directional derivative, of any shape, nested with grad both ways', () => {
    const src = `model m(x: f32[2], v: f32[2]) {
      param w: f32[2] = ones
      output d  = jvp(w * w * w, w, v)                  // 3 w^2 v, elementwise
      output s  = jvp(sum(x * w), x, 1.0)               // a literal tangent stands everywhere
      output hv = jvp(grad(sum(w * w * w), w), w, v)    // forward-over-reverse: 6 w v
      output gj = grad(sum(jvp(w * w * w, w, v)), w)    // grad through a jvp: 6 w v
      output jx = jvp(x * x, w, v)                      // does not depend on w: zeros
    }`;
    const out = run(src, { x: f32([2], [3, 4]), v: f32([2], [0.5, -2]) }, { w: f32([2], [1, 2]) });
    expect(out['d']!.type).toBe('f32[2]');
    close(out['d']!.data, [1.5, -24]);
    close(out['s']!.data, [3]); // sum(w * 1)
    close(out['hv']!.data, [3, -24]);
    close(out['gj']!.data, [3, -24]);
    close(out['jx']!.data, [0, 0]);
  });

  it('keeps symbolic dims: jvp with respect to a batched input', () => {
    const src = `model m(x: f32[B, 3], t: f32[B, 3]) {
      param w: f32[3, 2] = ones
      output y = jvp(tanh(x @ w), x, t)
    }`;
    expect(checked(src).errors).toBe('');
    expect(formatType(checked(src).model!.lower({ training: false }).outputs[0]!.node)).toBe('f32[B, 2]');
  });

  const bad: [string, string, RegExp][] = [
    ['two arguments', 'output y = jvp(sum(w), w)', /jvp takes three arguments: jvp\(expr, name, tangent\)/],
    [
      'not a name',
      'output y = jvp(sum(w), w * 2, w)',
      /the second argument of jvp must be the name of a param or input/,
    ],
    [
      'a local value',
      'h = w * 2; output y = jvp(sum(h), h, w)',
      /jvp is taken with respect to a param or input of the model; 'h' is not one/,
    ],
    [
      'an integer input',
      'output y = jvp(sum(w), i, w)',
      /jvp with respect to 'i' \(i32\[2\]\): only f32 params and inputs have tangents/,
    ],
    [
      'a wrong tangent shape',
      'output y = jvp(sum(w), w, x)',
      /the tangent of jvp must have the type of 'w', f32\[2\]; got f32\[3\]/,
    ],
    ['an integer value', 'output y = jvp(i * 2, w, w)', /jvp needs an f32 value, got i32\[2\]/],
  ];
  for (const [what, stmt, message] of bad)
    it(`reports ${what} at its place`, () => {
      const { errors } = checked(`model m(x: f32[3], i: i32[2]) {
        param w: f32[2] = ones
        ${stmt}
      }`);
      expect(errors).toMatch(message);
      expect(errors).toMatch(/^test\.kiln:3:\d+: error: /);
    });
});
