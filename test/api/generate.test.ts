import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomCheckpoint } from '../../src/model/checkpoint.js';
import { referenceForward } from '../../src/model/reference.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { loadModel, generate, generateText, generateBatch, encodePrompt, type ParadecModel, type GenerationEvent } from '../../src/api.js';
import { InputError, OptionError } from '../../src/errors.js';

let dir: string;
let dlm: ParadecModel;
let ar: ParadecModel;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'paradec-api-'));
  writeRandomCheckpoint(join(dir, 'llada'), { architecture: 'llada', vocabSize: 48, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 4, intermediateSize: 64, seed: 3 });
  writeRandomCheckpoint(join(dir, 'llama'), { architecture: 'llama', vocabSize: 48, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 64, seed: 4, scale: 0.5 });
  const cache = join(dir, 'cache');
  dlm = await loadModel(join(dir, 'llada'), { threads: 1, cacheDir: cache });
  ar = await loadModel(join(dir, 'llama'), { threads: 1, cacheDir: cache });
});

after(async () => {
  await dlm?.dispose();
  await ar?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function collect(it: AsyncGenerator<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

test('diffusion: one step event per forward pass, streamed text equals the final text', async () => {
  const events = await collect(generate(dlm, 'w5 w6 w7', { genLength: 8, strategy: 'confidence', strategyOptions: { k: 2 } }));
  const steps = events.filter((e) => e.type === 'step');
  const done = events.at(-1)!;
  assert.equal(done.type, 'done');
  if (done.type !== 'done') return;
  assert.equal(steps.length, done.nfe);
  assert.equal(done.nfe, 4);
  assert.ok(steps.every((s) => s.type === 'step' && s.committed.length === 2));
  const streamed = events.filter((e) => e.type === 'text').map((e) => (e.type === 'text' ? e.delta : '')).join('');
  assert.equal(streamed, done.text);
  const positions = steps.flatMap((s) => (s.type === 'step' ? s.committed.map((c) => c.position) : [])).sort((a, b) => a - b);
  assert.deepEqual(positions, [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('diffusion: a batch gives the same output as one prompt at a time', async () => {
  const prompts = ['w5 w6 w7', 'w9', 'w10 w11 w12 w13 w14'];
  const batched = await generateBatch(dlm, prompts, { genLength: 8, blockLength: 4, steps: 4 });
  for (let i = 0; i < prompts.length; i++) {
    const single = await generateText(dlm, prompts[i]!, { genLength: 8, blockLength: 4, steps: 4 });
    assert.equal(batched[i]!.text, single.text);
    assert.deepEqual(batched[i]!.committedAt, single.committedAt);
  }
});

test('autoregressive greedy follows the reference forward token by token', async () => {
  const result = await generateText(ar, 'w5 w6 w7', { maxTokens: 6 });
  const ckpt = loadCheckpoint(join(dir, 'llama'));
  const ids = encodePrompt(ar, 'w5 w6 w7');
  const V = ckpt.config.vocabSize;
  const expected: number[] = [];
  for (let i = 0; i < 6; i++) {
    const logits = referenceForward(ckpt, [[...ids, ...expected]]);
    const last = logits.subarray((ids.length + expected.length - 1) * V, (ids.length + expected.length) * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
    expected.push(best);
    if (ar.eosTokenIds.includes(best)) break;
  }
  const eos = expected.findIndex((t) => ar.eosTokenIds.includes(t));
  const textIds = eos >= 0 ? expected.slice(0, eos) : expected;
  assert.equal(result.text, ar.tokenizer.decode(textIds, { skipSpecialTokens: true }));
  assert.equal(result.nfe, expected.length);
});

test('autoregressive sampling is reproducible for a seed and varies across seeds', async () => {
  const opts = { maxTokens: 8, temperature: 1.5 };
  const a = await generateText(ar, 'w5', { ...opts, seed: 1 });
  const b = await generateText(ar, 'w5', { ...opts, seed: 1 });
  assert.equal(a.text, b.text);
  const texts = new Set<string>();
  for (let seed = 2; seed < 8; seed++) texts.add((await generateText(ar, 'w5', { ...opts, seed })).text);
  assert.ok(texts.size > 1);
});

test('stop strings cut the text and end the generation', async () => {
  const free = await generateText(ar, 'w5 w6', { maxTokens: 10 });
  const words = free.text.trim().split(' ');
  assert.ok(words.length >= 3, `need a few words: ${free.text}`);
  const stop = ' ' + words[2];
  const cut = await generateText(ar, 'w5 w6', { maxTokens: 10, stop: [stop] });
  assert.equal(cut.text, free.text.slice(0, free.text.indexOf(stop)));
  assert.equal(cut.finishReason, 'stop');
  assert.ok(cut.nfe <= free.nfe);
});

test('bad options name the culprit', async () => {
  await assert.rejects(generateText(dlm, 'w5', { strategy: 'greedy' }), (e: unknown) => e instanceof OptionError && /autoregressive/.test(e.message));
  await assert.rejects(generateText(ar, 'w5', { strategy: 'threshold' }), (e: unknown) => e instanceof OptionError && /diffusion/.test(e.message));
  await assert.rejects(generateText(dlm, 'w5', { strategy: 'threshold', strategyOptions: { tau: 2 } }), (e: unknown) => e instanceof OptionError && /tau/.test(e.message));
  await assert.rejects(generateText(dlm, 'w5', { strategy: 'threshold', strategyOptions: { tua: 0.5 } }), (e: unknown) => e instanceof OptionError && /unknown option 'tua'/.test(e.message));
  await assert.rejects(generateText(ar, 'w5', { genLength: 8 }), (e: unknown) => e instanceof OptionError && /gen_length/.test(e.message));
  await assert.rejects(generateText(dlm, 'w5 '.repeat(3000), { genLength: 8 }), (e: unknown) => e instanceof InputError && /context/.test(e.message));
  await assert.rejects(loadModel(join(dir, 'nope')), (e: unknown) => e instanceof InputError && /nope/.test(e.message));
});

test('an ONNX decoder export (transformers.js layout) loads and generates like the checkpoint it came from', async () => {
  const { compileGraph } = await import('../../src/runtime/compile.js');
  const { copyFileSync, mkdirSync } = await import('node:fs');
  const ckpt = loadCheckpoint(join(dir, 'llama'));
  const plain = compileGraph(ckpt.config, ckpt.weights, { kind: 'causal', cacheDir: join(dir, 'cache'), head: false });
  const exportDir = join(dir, 'export');
  mkdirSync(join(exportDir, 'onnx'), { recursive: true });
  copyFileSync(plain.modelPath, join(exportDir, 'onnx', 'model.onnx'));
  copyFileSync(join(dir, 'llama', 'model.safetensors'), join(exportDir, 'onnx', 'model.safetensors'));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(dir, 'llama', f), join(exportDir, f));
  const exported = await loadModel(exportDir, { threads: 1 });
  try {
    assert.equal(exported.family, 'autoregressive');
    const a = await generateText(exported, 'w5 w6 w7', { maxTokens: 6 });
    const b = await generateText(ar, 'w5 w6 w7', { maxTokens: 6 });
    assert.equal(a.text, b.text);
    assert.equal(a.nfe, b.nfe);
  } finally {
    await exported.dispose();
  }
});
