// `--plot FILE.svg`: the training curves as one self-contained SVG: a loss
// panel (per-step training loss thinned to window means, the mean per epoch,
// and the eval loss per epoch) and, when there is eval accuracy, an accuracy
// panel. Hand-written SVG: no fonts, scripts or external references.

import type { History } from './history.js';

interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  /** Dots at the points (per-epoch series). */
  readonly dots: boolean;
}

const WIDTH = 760;
const PANEL = 280;
const MARGIN = { left: 64, right: 20, top: 40, bottom: 44 };

export function plotSvg(history: History, title: string): string {
  const epochs = history.epochs;
  const loss = (
    [
      { label: 'train loss (per step)', color: '#9ecae1', points: history.steps, dots: false },
      {
        label: 'train loss (epoch mean)',
        color: '#1f77b4',
        points: epochs.map((e) => [e.step, e.loss] as const),
        dots: true,
      },
      {
        label: 'eval loss',
        color: '#ff7f0e',
        points: epochs.flatMap((e) => (e.evalLoss === undefined ? [] : [[e.step, e.evalLoss] as const])),
        dots: true,
      },
    ] satisfies Series[]
  ).filter((s) => s.points.length > 0);
  const accuracy: Series[] = [
    {
      label: 'eval accuracy (%)',
      color: '#2ca02c',
      points: epochs.flatMap((e) => (e.evalAccuracy === undefined ? [] : [[e.step, 100 * e.evalAccuracy] as const])),
      dots: true,
    },
  ].filter((s) => s.points.length > 0);
  const lastStep = Math.max(1, ...loss.flatMap((s) => s.points.map((p) => p[0])));
  const panels = [
    panel(loss, 'loss', 0, lastStep),
    ...(accuracy.length ? [panel(accuracy, 'accuracy (%)', PANEL, lastStep)] : []),
  ];
  const height = PANEL * panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}

function panel(series: readonly Series[], yLabel: string, top: number, lastStep: number): string {
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const y0 = top + PANEL - MARGIN.bottom;
  const y1 = top + MARGIN.top;
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const [lo, hi] = niceRange(values.length ? Math.min(...values) : 0, values.length ? Math.max(...values) : 1);
  const sx = (v: number) => x0 + ((x1 - x0) * v) / lastStep;
  const sy = (v: number) => y0 - ((y0 - y1) * (v - lo)) / (hi - lo);
  const out: string[] = [`<g>`];
  for (const t of ticks(lo, hi))
    out.push(
      `<line x1="${x0}" y1="${f(sy(t))}" x2="${x1}" y2="${f(sy(t))}" stroke="#eee"/>`,
      `<text x="${x0 - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${label(t)}</text>`,
    );
  for (const t of ticks(0, lastStep))
    out.push(`<text x="${f(sx(t))}" y="${y0 + 16}" text-anchor="middle">${label(t)}</text>`);
  out.push(
    `<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#888"/>`,
    `<text x="${(x0 + x1) / 2}" y="${y0 + 34}" text-anchor="middle">step</text>`,
    `<text x="16" y="${(y0 + y1) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(y0 + y1) / 2})">${yLabel}</text>`,
  );
  out.push(
    `<rect x="${x1 - 196}" y="${y1 + 2}" width="190" height="${16 * series.length + 4}" fill="white" fill-opacity="0.85"/>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.map((p) => `${f(sx(p[0]))},${f(sy(p[1]))}`).join(' ')}"/>`,
    );
    if (s.dots)
      for (const p of pts) out.push(`<circle cx="${f(sx(p[0]))}" cy="${f(sy(p[1]))}" r="3" fill="${s.color}"/>`);
    const ly = y1 + 14 + 16 * i;
    out.push(
      `<line x1="${x1 - 190}" y1="${ly - 4}" x2="${x1 - 170}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${x1 - 164}" y="${ly}">${escapeXml(s.label)}</text>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

/** A range covering [lo, hi] that starts and ends on ticks. */
export function niceRange(lo: number, hi: number): [number, number] {
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    const pad = Math.abs(hi) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  const step = tickStep(lo, hi);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

/** Ticks at a 1-2-5 step, about five of them. */
export function ticks(lo: number, hi: number): number[] {
  const step = tickStep(lo, hi);
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

function tickStep(lo: number, hi: number): number {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
}

function label(v: number): string {
  return Number(v.toPrecision(6)).toString();
}

function f(v: number): string {
  return v.toFixed(1);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
