// Dependencies between draft kernels, kept up to date while the planner
// merges them. Edges come from a per-buffer index of readers and writers
// (not a scan of every pair of kernels), the stable topological order is
// Kahn's algorithm with a heap, and reachability is one bitset of
// descendants per kernel, built once and updated as kernels merge: "is
// there a path from a to b" is one bit test instead of a graph walk.

/** What the dependency rules look at: buffers read (with param versions) and written. */
export interface BufferAccess {
  /** Buffer id -> 'old' when read as a param's value before its update, 'new' after. */
  readonly reads: ReadonlyMap<number, ReadonlySet<'old' | 'new'>>;
  readonly writes: ReadonlySet<number>;
}

/**
 * True when `later` reads buffer `buf` as some writer leaves it: the new
 * version of a param, or any temp or output (read-after-write).
 */
function readsWritten(later: BufferAccess, buf: number, isParamBuffer: (buf: number) => boolean): boolean {
  const versions = later.reads.get(buf);
  return versions !== undefined && (versions.has('new') || !isParamBuffer(buf));
}

/** Read-after-write on buffer versions, and write-after-read on params updated in place. */
export function dependsOn(
  later: BufferAccess,
  earlier: BufferAccess,
  isParamBuffer: (buf: number) => boolean,
): boolean {
  for (const buf of later.reads.keys())
    if (earlier.writes.has(buf) && readsWritten(later, buf, isParamBuffer)) return true;
  for (const buf of later.writes) if (earlier.reads.get(buf)?.has('old')) return true;
  return false;
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
}

const EMPTY: ReadonlySet<never> = new Set();

/**
 * The dependency graph of a set of kernels: `t` depends on `u` when
 * `dependsOn(t, u)` (a kernel never depends on itself). Kernels are added
 * and removed as the planner merges them; reachability queries need the
 * graph to be acyclic, and merges to be contractions (see `merge`).
 */
export class KernelDependencies<T extends BufferAccess> {
  private readonly readers = new Map<number, Set<T>>();
  private readonly writers = new Map<number, Set<T>>();
  private readonly preds = new Map<T, Set<T>>();
  private readonly succs = new Map<T, Set<T>>();
  /** Built on the first reachability query. */
  private reach: Reachability<T> | undefined;

  constructor(
    items: readonly T[],
    private readonly isParamBuffer: (buf: number) => boolean,
  ) {
    for (const t of items) this.index(t);
    for (const t of items) this.link(t);
  }

  /** True when `later` must run after `earlier`. */
  dependsOn(later: T, earlier: T): boolean {
    return this.preds.get(later)?.has(earlier) ?? false;
  }

  predecessors(t: T): ReadonlySet<T> {
    return this.preds.get(t) ?? EMPTY;
  }

  successors(t: T): ReadonlySet<T> {
    return this.succs.get(t) ?? EMPTY;
  }

  /** The kernels whose stores `t` reads (read-after-write only, no write-after-read). */
  producers(t: T): T[] {
    const out = new Set<T>();
    for (const buf of t.reads.keys()) {
      if (!readsWritten(t, buf, this.isParamBuffer)) continue;
      for (const w of this.writers.get(buf) ?? EMPTY) if (w !== t) out.add(w);
    }
    return [...out];
  }

  /** The kernels that read buffer `buf`. */
  readersOf(buf: number): ReadonlySet<T> {
    return this.readers.get(buf) ?? EMPTY;
  }

  /**
   * `items` in topological order, each as early as its dependencies allow
   * (ties keep the order of `items`): what repeatedly taking the first item
   * that depends on no other remaining one gives. Items on a cycle are left
   * out, so a short result means a cycle.
   */
  order(items: readonly T[]): T[] {
    const position = new Map(items.map((t, i) => [t, i]));
    const waiting = items.map((t) => {
      let n = 0;
      for (const p of this.predecessors(t)) if (position.has(p)) n++;
      return n;
    });
    const ready = new MinHeap();
    waiting.forEach((n, i) => n === 0 && ready.push(i));
    const out: T[] = [];
    while (ready.size > 0) {
      const t = items[ready.pop()]!;
      out.push(t);
      for (const s of this.successors(t)) {
        const i = position.get(s);
        if (i !== undefined && --waiting[i]! === 0) ready.push(i);
      }
    }
    return out;
  }

  /** Is there a path from -> ... -> to (`to` depends on `from`, transitively)? */
  reaches(from: T, to: T): boolean {
    return this.reachability().reaches(from, to);
  }

  /** Is there a path a -> x -> ... -> b through a third kernel x? */
  reachesVia(a: T, b: T): boolean {
    const reach = this.reachability();
    for (const s of this.successors(a)) if (s !== b && reach.reaches(s, b)) return true;
    return false;
  }

  /**
   * Kernels `a` and `b` become `merged`, whose accesses are the union of
   * theirs, so its dependencies are the union of theirs: the graph is
   * contracted. The planner merges only kernels with no path between them
   * through a third one, which keeps the graph acyclic.
   */
  merge(a: T, b: T, merged: T): void {
    this.remove(a);
    this.remove(b);
    this.index(merged);
    this.link(merged);
    this.reach?.contract(a, b, merged);
  }

  private reachability(): Reachability<T> {
    if (!this.reach) {
      const items = [...this.preds.keys()];
      const order = this.order(items);
      if (order.length < items.length) throw new Error('reachability of a cyclic kernel graph');
      this.reach = new Reachability(order, (t) => this.successors(t));
    }
    return this.reach;
  }

  private index(t: T): void {
    for (const buf of t.reads.keys()) addTo(this.readers, buf, t);
    for (const buf of t.writes) addTo(this.writers, buf, t);
    this.preds.set(t, new Set());
    this.succs.set(t, new Set());
  }

  /** Adds the edges of indexed kernel `t`, both ways. */
  private link(t: T): void {
    const isParam = this.isParamBuffer;
    const edge = (earlier: T, later: T) => {
      if (earlier === later) return;
      this.succs.get(earlier)!.add(later);
      this.preds.get(later)!.add(earlier);
    };
    for (const [buf, versions] of t.reads) {
      if (readsWritten(t, buf, isParam)) for (const w of this.writers.get(buf) ?? EMPTY) edge(w, t);
      if (versions.has('old')) for (const w of this.writers.get(buf) ?? EMPTY) edge(t, w);
    }
    for (const buf of t.writes)
      for (const r of this.readers.get(buf) ?? EMPTY) {
        if (readsWritten(r, buf, isParam)) edge(t, r);
        if (r.reads.get(buf)!.has('old')) edge(r, t);
      }
  }

  private remove(t: T): void {
    for (const buf of t.reads.keys()) this.readers.get(buf)?.delete(t);
    for (const buf of t.writes) this.writers.get(buf)?.delete(t);
    for (const p of this.predecessors(t)) this.succs.get(p)?.delete(t);
    for (const s of this.successors(t)) this.preds.get(s)?.delete(t);
    this.preds.delete(t);
    this.succs.delete(t);
  }
}

/**
 * Descendants of every item of a DAG as bitsets over slots (the items'
 * positions in the topological order it was built from). A merged item
 * takes the slot of the first of the two it replaces.
 */
class Reachability<T> {
  private readonly slots = new Map<T, number>();
  private readonly descendants: Uint32Array[] = [];
  private readonly words: number;

  constructor(order: readonly T[], successors: (t: T) => Iterable<T>) {
    this.words = Math.ceil(order.length / 32);
    order.forEach((t, i) => this.slots.set(t, i));
    for (let i = order.length - 1; i >= 0; i--) {
      const d = new Uint32Array(this.words);
      for (const s of successors(order[i]!)) {
        const j = this.slots.get(s)!;
        setBit(d, j);
        orInto(d, this.descendants[j]!);
      }
      this.descendants[i] = d;
    }
  }

  reaches(from: T, to: T): boolean {
    return hasBit(this.descendants[this.slots.get(from)!]!, this.slots.get(to)!);
  }

  /** `a` and `b` become `merged`: it reaches what either reached, and whatever reached either reaches it. */
  contract(a: T, b: T, merged: T): void {
    const sa = this.slots.get(a)!;
    const sb = this.slots.get(b)!;
    this.slots.delete(a);
    this.slots.delete(b);
    this.slots.set(merged, sa);
    const d = this.descendants[sa]!;
    orInto(d, this.descendants[sb]!);
    clearBit(d, sa);
    clearBit(d, sb);
    for (const s of this.slots.values()) {
      const x = this.descendants[s]!;
      if (s === sa || !(hasBit(x, sa) || hasBit(x, sb))) continue;
      clearBit(x, sb);
      setBit(x, sa);
      orInto(x, d);
    }
  }
}

function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! |= 1 << (i & 31);
}

function clearBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! &= ~(1 << (i & 31));
}

function hasBit(bits: Uint32Array, i: number): boolean {
  return (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
}

function orInto(into: Uint32Array, from: Uint32Array): void {
  for (let w = 0; w < into.length; w++) into[w]! |= from[w]!;
}

/** A binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(x: number): void {
    const h = this.items;
    h.push(x);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= h[i]!) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  pop(): number {
    const h = this.items;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
