/**
 * Every draft-and-verify method must leave the target's output unchanged: identical tokens at
 * temperature 0, the same distribution when sampling. Scripted models make the target's exact
 * sequence distribution computable, so sampling is checked with a chi-square test over every
 * 3-token continuation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAutoregressive } from '../../src/decode/autoregressive/loop.js';
import { returnValue } from '../../src/decode/drain.js';
import type { AutoregressiveStrategy } from '../../src/decode/autoregressive/types.js';
import { greedy } from '../../src/decode/autoregressive/greedy.js';
import { speculative } from '../../src/decode/autoregressive/speculative.js';
import { multipath } from '../../src/decode/autoregressive/multipath.js';
import { pearl } from '../../src/decode/autoregressive/pearl.js';
import { lookup } from '../../src/decode/autoregressive/lookup.js';
import { aded } from '../../src/decode/autoregressive/aded.js';
import { deer } from '../../src/decode/autoregressive/deer.js';
import { borrowed } from '../../src/decode/autoregressive/extra-models.js';
import { resolveParams, type ParamSpecs } from '../../src/decode/params.js';
import { Rng } from '../../src/tasks/rng.js';
import { ScriptedBidirectional } from '../helpers/scripted-model.js';
import { BatchScripted, chiSquareP, hashedDistribution, logitsOf, scriptedModels } from './helpers.js';

const V = 4;
const target = (): BatchScripted => new BatchScripted(V, [], (p) => logitsOf(hashedDistribution(p, V, 1, 2.5)));
const draft = (): BatchScripted => new BatchScripted(V, [], (p) => logitsOf(hashedDistribution(p, V, 2, 2.5)));
/** a diffusion drafter whose marginal at every masked position is a fixed function of its prefix */
const dlm = (): ScriptedBidirectional =>
  new ScriptedBidirectional(V + 1, V, (row) => {
    const out = new Float32Array(row.length * (V + 1));
    for (let i = 0; i < row.length; i++) {
      const d = hashedDistribution(Array.from(row.slice(0, i + 1)), V, 3, 2);
      out.set(logitsOf([...d, 0]), i * (V + 1));
    }
    return out;
  });

function params<P extends ParamSpecs>(def: { name: string; params: P }, given: Record<string, unknown>) {
  return resolveParams(def.name, def.params, given);
}

/** The models the strategies ask their caller for: a fresh scripted draft LM / diffusion drafter per load. */
const models = () => scriptedModels({ causal: async () => borrowed(draft()), bidirectional: async () => borrowed(dlm()) });

/** Fresh strategies per run (state such as the adaptive draft length resets). */
const makers: Record<string, (verify?: string) => AutoregressiveStrategy> = {
  speculative: (verify = 'sampling') => speculative.create(params(speculative, { verify, gamma: 3, schedule: 'constant', confidence: 0 })),
  'speculative-adaptive': (verify = 'sampling') => speculative.create(params(speculative, { verify, gamma: 1, confidence: 0.5 })),
  block: () => speculative.create(params(speculative, { verify: 'block', gamma: 3, schedule: 'constant', confidence: 0 })),
  multipath: () => multipath.create(params(multipath, { paths: 3, length: 3 })),
  pearl: () => pearl.create(params(pearl, { gamma: 2 })),
  lookup: () => lookup.create(params(lookup, { num_tokens: 3, max_ngram: 2 })),
  aded: () => aded.create(params(aded, { iterations: 40 })),
  deer: (verify = 'sampling') => deer.create(params(deer, { block: 3, verify })),
};

async function run(strategy: AutoregressiveStrategy, prompt: number[], maxTokens: number, temperature: number, seed: number, model = target()): Promise<{ tokens: number[]; nfe: number }> {
  const it = runAutoregressive(model, prompt, strategy, {
    maxTokens,
    sampling: { temperature, topK: 0, topP: 1 },
    rng: new Rng(seed),
    eosTokenIds: model.eosTokenIds,
    models: models(),
  });
  const result = await returnValue(it);
  return { tokens: result.generated, nfe: result.nfe };
}

test('greedy: every draft source gives plain greedy output', async () => {
  const prompts = [[0, 1], [2, 2, 3, 1, 0, 2, 2, 3], [3], [1, 0, 1, 0, 1, 0]];
  for (const prompt of prompts) {
    const plain = await run(greedy.create({}), prompt, 12, 0, 0);
    for (const [name, make] of Object.entries(makers)) {
      const got = await run(make('greedy'), prompt, 12, 0, 0);
      assert.deepEqual(got.tokens, plain.tokens, `${name} on ${JSON.stringify(prompt)}`);
    }
  }
});

test('greedy with end-of-text: drafts past it are never committed', async () => {
  const eos = 3;
  const model = (): BatchScripted => new BatchScripted(V, [eos], (p) => logitsOf(hashedDistribution(p, V, 1, 2.5)));
  const plain = await run(greedy.create({}), [0, 1], 30, 0, 0, model());
  for (const [name, make] of Object.entries(makers)) {
    const got = await run(make('greedy'), [0, 1], 30, 0, 0, model());
    assert.deepEqual(got.tokens, plain.tokens, name);
  }
});

/** The target's exact probability of each continuation of length n. */
function exactJoint(prompt: number[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (seq: number[], p: number): void => {
    if (seq.length === n) {
      out.set(seq.join(','), p);
      return;
    }
    const d = hashedDistribution([...prompt, ...seq], V, 1, 2.5);
    // the scripted model goes through float32 logits: use the same rounding
    const l = logitsOf(d);
    let max = -Infinity;
    for (const x of l) max = Math.max(max, x);
    const e = Array.from(l, (x) => Math.exp(x - max));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((x, t) => walk([...seq, t], (p * x) / s));
  };
  walk([], 1);
  return out;
}

for (const name of Object.keys(makers)) {
  test(`sampling: ${name} draws the target's exact sequence distribution (chi-square)`, async () => {
    const prompt = [1, 2];
    const N = 4000;
    const counts = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const { tokens } = await run(makers[name]!(), prompt, 3, 1, 1000 + i);
      const key = tokens.join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const { p, stat, df } = chiSquareP(counts, exactJoint(prompt, 3), N);
    assert.ok(p > 1e-3, `${name}: chi-square ${stat.toFixed(1)} on ${df} df, p = ${p.toExponential(2)}`);
  });
}

test('a sampled run is reproducible for a seed', async () => {
  const a = await run(makers['speculative']!(), [1, 2], 10, 1, 7);
  const b = await run(makers['speculative']!(), [1, 2], 10, 1, 7);
  assert.deepEqual(a.tokens, b.tokens);
});
