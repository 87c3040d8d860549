// The optimizer atlas (`npm run atlas`, issue 15 item 5): trains the Fashion-MNIST MLP of
// examples/fashion_mlp.kiln for the same number of steps with every optimizer Kiln has (each
// canonical one of runtime/optimizers/spec.ts, then adam under each modifier), and writes
// atlas.md (the table), atlas.svg (every loss curve, one panel per family) and atlas.json
// (the numbers and the plotted curves) into --out (default docs/results/atlas/).
//
// Each run is `node bin/kiln.js train` on a temporary copy of the model whose optimizer line is
// replaced and whose schedule and clip lines are dropped (so every optimizer runs at its own
// constant rate; clipping is a row of its own): a separate process per run, so a diverging or
// failing optimizer never stops the atlas and no run warms another's caches. Every figure comes
// from the run's --log; the kernel count from compiling the same file in this process.
//
//   node bench/atlas.mjs [--out DIR] [--steps 938] [--batch 64] [--data fashion-mnist]
//                        [--eval DATA] [--threads 1] [--last 50] [--only id,id,...]
//   node bench/atlas.mjs --replot [--out DIR]   (atlas.md and atlas.svg again from atlas.json)

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { schemeTableau10 } from 'd3-scale-chromatic';
import { loadModel } from '../dist/cli/model.js';
import { checkOutputPath } from '../dist/cli/output-paths.js';
import { writeFileAtomic } from '../dist/cli/train/atomic-write.js';
import { ticks } from '../dist/cli/train/plot.js';
import { compile } from '../dist/compiler/compile.js';
import { OPTIMIZER_DEFAULTS, SUPPORTED_OPTIMIZERS } from '../dist/runtime/optimizers/spec.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KILN = path.join(ROOT, 'bin', 'kiln.js');

/** Learning rates for the optimizers whose default is `required` (the only ones overridden). */
const STATED = {
  sgd: { lr: 0.1, why: '`lr` is required; 0.1 is the usual SGD rate for an MLP on (Fashion-)MNIST' },
  momentum: { lr: 0.01, why: '`lr` is required; 0.01 with momentum 0.9 takes the same effective step as sgd at 0.1' },
  lars: {
    lr: 1.0,
    why: '`lr` is required; with trust_coefficient 1e-3 each layer moves about lr·1e-3 of its norm per step',
  },
  sophia: {
    lr: 1e-3,
    why: "`lr` is required; its update is clipped to ±lr per coordinate, and 1e-3 is Adam's default step",
  },
  muon: {
    lr: 0.02,
    why: '`lr` is required; 0.02 is the rate of the Muon reference code (the biases take the Adam branch at adam_lr = lr)',
  },
  shampoo: {
    lr: 0.01,
    args: 'update_interval = 10',
    why: "`lr` is required; its first steps move each matrix by about lr in every singular direction (as Muon), then decay as AdaGrad's, so AdaGrad's 0.01; roots every 10 steps (a refresh costs 20 Newton steps of 784 × 784 matmuls)",
  },
};

/** adam under each modifier; `clip` adds a clip line to the train block. */
const MODIFIER_RUNS = [
  { id: 'lookahead', optimizer: 'lookahead(adam())' },
  { id: 'cautious', optimizer: 'adam(cautious = true)' },
  {
    id: 'ema',
    optimizer: 'adam(ema = 0.999)',
    note: 'trains exactly as adam; `kiln train --eval` evaluates the raw params, not the EMA',
  },
  { id: 'grad_noise', optimizer: 'adam(grad_noise = 0.01)' },
  { id: 'clip_global_norm', optimizer: 'adam()', clip: 'global_norm(1.0)', note: "the example's clipping" },
  { id: 'clip_value', optimizer: 'adam()', clip: 'value(0.1)' },
];

/** One panel of the picture per family; an optimizer added to the spec later lands in "other". */
const FAMILIES = [
  ['SGD, momentum, AdaGrad line', ['sgd', 'momentum', 'adagrad', 'rmsprop', 'adadelta', 'madgrad']],
  ['Adam and direct variants', ['adam', 'adamw', 'adamax', 'nadam', 'radam', 'adopt']],
  ['Adam relatives', ['adabelief', 'grams', 'diffgrad', 'adabound', 'ademamix', 'adan']],
  ['Sign and layer-wise', ['lion', 'lamb', 'lars', 'novograd']],
  ['Curvature, matrix, parameter-free', ['adahessian', 'sophia', 'muon', 'shampoo', 'prodigy', 'schedule_free_adamw']],
  ['Modifiers (on adam)', MODIFIER_RUNS.map((r) => r.id)],
];
const OTHER = 'Other';

/** Steps skipped at the start of the time per step (compilation, first touches). */
const WARMUP_STEPS = 10;
/** Trailing moving mean of the plotted curves, in steps, and the most points drawn per curve. */
const SMOOTH = 25;
const MAX_POINTS = 200;

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: path.join('docs', 'results', 'atlas') },
      model: { type: 'string', default: path.join('examples', 'fashion_mlp.kiln') },
      steps: { type: 'string', default: '938' }, // one epoch of the 60000 training images at batch 64
      batch: { type: 'string', default: '64' },
      data: { type: 'string', default: 'fashion-mnist' },
      eval: { type: 'string' },
      threads: { type: 'string', default: '1' },
      last: { type: 'string', default: '50' },
      only: { type: 'string' },
      replot: { type: 'boolean', default: false },
    },
  });
  const int = (name) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${values[name]}`);
    return n;
  };
  const data = values.data;
  // fashion-mnist means its train split for --data; the test split is the held-out set.
  const evalData = values.eval ?? (data === 'fashion-mnist' ? 'fashion-mnist:test' : data);
  return {
    out: values.out,
    model: values.model,
    steps: int('steps'),
    batch: int('batch'),
    threads: int('threads'),
    last: int('last'),
    data,
    evalData,
    only: values.only?.split(',').map((s) => s.trim()),
    replot: values.replot,
  };
}

/** Every run of the atlas: the canonical optimizers in family order, then the modifiers. */
export function atlasRuns() {
  const canonical = SUPPORTED_OPTIMIZERS.map((name) => {
    const stated = STATED[name];
    const lr = OPTIMIZER_DEFAULTS[name].lr;
    if (lr === 'required' && !stated) throw new Error(`${name}: lr is required; give it a rate in STATED`);
    return {
      id: name,
      optimizer: stated ? `${name}(lr = ${stated.lr}${stated.args ? `, ${stated.args}` : ''})` : `${name}()`,
      lr: stated ? stated.lr : lr,
      lrSource: stated ? 'stated' : 'default',
      note: stated?.why,
    };
  });
  const modifiers = MODIFIER_RUNS.map((r) => ({ ...r, lr: OPTIMIZER_DEFAULTS.adam.lr, lrSource: 'default' }));
  const order = (id) => {
    const i = FAMILIES.findIndex(([, ids]) => ids.includes(id));
    return i < 0 ? FAMILIES.length : i;
  };
  return [...canonical, ...modifiers]
    .map((r, i) => ({ ...r, family: FAMILIES[order(r.id)]?.[0] ?? OTHER, rank: order(r.id) * 1000 + i }))
    .sort((a, b) => a.rank - b.rank);
}

function label(run) {
  return run.clip ? `${run.optimizer} + clip ${run.clip}` : run.optimizer;
}

/** The model with this run's optimizer line and no schedule or clip lines. */
function modelSource(base, run) {
  const lines = base.split('\n').filter((l) => !/^\s*(schedule|clip)\s/.test(l));
  const at = lines.findIndex((l) => /^\s*optimizer\s/.test(l));
  if (at < 0) throw new Error('the model has no optimizer line');
  const indent = /^\s*/.exec(lines[at])[0];
  const extra = run.clip ? [`${indent}clip      ${run.clip}`] : [];
  lines.splice(at, 1, `${indent}optimizer ${run.optimizer}`, ...extra);
  return lines.join('\n');
}

function kernelCount(file) {
  const lm = loadModel(file, undefined);
  const step = compile(lm.model, lm.train, { target: 'wasm' }).step;
  if (step?.kind !== 'built') throw new Error(`no training step: ${step?.reason}`);
  return step.stages.fusion.program.kernels.length;
}

/** The numbers of one run, from its JSONL log. */
export function summarise(records, last) {
  const steps = records.filter((r) => r.event === 'step');
  const epochs = records.filter((r) => r.event === 'epoch');
  const diverged = records.find((r) => r.event === 'diverged');
  const losses = steps.map((r) => r.loss);
  const tail = losses.slice(-last);
  // The step after an epoch's end also timed its evaluation: leave those out, and the warm-up.
  const afterEval = new Set(epochs.map((e) => e.step + 1));
  let sum = 0;
  let count = 0;
  for (let i = 1; i < steps.length; i++) {
    if (steps[i].step <= Math.min(WARMUP_STEPS, steps.length - 2) || afterEval.has(steps[i].step)) continue;
    sum += steps[i].time - steps[i - 1].time;
    count += 1;
  }
  const lastEpoch = epochs.at(-1);
  return {
    steps: steps.length,
    finalLoss: tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : undefined,
    testAccuracy: lastEpoch?.eval_accuracy,
    testLoss: lastEpoch?.eval_loss,
    msPerStep: count ? (1000 * sum) / count : undefined,
    divergedAt: diverged?.step,
    losses,
  };
}

/** Trailing moving means of the losses, at most MAX_POINTS of them, as [step, loss]. */
export function smoothCurve(losses) {
  const every = Math.max(1, Math.ceil(losses.length / MAX_POINTS));
  const out = [];
  let sum = 0;
  for (let i = 0; i < losses.length; i++) {
    sum += losses[i];
    if (i >= SMOOTH) sum -= losses[i - SMOOTH];
    if ((i + 1) % every === 0 || i === losses.length - 1) out.push([i + 1, sum / Math.min(i + 1, SMOOTH)]);
  }
  return out;
}

function runOne(run, o, tmp, base) {
  const file = path.join(tmp, `${run.id}.kiln`);
  const log = path.join(tmp, `${run.id}.jsonl`);
  fs.writeFileSync(file, modelSource(base, run));
  const kernels = kernelCount(file);
  const args = [
    KILN,
    'train',
    file,
    '--data',
    o.data,
    '--eval',
    o.evalData,
    '--steps',
    String(o.steps),
    '--batch',
    String(o.batch),
    '--seed',
    '0',
    '--target',
    'wasm',
    '--threads',
    String(o.threads),
    '--log',
    log,
  ];
  const t0 = performance.now();
  const p = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  const records = fs.existsSync(log)
    ? fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
    : [];
  const s = summarise(records, o.last);
  const failed = p.status !== 0 && s.divergedAt === undefined ? (p.stderr || p.error?.message || '').trim() : undefined;
  return { ...run, label: label(run), kernels, seconds, ...s, failed, stdout: p.stdout ?? '' };
}

/** What the data was, from the first run's header lines (`kiln train` names the source and its origin). */
function describeData(stdout, o) {
  const train = /^training \S+ on (\d+) examples/m.exec(stdout);
  const origin = /^ {2}data: (.*)$/m.exec(stdout);
  const evalLine = /^ {2}eval: (.*?), (\d+) examples/m.exec(stdout);
  return {
    train: origin ? origin[1] : o.data,
    trainExamples: train ? Number(train[1]) : undefined,
    test: evalLine ? evalLine[1] : o.evalData,
    testExamples: evalLine ? Number(evalLine[2]) : undefined,
  };
}

// ---------------------------------------------------------------------------
// The table

const fmt = {
  lr: (x) => (typeof x === 'number' ? String(Number(x.toPrecision(3))) : String(x)),
  loss: (x) => (x === undefined ? '–' : x.toFixed(4)),
  acc: (x) => (x === undefined ? '–' : `${(100 * x).toFixed(2)}%`),
  ms: (x) => (x === undefined ? '–' : x.toFixed(2)),
};

function markdownTable(rows) {
  const header = ['optimizer', 'family', 'lr', 'final loss', 'test accuracy', 'ms/step', 'kernels', 'notes'];
  const body = rows.map((r) => {
    const notes = [
      r.lrSource === 'stated' ? `stated lr: ${r.note}` : r.note,
      r.divergedAt !== undefined ? `**diverged at step ${r.divergedAt}**` : undefined,
      r.failed ? `**failed**: ${r.failed.split('\n')[0]}` : undefined,
    ].filter(Boolean);
    return [
      `\`${r.label}\``,
      r.family,
      `${fmt.lr(r.lr)} (${r.lrSource})`,
      fmt.loss(r.finalLoss),
      fmt.acc(r.testAccuracy),
      fmt.ms(r.msPerStep),
      String(r.kernels),
      notes.join('; ').replace(/\|/g, '\\|'),
    ];
  });
  return [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function markdown(rows, meta) {
  const best = rows.filter((r) => r.testAccuracy !== undefined).sort((a, b) => b.testAccuracy - a.testAccuracy)[0];
  return [
    '# Optimizer atlas',
    '',
    `\`${meta.command}\`, ${meta.date}: \`${meta.model}\` without its schedule and clipping, ` +
      `${meta.steps} steps of batch ${meta.batch} with every optimizer, \`--seed 0 --target wasm --threads ${meta.threads}\`.`,
    '',
    `Data: ${meta.data.train}${meta.data.trainExamples ? ` (${meta.data.trainExamples} examples)` : ''}; ` +
      `test: ${meta.data.test}${meta.data.testExamples ? ` (${meta.data.testExamples} examples)` : ''}.`,
    '',
    `Final loss: mean training loss of the last ${meta.last} steps. Test accuracy: after the last step ` +
      '(schedule_free_adamw at its evaluation point x). ms/step: mean wall time of a training step in the ' +
      `loop, the first ${WARMUP_STEPS} steps and the steps after an evaluation left out. Kernels: kernels of the ` +
      'compiled training step (wasm). Every lr not marked "stated" is the documented default.',
    '',
    `Machine: ${meta.machine}; load average ${meta.load} at the start, so the times are indicative. ` +
      `The whole atlas took ${meta.wallSeconds.toFixed(0)} s.`,
    '',
    markdownTable(rows),
    '',
    best ? `Best test accuracy: \`${best.label}\`, ${fmt.acc(best.testAccuracy)}.` : '',
    '',
    '![loss curves](atlas.svg)',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------
// The picture: one panel per family on a shared log-scale loss axis, adam dashed grey in
// every panel without it, so each panel reads against the same reference.

const PANEL_W = 400;
const PANEL_H = 300;
const COLS = 3;
const M = { left: 52, right: 12, top: 26, bottom: 34 };
const HEADER = 48;

export function atlasSvg(rows, meta) {
  const families = [...new Set(rows.map((r) => r.family))];
  const curves = new Map(rows.map((r) => [r.id, r.curve]));
  const values = [...curves.values()].flatMap((c) => c.map((p) => p[1])).filter((v) => Number.isFinite(v) && v > 0);
  // The top is the 75th percentile of the starting losses, so an optimizer that starts with a
  // spike (or diverges) runs off the top instead of squeezing every other curve into the bottom.
  const firsts = [...curves.values()]
    .map((c) => c[0]?.[1])
    .filter((v) => Number.isFinite(v) && v > 0)
    .sort((a, b) => a - b);
  const top = firsts.length ? firsts[Math.floor(0.75 * (firsts.length - 1))] : Math.max(...values, 1);
  const lo = Math.min(...values, top / 2) * 0.95;
  const hi = top * 1.05;
  const rowsN = Math.ceil(families.length / COLS);
  const width = COLS * PANEL_W;
  const height = HEADER + rowsN * PANEL_H;
  const reference = rows.find((r) => r.id === 'adam');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(meta.title)}</text>`,
    `<text x="${width / 2}" y="36" text-anchor="middle" fill="#555">${escapeXml(meta.subtitle)}</text>`,
  ];
  families.forEach((family, i) => {
    const x = (i % COLS) * PANEL_W;
    const y = HEADER + Math.floor(i / COLS) * PANEL_H;
    const members = rows.filter((r) => r.family === family);
    const ref = reference && !members.includes(reference) ? reference : undefined;
    out.push(panel(family, members, ref, curves, { x, y, lo, hi, steps: meta.steps, index: i }));
  });
  out.push('</svg>', '');
  return out.join('\n');
}

function panel(family, members, ref, curves, g) {
  const x0 = g.x + M.left;
  const x1 = g.x + PANEL_W - M.right;
  const y0 = g.y + PANEL_H - M.bottom;
  const y1 = g.y + M.top;
  const sx = (s) => x0 + ((x1 - x0) * s) / g.steps;
  const sy = (v) => y0 - ((y0 - y1) * Math.log(v / g.lo)) / Math.log(g.hi / g.lo);
  const clip = `clip${g.index}`;
  const out = [
    `<g>`,
    `<clipPath id="${clip}"><rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}"/></clipPath>`,
    `<text x="${(x0 + x1) / 2}" y="${g.y + 16}" text-anchor="middle" font-size="12" font-weight="bold">${escapeXml(family)}</text>`,
  ];
  for (const t of logTicks(g.lo, g.hi))
    out.push(
      `<line x1="${x0}" y1="${f(sy(t))}" x2="${x1}" y2="${f(sy(t))}" stroke="#eee"/>`,
      `<text x="${x0 - 4}" y="${f(sy(t) + 4)}" text-anchor="end">${t}</text>`,
    );
  for (const t of ticks(0, g.steps)) out.push(`<text x="${f(sx(t))}" y="${y0 + 14}" text-anchor="middle">${t}</text>`);
  out.push(
    `<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#888"/>`,
    `<text x="${(x0 + x1) / 2}" y="${y0 + 28}" text-anchor="middle" fill="#555">step</text>`,
    `<text x="${g.x + 14}" y="${(y0 + y1) / 2}" text-anchor="middle" fill="#555" transform="rotate(-90 ${g.x + 14} ${(y0 + y1) / 2})">training loss (log)</text>`,
  );
  const pathOf = (id) =>
    curves
      .get(id)
      .filter((p) => Number.isFinite(p[1]) && p[1] > 0)
      .map((p, k) => `${k ? 'L' : 'M'}${f(sx(p[0]))},${f(sy(Math.min(p[1], g.hi * 10)))}`)
      .join('');
  const legend = [];
  if (ref) {
    out.push(
      `<path class="reference" d="${pathOf(ref.id)}" fill="none" stroke="#999" stroke-width="1.2" stroke-dasharray="4 3" clip-path="url(#${clip})"/>`,
    );
    legend.push({ text: 'adam (reference)', color: '#999', dash: true });
  }
  members.forEach((r, k) => {
    const color = schemeTableau10[k % schemeTableau10.length];
    out.push(
      `<path class="curve" data-run="${escapeXml(r.id)}" d="${pathOf(r.id)}" fill="none" stroke="${color}" stroke-width="1.5" clip-path="url(#${clip})"/>`,
    );
    const tail =
      r.divergedAt !== undefined ? 'diverged' : r.finalLoss === undefined ? 'failed' : r.finalLoss.toFixed(3);
    legend.push({ text: `${r.label} ${tail}`, color, dash: false });
  });
  const lw = 34 + 6.2 * Math.max(...legend.map((l) => l.text.length)); // about 6.2 px a character at 11 px
  const lx = x1 - lw - 4;
  out.push(
    `<rect x="${f(lx)}" y="${y1 + 4}" width="${f(lw)}" height="${14 * legend.length + 6}" fill="white" fill-opacity="0.85"/>`,
  );
  legend.forEach((l, k) => {
    const ly = y1 + 16 + 14 * k;
    out.push(
      `<line x1="${f(lx + 4)}" y1="${ly - 4}" x2="${f(lx + 22)}" y2="${ly - 4}" stroke="${l.color}" stroke-width="2.5"${l.dash ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<text x="${f(lx + 26)}" y="${ly}">${escapeXml(l.text)}</text>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

/** 1-2-5 ticks, with 3 and 4 added when the range is narrow. */
function logTicks(lo, hi) {
  const all = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 1.5, 2, 3, 4, 5, 7]) all.push(Number((m * 10 ** e).toPrecision(3)));
  const inside = all.filter((t) => t >= lo && t <= hi);
  return inside.length > 8 ? inside.filter((t) => /^[125]/.test(String(t).replace(/^0\.0*/, ''))) : inside;
}

function f(v) {
  return v.toFixed(1);
}

function escapeXml(s) {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---------------------------------------------------------------------------

/** atlas.md and atlas.svg from the record, and the record itself as atlas.json. */
function writeOutputs(record, [md, svg, json]) {
  const meta = record.settings;
  writeFileAtomic(md, markdown(record.runs, meta));
  writeFileAtomic(
    svg,
    atlasSvg(record.runs, {
      title: `Kiln optimizer atlas: ${path.basename(meta.model)}, ${meta.steps} steps of batch ${meta.batch}, seed 0, wasm`,
      subtitle: `training loss, trailing mean of ${meta.smooth} steps, log scale; data: ${meta.data.train}; legend: final loss (mean of the last ${meta.last} steps)`,
      steps: meta.steps,
    }),
  );
  writeFileAtomic(json, `${JSON.stringify(record, null, 1)}\n`);
}

async function main(argv) {
  const o = options(argv);
  const outputs = ['atlas.md', 'atlas.svg', 'atlas.json'].map((n) => path.join(o.out, n));
  if (o.replot) {
    // Redraw the table and the picture from a finished atlas, without training.
    writeOutputs(JSON.parse(fs.readFileSync(outputs[2], 'utf8')), outputs);
    console.log(`rewrote ${outputs[0]}, ${outputs[1]} from ${outputs[2]}`);
    return 0;
  }
  let runs = atlasRuns();
  if (o.only) {
    const unknown = o.only.filter((id) => !runs.some((r) => r.id === id));
    if (unknown.length) throw new Error(`--only: unknown runs ${unknown.join(', ')} (known: ${runs.map((r) => r.id)})`);
    runs = runs.filter((r) => o.only.includes(r.id));
  }
  // Check the outputs before hours of training: never over the model or the data.
  fs.mkdirSync(o.out, { recursive: true });
  const reads = [o.data, o.evalData].filter((d) => fs.existsSync(d));
  for (const out of outputs) checkOutputPath(out, o.model, reads);
  const outDir = fs.realpathSync(o.out);
  for (const d of reads) {
    const dir = fs.realpathSync(d);
    if (fs.statSync(dir).isDirectory() && (outDir === dir || outDir.startsWith(dir + path.sep)))
      throw new Error(`--out ${o.out} is inside the data ${d}; write the results elsewhere`);
  }

  const base = fs.readFileSync(o.model, 'utf8');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-atlas-'));
  const load = os.loadavg()[0].toFixed(1);
  const t0 = performance.now();
  const rows = [];
  try {
    for (const [i, run] of runs.entries()) {
      const r = runOne(run, o, tmp, base);
      rows.push(r);
      console.log(
        `[${i + 1}/${runs.length}] ${r.label.padEnd(36)} loss ${fmt.loss(r.finalLoss)}  test ${fmt.acc(r.testAccuracy)}  ` +
          `${fmt.ms(r.msPerStep)} ms/step  ${r.kernels} kernels  (${r.seconds.toFixed(1)} s)` +
          (r.divergedAt !== undefined ? `  diverged at step ${r.divergedAt}` : '') +
          (r.failed ? `  FAILED: ${r.failed.split('\n')[0]}` : ''),
      );
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const data = describeData(rows[0]?.stdout ?? '', o);
  const cpus = os.cpus();
  const meta = {
    command: `npm run atlas -- ${argv.join(' ')}`.trim().replace(/ --$/, ''),
    date: new Date().toISOString().slice(0, 10),
    model: o.model,
    steps: o.steps,
    batch: o.batch,
    threads: o.threads,
    last: o.last,
    data,
    machine: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`,
    load,
    wallSeconds: (performance.now() - t0) / 1000,
  };
  const record = {
    settings: { ...meta, smooth: SMOOTH, warmupSteps: WARMUP_STEPS },
    runs: rows.map((r) => ({
      id: r.id,
      label: r.label,
      family: r.family,
      lr: r.lr,
      lrSource: r.lrSource,
      note: r.note,
      finalLoss: r.finalLoss,
      testLoss: r.testLoss,
      testAccuracy: r.testAccuracy,
      msPerStep: r.msPerStep,
      kernels: r.kernels,
      steps: r.steps,
      divergedAt: r.divergedAt,
      failed: r.failed,
      curve: smoothCurve(r.losses).map(([s, l]) => [s, Number(l.toPrecision(5))]),
    })),
  };
  writeOutputs(record, outputs);
  console.log(`data: ${data.train}; test: ${data.test}`);
  console.log(`wrote ${outputs.join(', ')} in ${meta.wallSeconds.toFixed(0)} s`);
  return rows.some((r) => r.failed) ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`atlas: ${e.message}`);
      process.exit(1);
    },
  );
}
