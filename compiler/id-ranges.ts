// Which values each model input may hold (CLI.md v1.1, "integer ids out of
// range"): an input that indexes a table (`take`, a gather) must hold ids in
// [0, rows); one that holds class ids (`softmax_cross_entropy`, `one_hot`)
// must hold them in [0, classes); the targets of
// `sigmoid_binary_cross_entropy` are probabilities in [0, 1]. In the IR an
// out-of-range id is silently clamped (gather) or picks nothing (one-hot),
// so a bad data file would train without a word: the CLI refuses such data
// before any step, with the range found here.
//
// The analysis follows each input forward through the ops that only move
// its values (reshape, expand, permute, slice, pad, casts to i32, take's
// negative-index fix-up) to the uses that constrain them.

import { type Graph, type Node, type NodeOf, topoSort } from './ir.js';

export interface IdRange {
  /** The least value allowed. */
  readonly lo: number;
  /** The bound above: excluded for ids, included for probabilities. */
  readonly hi: number;
  readonly hiIncluded: boolean;
  /** What needs the range, for messages: "'take' needs ids in [0, 50) (table 'emb')". */
  readonly why: string;
}

/** Each constrained input's range (the tightest where several uses constrain it). */
export function idRanges(graph: Graph): Map<string, IdRange> {
  const nodes = topoSort(graph.outputs.map((o) => o.node));
  const users = usersOf(nodes);
  const origin = new Map<number, string>();
  const out = new Map<string, IdRange>();
  const constrain = (input: string, r: IdRange): void => {
    const prev = out.get(input);
    if (!prev || r.hi - r.lo < prev.hi - prev.lo) out.set(input, r);
  };
  for (const n of nodes) {
    const from = carried(n, origin);
    if (from !== undefined) origin.set(n.id, from);
    const use = constraintOf(n, origin, users);
    if (use) constrain(use.input, use.range);
  }
  return out;
}

/** The input whose values `n` carries unchanged (or re-arranged), if any. */
function carried(n: Node, origin: ReadonlyMap<number, string>): string | undefined {
  const src = n.inputs[0] && origin.get(n.inputs[0].id);
  switch (n.op) {
    case 'input':
      return n.dtype === 'bool' ? undefined : n.name;
    case 'reshape':
    case 'expand':
    case 'permute':
    case 'slice':
    case 'pad':
    case 'stop_gradient':
      return src;
    case 'cast':
      // Float labels used as ids: the check is on the file's values.
      return n.dtype === 'i32' ? src : undefined;
    case 'where':
      return negativeFixup(n, origin);
    default:
      return undefined;
  }
}

/** take's `where(idx < 0, idx + n, idx)` (NumPy's negative indices): still the input's ids. */
function negativeFixup(n: NodeOf<'where'>, origin: ReadonlyMap<number, string>): string | undefined {
  const [c, a, b] = n.inputs as [Node, Node, Node];
  const idx = origin.get(b.id);
  const isOf = (x: Node, fn: string): boolean =>
    x.op === 'binary' && x.fn === fn && x.inputs[0] !== undefined && origin.get(x.inputs[0].id) === idx;
  return idx !== undefined && isOf(c, 'lt') && isOf(a, 'add') ? idx : undefined;
}

interface Use {
  readonly input: string;
  readonly range: IdRange;
}

function constraintOf(n: Node, origin: ReadonlyMap<number, string>, users: UsersOf): Use | undefined {
  if (n.op === 'gather') {
    const input = origin.get(n.inputs[1]!.id);
    const rows = n.inputs[0]!.shape[n.axis];
    if (input === undefined || typeof rows !== 'number') return undefined;
    const table = tableName(n.inputs[0]!);
    const why = `'take' needs ids in [0, ${rows})${table ? ` (table '${table}')` : ''}`;
    return { input, range: { lo: 0, hi: rows, hiIncluded: false, why } };
  }
  if (n.op === 'binary' && n.fn === 'eq') return oneHot(n, origin, users);
  if (n.op === 'binary' && n.fn === 'sub') return bceTargets(n, origin);
  return undefined;
}

/** `iota == ids`: one_hot's and softmax_cross_entropy's class mask, n classes along the iota's axis. */
function oneHot(n: NodeOf<'binary'>, origin: ReadonlyMap<number, string>, users: UsersOf): Use | undefined {
  const [a, b] = n.inputs as [Node, Node];
  const [iota, ids] = a.op === 'iota' ? [a, b] : b.op === 'iota' ? [b, a] : [undefined, undefined];
  if (iota?.op !== 'iota' || !ids) return undefined;
  const input = origin.get(ids.id);
  const classes = iota.shape[iota.axis];
  if (input === undefined || typeof classes !== 'number') return undefined;
  // softmax_cross_entropy selects logits with the mask; one_hot casts it to f32.
  const op = (users.get(n.id) ?? []).some((u) => u.op === 'where') ? 'softmax_cross_entropy' : 'one_hot';
  const why = `'${op}' needs class ids in [0, ${classes})`;
  return { input, range: { lo: 0, hi: classes, hiIncluded: false, why } };
}

/** softplus(x) - x * t: sigmoid_binary_cross_entropy, whose targets t are probabilities. */
function bceTargets(n: NodeOf<'binary'>, origin: ReadonlyMap<number, string>): Use | undefined {
  const [softplus, prod] = n.inputs as [Node, Node];
  if (prod.op !== 'binary' || prod.fn !== 'mul' || prod.dtype !== 'f32') return undefined;
  const log1p = softplus.op === 'binary' && softplus.fn === 'add' ? softplus.inputs[1] : undefined;
  if (log1p?.op !== 'unary' || log1p.fn !== 'log1p' || log1p.inputs[0]?.op !== 'unary') return undefined;
  if (log1p.inputs[0].fn !== 'exp') return undefined;
  const input = origin.get(prod.inputs[1]!.id);
  if (input === undefined) return undefined;
  const why = `'sigmoid_binary_cross_entropy' needs targets in [0, 1]`;
  return { input, range: { lo: 0, hi: 1, hiIncluded: true, why } };
}

/** The param a table is (through re-arrangements), for messages. */
function tableName(x: Node): string | undefined {
  let n: Node | undefined = x;
  while (n && n.op !== 'param' && n.op !== 'input') {
    if (n.op !== 'reshape' && n.op !== 'permute' && n.op !== 'stop_gradient' && n.op !== 'cast') return undefined;
    n = n.inputs[0];
  }
  return n?.name;
}

type UsersOf = ReadonlyMap<number, readonly Node[]>;

function usersOf(nodes: readonly Node[]): UsersOf {
  const users = new Map<number, Node[]>();
  for (const n of nodes)
    for (const i of n.inputs) {
      const list = users.get(i.id);
      if (list) list.push(n);
      else users.set(i.id, [n]);
    }
  return users;
}
