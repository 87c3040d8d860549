// Timing and reporting for `npm run bench`: a warm-up of at least one second,
// then repeated timed runs (the implementations taking turns), reported as
// the median; and the table printer.

import { performance } from 'node:perf_hooks';

/** Knobs, overridable from the environment for a quick look (`KILN_BENCH_QUICK=1`). */
export const TIMING = process.env.KILN_BENCH_QUICK
  ? { warmupMs: 1000, minRuns: 5, budgetMs: 500, maxRuns: 100, roundMs: 50 }
  : { warmupMs: 1000, minRuns: 21, budgetMs: 3000, maxRuns: 1000, roundMs: 100 };

/** The median of a list of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Times several implementations of one workload. `entries` are [key, fn]
 * pairs; `fn` is async, one call = one run, including whatever it awaits to
 * be sure the work is done. Each fn is first warmed up for at least
 * `warmupMs` (and at least twice); then the fns take turns in rounds of about
 * `roundMs` each (the order rotating every round), so that a change in the
 * machine's background load hits all of them alike, until every fn has at
 * least `minRuns` samples and about `budgetMs` of them (or `maxRuns`).
 * Returns, per key, the median, min and max in milliseconds and the run count.
 */
export async function measureInterleaved(entries, timing = TIMING) {
  for (const [, fn] of entries) {
    const warmStart = performance.now();
    for (let runs = 0; runs < 2 || performance.now() - warmStart < timing.warmupMs; runs++) await fn();
  }
  const samples = new Map(entries.map(([k]) => [k, []]));
  const spent = new Map(entries.map(([k]) => [k, 0]));
  const done = (k) =>
    samples.get(k).length >= timing.maxRuns ||
    (samples.get(k).length >= timing.minRuns && spent.get(k) >= timing.budgetMs);
  for (let round = 0; !entries.every(([k]) => done(k)); round++) {
    for (let i = 0; i < entries.length; i++) {
      const [k, fn] = entries[(i + round) % entries.length];
      if (done(k)) continue;
      const roundStart = performance.now();
      do {
        const t0 = performance.now();
        await fn();
        const dt = performance.now() - t0;
        samples.get(k).push(dt);
        spent.set(k, spent.get(k) + dt);
      } while (performance.now() - roundStart < timing.roundMs && !done(k));
    }
  }
  return Object.fromEntries(
    entries.map(([k]) => {
      const xs = samples.get(k);
      return [k, { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length }];
    }),
  );
}

/** Formats a number with about three significant digits. */
export function fmt(x) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** A plain-text table; `align` is 'l' or 'r' per column (default: first left, rest right). */
export function formatTable(header, rows, align) {
  const cols = header.length;
  const al = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) =>
    cells
      .map((c, i) => {
        const s = String(c ?? '');
        return al[i] === 'l' ? s.padEnd(width[i]) : s.padStart(width[i]);
      })
      .join('  ')
      .trimEnd();
  const out = [line(header), width.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows) out.push(line(r.length < cols ? [...r, ...Array(cols - r.length).fill('')] : r));
  return out.join('\n');
}

/**
 * Kiln's speed relative to a peer, as "x.xx×" (above 1: Kiln is faster).
 * `higherIsBetter` is true for throughputs (GFLOP/s, GB/s), false for times.
 */
export function ratio(kiln, peer, higherIsBetter) {
  if (!Number.isFinite(kiln) || !Number.isFinite(peer) || kiln <= 0 || peer <= 0) return '-';
  const r = higherIsBetter ? kiln / peer : peer / kiln;
  return `${r.toFixed(2)}x`;
}
