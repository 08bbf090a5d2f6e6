import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelConfig } from '../../src/model/config.js';
import { compileGraph } from '../../src/runtime/compile.js';
import { isOnnxExport, loadOnnxExport } from '../../src/runtime/onnx-export.js';
import { tempDir, tinyCheckpoint } from './helpers.js';

const tmp = tempDir('onnx-export');
after(() => tmp.cleanup());
const cacheDir = join(tmp.dir, 'cache');

const ck = tinyCheckpoint(tmp.dir, 'qwen3', { seed: 51 });
const plain = compileGraph(ck.config, ck.weights, { kind: 'causal', cacheDir, head: false });

/** An export of the tiny checkpoint's graph (no decode head) in `name`, with `config` as its config.json. */
function writeExport(name: string, config?: Record<string, unknown>): string {
  const dir = join(tmp.dir, name);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  copyFileSync(plain.modelPath, join(dir, 'onnx', 'model.onnx'));
  copyFileSync(join(ck.dir, 'model.safetensors'), join(dir, 'onnx', 'model.safetensors'));
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

test('isOnnxExport: onnx/model*.onnx without safetensors weights next to it', () => {
  const dir = writeExport('detect');
  assert.equal(isOnnxExport(dir), true);
  assert.equal(isOnnxExport(ck.dir), false, 'a checkpoint directory');
  const both = writeExport('both');
  copyFileSync(join(ck.dir, 'model.safetensors'), join(both, 'model.safetensors'));
  assert.equal(isOnnxExport(both), false, 'safetensors weights win: paradec compiles them');
  mkdirSync(join(tmp.dir, 'empty', 'onnx'), { recursive: true });
  assert.equal(isOnnxExport(join(tmp.dir, 'empty')), false);
});

test('loadOnnxExport: a known architecture keeps its config.json (generation_config eos included)', async () => {
  const raw = ck.config.raw;
  const dir = writeExport('known', raw);
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [3, 9] }));
  const { runtime, config } = await loadOnnxExport(dir, { threads: 1, topK: 4 });
  try {
    assert.deepEqual(config, readModelConfig(dir));
    assert.equal(config.architecture, 'qwen3');
    for (const eos of [3, 9]) assert.ok(config.eosTokenIds.includes(eos), `eos ${eos} from generation_config.json`);
    assert.equal(runtime.topK, 4);
    assert.equal(runtime.numLayers, ck.config.numLayers);
  } finally {
    await runtime.dispose();
  }
});

test('loadOnnxExport: an architecture paradec does not compile gets a config from the graph and config.json', async () => {
  const dir = writeExport('unknown', {
    model_type: 'gpt_neox',
    hidden_size: 32,
    num_attention_heads: 4,
    intermediate_size: 48,
    rope_theta: 500000,
    max_position_embeddings: 77,
    eos_token_id: 5,
    tie_word_embeddings: true,
  });
  const { runtime, config } = await loadOnnxExport(dir, { threads: 1 });
  try {
    assert.equal(config.architecture, 'llama');
    assert.equal(config.causal, true);
    assert.equal(config.shiftLogits, false);
    assert.equal(config.vocabSize, ck.config.vocabSize);
    assert.equal(config.numLayers, ck.config.numLayers);
    assert.equal(config.hiddenSize, 32);
    assert.equal(config.numHeads, 4);
    assert.equal(config.numKvHeads, 4, 'no num_key_value_heads: the attention heads');
    assert.equal(config.headDim, 0);
    assert.equal(config.ropeTheta, 500000);
    assert.equal(config.rmsNormEps, 1e-6);
    assert.equal(config.maxPositions, 77);
    assert.equal(runtime.maxPositions, 77);
    assert.deepEqual(config.eosTokenIds, [5]);
    assert.equal(config.tieWordEmbeddings, true);
    assert.equal(config.maskTokenId, null);
    assert.equal(config.raw['model_type'], 'gpt_neox');
  } finally {
    await runtime.dispose();
  }
});

test('loadOnnxExport: without config.json the graph alone decides, with defaults for the rest', async () => {
  const { runtime, config } = await loadOnnxExport(writeExport('bare'), { threads: 1 });
  try {
    assert.equal(config.architecture, 'llama');
    assert.equal(config.vocabSize, ck.config.vocabSize);
    assert.equal(config.numLayers, ck.config.numLayers);
    assert.equal(config.hiddenSize, 0);
    assert.equal(config.ropeTheta, 10000);
    assert.equal(config.maxPositions, 2048);
    assert.deepEqual(config.eosTokenIds, []);
    assert.equal(config.tieWordEmbeddings, false);
    assert.deepEqual(config.raw, {});
    const { head } = await runtime.forward(Int32Array.of(4, 5, 6), 1, 3, runtime.emptyCache(1));
    assert.equal(head.entropy.length, 3);
  } finally {
    await runtime.dispose();
  }
});
