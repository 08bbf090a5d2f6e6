import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceForward } from '../../src/model/reference.js';
import { readCanonicalTensors } from '../../src/model/weights.js';
import { loadCheckpoint, writeCheckpoint } from '../../src/model/checkpoint.js';
import { RuntimeFailure, OptionError } from '../../src/errors.js';
import { appendDecodeHead, compileGraph, GRAPH_OPSETS } from '../../src/runtime/compile.js';
import { Graph } from '../../src/runtime/graph.js';
import { decodeModelInterface, DataType } from '../../src/runtime/onnx-proto.js';
import { OnnxBidirectionalModel } from '../../src/runtime/bidirectional-model.js';
import { OnnxCausalModel } from '../../src/runtime/causal-model.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { loadOnnxCausalModel } from '../../src/runtime/onnx-export.js';
import { dequantizeInt4, quantizeInt4 } from '../../src/runtime/quantize.js';
import { OrtSession } from '../../src/runtime/session.js';
import { jsHead, maxAbsDiff, sliceLogits, tempDir, tinyCheckpoint, tokenRows, TINY } from './helpers.js';

const tmp = tempDir('runtime');
after(() => tmp.cleanup());
const cacheDir = join(tmp.dir, 'cache');

test('graph builder: serialized interface round-trips (names, types, symbolic dims, opsets)', () => {
  const g = new Graph('t');
  const x = g.input('x', 'float32', ['batch', 3]);
  g.output(g.add(x, g.scalar(1)), 'y', 'float32', ['batch', 3]);
  const iface = decodeModelInterface(g.serialize(GRAPH_OPSETS));
  assert.deepEqual(iface.inputs, [{ name: 'x', elemType: DataType.FLOAT, dims: ['batch', 3] }]);
  assert.deepEqual(iface.outputs, [{ name: 'y', elemType: DataType.FLOAT, dims: ['batch', 3] }]);
  assert.deepEqual(iface.opsets, [{ domain: '', version: 23 }, { domain: 'com.microsoft', version: 1 }]);
  assert.equal(g.nodes.length, 1, 'the Add producing y was renamed, no Identity');
  assert.throws(() => g.node('Foo', [x], { alpha: 0.5 }), /not an integer/);
});

for (const opset of [23, 12]) test(`decode head (opset ${opset}) is exact and stable for huge logits`, async () => {
  const g = new Graph('head');
  const logits = g.input('logits', 'float32', ['batch_size', 'sequence_length', 6]);
  appendDecodeHead(g, logits, 3, { opset });
  const session = await OrtSession.open(g.serialize({ '': opset }), { name: 'head test', threads: 1 });
  try {
    const rows = [
      [1000, 999, -1000, 3, 998.5, 0],
      [-5000, -5001, -5002, -5003, -5004, -5005.5],
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
      [1e4, 0, 0, 0, 0, 0],
    ];
    const data = Float32Array.from(rows.flat());
    const { outputs } = await session.run({ logits: { type: 'float32', data, dims: [2, 2, 6] } }, ['topk_ids', 'topk_probs', 'entropy'], { int32Outputs: ['topk_ids'] });
    const js = jsHead(data, 4, 6, 3);
    assert.deepEqual(Array.from(outputs['topk_ids']!.data as Int32Array), js.ids);
    assert.deepEqual(outputs['topk_ids']!.dims, [2, 2, 3]);
    assert.ok(maxAbsDiff(outputs['topk_probs']!.data as Float32Array, js.probs) < 1e-6);
    assert.ok(maxAbsDiff(outputs['entropy']!.data as Float32Array, js.entropy) < 1e-5);
    assert.ok([...(outputs['entropy']!.data as Float32Array)].every(Number.isFinite));
    assert.deepEqual(outputs['entropy']!.dims, [2, 2]);
  } finally {
    await session.dispose();
  }
});

test('int4 quantization: MatMulNBits layout round-trips within half a step per block', () => {
  const K = 40; // not a multiple of the block: the tail block is zero-padded
  const N = 3;
  const w = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
  const q = quantizeInt4(w, N, K, 32);
  assert.equal(q.blocksPerRow, 2);
  assert.equal(q.packed.length, N * 2 * 16);
  const back = dequantizeInt4(q);
  for (let r = 0; r < N; r++) {
    for (let b = 0; b < 2; b++) {
      const step = Math.abs(q.scales[r * 2 + b]!);
      for (let c = b * 32; c < Math.min(K, b * 32 + 32); c++) {
        assert.ok(Math.abs(back[r * K + c]! - w[r * K + c]!) <= step / 2 + 1e-6, `row ${r} col ${c}`);
      }
    }
  }
});

test('compiled graphs are cached by checkpoint and options', () => {
  const ck = tinyCheckpoint(tmp.dir, 'llama', { seed: 41 });
  const a = compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir });
  const b = compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir });
  const c = compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir, topK: 4 });
  assert.equal(a.cached, false);
  assert.equal(b.cached, true);
  assert.equal(b.modelPath, a.modelPath);
  assert.notEqual(c.key, a.key);
  assert.equal(c.topK, 4);
  assert.equal(a.externalDataDir, ck.dir, 'fp32 graphs read weights straight from the checkpoint');
  assert.ok(readFileSync(a.modelPath).byteLength < 64 * 1024, 'no weights inside the .onnx');
  assert.throws(() => compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir, topK: 0 }), OptionError);
  const prev = process.env['PARADEC_CACHE'];
  process.env['PARADEC_CACHE'] = join(tmp.dir, 'env-cache');
  try {
    assert.ok(compileGraph(ck.config, ck.weights, { kind: 'causal' }).modelPath.startsWith(join(tmp.dir, 'env-cache')));
  } finally {
    if (prev === undefined) delete process.env['PARADEC_CACHE'];
    else process.env['PARADEC_CACHE'] = prev;
  }
});

test('topK option and the clamp to the vocabulary', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 42, vocabSize: 12 });
  const model = await compileModel(ck, { cacheDir, threads: 1, topK: 50 });
  try {
    assert.ok(model instanceof OnnxBidirectionalModel);
    const head = await model.forward(Int32Array.from([4, 5, 6]), 1, 3);
    assert.equal(head.k, 12);
    assert.equal(head.topkIds.length, 36);
    assert.ok(Math.abs(head.topkProbs.subarray(0, 12).reduce((s, p) => s + p, 0) - 1) < 1e-5, 'all of the vocabulary sums to 1');
  } finally {
    await model.dispose();
  }
});

test('int4 weights: the graph computes with exactly the dequantized weights (up to int8 activations)', async () => {
  // intermediate 80: the down projection's K is not a multiple of the block (zero-padded tail)
  const ck = tinyCheckpoint(tmp.dir, 'qwen2', { seed: 43, hiddenSize: 64, intermediateSize: 80 });
  // the same checkpoint with every layer linear replaced by its int4 round trip
  const tensors = readCanonicalTensors(ck.weights);
  for (const [name, t] of Object.entries(tensors)) {
    if (!/^layers\.\d+\.(q|k|v|o|gate|up|down)$/.test(name)) continue;
    const entry = name.split('.');
    const shape = (ck.weights.layers[Number(entry[1])]! as unknown as Record<string, { shape: number[] }>)[entry[2]!]!.shape;
    tensors[name] = dequantizeInt4(quantizeInt4(t, shape[0]!, shape[1]!, 32));
  }
  const dqDir = join(tmp.dir, 'qwen2-dequantized');
  writeCheckpoint(dqDir, 'qwen2', { ...TINY, hiddenSize: 64, intermediateSize: 80 }, tensors);
  const dq = loadCheckpoint(dqDir);

  const model = await compileModel(ck, { cacheDir, threads: 1, quantize: 'int4' });
  try {
    assert.ok(model instanceof OnnxCausalModel);
    assert.equal(model.graph?.quantize, 'int4');
    const rows = tokenRows(2, 6, ck.config.vocabSize, 44);
    const r = await model.forward(Int32Array.from(rows.flat()), 2, 6, model.emptyCache(2), { logits: true });
    const want = referenceForward(dq, rows);
    const scale = Math.max(...want.map(Math.abs));
    const diff = maxAbsDiff(r.head.logits!, want);
    assert.ok(diff < 0.02 * scale, `int4 logits differ from the dequantized reference by ${diff} (logit scale ${scale})`);
    const original = referenceForward(ck, rows);
    assert.ok(maxAbsDiff(r.head.logits!, original) < 0.25 * scale, 'and stay close to the unquantized model');
  } finally {
    await model.dispose();
  }
});

test('an ONNX Runtime failure is a RuntimeFailure naming the session and the input', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 45 });
  const graph = compileGraph(ck.config, ck.weights, { kind: 'bidirectional', cacheDir });
  const session = await OrtSession.open(graph.modelPath, { name: 'tiny llada', externalDataDir: graph.externalDataDir, threads: 1 });
  try {
    const ids = { type: 'int64' as const, data: new BigInt64Array(6).fill(5n), dims: [1, 2, 3] };
    await assert.rejects(
      session.run({ input_ids: ids, attention_mask: { type: 'int64', data: new BigInt64Array(6).fill(1n), dims: [1, 6] } }, ['entropy']),
      (e: unknown) => e instanceof RuntimeFailure && /tiny llada/.test(e.message) && /input_ids/.test(e.message),
    );
    await assert.rejects(
      session.run({ input_ids: { type: 'int64', data: new BigInt64Array(2).fill(5n), dims: [1, 2] } }, ['entropy']),
      (e: unknown) => e instanceof RuntimeFailure && /attention_mask/.test(e.message),
    );
    // the session still works after failures
    const ok = await session.run(
      { input_ids: { type: 'int64', data: new BigInt64Array(2).fill(5n), dims: [1, 2] }, attention_mask: { type: 'int64', data: new BigInt64Array(2).fill(1n), dims: [1, 2] } },
      ['entropy'],
    );
    assert.equal(ok.outputs['entropy']!.data.length, 2);
  } finally {
    await session.dispose();
  }
  await assert.rejects(session.run({}, ['entropy']), (e: unknown) => e instanceof RuntimeFailure && /disposed/.test(e.message));
  await session.dispose(); // idempotent
  await assert.rejects(OrtSession.open(Uint8Array.of(1, 2, 3), { name: 'garbage model' }), (e: unknown) => e instanceof RuntimeFailure && /garbage model/.test(e.message));
});

test('an existing transformers.js-layout export loads as a CausalModel with the head appended', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'qwen3', { seed: 46 });
  // a plain export: same I/O names, no head, weights next to the model in onnx/
  const plain = compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir, head: false });
  const exportDir = join(tmp.dir, 'export');
  mkdirSync(join(exportDir, 'onnx'), { recursive: true });
  copyFileSync(plain.modelPath, join(exportDir, 'onnx', 'model.onnx'));
  copyFileSync(join(ck.dir, 'model.safetensors'), join(exportDir, 'onnx', 'model.safetensors'));
  writeFileSync(join(exportDir, 'config.json'), readFileSync(join(ck.dir, 'config.json')));
  const iface = decodeModelInterface(readFileSync(join(exportDir, 'onnx', 'model.onnx')));
  assert.ok(!iface.outputs.some((o) => o.name === 'topk_ids'));

  const model = await loadOnnxCausalModel(exportDir, { threads: 1, topK: 5 });
  try {
    assert.equal(model.numLayers, ck.config.numLayers);
    assert.equal(model.numKvHeads, ck.config.numKvHeads);
    assert.equal(model.headDim, ck.config.headDim);
    assert.equal(model.vocabSize, ck.config.vocabSize);
    assert.deepEqual(model.eosTokenIds, ck.config.eosTokenIds);
    const V = ck.config.vocabSize;
    const rows = tokenRows(2, 6, V, 47);
    const ref = referenceForward(ck, rows);
    const a = await model.forward(Int32Array.from(rows.flatMap((r) => r.slice(0, 4))), 2, 4, model.emptyCache(2));
    const b = await model.forward(Int32Array.from(rows.flatMap((r) => r.slice(4))), 2, 2, a.cache, { logits: true });
    const want = sliceLogits(ref, 2, 6, V, 4, 6);
    assert.ok(maxAbsDiff(b.head.logits!, want) < 1e-4);
    const js = jsHead(want, 4, V, 5);
    assert.equal(b.head.k, 5);
    assert.deepEqual(Array.from(b.head.topkIds), js.ids);
    assert.ok(maxAbsDiff(b.head.entropy, js.entropy) < 1e-4);
  } finally {
    await model.dispose();
  }
});

const script = (body: string): string => `
import { compileModel } from ${JSON.stringify(new URL('../../src/runtime/compile-model.ts', import.meta.url).href)};
const model = await compileModel(${JSON.stringify('CKPT')}, { cacheDir: ${JSON.stringify(cacheDir)}, threads: 1 });
const head = await model.forward(Int32Array.from([4, 5, 6]), 1, 3);
if (head.entropy.length !== 3) process.exit(3);
${body}
console.log('done');
`;

test('the worker never keeps the process alive: with dispose, and even without', () => {
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 48 });
  for (const body of ['await model.dispose();', '/* forgot to dispose */']) {
    const file = join(tmp.dir, `exit-${body.length}.mts`);
    writeFileSync(file, script(body).replace('"CKPT"', JSON.stringify(ck.dir)));
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    assert.equal(r.signal, null, `process hung (${body}): ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /done/);
  }
});

test('the first session of a process: this thread starts ONNX Runtime while the worker starts, and the worker computes as without it', () => {
  // OrtSession.open leaves ORT's process-wide start to the main thread when no thread has made it
  // (ort-start.ts): the worker's session then relies on the environment another thread created.
  // A fresh process, so that its first session is the one that takes this path; the second
  // model's worker starts nothing (ORT is started), and must compute the very same bits.
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 49 });
  const tokens = [4, 5, 6, 7, 3];
  const file = join(tmp.dir, 'first-session.mts');
  writeFileSync(file, `
import { createRequire } from 'node:module';
import { compileModel } from ${JSON.stringify(new URL('../../src/runtime/compile-model.ts', import.meta.url).href)};
const ortOnMain = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('onnxruntime-node'));
const before = ortOnMain();
const logits = [];
for (let i = 0; i < 2; i++) {
  const model = await compileModel(${JSON.stringify(ck.dir)}, { cacheDir: ${JSON.stringify(cacheDir)}, threads: 1 });
  const r = await model.forward(Int32Array.from(${JSON.stringify(tokens)}), 1, ${tokens.length}, { logits: true });
  logits.push(Array.from(new Uint32Array(r.logits.buffer, r.logits.byteOffset, r.logits.length)));
  await model.dispose();
}
console.log(JSON.stringify({ before, after: ortOnMain(), logits }));
`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 60_000, cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  assert.equal(r.signal, null, `process hung: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { before: boolean; after: boolean; logits: number[][] };
  assert.deepEqual([out.before, out.after], [false, true], 'onnxruntime-node is loaded on the main thread by the first session, not by the import');
  assert.deepEqual(out.logits[1], out.logits[0], 'the same bits from the session opened after ORT was started by the main thread and from the next one');
  const want = referenceForward(ck, [tokens]);
  const got = new Float32Array(Uint32Array.from(out.logits[0]!).buffer);
  assert.ok(maxAbsDiff(got, want) < 1e-4, 'and they are the model\'s logits');
});
