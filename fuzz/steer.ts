// Coverage steering: program `index` of a campaign is, of STEER_CANDIDATES
// generated candidates, the one whose rarest builtin the campaign has reached
// least often so far. "So far" means the programs before `index` in index
// order, whichever worker ran them, so the choice depends only on the
// campaign's seed and the index: every worker replays the (cheap: about 0.1 ms
// a program) generation of the indices it skips, and any program of a campaign
// can be regenerated alone from the seed the campaign reports.

import { type Generated, type GenerateOptions, generate } from './generate.js';

/** Candidates generated per program. */
export const STEER_CANDIDATES = 4;

/** The seed of candidate `k` of program `index` of a campaign seeded `seed` (k = 0: the unsteered program). */
export function candidateSeed(seed: number, index: number, k = 0): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35) ^ Math.imul(k, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return (h ^ (h >>> 15)) >>> 0;
}

export class Steering {
  /** How many programs so far used each builtin. */
  readonly counts = new Map<string, number>();
  /** The first index not yet chosen. */
  private next = 0;

  constructor(
    readonly seed: number,
    readonly opts: GenerateOptions = {},
    readonly candidates = STEER_CANDIDATES,
  ) {}

  /** Program `index` (indices asked in increasing order; the ones skipped are replayed). */
  program(index: number): Generated {
    if (index < this.next) throw new Error(`Steering.program(${index}): already past index ${this.next - 1}`);
    for (; this.next < index; this.next++) this.record(this.choose(this.next));
    const g = this.choose(index);
    this.record(g);
    this.next = index + 1;
    return g;
  }

  /** How often the rarest builtin of `g` was reached so far. */
  private rarity(g: Generated): number {
    return Math.min(...g.builtins.map((b) => this.counts.get(b) ?? 0));
  }

  private choose(index: number): Generated {
    let best = generate(candidateSeed(this.seed, index), this.opts);
    for (let k = 1; k < this.candidates; k++) {
      const g = generate(candidateSeed(this.seed, index, k), this.opts);
      if (this.rarity(g) < this.rarity(best)) best = g;
    }
    return best;
  }

  private record(g: Generated): void {
    for (const b of g.builtins) this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
  }
}
