import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { bitsToRoundsLowerBound, ete, oneTokenPerStepNll } from '../../src/decode/diffusion/ete.js';
import { threshold } from '../../src/decode/diffusion/threshold.js';
import { resolveParams } from '../../src/decode/params.js';
import type { DiffusionStrategy } from '../../src/decode/diffusion/types.js';
import { ScriptedBidirectional, peaked, rowLogits, type RowScript } from '../helpers/scripted-model.js';
import { oneStep, rel } from '../helpers/one-step.js';
import { collectSteps } from '../helpers/steps.js';

const V = 16;
const MASK = 15;
const EOS = 14;
const rng = { float: () => 0.5 };
const make = (given: Record<string, unknown> = {}) => ete.create(resolveParams('ete', ete.params, given));

async function run(script: RowScript, strategy: DiffusionStrategy, genLength: number, blockLength?: number) {
  const model = new ScriptedBidirectional(V, MASK, script);
  const { events, results } = await collectSteps(runDiffusion(model, [[3]], strategy, [EOS], { genLength, blockLength, rng, eosFill: false }));
  return { events, result: results[0]!, calls: model.calls };
}

/** a flat-ish row: `tok` at p, the rest spread (high entropy for small p) */
const flat = (tok: number, p: number) => {
  const out = peaked(V, tok, p);
  out[MASK] = -30;
  return out;
};

/**
 * gen 3 is the key: nearly uniform while masked (its argmax, 7, at 0.12). Once it is filled every
 * other position becomes confident (0.95); before, they sit at 0.5, gen 0 at 0.6 (the top-1).
 * Filling anything else changes nothing.
 */
const keyScript: RowScript = (tokens) => {
  const out = new Float32Array(tokens.length * V);
  const keyIn = tokens[4] !== MASK;
  for (let i = 0; i < tokens.length; i++) {
    const g = i - 1;
    if (g < 0) out.set(peaked(V, tokens[i]!, 0.99), 0);
    else if (g === 3) out.set(flat(7, 0.12), i * V);
    else out.set(flat(1 + g, keyIn ? 0.95 : g === 0 ? 0.6 : 0.5), i * V);
  }
  return out;
};

test('ete explores when nothing passes the threshold: the most informative uncertain token, then its cascade', async () => {
  const e = await run(keyScript, make(), 6);
  // step 1: nothing ≥ 0.9 → try gen 0 (the top-1) and the highest-entropy positions (gen 3 first);
  // filling gen 3 makes the other five confident: commit it and the cascade, all in one step
  assert.deepEqual(e.events[0]!.committed.map((c) => [c.position - 1, c.token]).sort((a, b) => a[0]! - b[0]!), [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 7],
    [4, 5],
    [5, 6],
  ]);
  assert.equal(e.result.nfe, 2); // the loop's forward + one batched exploration forward
  assert.equal(e.calls, 2);
  // the threshold decoder spends a round per token here (gen 3 is never confident until last)
  const t = await run(keyScript, threshold.create({ tau: 0.9 }), 6);
  assert.ok(t.result.nfe >= 5, `threshold nfe ${t.result.nfe}`);
  // explore=false is the threshold rule
  const off = await run(keyScript, make({ explore: false }), 6);
  assert.equal(off.result.nfe, t.result.nfe);
});

test('ete exploits without exploring when a position passes tau (no extra forward)', async () => {
  const { row, pred, services } = oneStep({ gen: [{ token: 1, p: 0.95 }, { token: 2, p: 0.5 }, { token: 3, p: 0.92 }, { token: 4, p: 0.3 }] });
  // services.forwardCandidates throws in oneStep: any exploration would fail this test
  const d = await make().decide(row, pred, services);
  assert.deepEqual(rel(row, d.commit), [0, 2]);
});

test('ete decodes across blocks: confident tokens of the next block are committed too', async () => {
  const spec = (g: number): [number, number] => [1 + g, g === 0 || g === 5 ? 0.95 : 0.5];
  const s: RowScript = (tokens) => rowLogits(V, Array.from(tokens, (t, i) => (i === 0 ? [t, 0.99] : spec(i - 1))));
  const cross = await run(s, make(), 8, 4);
  assert.deepEqual(cross.events[0]!.committed.map((c) => c.position - 1).sort(), [0, 5]);
  const within = await run(s, make({ cross_blocks: 0 }), 8, 4);
  assert.deepEqual(within.events[0]!.committed.map((c) => c.position - 1).sort(), [0]);
});

test('bits-to-rounds lower bound and the one-token-per-step NLL it takes', async () => {
  // nll 10 nats, n = 100, f = 0.1: max(10 / ln(101/91), 10 / 0.1) = 100
  assert.ok(Math.abs(bitsToRoundsLowerBound(10, 100, 0.1) - 100) < 1e-9);
  // short outputs: the first term dominates (n = 1, f = 0.5: per-round information ln(2/1.5) < 0.5)
  assert.ok(Math.abs(bitsToRoundsLowerBound(10, 1, 0.5) - 10 / Math.log(2 / 1.5)) < 1e-9);
  assert.ok(Math.abs(bitsToRoundsLowerBound(10, 100, 0.5) - 20) < 1e-9);
  assert.ok(Math.abs(bitsToRoundsLowerBound(10, 100, 0.5, 2) - 16) < 1e-9);
  assert.equal(bitsToRoundsLowerBound(3, 10, 0), Infinity);
  assert.ok(bitsToRoundsLowerBound(20, 100, 0.1) > bitsToRoundsLowerBound(10, 100, 0.1));
  const s: RowScript = (tokens) => rowLogits(V, Array.from(tokens, (t, i) => (i === 0 ? [t, 0.99] : [i, [0, 0.9, 0.5, 0.8][i]!])));
  const { nll, generated } = await oneTokenPerStepNll(new ScriptedBidirectional(V, MASK, s), [[3]], { genLength: 3, rng, eosTokenIds: [EOS] });
  assert.deepEqual(generated[0], [1, 2, 3]);
  assert.ok(Math.abs(nll[0]! - -(Math.log(0.9) + Math.log(0.5) + Math.log(0.8))) < 1e-5, `nll ${nll[0]}`);
});
