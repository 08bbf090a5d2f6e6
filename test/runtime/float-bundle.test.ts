/**
 * Large F16/BF16 checkpoints load from a float32 copy converted once into the cache
 * (runtime/float-bundle.ts). What must hold: the outputs are those of the same weights stored
 * F32 (and of casting in ORT), bit for bit; every graph of the model points into one bundle;
 * progress is reported in checkpoint bytes; a deleted bundle is rebuilt for a cached graph; an
 * edited checkpoint's old bundle is removed when the new one is built. The size threshold is
 * forced (`float32Bundle: true`) so that tiny checkpoints exercise it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, writeCheckpoint } from '../../src/model/checkpoint.js';
import type { Architecture } from '../../src/model/types.js';
import { readCanonicalTensors } from '../../src/model/weights.js';
import type { OnnxBidirectionalModel } from '../../src/runtime/bidirectional-model.js';
import type { OnnxCausalModel } from '../../src/runtime/causal-model.js';
import { compileGraph, type CompileProgress } from '../../src/runtime/compile.js';
import { compileModel, type CompileOptions } from '../../src/runtime/compile-model.js';
import { decodeModelInterface, onnxType } from '../../src/runtime/onnx-proto.js';
import { tempDir, tinyCheckpoint, tokenRows, TINY } from './helpers.js';

const tmp = tempDir('float-bundle');
after(() => tmp.cleanup());

/** Full logits of one forward over fixed rows. */
async function logitsOf(dir: string, options: CompileOptions): Promise<{ logits: Float32Array; externalDataDir: string; modelPath: string }> {
  const model = await compileModel(dir, { threads: 1, ...options });
  try {
    const rows = tokenRows(2, 6, TINY.vocabSize, 3).flat();
    const tokens = Int32Array.from(rows);
    const logits = model.kind === 'bidirectional'
      ? (await (model as OnnxBidirectionalModel).forward(tokens, 2, 6, { logits: true })).logits!
      : (await (model as OnnxCausalModel).forward(tokens, 2, 6, (model as OnnxCausalModel).emptyCache(2), { logits: true })).head.logits!;
    const graph = model.graph!; // compiled here, so always known
    return { logits: Float32Array.from(logits), externalDataDir: graph.externalDataDir, modelPath: graph.modelPath };
  } finally {
    await model.dispose();
  }
}

/**
 * A compiled graph's weights: their dtypes and files, and how many Cast or Concat nodes take
 * one (work ORT's constant folding does at every load, holding both copies).
 */
function graphWeights(modelPath: string): { types: Set<number>; locations: Set<string>; folds: number } {
  const type = onnxType('ModelProto');
  const model = type.toObject(type.decode(readFileSync(modelPath)), { longs: Number }) as {
    graph: { node: { opType: string; input?: string[] }[]; initializer: { name: string; dataType: number; externalData?: { key: string; value: string }[] }[] };
  };
  const external = model.graph.initializer.filter((i) => i.externalData);
  const names = new Set(external.map((i) => i.name));
  const locations = new Set<string>();
  for (const i of external) for (const kv of i.externalData!) if (kv.key === 'location') locations.add(kv.value);
  const folds = model.graph.node.filter((n) => (n.opType === 'Cast' || n.opType === 'Concat') && (n.input ?? []).some((x) => names.has(x))).length;
  return { types: new Set(external.map((i) => i.dataType)), locations, folds };
}

for (const [arch, dtype] of [['llada', 'BF16'], ['qwen2', 'F16']] as [Architecture, 'BF16' | 'F16'][]) {
  test(`${arch} ${dtype}: outputs through the float32 bundle equal the same weights stored F32, and ORT's cast`, async () => {
    const ck = tinyCheckpoint(tmp.dir, arch, { dtype, seed: 5 });
    // the same values (the checkpoint's, widened exactly) written as F32
    const f32Dir = join(tmp.dir, `${arch}-as-f32`);
    writeCheckpoint(f32Dir, arch, { ...TINY }, readCanonicalTensors(ck.weights));
    const cacheDir = join(tmp.dir, `cache-${arch}`);
    const events: [string, number, number][] = [];
    const onProgress: CompileProgress = (phase, done, total) => events.push([phase, done, total]);
    const bundled = await logitsOf(ck.dir, { cacheDir, float32Bundle: true, onProgress });
    const cast = await logitsOf(ck.dir, { cacheDir, float32Bundle: false });
    const f32 = await logitsOf(f32Dir, { cacheDir });
    assert.deepEqual(bundled.logits, f32.logits, 'bundle vs F32 checkpoint: bit for bit');
    assert.deepEqual(cast.logits, f32.logits, 'cast in ORT vs F32 checkpoint: bit for bit');

    // the bundled graph: fp32 initializers only, all in the bundle, no Cast or Concat folding left to ORT
    assert.match(bundled.externalDataDir, /\/weights\/[0-9a-f]{32}$/);
    assert.ok(existsSync(join(bundled.externalDataDir, 'weights-f32.bin')));
    const mine = graphWeights(bundled.modelPath);
    assert.deepEqual([...mine.types], [1], 'float32 only');
    assert.deepEqual([...mine.locations], ['weights-f32.bin']);
    assert.equal(mine.folds, 0, 'no Cast or Concat of weights');
    const theirs = graphWeights(cast.modelPath);
    assert.deepEqual([...theirs.types], [dtype === 'BF16' ? 16 : 10], 'the other graph points into the checkpoint');
    assert.deepEqual([...theirs.locations], ['model.safetensors']);
    assert.ok(theirs.folds > 2 * TINY.numLayers, `${theirs.folds} Cast/Concat of weights for ORT to fold`);
    assert.deepEqual(decodeModelInterface(readFileSync(bundled.modelPath)).outputs, decodeModelInterface(readFileSync(cast.modelPath)).outputs);

    // progress: the scan, the conversion and the session, each reaching its checkpoint-byte total
    const bytes = [...new Set([ck.weights.embed, ck.weights.finalNorm, ck.weights.lmHead, ...ck.weights.layers.flatMap((l) => Object.values(l))])].reduce((n, e) => n + e.byteLength, 0);
    for (const phase of ['scan', 'weights', 'session']) {
      const mine = events.filter((e) => e[0] === phase);
      assert.ok(mine.length > 0, `${phase} reported`);
      assert.ok(mine.every((e, i) => e[2] === bytes && (i === 0 || e[1] >= mine[i - 1]![1])), `${phase}: ${JSON.stringify(mine)}`);
      assert.equal(mine[mine.length - 1]![1], bytes, `${phase} ends at the total`);
    }
    assert.deepEqual([...new Set(events.map((e) => e[0]))], ['scan', 'weights', 'session'], 'in this order');
  });
}

test('one bundle serves every graph kind; a deleted one is rebuilt for a cached graph; an edited checkpoint replaces it', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'llada', { dtype: 'BF16', seed: 9 });
  const cacheDir = join(tmp.dir, 'cache-kinds');
  const main = compileGraph(ck.config, ck.weights, { kind: 'bidirectional', cacheDir, float32Bundle: true });
  const window = compileGraph(ck.config, ck.weights, { kind: 'window', cacheDir, float32Bundle: true });
  assert.notEqual(main.key, window.key);
  assert.equal(main.externalDataDir, window.externalDataDir, 'both graphs point into one bundle');
  assert.deepEqual(readdirSync(join(cacheDir, 'weights')), [main.externalDataDir.split('/').pop()]);
  // without the bundle the graph is the one pointing into the checkpoint, under its usual key
  const plain = compileGraph(ck.config, ck.weights, { kind: 'bidirectional', cacheDir, float32Bundle: false });
  assert.notEqual(plain.key, main.key);
  assert.equal(plain.externalDataDir, ck.dir);

  // deleted: the cached graph rebuilds it, byte for byte (same offsets), and still runs
  const before = readFileSync(join(main.externalDataDir, 'weights-f32.bin'));
  rmSync(join(cacheDir, 'weights'), { recursive: true });
  let converted = 0;
  const again = compileGraph(ck.config, ck.weights, { kind: 'bidirectional', cacheDir, float32Bundle: true, onProgress: (p) => { if (p === 'weights') converted++; } });
  assert.equal(again.cached, true);
  assert.ok(converted > 0, 'converted again');
  assert.deepEqual(readFileSync(join(again.externalDataDir, 'weights-f32.bin')), before);
  const reference = await logitsOf(ck.dir, { cacheDir, float32Bundle: false });
  assert.deepEqual((await logitsOf(ck.dir, { cacheDir, float32Bundle: true })).logits, reference.logits);

  // touched (a new mtime: the bytes may have changed): a new bundle, and the old one is gone
  const later = new Date(Date.now() + 5000);
  utimesSync(join(ck.dir, 'model.safetensors'), later, later);
  const edited = compileGraph(ck.config, loadCheckpoint(ck.dir).weights, { kind: 'bidirectional', cacheDir, float32Bundle: true });
  assert.notEqual(edited.externalDataDir, main.externalDataDir);
  assert.deepEqual(readdirSync(join(cacheDir, 'weights')), [edited.externalDataDir.split('/').pop()]);
});
