// `npm run atlas` (bench/atlas.mjs) on a tiny setting: three optimizers, a few steps on the
// shipped Fashion-MNIST subset. The table has a row per optimizer, the SVG is well-formed XML
// with one curve path per optimizer, --replot redraws both from atlas.json, and the atlas never
// writes over its inputs.

import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const SUBSET = join('data', 'fashion-mnist-subset');
const RUNS = ['sgd', 'adam', 'lookahead'];

function atlas(...args: string[]) {
  return spawnSync(process.execPath, ['bench/atlas.mjs', ...args], { encoding: 'utf8' });
}

interface SvgNode {
  readonly [key: string]: unknown;
}

/** Every element named `name` below `node` (fast-xml-parser's preserveOrder tree). */
function elements(node: unknown, name: string): SvgNode[] {
  if (Array.isArray(node)) return node.flatMap((n) => elements(n, name));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) =>
    k === ':@' ? [] : [...(k === name ? [node as SvgNode] : []), ...elements(v, name)],
  );
}

describe('optimizer atlas', () => {
  it('writes a table row and an SVG curve per optimizer', () => {
    const out = tempDir();
    const args = ['--only', RUNS.join(','), '--steps', '4', '--batch', '16', '--last', '2', '--data', SUBSET];
    const r = atlas(...args, '--out', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`data: ${SUBSET}`);

    const table = readFileSync(join(out, 'atlas.md'), 'utf8');
    expect(table).toContain(`Data: ${SUBSET} (6000 examples); test: ${join(SUBSET, 't10k')} (1000 examples).`);
    const rows = table.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.map((l) => /^\| `([^`]+)`/.exec(l)![1])).toEqual(['sgd(lr = 0.1)', 'adam()', 'lookahead(adam())']);
    for (const row of rows) {
      const cells = row.split(' | ');
      expect(cells).toHaveLength(8);
      expect(Number(cells[3])).toBeGreaterThan(0); // final loss
      expect(cells[4]).toMatch(/^\d+\.\d\d%$/); // test accuracy
      expect(Number(cells[5])).toBeGreaterThan(0); // ms per step
      expect(Number(cells[6])).toBeGreaterThanOrEqual(9); // kernels
    }
    expect(rows[0]).toContain('0.1 (stated)');
    expect(rows[1]).toContain('0.001 (default)');

    const svg = readFileSync(join(out, 'atlas.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).not.toMatch(/NaN|Infinity|href|<script/);
    const tree = new XMLParser({ ignoreAttributes: false, preserveOrder: true }).parse(svg);
    const curves = elements(tree, 'path')
      .map((p) => p[':@'] as Record<string, string>)
      .filter((a) => a['@_class'] === 'curve');
    expect(curves.map((a) => a['@_data-run'])).toEqual(RUNS);
    for (const c of curves) expect(c['@_d']).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){3}$/);

    const json = JSON.parse(readFileSync(join(out, 'atlas.json'), 'utf8'));
    expect(json.runs.map((run: { id: string }) => run.id)).toEqual(RUNS);
    expect(json.runs.every((run: { steps: number }) => run.steps === 4)).toBe(true);

    // --replot redraws the same table and picture from atlas.json, without training.
    const replot = atlas('--replot', '--out', out);
    expect(replot.status).toBe(0);
    expect(readFileSync(join(out, 'atlas.svg'), 'utf8')).toBe(svg);
    expect(readFileSync(join(out, 'atlas.md'), 'utf8')).toBe(table);
  });

  it('refuses to write over its inputs before training', () => {
    const dir = tempDir();
    const model = join(dir, 'atlas.md');
    copyFileSync(join('examples', 'fashion_mlp.kiln'), model);
    const r = atlas('--model', model, '--out', dir, '--data', SUBSET, '--only', 'adam');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('would overwrite');
    expect(readFileSync(model, 'utf8')).toBe(readFileSync(join('examples', 'fashion_mlp.kiln'), 'utf8'));
    const inData = atlas('--out', SUBSET, '--data', SUBSET, '--only', 'adam');
    expect(inData.status).toBe(1);
    expect(inData.stderr).toContain('is inside the data');
  });
});
