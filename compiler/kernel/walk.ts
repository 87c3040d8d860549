// Structural traversal and rewriting of kernel IR expressions, preserving the
// sharing of subtrees (a rewritten shared subtree stays shared).

import type { IBool, IExpr, Stage, VExpr } from './kir.js';

export type LoadExpr = Extract<VExpr, { k: 'load' }>;

/** Rewrites every VExpr bottom-up; `f` sees a node whose children are already rewritten. */
export class VExprRewriter {
  private readonly memo = new Map<VExpr, VExpr>();
  constructor(private readonly f: (v: VExpr) => VExpr) {}

  v(e: VExpr): VExpr {
    const hit = this.memo.get(e);
    if (hit) return hit;
    let out: VExpr;
    switch (e.k) {
      case 'load':
        out = { ...e, index: this.i(e.index), valid: this.b(e.valid) };
        break;
      case 'const':
      case 'scalar':
      case 'acc':
        out = e;
        break;
      case 'index':
        out = { ...e, i: this.i(e.i) };
        break;
      case 'unary':
      case 'cast':
        out = { ...e, x: this.v(e.x) };
        break;
      case 'binary':
        out = { ...e, a: this.v(e.a), b: this.v(e.b) };
        break;
      case 'where':
        out = { ...e, c: this.v(e.c), a: this.v(e.a), b: this.v(e.b) };
        break;
      case 'rand':
        out = { ...e, key: this.v(e.key), i: this.i(e.i) };
        break;
    }
    const r = this.f(out);
    this.memo.set(e, r);
    return r;
  }

  // Index expressions are immutable and only their structure matters (unlike
  // value nodes, whose sharing the code generators see): a subtree without
  // gathered values is kept as it is rather than copied.
  i(e: IExpr): IExpr {
    switch (e.k) {
      case 'const':
      case 'var':
      case 'dim':
        return e;
      case 'add':
      case 'mul':
      case 'div':
      case 'mod': {
        const a = this.i(e.a);
        const b = this.i(e.b);
        return a === e.a && b === e.b ? e : { ...e, a, b };
      }
      case 'value':
        return { ...e, x: this.v(e.x), hi: this.i(e.hi) };
    }
  }

  b(e: IBool): IBool {
    switch (e.k) {
      case 'true':
        return e;
      case 'le': {
        const a = this.i(e.a);
        const b = this.i(e.b);
        return a === e.a && b === e.b ? e : { ...e, a, b };
      }
      case 'and': {
        const a = this.b(e.a);
        const b = this.b(e.b);
        return a === e.a && b === e.b ? e : { ...e, a, b };
      }
    }
  }

  stage(s: Stage): Stage {
    if (s.kind === 'reduce') return { ...s, accs: s.accs.map((a) => ({ ...a, value: this.v(a.value) })) };
    return { ...s, stores: s.stores.map((st) => ({ ...st, index: this.i(st.index), value: this.v(st.value) })) };
  }
}

/**
 * Visits every value node reachable from the stages once, children before
 * parents, in the order VExprRewriter rewrites them (so queries need not
 * copy the kernel): stages in order, a store's index before its value, a
 * load's index before its mask.
 */
function forEachNode(stages: readonly Stage[], visit: (v: VExpr) => void): void {
  const seen = new Set<VExpr>();
  const i = (e: IExpr): void => {
    switch (e.k) {
      case 'add':
      case 'mul':
      case 'div':
      case 'mod':
        i(e.a);
        i(e.b);
        return;
      case 'value':
        v(e.x);
        i(e.hi);
        return;
      default:
        return;
    }
  };
  const b = (c: IBool): void => {
    if (c.k === 'le') {
      i(c.a);
      i(c.b);
    } else if (c.k === 'and') {
      b(c.a);
      b(c.b);
    }
  };
  const v = (e: VExpr): void => {
    if (seen.has(e)) return;
    switch (e.k) {
      case 'load':
        i(e.index);
        b(e.valid);
        break;
      case 'index':
        i(e.i);
        break;
      case 'unary':
      case 'cast':
        v(e.x);
        break;
      case 'binary':
        v(e.a);
        v(e.b);
        break;
      case 'where':
        v(e.c);
        v(e.a);
        v(e.b);
        break;
      case 'rand':
        v(e.key);
        i(e.i);
        break;
      default:
        break;
    }
    seen.add(e);
    visit(e);
  };
  for (const s of stages) {
    if (s.kind === 'reduce') for (const a of s.accs) v(a.value);
    else
      for (const st of s.stores) {
        i(st.index);
        v(st.value);
      }
  }
}

/** Every load reachable from the stages (each shared load once), children first. */
export function collectLoads(stages: readonly Stage[]): LoadExpr[] {
  const out: LoadExpr[] = [];
  forEachNode(stages, (v) => {
    if (v.k === 'load') out.push(v);
  });
  return out;
}

/** Symbolic dimension names used by index expressions and loop extents. */
export function collectDims(stages: readonly Stage[], extraIndex: readonly IExpr[] = []): Set<string> {
  const dims = new Set<string>();
  const visitI = (e: IExpr): void => {
    switch (e.k) {
      case 'dim':
        dims.add(e.name);
        return;
      case 'add':
      case 'mul':
      case 'div':
      case 'mod':
        visitI(e.a);
        visitI(e.b);
        return;
      case 'value':
        visitI(e.hi);
        return;
      default:
        return;
    }
  };
  forEachNode(stages, (v) => {
    if (v.k === 'load') visitI(v.index);
    if (v.k === 'index' || v.k === 'rand') visitI(v.i);
  });
  for (const s of stages) if (s.kind === 'map') s.stores.forEach((st) => visitI(st.index));
  extraIndex.forEach(visitI);
  return dims;
}

/**
 * Visits every value node reachable from `roots`, also through gather
 * indices and validity masks, in pre-order. `visit(x, again)` is called on
 * every reference; a node's operands are entered on its first visit only.
 */
export function forEachValue(roots: readonly VExpr[], visit: (x: VExpr, again: boolean) => void): void {
  const seen = new Set<VExpr>();
  const walkI = (e: IExpr): void => {
    switch (e.k) {
      case 'const':
      case 'var':
      case 'dim':
        return;
      case 'add':
      case 'mul':
      case 'div':
      case 'mod':
        walkI(e.a);
        walkI(e.b);
        return;
      case 'value':
        walkV(e.x);
        walkI(e.hi);
        return;
    }
  };
  const walkB = (c: IBool): void => {
    switch (c.k) {
      case 'true':
        return;
      case 'le':
        walkI(c.a);
        walkI(c.b);
        return;
      case 'and':
        walkB(c.a);
        walkB(c.b);
        return;
    }
  };
  const walkV = (x: VExpr): void => {
    const again = seen.has(x);
    visit(x, again);
    if (again) return;
    seen.add(x);
    switch (x.k) {
      case 'const':
      case 'scalar':
      case 'acc':
        return;
      case 'load':
        walkI(x.index);
        walkB(x.valid);
        return;
      case 'index':
        walkI(x.i);
        return;
      case 'unary':
      case 'cast':
        walkV(x.x);
        return;
      case 'binary':
        walkV(x.a);
        walkV(x.b);
        return;
      case 'where':
        walkV(x.c);
        walkV(x.a);
        walkV(x.b);
        return;
      case 'rand':
        walkV(x.key);
        walkI(x.i);
        return;
    }
  };
  roots.forEach(walkV);
}
