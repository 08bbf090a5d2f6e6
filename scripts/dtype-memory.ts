/**
 * Memory and speed of a model at each dtype, against runtime/memory.ts's estimate (docs/scale.md,
 * "Data types"): for every model and dtype, a fresh process loads it through `loadModel` with an
 * empty graph cache (cold: compile + quantize + load), then another with that cache filled (warm),
 * and each runs one generation. Reports load time, resident memory after load and at the peak
 * (VmHWM: the whole process, ORT's worker thread included), generation time, and the estimate
 * (all in MB of 10^6 bytes).
 *
 *   node --import tsx scripts/dtype-memory.ts [--dtypes fp32,int8,int4] [--mid DIR] MODEL...
 *
 * MODEL: a checkpoint directory or a built-in name. `--mid DIR` first writes two random BF16
 * checkpoints of a middle size into DIR (`mid-llada`: hidden 1024, 8 layers, vocabulary 32000,
 * untied, 168M parameters; `mid-qwen2`: hidden 896, 8 layers, 2 KV heads, vocabulary 32000, tied,
 * 148M) unless they are there, and measures them too. A development tool; it does not ship.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateText, loadModel, resolveModelDir } from '../src/api.js';
import { loadCheckpoint, writeRandomCheckpoint } from '../src/model/checkpoint.js';
import { parseDtype, type Dtype } from '../src/runtime/dtype.js';
import { estimateMemory, storedBytesPerParam } from '../src/runtime/memory.js';

interface Measured {
  loadMs: number;
  genMs: number;
  nfe: number;
  /** MB (10^6 bytes, as the estimate) */
  afterLoad: number;
  peak: number;
}

function status(): { rss: number; hwm: number } {
  const text = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
  return { rss: (kb('VmRSS') * 1024) / 1e6, hwm: (kb('VmHWM') * 1024) / 1e6 };
}

/** The child: load, generate once, print one JSON line. */
async function child(dir: string, dtype: Dtype): Promise<void> {
  const t0 = performance.now();
  const model = await loadModel(dir, { dtype, checkMemory: false });
  const loadMs = performance.now() - t0;
  const afterLoad = status().rss;
  const prompt = model.linePrompt ? 'copy: ["Paul Payne"]' : 'the';
  const t1 = performance.now();
  // diffusion: a 128-token canvas in 8 steps; autoregressive: 128 new tokens
  const r = await generateText(model, prompt, model.family === 'diffusion' ? { genLength: 128, steps: 8 } : { maxTokens: 128 });
  const genMs = performance.now() - t1;
  const peak = status().hwm;
  await model.dispose();
  const m: Measured = { loadMs, genMs, nfe: r.nfe, afterLoad, peak };
  process.stdout.write(JSON.stringify(m) + '\n');
}

function run(dir: string, dtype: Dtype, cache: string): Measured {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', dir, dtype], { encoding: 'utf8', env: { ...process.env, PARADEC_CACHE: cache } });
  if (r.status !== 0) throw new Error(`${dir} ${dtype}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Measured;
}

function writeMid(root: string): string[] {
  const shapes = {
    'mid-llada': { architecture: 'llada', seed: 1, vocabSize: 32000, hiddenSize: 1024, numLayers: 8, numHeads: 16, numKvHeads: 16, intermediateSize: 2816 },
    'mid-qwen2': { architecture: 'qwen2', seed: 2, vocabSize: 32000, hiddenSize: 896, numLayers: 8, numHeads: 14, numKvHeads: 2, intermediateSize: 4864, tieWordEmbeddings: true },
  } as const;
  return Object.entries(shapes).map(([name, shape]) => {
    const dir = join(root, name);
    if (!existsSync(join(dir, 'config.json'))) writeRandomCheckpoint(dir, { ...shape, dtype: 'BF16', maxPositions: 2048, scale: 0.5 });
    return dir;
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1]!, parseDtype(argv[2]!, 'dtype'));
  const { values, positionals } = parseArgs({ args: argv, options: { dtypes: { type: 'string' }, mid: { type: 'string' } }, allowPositionals: true, strict: true });
  const dtypes = (values.dtypes ?? 'fp32,int8,int4').split(',').map((d) => parseDtype(d.trim(), '--dtypes'));
  const dirs = [...positionals.map((m) => resolveModelDir(m)), ...(values.mid ? writeMid(values.mid) : [])];
  const mb = (x: number) => `${Math.round(x)} MB`;
  process.stdout.write('| model | params | dtype | estimate (cold / warm) | cold: load, peak | warm: load, after load, peak | generation (warm) |\n|---|---|---|---|---|---|---|\n');
  for (const dir of dirs) {
    const ckpt = loadCheckpoint(dir, { checkFinite: false });
    const params = [...ckpt.table.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    for (const dtype of dtypes) {
      const stored = storedBytesPerParam(ckpt.table.values());
      const cold = estimateMemory(ckpt.config, dtype, { storedBytesPerParam: stored }).total;
      const warm = estimateMemory(ckpt.config, dtype, { storedBytesPerParam: stored, compiled: true }).total;
      const cache = mkdtempSync(join(tmpdir(), 'paradec-dtype-'));
      try {
        const first = run(dir, dtype, cache);
        const again = run(dir, dtype, cache);
        const name = dir.split('/').filter(Boolean).pop()!;
        const estimate = cold === warm ? mb(cold / 1e6) : `${mb(cold / 1e6)} / ${mb(warm / 1e6)}`;
        process.stdout.write(`| ${name} | ${(params / 1e6).toFixed(1)}M | ${dtype} | ${estimate} | ${(first.loadMs / 1000).toFixed(1)} s, ${mb(first.peak)} | ${(again.loadMs / 1000).toFixed(1)} s, ${mb(again.afterLoad)}, ${mb(again.peak)} | ${again.nfe} forwards, ${(again.genMs / 1000).toFixed(1)} s |\n`);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    }
  }
}

await main();
