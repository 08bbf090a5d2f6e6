import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threshold } from '../../src/decode/diffusion/threshold.js';
import { factor } from '../../src/decode/diffusion/factor.js';
import { localleap } from '../../src/decode/diffusion/localleap.js';
import { dparallel } from '../../src/decode/diffusion/dparallel.js';
import { margin } from '../../src/decode/diffusion/margin.js';
import { entropy } from '../../src/decode/diffusion/entropy.js';
import { leftToRight } from '../../src/decode/diffusion/left-to-right.js';
import { bacd } from '../../src/decode/diffusion/bacd.js';
import { cad } from '../../src/decode/diffusion/cad.js';
import { assBlockLayout, assStepSizes, eoserAss, eoserGamma } from '../../src/decode/diffusion/eoser-ass.js';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { ScriptedBidirectional, rowLogits } from '../helpers/scripted-model.js';
import { collectSteps } from '../helpers/steps.js';
import { acceptedOrBest, thresholdCommit } from '../../src/decode/diffusion/helpers.js';
import { resolveParams } from '../../src/decode/params.js';
import type { DiffusionStrategyDefinition } from '../../src/decode/diffusion/types.js';
import { EOS, MASK, V, oneStep, rel } from '../helpers/one-step.js';

const make = (def: DiffusionStrategyDefinition, given: Record<string, unknown> = {}) => def.create(resolveParams(def.name, def.params, given));

test('threshold commits every confidence >= 0.9 plus the top-1', async () => {
  const s = make(threshold);
  const a = oneStep({ gen: [{ token: 1, p: 0.95 }, { token: 2, p: 0.5 }, { token: 3, p: 0.91 }, { token: 4, p: 0.89 }] });
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), [0, 2]);
  const b = oneStep({ gen: [{ token: 1, p: 0.3 }, { token: 2, p: 0.6 }, { token: 3, p: 0.5 }] });
  assert.deepEqual(rel(b.row, (await s.decide(b.row, b.pred, b.services)).commit), [1]);
  // only inside the current block
  const c = oneStep({ gen: [{ token: 1, p: 0.95 }, { token: 2, p: 0.99 }], blockEnd: 1 });
  assert.deepEqual(rel(c.row, (await s.decide(c.row, c.pred, c.services)).commit), [0]);
});

test('factor commits the largest n with (n+1)(1-c_n) <= f', async () => {
  const s = make(factor);
  // sorted: 0.9 (2*0.1=0.2 ok), 0.7 (3*0.3=0.9 ok), 0.72? order: 0.9, 0.72, 0.7, 0.6
  const a = oneStep({ gen: [{ token: 1, p: 0.7 }, { token: 2, p: 0.9 }, { token: 3, p: 0.72 }, { token: 4, p: 0.6 }] });
  // n=1: 2(0.1)=0.2; n=2: 3(0.28)=0.84; n=3: 4(0.3)=1.2 > 1 stop
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), [1, 2]);
  const low = oneStep({ gen: [{ token: 1, p: 0.2 }, { token: 2, p: 0.3 }] });
  assert.deepEqual(rel(low.row, (await s.decide(low.row, low.pred, low.services)).commit), [1]);
  const loose = make(factor, { f: 3 });
  assert.deepEqual(rel(a.row, (await loose.decide(a.row, a.pred, a.services)).commit), [0, 1, 2, 3]);
});

test('localleap relaxes the threshold to 0.75 within radius 4 of an anchor', async () => {
  const s = make(localleap);
  const gen = Array.from({ length: 12 }, (_, i) => ({ token: 1 + (i % 10), p: 0.8 }));
  gen[2] = { token: 5, p: 0.95 }; // anchor at 2: neighbourhood 0..6
  const a = oneStep({ gen });
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), [0, 1, 2, 3, 4, 5, 6]);
  // no anchor: only the top-1
  const b = oneStep({ gen: gen.map((g, i) => (i === 2 ? { token: 5, p: 0.85 } : g)) });
  assert.deepEqual(rel(b.row, (await s.decide(b.row, b.pred, b.services)).commit), [2]);
});

test('dparallel commits entropy at most 0.5 nats, at least the lowest', async () => {
  const s = make(dparallel);
  const a = oneStep({ gen: [{ token: 1, p: 0.99 }, { token: 2, p: 0.6 }, { token: 3, p: 0.97 }] });
  const h = [0, 1, 2].map((i) => a.pred.entropy(a.row.promptLength + i));
  const expected = [0, 1, 2].filter((i) => h[i]! <= 0.5);
  assert.ok(expected.length >= 1 && expected.length < 3, `entropies ${h}`);
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), expected);
  // the boundary is kept, as the reference drops only entropy > threshold: a bound equal to the
  // second-lowest entropy commits that position too
  const atBound = make(dparallel, { threshold: h[2]! });
  assert.ok(h[0]! < h[2]! && h[2]! < h[1]!, `entropies ${h}`);
  assert.deepEqual(rel(a.row, (await atBound.decide(a.row, a.pred, a.services)).commit), [0, 2]);
});

test('margin ranks by p1 - p2, not by p1', async () => {
  const s = make(margin, { k: 1 });
  // pos0: p1 0.6, p2 0.35 (margin .25); pos1: p1 0.5, p2 0.05 (margin .45)
  const a = oneStep({ gen: [{ token: 1, p: 0.6, second: [2, 0.35] }, { token: 3, p: 0.5, second: [4, 0.05] }] });
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), [1]);
});

test('entropy ranks by lowest entropy; left-to-right by position', async () => {
  const a = oneStep({ gen: [{ token: 1, p: 0.6, second: [2, 0.39] }, { token: 3, p: 0.55 }, { token: 4, p: 0.5 }] });
  // pos0's mass is on two tokens (low entropy) vs pos1 spread over 15
  assert.deepEqual(rel(a.row, (await make(entropy, { k: 1 }).decide(a.row, a.pred, a.services)).commit), [0]);
  const b = oneStep({ gen: [{ token: 1, p: 0.2 }, { token: 3, p: 0.99 }, { token: 4, p: 0.99 }] });
  assert.deepEqual(rel(b.row, (await make(leftToRight, { k: 2 }).decide(b.row, b.pred, b.services)).commit), [0, 1]);
});

test('bacd: first step threshold = clamp(max conf), then mean of committed confidences', async () => {
  const s = make(bacd);
  // first step: max conf 0.95 → τ = 0.9: commits 0.95 and 0.92
  const a = oneStep({ gen: [{ token: 1, p: 0.95 }, { token: 2, p: 0.92 }, { token: 3, p: 0.7 }, { token: 4, p: 0.65 }] });
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), [0, 1]);
  // next step in the same block: mean committed 0.935 → τ 0.9 → nothing ≥ 0.9 → top-1 only (0.7)
  const b = oneStep({ gen: [{ token: 1, p: 0.95, masked: false }, { token: 2, p: 0.92, masked: false }, { token: 3, p: 0.7 }, { token: 4, p: 0.65 }], stepInBlock: 1 });
  assert.deepEqual(rel(b.row, (await s.decide(b.row, b.pred, b.services)).commit), [2]);
  // a hard block: max conf 0.5 → τ clamps to 0.6 → top-1 only; then mean 0.5 → τ 0.6
  const s2 = make(bacd);
  const c = oneStep({ gen: [{ token: 1, p: 0.5 }, { token: 2, p: 0.45 }, { token: 3, p: 0.62 }] });
  assert.deepEqual(rel(c.row, (await s2.decide(c.row, c.pred, c.services)).commit), [2]);
  const d = oneStep({ gen: [{ token: 1, p: 0.61 }, { token: 2, p: 0.6 }, { token: 3, p: 0.62, masked: false }], stepInBlock: 1 });
  // mean committed = 0.62 → τ = 0.62: only the top-1 (0.61) by the at-least-one rule
  assert.deepEqual(rel(d.row, (await s2.decide(d.row, d.pred, d.services)).commit), [0]);
});

test('cad commits clamp(#conf>=0.8, 1, 4); a position predicting end-of-text waits until half the canvas', async () => {
  const s = make(cad);
  const gen = [0.95, 0.9, 0.85, 0.83, 0.81, 0.5, 0.4, 0.3].map((p, i) => ({ token: 1 + i, p }));
  const a = oneStep({ gen });
  assert.deepEqual(rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit), [0, 1, 2, 3]);
  const b = oneStep({ gen: gen.map((g) => ({ ...g, p: g.p * 0.5 })) });
  assert.equal((await s.decide(b.row, b.pred, b.services)).commit.length, 1);
  // end-of-text predicted at the start: that position's confidence is −∞ this step, so it waits
  // (no next-best token is written there, however confident the renormalised second choice)
  const c = oneStep({ gen: [{ token: EOS, p: 0.6, second: [7, 0.38] }, { token: 2, p: 0.3 }, { token: 3, p: 0.3 }, { token: 4, p: 0.3 }] });
  const d = await s.decide(c.row, c.pred, c.services);
  assert.deepEqual(rel(c.row, d.commit), [1]);
  assert.deepEqual(d.tokens ?? d.commit.map((pos) => c.pred.tokens[pos]), [2]);
  // the blocked positions do not count towards k: two certain tokens besides the waiting one
  const c2 = oneStep({ gen: [{ token: EOS, p: 0.99 }, { token: 2, p: 0.9 }, { token: 3, p: 0.85 }, { token: 4, p: 0.3 }] });
  assert.deepEqual(rel(c2.row, (await s.decide(c2.row, c2.pred, c2.services)).commit), [1, 2]);
  // every candidate blocked: min_k of them still commit, with their prediction (end-of-text)
  const all = oneStep({ gen: [{ token: EOS, p: 0.5, second: [7, 0.45] }, { token: EOS, p: 0.9 }, { token: EOS, p: 0.7 }, { token: EOS, p: 0.6 }] });
  for (const [minK, expected] of [[1, [0]], [2, [0, 1]]] as const) {
    const f = await make(cad, { min_k: minK }).decide(all.row, all.pred, all.services);
    assert.deepEqual(rel(all.row, f.commit), expected);
    assert.deepEqual(f.tokens ?? f.commit.map((pos) => all.pred.tokens[pos]), expected.map(() => EOS));
  }
  // past half the canvas end-of-text is allowed
  const e = oneStep({ gen: [{ token: 1, p: 0.9, masked: false }, { token: 2, p: 0.9, masked: false }, { token: EOS, p: 0.9, second: [7, 0.08] }, { token: 4, p: 0.3 }] });
  const g = await s.decide(e.row, e.pred, e.services);
  assert.deepEqual(rel(e.row, g.commit), [2]);
  assert.deepEqual(g.tokens ?? g.commit.map((pos) => e.pred.tokens[pos]), [EOS]);
});

test('eoser-ass: 2^i tokens at step i, end-of-text damped early', async () => {
  const s = make(eoserAss);
  const gen = Array.from({ length: 32 }, (_, i) => ({ token: 1 + (i % 12), p: 0.5 + i / 80 }));
  for (const [step, count] of [[0, 1], [1, 2], [2, 4], [3, 8]] as const) {
    const a = oneStep({ gen, stepInBlock: step });
    assert.equal((await s.decide(a.row, a.pred, a.services)).commit.length, count);
  }
  // EOS with the highest confidence loses to a normal token at step 0
  const b = oneStep({ gen: [{ token: EOS, p: 0.99 }, { token: 2, p: 0.4 }, { token: 3, p: 0.3 }, { token: 4, p: 0.3 }] });
  assert.deepEqual(rel(b.row, (await s.decide(b.row, b.pred, b.services)).commit), [1]);
  assert.ok(eoserGamma(0, 4, 0.01) < 0.1 && eoserGamma(4, 4, 0.01) === 1 && eoserGamma(3, 4, 0.01) < 1);
});

test('eoser-ass: a block of L takes floor(log2 L) steps, the last one commits the rest (EOSER-ASS-RL get_num_transfer_tokens_ass)', async () => {
  const s = make(eoserAss);
  const countsFor = async (L: number) => {
    const committed = new Set<number>();
    const counts: number[] = [];
    for (let step = 0; committed.size < L && step < L; step++) {
      const gen = Array.from({ length: L }, (_, i) => ({ token: 1 + (i % 12), p: 0.5 + i / (3 * L), masked: !committed.has(i) }));
      const a = oneStep({ gen, stepInBlock: step });
      const commit = rel(a.row, (await s.decide(a.row, a.pred, a.services)).commit);
      counts.push(commit.length);
      for (const i of commit) committed.add(i);
    }
    return counts;
  };
  assert.deepEqual(await countsFor(32), [1, 2, 4, 8, 17]);
  assert.deepEqual(await countsFor(8), [1, 2, 5]);
  assert.deepEqual(await countsFor(48), [1, 2, 4, 8, 33]);
  assert.deepEqual(assStepSizes(32), [1, 2, 4, 8, 17]);
  assert.deepEqual(assStepSizes(128), [1, 2, 4, 8, 16, 32, 65]);
  assert.deepEqual(assStepSizes(2), [2]);
  // γ uses S = floor(log2 L) steps: (2^(i+1) - 1) / 2^S, so it stays below 1 at the last step
  assert.equal(eoserGamma(4, 5, 0), 31 / 32);
});

test('eoser-ass blocks=N: the reference layout (steps 0..S-N in the first block, then one block per step) on a scripted model', async () => {
  assert.deepEqual(assBlockLayout(32, 2).map((b) => [b.start, b.length, b.sizes]), [[0, 15, [1, 2, 4, 8]], [15, 17, [17]]]);
  assert.deepEqual(assBlockLayout(128, 4).map((b) => b.length), [15, 16, 32, 65]);
  assert.deepEqual(assBlockLayout(48, 3).map((b) => b.length), [7, 8, 33]);
  assert.throws(() => assBlockLayout(32, 6), /blocks must be 1\.\.5 for gen_length 32/);
  // confidence rises to the right: one block commits from the right end, blocks stay left to right
  const model = () => new ScriptedBidirectional(V, MASK, (tokens) => rowLogits(V, Array.from(tokens, (t, i) => i < 1 ? ([t, 0.99] as const) : ([1 + (i % 12), 0.3 + i / 100] as const))));
  const stepsOf = async (given: Record<string, unknown>, blockLength?: number) => {
    const { events } = await collectSteps(runDiffusion(model(), [[3]], make(eoserAss, given), [EOS], { genLength: 32, blockLength, rng: { float: () => 0.5 }, eosFill: false }));
    return events.map((e) => e.committed.map((c) => c.position - 1).sort((a, b) => a - b));
  };
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
  assert.deepEqual(await stepsOf({}), [[31], [29, 30], range(25, 29), range(17, 25), range(0, 17)]);
  assert.deepEqual(await stepsOf({ blocks: 2 }), [[14], [12, 13], range(8, 12), range(0, 8), range(15, 32)]);
  assert.deepEqual(await stepsOf({ blocks: 4 }), [[2], [0, 1], range(3, 7), range(7, 15), range(15, 32)]);
  await assert.rejects(stepsOf({ blocks: 2 }, 16), /blocks=2 lays out its own blocks .* leave block_length unset/);
  // γ and the step sizes count the whole canvas's S = 5 steps: step 2 of the first block commits 4
  // and damps an end-of-text at 0.99 by 0.01 + 0.99 * 7/32 below tokens at 0.5 (were the first
  // block a schedule of its own, S = 3, step 2 would be its last and commit all of it)
  const gen = Array.from({ length: 32 }, (_, i) => ({ token: 1 + (i % 12), p: 0.5 }));
  gen[3] = { token: EOS, p: 0.99 };
  const a = oneStep({ gen, blockEnd: 15, stepInBlock: 2 });
  assert.deepEqual(rel(a.row, (await make(eoserAss, { blocks: 2 }).decide(a.row, a.pred, a.services)).commit), [0, 1, 2, 4]);
});

test('thresholdCommit: accepted candidates in candidate order, then the most confident (ties: the first) when none passes', () => {
  const conf = new Map([[4, 0.95], [5, 0.2], [6, 0.91], [7, 0.99]]);
  assert.deepEqual(thresholdCommit([4, 5, 6, 7], (pos) => conf.get(pos)!, 0.9), [4, 6, 7]);
  const low = new Map([[4, 0.3], [5, 0.5], [6, 0.5], [7, 0.1]]);
  assert.deepEqual(thresholdCommit([4, 5, 6, 7], (pos) => low.get(pos)!, 0.9), [5]);
  assert.deepEqual(thresholdCommit([], () => 1, 0.9), []);
  // a per-position test that rejects the best candidate while accepting others: the best comes last
  assert.deepEqual(acceptedOrBest([4, 5, 6, 7], (pos) => conf.get(pos)!, (pos) => pos !== 7), [4, 5, 6, 7]);
  assert.deepEqual(acceptedOrBest([4, 5, 6, 7], (pos) => conf.get(pos)!, (pos) => pos === 5), [5, 7]);
});
