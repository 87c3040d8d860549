// The browser example: loads the artifact built by serve.mjs (fashion_mlp
// compiled with `--entries attribute`, trained params) with Kiln's runtime,
// classifies a chosen or drawn 28x28 image and paints the attribution of the
// attributed class's probability as a heat map. Plain ES module, no bundler:
// the runtime comes from the repository's dist/runtime (`npm run build`).
//
// `window.kilnExample` exposes the state for tests/browser/example.test.ts:
// `status` ('loading' | 'ready' | 'error'), `runs` (finished attributions)
// and `last` (the last attribution's request and result, plain arrays).

/* global document, window, navigator, self, fetch, performance, atob, requestAnimationFrame, Option */

import { loadModel } from '../../dist/runtime/index.js';
import { inferno } from './inferno.mjs';

const $ = (id) => document.getElementById(id);
const SIDE = 28;
const N = SIDE * SIDE;

const state = { status: 'loading', runs: 0, last: undefined, error: undefined };
window.kilnExample = state;

const pixels = new Float32Array(N); // the input, in [0, 1] like the training data (u8 / 255)
let model;
let images;
let classes;
let baselineImages; // expected gradients' x': the shipped images
let seq = 0; // the latest attribution request; older results are dropped
let picked = -1; // the shipped image shown (-1: drawn)

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

/** The model's inputs for one example; `y` (the label, only the loss reads it) is a dummy. */
function inputsOf(x) {
  return { x: { data: x, shape: [1, N] }, y: { data: new Int32Array(1), shape: [1] } };
}

function paintGray(canvas, values) {
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < N; i++) {
    const g = Math.round(255 * Math.max(0, Math.min(1, values[i])));
    img.data.set([g, g, g, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * |attr| scaled as `kiln attribute --png` scales it: divided by its 99th
 * percentile (so a few extreme pixels do not wash out the rest), clamped to 1.
 */
function heatOf(attr) {
  const mag = Array.from(attr, Math.abs);
  const sorted = [...mag].sort((p, q) => p - q);
  const top = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] || sorted.at(-1) || 1;
  return mag.map((m) => Math.min(1, m / (top || 1)));
}

function paintHeat(attr) {
  const heat = heatOf(attr);
  const h = $('heat').getContext('2d');
  const o = $('overlay').getContext('2d');
  const hi = h.createImageData(SIDE, SIDE);
  const oi = o.createImageData(SIDE, SIDE);
  for (let i = 0; i < N; i++) {
    const [r, g, b] = inferno(heat[i]);
    hi.data.set([r, g, b, 255], 4 * i);
    // The image in grey under the heat, more opaque where attribution is high.
    const a = 0.25 + 0.75 * heat[i];
    const grey = 255 * pixels[i] * 0.6;
    oi.data.set([(1 - a) * grey + a * r, (1 - a) * grey + a * g, (1 - a) * grey + a * b, 255], 4 * i);
  }
  h.putImageData(hi, 0, 0);
  o.putImageData(oi, 0, 0);
}

function showProbs(probs, attributed) {
  const top = probs.indexOf(Math.max(...probs));
  const table = $('probs');
  table.replaceChildren();
  probs.forEach((p, k) => {
    const tr = table.insertRow();
    tr.className = (k === top ? 'top ' : '') + (k === attributed ? 'attributed' : '');
    tr.insertCell().textContent = classes[k];
    const bar = document.createElement('div');
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    const cell = tr.insertCell();
    cell.className = 'bar';
    cell.append(bar);
    tr.insertCell().textContent = `${(100 * p).toFixed(1)}%`;
  });
}

async function predict() {
  const { probs } = await model.run(inputsOf(pixels.slice()), { outputs: ['probs'] });
  return Array.from(probs.data);
}

/** One attribution of the current image with the chosen options; paints it unless a newer one started. */
async function attribute() {
  const id = ++seq;
  const method = $('method').value;
  const points = Math.max(1, Math.min(1000, Math.round(Number($('points').value) || 50)));
  const cls = $('class').value;
  const opts = {
    method,
    wrt: 'x',
    of: 'probs',
    steps: points,
    samples: points,
    seed: 0,
    ...(cls !== '' && { classIndex: Number(cls) }),
    ...(method === 'expected_gradients' && { baseline: baselineImages }),
  };
  const x = pixels.slice();
  const image = picked;
  setStatus(`${method}…`);
  const t0 = performance.now();
  try {
    const probs = await predict();
    const r = await model.attribute(inputsOf(x), opts);
    const ms = performance.now() - t0;
    if (id !== seq) return;
    paintHeat(r.attr);
    showProbs(probs, r.classes[0]);
    let sum = 0;
    for (const v of r.attr) sum += v;
    // Integrated gradients' completeness: sum(attr) ~ F(x) - F(0).
    let complete = '';
    if (method === 'integrated_gradients') {
      const { probs: p0 } = await model.run(inputsOf(new Float32Array(N)), { outputs: ['probs'] });
      const gap = r.scores[0] - p0.data[r.classes[0]];
      complete = `; completeness: sum(attr) = ${sum.toFixed(4)}, F(x) − F(0) = ${gap.toFixed(4)}`;
    }
    $('info').textContent =
      `${method} of p(${classes[r.classes[0]]}) = ${r.scores[0].toFixed(4)}: ` +
      `${r.calls} model call(s), ${ms.toFixed(0)} ms, ${model.threads} thread(s)${complete}`;
    setStatus(`ready (${model.target}; ${state.params})`);
    state.last = {
      method,
      image,
      options: { steps: points, samples: points, seed: 0, classIndex: cls === '' ? undefined : Number(cls) },
      x: Array.from(x),
      probs,
      attr: Array.from(r.attr),
      shape: Array.from(r.shape),
      classes: Array.from(r.classes),
      scores: Array.from(r.scores),
      calls: r.calls,
    };
    state.runs++;
  } catch (e) {
    setStatus(`${method} failed: ${e instanceof Error ? e.message : String(e)}`, true);
    state.error = String(e);
  }
}

function pick(i) {
  picked = i;
  const bytes = Uint8Array.from(atob(images[i].pixels), (c) => c.charCodeAt(0));
  for (let j = 0; j < N; j++) pixels[j] = bytes[j] / 255;
  document.querySelectorAll('#thumbs button').forEach((b, k) => b.classList.toggle('on', k === i));
  paintGray($('image'), pixels);
  return attribute();
}

/** Drawing: a soft round brush on the 28x28 grid; Shift or the right button erases. */
function setUpDrawing() {
  const canvas = $('image');
  let drawing = false;
  let erase = false;
  let frame = 0;
  const stroke = (e) => {
    const box = canvas.getBoundingClientRect();
    const cx = ((e.clientX - box.left) / box.width) * SIDE - 0.5;
    const cy = ((e.clientY - box.top) / box.height) * SIDE - 0.5;
    const radius = erase ? 2.5 : 1.6;
    for (let y = Math.floor(cy - radius); y <= Math.ceil(cy + radius); y++)
      for (let x = Math.floor(cx - radius); x <= Math.ceil(cx + radius); x++) {
        if (x < 0 || y < 0 || x >= SIDE || y >= SIDE) continue;
        const v = Math.max(0, 1 - Math.hypot(x - cx, y - cy) / radius);
        const i = y * SIDE + x;
        pixels[i] = erase ? Math.min(pixels[i], 1 - v) : Math.max(pixels[i], Math.min(1, 1.5 * v));
      }
    paintGray(canvas, pixels);
    // Live prediction while drawing, at most once a frame.
    if (!frame)
      frame = requestAnimationFrame(async () => {
        frame = 0;
        showProbs(await predict(), -1);
      });
  };
  canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    erase = e.shiftKey || e.button === 2;
    canvas.setPointerCapture(e.pointerId);
    document.querySelectorAll('#thumbs button').forEach((b) => b.classList.remove('on'));
    picked = -1;
    stroke(e);
  });
  canvas.addEventListener('pointermove', (e) => drawing && stroke(e));
  const end = () => {
    if (!drawing) return;
    drawing = false;
    void attribute();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
}

try {
  const here = new URL('.', import.meta.url);
  const [data, about] = await Promise.all([
    fetch(new URL('images.json', here)).then((r) => r.json()),
    fetch(new URL('artifact/about.json', here)).then((r) => (r.ok ? r.json() : { params: 'unknown params' })),
  ]);
  images = data.images;
  classes = data.classes;
  state.params = about.params;
  const threads = self.crossOriginIsolated ? Math.min(2, navigator.hardwareConcurrency || 1) : 1;
  model = await loadModel(new URL('artifact/', here).href, { threads });
  baselineImages = { data: new Float32Array(images.length * N), shape: [images.length, N] };
  images.forEach((im, k) => {
    const bytes = Uint8Array.from(atob(im.pixels), (c) => c.charCodeAt(0));
    for (let j = 0; j < N; j++) baselineImages.data[k * N + j] = bytes[j] / 255;
  });
  // Expected gradients need baseline examples x': the shipped images serve.
  $('method').add(new Option('expected gradients', 'expected_gradients'));
  classes.forEach((c, k) => $('class').add(new Option(c, String(k))));
  images.forEach((im, i) => {
    const b = document.createElement('button');
    b.title = `test image ${im.index}: ${classes[im.label]}`;
    b.dataset.index = String(i);
    const c = document.createElement('canvas');
    c.width = c.height = SIDE;
    paintGray(
      c,
      Float32Array.from(atob(im.pixels), (ch) => ch.charCodeAt(0) / 255),
    );
    b.append(c);
    b.addEventListener('click', () => pick(i));
    $('thumbs').append(b);
  });
  for (const id of ['method', 'class']) $(id).addEventListener('change', () => attribute());
  $('points').addEventListener('change', () => attribute());
  $('attribute').addEventListener('click', () => attribute());
  $('clear').addEventListener('click', () => {
    pixels.fill(0);
    picked = -1;
    paintGray($('image'), pixels);
    document.querySelectorAll('#thumbs button').forEach((b) => b.classList.remove('on'));
    void attribute();
  });
  setUpDrawing();
  state.status = 'ready';
  await pick(0);
} catch (e) {
  state.status = 'error';
  state.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  setStatus(
    `could not start: ${state.error}\n(run \`npm run example:browser\`, which builds dist/ and the artifact)`,
    true,
  );
}
