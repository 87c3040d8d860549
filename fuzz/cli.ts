// `npm run fuzz -- --minutes N --seed S [--target wasm|webgpu] [--jobs J] [--programs P] [--first F] [--out DIR]
// [--threads2] [--no-steer] [--timeout SEC]`: a campaign on J worker threads
// (default: every core). Worker w runs the programs F + w, F + w + J, ... until
// the time or program budget is spent (P counts from index 0, so `--first`
// continues a campaign where an earlier run of the same seed stopped), each
// program steered toward rarely reached builtins (steer.ts), shrinks each
// failure and writes it to DIR (default fuzz-out/); the main thread prints a
// progress line and, at the end, the coverage (DIR/coverage.json, rewritten
// with every progress line). One program in 8 also runs on 2 threads against
// 1 (`--threads2`: every program). `--target webgpu` tests the WebGPU runtime
// instead of wasm (each worker holds its own Dawn device); programs it cleanly
// refuses are counted, with their reasons.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { BUILTINS } from '../compiler/decompose.js';
import { requestGpuDevice } from '../runtime/webgpu/device.js';
import { fuzzOne, programSeed, shrinkFailure, writeFailure } from './campaign.js';
import { type KernelCoverage, Tally } from './coverage.js';
import { generate } from './generate.js';
import { Steering } from './steer.js';

const TARGETS = ['wasm', 'webgpu'] as const;
type TargetName = (typeof TARGETS)[number];

interface Options {
  readonly target: TargetName;
  readonly minutes: number;
  readonly seed: number;
  readonly jobs: number;
  readonly programs: number;
  readonly out: string;
  /** Every how many programs the 2-thread oracle runs (1: all; it costs a worker start). */
  readonly threads2Every: number;
  /** Seconds one program may take before it is reported as a hang. */
  readonly timeout: number;
  /** The first program index (continuing a campaign). */
  readonly first: number;
  /** Steer generation toward rarely reached builtins (default true). */
  readonly steer: boolean;
}

interface Job extends Options {
  /** This worker's first program index (then every `jobs`-th). */
  readonly start: number;
  /** When to stop (ms since the epoch). */
  readonly until: number;
}

interface Reached {
  readonly builtins: readonly string[];
  readonly kernels: KernelCoverage;
}

type Message =
  | { readonly type: 'start'; readonly index: number; readonly seed: number; readonly source: string }
  | ({ readonly type: 'done'; readonly refused?: string; readonly singular?: boolean } & Reached)
  | ({
      readonly type: 'failure';
      readonly kind: string;
      readonly where: string;
      readonly file: string;
    } & Reached);

function parseArgs(argv: readonly string[]): Options {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const target = get('--target') ?? 'wasm';
  if (!(TARGETS as readonly string[]).includes(target))
    throw new Error(`--target ${target}: expected one of ${TARGETS.join(', ')}`);
  if (target !== 'wasm' && argv.includes('--threads2'))
    throw new Error('--threads2 compares wasm on 2 threads with 1: it needs --target wasm');
  const num = (flag: string, dflt: number): number => {
    const v = get(flag);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} ${v}: expected a non-negative number`);
    return n;
  };
  return {
    target: target as TargetName,
    minutes: num('--minutes', 1),
    seed: num('--seed', 1),
    jobs: Math.max(1, num('--jobs', availableParallelism())),
    programs: num('--programs', Infinity),
    out: get('--out') ?? 'fuzz-out',
    threads2Every: argv.includes('--threads2') ? 1 : 8,
    timeout: num('--timeout', 120),
    first: num('--first', 0),
    steer: !argv.includes('--no-steer'),
  };
}

async function work(job: Job): Promise<void> {
  const steering = new Steering(job.seed);
  for (let i = job.start; i < job.programs && Date.now() < job.until; i += job.jobs) {
    const g = job.steer ? steering.program(i) : generate(programSeed(job.seed, i));
    parentPort!.postMessage({ type: 'start', index: i, seed: g.seed, source: g.source } satisfies Message);
    const opts = { threads2: job.target === 'wasm' && i % job.threads2Every === 0, target: job.target };
    const r = await fuzzOne(job.seed, i, opts, g);
    if (!r.failure) {
      const refused = r.refused !== undefined ? { refused: r.refused } : {};
      parentPort!.postMessage({
        type: 'done',
        builtins: r.builtins,
        kernels: r.kernels,
        ...refused,
        ...(r.singular && { singular: true }),
      } satisfies Message);
      continue;
    }
    const shrunk = await shrinkFailure(r.failed!, r.failure, opts);
    const file = await writeFailure(job.out, r, shrunk);
    parentPort!.postMessage({
      type: 'failure',
      builtins: r.builtins,
      kernels: r.kernels,
      kind: r.failure.kind,
      where: r.failure.where,
      file,
    } satisfies Message);
  }
}

/** Writes the program that hung (unshrunk: each try could hang again); returns its path. */
function writeHang(opts: Options, index: number, seed: number, source: string): string {
  mkdirSync(opts.out, { recursive: true });
  const base = join(opts.out, `hang-${seed}`);
  writeFileSync(`${base}.kiln`, source);
  writeFileSync(`${base}.txt`, `kind: hang\nprogram: index ${index}, seed ${seed}; over ${opts.timeout} s\n`);
  return `${base}.kiln`;
}

async function main(opts: Options): Promise<number> {
  const start = Date.now();
  const builtins = new Tally();
  const pairs = new Tally();
  const templates = new Tally();
  const failures: string[] = [];
  let programs = 0;
  let generatorBugs = 0;
  /** Programs the target refused, by reason (numbers blanked, so reasons that differ only in sizes group). */
  const refusals = new Map<string, number>();
  let refused = 0;
  /** Programs whose forward-vs-reverse comparison met a singular point (oracles.ts fwdrev). */
  let singular = 0;
  const missed = () => [...BUILTINS.keys()].filter((b) => !builtins.counts.has(b));
  const line = () => {
    const s = (Date.now() - start) / 1000;
    const hit = BUILTINS.size - missed().length;
    const skipped = opts.target === 'wasm' ? '' : `, refused ${refused}`;
    return (
      `[${s.toFixed(0)}s] ${opts.target}: ${programs} programs (${(programs / s).toFixed(2)}/s), builtins ${hit}/${BUILTINS.size}, ` +
      `fused pairs ${pairs.counts.size}, kernel templates ${templates.counts.size}, ` +
      `failures ${failures.length} (generator bugs ${generatorBugs})${skipped}`
    );
  };
  const report = () => ({
    seed: opts.seed,
    first: opts.first,
    programs,
    seconds: Math.round((Date.now() - start) / 1000),
    steer: opts.steer,
    threads2Every: opts.threads2Every,
    fwdrevSingular: singular,
    failures,
    builtins: Object.fromEntries(builtins.rarest()),
    missed: missed(),
    templates: Object.fromEntries(templates.rarest()),
    pairs: Object.fromEntries(pairs.rarest()),
  });
  mkdirSync(opts.out, { recursive: true });
  const coverageFile = join(opts.out, 'coverage.json');
  const writeReport = () => {
    writeFileSync(`${coverageFile}.tmp`, `${JSON.stringify(report(), null, 1)}\n`);
    renameSync(`${coverageFile}.tmp`, coverageFile);
  };
  const timer = setInterval(() => {
    process.stdout.write(`${line()}\n`);
    writeReport();
  }, 10_000);
  const self = fileURLToPath(import.meta.url);
  const until = start + opts.minutes * 60_000;
  // A worker whose program runs past the timeout is terminated, the program
  // written as a hang, and a new worker goes on with the next index.
  const run = (first: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const w = new Worker(self, { workerData: { ...opts, start: first, until } satisfies Job });
      let watchdog: NodeJS.Timeout | undefined;
      let next: Promise<void> | undefined;
      w.on('message', (m: Message) => {
        clearTimeout(watchdog);
        if (m.type === 'start') {
          watchdog = setTimeout(() => {
            const file = writeHang(opts, m.index, m.seed, m.source);
            failures.push(`hang (over ${opts.timeout} s): ${file}`);
            process.stdout.write(`failure: hang (over ${opts.timeout} s) -> ${file}\n`);
            programs++;
            next = run(m.index + opts.jobs);
            void w.terminate();
          }, opts.timeout * 1000);
          return;
        }
        programs++;
        builtins.add(m.builtins);
        pairs.add(m.kernels.pairs);
        templates.add(m.kernels.templates);
        if (m.type === 'done' && m.singular) singular++;
        if (m.type === 'done' && m.refused !== undefined) {
          refused++;
          const why = m.refused.replace(/\d+/g, 'N');
          refusals.set(why, (refusals.get(why) ?? 0) + 1);
        }
        if (m.type === 'failure') {
          failures.push(`${m.kind} (${m.where}): ${m.file}`);
          if (m.kind === 'check') generatorBugs++;
          process.stdout.write(`failure: ${m.kind} (${m.where}) -> ${m.file}\n`);
        }
      });
      w.on('error', reject);
      w.on('exit', () => {
        clearTimeout(watchdog);
        (next ?? Promise.resolve()).then(resolve, reject);
      });
    });
  await Promise.all(Array.from({ length: opts.jobs }, (_, worker) => run(opts.first + worker)));
  clearInterval(timer);
  process.stdout.write(`${line()}\n`);
  const show = (t: Tally, n = Infinity) =>
    t
      .rarest()
      .slice(0, n)
      .map(([k, c]) => `${k} ${c}`)
      .join(', ');
  process.stdout.write(`coverage (rarest first): ${show(builtins)}\n`);
  process.stdout.write(`builtins never reached: ${missed().length > 0 ? missed().join(', ') : 'none'}\n`);
  process.stdout.write(`kernel templates (rarest first): ${show(templates)}\n`);
  process.stdout.write(`fused pairs: ${pairs.counts.size}, the 40 rarest: ${show(pairs, 40)}\n`);
  for (const [why, n] of [...refusals].sort((a, b) => b[1] - a[1])) process.stdout.write(`  refused ${n}: ${why}\n`);
  process.stdout.write(`forward vs reverse skipped at a singular point (one side NaN): ${singular} programs\n`);
  writeReport();
  for (const f of failures) process.stdout.write(`  ${f}\n`);
  return failures.length > 0 ? 1 : 0;
}

if (isMainThread) {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (opts.target === 'webgpu') {
    // Without a device every program would fail at the same stage: say why once, up front.
    try {
      const { device, adapterInfo } = await requestGpuDevice();
      process.stdout.write(`webgpu: ${adapterInfo}, one device per worker\n`);
      device.destroy();
    } catch (e) {
      process.stderr.write(`fuzz: --target webgpu: ${(e as Error).message}\n`);
      process.exit(2);
    }
  }
  process.exitCode = await main(opts);
} else {
  await work(workerData as Job);
}
