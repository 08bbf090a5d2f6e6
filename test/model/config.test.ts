import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelConfig } from '../../src/model/config.js';
import { ropeInverseFrequencies } from '../../src/model/rope.js';
import { CheckpointError, ConfigError } from '../../src/errors.js';
import { tempDir, throwsWith, writeJson } from './helpers.js';

// Trimmed copies of the published config.json files.
const LLADA_8B = {
  activation_type: 'silu', alibi: false, architectures: ['LLaDAModelLM'], attention_layer_norm: false, block_type: 'llama',
  d_model: 4096, embedding_size: 126464, eos_token_id: 126081, include_bias: false, include_qkv_bias: false,
  layer_norm_type: 'rms', mask_token_id: 126336, max_sequence_length: 4096, mlp_hidden_size: 12288, model_type: 'llada',
  n_heads: 32, n_kv_heads: 32, n_layers: 32, pad_token_id: 126081, rms_norm_eps: 1e-5, rope: true, rope_theta: 500000.0,
  scale_logits: false, vocab_size: 126464, weight_tying: false,
};
const DREAM_7B = {
  architectures: ['DreamModel'], bos_token_id: 151643, eos_token_id: 151643, hidden_act: 'silu', hidden_size: 3584,
  intermediate_size: 18944, mask_token_id: 151666, max_position_embeddings: 131072, model_type: 'Dream',
  num_attention_heads: 28, num_hidden_layers: 28, num_key_value_heads: 4, pad_token_id: 151643, rms_norm_eps: 1e-6,
  rope_scaling: null, rope_theta: 1000000.0, sliding_window: null, tie_word_embeddings: false, use_sliding_window: false,
  vocab_size: 152064,
};
const LLAMA3_8B = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 128000, eos_token_id: 128009, hidden_act: 'silu',
  hidden_size: 4096, intermediate_size: 14336, max_position_embeddings: 8192, model_type: 'llama', num_attention_heads: 32,
  num_hidden_layers: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_scaling: null, rope_theta: 500000.0,
  tie_word_embeddings: false, vocab_size: 128256,
};
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'], bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu', hidden_size: 896,
  intermediate_size: 4864, max_position_embeddings: 32768, model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24,
  num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true,
  use_sliding_window: false, vocab_size: 151936,
};
const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'], attention_bias: false, bos_token_id: 151643, eos_token_id: 151645, head_dim: 128,
  hidden_act: 'silu', hidden_size: 1024, intermediate_size: 3072, max_position_embeddings: 40960, model_type: 'qwen3',
  num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null,
  rope_theta: 1000000, tie_word_embeddings: true, use_sliding_window: false, vocab_size: 151936,
};

function dirWith(config: unknown, generation?: unknown): string {
  const dir = tempDir();
  writeJson(join(dir, 'config.json'), config);
  if (generation !== undefined) writeJson(join(dir, 'generation_config.json'), generation);
  return dir;
}

test('LLaDA-8B config: own key names, bidirectional, embedding_size as vocab', () => {
  const c = readModelConfig(dirWith({ ...LLADA_8B, vocab_size: 126349 }));
  assert.equal(c.architecture, 'llada');
  assert.equal(c.causal, false);
  assert.equal(c.shiftLogits, false);
  assert.equal(c.vocabSize, 126464, 'embedding_size (rows of wte) wins over vocab_size');
  assert.equal(c.hiddenSize, 4096);
  assert.equal(c.numLayers, 32);
  assert.equal(c.numHeads, 32);
  assert.equal(c.numKvHeads, 32);
  assert.equal(c.headDim, 128);
  assert.equal(c.intermediateSize, 12288);
  assert.equal(c.ropeTheta, 500000);
  assert.equal(c.rmsNormEps, 1e-5);
  assert.equal(c.maxPositions, 4096);
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(c.attentionBias, false);
  assert.equal(c.qkNorm, false);
  assert.equal(c.maskTokenId, 126336);
  assert.deepEqual(c.eosTokenIds, [126081]);
  assert.equal(c.padTokenId, 126081);
  assert.equal(c.bosTokenId, null);
  assert.equal(c.raw['block_type'], 'llama');
});

test('Dream-7B config: Qwen2 keys, bidirectional, shifted logits, biases', () => {
  const c = readModelConfig(dirWith(DREAM_7B));
  assert.equal(c.architecture, 'dream');
  assert.equal(c.causal, false);
  assert.equal(c.shiftLogits, true);
  assert.equal(c.attentionBias, true);
  assert.equal(c.headDim, 128);
  assert.equal(c.numKvHeads, 4);
  assert.equal(c.maskTokenId, 151666);
  assert.equal(c.vocabSize, 152064);
  assert.equal(readModelConfig(dirWith({ ...DREAM_7B, model_type: 'dream' })).architecture, 'dream');
});

test('Llama-3 config: eos ids merge config and generation_config', () => {
  const c = readModelConfig(dirWith(LLAMA3_8B, { bos_token_id: 128000, eos_token_id: [128001, 128009] }));
  assert.equal(c.architecture, 'llama');
  assert.equal(c.causal, true);
  assert.equal(c.shiftLogits, false);
  assert.equal(c.attentionBias, false);
  assert.equal(c.numKvHeads, 8);
  assert.equal(c.maskTokenId, null);
  assert.equal(c.bosTokenId, 128000);
  assert.deepEqual(c.eosTokenIds, [128009, 128001]);
  assert.equal(c.ropeScaling, null);
  // generation_config alone supplies eos when config.json has none
  const { eos_token_id: _drop, ...noEos } = LLAMA3_8B;
  assert.deepEqual(readModelConfig(dirWith(noEos, { eos_token_id: [128001, 128009] })).eosTokenIds, [128001, 128009]);
});

test('Qwen2.5 config: attention bias, tied embeddings', () => {
  const c = readModelConfig(dirWith(QWEN25_05B));
  assert.equal(c.architecture, 'qwen2');
  assert.equal(c.attentionBias, true);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.headDim, 64);
  assert.equal(c.qkNorm, false);
  assert.deepEqual(c.eosTokenIds, [151645]);
});

test('Qwen3 config: explicit head_dim (≠ hidden/heads), qk norm', () => {
  const c = readModelConfig(dirWith(QWEN3_06B));
  assert.equal(c.architecture, 'qwen3');
  assert.equal(c.headDim, 128);
  assert.equal(c.hiddenSize, 1024);
  assert.equal(c.qkNorm, true);
  assert.equal(c.attentionBias, false);
  const { head_dim: _h, ...noHeadDim } = QWEN3_06B;
  throwsWith(() => readModelConfig(dirWith(noHeadDim)), ConfigError, "'head_dim'");
});

test('llama3 rope_scaling is parsed and rescales only the long wavelengths', () => {
  const scaling = { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' };
  const c = readModelConfig(dirWith({ ...LLAMA3_8B, rope_scaling: scaling }));
  assert.deepEqual(c.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
  const plain = ropeInverseFrequencies({ ...c, ropeScaling: null });
  const scaled = ropeInverseFrequencies(c);
  assert.equal(scaled[0], plain[0], 'high frequencies unchanged');
  assert.ok(Math.abs(scaled[63]! - plain[63]! / 8) < 1e-18, 'low frequencies divided by factor');
  // a medium-band frequency lies strictly between the two
  const mid = [...plain].findIndex((f) => { const w = (2 * Math.PI) / f; return w > 2048 && w < 8192; });
  assert.ok(mid > 0);
  assert.ok(scaled[mid]! < plain[mid]! && scaled[mid]! > plain[mid]! / 8);
  const lin = readModelConfig(dirWith({ ...LLAMA3_8B, rope_scaling: { type: 'linear', factor: 2 } }));
  assert.ok(Math.abs(ropeInverseFrequencies(lin)[5]! - plain[5]! / 2) < 1e-15);
  assert.equal(readModelConfig(dirWith({ ...LLAMA3_8B, rope_scaling: { rope_type: 'default' } })).ropeScaling, null);
});

test('unsupported rope_scaling, model_type and features are ConfigErrors naming the key', () => {
  throwsWith(() => readModelConfig(dirWith({ ...LLAMA3_8B, rope_scaling: { rope_type: 'yarn', factor: 4 } })), ConfigError, 'rope_scaling', 'yarn');
  throwsWith(() => readModelConfig(dirWith({ ...LLAMA3_8B, model_type: 'gpt2' })), ConfigError, '"gpt2"', 'llada', 'qwen3');
  const { model_type: _m, ...noType } = LLAMA3_8B;
  throwsWith(() => readModelConfig(dirWith(noType)), ConfigError, 'model_type', 'supported');
  throwsWith(() => readModelConfig(dirWith({ ...QWEN25_05B, use_sliding_window: true })), ConfigError, 'use_sliding_window');
  throwsWith(() => readModelConfig(dirWith({ ...LLAMA3_8B, attention_bias: true })), ConfigError, 'attention_bias');
  throwsWith(() => readModelConfig(dirWith({ ...LLAMA3_8B, hidden_act: 'gelu' })), ConfigError, 'hidden_act');
  throwsWith(() => readModelConfig(dirWith({ ...LLADA_8B, include_bias: true })), ConfigError, 'include_bias');
  throwsWith(() => readModelConfig(dirWith({ ...LLADA_8B, block_type: 'sequential' })), ConfigError, 'block_type');
});

test('missing keys and inconsistent heads name the key', () => {
  const { hidden_size: _h, ...noHidden } = LLAMA3_8B;
  throwsWith(() => readModelConfig(dirWith(noHidden)), ConfigError, "'hidden_size'");
  const { d_model: _d, ...noDModel } = LLADA_8B;
  throwsWith(() => readModelConfig(dirWith(noDModel)), ConfigError, "'d_model'");
  const { mlp_hidden_size: _i, ...noMlp } = LLADA_8B;
  throwsWith(() => readModelConfig(dirWith(noMlp)), ConfigError, "'mlp_hidden_size'");
  const { mask_token_id: _k, ...noMask } = DREAM_7B;
  throwsWith(() => readModelConfig(dirWith(noMask)), ConfigError, "'mask_token_id'");
  throwsWith(() => readModelConfig(dirWith({ ...LLAMA3_8B, num_key_value_heads: 5 })), ConfigError, "'num_key_value_heads'");
  throwsWith(() => readModelConfig(dirWith({ ...LLAMA3_8B, num_attention_heads: 30, num_key_value_heads: 10 })), ConfigError, "'hidden_size'", "'num_attention_heads'");
  throwsWith(() => readModelConfig(dirWith({ ...LLADA_8B, n_kv_heads: 5 })), ConfigError, "'n_kv_heads'");
  throwsWith(() => readModelConfig(dirWith({ ...LLAMA3_8B, num_hidden_layers: '32' })), ConfigError, "'num_hidden_layers'");
  throwsWith(() => readModelConfig(dirWith({ ...LLAMA3_8B, eos_token_id: [1, 'x'] })), ConfigError, "'eos_token_id'");
  throwsWith(() => readModelConfig(dirWith({ ...LLADA_8B, mask_token_id: 200000 })), ConfigError, "'mask_token_id'", 'outside');
});

test('missing or malformed config.json is a CheckpointError naming the path', () => {
  const dir = tempDir();
  throwsWith(() => readModelConfig(dir), CheckpointError, join(dir, 'config.json'));
  const bad = tempDir();
  writeFileSync(join(bad, 'config.json'), '{ not json');
  throwsWith(() => readModelConfig(bad), CheckpointError, join(bad, 'config.json'), 'JSON');
});
