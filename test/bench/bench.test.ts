import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeCheckpoint } from '../../src/model/checkpoint.js';
import { runBench } from '../../src/bench/run.js';
import { ForwardLimit, forwardLimit, guarded } from '../../src/bench/forward-limit.js';
import type { BenchOptions } from '../../src/bench/plan.js';
import { generateText, loadModel } from '../../src/api.js';
import { greedy } from '../../src/decode/autoregressive/greedy.js';
import type { AutoregressiveStrategy } from '../../src/decode/autoregressive/types.js';
import { ScriptedBidirectional, rowLogits } from '../helpers/scripted-model.js';
import { parseSweep } from '../../src/bench/settings.js';
import type { ResultRow } from '../../src/bench/types.js';

// Tiny random-weight models with the suite's tokenizer (mask 0, end-of-text 1, `<prompt>\n` prompts),
// in the layouts of the built-in ones: a LLaDA-layout diffusion model and a llama-layout causal one.
let dir: string;
let dlm: string;
let ar: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'paradec-bench-'));
  dlm = join(dir, 'dlm');
  ar = join(dir, 'ar');
  const dims = { vocabSize: 563, hiddenSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 2, intermediateSize: 32, eosTokenIds: [1], padTokenId: 2, bosTokenId: null };
  writeCheckpoint(dlm, 'llada', { ...dims, maskTokenId: 0 }, { seed: 11 });
  writeCheckpoint(ar, 'llama', { ...dims, maskTokenId: null }, { seed: 12, scale: 0.5 });
  for (const d of [dlm, ar]) for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(resolve('models/tokenizer', f), join(d, f));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function options(seed: number): BenchOptions {
  return {
    models: [dlm, ar],
    strategies: ['confidence', 'random', 'threshold', 'greedy', 'lookup'],
    sweeps: [parseSweep('k=2,4'), parseSweep('threshold.tau=0.5')],
    tasks: ['copy', 'shuffle'],
    n: 2,
    seed,
    genLength: 16,
    maxTokens: 16,
    engine: false,
    threads: 1,
    cacheDir: join(dir, 'cache'),
  };
}

const decoded = (rows: ResultRow[]) => rows.map((r) => ({ kind: r.kind, setting: r.setting, id: r.id, prompt: r.prompt, output: r.output, score: r.score, nfe: r.nfe, tokens: r.tokens, oracleNfe: r.oracleNfe, stopped: r.stopped, nll: r.nll }));

test('the same seed gives the same instances, outputs, scores and forward passes; another seed other instances', async () => {
  const a = await runBench(options(7));
  const b = await runBench(options(7));
  assert.deepEqual(decoded(b.rows), decoded(a.rows));
  assert.deepEqual(b.summary.settings.map((s) => [s.setting, s.overall.score, s.overall.meanNfe, s.overall.tokensPerForward]), a.summary.settings.map((s) => [s.setting, s.overall.score, s.overall.meanNfe, s.overall.tokensPerForward]));
  assert.deepEqual(b.summary.frontier.overall.tokensPerForward, a.summary.frontier.overall.tokensPerForward);

  // what ran: strategies matched to the model families, the sweep applied where declared
  const settings = [...new Set(a.rows.filter((r) => r.kind === 'setting').map((r) => r.setting))];
  assert.deepEqual(settings, ['dlm/confidence k=2', 'dlm/confidence k=4', 'dlm/random k=2', 'dlm/random k=4', 'dlm/threshold tau=0.5', 'ar/greedy', 'ar/lookup']);
  const oracle = a.rows.filter((r) => r.kind === 'oracle-strategy');
  assert.equal(oracle.length, 4); // one per instance of the diffusion model
  for (const r of oracle) if (!r.stopped) assert.ok(Number.isFinite(r.nll) && r.nll! > 0 && r.roundsBound! > 0);
  assert.deepEqual(a.summary.models.map((m) => [m.name, m.family]), [['dlm', 'diffusion'], ['ar', 'autoregressive']]);
  for (const r of a.rows.filter((x) => x.kind === 'setting')) {
    assert.ok(r.nfe > 0 && r.ms >= 0 && r.score >= 0);
    if (r.family === 'autoregressive' && !r.stopped) assert.equal(r.tokensPerForward, r.tokens / r.nfe);
    // work: a diffusion pass computes the whole canvas (prompt + 16); the baseline is the oracle's reference run, or greedy
    if (r.family === 'diffusion' && !r.stopped) assert.equal(r.work % r.nfe, 0, r.setting);
    if (r.family === 'diffusion') {
      assert.equal(r.gen['eos_fill'], true);
      assert.equal(r.baselineWork, oracle.find((o) => o.id === r.id)!.referenceWork);
      if (!r.stopped) assert.ok(r.schedule !== undefined);
    } else {
      assert.equal(r.baselineWork, a.rows.find((g) => g.setting === 'ar/greedy' && g.id === r.id)!.work);
      assert.ok(r.draftWork !== undefined);
    }
    assert.ok(r.work > r.nfe && r.workOverBaseline !== null, `${r.setting} ${r.id}`);
  }
  assert.ok(a.summary.frontier.overall.work.some((id) => id.startsWith('dlm/')) && a.summary.frontier.overall.work.some((id) => id.startsWith('ar/')));
  assert.ok(a.rows.some((r) => r.kind === 'model-oracle' && r.model === 'ar'));

  // without the end-of-text fill every diffusion row says so, and a run on the base schedule takes exactly its steps
  const off = await runBench({ ...options(7), models: [dlm], strategies: ['left-to-right'], sweeps: [], grid: false, eosFill: false, steps: 8 });
  for (const r of off.rows.filter((x) => x.kind === 'setting')) {
    assert.equal(r.gen['eos_fill'], false);
    assert.equal(r.nfe, 8);
    assert.equal(r.schedule?.kind, 'steps');
  }

  const c = await runBench({ ...options(8), strategies: ['confidence'], sweeps: [parseSweep('k=4')] });
  const ids = (rs: ResultRow[]) => [...new Set(rs.map((r) => r.prompt))];
  assert.notDeepEqual(ids(c.rows), ids(a.rows));
  assert.deepEqual(c.rows.filter((r) => r.kind === 'setting').map((r) => r.id), ['copy-8-0', 'copy-8-1', 'shuffle-8-0', 'shuffle-8-1']);
});

test('dtypes: each model once per dtype asked for, named model@dtype, the dtype in the summary', async () => {
  const r = await runBench({ ...options(7), models: [dlm], strategies: ['confidence'], sweeps: [], grid: false, tasks: ['copy'], n: 1, oracle: false, dtypes: ['fp32', 'int4'] });
  assert.deepEqual(r.summary.models.map((m) => [m.name, m.dtype]), [['dlm@fp32', 'fp32'], ['dlm@int4', 'int4']]);
  assert.deepEqual([...new Set(r.rows.map((x) => x.model))], ['dlm@fp32', 'dlm@int4']);
  // one dtype keeps the name; without one the summary records what the default chose
  const one = await runBench({ ...options(7), models: [dlm], strategies: ['confidence'], sweeps: [], grid: false, tasks: ['copy'], n: 1, oracle: false, dtypes: ['int8'] });
  assert.deepEqual(one.summary.models.map((m) => [m.name, m.dtype]), [['dlm', 'int8']]);
  const auto = await runBench({ ...options(7), models: [dlm], strategies: ['confidence'], sweeps: [], grid: false, tasks: ['copy'], n: 1, oracle: false });
  assert.deepEqual(auto.summary.models.map((m) => [m.name, m.dtype]), [['dlm', 'fp32']]);
  await assert.rejects(runBench({ ...options(7), dtypes: ['fp16' as 'fp32'] }), /--dtype fp16 is not offered/);
});

test('paradec bench on the command line writes the outputs; bad flags name the culprit', () => {
  const out = join(dir, 'out');
  const env = { ...process.env, PARADEC_CACHE: join(dir, 'cache') };
  const run = (args: string[]) => spawnSync(process.execPath, [resolve('bin/paradec.js'), 'bench', ...args], { encoding: 'utf8', env, timeout: 50_000 });
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--sweep k=v1,v2/);
  const r = run(['--model', dlm, '--strategies', 'confidence', '--sweep', 'k=4', '--tasks', 'copy', '--n', '1', '--gen-length', '16', '--no-eos-fill', '--no-engine', '--threads', '1', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  for (const f of ['results.jsonl', 'summary.json', 'report.md', 'score-vs-tpf-overall.svg', 'score-vs-work.svg', 'score-vs-time.svg']) assert.ok(existsSync(join(out, f)), f);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /End-of-text fill: \*\*off\*\*/);
  assert.match(r.stdout, /\| mean work \| work ÷ baseline \|/);
  assert.match(r.stdout, /\| model \| strategy \| setting \| score \|/);
  assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 1 + 1 + 1); // setting, oracle, best of all
  const bad: [string[], RegExp][] = [
    [['--model', dlm, '--strategies', 'nope'], /unknown strategy 'nope'/],
    [['--model', dlm, '--strategies', 'greedy'], /'greedy' is an autoregressive strategy, but no autoregressive model/],
    [['--model', dlm, '--sweep', 'zzz=1'], /no strategy run here has an option 'zzz'/],
    [['--model', dlm, '--tasks', 'copy,frob'], /unknown task 'frob'/],
    [['--model', dlm, '--n', 'x'], /--n must be an integer/],
  ];
  for (const [args, pattern] of bad) {
    const e = run(args);
    assert.equal(e.status, 1, args.join(' '));
    assert.match(e.stderr, pattern);
    assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
  }
});

test('the forward-pass guard stops a decode that exceeds its cap and leaves others untouched', async () => {
  // The loop itself guarantees progress (it never commits the mask token, and bounds remasking);
  // the bench's cap is the last line of defence against a strategy that still runs away.
  const model = await loadModel(dlm, { threads: 1, cacheDir: join(dir, 'cache') });
  try {
    const V = model.config.vocabSize;
    const scripted = new ScriptedBidirectional(V, model.runtime.kind === 'bidirectional' ? model.runtime.maskTokenId : 0, (tokens) => rowLogits(V, Array.from(tokens, () => [5, 0.9] as const)));
    const guard = guarded({ ...model, runtime: scripted });
    guard.arm(3); // a one-token-per-step decode of 8 tokens needs 8 forwards
    await assert.rejects(generateText(guard.model, 'copy: ["Paul Payne"]', { genLength: 8, strategy: 'confidence', strategyOptions: { k: 1 } }), ForwardLimit);
    assert.equal(guard.used(), 3);
    assert.equal(scripted.calls, 3);
    // the positions of the forwards it ran: 3 canvases of prompt + 8
    assert.equal(guard.usedWork(), 3 * scripted.seen[0]![0]!.length);
    assert.ok(forwardLimit(8) > 8);
    // re-armed, a healthy decode goes through untouched
    guard.arm(forwardLimit(8));
    const ok = await generateText(guarded(model).model, 'copy: ["Paul Payne"]', { genLength: 8, strategy: 'confidence', strategyOptions: { k: 2 } });
    assert.ok(ok.nfe >= 1 && ok.nfe <= 4, String(ok.nfe));
  } finally {
    await model.dispose();
  }
});

test('an autoregressive setting decodes through generateText with one kept strategy: not disposed by a generation, the same object for every prompt', async () => {
  // the bench keeps one strategy per setting (state such as speculative decoding's adaptive draft
  // length carries from prompt to prompt); a fresh strategy per call would measure something else
  const model = await loadModel(ar, { threads: 1, cacheDir: join(dir, 'cache') });
  try {
    const inner = greedy.create({});
    let steps = 0;
    let disposed = 0;
    const kept: AutoregressiveStrategy = {
      name: 'greedy',
      step: (session) => {
        steps += 1;
        return inner.step(session);
      },
      dispose: async () => {
        disposed += 1;
      },
    };
    const prompts = ['copy: ["Paul Payne"]', 'reverse: [3, 1, 2]'];
    const results = [];
    for (const p of prompts) results.push(await generateText(model, p, { keptStrategy: kept, maxTokens: 6, seed: 1 }));
    assert.equal(disposed, 0);
    assert.equal(steps, results.reduce((s, r) => s + r.nfe, 0)); // greedy: one step per forward pass, all on the kept object
    for (const [i, p] of prompts.entries()) {
      const fresh = await generateText(model, p, { strategy: 'greedy', maxTokens: 6, seed: 1 });
      assert.deepEqual([results[i]!.text, results[i]!.nfe, results[i]!.draftNfe], [fresh.text, fresh.nfe, 0]);
    }
  } finally {
    await model.dispose();
  }
});
