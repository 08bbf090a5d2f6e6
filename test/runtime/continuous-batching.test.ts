/**
 * Continuous batching (runtime/coalescer.ts, batched-bidirectional.ts, batched-causal.ts): the
 * forwards of concurrent generations run as one batched forward, and each generation's output is
 * the one it gets alone — token for token, for greedy and deterministic strategies, with rows at
 * different steps, blocks, KV lengths and draft lengths.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateText, loadModel, type GenerateOptions, type ParadecModel } from '../../src/api.js';
import { writeRandomCheckpoint } from '../../src/model/checkpoint.js';
import { batchedBidirectional } from '../../src/runtime/batched-bidirectional.js';
import { batchedCausal, canBatchCausal } from '../../src/runtime/batched-causal.js';
import { Coalescer } from '../../src/runtime/coalescer.js';
import type { BidirectionalModel, CausalModel } from '../../src/runtime/types.js';

let dir: string;
let dlm: ParadecModel;
let ar: ParadecModel;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'paradec-batching-'));
  writeRandomCheckpoint(join(dir, 'llada'), { architecture: 'llada', vocabSize: 48, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 4, intermediateSize: 64, seed: 11 });
  writeRandomCheckpoint(join(dir, 'llama'), { architecture: 'llama', vocabSize: 48, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 64, seed: 12, scale: 0.5 });
  const cacheDir = join(dir, 'cache');
  dlm = await loadModel(join(dir, 'llada'), { threads: 1, cacheDir });
  ar = await loadModel(join(dir, 'llama'), { threads: 1, cacheDir });
});

after(async () => {
  await dlm?.dispose();
  await ar?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

// prompts of different lengths: rows with different canvases and KV lengths
const PROMPTS = ['w5 w3', 'w1 w2 w3 w4 w5 w6 w7', 'w9', 'w2 w2 w8 w1', 'w7 w6 w5 w4 w3 w2 w1 w0 w9', 'w4'];

/** Each prompt alone, then all at once on the batched model (each generation joined, as the server does). */
async function aloneAndTogether(model: ParadecModel, batched: { model: BidirectionalModel | CausalModel; coalescer: Coalescer<unknown, unknown> }, options: (i: number) => GenerateOptions) {
  const alone: string[] = [];
  for (let i = 0; i < PROMPTS.length; i++) alone.push((await generateText(model, PROMPTS[i]!, options(i))).text);
  const serving: ParadecModel = { ...model, runtime: batched.model };
  const before = { ...batched.coalescer.stats };
  const together = await Promise.all(
    PROMPTS.map(async (p, i) => {
      const leave = batched.coalescer.join();
      try {
        return (await generateText(serving, p, options(i))).text;
      } finally {
        leave();
      }
    }),
  );
  const stats = batched.coalescer.stats;
  return { alone, together, batches: stats.batches - before.batches, calls: stats.calls - before.calls, largest: stats.largestBatch };
}

test('diffusion: concurrent generations share forwards and each gets its lone output', async () => {
  const batched = batchedBidirectional(dlm.runtime as BidirectionalModel);
  // different strategies, canvas lengths and blocks in one batch
  const settings: GenerateOptions[] = [
    { strategy: 'confidence', genLength: 8 },
    { strategy: 'threshold', genLength: 12, strategyOptions: { tau: 0.3 } },
    { strategy: 'left-to-right', genLength: 8, blockLength: 4 },
    { strategy: 'confidence', genLength: 16, steps: 8, blockLength: 8 },
    { strategy: 'margin', genLength: 8 },
    { strategy: 'entropy', genLength: 12, steps: 6 },
  ];
  const r = await aloneAndTogether(dlm, batched, (i) => settings[i]!);
  assert.deepEqual(r.together, r.alone);
  assert.ok(r.largest >= 3, `largest batch ${r.largest} rows`);
  assert.ok(r.batches < r.calls, `${r.calls} forwards ran as ${r.batches} batched forwards`);
});

test('autoregressive: greedy and speculative rows at different KV and draft lengths batch and keep their lone outputs', async () => {
  assert.ok(canBatchCausal(ar.runtime as CausalModel));
  const batched = batchedCausal(ar.runtime as never);
  const settings: GenerateOptions[] = [
    { strategy: 'greedy', maxTokens: 12 },
    { strategy: 'speculative', maxTokens: 12, strategyOptions: { draft: join(dir, 'llama'), gamma: 3 } },
    { strategy: 'greedy', maxTokens: 7 },
    { strategy: 'speculative', maxTokens: 10, strategyOptions: { draft: join(dir, 'llama'), gamma: 1, schedule: 'constant' } },
    { strategy: 'greedy', maxTokens: 16 },
    { strategy: 'lookup', maxTokens: 12 },
  ];
  const r = await aloneAndTogether(ar, batched, (i) => settings[i]!);
  assert.deepEqual(r.together, r.alone);
  assert.ok(r.largest >= 3, `largest batch ${r.largest} rows`);
  assert.ok(r.batches < r.calls, `${r.calls} forwards ran as ${r.batches} batched forwards`);
});

test('coalescer: a lone generation never waits; a batch goes once every participant has called', async () => {
  const runs: number[][] = [];
  const c = new Coalescer<number, number>(async (calls) => {
    runs.push(calls);
    return calls.map((x) => x * 10);
  }, { maxWaitMs: 1000 });
  // nobody joined: runs at once
  assert.equal(await c.submit(1), 10);
  const leaveA = c.join();
  const leaveB = c.join();
  const started = Date.now();
  const a = c.submit(2);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(runs.length, 1, 'waits for the second participant');
  const b = c.submit(3);
  assert.deepEqual(await Promise.all([a, b]), [20, 30]);
  assert.deepEqual(runs[1], [2, 3]);
  assert.ok(Date.now() - started < 900, 'went when both had called, not at the time limit');
  // one participant leaves: the other's call goes alone at once
  leaveB();
  assert.equal(await c.submit(4), 40);
  leaveA();
  // maxWaitMs 0: never wait for the others, run what is there (at once, not on a timer)
  let ran = false;
  const eager = new Coalescer<number, number>(async (calls) => {
    ran = true;
    return calls.map((x) => x + 1);
  }, { maxWaitMs: 0 });
  eager.join();
  eager.join();
  const one = eager.submit(1);
  assert.equal(ran, true, 'dispatched within submit');
  assert.equal(await one, 2);
  // a batch that fails rejects each of its calls
  const failing = new Coalescer<number, number>(async () => {
    throw new Error('boom');
  });
  await assert.rejects(failing.submit(1), /boom/);
});
