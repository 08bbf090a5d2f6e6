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
  // calls 0..5 have gaps 1..6 (< 7.5, progress < 0.33 since 6/16 = 0.375 at call 6)
  // call 6: progress 6/16=0.375 → threshold 5.0, gap 7 ≥ 5 → all-in
  assert.deepEqual(events.map((e) => e.committed.length), [1, 1, 1, 1, 1, 1, 10]);
  assert.equal(results[0]!.nfe, 7);
  // a run whose gap never reaches the threshold decodes one token per step
  const flat = new ScriptedBidirectional(V, MASK, (tokens) => {
    const out = new Float32Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) out.set(gapLogits(1 + (i % 12), 1), i * V);
    return out;
  });
  const r = await collectSteps(runDiffusion(flat, [[3]], make(prophet, { k: 1 }), [EOS], { genLength: 16, rng, eosFill: false }));
  assert.equal(r.results[0]!.nfe, 16);
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
