/**
 * The quality decoders' triggers, shown on scripted models: CNTP samples trials only when the
 * entropy is high and keeps the lowest-perplexity one; AdaDec pauses and reranks only above its
 * entropy threshold; Anchored Decoding moves from the target to the safe model as the budget
 * shrinks; Superposed Decoding feeds a superposition of its drafts' embeddings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAutoregressive, type ArResult } from '../../src/decode/autoregressive/loop.js';
import type { AutoregressiveStrategy } from '../../src/decode/autoregressive/types.js';
import { greedy } from '../../src/decode/autoregressive/greedy.js';
import { cntp, cntpTrials, punctuationIds } from '../../src/decode/autoregressive/cntp.js';
import { adadec } from '../../src/decode/autoregressive/adadec.js';
import { anchored, anchoredLambda, geometricMixture } from '../../src/decode/autoregressive/anchored.js';
import { superposed } from '../../src/decode/autoregressive/superposed.js';
import { borrowed, type ExtraModels } from '../../src/decode/autoregressive/extra-models.js';
import { returnValue } from '../../src/decode/drain.js';
import { resolveParams } from '../../src/decode/params.js';
import { OptionError } from '../../src/errors.js';
import { Rng } from '../../src/tasks/rng.js';
import { BatchScripted, EmbeddingScripted, logitsOf, scriptedModels } from './helpers.js';

async function run(model: BatchScripted, prompt: number[], strategy: AutoregressiveStrategy, options: { maxTokens?: number; temperature?: number; models?: ExtraModels } = {}): Promise<ArResult> {
  const it = runAutoregressive(model, prompt, strategy, {
    maxTokens: options.maxTokens ?? 8,
    sampling: { temperature: options.temperature ?? 0, topK: 0, topP: 1 },
    rng: new Rng(3),
    eosTokenIds: model.eosTokenIds,
    ...(options.models ? { models: options.models } : {}),
  });
  return returnValue(it);
}

const dist = (vocab: number, spec: Record<number, number>): Float32Array => {
  const rest = 1 - Object.values(spec).reduce((a, b) => a + b, 0);
  const free = vocab - Object.keys(spec).length;
  return logitsOf(Array.from({ length: vocab }, (_, v) => spec[v] ?? rest / free));
};

// ---- CNTP ----------------------------------------------------------------------------------
// vocab: 0 eos, 1..4 words, 5 = "." ; after the prompt the next word is uniform (high entropy);
// after word 3 the sentence ends at once with certainty, after the others it rambles
const CNTP_V = 6;
/** the tokenizer's encoder: only '.' is a token of its own (5) */
const cntpEncode = (text: string): number[] => (text === '.' ? [5] : []);
const cntpModel = (): BatchScripted =>
  new BatchScripted(CNTP_V, [0], (p) => {
    const last = p[p.length - 1]!;
    if (p.length === 1) return dist(CNTP_V, { 1: 0.25, 2: 0.25, 3: 0.25, 4: 0.25 });
    if (last === 5) return dist(CNTP_V, { 0: 0.99 });
    if (last === 3) return dist(CNTP_V, { 5: 0.99 });
    return dist(CNTP_V, { 1: 0.2, 2: 0.2, 4: 0.2, 5: 0.2 });
  });

test('cntp: trial count follows the entropy (reference formula)', () => {
  assert.equal(cntpTrials(0, 40, 0.01, 1.5), 1);
  assert.equal(cntpTrials(0.01, 40, 0.01, 1.5), 1);
  assert.equal(cntpTrials(1.5, 40, 0.01, 1.5), 40);
  assert.equal(cntpTrials(5, 40, 0.01, 1.5), 40);
  assert.equal(cntpTrials(0.755, 40, 0.01, 1.5), 20);
});

test('cntp: at a high-entropy step it samples trials to the punctuation and keeps the lowest-perplexity one', async () => {
  const plain = await run(cntpModel(), [2], greedy.create({}));
  assert.deepEqual(plain.generated.slice(0, 1), [1]); // greedy takes the first of the tied words
  const strategy = cntp.create(resolveParams('cntp', cntp.params, {}));
  const got = await run(cntpModel(), [2], strategy, { models: scriptedModels({ encode: () => cntpEncode }) });
  assert.deepEqual(got.generated.slice(0, 2), [3, 5], `got ${got.generated}`);
  assert.ok(got.nfe > got.generated.length, 'the trials cost forward passes');
});

test('cntp: at low entropy it is plain decoding', async () => {
  const peaked = (): BatchScripted => new BatchScripted(CNTP_V, [0], (p) => dist(CNTP_V, { [(p.length % 4) + 1]: 0.999 }));
  const plain = await run(peaked(), [2], greedy.create({}));
  const got = await run(peaked(), [2], cntp.create(resolveParams('cntp', cntp.params, {})), { models: scriptedModels({ encode: () => cntpEncode }) });
  assert.deepEqual(got.generated, plain.generated);
  assert.equal(got.nfe, plain.nfe);
});

test('cntp: a trial ends at the punctuation characters\' own token ids (each encoded alone), not at a token that contains one', async () => {
  // vocab: 0 eos, 1..4 words, 5 '.', 6 '",' (contains a comma), 7 ','. After a word comes 6, then 5.
  const encode = (text: string): number[] => (text === '.' ? [5] : text === ',' ? [7, 2] : text === '\n' ? [] : [3]);
  assert.deepEqual([...punctuationIds(encode)].sort(), [3, 5, 7], 'the first id of each encoding; an empty one ends nothing');
  const V8 = 8;
  const model = new BatchScripted(V8, [0], (p) => {
    const last = p[p.length - 1]!;
    if (p.length === 1) return dist(V8, { 1: 0.25, 2: 0.25, 3: 0.25, 4: 0.25 });
    if (last === 6) return dist(V8, { 5: 0.99 });
    if (last === 5) return dist(V8, { 0: 0.99 });
    return dist(V8, { 6: 0.99 });
  });
  const ids = (text: string): number[] => (text === '.' ? [5] : text === ',' ? [7] : []);
  const it = runAutoregressive(model, [2], cntp.create(resolveParams('cntp', cntp.params, {})), {
    maxTokens: 8, sampling: { temperature: 1, topK: 0, topP: 1 }, rng: new Rng(3), eosTokenIds: [0], models: scriptedModels({ encode: () => ids }),
  });
  const first = await it.next();
  assert.ok(!first.done);
  // the trial ran past the comma-containing token 6 to the '.' token
  assert.deepEqual(first.value.tokens.slice(1), [6, 5], `first step committed ${first.value.tokens}`);
});

test('cntp: perplexity counts the probabilities the trial tokens were drawn with (the warped distribution)', async () => {
  // Sampling at T = 0.5. First token: 1 (0.32), 2 (0.5), 3 (0.18). After 1 the trial ends with
  // 5 at 0.9 (or end-of-text); after 2 with 5 or end-of-text at 0.5 each; after 3 with 5.
  // Temperature-1 perplexity prefers [1, 5] (0.32 · 0.9 = 0.288 > 0.5 · 0.5 = 0.25); under the
  // warped probabilities (0.266 · 0.988 = 0.263 < 0.650 · 0.5 = 0.325) a trial starting with 2 wins.
  const model = new BatchScripted(CNTP_V, [0], (p) => {
    const last = p[p.length - 1]!;
    if (p.length === 1) return dist(CNTP_V, { 1: 0.32, 2: 0.5, 3: 0.18, 4: 0, 5: 0, 0: 0 });
    if (last === 1) return dist(CNTP_V, { 5: 0.9, 0: 0.1, 1: 0, 2: 0, 3: 0, 4: 0 });
    if (last === 2) return dist(CNTP_V, { 5: 0.5, 0: 0.5, 1: 0, 2: 0, 3: 0, 4: 0 });
    return dist(CNTP_V, { 5: 1 - 1e-9, 0: 0 });
  });
  for (let seed = 0; seed < 5; seed++) {
    const it = runAutoregressive(model, [2], cntp.create(resolveParams('cntp', cntp.params, {})), {
      maxTokens: 8, sampling: { temperature: 0.5, topK: 0, topP: 1 }, rng: new Rng(seed), eosTokenIds: [0], models: scriptedModels({ encode: () => cntpEncode }),
    });
    const first = await it.next();
    assert.ok(!first.done);
    assert.equal(first.value.tokens[0], 2, `seed ${seed}: committed ${first.value.tokens}`);
  }
});

// ---- AdaDec --------------------------------------------------------------------------------
// after the prompt: 1 (0.4), 2 (0.35), 3 (0.25): entropy 1.08 nats > 1.0; after 1 the model is
// lost (uniform), after 2 it is sure of every next token
const ADA_V = 8;
const adaModel = (): BatchScripted =>
  new BatchScripted(ADA_V, [0], (p) => {
    if (p.length === 1) return dist(ADA_V, { 1: 0.4, 2: 0.35, 3: 0.25 });
    if (p[1] === 2) return dist(ADA_V, { [(p.length % 5) + 3]: 0.99 });
    return logitsOf(new Array(ADA_V).fill(1 / ADA_V));
  });

test('adadec: above the entropy threshold it pauses and reranks by lookahead', async () => {
  const plain = await run(adaModel(), [5], greedy.create({}), { maxTokens: 3 });
  assert.equal(plain.generated[0], 1);
  const strategy = adadec.create(resolveParams('adadec', adadec.params, {}));
  const got = await run(adaModel(), [5], strategy, { maxTokens: 3 });
  assert.equal(got.generated[0], 2, `got ${got.generated}`);
  assert.ok(strategy.pauses >= 1);
  assert.ok(got.nfe > plain.nfe, 'the lookahead costs forward passes');
});

test('adadec: below the threshold it is greedy', async () => {
  const strategy = adadec.create(resolveParams('adadec', adadec.params, { threshold: 2.5 }));
  const plain = await run(adaModel(), [5], greedy.create({}), { maxTokens: 3 });
  const got = await run(adaModel(), [5], strategy, { maxTokens: 3 });
  assert.deepEqual(got.generated, plain.generated);
  assert.equal(strategy.pauses, 0);
  assert.equal(got.nfe, plain.nfe);
});

// ---- Anchored ------------------------------------------------------------------------------
const ANC_V = 5;
const risky = (): BatchScripted => new BatchScripted(ANC_V, [], () => dist(ANC_V, { 1: 0.9 }));
const safe = (): BatchScripted => new BatchScripted(ANC_V, [], () => dist(ANC_V, { 2: 0.9 }));

test('anchored: the geometric mixture spans safe (λ = 0) to target (λ = 1), KL grows with λ', () => {
  const ls = Float64Array.from([0.1, 0.2, 0.7], Math.log);
  const lt = Float64Array.from([0.6, 0.3, 0.1], Math.log);
  assert.ok(geometricMixture(ls, lt, 0).kl < 1e-12);
  let last = -1;
  for (const l of [0, 0.25, 0.5, 0.75, 1]) {
    const { kl } = geometricMixture(ls, lt, l);
    assert.ok(kl >= last - 1e-12);
    last = kl;
  }
  const pick = anchoredLambda(ls, lt, 0.1);
  assert.ok(pick.kl <= 0.1 + 1e-9 && pick.lambda > 0 && pick.lambda < 1);
});

test('anchored: a large budget decodes the target, none decodes the safe model, the spend never exceeds the budget', async () => {
  const mk = (budget: number) => anchored.create(resolveParams('anchored', anchored.params, { budget }));
  const models = () => scriptedModels({ causal: async () => borrowed(safe()) });
  const free = await run(risky(), [0], mk(1e9), { maxTokens: 6, models: models() });
  assert.deepEqual(free.generated, [1, 1, 1, 1, 1, 1]);
  const none = await run(risky(), [0], mk(0), { maxTokens: 6, models: models() });
  assert.deepEqual(none.generated, [2, 2, 2, 2, 2, 2]);
  const some = mk(12);
  const mid = await run(risky(), [0], some, { maxTokens: 6, models: models() });
  assert.ok(some.spent <= 12 + 1e-9, `spent ${some.spent}`);
  assert.ok(some.trace.some((t) => t.lambda > 0 && t.lambda < 1), 'the budget binds at some step');
  assert.ok(mid.generated.includes(1), `some target tokens: ${mid.generated}`);
});

// ---- Superposed ----------------------------------------------------------------------------
// vocab 0 eos, 1..6; the prompt repeats "1 2 3"; the model continues the pattern with p 0.6
const SUP_V = 7;
const supModel = (): EmbeddingScripted =>
  new EmbeddingScripted(SUP_V, [0], (p) => {
    const last = p[p.length - 1]!;
    if (p.length >= 12) return dist(SUP_V, { 0: 0.9 });
    const next = (last % 3) + 1;
    return dist(SUP_V, { [next]: 0.6, [((next + 1) % 6) + 1]: 0.2 });
  });

test('superposed: k drafts from one forward per token, fed as a superposition of their embeddings', async () => {
  const model = supModel();
  const strategy = superposed.create(resolveParams('superposed', superposed.params, {}));
  const got = await run(model, [1, 2, 3, 1, 2, 3], strategy, { maxTokens: 8 });
  assert.equal(got.generated.length > 0, true);
  assert.deepEqual(got.generated.slice(0, 3), [1, 2, 3], `got ${got.generated}`);
  assert.equal(strategy.lastDrafts.length, 3);
  assert.ok(model.seen.length > 0);
  assert.ok(model.seen.some((x) => x.filter((w) => w > 1e-6).length > 1), 'some input mixes several drafts');
  for (const x of model.seen) assert.ok(Math.abs(x.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'weights are normalised');
  // one forward per generated position (after the prefill), never one per draft
  assert.ok(got.nfe <= 1 + got.generated.length, `nfe ${got.nfe} for ${got.generated.length} tokens`);
});

test('superposed: a model without an embeddings input is refused by name', async () => {
  await assert.rejects(run(risky(), [0], superposed.create(resolveParams('superposed', superposed.params, {}))), (e: unknown) => e instanceof OptionError && /inputs_embeds/.test(e.message));
});
