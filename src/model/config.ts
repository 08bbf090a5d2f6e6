/**
 * config.json → ModelConfig.
 *
 * Each architecture spells its hyper-parameters differently (LLaDA keeps OLMo's `d_model`,
 * `n_heads`, ...; the HF families use `hidden_size`, ...). Everything downstream reads only the
 * normalized ModelConfig, so this is the one place that reads the spellings, which the
 * architecture table (architectures.ts) declares. It is deliberately strict: a config feature we
 * do not implement (biases on every linear, sliding windows, ALiBi, unknown RoPE scaling) is
 * rejected with a ConfigError instead of being silently ignored, because ignoring it would
 * produce a model that runs and emits wrong tokens.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, ConfigError } from '../errors.js';
import { ARCHITECTURES, architectureForModelType, SUPPORTED_MODEL_TYPES, type Architecture } from './architectures.js';
import type { ModelConfig, RopeScaling } from './types.js';

export { SUPPORTED_MODEL_TYPES };

/** Map config.json's `model_type` to an Architecture, or throw naming the supported list. */
export function architectureOf(modelType: unknown, file = 'config.json'): Architecture {
  const architecture = architectureForModelType(modelType);
  if (architecture !== undefined) return architecture;
  throw new ConfigError(
    `${file}: ${modelType === undefined ? 'missing model_type' : `unsupported model_type ${JSON.stringify(modelType)}`}` +
      ` (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
  );
}

function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read (${(e as Error).message})`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file}: not valid JSON`, { cause: e });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CheckpointError(`${file}: expected a JSON object`);
  }
  return json as Record<string, unknown>;
}

/** Typed accessors over a raw config object; every failure names the file and the key. */
class Keys {
  constructor(readonly file: string, readonly raw: Record<string, unknown>) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  int(key: string, fallback?: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${this.file}: missing required key '${key}'`);
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new ConfigError(`${this.file}: '${key}' must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  num(key: string, fallback: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError(`${this.file}: '${key}' must be a positive number, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw new ConfigError(`${this.file}: '${key}' must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A token id: a non-negative integer or null/absent. */
  tokenId(key: string): number | null {
    const v = this.raw[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new ConfigError(`${this.file}: '${key}' must be a token id (non-negative integer), got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** `eos_token_id`: a number, an array of numbers, or null/absent. */
  tokenIds(key: string): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const x of list) {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) {
        throw new ConfigError(`${this.file}: '${key}' must be a token id or a list of token ids, got ${JSON.stringify(v)}`);
      }
    }
    return list as number[];
  }

  /** Reject a feature we do not implement when the config turns it on. */
  reject(key: string, isUnsupported: (v: unknown) => boolean, why: string): void {
    const v = this.raw[key];
    if (v !== undefined && v !== null && isUnsupported(v)) {
      throw new ConfigError(`${this.file}: '${key}' = ${JSON.stringify(v)} is not supported (${why})`);
    }
  }
}

/**
 * Parse `rope_scaling`. Accepts HF's `type` or the newer `rope_type` spelling; `default` means
 * no scaling. Only linear and llama3 are implemented: both only rescale the inverse frequencies.
 */
export function parseRopeScaling(raw: unknown, file = 'config.json'): RopeScaling | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${file}: 'rope_scaling' must be an object or null, got ${JSON.stringify(raw)}`);
  }
  const k = new Keys(file, raw as Record<string, unknown>);
  const type = k.raw['rope_type'] ?? k.raw['type'];
  const positive = (key: string, fallback?: number): number => {
    const v = k.raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${file}: 'rope_scaling.${key}' is required for rope_type ${JSON.stringify(type)}`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError(`${file}: 'rope_scaling.${key}' must be a positive number, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  switch (type) {
    case 'default':
      return null;
    case 'linear':
      return { type: 'linear', factor: positive('factor') };
    case 'llama3': {
      const scaling: RopeScaling = {
        type: 'llama3',
        factor: positive('factor'),
        lowFreqFactor: positive('low_freq_factor'),
        highFreqFactor: positive('high_freq_factor'),
        originalMaxPositions: positive('original_max_position_embeddings'),
      };
      if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
        throw new ConfigError(`${file}: 'rope_scaling.high_freq_factor' must exceed 'rope_scaling.low_freq_factor'`);
      }
      return scaling;
    }
    default:
      throw new ConfigError(
        `${file}: 'rope_scaling' type ${JSON.stringify(type)} is not supported (supported: default, linear, llama3)`,
      );
  }
}

function validateHeads(k: Keys, c: { numHeads: number; numKvHeads: number; hiddenSize: number }, names: { heads: string; kvHeads: string; hidden: string }, explicitHeadDim: number | null): number {
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new ConfigError(
      `${k.file}: '${names.heads}' (${c.numHeads}) must be a multiple of '${names.kvHeads}' (${c.numKvHeads})`,
    );
  }
  let headDim: number;
  if (explicitHeadDim !== null) headDim = explicitHeadDim;
  else {
    if (c.hiddenSize % c.numHeads !== 0) {
      throw new ConfigError(`${k.file}: '${names.hidden}' (${c.hiddenSize}) is not divisible by '${names.heads}' (${c.numHeads})`);
    }
    headDim = c.hiddenSize / c.numHeads;
  }
  if (headDim % 2 !== 0) throw new ConfigError(`${k.file}: head dimension ${headDim} must be even for RoPE`);
  return headDim;
}

/** Normalize an already-parsed config.json object. `file` is used in error messages. */
export function parseModelConfig(raw: Record<string, unknown>, file = 'config.json', generationEos: number[] = []): ModelConfig {
  const architecture = architectureOf(raw['model_type'], file);
  const traits = ARCHITECTURES[architecture];
  const spelling = traits.config;
  const k = new Keys(file, raw);
  const ropeScaling = parseRopeScaling(raw['rope_scaling'], file);
  const mergeEos = (own: number[]): number[] => [...new Set([...own, ...generationEos])];

  for (const feature of traits.unsupported) k.reject(feature.key, feature.isUnsupported, feature.why);
  const hiddenSize = k.int(spelling.hiddenSize);
  const numHeads = k.int(spelling.numHeads);
  const numKvHeads = k.int(spelling.numKvHeads, numHeads);
  if (traits.headDim === 'required' && !k.has('head_dim')) {
    throw new ConfigError(`${file}: missing required key 'head_dim' (${architecture} sets it explicitly)`);
  }
  const explicitHeadDim = traits.headDim !== 'derived' && k.has('head_dim') ? k.int('head_dim') : null;
  const headDim = validateHeads(
    k, { numHeads, numKvHeads, hiddenSize },
    { heads: spelling.numHeads, kvHeads: spelling.numKvHeads, hidden: spelling.hiddenSize }, explicitHeadDim,
  );
  const maskTokenId = k.tokenId('mask_token_id');
  if (traits.diffusion && maskTokenId === null) {
    throw new ConfigError(`${file}: missing required key 'mask_token_id' (a diffusion model needs its mask token)`);
  }
  const vocabSize = spelling.embeddingRows !== undefined && k.has(spelling.embeddingRows) ? k.int(spelling.embeddingRows) : k.int(spelling.vocabSize);
  const { defaults } = traits;
  return finish({
    architecture, causal: traits.causal, shiftLogits: traits.shiftLogits, vocabSize, hiddenSize,
    numLayers: k.int(spelling.numLayers), numHeads, numKvHeads, headDim,
    intermediateSize: k.int(spelling.intermediateSize),
    ropeTheta: k.num('rope_theta', defaults.ropeTheta), rmsNormEps: k.num('rms_norm_eps', defaults.rmsNormEps),
    maxPositions: k.int(spelling.maxPositions, defaults.maxPositions),
    tieWordEmbeddings: k.bool(spelling.tieWordEmbeddings, false),
    attentionBias: typeof traits.attentionBias === 'boolean' ? traits.attentionBias : k.bool(traits.attentionBias.key, false),
    qkNorm: traits.qkNorm,
    maskTokenId, eosTokenIds: mergeEos(k.tokenIds('eos_token_id')),
    padTokenId: k.tokenId('pad_token_id'), bosTokenId: k.tokenId('bos_token_id'),
    ropeScaling, raw,
  }, file);
}

/** Cross-field checks shared by all architectures. */
function finish(c: ModelConfig, file: string): ModelConfig {
  const idKeys: [string, number | null][] = [
    ['mask_token_id', c.maskTokenId], ['pad_token_id', c.padTokenId], ['bos_token_id', c.bosTokenId],
    ...c.eosTokenIds.map((id): [string, number] => ['eos_token_id', id]),
  ];
  for (const [key, id] of idKeys) {
    if (id !== null && id >= c.vocabSize) {
      throw new ConfigError(`${file}: '${key}' ${id} is outside the vocabulary (${c.vocabSize} rows)`);
    }
  }
  return c;
}

/**
 * Read `<dir>/config.json`. EOS ids are the union of config.json's and generation_config.json's,
 * because HF `generate()` stops on generation_config's list, which is often longer (Llama-3 chat
 * models end turns with <|eot_id|> that config.json does not mention).
 */
export function readModelConfig(dir: string): ModelConfig {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new CheckpointError(`${file}: file not found (not a Hugging Face checkpoint directory?)`);
  const raw = readJsonObject(file);
  let generationEos: number[] = [];
  const genFile = join(dir, 'generation_config.json');
  if (existsSync(genFile)) generationEos = new Keys(genFile, readJsonObject(genFile)).tokenIds('eos_token_id');
  return parseModelConfig(raw, file, generationEos);
}
