// Checkpoints: DIR/checkpoint.safetensors holds the params and optimizer
// state (named as in the model, so it also serves as --params-in) and, as
// the safetensors metadata `kiln.checkpoint`, the run's position (step,
// epoch, batch within it, the epoch's data order and loss so far), its
// settings, the data's fingerprint and the history. It is written to a
// temporary file, fsynced and renamed over the old one, so a crash or a
// kill at any moment leaves either the old checkpoint or the new one.

import { existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsFile, writeSafetensorsFile } from '../../runtime/safetensors-node.js';
import type { StTensor } from '../../runtime/safetensors.js';
import { UserError } from '../errors.js';
import type { HistoryJson } from './history.js';
import { checkFinite } from '../data/finite.js';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
const META_KEY = 'kiln.checkpoint';

/** What a run is: resuming takes these from the checkpoint. */
export interface RunSettings {
  readonly target: string;
  readonly seed: number;
  readonly batch: number;
  readonly shuffle: boolean;
  readonly lr: number | null;
  /** The goal: epochs or steps in all (one is null). */
  readonly epochs: number | null;
  readonly steps: number | null;
}

/** Where a run stands: the next step is `step + 1`, batch `batch` of 0-based epoch `epoch`. */
export interface Position {
  readonly step: number;
  readonly epoch: number;
  readonly batch: number;
  /** Training loss summed over the epoch's examples so far, and their count. */
  readonly epochLossSum: number;
  readonly epochSeen: number;
}

export interface CheckpointMeta {
  readonly format: 'kiln-checkpoint';
  readonly version: 1;
  readonly model: string;
  readonly settings: RunSettings;
  readonly position: Position;
  readonly data: { readonly examples: number; readonly sha256: string };
  /** The data order of the epoch in progress (null without shuffling). */
  readonly order: number[] | null;
  readonly history: HistoryJson;
  readonly elapsedSeconds: number;
  readonly reason: 'epoch' | 'end' | 'interrupt';
}

export interface Checkpoint {
  readonly tensors: Map<string, StTensor>;
  readonly meta: CheckpointMeta;
}

export type TensorWriter = typeof writeSafetensorsFile;

export function checkpointPath(dir: string): string {
  return join(dir, CHECKPOINT_FILE);
}

export function saveCheckpoint(dir: string, ckpt: Checkpoint, write: TensorWriter = writeSafetensorsFile): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create the checkpoint directory ${dir}: ${(e as Error).message}`);
  }
  removeStaleTemps(dir);
  try {
    write(checkpointPath(dir), ckpt.tensors, { [META_KEY]: JSON.stringify(ckpt.meta) });
  } catch (e) {
    throw new UserError(`${(e as Error).message} (the previous checkpoint is kept)`);
  }
}

/** The checkpoint in DIR, or undefined when there is none. */
export function readCheckpoint(dir: string): Checkpoint | undefined {
  const path = checkpointPath(dir);
  if (!existsSync(path)) return undefined;
  const { tensors, metadata } = readSafetensorsFile(path);
  const text = metadata[META_KEY];
  if (text === undefined) throw new UserError(`${path}: not a Kiln checkpoint (no '${META_KEY}' metadata)`);
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: corrupt checkpoint metadata (${(e as Error).message})`);
  }
  for (const [name, t] of tensors) checkFinite(path, name, t.shape, t.data);
  return { tensors, meta: checkMeta(meta, path) };
}

function checkMeta(m: unknown, path: string): CheckpointMeta {
  const bad = (what: string): never => {
    throw new UserError(`${path}: corrupt checkpoint metadata (${what})`);
  };
  const o = m as Partial<CheckpointMeta> | null;
  if (typeof o !== 'object' || o === null || o.format !== 'kiln-checkpoint') return bad('not a Kiln checkpoint');
  if (o.version !== 1) return bad(`version ${String(o.version)}; this Kiln reads version 1`);
  const p = o.position;
  const ints = p && [p.step, p.epoch, p.batch, p.epochSeen];
  if (!ints || ints.some((v) => !Number.isSafeInteger(v) || v < 0)) return bad('position');
  const s = o.settings;
  if (!s || !Number.isSafeInteger(s.seed) || !Number.isSafeInteger(s.batch) || typeof s.shuffle !== 'boolean')
    return bad('settings');
  if (!o.data || !Number.isSafeInteger(o.data.examples) || typeof o.data.sha256 !== 'string') return bad('data');
  if (o.order !== null && (!Array.isArray(o.order) || o.order.length !== o.data.examples)) return bad('order');
  if (!o.history || !Array.isArray(o.history.epochs) || !Array.isArray(o.history.steps)) return bad('history');
  return o as CheckpointMeta;
}

/** Temporary files of writes that were killed (their process is gone). */
function removeStaleTemps(dir: string): void {
  for (const f of readdirSync(dir)) {
    const m = /^\.checkpoint\.safetensors\.(\d+)\..*\.tmp$/.exec(f);
    if (!m || isAlive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, f));
    } catch {
      // another run may have removed it first
    }
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}
