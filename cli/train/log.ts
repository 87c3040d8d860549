// `--log FILE.jsonl`: one JSON object per line, for every step and every
// epoch (plus the run's start and end), each with the step it belongs to.
// A resumed run first drops the lines past its checkpoint's step, so the
// file reads as one uninterrupted run.

import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { UserError } from '../errors.js';

export type LogRecord = { readonly event: string; readonly step: number } & Readonly<Record<string, unknown>>;

export class JsonlLog {
  private constructor(
    private readonly path: string,
    private fd: number | undefined,
  ) {}

  /** Opens FILE afresh, or, resuming at `resumeStep`, keeps the lines up to that step. */
  static open(path: string, resumeStep: number | undefined): JsonlLog {
    try {
      if (resumeStep !== undefined && existsSync(path)) {
        const kept = readFileSync(path, 'utf8')
          .split('\n')
          .filter((line) => line.trim() !== '' && stepOf(line) <= resumeStep);
        writeFileSync(path, kept.map((l) => `${l}\n`).join(''));
        return new JsonlLog(path, openSync(path, 'a'));
      }
      return new JsonlLog(path, openSync(path, 'w'));
    } catch (e) {
      throw new UserError(`cannot write the log ${path}: ${(e as Error).message}`);
    }
  }

  write(record: LogRecord): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${JSON.stringify(record)}\n`);
    } catch (e) {
      throw new UserError(`cannot write the log ${this.path}: ${(e as Error).message}`);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function stepOf(line: string): number {
  try {
    const step = (JSON.parse(line) as { step?: unknown }).step;
    return typeof step === 'number' ? step : Infinity;
  } catch {
    return Infinity;
  }
}
