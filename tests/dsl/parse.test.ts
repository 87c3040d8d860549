import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Expr, FnDecl, IndexItem, ModelDecl, Program, TrainDecl, TypeExpr } from '../../dsl/ast.js';
import { parse } from '../../dsl/parse.js';
import type { SourceFile, Span } from '../../dsl/source.js';

// The complete example of LANGUAGE.md, verbatim.
const EXAMPLE = readFileSync(new URL('./golden/language-example.kiln', import.meta.url), 'utf8');

function ok(text: string): Program {
  const { program, diagnostics } = parse({ path: 't.kiln', text });
  expect(diagnostics.map((d) => d.message)).toEqual([]);
  return program;
}

/** The expression of `fn f(...) = <src>`. */
function exprOf(src: string): Expr {
  const item = ok(`fn f(x) = ${src}`).items[0] as FnDecl;
  return item.result;
}

/** A compact, span-free rendering so precedence tests read like the grammar. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return e.isInt ? String(e.value) : `${e.value}f`;
    case 'bool':
      return String(e.value);
    case 'string':
      return JSON.stringify(e.value);
    case 'name':
      return e.name;
    case 'list':
      return `[${e.items.map(show).join(' ')}]`;
    case 'unary':
      return `(${e.op} ${show(e.operand)})`;
    case 'binary':
      return `(${e.op} ${show(e.left)} ${show(e.right)})`;
    case 'ternary':
      return `(? ${show(e.cond)} ${show(e.then)} ${show(e.else)})`;
    case 'call':
      return `${e.callee.name}(${[...e.args.map(show), ...e.kwargs.map((k) => `${k.name.name}=${show(k.value)}`)].join(' ')})`;
    case 'index':
      return `${show(e.target)}[${e.indices.map(showIndex).join(', ')}]`;
    case 'transpose':
      return `${show(e.target)}.T`;
  }
}

function showIndex(i: IndexItem): string {
  if (i.kind === 'ellipsis') return '...';
  if (i.kind === 'single') return show(i.expr);
  const part = (x: Expr | undefined): string => (x ? show(x) : '');
  return `${part(i.start)}:${part(i.end)}${i.step !== undefined ? `:${show(i.step)}` : ''}`;
}

function text(span: Span): string {
  return span.file.text.slice(span.start, span.end);
}

function showType(t: TypeExpr): string {
  return `${t.dtype.name}[${t.dims.map((d) => (d.kind === 'int' ? String(d.value) : d.name)).join(', ')}]`;
}

describe('the LANGUAGE.md example', () => {
  it('parses into fn, model and train items', () => {
    const program = ok(EXAMPLE);
    expect(program.items.map((i) => i.kind)).toEqual(['fn', 'model', 'train']);

    const dense = program.items[0] as FnDecl;
    expect(dense.name.name).toBe('dense');
    expect(dense.params.map((p) => p.name)).toEqual(['x', 'w', 'b']);
    expect(dense.body).toEqual([]);
    expect(show(dense.result)).toBe('(+ (@ x w) b)');

    const mlp = program.items[1] as ModelDecl;
    expect(mlp.name.name).toBe('mlp');
    expect(mlp.inputs.map((i) => `${i.name.name}: ${showType(i.type)}`)).toEqual(['x: f32[B, 784]', 'y: i32[B]']);
    expect(mlp.body.map((s) => `${s.kind} ${s.name.name}`)).toEqual([
      'param w1',
      'param b1',
      'param w2',
      'param b2',
      'let h',
      'let logits',
      'output probs',
      'output loss',
    ]);
    const w1 = mlp.body[0]!;
    expect(w1.kind === 'param' && showType(w1.type)).toBe('f32[784, 256]');
    expect(w1.kind === 'param' && show(w1.init)).toBe('glorot_uniform');
    const probs = mlp.body[6]!;
    expect(probs.kind === 'output' && show(probs.value)).toBe('softmax(logits axis=(- 1))');

    const train = program.items[2] as TrainDecl;
    expect(train.model.name).toBe('mlp');
    expect(train.body.map((s) => s.kind)).toEqual(['minimize', 'optimizer', 'schedule', 'clip']);
    const opt = train.body[1]!;
    expect(opt.kind === 'optimizer' && show(opt.call)).toBe(
      'adamw(lr=0.001f b1=0.9f b2=0.999f eps=1e-8f weight_decay=0.0001f)',
    );
    const clip = train.body[3]!;
    expect(clip.kind === 'clip' && show(clip.call)).toBe('global_norm(1f)');
  });

  it('gives every node an exact span', () => {
    const program = ok(EXAMPLE);
    const [dense, mlp, train] = program.items as [FnDecl, ModelDecl, TrainDecl];
    expect(text(dense.span)).toBe('fn dense(x, w, b) = x @ w + b');
    expect(text(dense.result.span)).toBe('x @ w + b');
    const sum = dense.result;
    expect(sum.kind === 'binary' && text(sum.opSpan)).toBe('+');
    expect(text(mlp.span).startsWith('model mlp(')).toBe(true);
    expect(text(mlp.span).endsWith('}')).toBe(true);
    expect(text(mlp.inputs[0]!.span)).toBe('x: f32[B, 784]');
    expect(text(mlp.inputs[0]!.type.span)).toBe('f32[B, 784]');
    expect(text(mlp.inputs[0]!.type.dims[1]!.span)).toBe('784');
    expect(text(mlp.body[1]!.span)).toBe('param b1: f32[256]      = zeros');
    expect(text(mlp.body[4]!.span)).toBe('h      = relu(dense(x, w1, b1))');
    expect(text(mlp.body[7]!.name.span)).toBe('loss');
    expect(text(train.body[1]!.span)).toBe(
      'optimizer adamw(lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, weight_decay = 1e-4)',
    );
    expect(text(train.span).endsWith('global_norm(1.0)\n}')).toBe(true);
  });
});

describe('expressions', () => {
  it.each([
    ['a + b * c', '(+ a (* b c))'],
    ['a * b + c', '(+ (* a b) c)'],
    ['a - b - c', '(- (- a b) c)'],
    ['a / b % c', '(% (/ a b) c)'],
    ['a @ b * c', '(* (@ a b) c)'],
    ['a * b @ c', '(* a (@ b c))'],
    ['a @ b @ c', '(@ (@ a b) c)'],
    ['a + b < c + d', '(< (+ a b) (+ c d))'],
    ['a < b == c', '(== (< a b) c)'],
    ['a <= b && c >= d || e != f', '(|| (&& (<= a b) (>= c d)) (!= e f))'],
    ['a || b && c', '(|| a (&& b c))'],
    ['a > b', '(> a b)'],
    ['c ? a : b', '(? c a b)'],
    ['c ? a : d ? e : f', '(? c a (? d e f))'],
    ['c ? d ? 1 : 2 : 3', '(? c (? d 1 2) 3)'],
    ['a || b ? x + 1 : y', '(? (|| a b) (+ x 1) y)'],
    ['-x ** 2', '(- (** x 2))'],
    ['2 ** -1', '(** 2 (- 1))'],
    ['a ** b ** c', '(** a (** b c))'],
    ['-a @ b', '(@ (- a) b)'],
    ['!a && b', '(&& (! a) b)'],
    ['- -a', '(- (- a))'],
    ['!!a', '(! (! a))'],
    ['-x.T', '(- x.T)'],
    ['x.T ** 2', '(** x.T 2)'],
    ['(a + b) * c', '(* (+ a b) c)'],
    ['a - -1', '(- a (- 1))'],
    ['a * -b', '(* a (- b))'],
    ['x ** 2 * y', '(* (** x 2) y)'],
  ])('%s', (src, expected) => {
    expect(show(exprOf(src))).toBe(expected);
  });

  it('parses number literals', () => {
    const nums = (exprOf('[1, 0.5, 1e-3, 3., .5, 2E+2, 3.e2, 007, 1.25e1]') as Extract<Expr, { kind: 'list' }>).items;
    expect(nums.map((n) => (n.kind === 'number' ? [n.value, n.isInt] : n.kind))).toEqual([
      [1, true],
      [0.5, false],
      [0.001, false],
      [3, false],
      [0.5, false],
      [200, false],
      [300, false],
      [7, true],
      [12.5, false],
    ]);
  });

  it('does not confuse .T with a trailing-dot number', () => {
    expect(show(exprOf('x.T'))).toBe('x.T');
    expect(show(exprOf('3.T'))).toBe('3.T');
    expect(show(exprOf('3. + x.T'))).toBe('(+ 3f x.T)');
    expect(show(exprOf('(a + b).T.T'))).toBe('(+ a b).T.T');
    expect(show(exprOf('x . T'))).toBe('x.T');
    expect(show(exprOf('w[0].T'))).toBe('w[0].T');
  });

  it('parses strings and booleans', () => {
    expect(show(exprOf('einsum("bij,bjk->bik", a, b)'))).toBe('einsum("bij,bjk->bik" a b)');
    expect(show(exprOf('"a\\"b"'))).toBe(JSON.stringify('a"b'));
    expect(show(exprOf('where(true, a, false)'))).toBe('where(true a false)');
  });

  it('parses calls with positional and keyword arguments', () => {
    expect(show(exprOf('sum(x, axis = [0, 1], keepdims = true)'))).toBe('sum(x axis=[0 1] keepdims=true)');
    expect(show(exprOf('f(x, y,)'))).toBe('f(x y)');
    expect(show(exprOf('f()'))).toBe('f()');
    expect(show(exprOf('f(a == b)'))).toBe('f((== a b))');
    expect(show(exprOf('relu(dense(x, w, b))'))).toBe('relu(dense(x w b))');
    expect(show(exprOf('f(\n  x,\n  axis = -1,\n)'))).toBe('f(x axis=(- 1))');
    const call = exprOf('leaky_relu(x, alpha = 0.01)');
    expect(call.kind === 'call' && text(call.callee.span)).toBe('leaky_relu');
    expect(call.kind === 'call' && text(call.kwargs[0]!.name.span)).toBe('alpha');
  });

  it('accepts the builtin clip although clip is a keyword', () => {
    expect(show(exprOf('clip(x, 0, 1)'))).toBe('clip(x 0 1)');
  });

  it('parses indexing and slicing', () => {
    expect(show(exprOf('x[i]'))).toBe('x[i]');
    expect(show(exprOf('x[a:b]'))).toBe('x[a:b]');
    expect(show(exprOf('x[a:b:c]'))).toBe('x[a:b:c]');
    expect(show(exprOf('x[:, 1:3]'))).toBe('x[:, 1:3]');
    expect(show(exprOf('x[..., 0]'))).toBe('x[..., 0]');
    expect(show(exprOf('x[-1]'))).toBe('x[(- 1)]');
    expect(show(exprOf('x[::2]'))).toBe('x[::2]');
    expect(show(exprOf('x[1:]'))).toBe('x[1:]');
    expect(show(exprOf('x[:-1]'))).toBe('x[:(- 1)]');
    expect(show(exprOf('x[c ? 1 : 2]'))).toBe('x[(? c 1 2)]');
    expect(show(exprOf('x[0][1]'))).toBe('x[0][1]');
    expect(show(exprOf('shape(x)[i]'))).toBe('shape(x)[i]');
    const e = exprOf('x[1:3, ...]');
    expect(e.kind).toBe('index');
    if (e.kind === 'index') {
      expect(e.indices.map((i) => [i.kind, text(i.span)])).toEqual([
        ['slice', '1:3'],
        ['ellipsis', '...'],
      ]);
      expect(text(e.span)).toBe('x[1:3, ...]');
    }
    const s = exprOf('x[:]');
    expect(s.kind === 'index' && s.indices[0]).toEqual({ kind: 'slice', span: expect.anything() });
  });

  it('parses list literals', () => {
    expect(show(exprOf('[0, 1]'))).toBe('[0 1]');
    expect(show(exprOf('[[1, 2], [0, 0]]'))).toBe('[[1 2] [0 0]]');
    expect(show(exprOf('[]'))).toBe('[]');
    expect(show(exprOf('[a, b,]'))).toBe('[a b]');
    expect(show(exprOf('reshape(x, [-1, 28 * 28])'))).toBe('reshape(x [(- 1) (* 28 28)])');
  });

  it('gives operators and parenthesised operands exact spans', () => {
    const e = exprOf('(a + b) * -c');
    expect(e.kind).toBe('binary');
    if (e.kind !== 'binary' || e.right.kind !== 'unary') throw new Error('shape');
    expect(text(e.span)).toBe('(a + b) * -c');
    expect(text(e.opSpan)).toBe('*');
    expect(text(e.left.span)).toBe('a + b');
    expect(text(e.right.span)).toBe('-c');
    expect(text(e.right.opSpan)).toBe('-');
    const p = exprOf('x  **  y');
    expect(p.kind === 'binary' && [text(p.span), text(p.opSpan)]).toEqual(['x  **  y', '**']);
    const t = exprOf('c ? a : b');
    expect(t.kind === 'ternary' && text(t.span)).toBe('c ? a : b');
    const tr = exprOf('(x).T');
    expect(tr.kind === 'transpose' && text(tr.span)).toBe('(x).T');
  });

  it('parses long operator chains without recursion', () => {
    const n = 5000;
    const e = exprOf(Array.from({ length: n }, (_, i) => `x${i}`).join(' + '));
    let depth = 0;
    let cur: Expr = e;
    while (cur.kind === 'binary') {
      cur = cur.left;
      depth++;
    }
    expect(depth).toBe(n - 1);
  });
});

describe('items and statements', () => {
  it('parses fn with a block body', () => {
    const [f] = ok('fn f(a, b) { let t = a * b; u = t + 1\n  return u }').items as [FnDecl];
    expect(f.params.map((p) => p.name)).toEqual(['a', 'b']);
    expect(f.body.map((s) => [s.kind, s.name.name, show(s.value)])).toEqual([
      ['let', 't', '(* a b)'],
      ['let', 'u', '(+ t 1)'],
    ]);
    expect(show(f.result)).toBe('u');
    expect(text(f.body[0]!.span)).toBe('let t = a * b');
  });

  it('parses fn edge cases', () => {
    const items = ok('fn z() = 1\nfn g(a,) { return a; }\nfn h(x) {\n  return x\n}').items as FnDecl[];
    expect(items.map((f) => [f.name.name, f.params.length, show(f.result)])).toEqual([
      ['z', 0, '1'],
      ['g', 1, 'a'],
      ['h', 1, 'x'],
    ]);
  });

  it('parses every model statement form', () => {
    const [m] = ok(`model m(x: f32[B, 3], n: i32[],) {
      param w: f32[3, 4] = normal(std = 0.02); param b: f32[4] = zeros
      let h = x @ w; y = h + b
      output out = y
      output z =
        relu(y)
    }`).items as [ModelDecl];
    expect(m.inputs.map((i) => showType(i.type))).toEqual(['f32[B, 3]', 'i32[]']);
    expect(m.body.map((s) => s.kind)).toEqual(['param', 'param', 'let', 'let', 'output', 'output']);
    const w = m.body[0]!;
    expect(w.kind === 'param' && show(w.init)).toBe('normal(std=0.02f)');
    expect(m.body[3]!.name.name).toBe('y');
  });

  it('parses types: scalars, symbolic dims and any dtype name', () => {
    const [m] = ok('model m(a: f32[], b: f64[3], c: bool[B, T, 2,]) { output y = a }').items as [ModelDecl];
    expect(m.inputs.map((i) => showType(i.type))).toEqual(['f32[]', 'f64[3]', 'bool[B, T, 2]']);
    expect(m.inputs[2]!.type.dims.map((d) => d.kind)).toEqual(['sym', 'sym', 'int']);
  });

  it('parses every train statement form', () => {
    const [t] = ok(`train m {
      minimize loss; optimizer adam(lr = 1e-3)
      schedule cosine(steps = 100) clip value(0.5)
      freeze w1, w2
      freeze b
    }`).items as [TrainDecl];
    expect(t.body.map((s) => s.kind)).toEqual(['minimize', 'optimizer', 'schedule', 'clip', 'freeze', 'freeze']);
    const f = t.body[4]!;
    expect(f.kind === 'freeze' && f.names.map((n) => n.name)).toEqual(['w1', 'w2']);
    expect(text(f.span)).toBe('freeze w1, w2');
    const min = t.body[0]!;
    expect(min.kind === 'minimize' && min.target.name).toBe('loss');
    expect(ok('train m {}').items[0]).toMatchObject({ kind: 'train', body: [] });
  });

  it('treats comments and newlines as whitespace', () => {
    const program = ok(`/* header
    */ fn f(x) = x /* inline */ + // trailing
      1 // end
    // between items
    model m(x: f32[B]) { output y = /* here */ f(x) } /**/`);
    expect(program.items.map((i) => i.kind)).toEqual(['fn', 'model']);
    expect(show((program.items[0] as FnDecl).result)).toBe('(+ x 1)');
    expect(ok('fn f(x) = x\r\n\r\nfn g(x) = x\r\n').items).toHaveLength(2);
  });

  it('accepts several items on one line and items of the same kind', () => {
    const program = ok('fn a(x) = x fn b(x) = x model m(x: f32[]) { output y = x } train m { minimize y }');
    expect(program.items.map((i) => i.kind)).toEqual(['fn', 'fn', 'model', 'train']);
  });

  it('allows keyword prefixes in names', () => {
    const [m] = ok('model models(letter: f32[]) { let lets = letter; output outputs = lets + fnx }').items as [
      ModelDecl,
    ];
    expect(m.name.name).toBe('models');
    expect(m.body.map((s) => s.name.name)).toEqual(['lets', 'outputs']);
  });

  it('returns an empty program for empty and comment-only files', () => {
    for (const src of ['', '   \n\t', '// nothing\n/* at all */']) {
      const r = parse({ path: 'e.kiln', text: src });
      expect(r).toEqual({ program: { items: [] }, diagnostics: [] });
    }
  });

  it('points every span at the file it came from', () => {
    const file: SourceFile = { path: 'x.kiln', text: 'fn f(x) = x' };
    const { program } = parse(file);
    expect(program.items[0]!.span.file).toBe(file);
  });
});
