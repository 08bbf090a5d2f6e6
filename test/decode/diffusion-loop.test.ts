import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiffusion } from '../../src/decode/diffusion/loop.js';
import { confidence } from '../../src/decode/diffusion/confidence.js';
import { random } from '../../src/decode/diffusion/random.js';
import { lladaEvenSplit, dreamQuota } from '../../src/decode/diffusion/schedule.js';
import type { DiffusionStrategy, RandomSource } from '../../src/decode/diffusion/types.js';
import { OptionError, InputError } from '../../src/errors.js';
import { ScriptedBidirectional, rowLogits } from '../helpers/scripted-model.js';
import { collectSteps } from '../helpers/steps.js';

const V = 16;
const MASK = 15;
const EOS = 14;

function seq(seed: number): RandomSource {
  let s = seed >>> 0;
  return { float: () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296) };
}

/** Position i (of the generation region) predicts token (i+1) with confidence conf[i]. */
function fixedScript(promptLength: number, conf: number[]) {
  return (tokens: Int32Array) => {
    const spec: [number, number][] = [];
    for (let i = 0; i < tokens.length; i++) {
      const g = i - promptLength;
      spec.push(g >= 0 ? [g + 1, conf[g]!] : [tokens[i]!, 0.99]);
    }
    return rowLogits(V, spec);
  };
}

test('LLaDA even split of committed tokens per step', () => {
  assert.deepEqual(lladaEvenSplit(8, 3), [3, 3, 2]);
  assert.deepEqual(lladaEvenSplit(4, 4), [1, 1, 1, 1]);
  assert.deepEqual(lladaEvenSplit(5, 2), [3, 2]);
});

test('Dream timestep schedule reveals int(n(1-s/t)) and everything at the last step', () => {
  // steps=4: t = 1, 0.75025, 0.5005, 0.25075, 0.001
  assert.equal(dreamQuota(8, 0, 4), Math.floor(8 * (1 - 0.75025 / 1)));
  assert.equal(dreamQuota(5, 3, 4), 5);
});

test('confidence schedule: blocks left to right, even split, most confident first', async () => {
  const prompt = [3, 4];
  const conf = [0.5, 0.9, 0.6, 0.8, 0.95, 0.4, 0.7, 0.65];
  const model = new ScriptedBidirectional(V, MASK, fixedScript(prompt.length, conf));
  const strategy = confidence.create({ k: null });
  const { events, results } = await collectSteps(
    runDiffusion(model, [prompt], strategy, [EOS], { genLength: 8, steps: 4, blockLength: 4, rng: seq(1), eosFill: false }),
  );
  // 2 blocks × 2 steps, 2 tokens per step
  assert.equal(events.length, 4);
  const order = events.map((e) => e.committed.map((c) => c.position - prompt.length).sort((a, b) => a - b));
  assert.deepEqual(order, [
    [1, 3], // block 0: 0.9, 0.8
    [0, 2],
    [4, 6], // block 1: 0.95, 0.7 — position 4 (0.95) never commits during block 0
    [5, 7],
  ]);
  assert.deepEqual(results[0]!.generated, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(results[0]!.nfe, 4);
  assert.equal(model.calls, 4);
  // the canvas seen at step 2 has exactly positions 1 and 3 filled
  const second = model.seen[1]![0]!;
  assert.deepEqual(Array.from(second.slice(2)), [MASK, 2, MASK, 4, MASK, MASK, MASK, MASK]);
});

test('one token per step with k=1 takes gen_length forwards', async () => {
  const prompt = [3];
  const model = new ScriptedBidirectional(V, MASK, fixedScript(1, [0.3, 0.9, 0.5, 0.7]));
  const { events, results } = await collectSteps(
    runDiffusion(model, [prompt], confidence.create({ k: 1 }), [EOS], { genLength: 4, rng: seq(2), eosFill: false }),
  );
  assert.deepEqual(events.map((e) => e.committed[0]!.position - 1), [1, 3, 2, 0]);
  assert.equal(results[0]!.nfe, 4);
});

test('random remasking is reproducible for a seed and differs across seeds', async () => {
  const run = async (seed: number) => {
    const model = new ScriptedBidirectional(V, MASK, fixedScript(1, Array(8).fill(0.9)));
    const { events } = await collectSteps(runDiffusion(model, [[3]], random.create({ k: 1 }), [EOS], { genLength: 8, rng: seq(seed), eosFill: false }));
    return events.map((e) => e.committed[0]!.position);
  };
  assert.deepEqual(await run(7), await run(7));
  const orders = new Set([await run(1), await run(2), await run(3), await run(4)].map((o) => o.join(',')));
  assert.ok(orders.size > 1);
});

test('temperature > 0 samples tokens by Gumbel-max', async () => {
  // position predicts token 5 or 6 with equal probability
  const script = (tokens: Int32Array) => {
    const out = new Float32Array(tokens.length * V).fill(-30);
    for (let i = 0; i < tokens.length; i++) {
      out[i * V + 5] = 0;
      out[i * V + 6] = 0;
    }
    return out;
  };
  const seen = new Set<number>();
  for (let seed = 1; seed <= 6; seed++) {
    const model = new ScriptedBidirectional(V, MASK, script);
    const { results } = await collectSteps(runDiffusion(model, [[3]], confidence.create({ k: 4 }), [EOS], { genLength: 4, temperature: 1, rng: seq(seed) }));
    results[0]!.generated.forEach((t) => seen.add(t));
  }
  assert.deepEqual([...seen].sort(), [5, 6]);
});

test('classifier-free guidance mixes conditional and unconditional logits', async () => {
  // conditional row (prompt visible) prefers 5 slightly; unconditional prefers 6.
  const script = (tokens: Int32Array) => {
    const uncond = tokens[0] === MASK;
    const out = new Float32Array(tokens.length * V).fill(-30);
    for (let i = 0; i < tokens.length; i++) {
      out[i * V + 5] = uncond ? 0 : 1;
      out[i * V + 6] = uncond ? 2 : 1.5;
    }
    return out;
  };
  const plain = await collectSteps(runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], confidence.create({ k: 2 }), [EOS], { genLength: 2, rng: seq(1) }));
  assert.deepEqual(plain.results[0]!.generated, [6, 6]);
  // guided: u + 2(c - u): token5 = 0 + 2(1) = 2, token6 = 2 + 2(-0.5) = 1 → 5 wins
  const guided = await collectSteps(runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], confidence.create({ k: 2 }), [EOS], { genLength: 2, cfgScale: 1, rng: seq(1) }));
  assert.deepEqual(guided.results[0]!.generated, [5, 5]);
});

test('end-of-text fill: masks after a settled end-of-text are filled without a forward pass', async () => {
  // gen: [7, EOS, ?, ?]: EOS very confident, tail low confidence
  const script = (tokens: Int32Array) => rowLogits(V, [[3, 0.99], [7, 0.9], [EOS, 0.95], [9, 0.3], [9, 0.3]]);
  const model = new ScriptedBidirectional(V, MASK, script);
  const { results } = await collectSteps(runDiffusion(model, [[3]], confidence.create({ k: 1 }), [EOS], { genLength: 4, rng: seq(1) }));
  assert.deepEqual(results[0]!.generated, [7, EOS, EOS, EOS]);
  assert.equal(results[0]!.nfe, 2);
});

test('batch rows are independent and equal to their unbatched runs', async () => {
  const script = (tokens: Int32Array) => {
    const spec: [number, number][] = [];
    for (let i = 0; i < tokens.length; i++) spec.push([(tokens[0]! + i) % 13, 0.5 + ((i * 7 + tokens[0]!) % 5) / 10]);
    return rowLogits(V, spec);
  };
  const prompts = [[1, 2, 3], [4], [5, 6]];
  const batched = await collectSteps(runDiffusion(new ScriptedBidirectional(V, MASK, script), prompts, confidence.create({ k: 2 }), [EOS], { genLength: 8, blockLength: 4, steps: 4, rng: seq(1) }));
  for (let i = 0; i < prompts.length; i++) {
    const single = await collectSteps(runDiffusion(new ScriptedBidirectional(V, MASK, script), [prompts[i]!], confidence.create({ k: 2 }), [EOS], { genLength: 8, blockLength: 4, steps: 4, rng: seq(1) }));
    assert.deepEqual(batched.results[i], single.results[0]);
  }
});

test('a strategy that commits nothing still makes progress', async () => {
  const lazy: DiffusionStrategy = { name: 'lazy', decide: () => ({ commit: [] }) };
  const model = new ScriptedBidirectional(V, MASK, fixedScript(1, [0.2, 0.9, 0.4]));
  const { results } = await collectSteps(runDiffusion(model, [[3]], lazy, [EOS], { genLength: 3, rng: seq(1) }));
  assert.deepEqual(results[0]!.generated, [1, 2, 3]);
  assert.equal(results[0]!.nfe, 3);
});

test('bad schedules and long prompts are rejected with the option named', async () => {
  const model = new ScriptedBidirectional(V, MASK, fixedScript(1, [0.5]), 10);
  const strat = confidence.create({ k: null });
  await assert.rejects(collectSteps(runDiffusion(model, [[3]], strat, [EOS], { genLength: 6, blockLength: 4, rng: seq(1) })), (e: unknown) => e instanceof OptionError && /block_length/.test(e.message));
  await assert.rejects(collectSteps(runDiffusion(model, [[3]], strat, [EOS], { genLength: 8, blockLength: 4, steps: 3, rng: seq(1) })), (e: unknown) => e instanceof OptionError && /steps 3/.test(e.message));
  await assert.rejects(collectSteps(runDiffusion(model, [[1, 2, 3]], strat, [EOS], { genLength: 8, rng: seq(1) })), (e: unknown) => e instanceof InputError && /context of 10/.test(e.message));
});

test('a model that ranks the mask token first still finishes: the mask is never committed', async () => {
  // every position: mask token 60%, token 7 30%
  const script = (tokens: Int32Array) => {
    const out = new Float32Array(tokens.length * V).fill(Math.log(0.1 / 13));
    for (let i = 0; i < tokens.length; i++) {
      out[i * V + MASK] = Math.log(0.6);
      out[i * V + 7] = Math.log(0.3);
    }
    return out;
  };
  const model = new ScriptedBidirectional(V, MASK, script);
  const { results } = await collectSteps(runDiffusion(model, [[3]], confidence.create({ k: 1 }), [EOS], { genLength: 4, rng: seq(1) }));
  assert.deepEqual(results[0]!.generated, [7, 7, 7, 7]);
  assert.equal(results[0]!.nfe, 4);
  const sampled = await collectSteps(runDiffusion(new ScriptedBidirectional(V, MASK, script), [[3]], confidence.create({ k: 2 }), [EOS], { genLength: 4, temperature: 1, rng: seq(3) }));
  assert.ok(sampled.results[0]!.generated.every((t) => t !== MASK));
});

test('a strategy that keeps remasking what it committed is stopped by the step bound', async () => {
  let flip = 0;
  const restless: DiffusionStrategy = {
    name: 'restless',
    decide: (row) => {
      const committed = [];
      for (let p = row.promptLength; p < row.canvas.length; p++) if (row.canvas[p] !== MASK) committed.push(p);
      flip++;
      return { commit: [row.candidates[0] ?? row.masked[0]!], remask: committed.slice(0, 1) };
    },
  };
  const model = new ScriptedBidirectional(V, MASK, fixedScript(1, [0.5, 0.6, 0.7, 0.8]));
  const { results } = await collectSteps(runDiffusion(model, [[3]], restless, [EOS], { genLength: 4, rng: seq(1), eosFill: false }));
  assert.ok(results[0]!.generated.every((t) => t !== MASK));
  assert.ok(results[0]!.nfe <= 4 * 4 + 16 + 4, String(results[0]!.nfe));
  assert.ok(flip > 4);
});
