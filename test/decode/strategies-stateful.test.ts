import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { prophet } from '../../src/decode/diffusion/prophet.js';
import { credit } from '../../src/decode/diffusion/credit.js';
import { threshold } from '../../src/decode/diffusion/threshold.js';
import { resolveParams } from '../../src/decode/params.js';
import type { DiffusionStrategyDefinition } from '../../src/decode/diffusion/types.js';
import { ScriptedBidirectional } from '../helpers/scripted-model.js';
import { collectSteps } from '../helpers/steps.js';
import { oneStep } from '../helpers/one-step.js';
import { softmaxRow } from '../../src/decode/head.js';
import { Rng } from '../../src/tasks/rng.js';

const V = 16;
const MASK = 15;
const EOS = 14;
const rng = { float: () => 0.5 };
const make = (def: DiffusionStrategyDefinition, given: Record<string, unknown> = {}) => def.create(resolveParams(def.name, def.params, given));

/** logits where token `tok` leads the runner-up by `gap` nats, the rest far below */
function gapLogits(tok: number, gap: number): Float32Array {
  const out = new Float32Array(V).fill(-40);
  out[tok] = gap;
  out[(tok + 1) % 13] = 0;
  return out;
}

test('prophet fills every mask exactly when the mean top-2 gap crosses the progress threshold', async () => {
  // gap grows by 1 nat per forward: 1, 2, 3, ... ; threshold 7.5 while progress < 33% of 16 steps
  const script = (tokens: Int32Array, call: number) => {
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) out.set(gapLogits(1 + (i % 12), 1 + call), i * V);
    return out;
  };
  const model = new ScriptedBidirectional(V, MASK, script);
  const { events, results } = await collectSteps(runDiffusion(model, [[3]], make(prophet, { k: 1 }), [EOS], { genLength: 16, rng, eosFill: false }));
  // progress = step / steps with step counted from 1 (the reference's global_step / max_steps):
  // forwards 1..5 have gaps 1..5 and progress ≤ 5/16 < 0.33, threshold 7.5;
  // forward 6: progress 6/16 = 0.375 → threshold 5.0, gap 6 ≥ 5 → all-in
  assert.deepEqual(events.map((e) => e.committed.length), [1, 1, 1, 1, 1, 11]);
  assert.equal(results[0]!.nfe, 6);
  // a run whose gap never reaches the threshold decodes one token per step
  const flat = new ScriptedBidirectional(V, MASK, (tokens) => {
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) out.set(gapLogits(1 + (i % 12), 1), i * V);
    return out;
  });
  const r = await collectSteps(runDiffusion(flat, [[3]], make(prophet, { k: 1 }), [EOS], { genLength: 16, rng, eosFill: false }));
  assert.equal(r.results[0]!.nfe, 16);
});

test('prophet averages the gap over the answer slot only: later positions (end-of-text padding) never enter it', async () => {
  // The first 5 generation positions (the answer slot) are uncertain (gap 1); every later
  // position is end-of-text padding with a gap of 30. Averaged over every masked position the
  // gap would be ≈ 19 and fire on the first forward (one-shot decoding); the reference averages
  // over the slot, so it never fires and the run takes one token per step.
  const script = (tokens: Int32Array) => {
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) out.set(i - 1 < 5 ? gapLogits(1 + (i % 12), 1) : gapLogits(EOS, 30), i * V);
    return out;
  };
  const model = new ScriptedBidirectional(V, MASK, script);
  const r = await collectSteps(runDiffusion(model, [[3]], make(prophet, { k: 1 }), [EOS], { genLength: 16, rng, eosFill: false }));
  assert.deepEqual(r.events.map((e) => e.committed.length), Array(16).fill(1));
  assert.equal(r.results[0]!.nfe, 16);
  // decoded slot positions still count (the slot is fixed): once the slot is certain (gap 10),
  // the all-in fires even though the slot's positions are no longer masked
  const late = new ScriptedBidirectional(V, MASK, (tokens, call) => {
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) out.set(i - 1 < 5 ? gapLogits(1 + (i % 12), call >= 6 ? 10 : 1) : gapLogits(EOS, 0.5), i * V);
    return out;
  });
  const l = await collectSteps(runDiffusion(late, [[3]], make(prophet, { k: 1 }), [EOS], { genLength: 16, rng, eosFill: false }));
  // confidence order commits the slot first (its top token leads), so by forward 7 it is decoded
  assert.deepEqual(l.events.map((e) => e.committed.length), [1, 1, 1, 1, 1, 1, 10]);
});

test('credit: a token that stays on top across steps is committed before plain thresholding would', async () => {
  // Position A (gen 0) always predicts token 5 at p = 0.8: stable, below τ. Positions B (gen 1..3)
  // predict p = 0.82 but their token flips every forward. Positions 4..7 are hard (p = 0.3).
  const script = (tokens: Int32Array, call: number) => {
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) {
      const g = i - 1;
      const [tok, p] = g === 0 ? [5, 0.8] : g >= 1 && g <= 3 ? [call % 2 === 0 ? 6 : 7, 0.82] : [8 + (Math.max(g, 0) % 4), 0.3];
      const row = new Float32Array(V).fill(Math.log((1 - p) / (V - 1)));
      row[tok] = Math.log(p);
      out.set(row, i * V);
    }
    return out;
  };
  const run = async (def: DiffusionStrategyDefinition) => {
    const { results } = await collectSteps(runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], make(def), [EOS], { genLength: 8, rng, eosFill: false }));
    return results[0]!.committedAt;
  };
  const plain = await run(threshold);
  const withCredit = await run(credit);
  // plain thresholding commits one top-1 per step: the three B positions (0.82) first, A at step 4
  assert.deepEqual(plain.slice(0, 4), [4, 1, 2, 3]);
  // with credit, A's accumulated trace lifts it above the flip-flopping B positions at step 2
  assert.equal(withCredit[0], 2);
  assert.equal(withCredit[1], 1);
});

test('credit at T > 0 draws its token from softmax(fused logits / T), the confidence from softmax(fused) (dInfer Gumbel on the fused logits)', async () => {
  // one masked position: token 1 at p = 0.5, token 2 at p = 0.45. The first step credits the
  // top-1 with 0.5^0.2, so fused = logits + 0.7·log(1 + C) lifts token 1; at T = 1 token 2 must
  // still be drawn with its fused probability (an argmax would never give it)
  const a = oneStep({ gen: [{ token: 1, p: 0.5, second: [2, 0.45] }] });
  const pos = a.row.promptLength;
  const fused = Float32Array.from(a.pred.logits(pos));
  fused[1] = fused[1]! + 0.7 * Math.log(1 + Math.pow(a.pred.topkProbs(pos)[0]!, 0.2));
  const expected = softmaxRow(fused, 0, V);
  const pred = { ...a.pred, temperature: 1 };
  const draws = 3000;
  let second = 0;
  for (let i = 0; i < draws; i++) {
    const d = await make(credit).decide(a.row, pred, a.services);
    assert.deepEqual(d.commit, [pos]);
    if (d.tokens![0] === 2) second += 1;
  }
  assert.ok(Math.abs(second / draws - expected[2]!) < 0.03, `token 2 drawn ${second} / ${draws}, fused p ${expected[2]}`);
  // the confidence the threshold reads is the drawn token's fused probability: τ between the two
  // commits only a draw of token 1 beyond the forced top-1 (two positions, the other one certain)
  const b = oneStep({ gen: [{ token: 3, p: 0.999 }, { token: 1, p: 0.5, second: [2, 0.45] }] });
  const tau = (expected[1]! + expected[2]!) / 2; // above every token's fused probability but token 1's
  const uncertain = b.row.promptLength + 1;
  let committedBoth = 0;
  for (let i = 0; i < 200; i++) {
    const d = await make(credit, { tau }).decide(b.row, { ...b.pred, temperature: 1 }, b.services);
    const at = d.commit.indexOf(uncertain);
    if (at < 0) continue;
    committedBoth += 1;
    assert.equal(d.tokens![at], 1, 'only a draw of the fused-likely token passes τ');
  }
  assert.ok(committedBoth > 0 && committedBoth < 200);
});

test('credit at T > 0 in the loop: seeds give different texts, temperature 0 one', async () => {
  const script = (tokens: Int32Array) => {
    const out = new Float32Array(tokens.length * V).fill(Math.log(0.01 / 13));
    for (let i = 0; i < tokens.length; i++) {
      out[i * V + 4] = Math.log(0.5);
      out[i * V + 5] = Math.log(0.49);
    }
    return out;
  };
  const texts = new Set<string>();
  for (let seed = 1; seed <= 6; seed++) {
    const { results } = await collectSteps(runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], make(credit), [EOS], { genLength: 6, temperature: 1, rng: new Rng(seed), eosFill: false }));
    texts.add(results[0]!.generated.join(','));
  }
  assert.ok(texts.size > 1, 'sampled runs differ');
  const greedy = await collectSteps(runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], make(credit), [EOS], { genLength: 6, temperature: 0, rng: new Rng(1), eosFill: false }));
  assert.deepEqual(greedy.results[0]!.generated, [4, 4, 4, 4, 4, 4]);
});
