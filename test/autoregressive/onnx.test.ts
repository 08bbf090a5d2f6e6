/**
 * Draft-and-verify on compiled ONNX models (random-weight tiny checkpoints written here): greedy
 * output equal to plain greedy for every draft source on every prompt, KV rollback equal to a
 * fresh prefill, and speculative sampling matching the target's distribution.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomCheckpoint } from '../../src/model/checkpoint.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { extraModelsFor, releaseSharedModels } from '../../src/extra-model-loader.js';
import type { ModelRequest } from '../../src/decode/autoregressive/extra-models.js';
import { returnValue } from '../../src/decode/drain.js';
import { loadModel, generateText, encodePrompt, type ParadecModel } from '../../src/api.js';
import type { CausalModel, KvCache } from '../../src/runtime/types.js';
import { ArSession } from '../../src/decode/autoregressive/session.js';
import { GREEDY } from '../../src/decode/autoregressive/sampling.js';
import { verifyAndCommit } from '../../src/decode/autoregressive/verify.js';
import { gatherRows } from '../../src/decode/autoregressive/kv.js';
import { runAutoregressive, type ArResult } from '../../src/decode/autoregressive/loop.js';
import type { AutoregressiveStrategy } from '../../src/decode/autoregressive/types.js';
import { greedy } from '../../src/decode/autoregressive/greedy.js';
import { findAutoregressiveStrategy } from '../../src/decode/registry.js';
import { InputError, OptionError, RuntimeFailure } from '../../src/errors.js';
import { speculative } from '../../src/decode/autoregressive/speculative.js';
import { resolveParams } from '../../src/decode/params.js';
import { Rng } from '../../src/tasks/rng.js';
import { chiSquareP } from './helpers.js';
import { supportsTree } from '../../src/runtime/types.js';
import { scorePaths } from '../../src/decode/autoregressive/tree.js';
import { acceptsEmbeddings, superposed } from '../../src/decode/autoregressive/superposed.js';

let dir: string;
let ar: ParadecModel;
const dirs = { target: '', draft: '', dlm: '' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'paradec-ar-'));
  process.env['PARADEC_CACHE'] = join(dir, 'cache');
  dirs.target = join(dir, 'target');
  dirs.draft = join(dir, 'draft');
  dirs.dlm = join(dir, 'dlm');
  const dims = { vocabSize: 48, hiddenSize: 32, numHeads: 4, numKvHeads: 2, intermediateSize: 64 };
  writeRandomCheckpoint(dirs.target, { architecture: 'llama', ...dims, numLayers: 4, seed: 11, scale: 2 });
  writeRandomCheckpoint(dirs.draft, { architecture: 'llama', ...dims, numLayers: 1, seed: 12, scale: 2 });
  writeRandomCheckpoint(dirs.dlm, { architecture: 'llada', ...dims, numKvHeads: 4, numLayers: 1, seed: 13, scale: 2 });
  ar = await loadModel(dirs.target, { threads: 1, cacheDir: join(dir, 'cache') });
});

after(async () => {
  await ar?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const PROMPTS = ['w5 w6 w7', 'w9 w10 w9 w10 w9', 'w20', 'w30 w31 w32 w33 w30 w31'];

const SOURCES: [string, () => Record<string, unknown>][] = [
  ['speculative', () => ({ draft: dirs.draft })],
  ['speculative', () => ({ draft: dirs.target, gamma: 3 })], // a perfect draft: every token accepted
  ['speculative', () => ({ draft: dirs.draft, verify: 'block' })],
  ['speculative', () => ({ draft: dirs.draft, in_process: false })], // the draft in its own worker
  ['multipath', () => ({ draft: dirs.draft, paths: 3, length: 4 })],
  ['multipath', () => ({ draft: dirs.target, paths: 2, length: 4 })],
  ['pearl', () => ({ draft: dirs.draft })],
  ['pearl', () => ({ draft: dirs.target, gamma: 3 })],
  ['lookup', () => ({})],
  ['aded', () => ({ iterations: 60 })],
  ['layerskip', () => ({})],
  ['deer', () => ({ drafter: dirs.dlm, block: 6 })],
];

async function generateIds(model: CausalModel, prompt: readonly number[], strategy: AutoregressiveStrategy, maxTokens: number, eos: readonly number[]): Promise<ArResult> {
  return returnValue(runAutoregressive(model, prompt, strategy, { maxTokens, sampling: GREEDY, rng: new Rng(0), eosTokenIds: eos, models: extraModelsFor(model), keepStrategy: true }));
}

test('greedy speculative output equals plain greedy for every draft source on every prompt', async () => {
  const model = ar.runtime as CausalModel;
  const prompts = PROMPTS.map((p) => encodePrompt(ar, p));
  const plain = [];
  for (const ids of prompts) plain.push(await generateIds(model, ids, greedy.create({}), 16, ar.eosTokenIds));
  // one strategy per source (drafts load once), every prompt through it
  for (const [name, opts] of SOURCES) {
    const def = findAutoregressiveStrategy(name);
    const strategy = def.create(resolveParams(name, def.params, opts()));
    try {
      for (let i = 0; i < prompts.length; i++) {
        const got = await generateIds(model, prompts[i]!, strategy, 16, ar.eosTokenIds);
        assert.deepEqual(got.generated, plain[i]!.generated, `${name} ${JSON.stringify(opts())} on '${PROMPTS[i]}'`);
        assert.ok(got.nfe <= plain[i]!.nfe, `${name}: ${got.nfe} target forwards vs ${plain[i]!.nfe}`);
      }
    } finally {
      await strategy.dispose?.();
    }
  }
});

test('through the API: a draft model given by directory; bad drafts named', async () => {
  const plain = await generateText(ar, PROMPTS[1]!, { maxTokens: 16 });
  for (const [strategy, opts] of [['speculative', { draft: dirs.draft }], ['deer', { drafter: dirs.dlm }]] as const) {
    const got = await generateText(ar, PROMPTS[1]!, { maxTokens: 16, strategy, strategyOptions: opts });
    assert.equal(got.text, plain.text, strategy);
    assert.ok(got.drafted !== undefined && got.drafted > 0, `${strategy} drafted`);
  }
  await assert.rejects(generateText(ar, 'w5', { strategy: 'speculative', strategyOptions: { draft: join(dir, 'nope') } }), (e: unknown) => e instanceof InputError && /nope/.test(e.message));
  await assert.rejects(generateText(ar, 'w5', { strategy: 'speculative', strategyOptions: { verify: 'maybe' } }), (e: unknown) => e instanceof OptionError && /verify/.test(e.message));
  await assert.rejects(generateText(ar, 'w5', { strategy: 'deer', strategyOptions: { drafter: dirs.draft } }), (e: unknown) => e instanceof OptionError && /not a diffusion model/.test(e.message));
});

test('a perfect draft: every draft token is accepted, ≥ 2 tokens per target forward', async () => {
  const got = await generateText(ar, PROMPTS[0]!, { maxTokens: 16, strategy: 'speculative', strategyOptions: { draft: dirs.target, confidence: 0 } });
  assert.equal(got.accepted, got.drafted);
  assert.ok(got.tokensPerForward >= 2, `${got.tokensPerForward} tokens per forward`);
});

function maxDiff(a: KvCache, b: KvCache): number {
  assert.equal(a.length, b.length);
  assert.equal(a.batch, b.batch);
  let m = 0;
  for (const [x, y] of [[a.keys, b.keys], [a.values, b.values]] as const) {
    for (let l = 0; l < x.length; l++) {
      assert.equal(x[l]!.length, y[l]!.length);
      for (let i = 0; i < x[l]!.length; i++) m = Math.max(m, Math.abs(x[l]![i]! - y[l]![i]!));
    }
  }
  return m;
}

async function prefill(model: CausalModel, tokens: readonly number[]): Promise<KvCache> {
  const { cache } = await model.forward(Int32Array.from(tokens), 1, tokens.length, model.emptyCache(1));
  return cache;
}

test('KV rollback after rejected drafts equals a fresh prefill of the accepted prefix', async () => {
  const model = ar.runtime as CausalModel;
  const prompt = encodePrompt(ar, 'w5 w6 w7');
  const session = new ArSession(model, prompt, GREEDY, new Rng(0));
  // the target's own next two tokens, then two wrong ones: 2 accepted + the correction
  const probe = await session.score([]);
  const t1 = probe.head.topkIds[probe.first * probe.head.k]!;
  const next = await model.forward(Int32Array.of(t1), 1, 1, probe.cache);
  const t2 = next.head.topkIds[0]!;
  const wrong = (t: number): number => (t + 1) % model.vocabSize;
  const third = await model.forward(Int32Array.of(t2), 1, 1, next.cache);
  const t3 = third.head.topkIds[0]!;
  session.nfe = 0;
  const verdict = await verifyAndCommit(session, { tokens: [t1, t2, wrong(t3), 5] }, 'greedy');
  assert.equal(verdict.accepted, 2);
  assert.deepEqual(verdict.tokens, [t1, t2, t3]);
  assert.equal(session.cache.length, session.tokens.length - 1);
  const fresh = await prefill(model, session.tokens.slice(0, -1));
  assert.ok(maxDiff(session.cache, fresh) < 1e-4, `rollback differs from a fresh prefill by ${maxDiff(session.cache, fresh)}`);

  // batched rows: verify three paths at once, commit the middle row
  const rowsScored = await session.scoreRows([[7, 8], [9], [10, 11, 12]]);
  session.commitRow([9, 13], rowsScored, 1);
  const fresh2 = await prefill(model, session.tokens.slice(0, -1));
  assert.ok(maxDiff(session.cache, fresh2) < 1e-4, 'row commit differs from a fresh prefill');

  // gathering rows of a real cache: row r of a batch equals that row's own cache
  const a = await prefill(model, [4, 5, 6]);
  const b = await prefill(model, [7, 8, 9]);
  const both = await model.forward(Int32Array.of(4, 5, 6, 7, 8, 9), 2, 3, model.emptyCache(2));
  assert.ok(maxDiff(gatherRows(both.cache, [1]), b) < 1e-4);
  assert.ok(maxDiff(gatherRows(both.cache, [0]), a) < 1e-4);
});

test('a session releases the caches it replaces; the live one stays exact', async () => {
  const model = ar.runtime as CausalModel;
  const session = new ArSession(model, encodePrompt(ar, 'w5 w6 w7'), GREEDY, new Rng(0));
  const pick = (s: { head: { topkIds: Int32Array; k: number }; first: number }): number => s.head.topkIds[s.first * s.head.k]!;
  const a = await session.score([]);
  session.commit([pick(a)], a.cache);
  const replaced = session.cache;
  const b = await session.score([]);
  session.commit([pick(b)], b.cache);
  assert.throws(() => replaced.keys, (e: unknown) => e instanceof RuntimeFailure && /lost/.test(e.message), 'the replaced cache is gone from the worker');
  // a rejected draft: the extended cache is cut, and the uncut one released
  const probe = await session.score([]);
  const wrong = (pick(probe) + 1) % model.vocabSize;
  const c = await session.score([wrong, wrong]);
  session.commit([pick(c)], c.cache);
  assert.equal(pick(c), pick(probe));
  assert.equal(session.cache.length, c.cache.length - 2);
  assert.throws(() => c.cache.keys, (e: unknown) => e instanceof RuntimeFailure && /lost/.test(e.message));
  const fresh = await prefill(model, session.tokens.slice(0, -1));
  assert.ok(maxDiff(session.cache, fresh) < 1e-4, 'the live cache equals a fresh prefill');
  session.close();
});

test('extra models are shared per target across generations and released with it', async () => {
  const target = await compileModel(dirs.target, { cacheDir: join(dir, 'cache') });
  const draftRequest: ModelRequest = { owner: 'speculative', what: 'draft model', model: dirs.draft, threads: 1, inProcess: true };
  // a provider per generation, as api.ts makes them: what they load is shared per target
  const load = (request: ModelRequest) => extraModelsFor(target as CausalModel).causal(request);
  try {
    const a = await load(draftRequest);
    const b = await load(draftRequest);
    assert.equal(a.model, b.model, 'the second generation reuses the loaded draft');
    await a.dispose(); // a strategy letting go does not release the shared model
    const c = await load(draftRequest);
    assert.equal(c.model, a.model);
    const worker = await load({ ...draftRequest, owner: 'pearl', inProcess: false });
    assert.notEqual(worker.model, a.model, 'another way of loading is another model');
    // what PEARL reads to decide whether drafting beside a forward can overlap it
    assert.equal((target as CausalModel).cpuThreads, availableParallelism(), 'ORT\'s default threads: every core');
    assert.equal(worker.model.cpuThreads, 1);
    await releaseSharedModels(target);
    const d = await load(draftRequest);
    assert.notEqual(d.model, a.model, 'after release, a fresh load');
    await assert.rejects(a.model.forward(Int32Array.of(1), 1, 1, a.model.emptyCache(1)));
  } finally {
    await releaseSharedModels(target);
    await target.dispose();
  }
});

test('an in-process drafter computes what the worker-backed model computes', async () => {
  const model = ar.runtime as CausalModel;
  const inproc = await compileModel(dirs.target, { inProcess: true, threads: 1, cacheDir: join(dir, 'cache') });
  try {
    const tokens = Int32Array.of(4, 9, 17, 3, 22);
    const w = await model.forward(tokens, 1, 5, model.emptyCache(1), { logits: true });
    const p = await inproc.forward(tokens, 1, 5, inproc.emptyCache(1), { logits: true });
    assert.deepEqual(Array.from(p.head.topkIds), Array.from(w.head.topkIds));
    let d = 0;
    for (let i = 0; i < w.head.logits!.length; i++) d = Math.max(d, Math.abs(w.head.logits![i]! - p.head.logits![i]!));
    assert.ok(d < 1e-4, `logits differ by ${d}`);
    assert.ok(maxDiff(p.cache, w.cache) < 1e-4);
    const t = inproc.truncateCache(p.cache, 3);
    assert.ok(maxDiff(t, await prefill(model, [4, 9, 17])) < 1e-4);
  } finally {
    await inproc.dispose();
  }
});

test('speculative sampling matches the target distribution on a small model (chi-square)', async () => {
  const model = ar.runtime as CausalModel;
  const prompt = encodePrompt(ar, 'w5 w6');
  const V = model.vocabSize;
  // the target's exact marginals of the first two tokens
  const first = await model.forward(Int32Array.from(prompt), 1, prompt.length, model.emptyCache(1), { logits: true });
  const soft = (l: Float32Array, off: number): number[] => {
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, l[off + v]!);
    const e = Array.from({ length: V }, (_, v) => Math.exp(l[off + v]! - m));
    const s = e.reduce((x, y) => x + y, 0);
    return e.map((x) => x / s);
  };
  const p1 = soft(first.head.logits!, (prompt.length - 1) * V);
  const rows = Int32Array.from({ length: V }, (_, v) => v);
  const second = await model.forward(rows, V, 1, gatherRows(first.cache, Array.from({ length: V }, () => 0)), { logits: true });
  const p2 = new Array<number>(V).fill(0);
  for (let x = 0; x < V; x++) soft(second.head.logits!, x * V).forEach((q, y) => (p2[y] = p2[y]! + p1[x]! * q));

  const strategy = speculative.create(resolveParams('speculative', speculative.params, { draft: dirs.draft, verify: 'sampling', gamma: 2, schedule: 'constant', confidence: 0 }));
  const N = 1500;
  const c1 = new Map<string, number>();
  const c2 = new Map<string, number>();
  let accepted = 0;
  for (let i = 0; i < N; i++) {
    const r = await returnValue(runAutoregressive(model, prompt, strategy, { maxTokens: 2, sampling: { temperature: 1, topK: 0, topP: 1 }, rng: new Rng(500 + i), eosTokenIds: [], models: extraModelsFor(model), keepStrategy: true }));
    accepted += r.accepted;
    c1.set(String(r.generated[0]), (c1.get(String(r.generated[0])) ?? 0) + 1);
    c2.set(String(r.generated[1]), (c2.get(String(r.generated[1])) ?? 0) + 1);
  }
  await strategy.dispose?.();
  const asMap = (p: number[]): Map<string, number> => new Map(p.map((x, v) => [String(v), x]));
  const t1 = chiSquareP(c1, asMap(p1), N);
  const t2 = chiSquareP(c2, asMap(p2), N);
  assert.ok(t1.p > 1e-3, `first token: chi-square ${t1.stat.toFixed(1)} on ${t1.df} df, p = ${t1.p}`);
  assert.ok(t2.p > 1e-3, `second token: chi-square ${t2.stat.toFixed(1)} on ${t2.df} df, p = ${t2.p}`);
  assert.ok(accepted > 0, 'some drafts were accepted (the test exercises acceptance)');
});

/** The model without its tree forward: multipath / ADED fall back to batched rows. */
function rowsOnly(model: CausalModel): CausalModel {
  return {
    kind: 'causal',
    vocabSize: model.vocabSize,
    maxPositions: model.maxPositions,
    numLayers: model.numLayers,
    eosTokenIds: model.eosTokenIds,
    emptyCache: (b) => model.emptyCache(b),
    forward: (t, b, n, c, o) => model.forward(t, b, n, c, o),
    truncateCache: (c, n) => model.truncateCache(c, n),
  };
}

test('tree verification (multipath, ADED) gives what batched rows give, greedy and sampled', async () => {
  const model = ar.runtime as CausalModel;
  assert.ok(supportsTree(model));
  assert.ok(!supportsTree(rowsOnly(model)));
  const sampling = { temperature: 1, topK: 0, topP: 1 };
  for (const [name, opts] of [['multipath', { draft: dirs.draft, paths: 3, length: 4 }], ['aded', { iterations: 60 }]] as const) {
    const def = findAutoregressiveStrategy(name);
    for (const s of [GREEDY, sampling]) {
      for (const p of PROMPTS.slice(0, 2)) {
        const prompt = encodePrompt(ar, p);
        const outs: ArResult[] = [];
        for (const m of [model, rowsOnly(model)]) {
          const strategy = def.create(resolveParams(name, def.params, opts));
          try {
            outs.push(await returnValue(runAutoregressive(m, prompt, strategy, { maxTokens: 12, sampling: s, rng: new Rng(7), eosTokenIds: ar.eosTokenIds, models: extraModelsFor(m), keepStrategy: true })));
          } finally {
            await strategy.dispose?.();
          }
        }
        assert.deepEqual(outs[0]!.generated, outs[1]!.generated, `${name} T=${s.temperature} '${p}'`);
        assert.equal(outs[0]!.nfe, outs[1]!.nfe);
      }
    }
  }
});

test('tree verification: the committed cache equals a fresh prefill of the accepted prefix', async () => {
  const model = ar.runtime as CausalModel;
  const session = new ArSession(model, [4, 5, 6, 7], GREEDY, new Rng(0));
  const first = await scorePaths(session, [[8, 9, 10], [8, 11], [12]]);
  const y = first.views[0]!.pick(0);
  first.commit([y], 0);
  // a tree whose second path shares a prefix with the first; commit two kept drafts of path 1
  const paths = [[13, 14, 15], [13, 16, 17, 18]];
  const scored = await scorePaths(session, paths);
  scored.commit([13, 16, 19], 1);
  const fresh = await prefill(model, session.tokens.slice(0, -1));
  assert.ok(maxDiff(session.cache, fresh) < 1e-4, `tree commit differs from a fresh prefill by ${maxDiff(session.cache, fresh)}`);
});

test('superposed runs end to end on a compiled model (inputs_embeds graph variant)', async () => {
  const model = ar.runtime as CausalModel;
  assert.ok(acceptsEmbeddings(model));
  const strategy = superposed.create(resolveParams('superposed', superposed.params, {}));
  const prompt = encodePrompt(ar, PROMPTS[1]!);
  const got = await returnValue(runAutoregressive(model, prompt, strategy, { maxTokens: 8, sampling: GREEDY, rng: new Rng(0), eosTokenIds: ar.eosTokenIds, keepStrategy: true }));
  assert.ok(got.generated.length > 0 && got.generated.length <= 8);
  assert.ok(strategy.lastDrafts.length > 0 && strategy.lastDrafts.length <= 3);
  assert.ok(got.nfe <= 1 + got.generated.length, `nfe ${got.nfe}`);
  // a model without the embeddings graph is still refused by name
  await assert.rejects(generateIds(rowsOnly(model), prompt, superposed.create(resolveParams('superposed', superposed.params, {})), 4, ar.eosTokenIds), (e: unknown) => e instanceof OptionError && /inputs_embeds/.test(e.message));
});
