/**
 * Time and peak memory of writing and loading a large random checkpoint (docs/scale.md, "Loading
 * large checkpoints").
 *
 *   node --import tsx scripts/scale-load.ts [--hidden 2048 --layers 8 --heads 16 --intermediate 5632 --vocab 126464]
 *        [--dtype BF16] [--threads 2] [--tokens 64]
 *
 * Writes an LLaDA-layout checkpoint of that shape (random weights, streamed) into a temporary
 * directory, loads it as `paradec generate` does (NaN/Inf scan, graph compile, ORT session) with
 * an empty graph cache, runs one forward of `--tokens` tokens, then loads it again from the
 * cache; deletes everything after. Each stage runs in a process of its own, so each peak is that
 * stage's alone: peak RSS is the kernel's high-water mark (VmHWM in /proc/self/status, Linux),
 * read at the end of each step, so the step's peak includes every earlier step of its process.
 *
 *   --phase write|load --dir DIR [--cache DIR]: one stage only, printing one JSON line (used by
 *   the driver; also to load with another checkout's sources, for before/after comparisons).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, writeRandomCheckpoint } from '../src/model/checkpoint.js';
import { compileGraph } from '../src/runtime/compile.js';
import { compileModel } from '../src/runtime/compile-model.js';
import type { OnnxBidirectionalModel } from '../src/runtime/bidirectional-model.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    phase: { type: 'string' },
    dir: { type: 'string' },
    cache: { type: 'string' },
    hidden: { type: 'string' },
    layers: { type: 'string' },
    heads: { type: 'string' },
    intermediate: { type: 'string' },
    vocab: { type: 'string' },
    dtype: { type: 'string' },
    threads: { type: 'string' },
    tokens: { type: 'string' },
  },
});
const int = (v: string | undefined, d: number): number => (v === undefined ? d : Number.parseInt(v, 10));

/** Peak resident memory of this process so far, in MB (10^6 bytes). */
function peakMb(): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return kb ? Math.round((Number(kb[1]) * 1024) / 1e6) : NaN;
}

interface Step {
  step: string;
  ms: number;
  peakMb: number;
}

async function timed(steps: Step[], step: string, fn: () => unknown | Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await fn();
  steps.push({ step, ms: Math.round(performance.now() - t0), peakMb: peakMb() });
}

async function phaseWrite(dir: string): Promise<Step[]> {
  const steps: Step[] = [];
  await timed(steps, 'write checkpoint', () => writeRandomCheckpoint(dir, {
    architecture: 'llada', seed: 1, scale: 0.5,
    hiddenSize: int(values.hidden, 2048), numLayers: int(values.layers, 8), numHeads: int(values.heads, 16),
    intermediateSize: int(values.intermediate, 5632), vocabSize: int(values.vocab, 126464),
    dtype: (values.dtype ?? 'BF16') as 'F32' | 'F16' | 'BF16',
  }));
  return steps;
}

async function phaseLoad(dir: string, cacheDir: string): Promise<Step[]> {
  const steps: Step[] = [];
  const threads = int(values.threads, 2);
  let ck!: ReturnType<typeof loadCheckpoint>;
  await timed(steps, 'read config and tensor table', () => (ck = loadCheckpoint(dir, { checkFinite: false })));
  // the JavaScript side: NaN/Inf scan, graph build (a cache miss on the first load)
  let cached = false;
  await timed(steps, 'scan + compile graph', () => (cached = compileGraph(ck.config, ck.weights, { kind: 'bidirectional', cacheDir, checkFinite: true }).cached));
  let model!: OnnxBidirectionalModel;
  await timed(steps, 'open ORT session', async () => (model = (await compileModel(ck, { cacheDir, threads, checkFinite: true })) as OnnxBidirectionalModel));
  const n = int(values.tokens, 64);
  const tokens = Int32Array.from({ length: n }, (_, i) => (i * 7919) % ck.config.vocabSize);
  await timed(steps, `first forward (${n} tokens)`, () => model.forward(tokens, 1, n));
  await timed(steps, `second forward (${n} tokens)`, () => model.forward(tokens, 1, n));
  await model.dispose();
  steps.push({ step: cached ? '(graph was cached)' : '(graph compiled)', ms: 0, peakMb: peakMb() });
  return steps;
}

if (values.phase) {
  const dir = values.dir;
  if (!dir) throw new Error('--phase needs --dir');
  const steps = values.phase === 'write' ? await phaseWrite(dir) : await phaseLoad(dir, values.cache ?? join(dir, '..', 'cache'));
  process.stdout.write(JSON.stringify(steps) + '\n');
} else {
  const root = mkdtempSync(join(tmpdir(), 'paradec-scale-'));
  const dir = join(root, 'ckpt');
  const self = fileURLToPath(import.meta.url);
  const shape = ['hidden', 'layers', 'heads', 'intermediate', 'vocab', 'dtype', 'threads', 'tokens'].flatMap((k) => {
    const v = values[k as keyof typeof values];
    return typeof v === 'string' ? [`--${k}`, v] : [];
  });
  const run = (label: string, phase: string): void => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--phase', phase, '--dir', dir, '--cache', join(root, 'cache'), ...shape], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`${label} failed (exit ${r.status ?? r.signal})`);
    const lines = r.stdout.trim().split('\n');
    for (const s of JSON.parse(lines[lines.length - 1]!) as Step[]) console.log(`| ${label} | ${s.step} | ${s.ms} | ${s.peakMb} |`);
  };
  try {
    console.log('| process | step | ms | peak RSS so far, MB |\n|---|---|---|---|');
    run('write', 'write');
    run('load, empty cache', 'load');
    run('load, cached graph', 'load');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
