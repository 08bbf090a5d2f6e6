import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceForward } from '../../src/model/reference.js';
import { readCanonicalTensors } from '../../src/model/weights.js';
import { loadCheckpoint, writeCheckpoint, type Checkpoint, type RandomCheckpointOptions } from '../../src/model/checkpoint.js';
import { RuntimeFailure, OptionError } from '../../src/errors.js';
import { appendDecodeHead, compileGraph, GRAPH_OPSETS } from '../../src/runtime/compile.js';
import { Graph } from '../../src/runtime/graph.js';
import { decodeModelInterface, onnxType, DataType, type ModelMessage } from '../../src/runtime/onnx-proto.js';
import { OnnxBidirectionalModel } from '../../src/runtime/bidirectional-model.js';
import { OnnxCausalModel } from '../../src/runtime/causal-model.js';
import { compileModel } from '../../src/runtime/compile-model.js';
import { loadOnnxCausalModel } from '../../src/runtime/onnx-export.js';
import { dequantizeBlocks, dequantizeInt4, quantizeBlocks, quantizeInt4, type QuantBits } from '../../src/runtime/quantize.js';
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

for (const bits of [4, 8] as const) test(`int${bits} quantization: MatMulNBits layout round-trips within half a step per block`, () => {
  const K = 40; // not a multiple of the block: the tail block is zero-padded
  const N = 3;
  const w = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
  const q = bits === 4 ? quantizeInt4(w, N, K, 32) : quantizeBlocks(w, N, K, 8, 32);
  assert.equal(q.blocksPerRow, 2);
  assert.equal(q.packed.length, N * 2 * (32 * bits) / 8);
  const back = bits === 4 ? dequantizeInt4(q) : dequantizeBlocks(q);
  for (let r = 0; r < N; r++) {
    for (let b = 0; b < 2; b++) {
      const step = Math.abs(q.scales[r * 2 + b]!);
      let blockMax = 0;
      for (let c = b * 32; c < Math.min(K, b * 32 + 32); c++) {
        blockMax = Math.max(blockMax, Math.abs(w[r * K + c]!));
        assert.ok(Math.abs(back[r * K + c]! - w[r * K + c]!) <= step / 2 + 1e-6, `row ${r} col ${c}`);
      }
      // the step: the block's largest magnitude over 8 (int4, ORT's convention) or 127 (int8)
      assert.ok(Math.abs(step - blockMax / (bits === 4 ? 8 : 127)) < 1e-5 * blockMax, `row ${r} block ${b}: step ${step}`);
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

test('cache keys: one entry per dtype; fp32 keys as before quantized graphs had their own version', () => {
  const ck = tinyCheckpoint(tmp.dir, 'qwen2', { seed: 47 });
  const keys = (['none', 'int8', 'int4'] as const).map((quantize) => compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir, quantize }));
  assert.equal(new Set(keys.map((k) => k.key)).size, 3);
  assert.deepEqual(keys.map((k) => k.quantize), ['none', 'int8', 'int4']);
  assert.equal(keys[0]!.externalDataDir, ck.dir);
  for (const k of keys.slice(1)) assert.notEqual(k.externalDataDir, ck.dir, 'quantized weights live in the entry');
  // the built-in models' fp32 keys, as computed before int8 existed (COMPILER_VERSION 3): an existing
  // cache keeps its fp32 entries. If COMPILER_VERSION is bumped on purpose, update these.
  const golden: [string, 'bidirectional' | 'window' | 'causal', string][] = [
    ['tiny-dlm', 'bidirectional', '40461351ebd6790f50092de4117fdbcd'],
    ['tiny-dlm', 'window', '76373e9d85ba59b0e2d1eb559d77a534'],
    ['tiny-ar', 'causal', '39070fe5806c48fc1724cc37efa2a2ce'],
  ];
  for (const [name, kind, key] of golden) {
    const { config, weights } = loadCheckpoint(join('models', name), { checkFinite: false });
    const fp32 = compileGraph(config, weights, { kind, cacheDir });
    assert.equal(fp32.key, key, `${name} ${kind}: the fp32 graph cache key changed, so every existing fp32 cache entry compiles again`);
    assert.equal(compileGraph(config, weights, { kind, cacheDir, quantize: 'none' }).key, key);
  }
});

test('compileModel: dtype picks the graphs\' quantization; dtype and quantize must agree', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 48 });
  const model = await compileModel(ck, { cacheDir, threads: 1, dtype: 'int8' });
  try {
    assert.ok(model instanceof OnnxBidirectionalModel);
    assert.equal(model.graph.quantize, 'int8');
  } finally {
    await model.dispose();
  }
  await assert.rejects(compileModel(ck, { cacheDir, dtype: 'int8', quantize: 'int4' }), (e: unknown) => e instanceof OptionError && /dtype 'int8' and quantize 'int4' disagree/.test(e.message));
  await assert.rejects(compileModel(ck, { cacheDir, dtype: 'fp16' as 'fp32' }), (e: unknown) => e instanceof OptionError && /dtype must be one of fp32, int8, int4/.test(e.message));
  assert.throws(() => compileGraph(ck.config, ck.weights, { kind: 'bidirectional', cacheDir, quantize: 'int2' as 'int4' }), /quantize must be one of 'none', 'int8', 'int4'/);
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

/**
 * The same checkpoint with every linear, the embedding and the output head replaced by their
 * round trip through `bits`-bit block quantization: what a quantized graph should compute.
 */
function dequantizedCopy(ck: Checkpoint, bits: QuantBits, dims: Partial<RandomCheckpointOptions>, dir: string): Checkpoint {
  const tensors = readCanonicalTensors(ck.weights);
  for (const [name, t] of Object.entries(tensors)) {
    if (!/^(layers\.\d+\.(q|k|v|o|gate|up|down)|embed|lmHead)$/.test(name)) continue;
    const [n, k] = name === 'embed' || name === 'lmHead' ? [ck.config.vocabSize, ck.config.hiddenSize] : (() => {
      const [, layer, field] = name.split('.');
      return (ck.weights.layers[Number(layer)]! as unknown as Record<string, { shape: number[] }>)[field!]!.shape as [number, number];
    })();
    tensors[name] = dequantizeBlocks(quantizeBlocks(t, n, k, bits, 32));
  }
  writeCheckpoint(dir, ck.config.architecture, { ...TINY, ...dims }, tensors);
  return loadCheckpoint(dir);
}

// hidden 80 and intermediate 80: the embedding's rows and the o/down projections' K are not
// multiples of the block (zero-padded tails); qwen2 tied (the head reuses the embedding's codes), llama not
for (const [arch, tied] of [['qwen2', true], ['llama', false]] as const) {
  for (const dtype of ['int8', 'int4'] as const) {
    test(`${dtype} weights (${arch}, ${tied ? 'tied' : 'untied'} head): the graph computes with exactly the dequantized weights, up to int8 activations`, async () => {
      const dims = { hiddenSize: 80, numHeads: 4, numKvHeads: 2, intermediateSize: 80, tieWordEmbeddings: tied };
      const ck = tinyCheckpoint(tmp.dir, arch, { seed: 43, ...dims });
      const dq = dequantizedCopy(ck, dtype === 'int8' ? 8 : 4, dims, join(tmp.dir, `${arch}-${dtype}-dequantized`));
      const model = await compileModel(ck, { cacheDir, threads: 1, quantize: dtype });
      try {
        assert.ok(model instanceof OnnxCausalModel);
        assert.equal(model.graph?.quantize, dtype);
        const rows = tokenRows(2, 6, ck.config.vocabSize, 44);
        const r = await model.forward(Int32Array.from(rows.flat()), 2, 6, model.emptyCache(2), { logits: true });
        const want = referenceForward(dq, rows);
        const scale = Math.max(...want.map(Math.abs));
        const diff = maxAbsDiff(r.head.logits!, want);
        assert.ok(diff < 0.02 * scale, `${dtype} logits differ from the dequantized reference by ${diff} (logit scale ${scale})`);
        const original = referenceForward(ck, rows);
        const far = maxAbsDiff(r.head.logits!, original);
        assert.ok(far < (dtype === 'int8' ? 0.05 : 0.25) * scale, `and stay close to the unquantized model (${far}, logit scale ${scale})`);
      } finally {
        await model.dispose();
      }
    });
  }
}

test('quantized graphs: every linear is MatMulNBits and the embedding GatherBlockQuantized; a tied head shares its codes', () => {
  for (const [arch, tied] of [['qwen2', true], ['llada', false]] as const) {
    const ck = tinyCheckpoint(tmp.dir, arch, { seed: 46, tieWordEmbeddings: tied });
    for (const [quantize, bits] of [['int8', 8], ['int4', 4]] as const) {
      const kind = arch === 'llada' ? 'bidirectional' : 'causal';
      const graph = compileGraph(ck.config, ck.weights, { kind, cacheDir, quantize });
      const proto = onnxType('ModelProto');
      const model = proto.toObject(proto.decode(readFileSync(graph.modelPath)), { longs: Number, defaults: true }) as ModelMessage;
      const nodes = model.graph.node;
      const ops = (op: string) => nodes.filter((n) => n.opType === op);
      // per layer: q/k/v as one, o, gate/up as one, down; plus the output head
      assert.equal(ops('MatMulNBits').length, 4 * ck.config.numLayers + 1, `${arch} ${quantize}: MatMulNBits count`);
      assert.equal(ops('FusedMatMul').length + ops('MatMul').length, 0, 'no float matmul is left');
      assert.equal(ops('Gather').length, 0, 'no float embedding gather');
      const gathers = ops('GatherBlockQuantized');
      assert.equal(gathers.length, 1);
      for (const n of [...ops('MatMulNBits'), ...gathers]) assert.equal(n.attribute.find((a) => a.name === 'bits')?.i, bits);
      const head = ops('MatMulNBits').at(-1)!;
      assert.equal(head.input[1] === gathers[0]!.input[0], tied, `the head ${tied ? 'shares' : 'has its own'} codes`);
      // every weight is in the bundle (none read from the checkpoint as float but the norms)
      const floats = model.graph.initializer.filter((t) => t.dataType === DataType.FLOAT && t.dims.length === 2);
      assert.ok(floats.every((t) => /scales/.test(t.name)), `2-D float initializers are scales only: ${floats.map((t) => t.name).join(', ')}`);
    }
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
