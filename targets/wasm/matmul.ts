// The matmul template: parallel [batch.., m, n], reduce stages over k of
// load(A) * load(B), and loop-free map stages (the epilogue) that use the
// accumulators. Computed per call as
//
//   for batch..:                       (outermost over [begin, end))
//     pack B into panels of 8 columns:  P[panel][k][8]       (scratch; with one
//                                       block of rows, each panel just before its tiles)
//     for m-block of 64 rows:
//       pack A into tiles of 4 rows:    Q[tile][k][4]        (scratch)
//       for each 8-column panel, for each 4-row tile:
//         4 x 2 f32x4 accumulators over k (8 independent multiply-add chains:
//         two B vectors and four broadcast A values per k), then the
//         epilogue straight from those registers on f32x4 lanes of n (a
//         tile past the last column: spilled to a 4 x 8 tile, point by point)
//
// A call computes rows [begin, end) of m, or, for a matmul without batch axes
// whose m is a constant of at most COLUMN_SPLIT_MAX_ROWS (a convolution's
// output channels), columns [begin, end) of n instead: threads splitting few
// rows would each pack the whole B operand. A column range owns the 8-column
// panels whose first column lies in it.
//
// Packing reads the operands through their own index expressions, so
// transposed (A^T, B^T from the backward pass) and even div/mod-indexed
// operands (convolutions as matmuls) all become contiguous streams; the
// B panel (K x 32 bytes) stays in L1 across a block's tiles and the A block
// in L2. Scratch: per reduce stage ceil(N/8)*K*32 + min(64, M rounded up to
// 4)*K*4 + 128 bytes.

import binaryen from 'binaryen';
import { isUnitStep, ivars, laneOffsets } from '../../compiler/kernel/affine.js';
import type { MatmulPart, MatmulPlan } from '../../compiler/kernel/matmul-plan.js';
import type { KernelAbi } from './abi.js';
import { type Ref, laneBytes } from './builder.js';
import type { ExprEmitter } from './expr.js';
import { type StageEmitter, extentRef } from './kernel.js';

/** Rows per block (the A panel kept in L2), a multiple of the 4-row tile. */
const MB = 64;

/**
 * Whether B is packed one panel at a time, just before the tiles that use it, instead of all panels
 * up front: with one block of rows (a constant m of at most MB, no batch axes) every panel is used
 * once, so packing it in place keeps it in L1 (or L2) where the whole packed B (a convolution's:
 * 144 x 12544 floats, 7 MB) would go out to memory and back.
 */
function packsPerPanel(p: MatmulPlan): boolean {
  return p.batch.length === 0 && typeof p.m.extent === 'number' && p.m.extent <= MB;
}

/** Matmuls with at most this many (constant) rows and no batch axes split their columns across threads. */
export const COLUMN_SPLIT_MAX_ROWS = 2 * MB;

/** Matmuls without batch axes with at least this many (constant) columns split them across threads. */
export const COLUMN_SPLIT_MIN_COLUMNS = 64;

/**
 * Whether a call's [begin, end) ranges over n's columns (else over m's rows, or the outermost batch
 * axis). Each thread's call packs all of the operand it does not split: splitting columns repeats
 * A's packing (m x k) per thread, splitting rows B's (k x n), so with both sizes known the smaller
 * one is repeated (the MLP's weight gradient, 784 x 128 @ 128 x 256, splits its rows).
 */
export function splitsColumns(p: MatmulPlan): boolean {
  if (p.batch.length !== 0) return false;
  const { extent: m } = p.m;
  const { extent: n } = p.n;
  if (typeof m === 'number' && m <= COLUMN_SPLIT_MAX_ROWS) return true;
  if (typeof m === 'number' && typeof n === 'number') return n >= COLUMN_SPLIT_MIN_COLUMNS && m <= n;
  return typeof n !== 'number' || n >= COLUMN_SPLIT_MIN_COLUMNS;
}

/** Rows of the packed A block: MB, or all of m (rounded up to whole tiles) when fewer. */
function blockRows(em: ExprEmitter, p: MatmulPlan): Ref {
  const m = em.m;
  const rows = () => m.i32.and(m.i32.add(extentRef(em, p.m.extent), m.i32.const(3)), m.i32.const(-4));
  return m.select(m.i32.lt_s(rows(), m.i32.const(MB)), rows(), m.i32.const(MB));
}

/** Bytes of scratch per call, from the dims (the body of `<entry>_scratch_bytes`). */
export function scratchBytes(em: ExprEmitter, p: MatmulPlan): Ref {
  const m = em.m;
  let total: Ref = m.i32.const(0);
  const panels = () => m.i32.shr_u(m.i32.add(extentRef(em, p.n.extent), m.i32.const(7)), m.i32.const(3));
  for (const part of p.parts) {
    const K = () => extentRef(em, part.k.extent);
    const packed = packsPerPanel(p) ? K() : m.i32.mul(panels(), K());
    total = m.i32.add(total, m.i32.mul(packed, m.i32.const(32)));
    total = m.i32.add(total, m.i32.shl(m.i32.mul(K(), blockRows(em, p)), m.i32.const(2)));
    total = m.i32.add(total, m.i32.const(128));
  }
  return total;
}

export function emitMatmul(se: StageEmitter, p: MatmulPlan, abi: KernelAbi): void {
  const em = se.em;
  const fb = em.fb;
  const m = em.m;
  const i32 = binaryen.i32;
  const c = (v: number) => m.i32.const(v);
  const g = (i: number) => fb.get(i);
  const local = (v: Ref) => {
    const i = fb.local(i32);
    fb.emit(fb.set(i, v));
    return i;
  };
  const scratchParam = abi.scratch;
  if (scratchParam === undefined) throw new Error('the matmul template needs a scratch pointer');

  // Function level: sizes and the scratch layout.
  const N = local(extentRef(em, p.n.extent));
  const panels = local(m.i32.shr_u(m.i32.add(g(N), c(7)), c(3)));
  const rows = local(blockRows(em, p));
  // The panels this call computes: all, or those whose first column is in [begin, end).
  const columns = splitsColumns(p);
  const firstPanel = (x: number) => m.i32.shr_u(m.i32.add(g(x), c(7)), c(3));
  const pb0 = local(columns ? firstPanel(abi.begin) : c(0));
  const pb1 = local(columns ? firstPanel(abi.end) : g(panels));
  let cursor = local(g(scratchParam));
  const perPanel = packsPerPanel(p);
  const parts = p.parts.map((part) => {
    const K = local(extentRef(em, part.k.extent));
    const bpack = cursor;
    const packed = perPanel ? g(K) : m.i32.mul(g(panels), g(K));
    const apack = local(m.i32.add(g(bpack), m.i32.mul(packed, c(32))));
    const ctile = local(m.i32.add(g(apack), m.i32.shl(m.i32.mul(g(K), g(rows)), c(2))));
    cursor = local(m.i32.add(g(ctile), c(128)));
    return { ...part, K, bpack, apack, ctile };
  });
  type Part = (typeof parts)[number];

  /** A new level binding loop variables (vector lanes over `lane`), its statements, then closed. */
  const scope = (
    vars: Record<string, () => Ref>,
    lane: string | null,
    body: () => void,
    share = false,
    aligned = false,
  ): Ref[] => {
    const level = fb.open({ share, lane, aligned });
    for (const [name, get] of Object.entries(vars)) level.vars.set(name, get);
    body();
    return fb.close();
  };
  /** for (i = from; i < to; i += step) with `body` at a new level. */
  const forLt = (
    from: Ref,
    to: () => Ref,
    step: number,
    body: (i: number) => void,
    vars = {},
    lane: string | null = null,
  ) => {
    const i = local(from);
    const stmts = scope(vars, lane, () => body(i));
    fb.emit(fb.loopLt(i, step, to, stmts));
  };

  /** i8x16.shuffle picking 32-bit lanes: 0-3 of `a`, 4-7 of `b` (V8 makes these unpck/movlh/movhl). */
  const shuffle32 = (a: Ref, b: Ref, lanes: readonly number[]) => m.i8x16.shuffle(a, b, laneBytes(lanes));
  /** The 4 x 4 transpose of rows r0..r3 (v128 locals): column j of the rows as one vector each. */
  const transpose4 = (r: readonly number[]): Ref[] => {
    const v128 = binaryen.v128;
    const lo01 = fb.local(v128);
    const hi01 = fb.local(v128);
    const lo23 = fb.local(v128);
    const hi23 = fb.local(v128);
    fb.emit(fb.set(lo01, shuffle32(g(r[0]!), g(r[1]!), [0, 4, 1, 5])));
    fb.emit(fb.set(hi01, shuffle32(g(r[0]!), g(r[1]!), [2, 6, 3, 7])));
    fb.emit(fb.set(lo23, shuffle32(g(r[2]!), g(r[3]!), [0, 4, 1, 5])));
    fb.emit(fb.set(hi23, shuffle32(g(r[2]!), g(r[3]!), [2, 6, 3, 7])));
    return [
      shuffle32(g(lo01), g(lo23), [0, 1, 4, 5]),
      shuffle32(g(lo01), g(lo23), [2, 3, 6, 7]),
      shuffle32(g(hi01), g(hi23), [0, 1, 4, 5]),
      shuffle32(g(hi01), g(hi23), [2, 3, 6, 7]),
    ];
  };
  /**
   * Packs k in [0, K4) of `count` (4 or 8) consecutive values of `lanes` from `first` by 4 x 4
   * transposes: per 4 k, `count` loads along k, then k's rows of `count` floats from `dst(kk)` on.
   */
  const packTransposed = (
    part: Part,
    x: MatmulPart['a'],
    lanes: string,
    first: () => Ref,
    count: 4 | 8,
    K4: number,
    dst: (kk: number) => Ref,
  ) =>
    forLt(
      c(0),
      () => g(K4),
      4,
      (kk) => {
        const vs = Array.from({ length: count }, (_, l) =>
          loadAlongK(x, { [lanes]: () => m.i32.add(first(), c(l)), [part.k.name]: () => g(kk) }, part.k.name),
        );
        const at = local(dst(kk));
        for (let h = 0; h < count / 4; h++)
          transpose4(vs.slice(4 * h, 4 * h + 4)).forEach((t, j) =>
            fb.emit(m.v128.store(4 * count * j + 16 * h, 4, g(at), t)),
          );
      },
    );
  /**
   * Whether an operand is better packed by transposing 4 x 4 blocks: its index steps by one along k
   * (k runs from 0 in steps of 4, so aligned) but not along the packed lanes, which would otherwise be
   * gathered one scalar at a time (a row-major A, a transposed B).
   */
  const transposable = (x: MatmulPart['a'], k: string, lanes: string, lanesAligned: boolean) =>
    isUnitStep(laneOffsets(x.index, k, 4, true)) && !isUnitStep(laneOffsets(x.index, lanes, 4, lanesAligned));
  /** Loads `x` at the bound point as four lanes along k (kk, kk+1, kk+2, kk+3) into a fresh v128 local. */
  const loadAlongK = (x: MatmulPart['a'], vars: Record<string, () => Ref>, k: string): number => {
    const r = fb.local(binaryen.v128);
    scope(vars, k, () => fb.emit(fb.set(r, em.vec(em.v(x)))), true, true);
    return r;
  };
  /** The multiple of 4 at or below K: where the transposing loop ends and the scalar one takes over. */
  const fourBelow = (part: Part) => local(m.i32.and(g(part.K), c(-4)));

  /** The byte offset of panel `jp`'s k row `kk` in the packed B: panels in slots of K x 32 bytes. */
  const packedRow = (part: Part, slot: Ref, kk: Ref) =>
    m.i32.add(g(part.bpack), m.i32.shl(m.i32.add(m.i32.mul(slot, g(part.K)), kk), c(5)));
  /** The packed slot of panel jp: its own, or slot 0 when B is packed per panel. */
  const slotOf = (jp: number): Ref => (perPanel ? c(0) : g(jp));

  /** Packs panels [first, last) of B. */
  const packB = (part: Part, first: number, last: number) => {
    se.enterStage(part.stage);
    const full = local(m.i32.shr_u(g(N), c(3)));
    const fullEnd = local(m.select(m.i32.lt_u(g(full), g(last)), g(full), g(last)));
    const transposed = transposable(part.b, part.k.name, p.n.name, true);
    const K4 = transposed ? fourBelow(part) : undefined;
    // Full panels: two 4-lane halves of n per k.
    forLt(
      g(first),
      () => g(fullEnd),
      1,
      (jp) => {
        if (K4 !== undefined)
          // 4 k x 8 columns at a time: eight loads along k, two 4 x 4 transposes, eight stores.
          packTransposed(
            part,
            part.b,
            p.n.name,
            () => m.i32.shl(g(jp), c(3)),
            8,
            K4,
            (kk) => packedRow(part, slotOf(jp), g(kk)),
          );
        forLt(
          K4 !== undefined ? g(K4) : c(0),
          () => g(part.K),
          1,
          (kk) => {
            const dst = local(packedRow(part, slotOf(jp), g(kk)));
            for (let h = 0; h < 2; h++) {
              const n = () => m.i32.add(m.i32.shl(g(jp), c(3)), c(4 * h));
              scope(
                { [p.n.name]: n, [part.k.name]: () => g(kk) },
                p.n.name,
                () => fb.emit(m.v128.store(16 * h, 4, g(dst), em.vec(em.v(part.b)))),
                true,
                true, // n = 8 * panel + 4 * half
              );
            }
          },
        );
      },
    );
    // The last, partial panel: zeros past N.
    fb.emit(
      m.if(
        m.i32.and(m.i32.lt_u(g(full), g(last)), m.i32.ge_u(g(full), g(first))),
        fb.block(
          scope({}, null, () =>
            forLt(
              c(0),
              () => g(part.K),
              1,
              (kk) => {
                const dst = local(packedRow(part, slotOf(full), g(kk)));
                for (let l = 0; l < 8; l++) {
                  const col = () => m.i32.add(m.i32.shl(g(full), c(3)), c(l));
                  scope(
                    { [p.n.name]: col, [part.k.name]: () => g(kk) },
                    null,
                    () =>
                      fb.emit(
                        m.f32.store(
                          4 * l,
                          4,
                          g(dst),
                          m.if(m.i32.lt_s(col(), g(N)), em.loadScalar(part.b), m.f32.const(0)),
                        ),
                      ),
                    true,
                  );
                }
              },
            ),
          ),
        ),
      ),
    );
  };

  const packA = (part: Part, mb: number, mbEnd: number) => {
    se.enterStage(part.stage);
    const transposedA = transposable(part.a, part.k.name, p.m.name, false);
    const tiles = local(m.i32.shr_u(m.i32.add(m.i32.sub(g(mbEnd), g(mb)), c(3)), c(2)));
    forLt(
      c(0),
      () => g(tiles),
      1,
      (t) => {
        const row = local(m.i32.add(g(mb), m.i32.shl(g(t), c(2))));
        const base = local(m.i32.add(g(part.apack), m.i32.shl(m.i32.mul(g(t), g(part.K)), c(4))));
        const full = fb.block(
          scope({}, null, () => {
            const K4 = transposedA ? fourBelow(part) : undefined;
            if (K4 !== undefined)
              // 4 rows x 4 k at a time: four loads along k, one 4 x 4 transpose, four stores.
              packTransposed(
                part,
                part.a,
                p.m.name,
                () => g(row),
                4,
                K4,
                (kk) => m.i32.add(g(base), m.i32.shl(g(kk), c(4))),
              );
            forLt(
              K4 !== undefined ? g(K4) : c(0),
              () => g(part.K),
              1,
              (kk) => {
                scope(
                  { [p.m.name]: () => g(row), [part.k.name]: () => g(kk) },
                  p.m.name,
                  () => fb.emit(m.v128.store(0, 4, m.i32.add(g(base), m.i32.shl(g(kk), c(4))), em.vec(em.v(part.a)))),
                  true,
                );
              },
            );
          }),
        );
        const partial = fb.block(
          scope({}, null, () =>
            forLt(
              c(0),
              () => g(part.K),
              1,
              (kk) => {
                for (let r = 0; r < 4; r++) {
                  const rr = () => m.i32.add(g(row), c(r));
                  scope(
                    { [p.m.name]: rr, [part.k.name]: () => g(kk) },
                    null,
                    () =>
                      fb.emit(
                        m.f32.store(
                          4 * r,
                          4,
                          m.i32.add(g(base), m.i32.shl(g(kk), c(4))),
                          m.if(m.i32.lt_s(rr(), g(mbEnd)), em.loadScalar(part.a), m.f32.const(0)),
                        ),
                      ),
                    true,
                  );
                }
              },
            ),
          ),
        );
        fb.emit(m.if(m.i32.le_s(m.i32.add(g(row), c(4)), g(mbEnd)), full, partial));
      },
    );
  };

  /** The 4 x 8 register tile of one reduce stage: its accumulator locals [row][half]. */
  const microKernel = (part: Part, jp: number, t: number) => {
    const v128 = binaryen.v128;
    const acc = Array.from({ length: 4 }, () => [fb.local(v128), fb.local(v128)] as const);
    for (const row of acc) for (const x of row) fb.emit(fb.set(x, em.v128('f32', 0)));
    const pa = local(m.i32.add(g(part.apack), m.i32.shl(m.i32.mul(g(t), g(part.K)), c(4))));
    const pb = local(m.i32.add(g(part.bpack), m.i32.shl(m.i32.mul(slotOf(jp), g(part.K)), c(5))));
    const end = local(m.i32.add(g(pb), m.i32.shl(g(part.K), c(5))));
    const b0 = fb.local(v128);
    const b1 = fb.local(v128);
    const a = fb.local(v128);
    const body: Ref[] = [fb.set(b0, m.v128.load(0, 16, g(pb))), fb.set(b1, m.v128.load(16, 16, g(pb)))];
    acc.forEach(([c0, c1], r) => {
      body.push(fb.set(a, m.v128.load32_splat(4 * r, 4, g(pa))));
      body.push(fb.set(c0, em.madd(fb.get(a), fb.get(b0), fb.get(c0))));
      body.push(fb.set(c1, em.madd(fb.get(a), fb.get(b1), fb.get(c1))));
    });
    body.push(fb.set(pa, m.i32.add(g(pa), c(16))));
    const top = `mk${part.stage}_${fb.vars.length}`;
    body.push(fb.set(pb, m.i32.add(g(pb), c(32))));
    body.push(m.br(top, m.i32.lt_u(g(pb), g(end))));
    fb.emit(m.loop(top, fb.block(body)));
    return acc;
  };

  /** The map stages at the current point (accumulators and variables bound by the caller's level). */
  const epilogueStages = () => {
    for (const si of p.maps) {
      const s = se.enterStage(si);
      if (s.kind === 'map') se.emitMap(s, false);
    }
  };

  /**
   * The epilogue. A full-width tile applies it straight from the accumulator
   * registers, four lanes of n at a time (rows past the block's end skipped);
   * a partial tile spills them to its ctile and goes point by point.
   */
  const tileEpilogue = (
    accs: readonly (readonly (readonly [number, number])[])[],
    row0: number,
    n0: number,
    mbEnd: number,
  ) => {
    const rows = local(m.select(m.i32.lt_s(m.i32.sub(g(mbEnd), g(row0)), c(4)), m.i32.sub(g(mbEnd), g(row0)), c(4)));
    const wide = scope({}, null, () => {
      for (let r = 0; r < 4; r++) {
        const row = scope({ [p.m.name]: () => m.i32.add(g(row0), c(r)) }, null, () => {
          for (let h = 0; h < 2; h++)
            scope(
              { [p.n.name]: () => m.i32.add(g(n0), c(4 * h)) },
              p.n.name,
              () => {
                const lvl = fb.top;
                parts.forEach((part, j) => {
                  const x = accs[j]![r]![h]!;
                  lvl.accs.set(part.acc.id, { get: () => fb.get(x), vec: true, dtype: 'f32', level: lvl });
                });
                epilogueStages();
              },
              true,
            );
        });
        fb.emit(r === 0 ? fb.block(row) : m.if(m.i32.lt_s(c(r), g(rows)), fb.block(row)));
      }
    });
    const narrow = scope({}, null, () => {
      parts.forEach((part, j) =>
        accs[j]!.forEach(([c0, c1], r) => {
          fb.emit(m.v128.store(32 * r, 16, g(part.ctile), fb.get(c0)));
          fb.emit(m.v128.store(32 * r + 16, 16, g(part.ctile), fb.get(c1)));
        }),
      );
      const cols = local(m.i32.sub(g(N), g(n0)));
      const r = local(c(0));
      const rowStmts = scope({ [p.m.name]: () => m.i32.add(g(row0), g(r)) }, null, () => {
        const col = local(c(0));
        const stmts = scope({ [p.n.name]: () => m.i32.add(g(n0), g(col)) }, null, () => {
          const lvl = fb.top;
          for (const part of parts) {
            const addr = m.i32.add(g(part.ctile), m.i32.shl(m.i32.add(m.i32.shl(g(r), c(3)), g(col)), c(2)));
            lvl.accs.set(part.acc.id, fb.bindAt(lvl, m.f32.load(0, 4, addr), 'f32', false));
          }
          epilogueStages();
        });
        fb.emit(fb.loopLt(col, 1, () => g(cols), stmts));
      });
      fb.emit(fb.loopLt(r, 1, () => g(rows), rowStmts));
    });
    fb.emit(m.if(m.i32.le_s(m.i32.add(g(n0), c(8)), g(N)), fb.block(wide), fb.block(narrow)));
  };

  const compute = () => {
    const rowRange = p.batch.length === 0 && !columns;
    const m0 = rowRange ? g(abi.begin) : c(0);
    const m1 = local(rowRange ? g(abi.end) : extentRef(em, p.m.extent));
    forLt(
      m0,
      () => g(m1),
      MB,
      (mb) => {
        const mbEnd = local(m.select(m.i32.lt_s(m.i32.add(g(mb), c(MB)), g(m1)), m.i32.add(g(mb), c(MB)), g(m1)));
        for (const part of parts) packA(part, mb, mbEnd);
        const tiles = local(m.i32.shr_u(m.i32.add(m.i32.sub(g(mbEnd), g(mb)), c(3)), c(2)));
        forLt(
          g(pb0),
          () => g(pb1),
          1,
          (jp) => {
            const n0 = local(m.i32.shl(g(jp), c(3)));
            if (perPanel) {
              const next = local(m.i32.add(g(jp), c(1)));
              for (const part of parts) packB(part, jp, next);
            }
            forLt(
              c(0),
              () => g(tiles),
              1,
              (t) => {
                const row0 = local(m.i32.add(g(mb), m.i32.shl(g(t), c(2))));
                const accs = parts.map((part) => microKernel(part, jp, t));
                tileEpilogue(accs, row0, n0, mbEnd);
              },
            );
          },
        );
      },
    );
  };

  // Batch loops; each B panel is packed at the outermost level where its operand is fixed.
  const packDepth = parts.map((part) => {
    let d = -1;
    p.batch.forEach((l, i) => ivars(part.b.index).has(l.name) && (d = i));
    return d;
  });
  const nest = (i: number): void => {
    if (!perPanel) parts.forEach((part, j) => packDepth[j] === i - 1 && packB(part, pb0, pb1));
    if (i === p.batch.length) return compute();
    const l = p.batch[i]!;
    se.loop(l, () => nest(i + 1), i === 0 ? { from: () => g(abi.begin), to: () => g(abi.end) } : {});
  };
  nest(0);
}
