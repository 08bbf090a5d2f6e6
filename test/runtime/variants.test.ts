import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Checkpoint } from '../../src/model/checkpoint.js';
import { OnnxCausalModel } from '../../src/runtime/causal-model.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { compileGraph } from '../../src/runtime/compile.js';
import { OptionError } from '../../src/errors.js';
import type { KvCache } from '../../src/runtime/types.js';
import { maxAbsDiff, tempDir, tinyCheckpoint, tokenRows } from './helpers.js';

const tmp = tempDir('variants');
after(() => tmp.cleanup());
const cacheDir = `${tmp.dir}/cache`;

/** Head-free view of a cache: plain arrays per layer. */
function arrays(c: KvCache): Float32Array[] {
  return [...c.keys, ...c.values];
}

for (const arch of ['llama', 'qwen3'] as const) {
  describe(`${arch} causal graph variants`, () => {
    let ck: Checkpoint;
    let model: OnnxCausalModel;
    let V: number;
    before(async () => {
      ck = tinyCheckpoint(tmp.dir, arch);
      V = ck.config.vocabSize;
      const m = await compileModel(ck, { cacheDir, threads: 1 });
      assert.ok(m instanceof OnnxCausalModel);
      model = m;
    });
    after(() => model.dispose());

    test('inputs_embeds: embed(ids) fed as embeddings (and one-hot mixtures of them) equals the ids path', async () => {
      assert.ok(model.acceptsEmbeddings);
      const [row] = tokenRows(1, 7, V, 3) as [number[]];
      const ids = await model.forward(Int32Array.from(row.slice(0, 5)), 1, 5, model.emptyCache(1), { logits: true });
      const emb = await model.forwardEmbeddings(model.embed(row.slice(0, 5)), 1, 5, model.emptyCache(1), { logits: true });
      assert.ok(maxAbsDiff(emb.head.logits!, ids.head.logits!) < 1e-4);
      assert.deepEqual(Array.from(emb.head.topkIds), Array.from(ids.head.topkIds));
      // one-hot-equivalent superposition: weight 1 on the true token, 0 on two others
      const H = model.hiddenSize;
      const rows = model.embed([row[5]!, 9, 11]);
      const mix = new Float32Array(H);
      [1, 0, 0].forEach((w, d) => { for (let h = 0; h < H; h++) mix[h] = mix[h]! + w * rows[d * H + h]!; });
      const a = await model.forward(Int32Array.of(row[5]!), 1, 1, ids.cache, { logits: true });
      const b = await model.forwardEmbeddings(mix, 1, 1, emb.cache, { logits: true });
      assert.ok(maxAbsDiff(a.head.logits!, b.head.logits!) < 1e-4);
      for (const [x, y] of arrays(a.cache).map((t, i) => [t, arrays(b.cache)[i]!] as const)) assert.ok(maxAbsDiff(x, y) < 1e-4);
    });

    test('tree forward: each node sees its ancestors; the accepted path compacts into a fresh prefill cache', async () => {
      assert.ok(model.acceptsTree);
      const [row] = tokenRows(1, 10, V, 8) as [number[]];
      const prompt = row.slice(0, 4);
      const pre = await model.forward(Int32Array.from(prompt), 1, 4, model.emptyCache(1));
      const past = 4;
      // tree: root r (pending) → a → b, and r → c → d (two paths)
      const [r, a, b, c, d] = row.slice(4, 9) as [number, number, number, number, number];
      const tokens = Int32Array.of(r, a, b, c, d);
      const parent = [-1, 0, 1, 0, 3];
      const depth = [0, 1, 2, 1, 2];
      const n = tokens.length;
      const mask = new Uint8Array(n * n);
      for (let i = 0; i < n; i++) for (let j = i; j >= 0; j = parent[j]!) mask[i * n + j] = 1;
      const tree = await model.forwardTree(tokens, Int32Array.from(depth, (x) => past + x), mask, pre.cache, { logits: true });
      assert.equal(tree.cache.length, past + n);
      for (const path of [[0, 1, 2], [0, 3, 4]]) {
        const seq = path.map((j) => tokens[j]!);
        const lin = await model.forward(Int32Array.from(seq), 1, seq.length, pre.cache, { logits: true });
        path.forEach((j, i) => {
          const want = lin.head.logits!.subarray(i * V, (i + 1) * V);
          assert.ok(maxAbsDiff(tree.head.logits!.subarray(j * V, (j + 1) * V), want) < 1e-4, `node ${j}`);
          assert.equal(tree.head.topkIds[j * tree.head.k], lin.head.topkIds[i * lin.head.k]);
        });
        const compact = model.compactTree(tree.cache, past, path);
        const fresh = await model.forward(Int32Array.from([...prompt, ...seq]), 1, past + seq.length, model.emptyCache(1));
        assert.equal(compact.length, fresh.cache.length);
        arrays(compact).forEach((t, i) => assert.ok(maxAbsDiff(t, arrays(fresh.cache)[i]!) < 1e-5, `layer tensor ${i}`));
        // and decoding on from it matches
        const next = row[9]!;
        const x = await model.forward(Int32Array.of(next), 1, 1, compact, { logits: true });
        const y = await model.forward(Int32Array.of(next), 1, 1, fresh.cache, { logits: true });
        assert.ok(maxAbsDiff(x.head.logits!, y.head.logits!) < 1e-4);
        // the same compaction from a cache outside the worker (plain arrays)
        const plain: KvCache = { batch: 1, length: tree.cache.length, keys: tree.cache.keys.map((k) => Float32Array.from(k)), values: tree.cache.values.map((v) => Float32Array.from(v)) };
        arrays(model.compactTree(plain, past, path)).forEach((t, i) => assert.ok(maxAbsDiff(t, arrays(compact)[i]!) === 0));
      }
    });
  });
}

test('variant options are for causal graphs only', () => {
  const ck = tinyCheckpoint(tmp.dir, 'llada');
  assert.throws(() => compileGraph(ck.config, ck.weights, { kind: 'bidirectional', cacheDir, tree: true }), OptionError);
  assert.throws(() => compileGraph(ck.config, ck.weights, { kind: 'bidirectional', cacheDir, inputs: 'embeds' }), OptionError);
});
