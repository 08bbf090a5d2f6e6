/**
 * The autoregressive sampler is transformers' warper chain: temperature, then top-k, then top-p on
 * the renormalised top-k distribution (`TopPLogitsWarper` after `TopKLogitsWarper`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { samplingDistribution } from '../../src/decode/autoregressive/sampling.js';
import { greedy } from '../../src/decode/autoregressive/greedy.js';
import { runAutoregressive } from '../../src/decode/autoregressive/loop.js';
import { returnValue } from '../../src/decode/drain.js';
import { Rng } from '../../src/tasks/rng.js';
import { BatchScripted, logitsOf } from './helpers.js';

const PROBS = [0.5, 0.2, 0.1, 0.1, 0.1];

test('sampler: top-p counts its mass on the top-k distribution renormalised (HF warper order)', () => {
  // top-k 2 leaves 0.5 / 0.2, renormalised 0.714 / 0.286: 0.714 already reaches top-p 0.7, so one
  // token is kept (counting the mass before the top-k cut, 0.5 < 0.7, would keep two)
  const d = samplingDistribution(logitsOf(PROBS), 0, PROBS.length, { temperature: 1, topK: 2, topP: 0.7 });
  assert.deepEqual(Array.from(d), [1, 0, 0, 0, 0]);
  // top-p alone: the full distribution's prefix 0.5 + 0.2 reaches 0.7
  const p = samplingDistribution(logitsOf(PROBS), 0, PROBS.length, { temperature: 1, topK: 0, topP: 0.7 });
  assert.deepEqual(Array.from(p, (x) => +x.toFixed(6)), [0.714286, 0.285714, 0, 0, 0]);
  // top-k alone, renormalised
  const k = samplingDistribution(logitsOf(PROBS), 0, PROBS.length, { temperature: 1, topK: 2, topP: 1 });
  assert.deepEqual(Array.from(k, (x) => +x.toFixed(6)), [0.714286, 0.285714, 0, 0, 0]);
});

test('sampler: top-k keeps every token tied with the k-th (HF removes only those strictly below it)', () => {
  const d = samplingDistribution(logitsOf(PROBS), 0, PROBS.length, { temperature: 1, topK: 3, topP: 1 });
  assert.deepEqual(Array.from(d, (x) => +x.toFixed(6)), [0.5, 0.2, 0.1, 0.1, 0.1]);
});

test('sampler: a sampled generation with top-k 2 and top-p 0.7 only ever draws the top token', async () => {
  const model = new BatchScripted(PROBS.length, [], () => logitsOf(PROBS));
  for (let seed = 0; seed < 20; seed++) {
    const r = await returnValue(
      runAutoregressive(model, [0], greedy.create({}), { maxTokens: 4, sampling: { temperature: 1, topK: 2, topP: 0.7 }, rng: new Rng(seed), eosTokenIds: [] }),
    );
    assert.deepEqual(r.generated, [0, 0, 0, 0], `seed ${seed}`);
  }
});
