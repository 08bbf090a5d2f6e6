/**
 * The work of an autoregressive generation: every position fed to the target (rows × tokens of
 * each forward: prefill, batched verification, rollouts, input embeddings) counted in `work`, the
 * draft models' positions apart in `draftWork`, whichever strategy runs them — including a
 * strategy kept alive across generations, whose draft model charges the generation running it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAutoregressive, type ArResult } from '../../src/decode/autoregressive/loop.js';
import { returnValue } from '../../src/decode/drain.js';
import type { AutoregressiveStrategy } from '../../src/decode/autoregressive/types.js';
import { greedy } from '../../src/decode/autoregressive/greedy.js';
import { speculative } from '../../src/decode/autoregressive/speculative.js';
import { multipath } from '../../src/decode/autoregressive/multipath.js';
import { deer } from '../../src/decode/autoregressive/deer.js';
import { superposed, acceptsEmbeddings } from '../../src/decode/autoregressive/superposed.js';
import { adadec } from '../../src/decode/autoregressive/adadec.js';
import { borrowed, type ExtraModels } from '../../src/decode/autoregressive/extra-models.js';
import { countingCausal } from '../../src/decode/autoregressive/work.js';
import { resolveParams } from '../../src/decode/params.js';
import { supportsTree, type KvCache, type TreeCausalModel } from '../../src/runtime/types.js';
import { Rng } from '../../src/tasks/rng.js';
import { ScriptedBidirectional } from '../helpers/scripted-model.js';
import { BatchScripted, EmbeddingScripted, hashedDistribution, logitsOf, scriptedModels } from './helpers.js';

const V = 4;
const target = (): BatchScripted => new BatchScripted(V, [], (p) => logitsOf(hashedDistribution(p, V, 1, 2.5)));
const draftLm = (): BatchScripted => new BatchScripted(V, [], (p) => logitsOf(hashedDistribution(p, V, 2, 2.5)));

/** Σ rows × new tokens over a scripted model's forwards: what it computed. */
const fed = (model: BatchScripted): number => model.shapes.reduce((s, [rows, n]) => s + rows * n, 0);

async function run(model: BatchScripted, prompt: number[], strategy: AutoregressiveStrategy, options: { maxTokens?: number; models?: ExtraModels; keep?: boolean } = {}): Promise<ArResult> {
  return returnValue(
    runAutoregressive(model, prompt, strategy, {
      maxTokens: options.maxTokens ?? 10,
      sampling: { temperature: 0, topK: 0, topP: 1 },
      rng: new Rng(0),
      eosTokenIds: model.eosTokenIds,
      ...(options.models ? { models: options.models } : {}),
      ...(options.keep ? { keepStrategy: true } : {}),
    }),
  );
}

test('greedy: the prompt once, then one position per forward; no draft work', async () => {
  const model = target();
  const r = await run(model, [0, 1, 2], greedy.create({}), { maxTokens: 6 });
  assert.equal(r.nfe, 6);
  assert.equal(r.work, 3 + 5); // prefill of 3, then the 5 tokens committed before the last
  assert.equal(r.work, fed(model));
  assert.equal(r.draftWork, 0);
});

test('speculative: the target\'s verify positions in work, the draft LM\'s in draftWork', async () => {
  const model = target();
  const drafts: BatchScripted[] = [];
  const models = scriptedModels({ causal: async () => borrowed(drafts[drafts.push(draftLm()) - 1]!) });
  const strategy = speculative.create(resolveParams('speculative', speculative.params, { gamma: 3, schedule: 'constant', confidence: 0 }));
  const r = await run(model, [0, 1], strategy, { models });
  assert.equal(r.work, fed(model));
  assert.equal(r.draftWork, fed(drafts[0]!));
  assert.ok(r.draftWork > 0);
  // a verify forward carries the drafts: more positions than forwards
  assert.ok(r.work > r.nfe + 1, `work ${r.work}, nfe ${r.nfe}`);
});

test('multi-path: a batched verification counts every row × its width, padding included', async () => {
  const model = target();
  const models = scriptedModels({ causal: async () => borrowed(draftLm()) });
  const r = await run(model, [0, 1], multipath.create(resolveParams('multipath', multipath.params, { paths: 3, length: 3 })), { models });
  assert.ok(model.shapes.some(([rows]) => rows === 3), JSON.stringify(model.shapes));
  assert.equal(r.work, fed(model));
  assert.ok(r.draftWork > 0);
});

test('DEER: the diffusion drafter\'s canvases are draft work', async () => {
  const model = target();
  const dlm = new ScriptedBidirectional(V + 1, V, (row) => {
    const out = new Float32Array(row.length * (V + 1));
    for (let i = 0; i < row.length; i++) out.set(logitsOf([...hashedDistribution(Array.from(row.slice(0, i + 1)), V, 3, 2), 0]), i * (V + 1));
    return out;
  });
  const models = scriptedModels({ bidirectional: async () => borrowed(dlm) });
  const r = await run(model, [0, 1], deer.create(resolveParams('deer', deer.params, { block: 3 })), { models });
  const canvases = dlm.seen.reduce((s, rows) => s + rows.reduce((t, c) => t + c.length, 0), 0);
  assert.ok(canvases > 0);
  assert.equal(r.draftWork, canvases);
  assert.equal(r.work, fed(model));
});

test('superposed and AdaDec: input-embedding forwards and lookahead rollouts reach the target through the counted view', async () => {
  const sup = new EmbeddingScripted(V, [], (p) => logitsOf(hashedDistribution(p, V, 4, 2)));
  const r = await run(sup, [1, 2, 3], superposed.create(resolveParams('superposed', superposed.params, {})), { maxTokens: 5 });
  assert.ok(sup.seen.length > 0, 'embedding inputs were fed');
  assert.equal(r.work, fed(sup));

  const flat = target();
  const a = await run(flat, [0, 1], adadec.create(resolveParams('adadec', adadec.params, { threshold: 0 })), { maxTokens: 6 });
  assert.ok(flat.shapes.some(([rows]) => rows > 1), `lookahead rows: ${JSON.stringify(flat.shapes)}`);
  assert.equal(a.work, fed(flat));
});

test('a strategy kept across generations charges its draft model\'s work to the generation running it', async () => {
  const draft = draftLm();
  const models = scriptedModels({ causal: async () => borrowed(draft) });
  const kept = speculative.create(resolveParams('speculative', speculative.params, { gamma: 3, schedule: 'constant', confidence: 0 }));
  const first = await run(target(), [0, 1], kept, { models, keep: true });
  const before = fed(draft);
  assert.equal(first.draftWork, before);
  const second = await run(target(), [2, 3], kept, { models, keep: true });
  assert.ok(second.draftWork > 0);
  assert.equal(second.draftWork, fed(draft) - before);
  await kept.dispose?.();
});

test('the counting view is the model in every other respect: capabilities, instanceof, state', async () => {
  class TreeModel extends BatchScripted implements TreeCausalModel {
    readonly cpuThreads = 1;
    busy(): boolean {
      return this.calls > 100;
    }
    async forwardTree(tokens: Int32Array, _positions: Int32Array, _mask: Uint8Array, cache: KvCache) {
      return this.forward(tokens, 1, tokens.length, cache);
    }
    compactTree(cache: KvCache, past: number): KvCache {
      return this.truncateCache(cache, past);
    }
  }
  const inner = new TreeModel(V, [], (p) => logitsOf(hashedDistribution(p, V, 1, 2)));
  let counted = 0;
  const view = countingCausal(inner, (n) => (counted += n));
  assert.ok(view instanceof TreeModel);
  assert.ok(supportsTree(view));
  assert.equal(view.cpuThreads, 1);
  assert.equal(view.busy(), false);
  await view.forward(Int32Array.from([1, 2, 3, 0, 1, 2]), 2, 3, view.emptyCache(2));
  assert.equal(counted, 6);
  await view.forwardTree(Int32Array.from([1, 2, 3, 1]), Int32Array.from([0, 1, 1, 2]), new Uint8Array(16), view.emptyCache(1));
  // the tree's 4 nodes; its inner call to forward runs on the model itself and is not counted twice
  assert.equal(counted, 10);
  assert.equal(inner.calls, 2, 'the calls landed on the model itself');
  assert.ok(!acceptsEmbeddings(view));
  assert.ok(acceptsEmbeddings(countingCausal(new EmbeddingScripted(V, [], () => new Float32Array(V)), () => {})));
});
