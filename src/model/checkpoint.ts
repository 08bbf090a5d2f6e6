/**
 * Checkpoint directories: loading (config + validated tensor table) and writing.
 *
 * The writer produces real Hugging Face layouts — config.json in the architecture's own keys,
 * tensors under the architecture's own names, optionally sharded with an index — so tests and
 * the trainer's exporter exercise exactly the code path a downloaded checkpoint takes.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, OptionError } from '../errors.js';
import { ARCHITECTURES } from './architectures.js';
import { readModelConfig } from './config.js';
import { loadTensorTable, type TensorEntry } from './safetensors.js';
import { writeSafetensorsStream, type StreamedTensor } from './safetensors-writer.js';
import { writeWordTokenizer, type WordTokenizerOptions } from './tokenizer.js';
import type { Architecture, ModelConfig, ModelWeights, RopeScaling } from './types.js';
import { checkFinite, resolveWeights, tensorLayout, type LayoutDims } from './weights.js';
import { Rng } from '../tasks/rng.js';

export interface Checkpoint {
  dir: string;
  config: ModelConfig;
  weights: ModelWeights;
  /** Every tensor of the checkpoint by its own name, including ones paradec does not use. */
  table: Map<string, TensorEntry>;
}

export interface LoadCheckpointOptions {
  /**
   * Scan every weight for NaN/Inf (default true). Reads the whole checkpoint once; pass false for
   * multi-GB models whose provenance you trust.
   */
  checkFinite?: boolean;
}

/** Read config.json and the tensor table, and validate every tensor against the config. */
export function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Checkpoint {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CheckpointError(`${dir}: checkpoint directory not found`);
  const config = readModelConfig(dir);
  const table = loadTensorTable(dir);
  const weights = resolveWeights(config, table);
  if (options.checkFinite ?? true) checkFinite(weights);
  return { dir, config, weights, table };
}

/** Parameters stored in a checkpoint: every distinct tensor, including ones paradec does not use. */
export function countCheckpointParams(ckpt: Pick<Checkpoint, 'table'>): number {
  let params = 0;
  const seen = new Set<string>();
  for (const t of ckpt.table.values()) {
    if (seen.has(t.name)) continue;
    seen.add(t.name);
    params += t.shape.reduce((a, b) => a * b, 1);
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Hyper-parameters of a checkpoint to write; everything optional has the HF default noted. */
export interface CheckpointDims {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** default numHeads */
  numKvHeads?: number;
  intermediateSize: number;
  /**
   * default hiddenSize / numHeads; written as `head_dim` when it differs, and always where the
   * architecture requires the key (qwen3); must not differ where it has none (llada)
   */
  headDim?: number;
  /** default 2048 */
  maxPositions?: number;
  /** default 10000 */
  ropeTheta?: number;
  /** default 1e-5 */
  rmsNormEps?: number;
  /** default false */
  tieWordEmbeddings?: boolean;
  /**
   * Only where the architecture's config has a switch for it (llada's `include_qkv_bias`, default
   * false); the others always (qwen2, dream) or never (llama, qwen3) have q/k/v biases.
   */
  attentionBias?: boolean;
  /** default vocabSize - 1 for diffusion architectures (llada, dream: required there), none otherwise */
  maskTokenId?: number | null;
  /** default [2] (the word tokenizer's `<|eos|>`) */
  eosTokenIds?: number[];
  /** default 1 */
  bosTokenId?: number | null;
  /** default 0 */
  padTokenId?: number | null;
  ropeScaling?: RopeScaling | null;
}

export type WeightDtype = 'F32' | 'F16' | 'BF16';

export interface WriteCheckpointOptions {
  /** Tensor dtype on disk (default F32). */
  dtype?: WeightDtype;
  /**
   * Split model.safetensors into shards with an index: true = 2 shards, or a shard count (groups
   * of roughly equal bytes). Not given: shards of at most `maxShardBytes`.
   */
  sharded?: boolean | number;
  /**
   * Without `sharded`: start a new shard before a tensor that would take the current one past
   * this many bytes, as transformers' `save_pretrained(max_shard_size=)` does; a tensor larger
   * than it gets a shard of its own. One file when everything fits. Default 5 GB (5·10^9 bytes,
   * transformers' default).
   */
  maxShardBytes?: number;
  /**
   * Most bytes generated, encoded and written at once (default 64 MiB): random weights are drawn
   * a piece of this size at a time, so memory stays flat whatever the model's size.
   */
  chunkBytes?: number;
  /** Merged over the generated config.json last (tests use it to inject odd keys). */
  extraConfig?: Record<string, unknown>;
}

/** Weight values by canonical name (`embed`, `layers.0.q`, ..., `finalNorm`, `lmHead`). */
export type CanonicalTensors = Record<string, Float32Array>;

/** Seeded random weights: matrices ~U(±scale·√3/√fanIn), norm weights ~1 ± 0.1, biases ±0.1. */
export interface RandomWeights {
  seed: number;
  /** Multiplies matrix and embedding values (default 1). */
  scale?: number;
}

export interface WrittenCheckpoint {
  dir: string;
  /** The normalized config the written directory will load as. */
  dims: LayoutDims;
  /** Files written, relative to dir. */
  files: string[];
}

function isRandom(w: CanonicalTensors | RandomWeights): w is RandomWeights {
  return typeof (w as { seed?: unknown }).seed === 'number';
}


/** The mask token a checkpoint gets when the caller names none: the last id for a diffusion model. */
function defaultMaskTokenId(arch: Architecture, vocabSize: number): number | null {
  return ARCHITECTURES[arch].diffusion ? vocabSize - 1 : null;
}

function positiveInt(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new OptionError(`writeCheckpoint: ${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function normalizeDims(arch: Architecture, d: CheckpointDims): LayoutDims & {
  maxPositions: number; ropeTheta: number; rmsNormEps: number; maskTokenId: number | null;
  eosTokenIds: number[]; bosTokenId: number | null; padTokenId: number | null; ropeScaling: RopeScaling | null;
} {
  const vocabSize = positiveInt('vocabSize', d.vocabSize);
  const hiddenSize = positiveInt('hiddenSize', d.hiddenSize);
  const numHeads = positiveInt('numHeads', d.numHeads);
  const numKvHeads = positiveInt('numKvHeads', d.numKvHeads ?? numHeads);
  if (numHeads % numKvHeads !== 0) throw new OptionError(`writeCheckpoint: numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
  if (d.headDim === undefined && hiddenSize % numHeads !== 0) {
    throw new OptionError(`writeCheckpoint: hiddenSize ${hiddenSize} is not divisible by numHeads ${numHeads}; give headDim`);
  }
  const headDim = positiveInt('headDim', d.headDim ?? hiddenSize / numHeads);
  if (headDim % 2 !== 0) throw new OptionError(`writeCheckpoint: headDim ${headDim} must be even for RoPE`);
  const traits = ARCHITECTURES[arch];
  if (traits.headDim === 'derived' && headDim * numHeads !== hiddenSize) {
    throw new OptionError(`writeCheckpoint: ${arch} has no head_dim key, so headDim must equal hiddenSize / numHeads`);
  }
  const maskTokenId = d.maskTokenId ?? defaultMaskTokenId(arch, vocabSize);
  const ids: [string, number | null][] = [
    ['maskTokenId', maskTokenId], ['bosTokenId', d.bosTokenId === undefined ? 1 : d.bosTokenId],
    ['padTokenId', d.padTokenId === undefined ? 0 : d.padTokenId], ...(d.eosTokenIds ?? [2]).map((id): [string, number] => ['eosTokenIds', id]),
  ];
  for (const [name, id] of ids) {
    if (id !== null && (!Number.isInteger(id) || id < 0 || id >= vocabSize)) {
      throw new OptionError(`writeCheckpoint: ${name} ${id} is outside the vocabulary (0..${vocabSize - 1})`);
    }
  }
  return {
    architecture: arch, vocabSize, hiddenSize, numLayers: positiveInt('numLayers', d.numLayers), numHeads, numKvHeads, headDim,
    intermediateSize: positiveInt('intermediateSize', d.intermediateSize),
    tieWordEmbeddings: d.tieWordEmbeddings ?? false,
    attentionBias: typeof traits.attentionBias === 'boolean' ? traits.attentionBias : (d.attentionBias ?? false),
    qkNorm: traits.qkNorm,
    maxPositions: positiveInt('maxPositions', d.maxPositions ?? 2048),
    ropeTheta: d.ropeTheta ?? 10000, rmsNormEps: d.rmsNormEps ?? 1e-5,
    maskTokenId, eosTokenIds: d.eosTokenIds ?? [2],
    bosTokenId: d.bosTokenId === undefined ? 1 : d.bosTokenId, padTokenId: d.padTokenId === undefined ? 0 : d.padTokenId,
    ropeScaling: d.ropeScaling ?? null,
  };
}

function ropeScalingJson(s: RopeScaling | null): Record<string, unknown> | null {
  if (!s) return null;
  if (s.type === 'linear') return { rope_type: 'linear', factor: s.factor };
  return {
    rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalMaxPositions,
  };
}

const TORCH_DTYPE: Record<WeightDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

type NormalizedDims = ReturnType<typeof normalizeDims>;

/** config.json in the architecture's own key names (the order of its spelling's style). */
function configJson(d: NormalizedDims, dtype: WeightDtype): Record<string, unknown> {
  const traits = ARCHITECTURES[d.architecture];
  const cfg = traits.config.style === 'olmo' ? olmoStyleConfig(d, dtype) : hfStyleConfig(d, dtype);
  // A configurable bias switch is listed among the written switches at its default; this keeps its place.
  if (typeof traits.attentionBias !== 'boolean') cfg[traits.attentionBias.key] = d.attentionBias;
  return cfg;
}

function eosJson(d: NormalizedDims): number | number[] | undefined {
  return d.eosTokenIds.length === 1 ? d.eosTokenIds[0] : d.eosTokenIds;
}

/** LLaDA's layout: OLMo's keys, token ids before the block switches. */
function olmoStyleConfig(d: NormalizedDims, dtype: WeightDtype): Record<string, unknown> {
  const traits = ARCHITECTURES[d.architecture];
  const keys = traits.config;
  return {
    model_type: traits.modelType, architectures: [traits.hfClass],
    [keys.hiddenSize]: d.hiddenSize, [keys.numHeads]: d.numHeads, [keys.numKvHeads]: d.numKvHeads, [keys.numLayers]: d.numLayers,
    [keys.intermediateSize]: d.intermediateSize, [keys.vocabSize]: d.vocabSize,
    ...(keys.embeddingRows !== undefined ? { [keys.embeddingRows]: d.vocabSize } : {}),
    [keys.maxPositions]: d.maxPositions, rope_theta: d.ropeTheta, rms_norm_eps: d.rmsNormEps,
    mask_token_id: d.maskTokenId, eos_token_id: eosJson(d), pad_token_id: d.padTokenId, bos_token_id: d.bosTokenId,
    [keys.tieWordEmbeddings]: d.tieWordEmbeddings, ...traits.writtenSwitches,
    rope_scaling: ropeScalingJson(d.ropeScaling), torch_dtype: TORCH_DTYPE[dtype],
  };
}

/** The transformers layout: PretrainedConfig's keys, architecture-specific switches last. */
function hfStyleConfig(d: NormalizedDims, dtype: WeightDtype): Record<string, unknown> {
  const traits = ARCHITECTURES[d.architecture];
  const keys = traits.config;
  const cfg: Record<string, unknown> = {
    model_type: traits.modelType, architectures: [traits.hfClass],
    [keys.hiddenSize]: d.hiddenSize, [keys.numHeads]: d.numHeads, [keys.numKvHeads]: d.numKvHeads,
    [keys.numLayers]: d.numLayers, [keys.intermediateSize]: d.intermediateSize, [keys.vocabSize]: d.vocabSize,
    [keys.maxPositions]: d.maxPositions, rope_theta: d.ropeTheta, rms_norm_eps: d.rmsNormEps,
    [keys.tieWordEmbeddings]: d.tieWordEmbeddings, hidden_act: 'silu',
    bos_token_id: d.bosTokenId, eos_token_id: eosJson(d), pad_token_id: d.padTokenId,
    rope_scaling: ropeScalingJson(d.ropeScaling), torch_dtype: TORCH_DTYPE[dtype],
  };
  if (traits.headDim === 'required' || d.headDim * d.numHeads !== d.hiddenSize) cfg['head_dim'] = d.headDim;
  Object.assign(cfg, traits.writtenSwitches);
  if (traits.diffusion) cfg['mask_token_id'] = d.maskTokenId;
  return cfg;
}

/**
 * Seeded random values of one tensor, drawn from `next` in order a piece of at most `pieceLength`
 * values at a time (the piece is reused: consume it before asking for the next). The values do
 * not depend on the piece length.
 */
function* randomTensor(canonical: string, shape: number[], next: () => number, scale: number, pieceLength: number): Generator<Float32Array> {
  const n = shape.reduce((a, b) => a * b, 1);
  const field = canonical.slice(canonical.lastIndexOf('.') + 1);
  const u = (): number => next() * 2 - 1;
  // value = offset + spread · U(-1, 1)
  let offset: 0 | 1;
  let spread: number;
  if (field.endsWith('Norm') || canonical === 'finalNorm') {
    offset = 1;
    spread = 0.1;
  } else if (field.endsWith('Bias')) {
    offset = 0;
    spread = 0.1;
  } else {
    // embed: fanIn 1 would give huge values; unit-ish rows are what a trained embedding looks like.
    const fanIn = canonical === 'embed' ? 3 : shape[shape.length - 1]!;
    offset = 0;
    spread = (scale * Math.sqrt(3)) / Math.sqrt(fanIn);
  }
  const piece = new Float32Array(Math.min(n, pieceLength));
  for (let done = 0; done < n; done += piece.length) {
    const out = n - done < piece.length ? piece.subarray(0, n - done) : piece;
    if (offset === 0) for (let i = 0; i < out.length; i++) out[i] = spread * u();
    else for (let i = 0; i < out.length; i++) out[i] = offset + spread * u();
    yield out;
  }
}

/** transformers' default `max_shard_size` ("5GB"). */
const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;
const DEFAULT_WRITE_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * Contiguous groups of tensors, one per shard. `count`: that many groups of roughly equal byte
 * size, each holding at least one tensor. `maxBytes`: a new group before a tensor that would take
 * the current one past it (transformers' rule; a larger tensor alone).
 */
function shardGroups(bytes: readonly number[], split: { count: number } | { maxBytes: number }): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let acc = 0;
  if ('maxBytes' in split) {
    bytes.forEach((b, i) => {
      if (current.length && acc + b > split.maxBytes) {
        groups.push(current);
        current = [];
        acc = 0;
      }
      current.push(i);
      acc += b;
    });
  } else {
    const total = bytes.reduce((a, b) => a + b, 0);
    bytes.forEach((b, i) => {
      current.push(i);
      acc += b;
      const remainingTensors = bytes.length - i - 1;
      const remainingShards = split.count - groups.length - 1;
      if (remainingShards > 0 && (acc >= (total * (groups.length + 1)) / split.count || remainingTensors === remainingShards)) {
        groups.push(current);
        current = [];
      }
    });
  }
  if (current.length) groups.push(current);
  return groups;
}

/**
 * Write config.json and the weights of an `arch` checkpoint into `dir` (created if needed).
 * `weights` is either every canonical tensor's values (exactly the layout's set; an lm head is
 * not expected when embeddings are tied) or `{ seed }` for seeded random values — the same seed
 * and dims give the same values whatever the dtype or sharding.
 */
export function writeCheckpoint(
  dir: string,
  arch: Architecture,
  dims: CheckpointDims,
  weights: CanonicalTensors | RandomWeights,
  options: WriteCheckpointOptions = {},
): WrittenCheckpoint {
  const d = normalizeDims(arch, dims);
  const dtype = options.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new OptionError(`writeCheckpoint: dtype ${JSON.stringify(dtype)} must be F32, F16 or BF16`);
  const layout = tensorLayout(d);
  const chunkBytes = options.chunkBytes ?? DEFAULT_WRITE_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 4) throw new OptionError(`writeCheckpoint: chunkBytes must be an integer of at least 4, got ${JSON.stringify(options.chunkBytes)}`);
  // Each tensor's values are produced when its turn to be written comes: random ones a piece at a
  // time from one stream (so the same seed gives the same values whatever the sharding), given
  // ones as they are. Nothing holds the model.
  let tensors: StreamedTensor[];
  if (isRandom(weights)) {
    const source = new Rng(weights.seed);
    const next = () => source.float();
    const scale = weights.scale ?? 1;
    const pieceLength = Math.max(1, Math.floor(chunkBytes / 4));
    tensors = layout.map((spec) => ({ name: spec.name, dtype, shape: spec.shape, values: () => randomTensor(spec.canonical, spec.shape, next, scale, pieceLength) }));
  } else {
    const expected = new Set(layout.map((s) => s.canonical));
    for (const key of Object.keys(weights)) {
      if (!expected.has(key)) {
        throw new OptionError(`writeCheckpoint: tensor '${key}' is not part of a ${arch} checkpoint with these dims${key === 'lmHead' ? ' (embeddings are tied)' : ''}`);
      }
    }
    tensors = layout.map((spec) => {
      const data = weights[spec.canonical];
      if (!data) throw new OptionError(`writeCheckpoint: missing tensor '${spec.canonical}' (${spec.name}, shape ${JSON.stringify(spec.shape)})`);
      const n = spec.shape.reduce((a, b) => a * b, 1);
      if (!(data instanceof Float32Array) || data.length !== n) {
        throw new OptionError(`writeCheckpoint: tensor '${spec.canonical}' has ${data.length} values, expected ${n} for shape ${JSON.stringify(spec.shape)}`);
      }
      return { name: spec.name, dtype, shape: spec.shape, values: () => [data] };
    });
  }

  if (options.sharded !== undefined && options.maxShardBytes !== undefined) {
    throw new OptionError('writeCheckpoint: give sharded (a shard count) or maxShardBytes (a shard size), not both');
  }
  const maxShardBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes < 1) {
    throw new OptionError(`writeCheckpoint: maxShardBytes must be a positive integer, got ${JSON.stringify(options.maxShardBytes)}`);
  }
  const shardCount = options.sharded === true ? 2 : typeof options.sharded === 'number' ? options.sharded : 1;
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > tensors.length) {
    throw new OptionError(`writeCheckpoint: sharded must give between 1 and ${tensors.length} shards, got ${JSON.stringify(options.sharded)}`);
  }
  const bytes = tensors.map((t) => t.shape.reduce((a, b) => a * b, 1) * (dtype === 'F32' ? 4 : 2));
  const groups = shardGroups(bytes, options.sharded === undefined ? { maxBytes: maxShardBytes } : { count: shardCount });

  mkdirSync(dir, { recursive: true });
  const files = ['config.json'];
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...configJson(d, dtype), ...options.extraConfig }, null, 2));
  if (groups.length === 1) {
    writeSafetensorsStream(join(dir, 'model.safetensors'), tensors, { chunkBytes });
    files.push('model.safetensors');
  } else {
    const weightMap: Record<string, string> = {};
    groups.forEach((group, i) => {
      const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`;
      writeSafetensorsStream(join(dir, name), group.map((t) => tensors[t]!), { chunkBytes });
      for (const t of group) weightMap[tensors[t]!.name] = name;
      files.push(name);
    });
    const total = bytes.reduce((a, b) => a + b, 0);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
    files.push('model.safetensors.index.json');
  }
  return { dir, dims: d, files };
}

export interface RandomCheckpointOptions extends CheckpointDims, WriteCheckpointOptions {
  architecture: Architecture;
  seed: number;
  /** Multiplies the random matrices (default 1). */
  scale?: number;
  /** Ordinary vocabulary words for the tokenizer (see WordTokenizerOptions.words). */
  words?: WordTokenizerOptions['words'];
  chatTemplate?: string | null;
}

/**
 * A complete random checkpoint directory: config.json, seeded weights and a word-level
 * tokenizer (ids 0..3 = pad/bos/eos/unk, `<|mask|>` at the mask id) covering the whole vocabulary.
 */
export function writeRandomCheckpoint(dir: string, options: RandomCheckpointOptions): WrittenCheckpoint {
  const { architecture, seed, scale, words, chatTemplate, dtype, sharded, maxShardBytes, chunkBytes, extraConfig, ...dims } = options;
  const writeOptions: WriteCheckpointOptions = {};
  if (dtype !== undefined) writeOptions.dtype = dtype;
  if (sharded !== undefined) writeOptions.sharded = sharded;
  if (maxShardBytes !== undefined) writeOptions.maxShardBytes = maxShardBytes;
  if (chunkBytes !== undefined) writeOptions.chunkBytes = chunkBytes;
  if (extraConfig !== undefined) writeOptions.extraConfig = extraConfig;
  const written = writeCheckpoint(dir, architecture, dims, scale === undefined ? { seed } : { seed, scale }, writeOptions);
  const maskTokenId = dims.maskTokenId ?? defaultMaskTokenId(architecture, dims.vocabSize);
  const tokOptions: WordTokenizerOptions = { vocabSize: dims.vocabSize, maskTokenId };
  if (words !== undefined) tokOptions.words = words;
  if (chatTemplate !== undefined) tokOptions.chatTemplate = chatTemplate;
  writeWordTokenizer(dir, tokOptions);
  written.files.push('tokenizer.json', 'tokenizer_config.json');
  return written;
}
