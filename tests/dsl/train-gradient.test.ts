// The train block's `gradient` statement (LANGUAGE.md v1): what the checker
// makes of it, its errors with file:line:col, and `gradient` staying a name
// everywhere else.

import { describe, expect, it } from 'vitest';
import { compileSource } from '../../dsl/frontend.js';
import { printTypedAst } from '../../dsl/print-ast.js';
import { formatDiagnostic } from '../../dsl/source.js';

const MODEL = `model m(x: f32[B, 4], y: f32[B]) {
  param w: f32[4] = zeros
  output loss = mean((x @ reshape(w, [4, 1]) - reshape(y, [-1, 1])) ** 2)
}
`;

/** A file with MODEL and a train block holding `lines` after minimize and optimizer. */
const withTrain = (...lines: string[]) =>
  `${MODEL}train m {\n  minimize  loss\n  optimizer sgd(lr = 0.1)\n${lines.map((l) => `  ${l}\n`).join('')}}\n`;

function check(src: string) {
  return compileSource('t.kiln', src).result;
}

/** Every diagnostic of `src`, formatted as the CLI prints it. */
const errors = (src: string) => check(src).diagnostics.map(formatDiagnostic).join('\n');

describe('gradient statement', () => {
  it('becomes the train contract: absent, backprop, forward with and without directions', () => {
    const estimator = (...lines: string[]) => {
      const r = check(withTrain(...lines));
      expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
      return r.trains[0]!.gradient;
    };
    expect(estimator()).toBeUndefined();
    expect(estimator('gradient backprop')).toEqual({ kind: 'backprop' });
    expect(estimator('gradient forward')).toEqual({ kind: 'forward', directions: 1 });
    expect(estimator('gradient forward()')).toEqual({ kind: 'forward', directions: 1 });
    expect(estimator('gradient forward(directions = 4)')).toEqual({ kind: 'forward', directions: 4 });
    expect(estimator('gradient  forward(directions = 256,)')).toEqual({ kind: 'forward', directions: 256 });
  });

  it('may come anywhere in the block, next to the other statements on one line', () => {
    const src = `${MODEL}train m { gradient forward(directions = 2); minimize loss; optimizer sgd(lr = 0.1) }\n`;
    expect(check(src).trains[0]!.gradient).toEqual({ kind: 'forward', directions: 2 });
  });

  it('is printed by the typed AST dump', () => {
    const dump = (src: string) => {
      const { program, result } = compileSource('t.kiln', src);
      return printTypedAst(program, result);
    };
    expect(dump(withTrain('gradient forward(directions = 3)'))).toContain('  gradient  forward(directions = 3)\n}');
    expect(dump(withTrain('gradient backprop'))).toContain('  gradient  backprop\n}');
    expect(dump(withTrain())).not.toContain('gradient');
  });

  it('leaves `gradient` a name in models, fns and train statements', () => {
    const src = `fn gradient(a) = a * 2
model gradient_model(x: f32[B, 4]) {
  param gradient: f32[4] = zeros
  let g = gradient(x) + gradient
  output loss = mean(g)
}
train gradient_model {
  minimize  loss
  optimizer sgd(lr = 0.1)
  freeze    gradient
  gradient  forward(directions = 2)
}
`;
    const r = check(src);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(r.trains[0]).toMatchObject({ freeze: ['gradient'], gradient: { kind: 'forward', directions: 2 } });
    const named = `model m(gradient: f32[B, 4]) {\n  output gradient_sum = sum(gradient)\n}\ntrain m {\n  minimize gradient_sum\n  optimizer sgd(lr = 1)\n}\n`;
    expect(errors(named)).toBe('');
  });

  it('reports bad estimators and arguments with file:line:col and did-you-mean', () => {
    const cases: [string, string][] = [
      [
        'gradient foward(directions = 4)',
        "t.kiln:8:12: error: unknown gradient estimator 'foward'; did you mean 'forward'?",
      ],
      ['gradient backprob', "t.kiln:8:12: error: unknown gradient estimator 'backprob'; did you mean 'backprop'?"],
      [
        'gradient exact',
        "t.kiln:8:12: error: unknown gradient estimator 'exact'; expected gradient backprop or gradient forward(directions = k)",
      ],
      ['gradient 4', 't.kiln:8:12: error: expected gradient backprop or gradient forward(directions = k)'],
      ['gradient backprop(directions = 2)', 't.kiln:8:12: error: gradient backprop takes no arguments'],
      [
        'gradient forward(direction = 4)',
        "t.kiln:8:20: error: unknown argument 'direction' for forward; did you mean 'directions'?",
      ],
      ['gradient forward(seed = 4)', "t.kiln:8:20: error: unknown argument 'seed' for forward; it takes directions"],
      [
        'gradient forward(4)',
        't.kiln:8:20: error: the arguments of forward are given by name, as in forward(directions = 4)',
      ],
      [
        'gradient forward(directions = 0)',
        't.kiln:8:33: error: directions must be a positive integer literal, as in forward(directions = 4); this is zero',
      ],
      [
        'gradient forward(directions = -2)',
        't.kiln:8:33: error: directions must be a positive integer literal, as in forward(directions = 4); this is negative',
      ],
      [
        'gradient forward(directions = 2.5)',
        't.kiln:8:33: error: directions must be a positive integer literal, as in forward(directions = 4); this is not an integer',
      ],
      [
        'gradient forward(directions = 4.0)',
        "t.kiln:8:33: error: directions must be a positive integer literal, as in forward(directions = 4); write it without '.' or an exponent",
      ],
      [
        'gradient forward(directions = k)',
        't.kiln:8:33: error: directions must be a positive integer literal, as in forward(directions = 4)',
      ],
      [
        'gradient forward(directions = true)',
        't.kiln:8:33: error: directions must be a positive integer literal, as in forward(directions = 4)',
      ],
      ['gradient forward(directions = 1000)', 't.kiln:8:33: error: directions must be at most 256, got 1000'],
      [
        'gradient forward(directions = 2, directions = 3)',
        "t.kiln:8:36: error: argument 'directions' of forward is given twice",
      ],
    ];
    for (const [line, want] of cases) {
      const got = errors(withTrain(line));
      expect(got.split('\n')[0], line).toBe(want);
      // The caret line points at the reported column.
      const col = Number(/:8:(\d+):/.exec(want)![1]);
      expect(got.split('\n')[2], line).toBe(`    |${' '.repeat(col)}^${got.split('\n')[2]!.slice(6 + col)}`);
    }
  });

  it('takes one gradient statement per block, and no train block checks with a bad one', () => {
    const src = withTrain('gradient forward(directions = 2)', 'gradient backprop');
    expect(errors(src).split('\n')[0]).toBe('t.kiln:9:3: error: a train block takes one gradient statement');
    expect(errors(src)).toContain('(first at t.kiln:8:3)');
    expect(check(withTrain('gradient forward(directions = 0)')).trains).toEqual([]);
  });

  it('refuses optimizers a forward-gradient step cannot drive, at the gradient line', () => {
    const block = (optimizer: string) =>
      `${MODEL}train m {\n  minimize  loss\n  optimizer ${optimizer}\n  gradient  forward(directions = 2)\n}\n`;
    for (const opt of ['adahessian(lr = 0.1)', 'sophia(lr = 0.1)', 'lookahead(sophia(lr = 0.1))']) {
      const base = opt.includes('adahessian') ? 'adahessian' : 'sophia';
      const got = errors(block(opt));
      expect(got.split('\n')[0], opt).toBe(
        `t.kiln:8:3: error: optimizer ${base} needs the Hessian of the loss, which a forward-gradient step does not compute: use gradient backprop`,
      );
      expect(got, opt).toContain('(the optimizer at t.kiln:7:13)');
      expect(check(block(opt)).trains, opt).toEqual([]);
    }
    expect(errors(block('sam(adam(lr = 0.1), rho = 0.05)')).split('\n')[0]).toBe(
      't.kiln:8:3: error: sam needs the exact gradient at the perturbed point, which a forward-gradient step does not compute: use gradient backprop',
    );
    expect(errors(block('adam(lr = 0.1)'))).toBe('');
  });

  it('is offered by syntax errors in a train block', () => {
    const got = errors(withTrain('gradiant forward(directions = 2)'));
    expect(got).toContain(
      "t.kiln:8:3: error: expected '}' or a train setting (minimize, optimizer, schedule, clip, freeze or gradient), found 'gradiant'",
    );
    expect(got).toContain("did you mean 'gradient'?");
  });
});
