// `--x-cols` and `--y-col`: comma-separated column names (with a header row),
// 0-based indices, or inclusive index ranges like `1-784`. Without them the
// label column is the one named like the model's label input, or `label`,
// or the last one, and the features are every other column.

import { UsageError } from '../errors.js';

export interface ColumnChoice {
  readonly x: readonly number[];
  readonly y: number | undefined;
}

export function chooseColumns(
  header: readonly string[] | undefined,
  count: number,
  spec: { readonly xCols?: string; readonly yCol?: string },
  label: string | undefined,
): ColumnChoice {
  let y: number | undefined;
  if (label !== undefined) {
    if (spec.yCol !== undefined) {
      const ys = parseColumns(spec.yCol, header, count, '--y-col');
      if (ys.length !== 1) throw new UsageError(`--y-col names one column, got '${spec.yCol}'`);
      y = ys[0]!;
    } else {
      const named = header ? [label, 'label'].map((n) => header.indexOf(n)).find((i) => i >= 0) : undefined;
      y = named ?? count - 1;
    }
  } else if (spec.yCol !== undefined)
    throw new UsageError('--y-col: the model has a single input, so the CSV has no label column to feed');
  const x =
    spec.xCols !== undefined
      ? parseColumns(spec.xCols, header, count, '--x-cols')
      : Array.from({ length: count }, (_, i) => i).filter((i) => i !== y);
  if (y !== undefined && x.includes(y))
    throw new UsageError(`column ${describe(y, header)} is both a feature (--x-cols) and the label (--y-col)`);
  return { x, y };
}

function parseColumns(spec: string, header: readonly string[] | undefined, count: number, flag: string): number[] {
  const out: number[] = [];
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    const named = header?.indexOf(item) ?? -1;
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(item);
    if (named >= 0) out.push(named);
    else if (/^\d+$/.test(item)) out.push(index(Number(item), count, flag));
    else if (range) {
      const [lo, hi] = [index(Number(range[1]), count, flag), index(Number(range[2]), count, flag)];
      if (lo > hi) throw new UsageError(`${flag}: empty range '${item}'`);
      for (let i = lo; i <= hi; i++) out.push(i);
    } else {
      const known = header
        ? `columns: ${header.slice(0, 8).join(', ')}${header.length > 8 ? ', ...' : ''}`
        : 'the file has no header row; use 0-based indices';
      throw new UsageError(`${flag}: no column '${item}' (${known})`);
    }
  }
  if (new Set(out).size !== out.length) throw new UsageError(`${flag}: a column is named twice in '${spec}'`);
  return out;
}

function index(i: number, count: number, flag: string): number {
  if (i >= count) throw new UsageError(`${flag}: column ${i} does not exist (the file has ${count} columns, 0-based)`);
  return i;
}

export function describe(i: number, header: readonly string[] | undefined): string {
  return header ? `'${header[i]}'` : `${i}`;
}
