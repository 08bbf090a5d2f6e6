/**
 * Dream's margin / entropy (generation_utils.py `sample_tokens` + `_sample`): at temperature > 0
 * the scores come from softmax(logits / T); `alg_temp` > 0 samples the positions from
 * softmax(score / alg_temp) with the loop's rng.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { margin } from '../../src/decode/diffusion/margin.js';
import { entropy } from '../../src/decode/diffusion/entropy.js';
import { resolveParams } from '../../src/decode/params.js';
import type { DiffusionStrategyDefinition } from '../../src/decode/diffusion/types.js';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { oneStep, rel } from '../helpers/one-step.js';
import { ScriptedBidirectional } from '../helpers/scripted-model.js';
import { collectSteps } from '../helpers/steps.js';

const make = (def: DiffusionStrategyDefinition, given: Record<string, unknown> = {}) => def.create(resolveParams(def.name, def.params, given));

// pos0: mass on two tokens, 0.7 / 0.3; pos1: 0.5 on one token, the rest spread over the vocabulary
const gen = [{ token: 1, p: 0.7, second: [2, 0.3] as [number, number] }, { token: 3, p: 0.5 }];

test('margin at T > 0 ranks by the temperature-scaled gap (Dream sample_tokens)', async () => {
  const a = oneStep({ gen });
  const s = make(margin, { k: 1 });
  // T = 0: gaps 0.4 vs ~0.47 → pos1
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), [1]);
  // T = 2 flattens: pos0 0.60 / 0.40 (gap ~0.21) vs pos1 ~0.21 / ~0.055 (gap ~0.15) → pos0
  const pred = { ...a.pred, temperature: 2 };
  assert.deepEqual(rel(a.row, (await s.decide(a.row, pred, a.services)).commit), [0]);
});

test('entropy at T > 0 ranks by the entropy of the temperature-scaled distribution', async () => {
  const a = oneStep({ gen });
  const s = make(entropy, { k: 1 });
  // T = 0: pos0 (two tokens) has the lower entropy
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), [0]);
  // T = 0.25 sharpens: pos1's top token takes ~all the mass (entropy ~0.01) vs pos0 ~0.14
  const pred = { ...a.pred, temperature: 0.25 };
  assert.deepEqual(rel(a.row, (await s.decide(a.row, pred, a.services)).commit), [1]);
});

test('alg_temp 0 is the deterministic top-k', async () => {
  const a = oneStep({ gen });
  for (const def of [margin, entropy]) {
    const plain = await make(def, { k: 1 }).decide(a.row, a.pred, a.services);
    const zero = await make(def, { k: 1, alg_temp: 0 }).decide(a.row, a.pred, a.services);
    assert.deepEqual(zero.commit, plain.commit);
  }
});

test('alg_temp > 0 draws positions in proportion to softmax(score / alg_temp)', async () => {
  // three positions with margins 0.9 - 0.05, 0.5 - 0.3, 0.6 - 0.35
  const a = oneStep({
    gen: [
      { token: 1, p: 0.9, second: [2, 0.05] },
      { token: 3, p: 0.5, second: [4, 0.3] },
      { token: 5, p: 0.6, second: [6, 0.35] },
    ],
  });
  const algTemp = 0.3;
  const scores = a.row.candidates.map((pos) => {
    const p = a.pred.topkProbs(pos);
    return p[0]! - p[1]!;
  });
  const w = scores.map((x) => Math.exp(x / algTemp));
  const z = w.reduce((x, y) => x + y, 0);
  const expected = w.map((x) => x / z);
  const s = make(margin, { k: 1, alg_temp: algTemp });
  const counts = [0, 0, 0];
  const N = 20000; // seeded rng (oneStep's LCG): the counts are deterministic; tolerance ~6 sigma
  for (let n = 0; n < N; n++) {
    const d = await s.decide(a.row, a.pred, a.services);
    assert.equal(d.commit.length, 1);
    counts[rel(a.row, d.commit)[0]!]!++;
  }
  counts.forEach((c, i) => assert.ok(Math.abs(c / N - expected[i]!) < 0.02, `pos${i}: ${c / N} vs ${expected[i]}`));
  // without replacement: k = 2 gives two distinct positions
  const two = await make(entropy, { k: 2, alg_temp: 1 }).decide(a.row, a.pred, a.services);
  assert.equal(new Set(two.commit).size, 2);
});

test('the loop hands its temperature to entropy: the first commit follows the scaled distribution', async () => {
  const V = 16;
  const MASK = 15;
  const EOS = 14;
  // canvas [prompt, gen0, gen1]: gen0 0.7 / 0.3 on tokens 1, 2; gen1 0.5 on token 3, the rest spread
  const script = (tokens: Int32Array) => {
    const out = new Float32Array(tokens.length * V).fill(Math.log(1e-9));
    out[0 * V + 3] = 0;
    out[1 * V + 1] = Math.log(0.7);
    out[1 * V + 2] = Math.log(0.3);
    for (let v = 0; v < V; v++) out[2 * V + v] = Math.log(0.5 / 15);
    out[2 * V + 3] = Math.log(0.5);
    return out;
  };
  const seq = (seed: number) => {
    let s = seed >>> 0;
    return { float: () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296) };
  };
  const first = async (temperature: number) => {
    const { events } = await collectSteps(
      runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], make(entropy, { k: 1 }), [EOS], { genLength: 2, temperature, rng: seq(7), eosFill: false }),
    );
    return events[0]!.committed.map((c) => c.position);
  };
  assert.deepEqual(await first(0), [1]);
  assert.deepEqual(await first(0.25), [2]);
});
