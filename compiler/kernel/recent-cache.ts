// A cache keyed by object identity that keeps the recently used entries:
// two generations of plain Maps, the older dropped when the younger fills.
// The index simplifier caches a polynomial and a key per expression, and
// expressions are made by the hundred thousand; as WeakMap entries they cost
// more to insert and to collect than recomputing them, while most lookups
// hit an expression made moments before.

export class RecentCache<K extends object, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  /** At most 2 * `generation` entries are kept (and so their keys kept alive). */
  constructor(private readonly generation: number) {}

  get(k: K): V | undefined {
    const hit = this.young.get(k);
    if (hit !== undefined) return hit;
    const aged = this.old.get(k);
    if (aged !== undefined) this.set(k, aged);
    return aged;
  }

  set(k: K, v: V): void {
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(k, v);
  }
}
