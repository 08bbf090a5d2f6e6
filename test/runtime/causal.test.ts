import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceForward } from '../../src/model/reference.js';
import type { Checkpoint } from '../../src/model/checkpoint.js';
import { OnnxCausalModel } from '../../src/runtime/causal-model.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { InputError, OptionError, RuntimeFailure } from '../../src/errors.js';
import type { KvCache } from '../../src/runtime/types.js';
import { CAUSAL_ARCHS, jsHead, maxAbsDiff, sliceLogits, tempDir, tinyCheckpoint, tokenRows } from './helpers.js';

const tmp = tempDir('causal');
after(() => tmp.cleanup());
const cacheDir = `${tmp.dir}/cache`;

async function open(ck: Checkpoint): Promise<OnnxCausalModel> {
  const m = await compileModel(ck, { cacheDir, threads: 1 });
  assert.ok(m instanceof OnnxCausalModel);
  return m;
}

for (const arch of CAUSAL_ARCHS) {
  describe(`${arch} causal graph`, () => {
    let ck: Checkpoint;
    let model: OnnxCausalModel;
    let V: number;
    before(async () => {
      ck = tinyCheckpoint(tmp.dir, arch);
      V = ck.config.vocabSize;
      model = await open(ck);
    });
    after(() => model.dispose());

    test('prefill: logits match the reference, the head matches JS, the cache has the right shape', async () => {
      const rows = tokenRows(2, 6, V, 2);
      const { head, cache } = await model.forward(Int32Array.from(rows.flat()), 2, 6, model.emptyCache(2), { logits: true });
      const ref = referenceForward(ck, rows);
      assert.ok(maxAbsDiff(head.logits!, ref) < 1e-4, `logits differ by ${maxAbsDiff(head.logits!, ref)}`);
      const js = jsHead(ref, 12, V, 8);
      assert.deepEqual(Array.from(head.topkIds), js.ids);
      assert.ok(maxAbsDiff(head.topkProbs, js.probs) < 1e-5);
      assert.ok(maxAbsDiff(head.entropy, js.entropy) < 1e-4);
      assert.equal(cache.length, 6);
      assert.equal(cache.batch, 2);
      assert.equal(cache.keys.length, ck.config.numLayers);
      assert.equal(cache.keys[0]!.length, 2 * ck.config.numKvHeads * 6 * ck.config.headDim);
    });

    test('KV-cached decoding (prefill, then 1, 1 and 3 tokens) matches the full pass', async () => {
      const [row] = tokenRows(1, 9, V, 4) as [number[]];
      const ref = referenceForward(ck, [row]);
      let cache = model.emptyCache(1);
      let at = 0;
      for (const n of [4, 1, 1, 3]) {
        const before = cache;
        const r = await model.forward(Int32Array.from(row.slice(at, at + n)), 1, n, cache, { logits: true });
        const want = sliceLogits(ref, 1, 9, V, at, at + n);
        assert.ok(maxAbsDiff(r.head.logits!, want) < 1e-4, `step at ${at}: logits differ by ${maxAbsDiff(r.head.logits!, want)}`);
        assert.deepEqual(Array.from(r.head.topkIds), jsHead(want, n, V, 8).ids);
        assert.equal(before.length, at, 'the input cache is left as it was');
        cache = r.cache;
        at += n;
        assert.equal(cache.length, at);
      }
    });

    test('branching: an old cache (no longer resident in the worker) and a hand-made one still work', async () => {
      const [row] = tokenRows(1, 8, V, 5) as [number[]];
      const ref = referenceForward(ck, [row]);
      const first = await model.forward(Int32Array.from(row.slice(0, 4)), 1, 4, model.emptyCache(1));
      let cache = first.cache;
      for (let t = 4; t < 8; t++) cache = (await model.forward(Int32Array.of(row[t]!), 1, 1, cache)).cache;
      // `first.cache` is four generations old: the worker dropped its copy, the caller's is used
      const again = await model.forward(Int32Array.from(row.slice(4, 6)), 1, 2, first.cache, { logits: true });
      assert.ok(maxAbsDiff(again.head.logits!, sliceLogits(ref, 1, 8, V, 4, 6)) < 1e-4);
      // a cache built by the caller in ordinary (non-shared) memory
      const copy: KvCache = { batch: 1, length: 4, keys: first.cache.keys.map((k) => Float32Array.from(k)), values: first.cache.values.map((v) => Float32Array.from(v)) };
      const third = await model.forward(Int32Array.from(row.slice(4, 6)), 1, 2, copy, { logits: true });
      assert.ok(maxAbsDiff(third.head.logits!, again.head.logits!) < 1e-6);
    });

    test('reading a cache while the worker is busy with the next step waits for it and gets the values', async () => {
      const rows = tokenRows(1, 6, V, 9);
      const a = await model.forward(Int32Array.from(rows[0]!.slice(0, 5)), 1, 5, model.emptyCache(1));
      const next = model.forward(Int32Array.of(rows[0]![5]!), 1, 1, a.cache); // queued in the worker
      const keys = a.cache.keys.map((k) => Float32Array.from(k)); // synchronous read, right now
      const b = await next;
      assert.equal(keys[0]!.length, ck.config.numKvHeads * 5 * ck.config.headDim);
      // the first 5 positions of the extended cache are the same keys
      const cut = model.truncateCache(b.cache, 5);
      for (let i = 0; i < ck.config.numLayers; i++) assert.deepEqual(Array.from(cut.keys[i]!), Array.from(keys[i]!));
    });

    test('batch > 1 with several new tokens on top of a past', async () => {
      const rows = tokenRows(3, 7, V, 6);
      const ref = referenceForward(ck, rows);
      const prefix = rows.map((r) => r.slice(0, 3));
      const { cache } = await model.forward(Int32Array.from(prefix.flat()), 3, 3, model.emptyCache(3));
      const rest = rows.map((r) => r.slice(3));
      const r = await model.forward(Int32Array.from(rest.flat()), 3, 4, cache, { logits: true });
      const want = sliceLogits(ref, 3, 7, V, 3, 7);
      assert.ok(maxAbsDiff(r.head.logits!, want) < 1e-4, `logits differ by ${maxAbsDiff(r.head.logits!, want)}`);
      assert.deepEqual(Array.from(r.head.topkIds), jsHead(want, 12, V, 8).ids);
      assert.ok(maxAbsDiff(r.head.entropy, jsHead(want, 12, V, 8).entropy) < 1e-4);
    });

    test('truncateCache then forward equals a fresh prefill of the prefix', async () => {
      const rows = tokenRows(2, 8, V, 8);
      const full = await model.forward(Int32Array.from(rows.flat()), 2, 8, model.emptyCache(2));
      const cut = model.truncateCache(full.cache, 5);
      assert.equal(cut.length, 5);
      assert.equal(full.cache.length, 8, 'truncation copies; the original is kept');
      const fresh = await model.forward(Int32Array.from(rows.flatMap((r) => r.slice(0, 5))), 2, 5, model.emptyCache(2));
      for (let i = 0; i < ck.config.numLayers; i++) {
        assert.ok(maxAbsDiff(cut.keys[i]!, fresh.cache.keys[i]!) < 1e-5);
        assert.ok(maxAbsDiff(cut.values[i]!, fresh.cache.values[i]!) < 1e-5);
      }
      // a different continuation after the rollback (a rejected draft replaced by another token)
      const alt = rows.map((r) => [r[5]! === 10 ? 11 : 10, r[6]!]);
      const after = await model.forward(Int32Array.from(alt.flat()), 2, 2, cut, { logits: true });
      const ref = referenceForward(ck, rows.map((r, b) => [...r.slice(0, 5), ...alt[b]!]));
      const want = sliceLogits(ref, 2, 7, V, 5, 7);
      assert.ok(maxAbsDiff(after.head.logits!, want) < 1e-4, `logits differ by ${maxAbsDiff(after.head.logits!, want)}`);
      assert.equal(model.truncateCache(full.cache, 0).length, 0);
    });

    test('bad caches and lengths are InputErrors', async () => {
      const { cache } = await model.forward(Int32Array.from([5, 6]), 1, 2, model.emptyCache(1));
      await assert.rejects(model.forward(Int32Array.from([5, 6]), 2, 1, cache), (e: unknown) => e instanceof InputError && /batch/.test(e.message));
      const broken: KvCache = { ...cache, keys: cache.keys.map((k) => k.subarray(1)) };
      await assert.rejects(model.forward(Int32Array.from([5]), 1, 1, broken), (e: unknown) => e instanceof InputError && /cache layer 0/.test(e.message));
      assert.throws(() => model.truncateCache(cache, 3), InputError);
      const tooLong = new Int32Array(ck.config.maxPositions).fill(5);
      await assert.rejects(model.forward(tooLong, 1, tooLong.length, cache), (e: unknown) => e instanceof InputError && /exceed/.test(e.message));
    });
  });
}

for (const [arch, dtype] of [['llama', 'F16'], ['qwen3', 'BF16']] as const) {
  test(`${arch} ${dtype} checkpoint: prefill and cached step match the reference`, async () => {
    const ck = tinyCheckpoint(tmp.dir, arch, { dtype });
    const model = await open(ck);
    try {
      const rows = tokenRows(2, 6, ck.config.vocabSize, 12);
      const ref = referenceForward(ck, rows);
      const V = ck.config.vocabSize;
      const a = await model.forward(Int32Array.from(rows.flatMap((r) => r.slice(0, 5))), 2, 5, model.emptyCache(2), { logits: true });
      assert.ok(maxAbsDiff(a.head.logits!, sliceLogits(ref, 2, 6, V, 0, 5)) < 1e-4);
      const b = await model.forward(Int32Array.from(rows.map((r) => r[5]!)), 2, 1, a.cache, { logits: true });
      assert.ok(maxAbsDiff(b.head.logits!, sliceLogits(ref, 2, 6, V, 5, 6)) < 1e-4);
    } finally {
      await model.dispose();
    }
  });
}

test('busy(): true while a forward computes in the worker, false once its result is ready', async () => {
  // the built-in 1M-parameter model and a large batch: the forward takes milliseconds, so the
  // check right after sending it cannot lose a race against the worker
  const model = await compileModel('models/tiny-ar', { cacheDir, threads: 1 });
  assert.ok(model instanceof OnnxCausalModel);
  try {
    assert.equal(model.busy(), false, 'nothing sent yet');
    const B = 8;
    const T = 200;
    const ids = Int32Array.from({ length: B * T }, (_, i) => 5 + (i % 50));
    const pending = model.forward(ids, B, T, model.emptyCache(B));
    assert.equal(model.busy(), true);
    await pending;
    assert.equal(model.busy(), false);
    await assert.rejects(model.forward(Int32Array.from([model.vocabSize + 5]), 1, 1, model.emptyCache(1)), InputError);
    assert.equal(model.busy(), false, 'a request refused before sending leaves nothing in flight');
  } finally {
    await model.dispose();
  }
});

test('KV caches beyond the resident limit are saved to the main thread first; a disposed model fails unread ones', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'llama', { seed: 22 });
  const V = ck.config.vocabSize;
  const model = await compileModel(ck, { cacheDir, threads: 1, residentCaches: 1 });
  assert.ok(model instanceof OnnxCausalModel);
  const [row] = tokenRows(1, 8, V, 23) as [number[]];
  const ref = referenceForward(ck, [row]);
  const caches: KvCache[] = [];
  let cache = model.emptyCache(1);
  for (let t = 0; t < 6; t++) {
    cache = (await model.forward(Int32Array.of(row[t]!), 1, 1, cache)).cache;
    caches.push(cache);
  }
  // every earlier cache was evicted from the worker while still referenced here: all still work
  const r = await model.forward(Int32Array.from(row.slice(3, 5)), 1, 2, caches[2]!, { logits: true });
  assert.ok(maxAbsDiff(r.head.logits!, sliceLogits(ref, 1, 8, V, 3, 5)) < 1e-4);
  const cut = model.truncateCache(caches[4]!, 2);
  const r2 = await model.forward(Int32Array.from(row.slice(2, 4)), 1, 2, cut, { logits: true });
  assert.ok(maxAbsDiff(r2.head.logits!, sliceLogits(ref, 1, 8, V, 2, 4)) < 1e-4);
  const unread = (await model.forward(Int32Array.of(row[6]!), 1, 1, caches[5]!)).cache;
  await model.dispose();
  assert.throws(() => unread.keys, RuntimeFailure);
  assert.equal(caches[1]!.keys[0]!.length, ck.config.numKvHeads * 2 * ck.config.headDim, 'saved caches outlive the model');
});

test('sharded qwen2 checkpoint with tied embeddings compiles and matches', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'qwen2', { sharded: 3, tieWordEmbeddings: true, seed: 21 });
  assert.equal(ck.weights.lmHead, ck.weights.embed);
  assert.ok(new Set([ck.weights.embed.file, ck.weights.finalNorm.file, ck.weights.layers[1]!.down.file]).size > 1, 'tensors span shards');
  const model = await open(ck);
  try {
    const rows = tokenRows(1, 5, ck.config.vocabSize, 13);
    const r = await model.forward(Int32Array.from(rows.flat()), 1, 5, model.emptyCache(1), { logits: true });
    assert.ok(maxAbsDiff(r.head.logits!, referenceForward(ck, rows)) < 1e-4);
  } finally {
    await model.dispose();
  }
});

test('llada compiled as causal matches the causal reference; Dream (shifted logits) cannot be', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 31 });
  const model = await compileModel(ck, { cacheDir, threads: 1, kind: 'causal' });
  try {
    assert.equal(model.kind, 'causal');
    if (model.kind !== 'causal') return;
    const rows = tokenRows(1, 5, ck.config.vocabSize, 14);
    const r = await model.forward(Int32Array.from(rows.flat()), 1, 5, model.emptyCache(1), { logits: true });
    assert.ok(maxAbsDiff(r.head.logits!, referenceForward(ck, rows, { causal: true })) < 1e-4);
  } finally {
    await model.dispose();
  }
  const dream = tinyCheckpoint(tmp.dir, 'dream', { seed: 32 });
  await assert.rejects(compileModel(dream, { cacheDir, kind: 'causal' }), OptionError);
  const llama = tinyCheckpoint(tmp.dir, 'llama', { seed: 33 });
  await assert.rejects(compileModel(llama, { cacheDir, kind: 'bidirectional' }), OptionError);
});
