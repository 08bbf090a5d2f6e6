import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion, type StepEvent } from '../../src/decode/diffusion/loop.js';
import { selfEdit } from '../../src/decode/diffusion/self-edit.js';
import { resolveParams } from '../../src/decode/params.js';
import { ScriptedBidirectional, peaked, type RowScript } from '../helpers/scripted-model.js';
import { collectSteps } from '../helpers/steps.js';

const V = 16;
const MASK = 15;
const EOS = 14;
const rng = { float: () => 0.5 };
const make = (given: Record<string, unknown> = {}) => selfEdit.create(resolveParams('self-edit', selfEdit.params, given));
const T = [1, 2, 7, 4, 5, 6];

async function run(script: RowScript, given: Record<string, unknown>) {
  const model = new ScriptedBidirectional(V, MASK, script);
  const { events, results } = await collectSteps(runDiffusion(model, [[3]], make(given), [EOS], { genLength: 6, rng, eosFill: false }));
  return { events, result: results[0]!, calls: model.calls };
}

const remaskRounds = (events: StepEvent[]) => events.filter((e) => e.remasked.length > 0).map((e) => e.remasked.map((p) => p - 1).sort());

/**
 * score=self: the model reads its own committed tokens. Drafting: every position confident
 * (0.95) on T. Under the full canvas, gen 2's committed 7 gets ~0.01 (the model now prefers 8) and
 * gen 5's committed token always gets 0.45 — both below 0.5; the rest 0.9.
 */
const selfScript: RowScript = (tokens) => {
  const out = new Float32Array(tokens.length * V);
  const full = !tokens.includes(MASK);
  for (let i = 0; i < tokens.length; i++) {
    const g = i - 1;
    let row: Float32Array;
    if (g < 0) row = peaked(V, tokens[i]!, 0.99);
    else if (!full) row = peaked(V, g === 2 && tokens[i] === MASK && !tokens.slice(1).every((t) => t === MASK) ? 8 : T[g]!, 0.95);
    else if (g === 2) row = peaked(V, 8, tokens[i] === 8 ? 0.9 : 0.8);
    else if (g === 5) row = peaked(V, tokens[i]!, 0.45);
    else row = peaked(V, tokens[i]!, 0.9);
    out.set(row, i * V);
  }
  return out;
};

test('self-edit (score=self) remasks exactly the committed tokens below 0.5 and stops after 2 rounds', async () => {
  const { events, result } = await run(selfScript, { score: 'self' });
  // round 1: gen 2 (7 now at ~0.01) and gen 5 (0.45); round 2: gen 5 again (gen 2 is now 8, at 0.9)
  assert.deepEqual(remaskRounds(events), [[2, 5], [5]]);
  assert.deepEqual(result.generated, [1, 2, 8, 4, 5, 6]);
  // the last review found gen 5 still below 0.5 but the round bound ended the row
  assert.equal(events.at(-1)!.remasked.length, 0);
  // rounds=0: plain threshold decoding, the review forward changes nothing
  const none = await run(selfScript, { score: 'self', rounds: 0 });
  assert.deepEqual(remaskRounds(none.events), []);
  assert.deepEqual(none.result.generated, T);
  // a higher edit threshold catches more: 0.95 remasks every position in the first round
  const strict = await run(selfScript, { score: 'self', edit_threshold: 0.95, rounds: 1 });
  assert.deepEqual(remaskRounds(strict.events), [[0, 1, 2, 3, 4, 5]]);
});

/**
 * score=masked: leave-one-out. With only gen p masked, the model predicts gen 2 as 8 (0.8) and gen 5
 * as 6 at 0.45; every other position as T at 0.9.
 */
const looScript: RowScript = (tokens) => {
  const out = new Float32Array(tokens.length * V);
  const masks = tokens.filter((t) => t === MASK).length;
  for (let i = 0; i < tokens.length; i++) {
    const g = i - 1;
    let row: Float32Array;
    if (g < 0 || tokens[i] !== MASK) row = peaked(V, tokens[i]!, 0.5); // untrained at unmasked positions
    else if (masks > 2) row = peaked(V, T[g]!, 0.95); // drafting from (almost) nothing
    else if (g === 2) row = peaked(V, 8, 0.8);
    else if (g === 5) row = peaked(V, 6, 0.45);
    else row = peaked(V, T[g]!, 0.9);
    out.set(row, i * V);
  }
  return out;
};

test('self-edit (score=masked) scores each token with only it masked, in one batched forward per review', async () => {
  const { events, result, calls } = await run(looScript, {});
  assert.deepEqual(remaskRounds(events), [[2, 5], [5]]);
  assert.deepEqual(result.generated, [1, 2, 8, 4, 5, 6]);
  // forwards: draft 1 + review 1 (+1 scoring) + 2 re-decode steps (gen 2 at 0.8, gen 5 at 0.45, one
  // each) + review 2 (+1) + 1 re-decode + review 3 (bound reached: no scoring forward); every
  // forward is counted as NFE
  assert.equal(result.nfe, calls);
  assert.equal(result.nfe, 1 + 2 + 2 + 2 + 1 + 1);
});

test('self-edit does not score the tail after the first end-of-text', async () => {
  // gen: 1 2 EOS x x x; every committed token scores 0.2 under the full canvas
  const script: RowScript = (tokens) => {
    const out = new Float32Array(tokens.length * V);
    const full = !tokens.includes(MASK);
    for (let i = 0; i < tokens.length; i++) {
      const g = i - 1;
      out.set(full ? peaked(V, (tokens[i]! + 1) % 13, 0.8) : peaked(V, [1, 2, EOS, 9, 9, 9][g] ?? 3, 0.95), i * V);
    }
    return out;
  };
  const { events } = await run(script, { score: 'self', rounds: 1 });
  assert.deepEqual(remaskRounds(events), [[0, 1, 2]]);
});
