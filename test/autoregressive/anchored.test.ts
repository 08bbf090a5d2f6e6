/**
 * Anchored Decoding's budget is spent on the distribution actually sampled: with temperature,
 * top-k and top-p set, the KL of what each step samples from to the anchor (the safe model under
 * the same sampler) stays within the step's allowance, and the steps add up to at most `budget`.
 * Checked from outside: the test drives the sampler's random source with a fixed u, so the token
 * drawn at every step is the u-quantile of that step's sampled distribution, and a grid of u
 * recovers each step's distribution. At temperature 0 and at the default sampler (temperature 1,
 * no truncation) the output is the one recorded before the fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAutoregressive, type ArResult } from '../../src/decode/autoregressive/loop.js';
import { anchored, anchoredStep } from '../../src/decode/autoregressive/anchored.js';
import { samplingDistribution, type SamplingOptions } from '../../src/decode/autoregressive/sampling.js';
import { borrowed } from '../../src/decode/autoregressive/extra-models.js';
import type { RandomSource } from '../../src/decode/diffusion/types.js';
import { returnValue } from '../../src/decode/drain.js';
import { resolveParams } from '../../src/decode/params.js';
import { Rng } from '../../src/tasks/rng.js';
import { BatchScripted, logitsOf, scriptedModels } from './helpers.js';

const V = 6;
const probs = (spec: number[]): Float32Array => logitsOf(spec);
// the same next-token distributions at every step (so each step's sampled distribution does not
// depend on the tokens drawn before it, only on the budget left)
const TARGET = [0.02, 0.6, 0.05, 0.25, 0.05, 0.03];
const SAFE = [0.02, 0.08, 0.45, 0.25, 0.15, 0.05];
const risky = (): BatchScripted => new BatchScripted(V, [], () => probs(TARGET));
const safe = (): BatchScripted => new BatchScripted(V, [], () => probs(SAFE));

type Strategy = ReturnType<typeof anchored.create> & { trace: { lambda: number; kl: number; allowance: number }[]; spent: number };
const make = (params: Record<string, unknown>): Strategy => anchored.create(resolveParams('anchored', anchored.params, params)) as Strategy;

async function run(strategy: Strategy, sampling: SamplingOptions, rng: RandomSource, maxTokens: number): Promise<ArResult> {
  const it = runAutoregressive(risky(), [1], strategy, {
    maxTokens,
    sampling,
    rng,
    eosTokenIds: [],
    models: scriptedModels({ causal: async () => borrowed(safe()) }),
  });
  return returnValue(it);
}

const kl = (q: ArrayLike<number>, a: ArrayLike<number>): number => {
  let s = 0;
  for (let v = 0; v < q.length; v++) {
    if (q[v]! <= 0) continue;
    if (a[v]! <= 0) return Infinity;
    s += q[v]! * Math.log(q[v]! / a[v]!);
  }
  return s;
};

test('anchored: with temperature, top-k and top-p the sampled distribution stays within the KL budget of the anchor', async () => {
  const sampling: SamplingOptions = { temperature: 0.6, topK: 4, topP: 0.97 };
  const budget = 1.2;
  const horizon = 4;
  const steps = 4;
  // the anchor: the safe model under the session's sampler
  const anchor = samplingDistribution(probs(SAFE), 0, V, sampling);
  const M = 500;
  const counts = Array.from({ length: steps }, () => new Array<number>(V).fill(0));
  let trace: Strategy['trace'] = [];
  for (let i = 0; i < M; i++) {
    const u = (i + 0.5) / M;
    const strategy = make({ budget, horizon });
    const got = await run(strategy, sampling, { float: () => u }, steps);
    assert.equal(got.generated.length, steps);
    got.generated.forEach((tok, t) => (counts[t]![tok]! += 1));
    trace = strategy.trace;
  }
  let total = 0;
  const slack = 0.02; // the u grid resolves each step's distribution to 1/M per token
  for (let t = 0; t < steps; t++) {
    const q = counts[t]!.map((c) => c / M);
    const spent = kl(q, anchor);
    const allowance = (budget - total) / Math.min(horizon, steps - t);
    assert.ok(spent <= allowance + slack, `step ${t}: KL(sampled ‖ anchor) = ${spent} > allowance ${allowance} (sampled ${q.map((x) => x.toFixed(3))})`);
    // the strategy's own account is of the same distribution
    assert.ok(Math.abs(trace[t]!.kl - spent) < slack, `step ${t}: counted ${trace[t]!.kl}, sampled ${spent}`);
    total += spent;
  }
  assert.ok(total <= budget + slack, `total KL ${total} > budget ${budget}`);
  assert.ok(trace.some((s) => s.lambda > 0 && s.lambda < 1), 'the budget binds (a real mixture at some step)');
  assert.ok(counts.some((c) => c[1]! > 0), 'the target shows through (its favourite token is sampled at some step)');
});

test('anchored: each step samples a distribution that fits its allowance; no allowance samples the anchor', () => {
  const ls = Float64Array.from(SAFE, Math.log);
  const lt = Float64Array.from(TARGET, Math.log);
  const sampling: SamplingOptions = { temperature: 0.5, topK: 3, topP: 0.9 };
  const anchor = samplingDistribution(Float32Array.from(ls), 0, V, sampling);
  const none = anchoredStep(ls, lt, 0, sampling);
  assert.ok(none.lambda < 1e-6, `λ ${none.lambda}`); // (a λ too small to move a float32 logit costs 0)
  assert.equal(none.kl, 0);
  assert.deepEqual(Array.from(none.probs), Array.from(anchor));
  for (const allowance of [0.01, 0.1, 0.5]) {
    const s = anchoredStep(ls, lt, allowance, sampling);
    assert.ok(s.kl <= allowance, `${s.kl} > ${allowance}`);
    assert.ok(Math.abs(kl(s.probs, anchor) - s.kl) < 1e-9);
  }
  // the target's nucleus holds token 1, which the safe model's does not: no budget buys it
  const capped = anchoredStep(ls, lt, 1e9, sampling);
  assert.ok(capped.lambda < 1 && Number.isFinite(capped.kl));
  capped.probs.forEach((p, v) => assert.ok(p === 0 || anchor[v]! > 0, `token ${v} outside the anchor's support`));
  // without truncation a large budget is the target under the same temperature
  const warm: SamplingOptions = { temperature: 0.5, topK: 0, topP: 1 };
  const all = anchoredStep(ls, lt, 1e9, warm);
  assert.equal(all.lambda, 1);
  assert.deepEqual(Array.from(all.probs), Array.from(samplingDistribution(Float32Array.from(lt), 0, V, warm)));
});

// Recorded on the code before the budget moved to the sampled distribution: at temperature 0 and
// at the default sampler (temperature 1, no top-k / top-p) the two coincide, so nothing changes.
test('anchored: at temperature 0 and at the default sampler the output is unchanged', async () => {
  const greedy = make({ budget: 2, horizon: 4 });
  const g = await run(greedy, { temperature: 0, topK: 0, topP: 1 }, new Rng(3), 8);
  assert.deepEqual(g.generated, RECORDED.greedy);
  assert.deepEqual(greedy.trace.map((s) => s.lambda.toFixed(6)), RECORDED.greedyLambda);
  const plain = make({ budget: 2, horizon: 4 });
  const p = await run(plain, { temperature: 1, topK: 0, topP: 1 }, new Rng(3), 8);
  assert.deepEqual(p.generated, RECORDED.sampled);
  assert.deepEqual(plain.trace.map((s) => s.lambda.toFixed(6)), RECORDED.sampledLambda);
});

const RECORDED = {
  greedy: [1, 1, 3, 3, 3, 3, 3, 3],
  greedyLambda: ['0.677025', '0.588174', '0.512766', '0.447888', '0.391582', '0.391582', '0.391582', '0.391582'],
  sampled: [1, 4, 4, 3, 3, 2, 2, 1],
  sampledLambda: ['0.677025', '0.588174', '0.512766', '0.447888', '0.391582', '0.391582', '0.391582', '0.391582'],
};
