/**
 * Wall time and score of the diffusion KV cache modes against no cache, same strategy.
 *
 *   node --import tsx scripts/cache-bench.ts tiny-dlm [--strategy threshold] [--n 4] [--seed 1] [--block-length 8]
 *   node --import tsx scripts/cache-bench.ts random-100m [--prompts 1] [--gen-length 256] [--steps 64]
 *   (both: [--threads 2] [--spinning] [--modes dual,prefix] [--refresh N])
 *
 * tiny-dlm: a seeded task suite (generateSuite), one prompt at a time, every mode run on each
 * prompt in turn (so background load hits all modes alike); score = the suite score (scoreAnswer).
 * random-100m: a random-weight LLaDA-layout checkpoint of ~98M parameters (hidden 768, 12 layers,
 * 12 heads, FFN 2048, vocabulary 8192), written once under the OS temp directory; random prompts
 * of 16 tokens (--batch B: B rows of 16, 24, … tokens decoded together, so their blocks sit at
 * different positions), a 256-token canvas in 32-token blocks, the `confidence` strategy with a fixed
 * schedule (same number of forward passes in every mode: no end-of-text fill); score = the share
 * of generated tokens equal to the uncached output (a random model has no task to score).
 * Prints a markdown table (docs/caching.md).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateText, loadModel } from '../src/api.js';
import { CACHE_MODES, type CacheMode } from '../src/decode/diffusion/cache.js';
import { runDiffusion, type DiffusionRowResult } from '../src/decode/diffusion/loop.js';
import { findDiffusionStrategy } from '../src/decode/registry.js';
import { resolveParams } from '../src/decode/params.js';
import { writeRandomCheckpoint } from '../src/model/checkpoint.js';
import { OnnxBidirectionalModel } from '../src/runtime/bidirectional-model.js';
import { compileModel } from '../src/runtime/compile-model.js';
import { Rng } from '../src/tasks/rng.js';
import { generateSuite, scoreAnswer, scoreSuite } from '../src/tasks/suite.js';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    strategy: { type: 'string' },
    n: { type: 'string' },
    seed: { type: 'string' },
    'block-length': { type: 'string' },
    'gen-length': { type: 'string' },
    steps: { type: 'string' },
    prompts: { type: 'string' },
    threads: { type: 'string' },
    modes: { type: 'string' },
    refresh: { type: 'string' },
    spinning: { type: 'boolean' },
    batch: { type: 'string' },
  },
});
const which = positionals[0] ?? 'tiny-dlm';
const int = (v: string | undefined, d: number): number => (v === undefined ? d : Number.parseInt(v, 10));
const modes = (values.modes?.split(',') ?? CACHE_MODES) as CacheMode[];
if (!modes.includes('none')) modes.unshift('none');
const threads = int(values.threads, 2);
// ORT threads that spin between runs fight the other processes for few cores, in every mode
// alike; off by default here (--spinning for ORT's default)
const spinning = values.spinning ?? false;
const refresh = values.refresh === undefined ? undefined : int(values.refresh, 1);

interface Tally {
  ms: number;
  nfe: number;
  full: number;
  score: number[];
  /** tiny-dlm: outputs identical to the uncached one */
  same: number;
}
const tallies = new Map<CacheMode, Tally>(modes.map((m) => [m, { ms: 0, nfe: 0, full: 0, score: [], same: 0 }]));

function table(scores: [string, (t: Tally) => string][]): void {
  const base = tallies.get('none')!;
  console.log(`| cache | wall s | speedup | forwards (full) | ${scores.map(([name]) => name).join(' | ')} |`);
  console.log(`|---|---:|---:|---:|${scores.map(() => '---:|').join('')}`);
  for (const m of modes) {
    const t = tallies.get(m)!;
    console.log(`| ${m} | ${(t.ms / 1000).toFixed(2)} | ${(base.ms / t.ms).toFixed(2)}× | ${t.nfe} (${t.full}) | ${scores.map(([, f]) => f(t)).join(' | ')} |`);
  }
}

if (which === 'tiny-dlm') {
  const strategy = values.strategy ?? 'threshold';
  const blockLength = int(values['block-length'], 8);
  const suite = generateSuite({ seed: int(values.seed, 1), n: int(values.n, 4) });
  const model = await loadModel('tiny-dlm', { threads, spinning });
  const options = { strategy, blockLength };
  // warm up: graphs compiled and loaded, caches of the OS and ORT filled
  for (const cache of modes) await generateText(model, suite[0]!.prompt, { ...options, cache, ...(cache !== 'none' && refresh ? { cacheRefresh: refresh } : {}) });
  for (const inst of suite) {
    let reference: string | undefined;
    for (const cache of modes) {
      const r = await generateText(model, inst.prompt, { ...options, cache, ...(cache !== 'none' && refresh ? { cacheRefresh: refresh } : {}) });
      reference ??= r.text;
      const t = tallies.get(cache)!;
      if (r.text === reference) t.same += 1;
      t.ms += r.ms;
      t.nfe += r.nfe;
      t.full += r.fullForwards ?? r.nfe;
      t.score.push(scoreAnswer(inst, r.text));
    }
  }
  await model.dispose();
  console.log(`tiny-dlm, ${suite.length} prompts (seed ${int(values.seed, 1)}, ${int(values.n, 4)} per task), strategy ${strategy}, block ${blockLength}, batch 1, ${threads} threads${spinning ? '' : ', no spinning'}\n`);
  table([
    ['suite score', (t) => scoreSuite(suite.map((inst, i) => ({ task: inst.task, score: t.score[i]! }))).suite!.toFixed(1)],
    ['text equal to no cache', (t) => `${t.same}/${suite.length}`],
  ]);
} else if (which === 'random-100m') {
  const dir = join(tmpdir(), 'paradec-cache-bench', 'llada-100m');
  if (!existsSync(join(dir, 'config.json'))) {
    writeRandomCheckpoint(dir, {
      architecture: 'llada', seed: 5, vocabSize: 8192, hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 12, intermediateSize: 2048, maxPositions: 1024,
    });
  }
  const model = await compileModel(dir, { threads, spinning, checkFinite: false });
  if (!(model instanceof OnnxBidirectionalModel)) throw new Error('expected a bidirectional model');
  const c = model.config;
  const params = c.numLayers * (4 * c.hiddenSize * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize) + 2 * c.vocabSize * c.hiddenSize;
  const genLength = int(values['gen-length'], 256);
  const steps = int(values.steps, 64);
  const blockLength = int(values['block-length'], 32);
  const rng = new Rng(int(values.seed, 1));
  // --batch B: each batch holds B rows with prompts of 16, 24, 32, … tokens (own block positions)
  const batchSize = int(values.batch, 1);
  const batches = Array.from({ length: int(values.prompts, 1) }, () =>
    Array.from({ length: batchSize }, (_, r) => Array.from({ length: 16 + 8 * r }, () => 3 + Math.floor(rng.float() * (c.vocabSize - 4)))));
  const def = findDiffusionStrategy(values.strategy ?? 'confidence');
  const decode = async (prompts: number[][], cache: CacheMode): Promise<{ ms: number; rows: DiffusionRowResult[] }> => {
    const started = performance.now();
    const it = runDiffusion(model, prompts, def.create(resolveParams(def.name, def.params, {})), [], {
      genLength, steps, blockLength, eosFill: false, rng: new Rng(1),
      ...(cache !== 'none' ? { cache: { mode: cache, ...(refresh ? { refresh } : {}) } } : {}),
    });
    for (;;) {
      const n = await it.next();
      if (n.done) return { ms: performance.now() - started, rows: n.value };
    }
  };
  // warm up (graphs loaded, one full and one windowed pass each)
  await decode([batches[0]![0]!.slice(0, 4)], 'dual');
  for (const prompts of batches) {
    let reference: number[][] | undefined;
    for (const cache of modes) {
      const { ms, rows } = await decode(prompts, cache);
      reference ??= rows.map((r) => r.generated);
      const t = tallies.get(cache)!;
      t.ms += ms;
      rows.forEach((row, r) => {
        t.nfe += row.nfe;
        t.full += row.fullForwards;
        t.score.push(row.generated.filter((tok, i) => tok === reference![r]![i]).length / row.generated.length);
      });
      console.error(`${cache}: ${(ms / 1000).toFixed(1)} s, ${rows.map((row) => `${row.nfe} forwards (${row.fullForwards} full)`).join(', ')}`);
    }
  }
  await model.dispose();
  console.log(`random LLaDA layout, ${(params / 1e6).toFixed(1)}M parameters, ${batches.length} batch(es) of ${batchSize} (prompts of ${batches[0]!.map((p) => p.length).join(', ')} tokens), gen ${genLength}, block ${blockLength}, steps ${steps}, strategy ${def.name}, ${threads} threads${spinning ? '' : ', no spinning'}\n`);
  table([['tokens equal to no cache', (t) => `${(100 * t.score.reduce((a, b) => a + b, 0) / t.score.length).toFixed(1)}%`]]);
} else {
  throw new Error(`unknown benchmark '${which}' (tiny-dlm or random-100m)`);
}
