// SAM (optimizers.md §28d) on the reference interpreter: the second gradient
// is the gradient at the perturbed point, rho = 0 is exactly the inner
// optimizer, 8-step trajectories against float64 code written in
// tests/helpers/sam-cases.ts, validation, graph substitution, dropout masks
// shared by both passes, and the kernel counts of sam(adam) against adam.

import { readFileSync } from 'node:fs';
import { SAM_CASES, samConfigAt, samE64, samExtra, samLine, samReference } from '../helpers/sam-cases.js';
import {
  BATCHES,
  TINY_INIT,
  TINY_NAMES,
  TINY_SHAPES,
  type TinyParams,
  tinyGrads,
  tinySrc,
} from '../helpers/optimizer-cases.js';
import { describe, expect, it } from 'vitest';
import { compileGraph } from '../../compiler/compile.js';
import { type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import { IRBuilder, topoSort } from '../../compiler/ir.js';
import { substitute } from '../../compiler/substitute.js';
import { initialState, referenceTrainStep } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import { hostScalars } from '../../runtime/optimizers/host-scalars.js';
import type { OptimizerConfig } from '../../runtime/optimizers/spec.js';

const f32 = (shape: number[], data: ArrayLike<number>) => tensor('f32', shape, data);

function compiled(src: string) {
  const { result } = compileSource('test.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  return { model: result.models.find((m) => m.name === train.model)!, train };
}
const stepOf = (src: string): TrainStep => {
  const { model, train } = compiled(src);
  return buildTrainStep(model, train);
};
const errorsOf = (src: string): string[] => compileSource('test.kiln', src).result.diagnostics.map((d) => d.message);

function expectClose(actual: readonly number[], expected: readonly number[], tol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e))))
      throw new Error(
        `${what} element ${i}: got ${a}, expected ${e}\n  got  ${actual.join(', ')}\n  want ${expected.join(', ')}`,
      );
  });
}

const tinyParams = (p: TinyParams = TINY_INIT as TinyParams) =>
  new Map<string, RefTensor>(TINY_NAMES.map((n) => [n, f32(TINY_SHAPES[n], p[n])]));
const tinyBatch = (t: number) => {
  const d = BATCHES[(t - 1) % 2]!;
  return new Map([
    ['x', f32([4, 2], d.x)],
    ['y', f32([4], d.y)],
  ]);
};
const asTiny = (m: Map<string, RefTensor>): TinyParams =>
  Object.fromEntries(TINY_NAMES.map((n) => [n, [...m.get(n)!.data]])) as TinyParams;

/** One reference step of `opt` on the tiny MLP from params `p` (state zero), at step 1. */
function oneStep(opt: OptimizerConfig, p?: TinyParams, extra = '') {
  const step = stepOf(tinySrc(samLine(opt), extra));
  return referenceTrainStep(step, {
    params: new Map([...tinyParams(p), ...initialState(step)]),
    batch: tinyBatch(1),
    scalars: hostScalars(step.optimizer, undefined, 1, step.clip),
  });
}

describe('sam: the second gradient', () => {
  for (const adaptive of [false, true])
    it(`is the gradient at w + e, computed by a separate step there (adaptive = ${adaptive})`, () => {
      // sam(sgd(lr = 1)): w_new = w − g', so g' = w − w_new.
      const rho = 0.3;
      const r = oneStep({ name: 'sam', hyper: { rho, adaptive }, inner: { name: 'sgd', hyper: { lr: 1 } } });
      const w = TINY_INIT as TinyParams;
      // g at w and the perturbed point, both by the reference interpreter (sgd(lr = 1) steps).
      const atW = asTiny(oneStep({ name: 'sgd', hyper: { lr: 1 } }).params);
      const g = Object.fromEntries(TINY_NAMES.map((n) => [n, w[n].map((x, i) => x - atW[n][i]!)])) as TinyParams;
      const e = samE64(w, g, rho, adaptive);
      const wp = Object.fromEntries(TINY_NAMES.map((n) => [n, w[n].map((x, i) => x + e[n][i]!)])) as TinyParams;
      const atWp = asTiny(oneStep({ name: 'sgd', hyper: { lr: 1 } }, wp).params);
      const after = asTiny(r.params);
      for (const n of TINY_NAMES) {
        const gp = wp[n].map((x, i) => x - atWp[n][i]!);
        expectClose(
          w[n].map((x, i) => x - after[n][i]!),
          gp,
          1e-12,
          `g' of ${n}`,
        );
        // and it is not g: the test would notice a step that ignored e.
        expect(
          gp.some((x, i) => Math.abs(x - g[n][i]!) > 1e-4),
          `g' differs from g for ${n}`,
        ).toBe(true);
      }
      expectClose([r.loss], [tinyGrads(w, BATCHES[0]!).loss], 1e-12, 'the loss is at w');
    });

  it('rho = 0 gives exactly the inner optimizer step', () => {
    const inners: OptimizerConfig[] = [
      { name: 'adam', hyper: { lr: 0.05 } },
      { name: 'lookahead', hyper: { k: 1 }, inner: { name: 'momentum', hyper: { lr: 0.1, nesterov: true } } },
    ];
    for (const inner of inners) {
      for (const adaptive of [false, true]) {
        const s = oneStep({ name: 'sam', hyper: { rho: 0, adaptive }, inner });
        const plain = oneStep(inner);
        expect(s.loss).toBe(plain.loss);
        for (const [k, v] of plain.params)
          expect([...s.params.get(k)!.data], `${samLine(inner)} ${k}`).toEqual([...v.data]);
      }
    }
  });
});

describe('sam: 8-step trajectories against float64 code written here', () => {
  for (const c of SAM_CASES)
    it(c.label, () => {
      const step = stepOf(tinySrc(samLine(c.opt), samExtra(c)));
      const want = samReference(c);
      let params = new Map([...tinyParams(), ...initialState(step)]);
      for (let t = 1; t <= 8; t++) {
        const r = referenceTrainStep(step, {
          params,
          batch: tinyBatch(t),
          scalars: hostScalars(samConfigAt(c, t), undefined, t, step.clip),
        });
        params = r.params;
        expectClose([r.loss], [want.losses[t - 1]!], 1e-10, `loss at step ${t}`);
        for (const [name, v] of Object.entries(want.after[t - 1]!))
          expectClose([...params.get(name)!.data], v, 1e-10, `${name} after step ${t}`);
      }
    });
});

describe('sam: graph', () => {
  it('substitute rebuilds only what depends on the replaced nodes', () => {
    const b = new IRBuilder();
    const x = b.input('x', { dtype: 'f32', shape: [3] });
    const w = b.param('w', { dtype: 'f32', shape: [3] });
    const c = b.unary('exp', x);
    const y = b.binary('mul', b.binary('add', c, w), w);
    const w2 = b.bin('mul', w, 2);
    const [y2] = substitute(b, [y], new Map([[w.id, w2]]));
    const ins = { inputs: new Map([['x', f32([3], [0, 1, -1])]]), params: new Map([['w', f32([3], [1, 2, 3])]]) };
    const [a, bb] = evaluate([y, y2!], ins);
    expect([...a!.data]).toEqual([0, 1, 2].map((i) => (Math.exp([0, 1, -1][i]!) + [1, 2, 3][i]!) * [1, 2, 3][i]!));
    expect([...bb!.data]).toEqual(
      [0, 1, 2].map((i) => (Math.exp([0, 1, -1][i]!) + 2 * [1, 2, 3][i]!) * 2 * [1, 2, 3][i]!),
    );
    // exp(x) is shared, not rebuilt.
    expect(topoSort([y2!]).filter((n) => n.op === 'unary')).toEqual([c]);
    expect(() => substitute(b, [y], new Map([[w.id, b.const(1, 'f32')]]))).toThrow(/cannot stand for/);
  });

  it('the second pass reuses the first pass dropout masks (the same rand nodes)', () => {
    const src = (line: string) => `model d(x: f32[B, 4], y: f32[B]) {
        param w: f32[4, 1] = glorot_uniform
        output loss = mean(mse((dropout(x, 0.5) @ w)[:, 0], y))
      }
      train d {
        minimize loss
        optimizer ${line}
      }`;
    const rands = (s: TrainStep) => topoSort(s.graph.outputs.map((o) => o.node)).filter((n) => n.op === 'rand').length;
    const plain = stepOf(src('sgd(lr = 0.1)'));
    const sam = stepOf(src('sam(sgd(lr = 0.1))'));
    expect(rands(plain)).toBeGreaterThan(0);
    expect(rands(sam)).toBe(rands(plain));
  });

  it('its scalar is @sam_rho, after the inner optimizer and its modifiers', () => {
    const s = stepOf(tinySrc('sam(adam(lr = 0.1, ema = 0.9, grad_noise = 0.01), rho = 0.2)', 'clip global_norm(1)'));
    expect(s.scalars.slice(-4)).toEqual(['@one_minus_ema_decay', '@noise_std', '@sam_rho', '@clip']);
    expect(hostScalars(s.optimizer, undefined, 1, s.clip, s.gradNoise)['@sam_rho']).toBe(0.2);
  });

  it('kernel counts on examples/mlp.kiln and cnn.kiln: sam(adam) against adam', () => {
    const counts = (file: string, line?: string) => {
      let src = readFileSync(file, 'utf8');
      if (line) src = src.replace(/optimizer adam\(([^)]*)\)/, (_m, a: string) => `optimizer sam(adam(${a}))`);
      const { model, train } = compiled(src);
      return compileGraph(buildTrainStep(model, train).graph).fusion.program.kernels.length;
    };
    expect([counts('examples/mlp.kiln'), counts('examples/mlp.kiln', 'sam')]).toEqual([9, 19]);
    expect([counts('examples/cnn.kiln'), counts('examples/cnn.kiln', 'sam')]).toEqual([22, 45]);
  });
});

describe('sam: validation', () => {
  const line = (l: string) => errorsOf(tinySrc(l));
  it('reports bad values and bad nesting as compile errors', () => {
    expect(line('sam(adam(lr = 0.1), rho = -0.1)')).toEqual([
      "hyperparameter 'rho' of sam must be a finite number >= 0, got -0.1",
    ]);
    expect(line('sam(rho = 0.1)')[0]).toMatch(/sam wraps one optimizer/);
    expect(line('sam(sam(adam(lr = 0.1)))')).toEqual(['sam cannot wrap another sam']);
    expect(line('lookahead(sam(adam(lr = 0.1)))')[0]).toMatch(/sam goes outside lookahead/);
    expect(line('sam(adam(lr = 0.1), adaptive = 1)')[0]).toMatch(/adaptive of sam must be true or false/);
    expect(line('sam(adam(lr = 0.1), radius = 1)')[0]).toMatch(/unknown argument 'radius' for sam/);
    expect(line('sam(lookahead(adam(lr = -1)))')[0]).toMatch(/'lr' of adam must be/);
    expect(line('adam(sam(sgd(lr = 1)))').length).toBeGreaterThan(0);
    expect(line('sam(lookahead(adam(lr = 0.1), k = 3), rho = 2, adaptive = true)')).toEqual([]);
  });
  it('forward gradients are refused', () => {
    expect(() => stepOf(tinySrc('sam(sgd(lr = 0.1))', 'gradient forward'))).toThrow(/sam needs the exact gradient/);
  });
});
