// What a run has seen, for the plot, the summary and checkpoints: one record
// per epoch (train loss, eval loss and accuracy) and the per-step training
// loss thinned to at most MAX_POINTS window means (when full, neighbouring
// windows merge and the window doubles), so long runs stay small.

export interface EpochRecord {
  /** 1-based; an epoch cut short by --steps is marked partial. */
  readonly epoch: number;
  readonly step: number;
  /** Mean training loss over the epoch's examples. */
  readonly loss: number;
  readonly evalLoss?: number;
  readonly evalAccuracy?: number;
  readonly partial?: boolean;
}

export interface HistoryJson {
  readonly epochs: EpochRecord[];
  /** [last step of the window, mean loss over it]. */
  readonly steps: [number, number][];
  readonly window: number;
  readonly pendingSum: number;
  readonly pendingCount: number;
}

export const MAX_POINTS = 1000;

export class History {
  private constructor(
    private readonly epochList: EpochRecord[],
    private stepList: [number, number][],
    private window: number,
    private pendingSum: number,
    private pendingCount: number,
  ) {}

  static empty(): History {
    return new History([], [], 1, 0, 0);
  }

  static fromJson(j: HistoryJson): History {
    return new History(
      j.epochs.map((e) => ({ ...e })),
      j.steps.map(([s, l]) => [s, l]),
      j.window,
      j.pendingSum,
      j.pendingCount,
    );
  }

  toJson(): HistoryJson {
    return {
      epochs: this.epochList.map((e) => ({ ...e })),
      steps: this.stepList.map(([s, l]) => [s, l]),
      window: this.window,
      pendingSum: this.pendingSum,
      pendingCount: this.pendingCount,
    };
  }

  get epochs(): readonly EpochRecord[] {
    return this.epochList;
  }

  get steps(): readonly (readonly [number, number])[] {
    return this.stepList;
  }

  addEpoch(r: EpochRecord): void {
    this.epochList.push(r);
  }

  addStep(step: number, loss: number): void {
    this.pendingSum += loss;
    this.pendingCount += 1;
    if (this.pendingCount < this.window) return;
    this.stepList.push([step, this.pendingSum / this.pendingCount]);
    this.pendingSum = 0;
    this.pendingCount = 0;
    if (this.stepList.length >= MAX_POINTS) {
      this.stepList = mergePairs(this.stepList);
      this.window *= 2;
    }
  }
}

function mergePairs(steps: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i + 1 < steps.length; i += 2) out.push([steps[i + 1]![0], (steps[i]![1] + steps[i + 1]![1]) / 2]);
  if (steps.length % 2 === 1) out.push(steps[steps.length - 1]!);
  return out;
}
