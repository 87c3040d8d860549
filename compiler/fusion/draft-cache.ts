// Kernels built in one planning attempt, reused by the next. When a root's
// kernel cannot be built as planned, the planner materialises one more node
// and starts over (plan.ts), and most roots are unaffected: a root's draft
// depends only on what building it asked of the attempt's buffers (is this
// node materialised, row-local, where does it live, where does the root
// go), so a draft is reused when every answer is the same as before. Temps
// are numbered in node order, so a new temp renumbers later ones: answers
// about buffers compare by the buffer's name (its role, or its node), and
// the reused draft's buffer ids are translated.

import type { Node } from '../ir.js';
import type { BufferMap, DraftKernel, StoreCheckBuf } from './kernel-builder.js';

/** What building one root's kernel asks of an attempt's buffers. */
export interface RootBuffers extends BufferMap {
  /** The buffers the root's kernel stores its value into. */
  targetsOf(root: Node): readonly number[];
}

/** An attempt's buffers, with names that identify a buffer across attempts. */
export interface NamedBuffers extends RootBuffers {
  /** Where a node's value is read from, if it has a buffer (home() throws instead). */
  homeOf(n: Node): number | undefined;
  /** The same for the same buffer in every attempt: its role and name, or the node of a temp. */
  nameOf(buf: number): string;
}

type Question =
  | { readonly ask: 'home'; readonly node: Node; readonly buf: number; readonly name: string }
  | { readonly ask: 'materialized' | 'rowLocal'; readonly node: Node; readonly answer: boolean }
  | { readonly ask: 'targets'; readonly node: Node; readonly bufs: readonly number[]; readonly names: string[] }
  | { readonly ask: 'check'; readonly buf: number; readonly answer: StoreCheckBuf | undefined };

/** Answers an attempt's questions and writes them down. */
class Recorder implements RootBuffers {
  readonly questions: Question[] = [];

  constructor(private readonly buffers: NamedBuffers) {}

  home(n: Node): number {
    const buf = this.buffers.home(n);
    this.questions.push({ ask: 'home', node: n, buf, name: this.buffers.nameOf(buf) });
    return buf;
  }

  isMaterialized(n: Node): boolean {
    const answer = this.buffers.isMaterialized(n);
    this.questions.push({ ask: 'materialized', node: n, answer });
    return answer;
  }

  isRowLocal(n: Node): boolean {
    const answer = this.buffers.isRowLocal(n);
    this.questions.push({ ask: 'rowLocal', node: n, answer });
    return answer;
  }

  checkOf(buf: number): StoreCheckBuf | undefined {
    const answer = this.buffers.checkOf(buf);
    this.questions.push({ ask: 'check', buf, answer });
    return answer;
  }

  targetsOf(root: Node): readonly number[] {
    const bufs = this.buffers.targetsOf(root);
    this.questions.push({ ask: 'targets', node: root, bufs, names: bufs.map((b) => this.buffers.nameOf(b)) });
    return bufs;
  }
}

/**
 * Old buffer id -> new buffer id when `buffers` answers every question as
 * the attempt that recorded them did; undefined when some answer differs.
 */
function replay(questions: readonly Question[], buffers: NamedBuffers): Map<number, number> | undefined {
  const ids = new Map<number, number>();
  for (const q of questions) {
    switch (q.ask) {
      case 'home': {
        const buf = buffers.homeOf(q.node);
        if (buf === undefined || buffers.nameOf(buf) !== q.name) return undefined;
        ids.set(q.buf, buf);
        break;
      }
      case 'materialized':
        if (buffers.isMaterialized(q.node) !== q.answer) return undefined;
        break;
      case 'rowLocal':
        if (buffers.isRowLocal(q.node) !== q.answer) return undefined;
        break;
      case 'targets': {
        const bufs = buffers.targetsOf(q.node);
        if (bufs.length !== q.bufs.length || bufs.some((b, i) => buffers.nameOf(b) !== q.names[i])) return undefined;
        q.bufs.forEach((b, i) => ids.set(b, bufs[i]!));
        break;
      }
      case 'check': {
        // Param ids never change; the one flag output's id may (it follows the temps).
        const c = buffers.checkOf(q.buf);
        if (c?.word !== q.answer?.word) return undefined;
        if (c && q.answer) ids.set(q.answer.flag, c.flag);
        break;
      }
    }
  }
  return ids;
}

/** The draft with its buffer ids translated (stages refer to slots, which keep their order). */
function renumbered(d: DraftKernel, ids: ReadonlyMap<number, number>): DraftKernel {
  const id = (b: number) => ids.get(b)!;
  return {
    ...d,
    slots: d.slots.map(id),
    reads: new Map([...d.reads].map(([b, versions]) => [id(b), new Set(versions)])),
    writes: new Set([...d.writes].map(id)),
  };
}

/** Each root's latest draft and the questions building it asked. */
export class DraftCache {
  private readonly entries = new Map<number, { readonly draft: DraftKernel; readonly questions: Question[] }>();

  /** The draft of `root` for these buffers: the last one built, when still valid, else `build`'s. */
  draft(root: Node, buffers: NamedBuffers, build: (b: RootBuffers) => DraftKernel): DraftKernel {
    const hit = this.entries.get(root.id);
    const ids = hit && replay(hit.questions, buffers);
    if (hit && ids) return renumbered(hit.draft, ids);
    const recorder = new Recorder(buffers);
    const draft = build(recorder);
    this.entries.set(root.id, { draft, questions: recorder.questions });
    return draft;
  }
}
