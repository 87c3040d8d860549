// AdaHessian and Sophia on the reference target (optimizers.md §28b, §28c):
// 8-step trajectories on a model whose Hessian is diagonal (the Hutchinson
// estimate is exact there) against float64 code written from the sheet; on
// the tiny tanh MLP, whose Hessian is full, the mean of the in-step
// Hutchinson estimate over many seeds against diag(H) computed exactly, with
// a bound from the estimator's variance; validation; the step graph.

import { readFileSync } from 'node:fs';
import {
  CURVATURE_CASES,
  QUAD_INIT,
  QUAD_NAMES,
  QUAD_SHAPES,
  curvatureConfigAt,
  quadBatch,
  quadReference,
  quadSrc,
} from '../helpers/curvature-cases.js';
import { BATCHES, B, TINY_INIT, TINY_NAMES, TINY_SHAPES, optimizerLine, tinySrc } from '../helpers/optimizer-cases.js';
import { describe, expect, it } from 'vitest';
import { gradients } from '../../compiler/autodiff.js';
import { CURVATURE_SALT } from '../../compiler/curvature.js';
import { jvps } from '../../compiler/forward.js';
import { type RefTensor, evaluate, tensor } from '../../compiler/interpret.js';
import { type Graph, topoSort } from '../../compiler/ir.js';
import { compileGraph } from '../../compiler/compile.js';
import { runProgram } from '../../compiler/kernel/interpret.js';
import { initialState, referenceTrainStep, stepRefreshes } from '../../compiler/train-reference.js';
import { type TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { compileSource } from '../../dsl/frontend.js';
import { formatDiagnostic } from '../../dsl/source.js';
import { hostScalars, refreshesAt } from '../../runtime/optimizers/host-scalars.js';

type Vec = number[];
const f32 = (shape: number[], data: ArrayLike<number>) => tensor('f32', shape, data);
const vals = (t: RefTensor): Vec => [...t.data];

function compiled(src: string) {
  const { result } = compileSource('test.kiln', src);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  const train = result.trains[0]!;
  const model = result.models.find((m) => m.name === train.model)!;
  return { model, train };
}
const stepOf = (src: string): TrainStep => {
  const { model, train } = compiled(src);
  return buildTrainStep(model, train);
};

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

const quadParams = () => new Map(QUAD_NAMES.map((n) => [n, f32(QUAD_SHAPES[n], QUAD_INIT[n])] as const));
const quadInputs = (t: number) => {
  const d = quadBatch(t);
  return new Map([
    ['a', f32([3], d.a)],
    ['c', f32([3], d.c)],
    ['ak', f32([2, 1, 2, 2], d.ak)],
    ['ck', f32([2, 1, 2, 2], d.ck)],
  ]);
};

describe('8-step trajectories on a diagonal-Hessian model against float64 code written here', () => {
  for (const c of CURVATURE_CASES) {
    it(`${c.label}, hyperparameters changed at step 5`, () => {
      const step = stepOf(quadSrc(optimizerLine(c.opt)));
      const want = quadReference(c);
      let p = new Map([...quadParams(), ...initialState(step)]);
      for (let t = 1; t <= 8; t++) {
        const r = referenceTrainStep(step, {
          params: p,
          batch: quadInputs(t),
          scalars: hostScalars(curvatureConfigAt(c, t), undefined, t),
          // Any seed: the estimate is exact on this model.
          seed: 1000 + 37 * t,
          // The refreshing step or the plain one, by the config of step t (update_interval may change at step 5).
          refresh: stepRefreshes(step, t, curvatureConfigAt(c, t)),
        });
        p = r.params;
        expectClose([r.loss], [want.losses[t - 1]!], 1e-12, `loss at step ${t}`);
        for (const [name, v] of Object.entries(want.after[t - 1]!))
          expectClose(vals(p.get(name)!), v, 1e-11, `${name} after step ${t}`);
      }
      expect(vals(p.get('w')!)).not.toEqual(QUAD_INIT.w);
    });
  }

  it('the refreshing step runs when (t − 1) % update_interval == 0', () => {
    const flags = (k: number) =>
      [1, 2, 3, 4, 5, 6, 7].map((t) =>
        refreshesAt({ name: 'sophia', hyper: { lr: 1, update_interval: k } }, 'update_interval', t),
      );
    expect(flags(3)).toEqual([true, false, false, true, false, false, true]);
    expect(flags(1)).toEqual([true, true, true, true, true, true, true]);
    // Defaults: adahessian 1, sophia 10; lookahead reads the wrapped optimizer's.
    expect(refreshesAt({ name: 'adahessian', hyper: {} }, 'update_interval', 2)).toBe(true);
    expect(refreshesAt({ name: 'sophia', hyper: { lr: 1 } }, 'update_interval', 11)).toBe(true);
    expect(refreshesAt({ name: 'sophia', hyper: { lr: 1 } }, 'update_interval', 10)).toBe(false);
    const la = { name: 'lookahead', hyper: {}, inner: { name: 'sophia', hyper: { lr: 1, update_interval: 2 } } };
    expect(refreshesAt(la, 'update_interval', 2)).toBe(false);
    expect(() => refreshesAt({ name: 'adam', hyper: {} }, 'update_interval', 1)).toThrow(/'update_interval' must be/);
  });
  it('the hess_refresh flag is gone: no host scalar selects the estimate', () => {
    expect(Object.keys(hostScalars({ name: 'sophia', hyper: { lr: 1 } }, undefined, 2))).not.toContain('@hess_refresh');
  });
});

// ---------------------------------------------------------------------------
// A full Hessian: the estimator's mean approaches diag(H)

/** The tiny MLP's params and a batch, as reference tensors. */
const tinyParams = () => new Map(TINY_NAMES.map((n) => [n, f32(TINY_SHAPES[n], TINY_INIT[n])] as const));
const tinyBatch = () =>
  new Map([
    ['x', f32([B, 2], BATCHES[0]!.x)],
    ['y', f32([B], BATCHES[0]!.y)],
  ]);

/** The full Hessian of the tiny MLP's loss over its 13 param elements, column by column (H·e_j, float64). */
function tinyHessian(): number[][] {
  const { model, train } = compiled(tinySrc('sgd(lr = 1)'));
  const g = model.lower({ training: true });
  const b = g.builder;
  const loss = g.outputs.find((x) => x.name === train.minimize)!.node;
  const params = g.params.filter((p) => p.dtype === 'f32');
  const grads = gradients(b, loss, params);
  const tangents = params.map((p) => b.input(`t_${p.name}`, { dtype: 'f32', shape: p.shape }));
  const hz = jvps(b, grads, params, tangents);
  const sizes = params.map((p) => TINY_SHAPES[p.name as keyof typeof TINY_SHAPES].reduce((a, d) => a * d, 1));
  const total = sizes.reduce((a, s) => a + s, 0);
  const cols: number[][] = [];
  for (let j = 0; j < total; j++) {
    let off = 0;
    const inputs = new Map(tinyBatch());
    params.forEach((p, k) => {
      const shape = TINY_SHAPES[p.name as keyof typeof TINY_SHAPES];
      inputs.set(
        `t_${p.name}`,
        f32(
          shape,
          Array.from({ length: sizes[k]! }, (_x, i) => (off + i === j ? 1 : 0)),
        ),
      );
      off += sizes[k]!;
    });
    cols.push(evaluate(hz, { inputs, params: tinyParams() }).flatMap(vals));
  }
  return cols;
}

describe('the Hutchinson estimate in the step (the tiny tanh MLP, full Hessian)', () => {
  it('its mean over many seeds approaches diag(H) within 5 standard errors of the estimator', () => {
    const H = tinyHessian();
    const n = H.length;
    expect(n).toBe(13);
    // Symmetric (a check of the exact Hessian itself) and not diagonal (else the test proves nothing).
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(Math.abs(H[i]![j]! - H[j]![i]!)).toBeLessThan(1e-12);
    const offDiag = H.map((col, i) => col.reduce((a, x, j) => (j === i ? a : a + x * x), 0));
    expect(Math.max(...offDiag)).toBeGreaterThan(1e-3);
    // Sophia with b2 = 0 keeps h = z ⊙ Hz of this step's probe: one sample per seed.
    const step = stepOf(tinySrc('sophia(lr = 0, b2 = 0, weight_decay = 0, update_interval = 1)'));
    const S = 600;
    const sum = new Array<number>(n).fill(0);
    const first: Vec[] = [];
    for (let s = 0; s < S; s++) {
      const r = referenceTrainStep(step, {
        params: new Map([...tinyParams(), ...initialState(step)]),
        batch: tinyBatch(),
        scalars: hostScalars(step.optimizer, undefined, 1),
        seed: s,
        refresh: true,
      });
      const sample = TINY_NAMES.flatMap((nm) => vals(r.params.get(`${nm}.h`)!));
      if (s < 2) first.push(sample);
      sample.forEach((x, i) => (sum[i]! += x));
      // Each sample is diag(H) + Σ_{j≠i} z_i z_j H_ij: within Σ_j≠i |H_ij| of it.
      sample.forEach((x, i) => {
        const spread = H[i]!.reduce((a, h, j) => (j === i ? a : a + Math.abs(h)), 0);
        expect(Math.abs(x - H[i]![i]!)).toBeLessThanOrEqual(spread + 1e-12);
      });
    }
    // The estimate varies with the seed (a constant would be no estimator).
    expect(first[0]).not.toEqual(first[1]);
    for (let i = 0; i < n; i++) {
      // Var(z_i (Hz)_i) = Σ_{j≠i} H_ij² for Rademacher z: the standard error of the mean is sqrt(that / S).
      const se = Math.sqrt(offDiag[i]! / S);
      expect(Math.abs(sum[i]! / S - H[i]![i]!), `element ${i}`).toBeLessThanOrEqual(5 * se + 1e-12);
    }
  });
});

// ---------------------------------------------------------------------------
// The step graph, validation

describe('the curvature step graph', () => {
  it('reads @seed, keeps <param>.<state>, and every hyperparameter is a run-time scalar', () => {
    const ada = stepOf(quadSrc('adahessian'));
    expect(ada.state.map((s) => s.name)).toEqual(['w.m', 'w.v', 'w.d', 'k.m', 'k.v', 'k.d']);
    expect(ada.graph.inputs.map((i) => i.name)).toContain('@seed');
    expect(ada.scalars).toEqual(Object.keys(hostScalars(ada.optimizer, undefined, 1)));
    expect(ada.scalars).toEqual(expect.arrayContaining(['@hessian_power', '@lr', '@eps']));
    const so = stepOf(quadSrc('sophia(lr = 0.1)'));
    expect(so.state.map((s) => s.name)).toEqual(['w.m', 'w.h', 'k.m', 'k.h']);
    expect(so.scalars).toEqual(expect.arrayContaining(['@gamma', '@clip_threshold']));
    // The probes use salts of their own.
    const salts = topoSort(so.graph.outputs.map((x) => x.node)).flatMap((x) => (x.op === 'rand' ? [x.salt] : []));
    expect(salts.sort()).toEqual([CURVATURE_SALT, CURVATURE_SALT + 1]);
    // No hyperparameter is baked in.
    const consts = topoSort(so.graph.outputs.map((x) => x.node)).flatMap((x) => (x.op === 'const' ? [x.value] : []));
    for (const v of [0.965, 0.99, 1e-8, 1e-4, 0.01]) expect(consts).not.toContain(v);
  });

  it('has a plain step: no probes or H·z, the stored estimate kept, the same params and scalars', () => {
    for (const [line, kept] of [
      ['adahessian(update_interval = 3)', 'd'],
      ['sophia(lr = 0.1)', 'h'],
    ] as const) {
      const step = stepOf(quadSrc(line));
      expect(step.plain?.every).toBe('update_interval');
      const plain = step.plain!.graph;
      const nodes = topoSort(plain.outputs.map((x) => x.node));
      expect(nodes.filter((x) => x.op === 'rand')).toEqual([]);
      expect(plain.inputs.map((i) => i.name)).not.toContain('@seed');
      expect(plain.params.map((p) => p.name)).toEqual(step.graph.params.map((p) => p.name));
      const scalarsOf = (g: typeof plain) =>
        g.inputs.map((i) => i.name).filter((n) => n.startsWith('@') && n !== '@seed');
      expect(scalarsOf(plain)).toEqual(scalarsOf(step.graph));
      // The stored estimate is not assigned (no copy onto itself); everything else is, as in the refreshing step.
      const targets = (g: typeof plain) => g.outputs.slice(1).map((o) => o.name);
      expect(targets(plain)).toEqual(targets(step.graph).filter((n) => !n.endsWith(`.${kept}`)));
    }
    // First-order rules have one step program.
    expect(stepOf(quadSrc('adam')).plain).toBeUndefined();
  });

  it('kernel counts: the plain sophia step is an Adam step; adahessian adds one elementwise kernel per param', () => {
    const counts = (file: string, line: string) => {
      const src = readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8').replace(
        /optimizer .*/,
        `optimizer ${line}`,
      );
      const step = stepOf(src);
      const n = (g: Graph) => compileGraph(g).fusion.program.kernels.length;
      return [n(step.graph), step.plain ? n(step.plain.graph) : undefined];
    };
    expect(counts('mlp.kiln', 'adam(lr = 1e-3)')).toEqual([9, undefined]);
    expect(counts('mlp.kiln', 'sophia(lr = 1e-3)')).toEqual([15, 9]);
    expect(counts('mlp.kiln', 'adahessian(update_interval = 10)')).toEqual([15, 13]);
    expect(counts('cnn.kiln', 'adam(lr = 1e-3)')).toEqual([22, undefined]);
    expect(counts('cnn.kiln', 'sophia(lr = 1e-3)')).toEqual([34, 22]);
    expect(counts('cnn.kiln', 'adahessian(update_interval = 10)')).toEqual([35, 26]);
  });

  it('compiles to fused kernels that agree with the reference (3 steps of the tiny MLP, seeded probes)', () => {
    for (const line of [
      'adahessian(lr = 0.1, update_interval = 2)',
      'sophia(lr = 0.05, update_interval = 2, gamma = 0.5)',
    ]) {
      const step = stepOf(tinySrc(line));
      const refreshing = compileGraph(step.graph).fusion.program;
      const plain = compileGraph(step.plain!.graph).fusion.program;
      let ref = new Map([...tinyParams(), ...initialState(step)]);
      const kparams = new Map(ref);
      for (let t = 1; t <= 3; t++) {
        const scalars = { ...hostScalars(step.optimizer, undefined, t), '@seed': 40 + t };
        const batch = tinyBatch();
        const refresh = stepRefreshes(step, t);
        expect(refresh).toBe(t !== 2);
        ref = referenceTrainStep(step, {
          params: ref,
          batch,
          scalars: hostScalars(step.optimizer, undefined, t),
          seed: 40 + t,
          refresh,
        }).params;
        const program = refresh ? refreshing : plain;
        runProgram(program, { inputs: batch, params: kparams, scalars: new Map(Object.entries(scalars)) });
        for (const [name, v] of ref)
          expectClose(vals(kparams.get(name)!), vals(v), 1e-12, `${line}: ${name} after step ${t}`);
      }
      expect(vals(ref.get('w1.m')!).some((x) => x !== 0)).toBe(true);
    }
  });

  it('reports bad values as compile errors', () => {
    const errs = (line: string) => compileSource('t.kiln', quadSrc(line)).result.diagnostics.map((d) => d.message);
    expect(errs('adahessian(lr = 0.15)')).toEqual([]);
    expect(errs('adahessian(hessian_power = 2)')[0]).toContain("'hessian_power' of adahessian must be in [0, 1]");
    expect(errs('adahessian(update_interval = 0)')[0]).toContain('an integer >= 1');
    expect(errs('sophia(lr = 0.1, update_interval = 2.5)')[0]).toContain('an integer >= 1');
    expect(errs('sophia(lr = 0.1, clip_threshold = 0)')[0]).toContain('> 0');
    expect(errs('sophia(lr = 0.1, gamma = 3)')).toEqual([]);
    expect(errs('sophia')[0]).toContain('sophia needs lr');
  });
});

describe('optimizers.md §28b, §28c test vectors', () => {
  /** The sheet's printed w after steps 1–3, parsed from docs/optimizers.md, against the float64 code here. */
  it('the printed vectors are the float64 trajectories of the first adahessian and sophia cases', () => {
    const sheet = readFileSync(new URL('../../docs/optimizers.md', import.meta.url), 'utf8');
    for (const [section, c] of [
      ['## 28b.', CURVATURE_CASES[0]!],
      ['## 28c.', CURVATURE_CASES[2]!],
    ] as const) {
      const body = sheet.slice(sheet.indexOf(section), sheet.indexOf('\n## ', sheet.indexOf(section) + 4));
      const rows = [...body.matchAll(/step (\d): w = \[([^\]]+)\]\s+k\[0:4\] = \[([^\]]+)\]/g)];
      expect(rows.length, section).toBe(3);
      const want = quadReference(c, 3);
      for (const r of rows) {
        const t = Number(r[1]);
        const printed = [...r[2]!.split(','), ...r[3]!.split(',')].map(Number);
        const exact = [...want.after[t - 1]!['w']!, ...want.after[t - 1]!['k']!.slice(0, 4)];
        printed.forEach((x, i) => expect(Math.abs(x - exact[i]!)).toBeLessThanOrEqual(5e-9 * Math.max(1, Math.abs(x))));
      }
    }
  });
});
