// The Kiln playground: edit a model, see the compiler's diagnostics inline
// and the fused kernels it makes, train it in the page on Fashion-MNIST
// (WebGPU when the browser has it, else WebAssembly, on worker threads when
// the page is cross-origin isolated) and share it through the URL.
//
// `window.kilnPlayground` (PlaygroundState) exposes what the page did, for
// tests/browser/playground.test.ts.

import type { Diagnostic } from '@codemirror/lint';
import type { EditorView } from 'codemirror';
import type { Model } from '../../runtime/index.js';
import examples from 'virtual:kiln-examples';
import { TrainingChart } from './chart.js';
import { type Checked, check } from './check.js';
import { type FashionMnist, loadFashionMnist } from './data.js';
import { createEditor, setText } from './editor.js';
import { showPredictions } from './grid.js';
import { type KernelView, kernelCode, kernelView } from './kernels.js';
import { shareHash, sourceOfHash } from './share.js';
import { type BackendName, bindModel, loadForTraining, trainLoop } from './train.js';

const DEFAULT_EXAMPLE = 'fashion_mlp';
const LINT_DELAY_MS = 300;
const EVAL_IMAGES = 500;
const GRID_IMAGES = 32;

interface Run {
  backend: BackendName;
  device: string;
  threads: number;
  steps: number;
  losses: number[];
  accuracy?: number;
  ms: number;
}

interface PlaygroundState {
  status: 'loading' | 'ready' | 'training' | 'error';
  error?: string;
  crossOriginIsolated: boolean;
  /** Whether navigator.gpu gave an adapter. */
  webgpu: boolean;
  /** Finished checks of the editor's text, and the last one's diagnostics. */
  checks: number;
  diagnostics: { line: number; col: number; message: string }[];
  /** Kernel tables shown. */
  kernelViews: number;
  runs: Run[];
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const state: PlaygroundState = {
  status: 'loading',
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  webgpu: false,
  checks: 0,
  diagnostics: [],
  kernelViews: 0,
  runs: [],
};
(window as unknown as { kilnPlayground: PlaygroundState }).kilnPlayground = state;

const threads = state.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
let checked: Checked = { diagnostics: [] };
let view: KernelView | undefined;
let viewKey = '';
let model: Model | undefined;
let stopping = false;
let data: Promise<FashionMnist> | undefined;
let editor: EditorView;

function setStatus(text: string, error = false): void {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

function fail(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  state.status = 'error';
  state.error = message;
  setStatus(message, true);
  console.error(e);
}

function backend(): BackendName {
  return ($<HTMLSelectElement>('backend').value as BackendName) || 'wasm';
}

async function detectWebGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** The linter's source: the compiler's diagnostics of `text`; a clean model also refreshes the kernels. */
function lint(text: string): readonly Diagnostic[] {
  checked = check(text);
  state.checks++;
  state.diagnostics = checked.diagnostics.map((d) => {
    const line = editor.state.doc.lineAt(Math.min(d.from, editor.state.doc.length));
    return { line: line.number, col: d.from - line.from + 1, message: d.message };
  });
  const n = checked.diagnostics.length;
  $('check').textContent =
    n === 0 ? (checked.model ? `✓ model ${checked.model.name}` : 'no model') : `${n} error${n === 1 ? '' : 's'}`;
  $('check').className = n === 0 && checked.model ? 'ok' : 'bad';
  setTimeout(refreshKernels, 0);
  return checked.diagnostics;
}

/** Recompiles the kernel table when the checked model or the back end changed. */
function refreshKernels(): void {
  const { model: m, train } = checked;
  if (!m) return;
  const key = `${backend()}\n${editor.state.doc.toString()}`;
  if (key === viewKey) return;
  viewKey = key;
  try {
    view = kernelView(m, train, backend());
  } catch (e) {
    view = undefined;
    $('kernels').textContent = `compiler error: ${e instanceof Error ? e.message : String(e)}`;
    return;
  }
  $('kernels').textContent = view.text;
  const select = $<HTMLSelectElement>('kernel');
  const before = select.value;
  select.replaceChildren(
    ...view.kernels.map(
      (k) => new Option(`${k.name} (${k.kind}${k.ops.length ? `: ${k.ops.slice(0, 3).join(', ')}` : ''})`, k.name),
    ),
  );
  if (view.kernels.some((k) => k.name === before)) select.value = before;
  state.kernelViews++;
  void showKernel();
}

async function showKernel(): Promise<void> {
  const v = view;
  const k = v?.kernels.find((k) => k.name === $<HTMLSelectElement>('kernel').value);
  if (!v || !k) return;
  $('code-title').textContent = v.compilation.target === 'webgpu' ? 'WGSL' : 'WebAssembly (WAT)';
  try {
    const text = await kernelCode(v, k);
    if (view === v) $('code').textContent = text;
  } catch (e) {
    $('code').textContent = `code generation failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

async function train(): Promise<void> {
  // The text as it is now, not as the linter last saw it.
  checked = check(editor.state.doc.toString());
  const { model: m, train: t } = checked;
  if (!m) return fail(new Error(checked.diagnostics.length > 0 ? 'fix the errors first' : 'the text defines no model'));
  if (!t) return fail(new Error(`model ${m.name} has no train block`));
  const steps = Math.max(1, Math.round(Number($<HTMLInputElement>('steps').value) || 200));
  const batch = Math.max(1, Math.round(Number($<HTMLInputElement>('batch').value) || 32));
  const be = backend();
  state.status = 'training';
  stopping = false;
  $<HTMLButtonElement>('train').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  const chart = charts();
  chart.clear();
  try {
    setStatus(`compiling ${m.name} for ${be}…`);
    model?.dispose();
    model = undefined;
    const loaded = await loadForTraining(m, t, be, threads);
    model = loaded;
    const binding = bindModel(loaded.inputs, loaded.outputs);
    if (typeof binding === 'string') throw new Error(binding);
    setStatus('loading Fashion-MNIST…');
    const set = await (data ??= loadFashionMnist(new URL('../data/fashion-mnist-subset/', location.href)));
    const started = performance.now();
    let accuracy: number | undefined;
    const losses = await trainLoop(loaded, binding, set, {
      steps,
      batch,
      evalEvery: 50,
      evalImages: EVAL_IMAGES,
      onStep: (step, loss) => {
        chart.addLoss(step, loss);
        if (step % 5 === 0 || step === steps) chart.redraw();
        setStatus(`${loaded.device}: step ${step}/${steps}, loss ${loss.toFixed(4)}`);
      },
      onEval: (step, r) => {
        accuracy = r.accuracy;
        chart.addAccuracy(step, r.accuracy);
        chart.redraw();
        showPredictions($('grid'), set.test, r.predicted.slice(0, GRID_IMAGES));
        $('accuracy').textContent =
          `— test accuracy ${(100 * r.accuracy).toFixed(1)}% (first ${EVAL_IMAGES} test images, step ${step})`;
      },
      stopped: () => stopping,
    });
    const ms = performance.now() - started;
    state.runs.push({
      backend: be,
      device: loaded.device,
      threads: loaded.threads,
      steps: losses.length,
      losses,
      ...(accuracy !== undefined && { accuracy }),
      ms,
    });
    state.status = 'ready';
    setStatus(
      `${loaded.device}: ${losses.length} steps in ${(ms / 1000).toFixed(1)} s, loss ${losses[0]?.toFixed(3)} → ${losses.at(-1)?.toFixed(3)}`,
    );
  } catch (e) {
    fail(e);
  } finally {
    $<HTMLButtonElement>('train').disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

let chartInstance: TrainingChart | undefined;
function charts(): TrainingChart {
  return (chartInstance ??= new TrainingChart($('chart')));
}

function share(): void {
  const hash = shareHash(editor.state.doc.toString());
  history.replaceState(null, '', hash);
  void navigator.clipboard?.writeText(location.href).catch(() => {});
  setStatus(`link to this model: ${location.href.length} characters (copied to the clipboard when allowed)`);
}

async function main(): Promise<void> {
  const exampleSelect = $<HTMLSelectElement>('example');
  const shared = sourceOfHash(location.hash);
  exampleSelect.replaceChildren(
    ...(shared === undefined ? [] : [new Option('(shared model)', '')]),
    ...Object.keys(examples).map((name) => new Option(name, name)),
  );
  exampleSelect.value = shared === undefined ? DEFAULT_EXAMPLE : '';
  editor = createEditor({
    parent: $('editor'),
    text: shared ?? examples[DEFAULT_EXAMPLE] ?? '',
    lint,
    delay: LINT_DELAY_MS,
  });
  exampleSelect.addEventListener('change', () => {
    history.replaceState(null, '', location.pathname);
    setText(editor, examples[exampleSelect.value] ?? '');
  });

  state.webgpu = await detectWebGpu();
  const backendSelect = $<HTMLSelectElement>('backend');
  backendSelect.replaceChildren(
    new Option(`WebGPU${state.webgpu ? '' : ' (not available)'}`, 'webgpu'),
    new Option(`WebAssembly SIMD, ${threads} thread${threads === 1 ? '' : 's'}`, 'wasm'),
  );
  (backendSelect.options[0] as HTMLOptionElement).disabled = !state.webgpu;
  backendSelect.value = state.webgpu ? 'webgpu' : 'wasm';
  backendSelect.addEventListener('change', refreshKernels);
  $('kernel').addEventListener('change', () => void showKernel());
  $('train').addEventListener('click', () => void train());
  $('stop').addEventListener('click', () => (stopping = true));
  $('share').addEventListener('click', share);
  $('isolation').textContent = state.crossOriginIsolated
    ? `cross-origin isolated: wasm on ${threads} threads`
    : 'not cross-origin isolated: wasm on 1 thread';
  state.status = 'ready';
  setStatus('ready');
}

main().catch(fail);
