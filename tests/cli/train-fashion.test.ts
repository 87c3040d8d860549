// A short seeded run of examples/fashion_mlp.kiln on the Fashion-MNIST subset
// shipped in data/fashion-mnist-subset (IDX, 6000 training and 1000 test
// images) must reach an eval loss below 0.85 and an accuracy above 70%
// (measured: 0.713 and 75.1% after 150 steps of 32); its --log, --plot and
// summary are checked on the way. The CNN example takes the same images
// shaped [B, 1, 28, 28].

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kiln, tempDir } from './helpers.js';
import { FASHION_MLP, lastAccuracy } from './fixtures/train/data.js';

const SUBSET = 'data/fashion-mnist-subset';

describe('kiln train on the shipped Fashion-MNIST subset', () => {
  it('fashion_mlp: 150 seeded steps reach eval loss < 0.85 and accuracy > 70%', async () => {
    const dir = tempDir();
    const log = join(dir, 'train.jsonl');
    const plot = join(dir, 'curves.svg');
    const args = ['--data', SUBSET, '--eval', SUBSET, '--steps', '150', '--seed', '0', '--log', log, '--plot', plot];
    const r = await kiln('train', FASHION_MLP, ...args);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('training fashion_mlp on 6000 examples: 150 steps of batch 32');
    expect(r.stdout).toContain(`eval: ${join(SUBSET, 't10k')}, 1000 examples, accuracy of 'probs' over 10 classes`);
    const evalLoss = Number(/^ {2}eval loss (\S+)/m.exec(r.stdout)![1]);
    expect(evalLoss).toBeLessThan(0.85);
    expect(lastAccuracy(r.stdout)).toBeGreaterThan(0.7);
    // The summary table.
    expect(r.stdout).toMatch(/^\| eval accuracy +\| \d+\.\d\d% +\|$/m);
    expect(r.stdout).toMatch(/^\| steps +\| 150 \(1 epoch, batch 32\) +\|$/m);
    // One JSON line per step, then the (partial) epoch with its eval results.
    const events = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e['event'] === 'step')).toHaveLength(150);
    expect(events[1]).toMatchObject({ event: 'step', step: 1, epoch: 1, examples: 32 });
    const epoch = events.find((e) => e['event'] === 'epoch')!;
    expect(epoch).toMatchObject({ step: 150, epoch: 1, partial: true });
    expect(epoch['eval_loss']).toBeCloseTo(evalLoss, 5);
    expect(events.at(-1)).toMatchObject({ event: 'end', step: 150 });
    // A self-contained SVG with the loss and accuracy panels.
    const svg = readFileSync(plot, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const label of ['train loss (per step)', 'eval loss', 'eval accuracy (%)']) expect(svg).toContain(label);
    expect(svg).not.toMatch(/NaN|href|<script/);
  });

  it('fashion_cnn takes the images as [B, 1, 28, 28]', async () => {
    const r = await kiln('train', 'examples/fashion_cnn.kiln', '--data', SUBSET, '--steps', '2', '--batch', '8');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('training fashion_cnn on 6000 examples');
  });
});
