// Examples and steps per second over a sliding window of recent steps, so
// that the rate and the ETA follow the current speed rather than the start.

export class Throughput {
  private readonly marks: { t: number; examples: number }[] = [];

  constructor(private readonly window = 50) {}

  /** A step of `examples` finished at time `t` (seconds). */
  add(t: number, examples: number): void {
    this.marks.push({ t, examples });
    if (this.marks.length > this.window + 1) this.marks.shift();
  }

  /** Examples per second, 0 before two marks. */
  examplesPerSecond(): number {
    const span = this.span();
    if (!span) return 0;
    return this.marks.slice(1).reduce((a, m) => a + m.examples, 0) / span;
  }

  /** Seconds for `steps` more steps at the current pace (undefined before two marks). */
  eta(steps: number): number | undefined {
    const span = this.span();
    return span ? (steps * span) / (this.marks.length - 1) : undefined;
  }

  private span(): number {
    if (this.marks.length < 2) return 0;
    return this.marks[this.marks.length - 1]!.t - this.marks[0]!.t;
  }
}

/** 75 s -> "1m15s". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
