/**
 * The draft sources' own rules (prompt lookup, ADED's tri-gram MCTS, unified layer skipping, the
 * draft length schedule, multi-path exact match), block verification's advantage, the registry
 * entries, and the release of draft models however a generation ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup, lookupDraft } from '../../src/decode/autoregressive/lookup.js';
import { aded } from '../../src/decode/autoregressive/aded.js';
import { adedDrafts, capTreeNodes, cutToChoices, MAX_TREE_NODES, searchPaths } from '../../src/decode/autoregressive/aded-search.js';
import { TrigramTable } from '../../src/decode/autoregressive/aded-trigrams.js';
import { buildTrigramRows, readDatastore, writeDatastore, DATASTORE_TOP } from '../../src/decode/autoregressive/aded-datastore.js';
import { greedy } from '../../src/decode/autoregressive/greedy.js';
import { CheckpointError } from '../../src/errors.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { borrowed, type Loaded } from '../../src/decode/autoregressive/extra-models.js';
import { unifiedKeptLayers } from '../../src/decode/autoregressive/layerskip.js';
import { extraModelsFor } from '../../src/extra-model-loader.js';
import { DraftLength } from '../../src/decode/autoregressive/draft-model.js';
import { verifyPathsExact } from '../../src/decode/autoregressive/multipath.js';
import { speculative } from '../../src/decode/autoregressive/speculative.js';
import { canOverlap, pearl, SpeedRatio } from '../../src/decode/autoregressive/pearl.js';
import { runAutoregressive } from '../../src/decode/autoregressive/loop.js';
import { returnValue } from '../../src/decode/drain.js';
import { AUTOREGRESSIVE_STRATEGIES, findAutoregressiveStrategy } from '../../src/decode/registry.js';
import { resolveParams } from '../../src/decode/params.js';
import type { CausalModel } from '../../src/runtime/types.js';
import type { AutoregressiveStrategy } from '../../src/decode/autoregressive/types.js';
import { OptionError } from '../../src/errors.js';
import { Rng } from '../../src/tasks/rng.js';
import { BatchScripted, hashedDistribution, logitsOf, scriptedModels } from './helpers.js';

test('lookup: continuation of the earliest match of the longest tail n-gram (HF rule)', () => {
  // tail bigram (7, 8) occurs at 1 → continuation 9 10 11
  assert.deepEqual(lookupDraft([5, 7, 8, 9, 10, 11, 7, 8], 2, 3), [9, 10, 11]);
  assert.deepEqual(lookupDraft([5, 7, 8, 9, 10, 11, 7, 8], 2, 10), [9, 10, 11, 7, 8]);
  // no bigram match: the unigram 8 matches at 2
  assert.deepEqual(lookupDraft([1, 2, 8, 4, 3, 8], 2, 2), [4, 3]);
  // the earliest occurrence wins
  assert.deepEqual(lookupDraft([1, 2, 3, 1, 2, 4, 1, 2], 2, 1), [3]);
  assert.deepEqual(lookupDraft([1, 2, 3], 2, 4), []);
});

test('lookup: the draft stops before end-of-text, as HF get_candidates cuts it', async () => {
  const eos = 3;
  // the continuation of the tail unigram 5 is 6, eos, 7: only 6 is drafted
  assert.deepEqual(lookupDraft([5, 6, eos, 7, 5], 2, 3, 1, [eos]), [6]);
  // a match whose continuation starts with eos is final: no draft, no fallback to a later match
  assert.deepEqual(lookupDraft([5, eos, 5, 6, 5], 1, 3, 1, [eos]), []);
  // end to end: the target says 6 then eos; the draft holds 6 only, the target itself emits eos
  const next = (prefix: readonly number[]): Float32Array => {
    const top = prefix.at(-1) === 5 ? 6 : prefix.at(-1) === 6 ? eos : 0;
    return logitsOf(Array.from({ length: 8 }, (_, t) => (t === top ? 0.9 : 0.1 / 7)));
  };
  const prompt = [5, 6, eos, 7, 5];
  const options = { maxTokens: 8, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [eos], models: scriptedModels({}) };
  const strategy = lookup.create(resolveParams('lookup', lookup.params, { num_tokens: 3 }));
  const it = runAutoregressive(new BatchScripted(8, [eos], next), prompt, strategy, options);
  const first = await it.next();
  assert.ok(!first.done);
  assert.deepEqual({ tokens: first.value.tokens, drafted: first.value.drafted, accepted: first.value.accepted }, { tokens: [6, eos], drafted: 1, accepted: 1 });
  const result = await returnValue(it);
  const plain = await returnValue(runAutoregressive(new BatchScripted(8, [eos], next), prompt, greedy.create({}), { ...options, rng: new Rng(0) }));
  assert.deepEqual(result.generated, plain.generated);
  assert.equal(result.finishReason, 'stop');
});

const ADED_SEARCH = { iterations: 150, depth: 3, topK: 24, choices: 64, c1: 32, c2: 8 };
const half = { float: () => 0.5 };

/** A table from [a, b, c, weight] rows. */
function trigrams(rows: readonly (readonly [number, number, number, number])[], vocab = 16): TrigramTable {
  const table = new TrigramTable(vocab);
  for (const [a, b, c, w] of rows) table.add(a, b, c, w);
  return table;
}

test('aded search: the reference MCTS on a hand-made table (full expansion, PUCT on raw weights, greedy extension)', () => {
  // root (1, 2) → 3 (0.7) | 4 (0.3); every other bigram has one continuation
  const table = trigrams([[1, 2, 3, 0.7], [1, 2, 4, 0.3], [2, 3, 5, 1], [3, 5, 7, 1], [5, 7, 9, 1], [2, 4, 6, 1], [4, 6, 8, 1]]);
  // round 1 expands the root and visits its last child, 4; round 2 the unvisited 3 (then its child
  // 5); round 3 goes 3 → 5 by PUCT (17.0 against 7.9) and expands 5's child 7. Sentences by visits:
  // [2] 3, [2 3] 2, [2 3 5] 2, [2 3 5 7] 1, [2 4] 1; each gets the heaviest next token
  assert.deepEqual(searchPaths(table, [1, 2], { ...ADED_SEARCH, iterations: 3 }, half), [[3, 5], [3, 5, 7], [3, 5, 7, 9], [4, 6]]);
  // top_k keeps the most visited nodes only (the root among them)
  assert.deepEqual(searchPaths(table, [1, 2], { ...ADED_SEARCH, iterations: 3, topK: 3 }, half), [[3, 5], [3, 5, 7]]);
  // choices = 6 < 2 + 3 + 4 + 2: the paths with the most distinct tokens go first, then the less
  // visited of two equal ones — [3 5 7 9] and [3 5 7] leave, 4 tokens stay
  assert.deepEqual(adedDrafts(table, [1, 2], { ...ADED_SEARCH, iterations: 3, choices: 6 }, half), [[3, 5], [4, 6]]);
  assert.deepEqual(cutToChoices([[1, 1, 1, 1], [2, 3], [4, 5, 6]], 3), [[1, 1, 1, 1], [2, 3]], 'distinct tokens count, not positions');
});

test('aded search: the value is 1 + the weights of (a, b → b) along the rollout (the reference\'s lookup)', () => {
  // root (1, 2) → 3 | 4 at equal weight; only the branch through 4 repeats a token
  const table = trigrams([[1, 2, 3, 0.5], [1, 2, 4, 0.5], [2, 3, 5, 1], [3, 5, 6, 1], [2, 4, 4, 1], [4, 4, 4, 1]]);
  // rounds 1-2 visit 4 (value 1 + w(2,4→4) + w(4,4→4) = 3) and 3 (value 1); round 3's PUCT terms
  // are equal, so the higher mean value picks 4 again (a constant value would pick 3, the first)
  assert.deepEqual(searchPaths(table, [1, 2], { ...ADED_SEARCH, iterations: 3 }, half), [[4, 4], [3, 5], [3, 5, 6], [4, 4, 4]]);
});

test('aded search: choices caps the sum of distinct tokens per path, and the tree keeps at most 64 nodes', () => {
  const rng = new Rng(3);
  const rows: [number, number, number, number][] = [];
  for (let a = 0; a < 12; a++) for (let b = 0; b < 12; b++) for (let j = 0; j < 5; j++) rows.push([a, b, (a * 7 + b * 3 + j * 5) % 12, 0.1 + rng.float()]);
  const table = trigrams(rows, 12);
  const uncut = searchPaths(table, [4, 9], ADED_SEARCH, new Rng(1));
  const distinct = (paths: number[][]) => paths.reduce((n, p) => n + new Set(p).size, 0);
  assert.ok(distinct(uncut) > 24, `the uncut paths hold ${distinct(uncut)} distinct tokens`);
  assert.ok(uncut.some((p) => p.length === 4), 'three tree tokens plus the greedy extension');
  for (const choices of [4, 10, 24, 64]) {
    const kept = adedDrafts(table, [4, 9], { ...ADED_SEARCH, choices }, new Rng(1));
    assert.ok(kept.length > 0 && distinct(kept) <= choices, `choices ${choices}: ${distinct(kept)}`);
  }
  const wide = Array.from({ length: 30 }, (_, i) => [i, 100 + i, 200 + i]);
  const capped = capTreeNodes(wide);
  const nodes = new Set(capped.flatMap((p) => p.map((_, d) => p.slice(0, d + 1).join(','))));
  assert.equal(nodes.size, MAX_TREE_NODES);
  // 30 roots + 30 second tokens + the first 4 third tokens: the shallowest nodes, first seen first
  assert.deepEqual([capped.length, capped[3], capped[4]], [30, [3, 103, 203], [4, 104]]);
});

test('aded: online updates are capped at 3.0', () => {
  const table = trigrams([[1, 2, 3, 1]]);
  table.add(1, 2, 3, 10, 3);
  assert.equal(table.weight(1, 2, 3), 3);
  assert.deepEqual(table.row(1, 2), [{ token: 3, w: 3 }]);
});

test('aded datastore: per-bigram probabilities from corpus counts, the 12 most probable kept on load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paradec-aded-'));
  try {
    // (1, 2) → 3 three times, → 4 once; (5, 6) → 20 continuations seen once each, 7 twice
    const docs = [[1, 2, 3], [1, 2, 3], [0, 1, 2, 3], [1, 2, 4]];
    for (let c = 10; c < 30; c++) docs.push([5, 6, c]);
    docs.push([5, 6, 7], [5, 6, 7]);
    const rows = buildTrigramRows(docs);
    assert.equal(rows.documents, docs.length);
    const file = join(dir, 'ds.safetensors');
    writeDatastore(file, rows, 32, 'test');
    const entries = readDatastore(file, 32);
    const of = (a: number, b: number) => entries.filter((e) => e.a === a && e.b === b).sort((x, y) => y.p - x.p);
    assert.deepEqual(of(1, 2).map((e) => [e.c, e.p]), [[3, 0.75], [4, 0.25]]);
    assert.deepEqual(of(0, 1).map((e) => [e.c, e.p]), [[2, 1]]);
    const five = of(5, 6);
    assert.equal(five.length, DATASTORE_TOP);
    assert.equal(five[0]!.c, 7);
    assert.ok(Math.abs(five[0]!.p - 2 / 22) < 1e-6);
    assert.throws(() => readDatastore(file, 16), (e: unknown) => e instanceof CheckpointError && /vocabulary of 32/.test((e as Error).message));
    assert.throws(() => readDatastore(join(dir, 'missing.safetensors'), 32), /missing\.safetensors: ADED datastore not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('aded: a corpus datastore lets drafting start at the first step; output stays greedy', async () => {
  const V = 8;
  // the target continues a cycle: after t comes t + 1 (mod V)
  const target = () => new BatchScripted(V, [], (p) => logitsOf(Array.from({ length: V }, (_, v) => (v === (p[p.length - 1]! + 1) % V ? 0.9 : 0.1 / (V - 1)))));
  const dir = mkdtempSync(join(tmpdir(), 'paradec-aded-'));
  try {
    const file = join(dir, 'ds.safetensors');
    writeDatastore(file, buildTrigramRows([Array.from({ length: 40 }, (_, i) => i % V)]), V, 'cycle');
    const decode = async (datastore: string) => {
      const model = target();
      const it = runAutoregressive(model, [0, 1], aded.create(resolveParams('aded', aded.params, { iterations: 60, datastore })), {
        maxTokens: 12, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [], models: extraModelsFor(model),
      });
      const steps: number[] = [];
      for (;;) {
        const n = await it.next();
        if (n.done) return { tokens: n.value.generated, nfe: n.value.nfe, steps };
        steps.push(n.value.tokens.length);
      }
    };
    const plain = (await returnValue(runAutoregressive(target(), [0, 1], greedy.create({}), { maxTokens: 12, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [] }))).generated;
    const withStore = await decode(file);
    const without = await decode('none');
    assert.deepEqual(withStore.tokens, plain);
    assert.deepEqual(without.tokens, plain);
    assert.equal(withStore.steps[0], 5, 'first step: 3 tree drafts and the greedy extension accepted + the bonus token');
    assert.equal(without.steps[0], 1, 'no datastore: a 2-token prompt has no tri-gram to draft from');
    assert.ok(withStore.nfe < without.nfe);
    await assert.rejects(decode(join(dir, 'nope.safetensors')), /nope\.safetensors not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unified layer skipping: keep round(L / ratio) layers, first and last kept, the rest evenly spread', () => {
  assert.deepEqual(unifiedKeptLayers(4, 2), [0, 3]);
  assert.deepEqual(unifiedKeptLayers(8, 2), [0, 2, 5, 7]);
  assert.deepEqual(unifiedKeptLayers(12, 1.5), [0, 2, 3, 5, 6, 8, 9, 11]);
  assert.deepEqual(unifiedKeptLayers(4, 1), [0, 1, 2, 3]);
  assert.throws(() => unifiedKeptLayers(4, 0.5), OptionError);
});

test('draft length: +2 after a round whose drafted tokens were all accepted, −1 after a rejection (floor 1), capped', () => {
  const d = new DraftLength(5, 'heuristic', 8);
  d.update(5, 5);
  assert.equal(d.current, 7);
  d.update(7, 7);
  assert.equal(d.current, 8);
  d.update(8, 3);
  assert.equal(d.current, 7);
  for (let i = 0; i < 10; i++) d.update(1, 0);
  assert.equal(d.current, 1);
  d.update(1, 1);
  assert.equal(d.current, 3);
  // a draft cut short (2 of 3 asked) and accepted whole grows γ too (HF: num_matches == candidates)
  d.update(2, 2);
  assert.equal(d.current, 5);
  const c = new DraftLength(4, 'constant', 8);
  c.update(4, 4);
  assert.equal(c.current, 4);
});

test('speculative: a draft stopped early by its confidence and accepted whole grows γ by 2 (current transformers)', async () => {
  // target and draft agree on the next token (last + 1 mod 6, never end-of-text); the draft's
  // first token after the prompt has probability 0.3 < 0.4, so round 1 drafts 1 of γ = 2, all kept
  const next = (lowFirst: boolean) => (prefix: readonly number[]): Float32Array => {
    const top = (prefix.at(-1)! + 1) % 6;
    const p = lowFirst && prefix.length === 1 ? 0.3 : 0.9;
    return logitsOf(Array.from({ length: 8 }, (_, t) => (t === top ? p : (1 - p) / 7)));
  };
  const s = speculative.create(resolveParams('speculative', speculative.params, { gamma: 2, verify: 'greedy' }));
  const models = scriptedModels({ causal: async () => borrowed(new BatchScripted(8, [], next(true))) });
  const it = runAutoregressive(new BatchScripted(8, [], next(false)), [0], s, { maxTokens: 20, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [], models });
  const drafted: number[] = [];
  for (let n = await it.next(); !n.done; n = await it.next()) drafted.push(n.value.drafted ?? 0);
  assert.deepEqual(drafted.slice(0, 3), [1, 4, 6]);
});

test('PEARL γ: round(target / draft forward time) from unoverlapped rounds, prefill skipped, recent window', () => {
  const speed = new SpeedRatio();
  assert.equal(speed.gamma(16), 4, 'before any sample: the fallback');
  assert.ok(speed.sampling, 'the first rounds are timed unoverlapped');
  speed.note({ target: 50, draft: 1, forwards: 1 }); // prefill round: ignored
  assert.equal(speed.gamma(16), 4);
  speed.note({ target: 1.2, draft: 0.9, forwards: 3 }); // 1.2 ms vs 0.3 ms per draft forward
  assert.equal(speed.gamma(16), 4);
  speed.note({ target: 1.0, draft: 0.2, forwards: 1 }); // mean 1.1 / (1.1 / 4) = 4
  assert.equal(speed.gamma(16), 4);
  speed.note({ target: 2.3, draft: 0.2, forwards: 2 }); // 1.5 / (1.3 / 6)
  assert.equal(speed.gamma(16), Math.round(1.5 / (1.3 / 6)));
  assert.equal(speed.gamma(3), 3, 'capped by max_gamma');
  // then mostly overlapped rounds (untimed), one timed round in 16
  let timed = 0;
  for (let r = 0; r < 64; r++) {
    if (speed.sampling) {
      timed += 1;
      speed.note({ target: 1, draft: 1, forwards: 1 }); // the draft became as slow as the target
    } else speed.note();
  }
  assert.equal(timed, 4);
  assert.equal(speed.gamma(16), 2, '3 old + 4 new samples: c = 1.21 / 0.53 = 2.3');
  for (let r = 0; r < 64; r++) speed.note(speed.sampling ? { target: 1, draft: 1, forwards: 1 } : undefined);
  assert.equal(speed.gamma(16), 1, 'only the recent ratio 1 remains: γ = 1');
});

test('multi-path exact match keeps the longest agreeing path', () => {
  const picks = [4, 5, 6, 7]; // the target's tokens along the kept prefix
  const views = [0, 1, 2].map(() => ({ p: () => new Float64Array(0), pick: (i: number) => picks[i]! }));
  const v = verifyPathsExact([[4, 9], [4, 5, 6, 1], [4, 5]], views);
  assert.equal(v.row, 1);
  assert.equal(v.accepted, 3);
  assert.deepEqual(v.tokens, [4, 5, 6, 7]);
  assert.deepEqual(verifyPathsExact([[1], [2]], views), { row: 0, accepted: 0, tokens: [4] });
});

const V = 4;
const target = (): BatchScripted => new BatchScripted(V, [], (p) => logitsOf(hashedDistribution(p, V, 1, 2.5)));
const draft = (): BatchScripted => new BatchScripted(V, [], (p) => logitsOf(hashedDistribution(p, V, 2, 2.5)));

async function meanAccepted(verify: string, runs: number): Promise<number> {
  let accepted = 0;
  let verifies = 0;
  for (let i = 0; i < runs; i++) {
    const s = speculative.create(resolveParams('speculative', speculative.params, { verify, gamma: 4, schedule: 'constant', confidence: 0 }));
    const models = scriptedModels({ causal: async () => borrowed(draft()) });
    const result = await returnValue(runAutoregressive(target(), [1, 2], s, { maxTokens: 5, sampling: { temperature: 1, topK: 0, topP: 1 }, rng: new Rng(i), eosTokenIds: [], models }));
    accepted += result.accepted;
    verifies += result.verifies ?? 0;
  }
  return accepted / verifies;
}

test('block verification keeps at least as many drafts as token-wise speculative sampling', async () => {
  const token = await meanAccepted('sampling', 1500);
  const block = await meanAccepted('block', 1500);
  assert.ok(block > token, `block ${block.toFixed(3)} vs token-wise ${token.toFixed(3)} accepted per verify`);
});

test('registry: every method of the issue, with its paper, defaults and typed params', () => {
  const names = AUTOREGRESSIVE_STRATEGIES.map((s) => s.name);
  for (const n of ['greedy', 'speculative', 'multipath', 'pearl', 'lookup', 'aded', 'layerskip', 'deer', 'cntp', 'adadec', 'superposed', 'anchored']) {
    assert.ok(names.includes(n), n);
    const def = findAutoregressiveStrategy(n);
    assert.equal(def.family, 'autoregressive');
    assert.ok(def.paper.length > 10, `${n} cites its paper`);
    resolveParams(n, def.params, {}); // defaults are valid
  }
  assert.equal(resolveParams('speculative', speculative.params, { verify: 'block' })['verify'], 'block');
  assert.throws(() => resolveParams('speculative', speculative.params, { verify: 'nope' }), OptionError);
  assert.throws(() => resolveParams('speculative', speculative.params, { gama: 3 }), /unknown option 'gama'/);
  assert.equal(findAutoregressiveStrategy('speculative').params['draft']!.default, 'tiny-ar-draft');
  assert.equal(findAutoregressiveStrategy('deer').params['drafter']!.default, 'tiny-dlm');
});

test('draft models are loaded lazily and released however the generation ends', async () => {
  let loads = 0;
  let releases = 0;
  const models = scriptedModels({
    causal: async (): Promise<Loaded<CausalModel>> => {
      loads += 1;
      return { model: draft(), dir: 'spy', dispose: async () => void (releases += 1) };
    },
  });
  const s1 = speculative.create(resolveParams('speculative', speculative.params, {}));
  assert.equal(loads, 0, 'nothing loads at creation');
  await returnValue(runAutoregressive(target(), [1, 2], s1, { maxTokens: 6, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [], models }));
  assert.deepEqual([loads, releases], [1, 1]);
  // a consumer that stops early (stop strings)
  const s2 = speculative.create(resolveParams('speculative', speculative.params, {}));
  const it2 = runAutoregressive(target(), [1, 2], s2, { maxTokens: 6, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [], models });
  await it2.next();
  await it2.return(undefined as never);
  assert.deepEqual([loads, releases], [2, 2]);
});

test('a strategy whose caller gave no extra models says which one it needed', async () => {
  const greedyRun = { maxTokens: 4, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [] };
  const s = speculative.create(resolveParams('speculative', speculative.params, {}));
  await assert.rejects(returnValue(runAutoregressive(target(), [1, 2], s, greedyRun)), (e: unknown) => e instanceof OptionError && /^speculative: needs its draft model \(tiny-ar-draft\)/.test(e.message));
  const skip = findAutoregressiveStrategy('layerskip');
  await assert.rejects(returnValue(runAutoregressive(target(), [1, 2], skip.create(resolveParams('layerskip', skip.params, {})), greedyRun)), (e: unknown) => e instanceof OptionError && /^layerskip: cannot tell which checkpoint/.test(e.message));
  // what needs nothing runs: ADED's `auto` datastore is "the target's, if there is one"
  const adedRun = await returnValue(runAutoregressive(target(), [1, 2], aded.create(resolveParams('aded', aded.params, {})), greedyRun));
  assert.equal(adedRun.generated.length, 4);
});

/** A scripted target that reports itself busy for the first `polls` checks after each forward starts. */
class BusyTarget extends BatchScripted {
  private left = 0;
  /** how often busy() was asked */
  asked = 0;
  /** CPU cores a forward takes (CausalModel.cpuThreads); undefined: does not say */
  cpuThreads: number | undefined;
  /** draft.calls when each of this model's forwards started */
  private readonly marks: number[] = [];
  watched: BatchScripted | undefined;
  constructor(next: (p: readonly number[]) => Float32Array, private readonly polls: number) {
    super(4, [], next);
  }
  override async forward(...args: Parameters<BatchScripted['forward']>): ReturnType<BatchScripted['forward']> {
    this.left = this.polls;
    this.marks.push(this.watched?.calls ?? 0);
    return super.forward(...args);
  }
  /** draft forwards during each target forward (from its start to the next one's) */
  drafts(draft: BatchScripted): number[] {
    const ends = [...this.marks.slice(1), draft.calls];
    return this.marks.map((m, i) => ends[i]! - m);
  }
  busy(): boolean {
    this.asked += 1;
    if (this.left <= 0) return false;
    this.left -= 1;
    return true;
  }
}

test('pearl gamma=0: the draft drafts for as long as the target reports its forward running', async () => {
  const next = (p: readonly number[]): Float32Array => logitsOf(hashedDistribution(p, 4, 1, 2.5));
  const plainModel = new BatchScripted(4, [], next);
  const plain = (await returnValue(runAutoregressive(plainModel, [1, 2], findAutoregressiveStrategy('greedy').create({}), { maxTokens: 40, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [] }))).generated;
  for (const polls of [1, 3, 6]) {
    const target = new BusyTarget(next, polls);
    // a draft that disagrees with the target now and then (another hashed distribution)
    const draft = new BatchScripted(4, [], (p) => logitsOf(hashedDistribution(p, 4, 2, 2.5)));
    target.watched = draft;
    const strategy = pearl.create(resolveParams('pearl', pearl.params, {}));
    const models = scriptedModels({ causal: async () => borrowed(draft) });
    const result = await returnValue(runAutoregressive(target, [1, 2], strategy, { maxTokens: 40, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [], models }));
    assert.deepEqual(result.generated, plain, `polls=${polls}: identical to greedy`);
    // every target forward ran beside exactly `polls` draft forwards, except the last rounds,
    // where the 40-token limit leaves less room than that
    const perRound = target.drafts(draft);
    assert.ok(perRound.every((n) => n <= polls), `polls=${polls}: ${JSON.stringify(perRound)}`);
    const cut = perRound.findIndex((n) => n < polls);
    assert.ok(cut === -1 || cut >= perRound.length - polls - 1, `polls=${polls}: ${JSON.stringify(perRound)}`);
    assert.ok(perRound.length > 2 * polls, 'enough rounds to mean something');
  }
});

test('pearl overlaps only when the target leaves a core for the draft (canOverlap)', () => {
  const t = new BusyTarget(() => new Float32Array(4), 1);
  assert.equal(canOverlap(t, 2), true, 'a target that does not say how many cores it takes');
  t.cpuThreads = 1;
  assert.equal(canOverlap(t, 2), true, 'one thread on two cores');
  t.cpuThreads = 2;
  assert.equal(canOverlap(t, 2), false, 'ORT default: one thread per core');
  assert.equal(canOverlap(new BatchScripted(4, [], () => new Float32Array(4)), 8), false, 'a target on the calling thread');
});

test('pearl without a free core drafts and verifies in turn: speculative decoding\'s rounds, never polling the target', async () => {
  const next = (p: readonly number[]): Float32Array => logitsOf(hashedDistribution(p, 4, 1, 2.5));
  const draftNext = (p: readonly number[]): Float32Array => logitsOf(hashedDistribution(p, 4, 2, 2.5));
  const run = (target: CausalModel, strategy: AutoregressiveStrategy) => {
    const models = scriptedModels({ causal: async () => borrowed(new BatchScripted(4, [], draftNext)) });
    return returnValue(runAutoregressive(target, [1, 2], strategy, { maxTokens: 40, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0), eosTokenIds: [], models }));
  };
  const spec = await run(new BatchScripted(4, [], next), speculative.create(resolveParams('speculative', speculative.params, { max_gamma: 16 })));
  for (const [overlap, cpuThreads] of [['auto', availableParallelism()], ['off', 1]] as const) {
    const target = new BusyTarget(next, 3);
    target.cpuThreads = cpuThreads;
    const result = await run(target, pearl.create(resolveParams('pearl', pearl.params, { overlap })));
    assert.equal(target.asked, 0, `overlap=${overlap}: nothing drafts beside a forward`);
    assert.deepEqual(result.generated, spec.generated, `overlap=${overlap}: same output`);
    assert.deepEqual([result.nfe, result.verifies, result.draftNfe, result.accepted], [spec.nfe, spec.verifies, spec.draftNfe, spec.accepted], `overlap=${overlap}: speculative's rounds`);
  }
  // the same target with a core to spare overlaps
  const spare = new BusyTarget(next, 3);
  spare.cpuThreads = 1;
  await run(spare, pearl.create(resolveParams('pearl', pearl.params, {})));
  assert.ok(spare.asked > 0, 'overlap=auto with a free core drafts while the target runs');
});
