// Ctrl-C (SIGINT) or SIGTERM during training: the first asks the loop to
// stop after the current step (it saves a checkpoint and exits 130); a
// second one exits at once (a checkpoint write in flight is atomic, so the
// previous checkpoint survives).

export interface Interrupt {
  /** The signal received, once one has been. */
  readonly signal: NodeJS.Signals | undefined;
  dispose(): void;
}

export const INTERRUPTED_STATUS = 130;

export function watchInterrupt(onFirst: (signal: NodeJS.Signals) => void): Interrupt {
  let signal: NodeJS.Signals | undefined;
  const handler = (s: NodeJS.Signals) => {
    if (signal !== undefined) process.exit(INTERRUPTED_STATUS);
    signal = s;
    onFirst(s);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    get signal() {
      return signal;
    },
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
