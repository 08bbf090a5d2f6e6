/**
 * What the graph cache saves a load, and that it never trades correctness for it:
 * - the NaN/Inf scan is skipped only for weight files the cache entry saw pass, unchanged since;
 * - a moved or copied checkpoint hits the same compiled graph (the key is what the graph depends on);
 * - ORT's optimized model, cached next to the graph, gives the very same bits as optimizing anew;
 * - a load that fails leaves no session worker behind.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadModel } from '../../src/api.js';
import { CheckpointError } from '../../src/errors.js';
import { loadCheckpoint, writeCheckpoint } from '../../src/model/checkpoint.js';
import { readCanonicalTensors } from '../../src/model/weights.js';
import { OnnxBidirectionalModel } from '../../src/runtime/bidirectional-model.js';
import { OnnxCausalModel } from '../../src/runtime/causal-model.js';
import { compileGraph } from '../../src/runtime/compile.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { prewarmSessionWorker, discardSpareSessionWorker } from '../../src/runtime/session.js';
import { ARCHS, tempDir, tinyCheckpoint, TINY } from './helpers.js';

const tmp = tempDir('load-cache');
after(() => tmp.cleanup());

async function finiteOf(dir: string, cacheDir: string): Promise<{ finite: string; cached: boolean; key: string }> {
  const model = await loadModel(dir, { cacheDir, threads: 1 });
  try {
    const graph = (model.runtime as OnnxBidirectionalModel).graph;
    return { finite: graph.finite, cached: graph.cached, key: graph.key };
  } finally {
    await model.dispose();
  }
}

test('NaN/Inf scan: skipped on a cache hit for the same, unchanged files; a change or a copy scans again', async () => {
  const cacheDir = join(tmp.dir, 'scan-cache');
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 3 });
  const first = await finiteOf(ck.dir, cacheDir);
  assert.deepEqual([first.finite, first.cached], ['scanned', false]);
  const second = await finiteOf(ck.dir, cacheDir);
  assert.deepEqual([second.finite, second.cached], ['recorded', true], 'the entry recorded the scan of these files');

  // a copy elsewhere: the same graph (the key does not name paths), but files the entry never scanned
  const copy = join(tmp.dir, 'llada-copy');
  cpSync(ck.dir, copy, { recursive: true });
  const copied = await finiteOf(copy, cacheDir);
  assert.deepEqual([copied.finite, copied.cached, copied.key], ['scanned', true, first.key]);
  assert.equal((await finiteOf(copy, cacheDir)).finite, 'recorded');
  assert.equal((await finiteOf(ck.dir, cacheDir)).finite, 'recorded', 'both copies are recorded');

  // touched (same bytes, new mtime): scanned again
  const file = join(ck.dir, 'model.safetensors');
  const later = new Date(Date.now() + 5000);
  utimesSync(file, later, later);
  assert.equal((await finiteOf(ck.dir, cacheDir)).finite, 'scanned');

  // rewritten in place with a NaN (same size, same tensor table, so the same cache entry): rejected
  const values = readCanonicalTensors(ck.weights);
  values['layers.0.gate']![5] = NaN;
  writeCheckpoint(ck.dir, 'llada', { ...TINY }, values);
  await assert.rejects(loadModel(ck.dir, { cacheDir, threads: 1 }), (e: Error) => e instanceof CheckpointError && /NaN or Inf/.test(e.message) && /up_proj|gate|ff_proj/.test(e.message));
  // and checkFinite: false still loads it (no scan at all)
  const unchecked = await loadModel(ck.dir, { cacheDir, threads: 1, checkFinite: false });
  assert.equal((unchecked.runtime as OnnxBidirectionalModel).graph.finite, 'unchecked');
  await unchecked.dispose();
});

test('NaN/Inf scan: a checkpoint with a NaN is rejected on its first load, cache or not', async () => {
  const cacheDir = join(tmp.dir, 'nan-cache');
  const good = tinyCheckpoint(tmp.dir, 'llama', { seed: 4 });
  await finiteOf(good.dir, cacheDir); // the entry exists and records the good files
  const bad = join(tmp.dir, 'llama-nan');
  const values = readCanonicalTensors(good.weights);
  values['embed']![9] = Infinity;
  writeCheckpoint(bad, 'llama', { ...TINY }, values);
  cpSync(join(good.dir, 'tokenizer.json'), join(bad, 'tokenizer.json'));
  cpSync(join(good.dir, 'tokenizer_config.json'), join(bad, 'tokenizer_config.json'));
  for (const load of [() => loadModel(bad, { cacheDir, threads: 1 }), () => compileModel(bad, { cacheDir, threads: 1 })]) {
    await assert.rejects(load(), (e: Error) => e instanceof CheckpointError && /'model\.embed_tokens\.weight'.*NaN or Inf/.test(e.message));
  }
  // compileGraph on its own only scans when asked
  const ck = loadCheckpoint(bad, { checkFinite: false });
  assert.equal(compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir }).finite, 'unchecked');
  assert.throws(() => compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir, checkFinite: true }), CheckpointError);
  // a bad option with a NaN checkpoint: the NaN is reported, as when loadCheckpoint scanned first
  await assert.rejects(loadModel(bad, { cacheDir, threads: 1, kind: 'window' }), CheckpointError);
});

test('a failed load leaves no session worker waiting', async () => {
  const broken = join(tmp.dir, 'broken');
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 5 });
  cpSync(ck.dir, broken, { recursive: true });
  // the tensors of a 1-layer model under the 2-layer config: layer 1's weights are missing
  const oneLayer = join(tmp.dir, 'one-layer');
  writeCheckpoint(oneLayer, 'llada', { ...TINY, numLayers: 1 }, { seed: 1 });
  cpSync(join(oneLayer, 'model.safetensors'), join(broken, 'model.safetensors'));
  await assert.rejects(loadModel(broken, { cacheDir: join(tmp.dir, 'broken-cache'), threads: 1 }), CheckpointError);
  // the worker loadModel started was ended: a new prewarm has to start one
  assert.equal(prewarmSessionWorker(), true);
  assert.equal(prewarmSessionWorker(), false, 'one waits now');
  discardSpareSessionWorker();
});

test('warm-up: big models run two forwards at load (asked for here), tiny ones none by default', async () => {
  const cacheDir = join(tmp.dir, 'warm-cache');
  for (const arch of ['llada', 'llama'] as const) {
    const ck = tinyCheckpoint(tmp.dir, arch, { seed: 8 });
    const cold = await loadModel(ck.dir, { cacheDir, threads: 1 });
    const warm = await loadModel(ck.dir, { cacheDir, threads: 1, warmUp: true });
    try {
      const timing = (m: typeof cold) => (m.runtime as OnnxBidirectionalModel | OnnxCausalModel).lastTiming.wallMs;
      assert.equal(timing(cold), 0, `${arch}: a tiny model is not warmed up by default`);
      assert.ok(timing(warm) > 0, `${arch}: warmUp ran forwards at load`);
    } finally {
      await cold.dispose();
      await warm.dispose();
    }
  }
});

for (const arch of ARCHS) {
  test(`${arch}: the cached optimized model gives exactly the outputs of optimizing anew`, async () => {
    const cacheDir = join(tmp.dir, `opt-${arch}`);
    const ck = tinyCheckpoint(tmp.dir, arch, { seed: 6, dtype: arch === 'qwen2' ? 'F16' : arch === 'dream' ? 'BF16' : 'F32' });
    const outputs: Float32Array[] = [];
    let firstWrite = 0;
    for (let i = 0; i < 2; i++) {
      const model = await compileModel(ck, { cacheDir, threads: 1 });
      try {
        const optimized = model.graph!.optimizedModel!;
        assert.ok(optimized, 'a small checkpoint gets an optimized-model cache');
        const saved = readdirSync(dirname(optimized)).filter((f) => f.startsWith('optimized-') && f.endsWith('.onnx'));
        assert.equal(saved.length, 1, i === 0 ? 'written by the first session' : 'reused by the second');
        const written = statSync(join(dirname(optimized), saved[0]!)).mtimeMs;
        if (i === 0) firstWrite = written;
        else assert.equal(written, firstWrite, 'the second session loaded it, not optimized and wrote it again');
        const tokens = Int32Array.from({ length: 6 }, (_, j) => (j * 5 + 3) % TINY.vocabSize);
        if (model instanceof OnnxCausalModel) {
          const r = await model.forward(tokens, 1, 6, model.emptyCache(1), { logits: true });
          outputs.push(r.head.logits!);
        } else {
          const r = await model.forward(tokens, 1, 6, { logits: true });
          outputs.push(r.logits!);
        }
      } finally {
        await model.dispose();
      }
    }
    assert.ok(existsSync(join(ck.dir, 'model.safetensors')));
    assert.deepEqual(new Uint32Array(outputs[1]!.buffer, outputs[1]!.byteOffset, outputs[1]!.length), new Uint32Array(outputs[0]!.buffer, outputs[0]!.byteOffset, outputs[0]!.length));
  });
}
