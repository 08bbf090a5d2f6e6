/**
 * The architecture table, entry by entry: for every architecture a random checkpoint is written,
 * loaded back and checked against the traits the table declares — and against what its published
 * checkpoints look like (PUBLISHED, written by hand from the real files, so a slip in the table
 * fails here instead of being copied into the expectation). Adding an architecture means adding
 * its PUBLISHED entry; everything else below runs for it unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHITECTURE_NAMES, ARCHITECTURES, diffusionScheduleOf, SUPPORTED_MODEL_TYPES, type Architecture, type DiffusionSchedule } from '../../src/model/architectures.js';
import { loadCheckpoint, writeRandomCheckpoint, type CheckpointDims, type RandomCheckpointOptions } from '../../src/model/checkpoint.js';
import { readModelConfig } from '../../src/model/config.js';
import { referenceForward } from '../../src/model/reference.js';
import { tensorLayout } from '../../src/model/weights.js';
import { ConfigError, OptionError } from '../../src/errors.js';
import { tempDir, throwsWith } from './helpers.js';

interface Published {
  /** config.json's model_type and architectures[0] in the published checkpoints */
  modelType: string;
  hfClass: string;
  attention: 'causal' | 'bidirectional';
  /** position i returns the logits computed at i-1 */
  shiftLogits: boolean;
  /** the diffusion schedule of the paper's reference sampler; null for autoregressive models */
  schedule: DiffusionSchedule | null;
  /** tensor names of a two-layer checkpoint written with the defaults (null: no such tensor) */
  names: { embed: string; q0: string; up0: string; gate1: string; down1: string; norm: string; head: string; qBias0: string | null; kNorm1: string | null };
}

const HF_NAMES: Published['names'] = {
  embed: 'model.embed_tokens.weight', q0: 'model.layers.0.self_attn.q_proj.weight', up0: 'model.layers.0.mlp.up_proj.weight',
  gate1: 'model.layers.1.mlp.gate_proj.weight', down1: 'model.layers.1.mlp.down_proj.weight', norm: 'model.norm.weight',
  head: 'lm_head.weight', qBias0: null, kNorm1: null,
};
const HF_Q_BIAS = 'model.layers.0.self_attn.q_proj.bias';
const HF_K_NORM = 'model.layers.1.self_attn.k_norm.weight';

const PUBLISHED: Record<Architecture, Published> = {
  llada: {
    modelType: 'llada', hfClass: 'LLaDAModelLM', attention: 'bidirectional', shiftLogits: false, schedule: 'llada',
    names: {
      embed: 'model.transformer.wte.weight', q0: 'model.transformer.blocks.0.q_proj.weight', up0: 'model.transformer.blocks.0.up_proj.weight',
      gate1: 'model.transformer.blocks.1.ff_proj.weight', down1: 'model.transformer.blocks.1.ff_out.weight',
      norm: 'model.transformer.ln_f.weight', head: 'model.transformer.ff_out.weight', qBias0: null, kNorm1: null,
    },
  },
  dream: { modelType: 'Dream', hfClass: 'DreamModel', attention: 'bidirectional', shiftLogits: true, schedule: 'dream', names: { ...HF_NAMES, qBias0: HF_Q_BIAS } },
  llama: { modelType: 'llama', hfClass: 'LlamaForCausalLM', attention: 'causal', shiftLogits: false, schedule: null, names: HF_NAMES },
  qwen2: { modelType: 'qwen2', hfClass: 'Qwen2ForCausalLM', attention: 'causal', shiftLogits: false, schedule: null, names: { ...HF_NAMES, qBias0: HF_Q_BIAS } },
  qwen3: { modelType: 'qwen3', hfClass: 'Qwen3ForCausalLM', attention: 'causal', shiftLogits: false, schedule: null, names: { ...HF_NAMES, kNorm1: HF_K_NORM } },
};

const DIMS: CheckpointDims = { vocabSize: 64, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48 };

function write(arch: Architecture, extra: Partial<RandomCheckpointOptions> = {}): string {
  const dir = tempDir();
  writeRandomCheckpoint(dir, { architecture: arch, ...DIMS, seed: 7, ...extra });
  return dir;
}

function readConfigJson(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

function rewriteConfigJson(dir: string, edit: (cfg: Record<string, unknown>) => void): void {
  const cfg = readConfigJson(dir);
  edit(cfg);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
}

/** A value of the key that the feature check rejects (the table stores a predicate, not a value). */
function unsupportedValue(isUnsupported: (v: unknown) => boolean): unknown {
  const value = [true, false, 'unsupported'].find((v) => isUnsupported(v));
  assert.ok(value !== undefined, 'every rejected feature has a value that turns it on');
  return value;
}

test('the table: every architecture has its published names, and model_type spellings select one architecture each', () => {
  assert.deepEqual(Object.keys(PUBLISHED).sort(), [...ARCHITECTURE_NAMES].sort());
  assert.equal(new Set(SUPPORTED_MODEL_TYPES).size, SUPPORTED_MODEL_TYPES.length, 'no model_type spelling is claimed twice');
});

for (const arch of ARCHITECTURE_NAMES) {
  const traits = ARCHITECTURES[arch];
  const published = PUBLISHED[arch];

  test(`${arch}: writes the published config.json identity and every model_type spelling loads as ${arch}`, () => {
    const dir = write(arch);
    const cfg = readConfigJson(dir);
    assert.equal(cfg['model_type'], published.modelType);
    assert.deepEqual(cfg['architectures'], [published.hfClass]);
    assert.ok(traits.modelTypes.includes(published.modelType));
    for (const spelling of traits.modelTypes) {
      rewriteConfigJson(dir, (c) => { c['model_type'] = spelling; });
      assert.equal(readModelConfig(dir).architecture, arch, spelling);
    }
  });

  test(`${arch}: the loaded config carries the traits`, () => {
    const c = loadCheckpoint(write(arch)).config;
    assert.equal(c.architecture, arch);
    assert.equal(c.causal, published.attention === 'causal');
    assert.equal(c.causal, traits.causal);
    assert.equal(c.shiftLogits, published.shiftLogits);
    assert.equal(c.shiftLogits, traits.shiftLogits);
    assert.equal(c.qkNorm, traits.qkNorm);
    assert.equal(c.attentionBias, traits.attentionBias === true, 'fixed bias, or a switch off by default');
    assert.equal(c.maskTokenId, published.schedule === null ? null : DIMS.vocabSize - 1, 'a diffusion model gets the last id as its mask');
    assert.equal(diffusionScheduleOf(arch), published.schedule ?? 'llada');
    assert.equal(c.headDim, 8);
    assert.deepEqual([c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.intermediateSize], [64, 32, 2, 4, 2, 48]);
  });

  test(`${arch}: tensors resolve under the architecture's own names`, () => {
    const ck = loadCheckpoint(write(arch));
    const n = published.names;
    const [l0, l1] = ck.weights.layers;
    assert.ok(l0 && l1 && ck.weights.layers.length === 2);
    assert.equal(ck.weights.embed.name, n.embed);
    assert.deepEqual(ck.weights.embed.shape, [64, 32]);
    assert.equal(l0.q.name, n.q0);
    assert.deepEqual(l0.k.shape, [16, 32], 'GQA k shape');
    assert.equal(l0.up.name, n.up0);
    assert.equal(l1.gate.name, n.gate1);
    assert.equal(l1.down.name, n.down1);
    assert.deepEqual(l1.down.shape, [32, 48]);
    assert.equal(ck.weights.finalNorm.name, n.norm);
    assert.equal(ck.weights.lmHead.name, n.head);
    assert.equal(l0.qBias?.name ?? null, n.qBias0);
    assert.equal(l0.vBias !== undefined, n.qBias0 !== null);
    assert.equal(l1.kNorm?.name ?? null, n.kNorm1);
    assert.equal(l1.qNorm !== undefined, n.kNorm1 !== null);
    assert.equal(ck.table.size, tensorLayout(ck.config).length, 'the checkpoint holds exactly the layout');
  });

  test(`${arch}: the attention-bias trait`, () => {
    const bias = traits.attentionBias;
    if (typeof bias === 'boolean') {
      // a fixed answer: the writer ignores a request for the other one
      const ck = loadCheckpoint(write(arch, { attentionBias: !bias }));
      assert.equal(ck.config.attentionBias, bias);
      assert.equal(ck.weights.layers[0]!.qBias !== undefined, bias);
    } else {
      const dir = write(arch, { attentionBias: true });
      assert.equal(readConfigJson(dir)[bias.key], true);
      const ck = loadCheckpoint(dir);
      assert.equal(ck.config.attentionBias, true);
      assert.equal(ck.weights.layers[1]!.kBias?.name, ck.weights.layers[1]!.k.name.replace(/\.weight$/, '.bias'));
    }
  });

  test(`${arch}: head_dim is ${traits.headDim}`, () => {
    if (traits.headDim === 'derived') {
      throwsWith(() => write(arch, { headDim: 16 }), OptionError, arch, 'head_dim');
      assert.ok(!('head_dim' in readConfigJson(write(arch))));
      return;
    }
    const dir = write(arch, { headDim: 16 });
    assert.equal(readConfigJson(dir)['head_dim'], 16);
    const ck = loadCheckpoint(dir);
    assert.equal(ck.config.headDim, 16);
    assert.deepEqual(ck.weights.layers[0]!.q.shape, [64, 32]);
    assert.equal('head_dim' in readConfigJson(write(arch)), traits.headDim === 'required', 'written only when it differs or is required');
    rewriteConfigJson(dir, (c) => { delete c['head_dim']; });
    if (traits.headDim === 'required') throwsWith(() => readModelConfig(dir), ConfigError, "'head_dim'", arch);
    else assert.equal(readModelConfig(dir).headDim, 8, 'hidden / heads without the key');
  });

  test(`${arch}: a config that omits the optional keys gets the architecture's defaults`, () => {
    const dir = write(arch);
    rewriteConfigJson(dir, (c) => {
      for (const key of ['rope_theta', 'rms_norm_eps', traits.config.maxPositions, traits.config.tieWordEmbeddings, 'eos_token_id', 'pad_token_id', 'bos_token_id']) {
        assert.ok(key in c, `the writer writes ${key}`);
        delete c[key];
      }
    });
    const c = readModelConfig(dir);
    assert.deepEqual({ ropeTheta: c.ropeTheta, rmsNormEps: c.rmsNormEps, maxPositions: c.maxPositions }, traits.defaults);
    assert.equal(c.tieWordEmbeddings, false);
    assert.deepEqual([c.eosTokenIds, c.padTokenId, c.bosTokenId], [[], null, null]);
  });

  test(`${arch}: features it does not implement are rejected, naming the key`, () => {
    const dir = write(arch);
    const written = readConfigJson(dir);
    assert.ok(traits.unsupported.length > 0);
    for (const feature of traits.unsupported) {
      if (feature.key in written) assert.ok(!feature.isUnsupported(written[feature.key]), `the writer states ${feature.key} off`);
      rewriteConfigJson(dir, (c) => { c[feature.key] = unsupportedValue(feature.isUnsupported); });
      throwsWith(() => readModelConfig(dir), ConfigError, `'${feature.key}'`, 'not supported', feature.why);
      rewriteConfigJson(dir, (c) => { c[feature.key] = written[feature.key] ?? null; });
    }
    assert.equal(readModelConfig(dir).architecture, arch);
    if (traits.diffusion) {
      rewriteConfigJson(dir, (c) => { delete c['mask_token_id']; });
      throwsWith(() => readModelConfig(dir), ConfigError, "'mask_token_id'", 'diffusion');
    }
  });

  test(`${arch}: the forward pass is ${published.attention}${published.shiftLogits ? ' with shifted logits' : ''}`, () => {
    const ck = loadCheckpoint(write(arch));
    const V = ck.config.vocabSize;
    const row = [5, 17, 9, 33, 2, 41];
    const laterChanged = [5, 17, 9, 33, 2, 7];
    const out = referenceForward(ck, [row, laterChanged]);
    const at = (b: number, t: number): Float32Array => out.subarray((b * row.length + t) * V, (b * row.length + t + 1) * V);
    // changing the last token leaves position 1 alone exactly when attention is causal (shifted,
    // position 1 holds what position 0 computed, which is still before the change)
    assert.equal(at(0, 1).every((x, i) => x === at(1, 1)[i]), published.attention === 'causal');
    // a shift gives position 1 the logits computed at position 0, which position 0 keeps too
    assert.equal(at(0, 0).every((x, i) => x === at(0, 1)[i]), published.shiftLogits);
  });
}
