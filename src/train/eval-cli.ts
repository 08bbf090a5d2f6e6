/**
 * Evaluate an exported checkpoint with the trainer's greedy tfjs decoder (diffusion: one token per
 * step, most confident masked position; causal: greedy) on a fresh held-out suite, and optionally
 * measure a draft model's greedy next-token agreement with a target model.
 *
 *   node --import tsx src/train/eval-cli.ts --model models/tiny-ar [--per-task 50] [--seed 20251126]
 *        [--agreement-with models/tiny-ar] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadCheckpoint } from '../model/checkpoint.js';
import { loadTokenizer } from '../model/tokenizer.js';
import { initBackend, tf } from './backend.js';
import { SuiteData, type Encoded } from './data.js';
import { evaluate, generate } from './evaluate.js';
import { loadInitWeights } from './export.js';
import { head, makeVariables, trunk, type ModelShape, type ParamMap } from './model.js';
import type { Objective } from './objective.js';
import { SUITE_TASKS } from './suite.js';

export interface LoadedModel {
  dir: string;
  objective: Objective;
  shape: ModelShape;
  params: ParamMap;
  canvas: number;
}

export async function loadForEval(dir: string): Promise<LoadedModel> {
  await initBackend();
  const c = loadCheckpoint(dir).config;
  if (c.shiftLogits) throw new Error(`${dir}: shifted-logit (dream) models are not supported by the trainer's evaluator`);
  const shape: ModelShape = {
    vocabSize: c.vocabSize, dModel: c.hiddenSize, layers: c.numLayers, heads: c.numHeads, ffn: c.intermediateSize,
    ropeTheta: c.ropeTheta, rmsNormEps: c.rmsNormEps, maxPositions: c.maxPositions,
  };
  let canvas = 32;
  try {
    const g = JSON.parse((await import('node:fs')).readFileSync(`${dir}/generation_config.json`, 'utf8')) as { max_new_tokens?: number };
    if (g.max_new_tokens) canvas = g.max_new_tokens;
  } catch {
    /* default canvas */
  }
  return { dir, objective: c.causal ? 'causal' : 'diffusion', shape, params: makeVariables(shape, loadInitWeights(dir, shape)), canvas };
}

/** Greedy next-token agreement of `draft` with `target` along the target's own greedy answers. */
export async function agreement(draft: LoadedModel, target: LoadedModel, data: SuiteData, rows: Encoded[], batchSize = 128): Promise<{ agree: number; total: number; perTask: Record<string, number> }> {
  let agree = 0;
  let total = 0;
  const per = new Map<string, { a: number; n: number }>();
  for (let i = 0; i < rows.length; i += batchSize) {
    const chunk = rows.slice(i, i + batchSize);
    const gen = await generate(target.params, target.shape, 'causal', data, chunk, target.canvas);
    const seqs = chunk.map((r, b) => {
      const g = gen[b]!;
      const cut = g.indexOf(data.eos);
      return [...r.prompt, ...(cut >= 0 ? g.slice(0, cut + 1) : g)];
    });
    const B = seqs.length;
    const T = Math.max(...seqs.map((s) => s.length));
    const ids = new Int32Array(B * T).fill(data.pad);
    const mask = new Float32Array(B * T);
    seqs.forEach((s, b) => {
      s.forEach((id, t) => (ids[b * T + t] = id));
      mask.fill(1, b * T, b * T + s.length);
    });
    const argmax = async (m: LoadedModel): Promise<Int32Array> => {
      const t = tf.tidy(() => tf.argMax(head(m.params, trunk(m.params, m.shape, tf.tensor2d(ids, [B, T], 'int32'), tf.tensor2d(mask, [B, T]), true)), -1));
      const d = (await t.data()) as Int32Array;
      t.dispose();
      return d;
    };
    const a = await argmax(draft);
    const b2 = await argmax(target);
    chunk.forEach((r, b) => {
      const acc = per.get(r.instance.task) ?? { a: 0, n: 0 };
      for (let t = r.prompt.length - 1; t < seqs[b]!.length - 1; t++) {
        const same = a[b * T + t] === b2[b * T + t] ? 1 : 0;
        agree += same;
        total += 1;
        acc.a += same;
        acc.n += 1;
      }
      per.set(r.instance.task, acc);
    });
  }
  const perTask: Record<string, number> = {};
  for (const [t, { a, n }] of per) perTask[t] = (100 * a) / n;
  return { agree: (100 * agree) / Math.max(1, total), total, perTask };
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dir = arg('model');
  if (!dir) throw new Error('usage: eval-cli --model DIR [--per-task N] [--seed S] [--agreement-with DIR] [--json FILE]');
  const perTask = Number(arg('per-task') ?? 50);
  const seed = Number(arg('seed') ?? 20251126);
  const model = await loadForEval(dir);
  const tokenizer = loadTokenizer(dir);
  const data = new SuiteData(tokenizer, SUITE_TASKS);
  const rows = data.heldOut(seed, perTask);
  const result: Record<string, unknown> = { model: dir, objective: model.objective, perTask, seed, measuredAt: new Date().toISOString() };
  const targetDir = arg('agreement-with');
  if (targetDir) {
    const target = await loadForEval(targetDir);
    const t0 = performance.now();
    const r = await agreement(model, target, data, rows);
    result['agreementWith'] = targetDir;
    result['agreement'] = r;
    process.stdout.write(`agreement of ${dir} with ${targetDir}'s greedy next token: ${r.agree.toFixed(1)}% over ${r.total} positions (${((performance.now() - t0) / 1000).toFixed(0)}s)\n`);
    for (const [t, v] of Object.entries(r.perTask)) process.stdout.write(`  ${t.padEnd(15)} ${v.toFixed(1)}\n`);
  }
  if (!targetDir || argv.includes('--also-score')) {
    const r = await evaluate(model.params, model.shape, model.objective, data, rows, model.canvas);
    result['suite'] = r.suite;
    result['tasks'] = r.tasks;
    result['seconds'] = r.seconds;
    result['samples'] = r.samples;
    process.stdout.write(`${dir} (${model.objective}, greedy${model.objective === 'diffusion' ? ', 1 token/step' : ''}): suite ${r.suite.toFixed(1)} over ${perTask}/task, seed ${seed} (${r.seconds.toFixed(0)}s)\n`);
    for (const [t, v] of Object.entries(r.tasks)) process.stdout.write(`  ${t.padEnd(15)} ${v.toFixed(1)}\n`);
  }
  const json = arg('json');
  if (json) writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
}

// Run only as a script, so that scripts can import loadForEval and agreement.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`eval: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
